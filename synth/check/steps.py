"""Reading expressions as steps: the checker's lookup of each operation and
sub-program among the applications the expansion space offers.

An operation is looked up among `Space.apps` (a top-level step) or
`Space.body_apps` (a step of a sub-program's chain, nested sub-programs one
level deeper) with its operands and attributes, as the generator makes
them; one tree may have several readings (ambiguous applications), each is
tried. What the generator enforces and types alone would not show is asked
of `walk`, whose constraints the space keeps too, so that a reason can say
which one a tree breaks.
"""
from __future__ import annotations

import itertools

from lark import Token, Tree

from .. import walk
from .tree import WIDTH, CheckError, alt_of, canonical_name, clip, parts_of
from ..printer import Printer
from ..program import Step, chain_scope, chain_start, ref
from ..rules import Body
from ..skeleton import LAM, NAME
from ..space import Space

MAX_READINGS = 8        # readings of one sub-program (ambiguous applications) tried


class StepReader:
    """Reads the expressions of one program against a space's applications
    (`n`: the program's number of inputs, for names in reasons)."""

    def __init__(self, space: Space):
        self.space, self.grammar = space, space.grammar
        self.ops = {a.name for a in space.alts}        # the space has only alternatives of positive weight
        self.printer = Printer(space.grammar)
        self.n = 0
        self.ambiguous = False      # some step had several readings: the order search cannot rule out early

    def show(self, node, width: int = WIDTH) -> str:
        """A piece of program as printed, for a reason."""
        try:
            return clip(self.printer.expr(node), width)
        except Exception:       # only a message: a malformed tree prints as what it is
            return clip(str(getattr(node, "data", node)), width)

    # ------------------------------------------------------------ operations

    def _operation(self, node, context, depth):
        """(alternative, parts) of an operation the space may apply here."""
        alt = alt_of(self.grammar, node)
        if alt is None:
            raise CheckError(f"{self.show(node)} is not an operation")
        if alt.name not in self.ops:
            raise CheckError(f"{alt.name!r} has weight 0: not in the space")
        parts = parts_of(alt, node)
        if parts is None:
            raise CheckError(f"malformed {alt.name!r} tree")
        # the space offers no application here either: these say why
        rule, max_depth = alt.rule, self.space.config.max_depth
        if walk.missing_context(rule, context):
            raise CheckError(f"{alt.name!r} applies only inside a {rule.within} sub-program")
        if walk.excluded(rule, context):
            raise CheckError(f"{alt.name!r} may not run within {rule.outside}")
        if walk.no_derivative(alt, context):
            raise CheckError(f"{alt.name!r} has no derivative: not inside a differentiated sub-program")
        if walk.too_deep(alt, depth, max_depth):
            raise CheckError(f"sub-programs nest more than {max_depth} deep")
        return alt, parts

    def steps(self, expr, env, types):
        """Every reading of a top-level expression as a step, given the names
        in scope (`env`: name -> value index) and their types."""
        alt, parts = self._operation(expr, self.space.context, 0)
        indices = []
        for kind, child in parts:
            if kind == "e":
                if not (isinstance(child, Token) and child.type == NAME and str(child) in env):
                    raise CheckError(f"{self.show(child)} is not defined")
                indices.append(env[str(child)])
        attrs = tuple(str(c) for kind, c in parts if kind == "a")
        apps = self._lookup(alt, indices, attrs, 0, types, lambda scope: self.space.apps(alt, scope),
                            lambda: ", ".join(f"{canonical_name(i, self.n)} ({types[i]})" for i in indices))
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
                reason += f" with attributes {', '.join(clip(a, 20) for a in attrs)}"
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
        """Every reading of an application's sub-programs as chains, except
        those a `distinct` alternative may not have (`walk.repeats`; each
        chain's own constraints are `_chains`')."""
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
            if walk.repeats(alt, chains):
                same = True
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
        closed = walk.closed(body)
        types = self.space.body_scope(body, outer)[0]     # what a step sees (no capture if closed)

        def name(i, k):
            if i < len(scope):
                return scope[i]
            if i == len(scope):
                return start if k == 0 else "the chain so far"
            return canonical_name(i - local, self.n)

        def extend(k, chain):
            if k == len(nodes):
                unread = walk.unread_needs(body, chain)
                if unread:
                    raise CheckError(f"the chain does not read {', '.join(scope[q] for q in sorted(unread))}")
                yield chain
                return
            alt, parts = self._operation(nodes[k], body.context, depth)
            if not walk.extends(alt):
                raise CheckError(f"{alt.name!r} reads only a shape: it cannot extend a chain")
            indices = [self._local(c, k, scope, start, closed, env) for p, c in parts if p == "e"]
            if k == 0 and len(scope) not in indices:
                raise CheckError(f"the chain does not start from {start}")
            attrs = tuple(str(c) for p, c in parts if p == "a")
            apps = self._lookup(alt, indices, attrs, local, outer,
                                lambda s: self.space.body_apps(alt, body, depth, s),
                                lambda: ", ".join(f"{name(i, k)} ({types[i]})" for i in indices)
                                + f" giving {body.result}")
            for step in self._readings(alt, apps, [p for p in parts if p[0] in "lb"], depth + 1, outer, env):
                yield from extend(k + 1, chain + (step,))

        return extend(0, ())

    def _lambda(self, body: Body, node):
        """The expression of a lambda whose parameters are the body's."""
        if not (isinstance(node, Tree) and node.data == LAM and node.children):
            raise CheckError("expected a lambda")
        *params, expr = node.children
        want = [n for n, _ in body.params]
        if not all(isinstance(p, Token) and p.type == NAME for p in params) or list(map(str, params)) != want:
            raise CheckError(f"the lambda's parameters should be {', '.join(want)}, "
                             f"found {clip(', '.join(map(str, params)))}")
        return expr

    def _decompose(self, expr, start) -> list:
        """A chain's steps, innermost first: an operand slot that holds an
        operation holds the chain so far (the same tree in every such slot)."""
        nodes, node = [], expr
        while (alt := alt_of(self.grammar, node)) is not None:
            parts = parts_of(alt, node)
            if parts is None:
                raise CheckError(f"malformed {alt.name!r} tree")
            nodes.append(node)
            inner = [c for kind, c in parts if kind == "e" and alt_of(self.grammar, c)]
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
        if alt_of(self.grammar, child):
            return len(scope)               # the chain so far (_decompose)
        if child == ref(start):
            if k == 0:
                return len(scope)
            raise CheckError(f"{start} is read after the chain's first step (later steps read the chain so far)")
        for q, name in enumerate(scope):
            if child == ref(name):
                return q
        if isinstance(child, Token) and child.type == NAME and str(child) in env:
            if closed:
                raise CheckError(f"a closed sub-program captures {canonical_name(env[str(child)], self.n)}")
            return len(scope) + 1 + env[str(child)]
        raise CheckError(f"{self.show(child)} is not defined in the sub-program")

