"""Which alternative typically makes each op, and the families the page
groups ops in.

An op's family is its dialect and, within it, the section of the grammar
(the comment heading a run of alternatives, `// control flow`) that holds
the op's typical alternative: of the alternatives whose own op it is (the op
most of their uses produce), the one with the most uses that made it;
failing one, of all that made it. So `stablehlo.while` is a control flow op
because `while_loop` makes it, though `igamma` makes loops too, and
`stablehlo.compare` one of `lt`, not of `jnp.remainder`, which makes four. Ops
outside the universe (func.*, sdy.*) are bookkeeping: listed apart.
"""
from __future__ import annotations

import re
from collections import Counter
from dataclasses import dataclass

from ...lowering import universe
from ..analysis.coverage import alt_matrix
from ..run.records import PROGRAM
from .markup import esc
from .scan import Scan


def totals(matrix: dict) -> Counter:
    """op -> occurrences, over every alternative of `coverage.alt_matrix`."""
    out: Counter = Counter()
    for row in matrix.values():
        out.update({op: o["count"] for op, o in row["ops"].items()})
    return out


def own_ops(matrix: dict, shown) -> dict[str, str]:
    """alternative -> its own op among `shown`: the one the largest share of
    its uses produced; of equals, the rarest in the corpus (`jax.nn.relu` is
    placed by maximum, not by the constant it also makes). PROGRAM has none."""
    counts = totals(matrix)
    own = {}
    for alt, row in matrix.items():
        ops = [op for op in row["ops"] if op in shown]
        if ops and alt != PROGRAM:
            own[alt] = min(ops, key=lambda o: (-row["ops"][o]["share"], counts[o], o))
    return own


def typical(matrix: dict, shown) -> dict[str, str]:
    """op -> the alternative that most typically makes it: of those whose own
    op it is (`own_ops`), the one with the most uses that made it, then the
    one that made the most of it; if none is, the same of all that made it.
    Uses before counts: one op from each of many uses is more typical than
    many from a few (`lt` makes a compare, `jnp.remainder` four). Any op of
    the matrix, `shown` or not (no alternative owns a func.call)."""
    own = own_ops(matrix, shown)
    makers: dict[str, list[str]] = {}
    for alt, row in matrix.items():
        for op in row["ops"]:
            makers.setdefault(op, []).append(alt)
    out = {}
    for op, alts in makers.items():
        owners = [a for a in alts if own.get(a) == op]
        out[op] = min(owners or alts, key=lambda a: (-matrix[a]["ops"][op]["uses"], -matrix[a]["ops"][op]["count"], a))
    return out


_RULE_START = re.compile(r"\s*[?!]?\w+(\.-?\d+)?\s*:")


def sections(grammar) -> dict[str, str]:
    """alternative -> the title of the grammar section holding it: the first
    line of the `//` comment nearest above it within its rule, up to a colon
    or parenthesis (`// linear algebra (on cpu: ...)`: "linear algebra");
    the rule's name where no comment heads it (`infix`)."""
    lines = grammar.text.split("\n")
    out = {}
    for alt in grammar.alts:
        title = None
        for line in reversed(lines[:alt.line]):      # from the alternative's own line up
            if line.strip().startswith("//"):
                title = line.strip()                  # a comment of several lines: its first
            elif title is not None or _RULE_START.match(line):
                break
        text = re.split(r"[:(]", title.lstrip("/"), maxsplit=1)[0].strip() if title else ""
        out[alt.name] = text or alt.origin
    return out


@dataclass(frozen=True, order=True)
class Family:
    """A group of ops shown together: a dialect, and within it the grammar
    section of the ops' typical alternative ("" if unknown); `rank` orders them."""
    rank: tuple
    dialect: str
    section: str

    @property
    def label(self) -> str:
        """As HTML: the names come from the corpus and the grammar."""
        return f"{esc(self.dialect)} · {esc(self.section)}" if self.section else esc(self.dialect)


def dialect(op: str) -> str:
    return op.split(".", 1)[0] if "." in op else op


def families(ops, typical_of: dict, section_of: dict) -> dict[str, Family]:
    """op -> its Family, for the universe's ops among `ops` (the others are
    bookkeeping: func.*, sdy.*). Dialects by how many ops the universe holds
    of each, sections in the grammar's order, then PROGRAM's, then unknown."""
    u = universe()
    size = Counter(dialect(op) for op in u)
    order = {title: k for k, title in enumerate(dict.fromkeys([*section_of.values(), PROGRAM]))}
    out = {}
    for op in ops:
        if op in u:
            alt = typical_of.get(op)
            section = PROGRAM if alt == PROGRAM else section_of.get(alt, "")
            d = dialect(op)
            out[op] = Family((-size[d], d, order.get(section, len(order))), d, section)
    return out


@dataclass
class Attributed:
    """What one corpus's attribution gives the page: the alternative -> op
    matrix, each op's typical alternative, and each covered op's Family."""
    matrix: dict
    typical: dict
    family: dict


def attributed(s: Scan, report: dict) -> Attributed:
    matrix = alt_matrix(report)
    u = universe()
    t = typical(matrix, {op for row in matrix.values() for op in row["ops"]} & u)
    covered = {o["op"] for o in report["ops"]} | set(totals(matrix))
    return Attributed(matrix, t, families(covered, t, sections(s.coverage.quality.grammar)))
