"""The order search of the checker: where each statement and each value
written in place goes in the rebuilt program.

The names of the statements the tree writes fix their positions (v3 is the
fourth value); a value the nested style writes in place goes in a free
place after what it reads; the return lists outputs in the order of their
values; and an operation shaped like a value in scope (`full`) must come
after such a value. `Order` places the units of `unnest.Flattener`
depth first, typing each where it stands (`steps.StepReader`), and
undoes a placement that leads nowhere. Any order found has the original's
structural hash (which ignores order) and nests to the same tree.
"""
from __future__ import annotations

import re

from lark import Token, Tree

from .steps import StepReader
from .tree import CheckError, clip, names_in, sees_scope
from .unnest import Unit
from ..program import Step
from ..skeleton import input_name, value_name, value_number

MAX_TRIES = 20_000      # placements the search for an order tries before it gives up
_PLACEHOLDER = re.compile(r"#[0-9]+")


class Order:
    """Places the units: a written statement at the value index its name
    gives, a hoisted value in a free place after what it reads, each typed
    where it stands; depth first, undoing a placement that leads nowhere."""

    def __init__(self, checker: StepReader, inputs, units: list[Unit], returned):
        self.checker, self.units, self.n = checker, units, len(inputs)
        self.types, self.steps, self.placed, self.done = list(inputs), [], [], set()
        self.env = {input_name(i): i for i in range(self.n)}
        self.owner = {}             # a name a unit binds -> the unit
        for u in units:
            for t in u.names:
                if t in self.owner:
                    raise CheckError(f"names: {t} is bound twice")
                self.owner[t] = u.uid
        self.deps = {u.uid: {self.owner[t] for t in names_in(u.expr) if t in self.owner} for u in units}
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
        self.scoped = {u.uid: sees_scope(checker.grammar, u.expr) for u in units}
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
            first = value_number(targets[0])
            start = self.n + first if first is not None else -1
            if first is None or start < end or start - end > spare:
                expected = value_name(end - self.n) if spare == 0 else \
                    f"one of {value_name(end - self.n)}..{value_name(end - self.n + spare)}"
                raise CheckError(f"names: expected {expected}, found {clip(targets[0])}")
            for i, t in enumerate(targets[1:], 1):
                if t != value_name(start - self.n + i):
                    raise CheckError(f"names: expected {value_name(start - self.n + i)}, found {clip(t)}")
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
        later = [t for d in [uid, *sorted(self._needs(uid, placed))] for t in names_in(self.units[d].expr)
                 if self.owner.get(t) is not None and self.owner[t] not in placed and self.units[self.owner[t]].targets]
        if later:
            return f"{later[0]} is used before it is defined", True
        return "the values written in place do not fit before it", False

    def _label(self, u: Unit, p) -> str:
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
        return f"step {len(self.steps) + 1} ({clip(lhs)} = {text})"
