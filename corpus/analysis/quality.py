"""How worth having a corpus's programs are, measured from its records alone.

Coverage says which ops a corpus reaches; this says whether its programs are
ones a person could have written and whose every operation shows in the IR:

- degenerate operand pairs: an alternative the grammar marks `distinct`
  (equal operands fix its result: `x - x`, `x < x`, `jnp.where(p, y, y)`)
  applied to two equal operand expressions, or with all its sub-programs
  equal; found on the derivation tree the grammar parses from the Python;
- self-operand share: multi-operand operations with two equal operands,
  allowed ones (`x * x`) included;
- control flow that vanishes: `lax.*` calls with sub-programs in the Python
  against `stablehlo.while`/`stablehlo.case` ops in the StableHLO;
- captures: lambda bodies (not while conditions) that read a value of the
  enclosing function; fori bodies that read their index;
- arity mismatches: records whose StableHLO `main` takes fewer arguments
  than the Python function (JAX dropped an input nobody reads);
- distinct StableHLO texts and distinct op multisets.

Python is only parsed (`ast`, Lark), never run.
"""
from __future__ import annotations

import ast
import re
from dataclasses import dataclass, field

import lark
from lark import Tree

from ...synth.grammar import Grammar
from ...synth.safety import MAX_SOURCE
from ...synth.skeleton import LAM, is_slot
from ..run.fields import multiset

CONTROL_FLOW = {"cond", "switch", "fori_loop", "while_loop", "scan"}     # lax functions taking sub-programs
CONTROL_FLOW_OPS = ("stablehlo.while", "stablehlo.case")
_MAIN_ARGS = re.compile(r"func\.func public @main\(([^)]*)\)")


@dataclass
class Quality:
    grammar: Grammar
    programs: int = 0
    unparsed: int = 0                    # records the grammar does not derive
    degenerate_programs: int = 0
    multi_operand_ops: int = 0
    self_operand_ops: int = 0
    constructs: int = 0                  # control-flow calls in the Python
    constructs_in_ir: int = 0            # while/case ops in the StableHLO
    programs_losing_constructs: int = 0
    bodies: int = 0
    capturing_bodies: int = 0
    fori_bodies: int = 0
    fori_bodies_using_index: int = 0
    arity_mismatches: int = 0
    texts: set = field(default_factory=set)
    multisets: set = field(default_factory=set)

    def add(self, record: dict) -> None:
        self.programs += 1
        self.texts.add(hash(record["stablehlo"]))
        self.multisets.add(multiset(record))
        try:
            if not self._tree(record["python"]):
                return      # not derived by the grammar: maybe not even Python; nothing more to read
            fn = self._ast(record["python"])
        except (SyntaxError, ValueError, RecursionError, MemoryError):
            self.unparsed += 1      # derived, yet nested beyond what Python's parser takes
            return
        ops = dict(multiset(record))
        in_ir = sum(ops.get(op, 0) for op in CONTROL_FLOW_OPS)
        calls = [c for c in ast.walk(fn) if isinstance(c, ast.Call) and _lax_name(c) in CONTROL_FLOW]
        self.constructs += len(calls)
        self.constructs_in_ir += min(in_ir, len(calls))
        self.programs_losing_constructs += in_ir < len(calls)
        self._lambdas(fn, calls)
        main = _MAIN_ARGS.search(record["stablehlo"])
        arity = len(re.findall(r"%arg\d+", main.group(1))) if main else 0
        self.arity_mismatches += arity < len(fn.args.args)

    def _tree(self, source: str) -> bool:
        """Scan the derivation tree for degenerate pairs; False if the grammar does not derive it."""
        if len(source) > MAX_SOURCE or not source.isascii():
            self.unparsed += 1
            return False
        try:
            tree = self.grammar.parse(source)
        except lark.exceptions.LarkError:
            self.unparsed += 1
            return False
        degenerate = False
        for node in tree.iter_subtrees():
            alt = self.grammar.by_name.get(node.data)
            if alt is None:
                continue
            # children follow the alternative's child symbols: slots, and attribute
            # tokens (a lambda's parameter NAMEs among them: scan, fori_pair)
            slots = [(s.name, c) for s, c in zip(alt.children, node.children) if is_slot(s)]
            operands = [c for k, c in slots if k != LAM]
            lambdas = [c for k, c in slots if k == LAM]
            if len(operands) > 1:
                self.multi_operand_ops += 1
                same = len(set(map(_key, operands))) < len(operands)
                self.self_operand_ops += same
                degenerate |= alt.distinct and same
            if alt.distinct and len(lambdas) > 1 and len(set(map(_key, lambdas))) == 1:
                degenerate = True
        self.degenerate_programs += degenerate
        return True

    @staticmethod
    def _ast(source: str) -> ast.FunctionDef:
        return next(n for n in ast.parse(source).body if isinstance(n, ast.FunctionDef))

    def _lambdas(self, fn: ast.FunctionDef, calls) -> None:
        targets = [t for s in fn.body if isinstance(s, ast.Assign) for t in s.targets]
        bound = {a.arg for a in fn.args.args} | {n.id for t in targets for n in ast.walk(t) if isinstance(n, ast.Name)}
        conditions = {id(c.args[0]) for c in calls if _lax_name(c) == "while_loop" and c.args}
        for c in calls:
            for arg in (x for a in c.args for x in (a.elts if isinstance(a, ast.List) else [a])):   # switch: [branches]
                if isinstance(arg, ast.Lambda) and id(arg) not in conditions:
                    self.bodies += 1
                    self.capturing_bodies += bool(_free_names(arg) & bound)
            if _lax_name(c) == "fori_loop" and len(c.args) > 2 and isinstance(c.args[2], ast.Lambda):
                body = c.args[2]
                self.fori_bodies += 1
                self.fori_bodies_using_index += body.args.args[0].arg in _loaded(body.body)

    def report(self) -> dict:
        def share(a, b):
            return round(a / b, 4) if b else 0.0
        return {
            "programs": self.programs,
            "unparsed": self.unparsed,
            "degenerate_programs": self.degenerate_programs,
            "degenerate_share": share(self.degenerate_programs, self.programs - self.unparsed),
            "self_operand_share": share(self.self_operand_ops, self.multi_operand_ops),
            "control_flow": self.constructs,
            "control_flow_vanished": self.constructs - self.constructs_in_ir,
            "programs_losing_control_flow": self.programs_losing_constructs,
            "bodies": self.bodies,
            "capturing_share": share(self.capturing_bodies, self.bodies),
            "fori_bodies": self.fori_bodies,
            "fori_index_share": share(self.fori_bodies_using_index, self.fori_bodies),
            "arity_mismatches": self.arity_mismatches,
            "distinct_stablehlo": len(self.texts),
            "distinct_op_multisets": len(self.multisets),
        }


def format_quality(q: dict) -> str:
    def pct(x):
        return f"{100 * x:.1f}%"
    return "\n".join([
        "quality:",
        f"  degenerate operand pairs  {q['degenerate_programs']} programs ({pct(q['degenerate_share'])})"
        + (f"; {q['unparsed']} not derived by the grammar" if q["unparsed"] else ""),
        f"  self-operand share        {pct(q['self_operand_share'])} of multi-operand operations",
        f"  control flow              {q['control_flow']} constructs, {q['control_flow_vanished']} vanished in "
        f"StableHLO ({q['programs_losing_control_flow']} programs)",
        f"  captures                  {pct(q['capturing_share'])} of {q['bodies']} bodies read an enclosing value; "
        f"{pct(q['fori_index_share'])} of {q['fori_bodies']} fori bodies read the index",
        f"  arity mismatches          {q['arity_mismatches']} programs whose main lost an input",
        f"  distinct                  {q['distinct_stablehlo']} StableHLO texts, "
        f"{q['distinct_op_multisets']} op multisets",
    ])


def _key(node) -> str:
    return str(node) if not isinstance(node, Tree) else node.pretty()


def _lax_name(call: ast.Call) -> str | None:
    f = call.func
    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name) and f.value.id == "lax":
        return f.attr
    return None


def _loaded(node) -> set[str]:
    return {n.id for n in ast.walk(node) if isinstance(n, ast.Name) and isinstance(n.ctx, ast.Load)}


def _free_names(lam: ast.Lambda) -> set[str]:
    """Names a lambda reads that none of its own (or nested lambdas') parameters bind."""
    params = {a.arg for n in ast.walk(lam) if isinstance(n, ast.Lambda) for a in n.args.args}
    return _loaded(lam.body) - params
