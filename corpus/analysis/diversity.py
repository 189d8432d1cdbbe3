"""How varied a corpus is beyond the set of ops it reaches.

Two corpora can cover the same ops while one combines them in far more ways.
`Diversity` counts, over records added one at a time:

- op pairs: unordered pairs of distinct stablehlo/chlo ops that occur in one
  program;
- dataflow bigrams: (producer op, consumer op) for every SSA operand of the
  record's StableHLO whose value an op defines, nested regions included;
  block arguments are not ops. A value an op reads inside a region of
  another op (a `while` body reading a value defined before the loop) is an
  edge to the op that reads it and also to each op whose region the value
  enters on the way (the `while`, which takes it in without an operand).
  Only stablehlo/chlo ops are ends of a bigram. The text is parsed with
  MLIR and the module walked, as the op counts are: a regex over the text
  misses bodies the printer writes compactly (`stablehlo.reduce(...)
  applies stablehlo.add`);
- distinct StableHLO texts and distinct op multisets;
- a growth curve: distinct ops, pairs and bigrams after the first n programs,
  n = 1, 2, 5, 10, 20, 50, ... and the last n, which shows whether more
  programs of the same kind would still bring anything new.

Parsing and walking a record costs 0.4 to 1 ms (programs of ~5 operations).
A text MLIR cannot parse (from another jaxlib, or damaged) adds no bigrams
and is counted as unparsed, as is one whose brackets nest deeper than
MAX_NESTING, which is never given to the parser (records are untrusted).
"""
from __future__ import annotations

import hashlib
import re
from itertools import combinations

from ...lowering import universe
from ..run.fields import multiset

RENEW = 1000        # modules parsed per MLIR context: attributes a context uniques are never freed
MAX_NESTING = 256   # brackets deep: MLIR's parser recurses, and a record nested 10^5 deep crashes the process
# strings (to the end of the line if unterminated, so that no match is ever retried) and comments
_SKIPPED = re.compile(r'"(?:[^"\\\n]|\\.)*"?|//[^\n]*')
_NOT_BRACKET = re.compile(r"[^()\[\]{}<>]+")


def checkpoint(n: int) -> bool:
    """Whether n is on the growth curve: 1, 2, 5 times a power of ten."""
    while n >= 10 and n % 10 == 0:
        n //= 10
    return n in (1, 2, 5)


def nesting(text: str) -> int:
    """How deep brackets of any kind nest in MLIR text, strings and comments
    aside (`->` and `>=` are not brackets); MAX_NESTING + 1 if deeper."""
    depth = deepest = 0
    for b in _NOT_BRACKET.sub("", _SKIPPED.sub("", text).replace("->", "").replace(">=", "")):
        if b in "([{<":
            depth += 1
            deepest = max(deepest, depth)
            if deepest > MAX_NESTING:
                break
        elif depth:
            depth -= 1
    return deepest


def _depth(op) -> int:
    """How many ops enclose `op`."""
    depth, parent = 0, op.parent
    while parent is not None:
        depth, parent = depth + 1, parent.parent
    return depth


class Diversity:
    def __init__(self):
        self.programs = 0
        self.unparsed = 0                  # StableHLO texts MLIR could not (or was not given to) parse
        self.ops: set[str] = set()
        self.pairs: set[tuple[str, str]] = set()
        self.bigrams: set[tuple[str, str]] = set()
        self.texts: set[bytes] = set()
        self.multisets: set[tuple] = set()
        self.growth: list[dict] = []
        self._context, self._parsed = None, 0

    def add(self, record: dict) -> None:
        self.programs += 1
        u = universe()
        ops = sorted({op for op, _ in multiset(record)} & u)
        self.ops.update(ops)
        self.pairs.update(combinations(ops, 2))
        edges = self._edges(record["stablehlo"])
        if edges is None:
            self.unparsed += 1
        else:
            self.bigrams.update(e for e in edges if e[0] in u and e[1] in u)
        self.texts.add(hashlib.blake2b(record["stablehlo"].encode(), digest_size=16).digest())
        self.multisets.add(multiset(record))
        if checkpoint(self.programs):
            self.growth.append(self._point())

    def _point(self) -> dict:
        return {"programs": self.programs, "ops": len(self.ops), "pairs": len(self.pairs),
                "bigrams": len(self.bigrams)}

    def _edges(self, text: str) -> set[tuple[str, str]] | None:
        """(producer, consumer) op names of every operand an op defines, and
        (producer, holder) for each op whose region the value enters to reach
        its user; None if MLIR cannot parse the text, or it nests too deep
        to be given to the parser."""
        from jax._src.interpreters import mlir     # JAX's context has every dialect a lowering prints
        from jaxlib.mlir import ir
        if nesting(text) > MAX_NESTING:
            return None
        if self._context is None or self._parsed >= RENEW:
            self._context, self._parsed = mlir.make_ir_context(), 0
        self._parsed += 1
        with self._context:
            try:
                module = ir.Module.parse(text)
            except Exception:       # MLIRError, and whatever a text of unknown origin makes the parser raise
                return None
            edges = set()
            stack = [(module.operation, ())]       # an op and the names of the ops enclosing it, outermost first
            while stack:
                item, around = stack.pop()
                op = item.operation
                for value in op.operands:
                    if isinstance(value, ir.OpResult):
                        producer = value.owner.operation
                        edges.add((producer.name, op.name))
                        edges.update((producer.name, holder) for holder in around[_depth(producer):])
                inside = (*around, op.name)
                for region in op.regions:
                    for block in region.blocks:
                        stack.extend((o, inside) for o in block.operations)
            return edges

    def report(self) -> dict:
        growth = list(self.growth)
        if self.programs and (not growth or growth[-1]["programs"] != self.programs):
            growth.append(self._point())
        return {
            "programs": self.programs,
            "ops": len(self.ops),
            "pairs": len(self.pairs),
            "bigrams": len(self.bigrams),
            "unparsed": self.unparsed,
            "distinct_stablehlo": len(self.texts),
            "distinct_op_multisets": len(self.multisets),
            "growth": growth,
        }


def format_diversity(d: dict) -> str:
    """The report as text; distinct texts and multisets are left to the quality section, which prints them."""
    lines = ["diversity (stablehlo/chlo ops only):",
             f"  distinct ops              {d['ops']}",
             f"  op pairs                  {d['pairs']} distinct unordered pairs of ops in one program",
             f"  dataflow bigrams          {d['bigrams']} distinct producer -> consumer pairs along SSA edges, "
             f"regions included" + (f" ({d['unparsed']} texts unparsed)" if d["unparsed"] else ""),
             f"  growth    {'programs':>9} {'ops':>6} {'pairs':>7} {'bigrams':>8}"]
    lines += [f"            {g['programs']:>9} {g['ops']:>6} {g['pairs']:>7} {g['bigrams']:>8}" for g in d["growth"]]
    return "\n".join(lines)
