"""The one table of what the grammar's skeleton spells.

`grammar/jax.lark` has a skeleton around its operations: `start: _IMPORTS
funcdef`, a function of parameters, statements and a return, lambdas and
tuple carries. Everything of jaxsynth that builds, prints, reads or measures
a program's tree takes the skeleton's spelling from here, and nowhere else:

- the rule and terminal names of the skeleton (`START`, `FUNCDEF`, ...,
  `OP_RULES`, the operand slots `SLOT_KINDS`);
- the names a program gives: the function (`FUNC_NAME`), its inputs
  (`input_name`), its values (`value_name`, `value_number`), the components
  of a tuple carry (`CARRY_NAMES`, which the grammar's CARRY terminal must
  match: `read_skeleton`);
- which symbols of an alternative make children of its tree
  (`child_symbols`: rules, and terminals Lark does not filter out);
- the import header, as the loaded grammar states it: the string literals
  of its `_IMPORTS` terminal, read through Lark's own loader
  (`read_skeleton`), one import per line. A grammar is data: its header may
  import only what the fixed vocabulary allows (`vocabulary.ROOTS`), so a
  foreign grammar cannot widen what programs may import.
"""
from __future__ import annotations

import ast
import re
from typing import NamedTuple

from lark import Tree
from lark.grammar import NonTerminal, Terminal
from lark.load_grammar import PrepareLiterals

from .vocabulary import ROOTS, imported_root

# rules of the skeleton
START, FUNCDEF, PARAMS, STMT, RET, LAM, CARRY = "start", "funcdef", "params", "stmt", "ret", "lam", "carry"
EXPR, TERM, INFIX = "expr", "term", "infix"
OP_RULES = (TERM, INFIX)                     # rules whose aliased alternatives are operations
SLOT_KINDS = {EXPR: "e", TERM: "e", LAM: "l"}    # operand slots: an expression, a lambda
# terminals of the skeleton
IMPORTS, NAME, CARRY_TOKEN, DOCSTRING = "_IMPORTS", "NAME", "CARRY", "DOCSTRING"

# names a program gives
FUNC_NAME = "f"
CARRY_TUPLE = "c"                            # a loop's tuple carry, as its lambda names it
CARRY_NAMES = tuple(f"{CARRY_TUPLE}[{k}]" for k in range(2))     # its components (CARRY terminal)
HEADER_END = "\n\n\n"                        # after the header's last import: two blank lines
_VALUE = re.compile(r"v(0|[1-9][0-9]*)")


def input_name(i: int) -> str:
    return f"x{i}"


def value_name(i: int) -> str:
    return f"v{i}"


def value_number(name: str) -> int | None:
    """The k of a name `value_name(k)`, or None if it is not one."""
    m = _VALUE.fullmatch(name)
    return int(m.group(1)) if m else None


def is_carry(name: str) -> bool:
    """Whether a sub-program's parameter is a component of a tuple carry (a `carry` tree, not a NAME)."""
    return name in CARRY_NAMES


def is_slot(symbol) -> bool:
    """Whether a symbol of an alternative is a slot (a rule: an operand or a
    lambda), not a terminal."""
    return isinstance(symbol, NonTerminal)


def makes_child(symbol) -> bool:
    """Whether a symbol of an alternative makes a child of its tree: a slot,
    or a terminal Lark keeps (an attribute); not a filtered-out literal."""
    return is_slot(symbol) or isinstance(symbol, Terminal) and not symbol.filter_out


def child_symbols(expansion) -> tuple:
    """The symbols of an alternative that make its tree's children, in order."""
    return tuple(s for s in expansion if makes_child(s))


class SkeletonError(ValueError):
    """The grammar's skeleton cannot be used; `line` is where (the loader adds the file)."""

    def __init__(self, line: int, message: str):
        super().__init__(message)
        self.line = line


class Skeleton(NamedTuple):
    """What a loaded grammar's skeleton states: its import header (the text
    printed programs start with) and the roots it imports."""
    header: str
    roots: tuple[str, ...]


def read_skeleton(rules) -> Skeleton:
    """The skeleton of a grammar as Lark's loader has it (`rules`: a
    `lark.Lark`), checked: the header's imports are within `ROOTS`, the
    CARRY terminal writes `CARRY_NAMES`. Raises SkeletonError."""
    definitions = dict(rules.grammar.term_defs)
    compiled = {t.name: t.pattern for t in rules.terminals}
    if IMPORTS not in definitions:
        raise SkeletonError(1, f"no {IMPORTS} terminal: the imports every program starts with")
    lines, first = _import_lines(definitions[IMPORTS][0])
    if not lines or not re.fullmatch(compiled[IMPORTS].to_regexp(), "\n".join(text for _, text in lines)):
        raise SkeletonError(first, f"terminal {IMPORTS}: import statements as string literals, one after "
                                   "the other with whitespace between")
    roots = tuple(root for line, text in lines for root in _roots(line, text))
    if CARRY_TOKEN in definitions:
        pattern = compiled[CARRY_TOKEN].to_regexp()
        missing = [c for c in CARRY_NAMES if not re.fullmatch(pattern, c)]
        if missing:
            raise SkeletonError(_first_line(definitions[CARRY_TOKEN][0]),
                                f"terminal {CARRY_TOKEN} does not match {missing[0]} (a tuple carry's component)")
    return Skeleton("\n".join(text for _, text in lines) + HEADER_END, roots)


def _first_line(definition: Tree) -> int:
    return min((lit.children[0].line for lit in definition.find_data("literal")), default=1)


def _import_lines(definition: Tree) -> tuple[list[tuple[int, str]], int]:
    """(line, text) of the string literals of the header's definition, in
    order, and the definition's first line; nothing if the definition is
    anything but one sequence of literals (no alternatives, no repetition)."""
    first = _first_line(definition)
    shapes = {"expansions", "expansion", "value", "literal"}
    if any(t.data not in shapes or t.data == "expansions" and len(t.children) != 1
           for t in definition.iter_subtrees()):
        return [], first
    out, stack = [], [definition]
    while stack:                # left to right
        node = stack.pop()
        if not isinstance(node, Tree):
            return [], first
        if node.data != "literal":
            stack.extend(reversed(node.children))
            continue
        token = node.children[0]
        pattern = PrepareLiterals().transform(Tree("literal", [token])).children[0]
        if pattern.type == "str":
            out.append((token.line, pattern.value))
    return out, first


def _roots(line: int, text: str) -> list[str]:
    """The roots an import line of the header binds; SkeletonError unless
    each statement imports one of `ROOTS` under its name."""
    allowed = ", ".join(module if module == root else f"{module} as {root}" for root, module in ROOTS.items())
    try:
        statements = ast.parse(text).body
    except (SyntaxError, ValueError, RecursionError, MemoryError):
        statements = [None]
    roots = [imported_root(s) if isinstance(s, ast.stmt) else None for s in statements]
    if not roots or None in roots:
        raise SkeletonError(line, f"header {text!r}: programs import only {allowed} (vocabulary.ROOTS)")
    return roots
