"""Check a parsed program against the expansion space, without running it.

`check(tree, space)` is the inverse of `Program.tree` and of `printer.nest`:
given what the grammar's parser returns for a printed program, in either
style, it rebuilds the `Program` (signature and steps) that prints to exactly
that tree, or raises `CheckError` with a one-line reason. A `validate`
command runs it over corpora of unknown origin, so it never executes or
evaluates anything, and any tree at all either checks or raises
`CheckError` (never another exception).

How a program is rebuilt:

- the inputs come from the docstring, the parameters must be x0, x1, ...;
- each statement is an operation alternative: its operands are values in
  scope, its attributes tokens; the step is the application among those the
  space offers (`Space.apps`) with these operands and attributes, looked up
  as the generator makes them (one may fail where another succeeds: each is
  tried);
- a sub-program is a chain written inside out: the outermost operation is
  the last step, an operand slot holding an operation holds the chain so far,
  and the first step reads the parameter the chain starts from; every step
  is looked up among `Space.body_apps`, nested sub-programs one level
  deeper, as `Space._with_bodies` and `Space._sample_chain` make them;
- nested style: a value used exactly once is written in place of its name
  (`printer.nest`), also inside a sub-program, where it is told apart from
  the chain so far because it never reaches one of the sub-program's
  parameters through operand slots. Such values are hoisted back into
  statements in left-to-right post-order. Where they go is a search: the
  names of the statements that remain fix their positions (v3 is the fourth
  value), the return lists outputs in the order of their values, and an
  operation shaped like a value in scope (`full`) must come after such a
  value. Any order found has the original's structural hash (which ignores
  order) and nests to the same tree.

Besides types, what the generator enforces and the tree alone would not
show is checked too: only alternatives of positive weight (`Space.__init__`);
contexts, depth and distinct or same operands (`Rule.apps`,
`Space._apps_uncached`); a chain step reads the chain so far and keeps its
type, a closed sub-program captures nothing (`Space._body_apps_uncached`);
chains are non-empty and read the parameters their body needs, and a
`distinct` alternative's sub-programs are not all the same
(`Space._with_bodies`, `Enumeration._fill_blocks`); every input is read
(`Space._sample_steps`, `Enumeration._program_blocks`); the docstring gives
the output types the rules give.
"""
from __future__ import annotations

import itertools
import re
from collections import Counter
from dataclasses import dataclass

import lark
from lark import Token, Tree
from lark.grammar import NonTerminal

from .grammar import Alt
from .printer import Printer, nest
from .program import FUNC_NAME, Program, Step, chain_scope, chain_start, input_name, needed, reads, ref, value_name
from .rules import Body
from .space import Space
from .types import SignatureError, Type, format_signature, parse_signature

MAX_TRIES = 20_000      # placements the search for an order tries before it gives up
MAX_READINGS = 8        # readings of one sub-program (ambiguous applications) tried
_WIDTH = 60             # longest piece of program quoted in a reason
_VALUE = re.compile(r"v(0|[1-9][0-9]*)")
_PLACEHOLDER = re.compile(r"#[0-9]+")


class CheckError(ValueError):
    """The tree is not a program of the space; the message says why, on one line."""

    def __init__(self, reason: str):
        super().__init__(" ".join(str(reason).split()))     # pieces of a hostile tree may hold newlines


def check_source(source: str, space: Space) -> Program:
    """Parse printed source with the space's grammar, then `check` it."""
    try:
        tree = space.grammar.parse(source)
    except lark.exceptions.UnexpectedInput as e:
        raise CheckError(f"not derived by the grammar: line {e.line} col {e.column}: {_unexpected(e)}") from None
    except lark.exceptions.LarkError as e:
        raise CheckError(f"not derived by the grammar: {_clip(str(e))}") from None
    except RecursionError:
        raise CheckError("not derived by the grammar: nested too deeply to parse") from None
    return check(tree, space)


def check(tree: Tree, space: Space) -> Program:
    """The program that prints to `tree` (statements style: `program.tree ==
    tree`; nested style: `nest(program.tree) == tree`), or CheckError."""
    try:
        return _Checker(space).program(tree)
    except RecursionError:
        raise CheckError("nested too deeply to check") from None
    except (AttributeError, TypeError, IndexError, KeyError) as e:
        # a hand-made tree of a shape the parser never returns
        raise CheckError(f"malformed tree ({type(e).__name__}: {_clip(str(e))})") from None


def _unexpected(e) -> str:
    if isinstance(e, lark.exceptions.UnexpectedCharacters):
        return f"unexpected character {e.char!r}"
    token = getattr(e, "token", None)
    if token is None or token.type == "$END":
        return "unexpected end of input"
    return f"unexpected {_clip(repr(str(token)))}"


def _clip(text: str, width: int = _WIDTH) -> str:
    text = " ".join(text.split())
    return text if len(text) <= width else text[:width - 3] + "..."


def _placeholder(uid: int) -> Token:
    """The name a hoisted value stands under until it has its place (never a NAME the grammar reads)."""
    return Token("NAME", f"#{uid}")


def _canonical(i: int, n: int) -> str:
    """The name of value i (as `Program.name`)."""
    return input_name(i) if i < n else value_name(i - n)


def _names(node) -> list[str]:
    """Every NAME token in a tree, iteratively (trees may be deep)."""
    out, stack = [], [node]
    while stack:
        x = stack.pop()
        if isinstance(x, Token):
            if x.type == "NAME":
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


def _sees_scope(grammar, expr) -> bool:
    """Whether an expression has an operation whose rule sees the types in
    scope (`full`: shaped like a value in scope), sub-programs included."""
    return any((alt := _alt(grammar, t)) is not None and alt.rule.scope for t in _trees(expr))


def _alt(grammar, node) -> Alt | None:
    """The operation alternative a tree is, if it is one."""
    if isinstance(node, Tree) and isinstance(node.data, str):
        return grammar.by_name.get(node.data)
    return None


def _parts(alt: Alt, node: Tree):
    """(kind, child) for the tree's children in the alternative's order, as
    `program.op_tree` makes them: kind is the rule's slot letter (e operand,
    l lambda, b sub-program in an expression slot) or `a` for an attribute
    token; None if the tree does not have the alternative's shape."""
    kinds, children, out = iter(alt.rule.slots), node.children, []
    for sym in alt.expansion:
        if isinstance(sym, NonTerminal):
            kind = next(kinds, None)
        elif sym.filter_out:
            continue
        else:
            kind = "a"
        if kind is None or len(out) >= len(children):
            return None
        child = children[len(out)]
        if kind == "a" and not (isinstance(child, Token) and child.type == sym.name):
            return None
        out.append((kind, child))
    return out if len(out) == len(children) else None


# ---------------------------------------------------------------- the tree's parts


def _funcdef(tree):
    """(name, parameters, docstring, statements, return) of a program tree."""
    if not (isinstance(tree, Tree) and tree.data == "start" and len(tree.children) == 1):
        raise CheckError("not a program: expected one function definition")
    fn = tree.children[0]
    if not (isinstance(fn, Tree) and fn.data == "funcdef" and len(fn.children) >= 4):
        raise CheckError("not a program: expected a function definition")
    name, params, doc, *stmts, ret = fn.children
    if not (isinstance(params, Tree) and params.data == "params" and isinstance(doc, Token)
            and isinstance(ret, Tree) and ret.data == "ret" and ret.children):
        raise CheckError("not a program: malformed function definition")
    for s in stmts:
        if not (isinstance(s, Tree) and s.data == "stmt" and len(s.children) >= 2
                and all(isinstance(t, Token) and t.type == "NAME" for t in s.children[:-1])):
            raise CheckError("not a program: malformed statement")
    return name, params.children, doc, stmts, ret.children


def _docstring(doc) -> tuple[tuple[Type, ...], tuple[Type, ...]]:
    """The input and output types a docstring states."""
    text = str(doc)
    body = text[3:-3] if text.startswith('"""') and text.endswith('"""') and len(text) >= 6 else text
    sides = body.split("->")
    if len(sides) != 2:
        raise CheckError(f"docstring: expected INPUTS -> OUTPUTS, found {_clip(text)}")
    try:
        return parse_signature(sides[0]), parse_signature(sides[1])
    except SignatureError as e:
        raise CheckError(f"docstring: {_clip(str(e))}") from None


# ---------------------------------------------------------------- un-nesting


@dataclass
class _Unit:
    """A statement to place: one the tree writes (`targets`: its names), or
    a value the nested style writes in place of its name (no targets)."""
    uid: int
    targets: tuple[str, ...]
    expr: object            # its expression, hoisted values replaced by placeholders

    @property
    def names(self) -> tuple[str, ...]:
        """The names it binds: its targets, or its placeholder."""
        return self.targets or (str(_placeholder(self.uid)),)


class _Flattener:
    """The function body as units in left-to-right post-order: a statement's
    hoisted values, then the statement; the return's hoisted values last."""

    def __init__(self, grammar, top_names):
        self.grammar, self.top = grammar, set(top_names)
        self.units: list[_Unit] = []
        self._local: dict[int, bool] = {}       # id of an operation's tree -> whether it reaches a parameter

    def statement(self, targets, expr) -> None:
        self._add(tuple(map(str, targets)), self._rebuild(expr, False))

    def returned(self, node):
        return self._hoist(node) if _alt(self.grammar, node) else node

    def _add(self, targets, expr) -> int:
        self.units.append(_Unit(len(self.units), targets, expr))
        return len(self.units) - 1

    def _hoist(self, node) -> Token:
        return _placeholder(self._add((), self._rebuild(node, False)))

    def _rebuild(self, node, inside: bool):
        """The expression with the values written in its operand slots hoisted.
        At the top level every operation in an operand slot is such a value;
        inside a sub-program (`inside`) only one that reaches none of the
        sub-program's parameters: the others are the chain so far. (One
        Python frame per level of nesting: nested programs may be deep.)"""
        alt = _alt(self.grammar, node)
        parts = _parts(alt, node) if alt else None
        if parts is None:
            return node             # a reference, or a malformed tree the checker reports
        children = []
        for kind, child in parts:
            if kind == "l":
                children.append(self._lam(child))
            elif kind == "b":
                children.append(self._chain(child))
            elif kind == "a" or not _alt(self.grammar, child):
                children.append(child)          # an attribute, or a reference
            elif inside and self._reaches_local(child):
                children.append(self._rebuild(child, True))     # the chain so far
            else:                               # hoisted (as _hoist, one frame less)
                children.append(_placeholder(self._add((), self._rebuild(child, False))))
        return Tree(node.data, children)

    def _lam(self, node):
        if isinstance(node, Tree) and node.data == "lam" and node.children:
            *params, body = node.children
            return Tree("lam", [*params, self._chain(body)])
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
            alt = _alt(self.grammar, x)
            if alt is None or id(x) in self._local:
                continue
            operands = [c for k, c in _parts(alt, x) or () if k == "e"]
            if ready:           # its operations' answers are in: they were pushed after it
                self._local[id(x)] = any(self._local[id(c)] if _alt(self.grammar, c) else self._is_local(c)
                                         for c in operands)
            else:
                stack.append((x, True))
                stack.extend((c, False) for c in operands)
        return self._local[id(node)] if _alt(self.grammar, node) else self._is_local(node)

    def _is_local(self, ref) -> bool:
        """A reference to a sub-program's parameter (a carry component, or a
        name the enclosing program does not bind)."""
        if isinstance(ref, Token):
            return ref.type == "NAME" and str(ref) not in self.top
        return isinstance(ref, Tree) and ref.data == "carry"


# ---------------------------------------------------------------- typing


class _Checker:
    """Reads one tree: its parts, then each unit's operation and sub-programs
    against the space's applications."""

    def __init__(self, space: Space):
        self.space, self.grammar = space, space.grammar
        self.ops = {a.name for a in space.alts}        # the space has only alternatives of positive weight
        self.printer = Printer(space.grammar)
        self.n = 0
        self.ambiguous = False      # some step had several readings: the order search cannot rule out early

    def program(self, tree) -> Program:
        name, params, doc, stmts, ret = _funcdef(tree)
        inputs, outputs = _docstring(doc)
        self.n = len(inputs)
        if str(name) != FUNC_NAME:
            raise CheckError(f"function name: expected {FUNC_NAME}, found {_clip(str(name))}")
        want = [input_name(i) for i in range(len(inputs))]
        if [str(p) for p in params] != want:
            raise CheckError(f"parameters: expected {', '.join(want)} (the docstring's inputs), "
                             f"found {_clip(', '.join(map(str, params)))}")
        flat = _Flattener(self.grammar, want + [str(t) for s in stmts for t in s.children[:-1]])
        for s in stmts:
            flat.statement(s.children[:-1], s.children[-1])
        returned = [flat.returned(e) for e in ret]
        steps = _Order(self, inputs, flat.units, returned).search()
        program = Program(inputs, tuple(steps))
        self._whole(program, tree, doc, outputs, nested=any(not u.targets for u in flat.units))
        return program

    def _whole(self, program, tree, doc, outputs, nested) -> None:
        """What only the whole program shows: inputs read, docstring, the tree itself."""
        unused = [input_name(i) for i in program.outputs if i < self.n]
        if unused:      # Space._sample_steps, Enumeration: every input is read
            raise CheckError(f"input {unused[0]} is never used")
        if outputs != program.output_types:
            raise CheckError(f"docstring says {format_signature(program.inputs)} -> {format_signature(outputs)}, "
                             f"the rules give {format_signature(program.inputs)} -> "
                             f"{format_signature(program.output_types)}")
        if str(doc) != program.docstring():
            raise CheckError(f"docstring: expected {program.docstring()}, found {_clip(str(doc))}")
        flat = program.tree
        if flat == tree:
            return
        nested_tree = nest(flat)
        if nested_tree != tree:
            raise CheckError(self._difference(nested_tree if nested else flat, tree, nested))

    def _difference(self, want, got, nested) -> str:
        """Where a tree differs from how the rebuilt program prints."""
        w, g = want.children[0].children, got.children[0].children
        if nested:              # printer.nest: every value used once is written in place, not some
            uses = Counter(_names(Tree("uses", [s.children[-1] for s in g[3:-1]] + g[-1].children)))
            once = [str(s.children[0]) for s in g[3:-1] if len(s.children) == 2 and uses[str(s.children[0])] == 1]
            if once:
                return f"{once[0]} is used once: the nested style writes it in place"
        for i, (a, b) in enumerate(zip(w[3:-1], g[3:-1])):
            if a != b:
                return f"statement {i + 1}: expected `{self._stmt(a)}`, found `{self._stmt(b)}`"
        if len(w) != len(g):
            return f"expected {len(w) - 4} statements, found {len(g) - 4}"
        return f"return: expected `{self._list(w[-1].children)}`, found `{self._list(g[-1].children)}`"

    def _stmt(self, s) -> str:
        return _clip(f"{', '.join(map(str, s.children[:-1]))} = {self.show(s.children[-1], 10 * _WIDTH)}")

    def _list(self, nodes) -> str:
        return _clip(", ".join(self.show(e, 10 * _WIDTH) for e in nodes))

    def show(self, node, width: int = _WIDTH) -> str:
        """A piece of program as printed, for a reason."""
        try:
            return _clip(self.printer.expr(node), width)
        except Exception:       # only a message: a malformed tree prints as what it is
            return _clip(str(getattr(node, "data", node)), width)

    # ------------------------------------------------------------ operations

    def _operation(self, node, context, depth):
        """(alternative, parts) of an operation the space may apply here."""
        alt = _alt(self.grammar, node)
        if alt is None:
            raise CheckError(f"{self.show(node)} is not an operation")
        if alt.name not in self.ops:
            raise CheckError(f"{alt.name!r} has weight 0: not in the space")
        parts = _parts(alt, node)
        if parts is None:
            raise CheckError(f"malformed {alt.name!r} tree")
        ctx, rule = dict(context), alt.rule
        # as Rule.apps and Space._apps_uncached, with a reason
        if rule.within is not None and rule.within not in ctx:
            raise CheckError(f"{alt.name!r} applies only inside a {rule.within} sub-program")
        if rule.outside is not None and rule.outside in ctx:
            raise CheckError(f"{alt.name!r} may not run within {rule.outside}")
        if "nodiff" in alt.flags and ctx.get("diff"):
            raise CheckError(f"{alt.name!r} has no derivative: not inside a differentiated sub-program")
        if alt.has_bodies and depth >= self.space.config.max_depth:
            raise CheckError(f"sub-programs nest more than {self.space.config.max_depth} deep")
        return alt, parts

    def steps(self, expr, env, types):
        """Every reading of a top-level expression as a step, given the names
        in scope (`env`: name -> value index) and their types."""
        alt, parts = self._operation(expr, self.space.context, 0)
        indices = []
        for kind, child in parts:
            if kind == "e":
                if not (isinstance(child, Token) and child.type == "NAME" and str(child) in env):
                    raise CheckError(f"{self.show(child)} is not defined")
                indices.append(env[str(child)])
        attrs = tuple(str(c) for kind, c in parts if kind == "a")
        apps = self._lookup(alt, indices, attrs, 0, types, lambda scope: self.space.apps(alt, scope),
                            lambda: ", ".join(f"{_canonical(i, self.n)} ({types[i]})" for i in indices))
        return self._readings(alt, apps, [p for p in parts if p[0] in "lb"], 1, types, env)

    def _lookup(self, alt, indices, attrs, local, outer, apps_of, describe):
        """The applications with these operands and attributes. They are looked
        up in a small scope, as `Rule.apps` would make them in the real one: the
        first `local` values (a sub-program's own), the operands' other values
        in order of first use, and for a rule that sees the scope one value of
        each type in it (its shapes are all such a rule reads). The lookup
        costs the same however many values are in scope, and the operand
        indices are mapped back."""
        refs = list(dict.fromkeys(i - local for i in indices if i >= local))
        scope = tuple(outer[r] for r in refs)
        if alt.rule.scope:
            scope += tuple(sorted(set(outer)))
        want = tuple(i if i < local else local + refs.index(i - local) for i in indices)
        found, other_attrs = [], False
        for app in apps_of(scope):
            if tuple(s for s in app.slots if isinstance(s, int)) != want:
                continue
            if app.attrs != attrs:
                other_attrs = True
                continue
            found.append(app._replace(slots=tuple(
                local + refs[s - local] if isinstance(s, int) and s >= local else s for s in app.slots)))
        if not found:
            operands = describe()
            reason = f"no application of {alt.name!r}" + (f" to {operands}" if operands else "")
            if other_attrs or (attrs and not operands):
                reason += f" with attributes {', '.join(_clip(a, 20) for a in attrs)}"
            raise CheckError(reason)
        self.ambiguous |= len(found) > 1
        return found

    def _readings(self, alt, apps, slots, depth, outer, env):
        """Steps: each application with every reading of its sub-programs."""
        error, found = None, False
        for app in apps:
            try:
                for chains in self._fill(alt, app, slots, depth, outer, env):
                    found = True
                    yield Step(alt, app, chains)
            except CheckError as e:
                error = error or e
        if not found:
            raise error or CheckError(f"no reading of {alt.name!r}")

    def _fill(self, alt, app, slots, depth, outer, env):
        """Chains for an application's sub-programs (Space._with_bodies)."""
        bodies = [s for s in app.slots if isinstance(s, Body)]
        readings = []
        for k, (body, (kind, node)) in enumerate(zip(bodies, slots)):
            try:
                readings.append(list(itertools.islice(self._chains(body, kind, node, depth, outer, env), MAX_READINGS)))
                self.ambiguous |= len(readings[-1]) > 1
            except CheckError as e:
                raise CheckError(f"sub-program {k + 1} of {alt.name!r}: {e}") from None
        same = found = False
        for chains in itertools.product(*readings):
            if alt.distinct and len(chains) > 1 and len(set(chains)) == 1:
                same = True         # a distinct alternative's sub-programs are not all the same
                continue
            found = True
            yield chains
        if same and not found:
            raise CheckError(f"the sub-programs of {alt.name!r} are all the same")

    # ------------------------------------------------------------ sub-programs

    def _chains(self, body: Body, kind, node, depth, outer, env):
        """Every reading of a sub-program's tree as a chain of steps."""
        expr = self._lambda(body, node) if kind == "l" else node
        scope = [n for n, _ in chain_scope(body)]
        start = body.params[chain_start(body)][0]
        nodes = self._decompose(expr, start)
        local = len(scope) + 1          # the body's other parameters, then the chain so far
        closed = bool(dict(body.context).get("closed"))

        def name(i, k):
            if i < len(scope):
                return scope[i]
            if i == len(scope):
                return start if k == 0 else "the chain so far"
            return _canonical(i - local, self.n)

        def extend(k, chain):
            if k == len(nodes):
                unread = needed(body) - {j for s in chain for j in reads(s)}
                if unread:          # a carry nothing reads would be dropped by JAX
                    raise CheckError(f"the chain does not read {', '.join(scope[q] for q in sorted(unread))}")
                yield chain
                return
            alt, parts = self._operation(nodes[k], body.context, depth)
            if not alt.reads:
                raise CheckError(f"{alt.name!r} reads only a shape: it cannot extend a chain")
            indices = [self._local(c, k, scope, start, closed, env) for p, c in parts if p == "e"]
            if k == 0 and len(scope) not in indices:
                raise CheckError(f"the chain does not start from {start}")
            attrs = tuple(str(c) for p, c in parts if p == "a")
            types = tuple(t for _, t in chain_scope(body)) + (body.result,) + outer
            apps = self._lookup(alt, indices, attrs, local, outer,
                                lambda s: self.space.body_apps(alt, body, depth, s),
                                lambda: ", ".join(f"{name(i, k)} ({types[i]})" for i in indices)
                                + f" giving {body.result}")
            for step in self._readings(alt, apps, [p for p in parts if p[0] in "lb"], depth + 1, outer, env):
                yield from extend(k + 1, chain + (step,))

        return extend(0, ())

    def _lambda(self, body: Body, node):
        """The expression of a lambda whose parameters are the body's."""
        if not (isinstance(node, Tree) and node.data == "lam" and node.children):
            raise CheckError("expected a lambda")
        *params, expr = node.children
        want = [n for n, _ in body.params]
        if not all(isinstance(p, Token) and p.type == "NAME" for p in params) or list(map(str, params)) != want:
            raise CheckError(f"the lambda's parameters should be {', '.join(want)}, "
                             f"found {_clip(', '.join(map(str, params)))}")
        return expr

    def _decompose(self, expr, start) -> list:
        """A chain's steps, innermost first: an operand slot that holds an
        operation holds the chain so far (the same tree in every such slot)."""
        nodes, node = [], expr
        while (alt := _alt(self.grammar, node)) is not None:
            parts = _parts(alt, node)
            if parts is None:
                raise CheckError(f"malformed {alt.name!r} tree")
            nodes.append(node)
            inner = [c for kind, c in parts if kind == "e" and _alt(self.grammar, c)]
            if not inner:
                break
            if any(c != inner[0] for c in inner[1:]):
                raise CheckError(f"{alt.name!r} reads two different chains")
            node = inner[0]
        if not nodes:
            raise CheckError("the chain is empty" if node == ref(start) else f"the chain does not start from {start}")
        return nodes[::-1]

    def _local(self, child, k, scope, start, closed, env) -> int:
        """The index of a chain step's operand: the body's other parameters,
        the chain so far, then the enclosing program's values."""
        if _alt(self.grammar, child):
            return len(scope)               # the chain so far (_decompose)
        if child == ref(start):
            if k == 0:
                return len(scope)
            raise CheckError(f"{start} is read after the chain's first step (later steps read the chain so far)")
        for q, name in enumerate(scope):
            if child == ref(name):
                return q
        if isinstance(child, Token) and child.type == "NAME" and str(child) in env:
            if closed:          # Space._body_apps_uncached: a closed sub-program sees only its parameters
                raise CheckError(f"a closed sub-program captures {_canonical(env[str(child)], self.n)}")
            return len(scope) + 1 + env[str(child)]
        raise CheckError(f"{self.show(child)} is not defined in the sub-program")


# ---------------------------------------------------------------- order


class _Order:
    """Places the units: a written statement at the value index its name
    gives, a hoisted value in a free place after what it reads, each typed
    where it stands; depth first, undoing a placement that leads nowhere."""

    def __init__(self, checker: _Checker, inputs, units: list[_Unit], returned):
        self.checker, self.units, self.n = checker, units, len(inputs)
        self.types, self.steps, self.placed, self.done = list(inputs), [], [], set()
        self.env = {input_name(i): i for i in range(self.n)}
        self.owner = {}             # a name a unit binds -> the unit
        for u in units:
            for t in u.names:
                if t in self.owner:
                    raise CheckError(f"names: {t} is bound twice")
                self.owner[t] = u.uid
        self.deps = {u.uid: {self.owner[t] for t in _names(u.expr) if t in self.owner} for u in units}
        # the return lists outputs in the order of their values: a hoisted one comes after the one before
        refs = [self.owner.get(str(e)) if isinstance(e, Token) else None for e in returned]
        for a, b in zip(refs, refs[1:]):
            if a is not None and b is not None and not (units[a].targets and units[b].targets):
                self.deps[b].add(a)
        self.users = {}             # unit -> the units that need it first
        for uid, deps in self.deps.items():
            for d in deps:
                self.users.setdefault(d, set()).add(uid)
        # units typed or not depending on the order (what is in scope before them)
        self.scoped = {u.uid: _sees_scope(checker.grammar, u.expr) for u in units}
        self.hoisted = [u.uid for u in units if not u.targets]
        self.kept = [u.uid for u in units if u.targets]
        self.claims = self._claims()
        self.start = {uid: p for p, uid in self.claims.items()}
        self.error: tuple[int, str] | None = None

    def _claims(self) -> dict[int, int]:
        """Value index -> the written statement whose first name is that value;
        the names must leave room for the hoisted values, in order."""
        claims, end, spare = {}, self.n, len(self.hoisted)
        for uid in self.kept:
            targets = self.units[uid].targets
            first = _VALUE.fullmatch(targets[0])
            start = self.n + int(first.group(1)) if first else -1
            if not first or start < end or start - end > spare:
                expected = value_name(end - self.n) if spare == 0 else \
                    f"one of v{end - self.n}..v{end - self.n + spare}"
                raise CheckError(f"names: expected {expected}, found {_clip(targets[0])}")
            for i, t in enumerate(targets[1:], 1):
                if t != value_name(start - self.n + i):
                    raise CheckError(f"names: expected {value_name(start - self.n + i)}, found {_clip(t)}")
            claims[start] = uid
            spare -= start - end
            end = start + len(targets)
        return claims

    # ------------------------------------------------------------ search

    def search(self) -> list[Step]:
        failed, tries = set(), 0
        stack = [self._choices()]
        while stack:
            choice = next(stack[-1], None)
            if choice is None:              # nothing fits here: undo the placement that led here
                stack.pop()
                failed.add(self._key())
                if self.placed:
                    self._undo()
                continue
            tries += 1
            if tries > MAX_TRIES:
                raise CheckError(f"no order of the values written in place found in {MAX_TRIES} tries")
            self._place(*choice)
            if len(self.placed) == len(self.units):
                return self.steps
            if failed and self._key() in failed:
                self._undo()
                continue
            stack.append(self._choices())
        raise CheckError(self.error[1] if self.error else "no program")

    def _key(self):
        """What the rest depends on: which units are placed, with which result
        types (not the order: rules read the types in scope, not their order)."""
        return frozenset((uid, s.app.results) for uid, s in zip(self.placed, self.steps))

    def _place(self, uid, step) -> None:
        p, u = len(self.types), self.units[uid]
        for i, name in enumerate(u.names):
            self.env[name] = p + i
        self.types.extend(step.app.results)
        self.placed.append(uid)
        self.done.add(uid)
        self.steps.append(step)

    def _undo(self) -> None:
        uid, step = self.placed.pop(), self.steps.pop()
        self.done.discard(uid)
        del self.types[len(self.types) - len(step.app.results):]
        for name in self.units[uid].names:
            del self.env[name]

    def _fail(self, p, unit, reason, final=False) -> None:
        """Keep the reason of the failure that got furthest (the step it is
        about is printed only then: this runs in the state of that place);
        a failure no other order could avoid ends the search."""
        if final:
            raise CheckError(f"{self._label(unit, p)}: {reason}" if unit else reason)
        if self.error is None or p > self.error[0]:
            self.error = (p, f"{self._label(unit, p)}: {reason}" if unit else reason)

    def _choices(self):
        """(unit, step) pairs that may take the next place."""
        # the generator runs only while the state is that of this place (deeper
        # placements are undone before it resumes): it reads the live state
        p, placed = len(self.types), self.done
        if p in self.claims:
            candidates = [self.claims[p]]
        else:
            candidates = self._hoisted_candidates(p, placed)
        for uid in candidates:
            u = self.units[uid]
            if not self.deps[uid] <= placed:
                if u.targets:
                    self._fail(p, u, *self._early(uid, placed))
                continue
            reason, found = None, False
            try:
                for step in self.checker.steps(u.expr, dict(self.env), tuple(self.types)):
                    results = step.app.results
                    if u.targets and len(results) != len(u.targets):
                        reason = reason or f"{len(u.targets)} names for {len(results)} result(s)"
                    elif not u.targets and len(results) > 1:
                        reason = reason or f"an operation with {len(results)} results is never written in place"
                    else:
                        found = True
                        yield uid, step
            except CheckError as e:
                reason = reason or str(e)
            if not found:
                self._fail(p, u, reason, self._anywhere(uid))

    def _anywhere(self, uid) -> bool:
        """Whether a unit that cannot be typed here cannot be typed anywhere.
        Its operands' types do not depend on the order (unless some
        application was ambiguous: another reading may give other types);
        the types in scope do, but only a rule that sees them (`full`) cares,
        and it finds more with more types: if every unit that does not need
        this one is placed, no order gives it more."""
        if self.checker.ambiguous:
            return False
        if not self.scoped[uid]:
            return True
        users, stack = set(), [uid]
        while stack:
            for v in self.users.get(stack.pop(), ()):
                if v not in users:
                    users.add(v)
                    stack.append(v)
        return len(self.done) == len(self.units) - 1 - len(users)

    def _hoisted_candidates(self, p, placed) -> list[int]:
        """Hoisted values for a free place: those the next written statement
        needs first (they must all fit before it), then the others, each in
        left-to-right post-order."""
        left = [uid for uid in self.hoisted if uid not in placed]
        nxt = next((uid for uid in self.kept if uid not in placed), None)
        if not any(self.deps[uid] <= placed for uid in left):
            if nxt is None:
                self._fail(p, self.units[left[0]], self._early(left[0], placed))
            else:
                self._fail(p, None, f"names: expected {value_name(p - self.n)}, found {self.units[nxt].targets[0]}")
            return []
        if nxt is None:
            return left
        room = self.start[nxt] - p
        needs = self._needs(nxt, placed)
        if len(needs) > room:
            self._fail(p, None, f"names: {self.units[nxt].targets[0]} leaves room for {room} value(s) "
                                f"written in place before it, it needs {len(needs)}")
            return []
        first = sorted(needs)
        return first + ([] if len(needs) == room else [uid for uid in left if uid not in needs])

    def _needs(self, uid, placed) -> set[int]:
        """Hoisted values not yet placed that a unit needs, directly or not."""
        out, stack = set(), list(self.deps[uid])
        while stack:
            d = stack.pop()
            if d not in placed and d not in out and not self.units[d].targets:
                out.add(d)
                stack.extend(self.deps[d])
        return out

    def _early(self, uid, placed) -> tuple[str, bool]:
        """Why a written statement cannot have its place, and whether that is
        final: a name it (or a value written in it) uses is bound later (names
        fix places), or what is written in it does not fit before it."""
        later = [t for d in [uid, *sorted(self._needs(uid, placed))] for t in _names(self.units[d].expr)
                 if self.owner.get(t) is not None and self.owner[t] not in placed and self.units[self.owner[t]].targets]
        if later:
            return f"{later[0]} is used before it is defined", True
        return "the values written in place do not fit before it", False

    def _label(self, u: _Unit, p) -> str:
        """`step k (v3 = ...)`, with the values written in place written in
        place again, as in the source."""
        def inline(node):
            if isinstance(node, Token) and _PLACEHOLDER.fullmatch(node) and int(node[1:]) < len(self.units):
                return inline(self.units[int(node[1:])].expr)
            if isinstance(node, Tree):
                return Tree(node.data, [inline(c) for c in node.children])
            return node

        lhs = ", ".join(u.targets) if u.targets else value_name(p - self.n)
        try:
            text = self.checker.show(inline(u.expr))
        except RecursionError:
            text = "..."
        return f"step {len(self.steps) + 1} ({_clip(lhs)} = {text})"
