"""Un-nesting: the nested style's values written in place, hoisted back
into statements for the checker to place (`order`).

`printer.nest` writes a value used exactly once where it is used, also
inside a sub-program, where it is told apart from the chain so far because
it never reaches one of the sub-program's parameters through operand slots.
`Flattener` undoes that: the function body becomes units (`Unit`), a
statement's hoisted values before it, in left-to-right post-order, each
hoisted value under a placeholder name until the search gives it its place.
"""
from __future__ import annotations

from dataclasses import dataclass

from lark import Token, Tree

from .tree import alt_of, parts_of, placeholder
from ..skeleton import CARRY, LAM, NAME


@dataclass
class Unit:
    """A statement to place: one the tree writes (`targets`: its names), or
    a value the nested style writes in place of its name (no targets)."""
    uid: int
    targets: tuple[str, ...]
    expr: object            # its expression, hoisted values replaced by placeholders

    @property
    def names(self) -> tuple[str, ...]:
        """The names it binds: its targets, or its placeholder."""
        return self.targets or (str(placeholder(self.uid)),)


class Flattener:
    """The function body as units in left-to-right post-order: a statement's
    hoisted values, then the statement; the return's hoisted values last."""

    def __init__(self, grammar, top_names):
        self.grammar, self.top = grammar, set(top_names)
        self.units: list[Unit] = []
        self._local: dict[int, bool] = {}       # id of an operation's tree -> whether it reaches a parameter

    def statement(self, targets, expr) -> None:
        self._add(tuple(map(str, targets)), self._rebuild(expr, False))

    def returned(self, node):
        return self._hoist(node) if alt_of(self.grammar, node) else node

    def _add(self, targets, expr) -> int:
        self.units.append(Unit(len(self.units), targets, expr))
        return len(self.units) - 1

    def _hoist(self, node) -> Token:
        return placeholder(self._add((), self._rebuild(node, False)))

    def _rebuild(self, node, inside: bool):
        """The expression with the values written in its operand slots hoisted.
        At the top level every operation in an operand slot is such a value;
        inside a sub-program (`inside`) only one that reaches none of the
        sub-program's parameters: the others are the chain so far. (One
        Python frame per level of nesting: nested programs may be deep.)"""
        alt = alt_of(self.grammar, node)
        parts = parts_of(alt, node) if alt else None
        if parts is None:
            return node             # a reference, or a malformed tree the checker reports
        children = []
        for kind, child in parts:
            if kind == "l":
                children.append(self._lam(child))
            elif kind == "b":
                children.append(self._chain(child))
            elif kind == "a" or not alt_of(self.grammar, child):
                children.append(child)          # an attribute, or a reference
            elif inside and self._reaches_local(child):
                children.append(self._rebuild(child, True))     # the chain so far
            else:                               # hoisted (as _hoist, one frame less)
                children.append(placeholder(self._add((), self._rebuild(child, False))))
        return Tree(node.data, children)

    def _lam(self, node):
        if isinstance(node, Tree) and node.data == LAM and node.children:
            *params, body = node.children
            return Tree(LAM, [*params, self._chain(body)])
        return node

    def _chain(self, node):
        """A sub-program's expression: its root is the chain's last step
        (even one that reaches no parameter: the checker says what is wrong)."""
        return self._rebuild(node, True)

    def _reaches_local(self, node) -> bool:
        """Whether operand slots lead to a name the enclosing program does not
        define (a sub-program's parameter) or a carry component. Sub-program
        slots are not followed: a hoisted value's own lambdas have parameters
        too. Worked out for every operation below at once, iteratively, and
        remembered: each level of a chain asks again."""
        stack = [(node, False)]
        while stack:
            x, ready = stack.pop()
            alt = alt_of(self.grammar, x)
            if alt is None or id(x) in self._local:
                continue
            operands = [c for k, c in parts_of(alt, x) or () if k == "e"]
            if ready:           # its operations' answers are in: they were pushed after it
                self._local[id(x)] = any(self._local[id(c)] if alt_of(self.grammar, c) else self._is_local(c)
                                         for c in operands)
            else:
                stack.append((x, True))
                stack.extend((c, False) for c in operands)
        return self._local[id(node)] if alt_of(self.grammar, node) else self._is_local(node)

    def _is_local(self, ref) -> bool:
        """A reference to a sub-program's parameter (a carry component, or a
        name the enclosing program does not bind)."""
        if isinstance(ref, Token):
            return ref.type == NAME and str(ref) not in self.top
        return isinstance(ref, Tree) and ref.data == CARRY
