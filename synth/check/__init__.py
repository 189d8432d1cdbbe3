"""Check a parsed program against the expansion space, without running it.

`check(tree, space)` is the inverse of `Program.tree` and of `printer.nest`:
given what the grammar's parser returns for a printed program, in either
style, it rebuilds the `Program` (signature and steps) that prints to exactly
that tree, or raises `CheckError` with a one-line reason. A `validate`
command runs it over corpora of unknown origin, so it never executes or
evaluates anything, and any tree at all either checks or raises
`CheckError` (never another exception).

How a program is rebuilt:

- the inputs come from the docstring, the parameters must be x0, x1, ...
  (`tree` reads the tree's parts);
- each statement is an operation alternative: its operands are values in
  scope, its attributes tokens; the step is the application among those the
  space offers (`Space.apps`) with these operands and attributes, looked up
  as the generator makes them (one may fail where another succeeds: each is
  tried; `steps`);
- a sub-program is a chain written inside out: the outermost operation is
  the last step, an operand slot holding an operation holds the chain so far,
  and the first step reads the parameter the chain starts from; every step
  is looked up among `Space.body_apps`, nested sub-programs one level deeper
  (`steps`);
- nested style: a value used exactly once is written in place of its name
  (`printer.nest`); such values are hoisted back into statements
  (`unnest`) and where they go is a search (`order`).

Besides types, what the generator enforces and the tree alone would not
show is checked too, with the space's own statement of it (`walk`): only
alternatives of positive weight; contexts, depth and distinct or same
operands; a chain step reads the chain so far and keeps its type, a closed
sub-program captures nothing; chains are non-empty and read the parameters
their body needs, and a `distinct` alternative's sub-programs are not all
the same; every input is read; the docstring gives the output types the
rules give.
"""
from __future__ import annotations

from collections import Counter

import lark
from lark import Tree

from .. import walk
from .order import Order
from .steps import StepReader
from .tree import WIDTH, CheckError, clip, docstring_types, names_in, split_funcdef
from .unnest import Flattener
from ..printer import nest
from ..program import Program
from ..skeleton import FUNC_NAME, input_name
from ..space import Space
from ..types import format_signature

__all__ = ["CheckError", "check", "check_source"]


def check_source(source: str, space: Space) -> Program:
    """Parse printed source with the space's grammar, then `check` it."""
    try:
        tree = space.grammar.parse(source)
    except lark.exceptions.UnexpectedInput as e:
        raise CheckError(f"not derived by the grammar: line {e.line} col {e.column}: {_unexpected(e)}") from None
    except lark.exceptions.LarkError as e:
        raise CheckError(f"not derived by the grammar: {clip(str(e))}") from None
    except RecursionError:
        raise CheckError("not derived by the grammar: nested too deeply to parse") from None
    return check(tree, space)


def check(tree: Tree, space: Space) -> Program:
    """The program that prints to `tree` (statements style: `program.tree ==
    tree`; nested style: `nest(program.tree) == tree`), or CheckError."""
    try:
        return _program(tree, StepReader(space))
    except RecursionError:
        raise CheckError("nested too deeply to check") from None
    except (AttributeError, TypeError, IndexError, KeyError) as e:
        # a hand-made tree of a shape the parser never returns
        raise CheckError(f"malformed tree ({type(e).__name__}: {clip(str(e))})") from None


def _unexpected(e) -> str:
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}"
    token = getattr(e, "token", None)
    if token is None or token.type == "$END":
        return "unexpected end of input"
    return f"unexpected {clip(repr(str(token)))}"


def _program(tree, reader: StepReader) -> Program:
    """Reads one tree: its parts, the units to place, their order, then the whole."""
    name, params, doc, stmts, ret = split_funcdef(tree)
    inputs, outputs = docstring_types(doc)
    reader.n = len(inputs)
    if str(name) != FUNC_NAME:
        raise CheckError(f"function name: expected {FUNC_NAME}, found {clip(str(name))}")
    want = [input_name(i) for i in range(len(inputs))]
    if [str(p) for p in params] != want:
        raise CheckError(f"parameters: expected {', '.join(want)} (the docstring's inputs), "
                         f"found {clip(', '.join(map(str, params)))}")
    flat = Flattener(reader.grammar, want + [str(t) for s in stmts for t in s.children[:-1]])
    for s in stmts:
        flat.statement(s.children[:-1], s.children[-1])
    returned = [flat.returned(e) for e in ret]
    steps = Order(reader, inputs, flat.units, returned).search()
    program = Program(inputs, tuple(steps))
    _whole(reader, program, tree, doc, outputs, nested=any(not u.targets for u in flat.units))
    return program


def _whole(reader, program, tree, doc, outputs, nested) -> None:
    """What only the whole program shows: inputs read, docstring, the tree itself."""
    unused = walk.unread_inputs(program)
    if unused:
        raise CheckError(f"input {input_name(unused[0])} is never used")
    if outputs != program.output_types:
        raise CheckError(f"docstring says {format_signature(program.inputs)} -> {format_signature(outputs)}, "
                         f"the rules give {format_signature(program.inputs)} -> "
                         f"{format_signature(program.output_types)}")
    if str(doc) != program.docstring():
        raise CheckError(f"docstring: expected {program.docstring()}, found {clip(str(doc))}")
    flat = program.tree
    if flat == tree:
        return
    nested_tree = nest(flat)
    if nested_tree != tree:
        raise CheckError(_difference(reader, nested_tree if nested else flat, tree, nested))


def _difference(reader, want, got, nested) -> str:
    """Where a tree differs from how the rebuilt program prints."""
    w, g = want.children[0].children, got.children[0].children
    if nested:              # printer.nest: every value used once is written in place, not some
        uses = Counter(names_in(Tree("uses", [s.children[-1] for s in g[3:-1]] + g[-1].children)))
        once = [str(s.children[0]) for s in g[3:-1] if len(s.children) == 2 and uses[str(s.children[0])] == 1]
        if once:
            return f"{once[0]} is used once: the nested style writes it in place"

    def stmt(s) -> str:
        return clip(f"{', '.join(map(str, s.children[:-1]))} = {reader.show(s.children[-1], 10 * WIDTH)}")

    def listed(nodes) -> str:
        return clip(", ".join(reader.show(e, 10 * WIDTH) for e in nodes))

    for i, (a, b) in enumerate(zip(w[3:-1], g[3:-1])):
        if a != b:
            return f"statement {i + 1}: expected `{stmt(a)}`, found `{stmt(b)}`"
    if len(w) != len(g):
        return f"expected {len(w) - 4} statements, found {len(g) - 4}"
    return f"return: expected `{listed(w[-1].children)}`, found `{listed(g[-1].children)}`"
