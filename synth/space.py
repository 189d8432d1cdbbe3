"""The typed expansion space, and its two modes: sampling and enumeration.

At each point of a program the space offers every well-typed step: an
operation alternative applied to values in scope (`Space.apps`), or, inside
a sub-program, to its parameters and the value built so far
(`Space.body_apps`). Sampling picks among these steps by the grammar's
weights; enumeration visits all of them in a fixed order (alternatives in
grammar order, applications in rule order).

Enumeration counts programs of each size without listing them: the number of
completions depends only on the types in scope and which inputs are still
unused, so counts are memoised on that state (as in Feat). The same counts
turn an index in [0, count) into exactly one program (unranking).

Size is the number of operations, sub-program operations included. Every
input is used by some operation; values nobody uses are returned.
"""
from __future__ import annotations

import random
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import accumulate

from .grammar import Alt, Grammar
from .program import Program, Step, chain_scope
from .rules import App, Body, Pools
from .types import MAX_RANK, Type


class NoProgram(ValueError):
    """The signature admits no program under this grammar and configuration."""


@dataclass(frozen=True)
class Config:
    pools: Pools = field(default_factory=Pools)
    max_ops: int = 8            # sampled programs have 1..max_ops top-level operations
    max_body_ops: int = 2       # longest sampled sub-program
    max_depth: int = 2          # how deeply sub-programs nest
    max_inputs: int = 3         # sampled signatures have 1..max_inputs inputs


class Space:
    def __init__(self, grammar: Grammar, config: Config = Config()):
        self.grammar, self.config = grammar, config
        self.alts = [a for a in grammar.alts if a.weight > 0]
        self._cum = list(accumulate(a.weight for a in self.alts))
        self._apps = lru_cache(maxsize=100_000)(self._apps_uncached)
        self._body_apps = lru_cache(maxsize=100_000)(self._body_apps_uncached)

    def clear_caches(self) -> None:
        """Forget memoised applications (they grow with every new signature)."""
        self._apps.cache_clear()
        self._body_apps.cache_clear()

    # ------------------------------------------------------------ the steps

    def _apps_uncached(self, alt: Alt, types: tuple[Type, ...], depth: int) -> tuple[App, ...]:
        if alt.has_bodies and depth >= self.config.max_depth:
            return ()
        return tuple(alt.apps(types, self.config.pools))

    def apps(self, alt: Alt, types: tuple[Type, ...], depth: int = 0) -> tuple[App, ...]:
        """Every application of `alt` to values of these types."""
        return self._apps(alt, types, depth)

    def _body_apps_uncached(self, alt: Alt, body: Body, depth: int) -> tuple[App, ...]:
        types = tuple(t for _, t in chain_scope(body)) + (body.result,)
        cur = len(types) - 1
        return tuple(a for a in self.apps(alt, types, depth) if a.result == body.result and cur in a.slots)

    def body_apps(self, alt: Alt, body: Body, depth: int) -> tuple[App, ...]:
        """Applications that extend a body's chain: use the current value, keep its type."""
        return self._body_apps(alt, body, depth)

    # ------------------------------------------------------------ sampling

    def pick_alt(self, rng: random.Random) -> Alt:
        return rng.choices(self.alts, cum_weights=self._cum)[0]

    def sample_signature(self, rng: random.Random) -> tuple[Type, ...]:
        dims = self.config.pools.dims

        def dtype():
            return rng.choices(["f32", "i32", "bool"], [8, 2, 1])[0]

        def shape():
            rank = rng.choices(range(MAX_RANK + 1), [1, 3, 4, 2, 1][:MAX_RANK + 1])[0]
            return tuple(rng.choice(dims) for _ in range(rank))

        first = Type(dtype(), shape())
        sig = [first]
        for _ in range(rng.randint(1, self.config.max_inputs) - 1):
            d = first.dtype if rng.random() < 0.6 else dtype()
            r = rng.random()
            s = first.shape if r < 0.5 else first.shape[rng.randint(0, first.rank):] if r < 0.75 else shape()
            sig.append(Type(d, s))
        return tuple(sig)

    def sample(self, rng: random.Random, inputs: tuple[Type, ...] | None = None, tries: int = 20) -> Program:
        """A random program, by the weights; the same rng state gives the same program."""
        for _ in range(tries):
            sig = inputs or self.sample_signature(rng)
            program = self._sample_steps(rng, sig)
            if program is not None:
                return program
        raise NoProgram(f"no program found for signature {', '.join(map(str, sig))} in {tries} tries")

    def _sample_steps(self, rng, inputs):
        """At most `target` top-level steps; the last ones go to inputs not yet used."""
        target = rng.randint(1, self.config.max_ops)
        types, used, steps = list(inputs), [False] * len(inputs), []
        n = len(inputs)
        for _ in range(8 * (target + n)):
            if len(steps) >= target:
                break
            unused_inputs = [i for i in range(n) if not used[i]]
            alt = self.pick_alt(rng)
            apps = self.apps(alt, tuple(types))
            if not apps and alt.rule.needs and len(steps) + 2 <= target and not unused_inputs:
                self._produce(rng, alt.rule.needs, types, used, steps)
                apps = self.apps(alt, tuple(types))
            if unused_inputs and target - len(steps) <= len(unused_inputs):
                # no budget left to spare: only steps that use a forgotten input
                apps = [a for a in apps if any(s in unused_inputs for s in a.slots if isinstance(s, int))]
            elif rng.random() < 0.7:       # prefer consuming unused values, so few are returned
                fresh = [a for a in apps if any(isinstance(s, int) and not used[s] for s in a.slots)]
                apps = fresh or apps
            if apps:
                self._append(Step(alt, rng.choice(apps), ()), rng, types, used, steps)
        if all(used[:n]):
            return Program(tuple(inputs), tuple(steps))
        return None

    def _append(self, step, rng, types, used, steps):
        bodies = tuple(self._sample_chain(rng, b, 1) for b in step.app.slots if isinstance(b, Body))
        steps.append(step._replace(bodies=bodies))
        for s in step.app.slots:
            if isinstance(s, int):
                used[s] = True
        types.append(step.app.result)
        used.append(False)

    def _produce(self, rng, needs, types, used, steps):
        """Add a step whose result is a type some rule needs (a scalar predicate, say)."""
        options = [(a, [app for app in self.apps(a, tuple(types)) if app.result in needs])
                   for a in self.alts if not a.has_bodies]
        options = [(a, apps) for a, apps in options if apps]
        if options:
            alt, apps = rng.choices(options, [a.weight for a, _ in options])[0]
            self._append(Step(alt, rng.choice(apps), ()), rng, types, used, steps)

    def _sample_chain(self, rng, body: Body, depth: int) -> tuple[Step, ...]:
        chain = []
        for _ in range(rng.randint(0, self.config.max_body_ops)):
            for _ in range(10):
                alt = self.pick_alt(rng)
                apps = self.body_apps(alt, body, depth)
                if apps:
                    app = rng.choice(apps)
                    bodies = tuple(self._sample_chain(rng, b, depth + 1) for b in app.slots if isinstance(b, Body))
                    chain.append(Step(alt, app, bodies))
                    break
        return tuple(chain)


class Enumeration:
    """All programs of a signature, by size; counts, indexing and listing.

    Within a size, programs are ordered by their first step (alternative in
    grammar order, then application in rule order, then sub-program sizes
    and sub-programs), then by the rest, recursively."""

    def __init__(self, space: Space, inputs: tuple[Type, ...]):
        self.space, self.inputs = space, tuple(inputs)
        self._full = (1 << len(self.inputs)) - 1
        self._count = lru_cache(maxsize=None)(self._count_uncached)
        self._chain = lru_cache(maxsize=None)(self._chain_uncached)
        self._bodies = lru_cache(maxsize=None)(self._bodies_uncached)

    # -------------------------------------------------------------- counting

    def _steps(self, types):
        for alt in self.space.alts:
            for app in self.space.apps(alt, types, 0):
                yield alt, app

    @staticmethod
    def _next(types, unused, app):
        for s in app.slots:
            if isinstance(s, int):
                unused &= ~(1 << s)
        return types + (app.result,), unused

    def _count_uncached(self, types, unused, r) -> int:
        if r == 0:
            return int(unused == 0)
        total = 0
        for _, app in self._steps(types):
            nxt = self._next(types, unused, app)
            bodies = tuple(b for b in app.slots if isinstance(b, Body))
            for s in range(r):
                ways = self._bodies(bodies, 1, s)
                if ways:
                    total += ways * self._count(*nxt, r - 1 - s)
        return total

    def _bodies_uncached(self, bodies, depth, s) -> int:
        """Ways to fill these sub-programs with s operations in all."""
        if not bodies:
            return int(s == 0)
        return sum(self._chain(bodies[0], depth, k) * self._bodies(bodies[1:], depth, s - k) for k in range(s + 1))

    def _chain_steps(self, body, depth):
        for alt in self.space.alts:
            for app in self.space.body_apps(alt, body, depth):
                yield alt, app

    def _chain_uncached(self, body, depth, k) -> int:
        if k == 0:
            return 1
        total = 0
        for _, app in self._chain_steps(body, depth):
            inner = tuple(b for b in app.slots if isinstance(b, Body))
            for s in range(k):
                total += self._bodies(inner, depth + 1, s) * self._chain(body, depth, k - 1 - s)
        return total

    def count(self, size: int) -> int:
        """Number of programs with exactly `size` operations."""
        return self._count(self.inputs, self._full, size)

    def counts(self, max_size: int) -> list[int]:
        return [self.count(k) for k in range(1, max_size + 1)]

    # -------------------------------------------------------------- unranking

    def program(self, size: int, index: int) -> Program:
        """The program number `index` (0-based) among those of this size."""
        if not 0 <= index < self.count(size):
            raise IndexError(f"index {index} out of range for size {size} ({self.count(size)} programs)")
        types, unused, steps = self.inputs, self._full, []
        r = size
        while r > 0:
            index, r = self._unrank_step(types, unused, r, index, steps)
            types, unused = self._next(types, unused, steps[-1].app)
        return Program(self.inputs, tuple(steps))

    def _unrank_step(self, types, unused, r, i, steps):
        for alt, app in self._steps(types):
            nxt = self._next(types, unused, app)
            bodies = tuple(b for b in app.slots if isinstance(b, Body))
            for s in range(r):
                rest = self._count(*nxt, r - 1 - s)
                block = self._bodies(bodies, 1, s) * rest
                if i < block:
                    steps.append(Step(alt, app, self._unrank_bodies(bodies, 1, s, i // rest)))
                    return i % rest, r - 1 - s
                i -= block
        raise AssertionError("index beyond count")

    def _unrank_bodies(self, bodies, depth, s, i):
        if not bodies:
            return ()
        for k in range(s + 1):
            rest = self._bodies(bodies[1:], depth, s - k)
            block = self._chain(bodies[0], depth, k) * rest
            if i < block:
                return (self._unrank_chain(bodies[0], depth, k, i // rest),) + \
                    self._unrank_bodies(bodies[1:], depth, s - k, i % rest)
            i -= block
        raise AssertionError("index beyond count")

    def _unrank_chain(self, body, depth, k, i):
        if k == 0:
            return ()
        for alt, app in self._chain_steps(body, depth):
            inner = tuple(b for b in app.slots if isinstance(b, Body))
            for s in range(k):
                rest = self._chain(body, depth, k - 1 - s)
                block = self._bodies(inner, depth + 1, s) * rest
                if i < block:
                    step = Step(alt, app, self._unrank_bodies(inner, depth + 1, s, i // rest))
                    return (step,) + self._unrank_chain(body, depth, k - 1 - s, i % rest)
                i -= block
        raise AssertionError("index beyond count")

    # -------------------------------------------------------------- global index

    def locate(self, index: int, max_size: int) -> tuple[int, int]:
        """Global index over sizes 1..max_size -> (size, index within size)."""
        for k in range(1, max_size + 1):
            c = self.count(k)
            if index < c:
                return k, index
            index -= c
        raise IndexError("index beyond the number of programs up to this size")

    def programs(self, max_size: int):
        """Every program up to `max_size` operations, in index order."""
        for k in range(1, max_size + 1):
            for i in range(self.count(k)):
                yield self.program(k, i)

