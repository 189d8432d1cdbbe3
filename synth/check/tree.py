"""Reading a parsed program's tree for the checker: its parts, the operation
alternatives in it, and the error the checker raises (`CheckError`).

Any tree at all may come here (a corpus of unknown origin, a hand-made
tree): these functions look at shapes before they trust them, and walk
deep trees without recursion.
"""
from __future__ import annotations

from lark import Token, Tree

from ..grammar import Alt
from ..skeleton import FUNCDEF, NAME, PARAMS, RET, START, STMT, input_name, is_slot, value_name
from ..types import SignatureError, Type, parse_signature

WIDTH = 60             # longest piece of program quoted in a reason


class CheckError(ValueError):
    """The tree is not a program of the space; the message says why, on one line."""

    def __init__(self, reason: str):
        super().__init__(" ".join(str(reason).split()))     # pieces of a hostile tree may hold newlines


def clip(text: str, width: int = WIDTH) -> str:
    """A piece of text on one line, cut to `width` for a reason."""
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def placeholder(uid: int) -> Token:
    """The name a hoisted value stands under until it has its place (never a NAME the grammar reads)."""
    return Token(NAME, f"#{uid}")


def canonical_name(i: int, n: int) -> str:
    """The name of value i of a program of n inputs (as `Program.name`)."""
    return input_name(i) if i < n else value_name(i - n)


def names_in(node) -> list[str]:
    """Every NAME token in a tree, iteratively (trees may be deep)."""
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if isinstance(x, Token):
            if x.type == NAME:
                out.append(str(x))
        elif isinstance(x, Tree):
            stack.extend(x.children)
    return out


def _trees(node) -> list:
    """Every subtree of a tree, iteratively."""
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if isinstance(x, Tree):
            out.append(x)
            stack.extend(x.children)
    return out


def sees_scope(grammar, expr) -> bool:
    """Whether an expression has an operation whose rule sees the types in
    scope (`full`: shaped like a value in scope), sub-programs included."""
    return any((alt := alt_of(grammar, t)) is not None and alt.rule.scope for t in _trees(expr))


def alt_of(grammar, node) -> Alt | None:
    """The operation alternative a tree is, if it is one."""
    if isinstance(node, Tree) and isinstance(node.data, str):
        return grammar.by_name.get(node.data)
    return None


def parts_of(alt: Alt, node: Tree):
    """(kind, child) for the tree's children in the alternative's order, as
    `program.op_tree` makes them: kind is the rule's slot letter (e operand,
    l lambda, b sub-program in an expression slot) or `a` for an attribute
    token; None if the tree does not have the alternative's shape."""
    kinds, children, out = iter(alt.rule.slots), node.children, []
    for sym in alt.children:
        kind = next(kinds, None) if is_slot(sym) else "a"
        if kind is None or len(out) >= len(children):
            return None
        child = children[len(out)]
        if kind == "a" and not (isinstance(child, Token) and child.type == sym.name):
            return None
        out.append((kind, child))
    return out if len(out) == len(children) else None


def split_funcdef(tree):
    """(name, parameters, docstring, statements, return) of a program tree."""
    if not (isinstance(tree, Tree) and tree.data == START and len(tree.children) == 1):
        raise CheckError("not a program: expected one function definition")
    fn = tree.children[0]
    if not (isinstance(fn, Tree) and fn.data == FUNCDEF and len(fn.children) >= 4):
        raise CheckError("not a program: expected a function definition")
    name, params, doc, *stmts, ret = fn.children
    if not (isinstance(params, Tree) and params.data == PARAMS and isinstance(doc, Token)
            and isinstance(ret, Tree) and ret.data == RET and ret.children):
        raise CheckError("not a program: malformed function definition")
    for s in stmts:
        if not (isinstance(s, Tree) and s.data == STMT and len(s.children) >= 2
                and all(isinstance(t, Token) and t.type == NAME for t in s.children[:-1])):
            raise CheckError("not a program: malformed statement")
    return name, params.children, doc, stmts, ret.children


def docstring_types(doc) -> tuple[tuple[Type, ...], tuple[Type, ...]]:
    """The input and output types a docstring states."""
    text = str(doc)
    body = text[3:-3] if text.startswith('"""') and text.endswith('"""') and len(text) >= 6 else text
    sides = body.split("->")
    if len(sides) != 2:
        raise CheckError(f"docstring: expected INPUTS -> OUTPUTS, found {clip(text)}")
    try:
        return parse_signature(sides[0]), parse_signature(sides[1])
    except SignatureError as e:
        raise CheckError(f"docstring: {clip(str(e))}") from None
