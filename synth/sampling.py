"""Sampling one program: steps of the expansion space chosen by weight.

A `Sampler` draws every choice of one program from one `random.Random`:
the same rng state gives the same program. Top-level steps read values in
scope, preferring those not read yet so that few are returned; the last
steps go to inputs not yet read. A sub-program is a chain of steps that
mostly reads its other parameters and often the enclosing program's values.
Whatever is drawn keeps the walk constraints (`walk`).
"""
from __future__ import annotations

import random

from . import walk
from .choice import normalised
from .program import Program, Step, captures, reads
from .rules import Body

ATTEMPTS = 24       # alternatives a sub-program's step tries before it gives up


class Sampler:
    """Samples from a `Space` (its steps, `Expansions`, and its weighted
    choice of alternatives, `Space.pick_alt`) with one rng."""

    def __init__(self, space, rng: random.Random):
        self.space, self.rng = space, rng

    def program(self, inputs) -> Program | None:
        """At most `target` top-level steps; the last ones go to inputs not yet
        used. None if some input is left unread."""
        space, rng = self.space, self.rng
        target = rng.randint(1, space.config.max_ops)
        types, used, steps = list(inputs), [False] * len(inputs), []
        n = len(inputs)
        for _ in range(8 * (target + n)):
            if len(steps) >= target:
                break
            unused_inputs = [i for i in range(n) if not used[i]]
            alt = space.pick_alt(rng)
            apps = space.grouped(alt, tuple(types), 0, space.context)
            if not apps and alt.rule.needs and len(steps) + 2 <= target and not unused_inputs:
                self._produce(alt.rule.needs, types, used, steps)
                apps = space.grouped(alt, tuple(types), 0, space.context)
            if unused_inputs and target - len(steps) <= len(unused_inputs):
                # no budget left to spare: only steps that read a forgotten input
                apps = apps.where(lambda values: alt.reads and any(v in unused_inputs for v in values))
            elif alt.reads and rng.random() < 0.7:       # prefer reading unread values, so few are returned
                apps = apps.where(lambda values: not all(used[v] for v in values)) or apps
            if apps:
                self._append(alt, rng.choice(apps), types, used, steps)
        program = Program(tuple(inputs), tuple(steps))
        return None if walk.unread_inputs(program) else program

    def _append(self, alt, app, types, used, steps) -> bool:
        """Add the step with sampled sub-programs, if they can be had."""
        step = self._with_bodies(alt, app, tuple(types), 1)
        if step is None:
            return False
        steps.append(step)
        for s in reads(step) + captures(step):
            used[s] = True
        types.extend(app.results)
        used.extend([False] * len(app.results))
        return True

    def _with_bodies(self, alt, app, outer, depth) -> Step | None:
        """The step with sampled chains for its sub-programs that fill them
        (`walk.filled`), or None after three tries."""
        bodies = [b for b in app.slots if isinstance(b, Body)]
        for _ in range(3):
            chains = tuple(self._chain(b, depth, outer) for b in bodies)
            if walk.filled(alt, bodies, chains):
                return Step(alt, app, chains)
        return None

    def _produce(self, needs, types, used, steps):
        """Add a step whose result is a type some rule needs (a scalar predicate, say)."""
        space, scope = self.space, tuple(types)
        options = [(a, space.grouped(a, scope, 0, space.context, needs))
                   for a in space.alts if not a.has_bodies and a.reads]
        options = [(a, apps) for a, apps in options if apps]
        if options:
            alt, apps = self.rng.choices(options, normalised([a.weight for a, _ in options]))[0]
            self._append(alt, self.rng.choice(apps), types, used, steps)

    def _chain(self, body: Body, depth: int, outer) -> tuple[Step, ...]:
        """1..max_body_ops steps. As a person would, a body mostly reads its other
        parameters (the fori index) and often the enclosing program's values
        (`c * i`, `a + x0`): a step prefers a parameter the chain has not read
        yet, else sometimes a captured value; inside a mesh it prefers the
        operations that only apply there (collectives)."""
        space, rng = self.space, self.rng
        chain = []
        types, cur = space.body_scope(body, outer)
        # inside a mesh, a chain mostly communicates (psum, all_gather, ...)
        special = [k for k, _ in body.context if k in space.choice.within]
        for _ in range(rng.randint(1, space.config.max_body_ops)):
            unread = set(range(cur)) - {j for step in chain for j in reads(step)}
            if unread and rng.random() < 0.75:
                want = unread                            # a parameter: the fori index, the other carry
            elif rng.random() < 0.3:
                want = range(cur + 1, cur + 1 + len(outer))      # a captured value
            else:
                want = None
            within = special[0] if special and rng.random() < 0.6 else None
            step = self._chain_step(body, depth, outer, types, cur, want, within)
            if step is not None:
                chain.append(step)
        return tuple(chain)

    def _chain_step(self, body, depth, outer, types, cur, want, within) -> Step | None:
        """A step that extends the chain, reading one of `want` if it can:
        many alternatives cannot read what is wanted (an i32 index), so it
        tries more of them."""
        space, rng = self.space, self.rng
        for attempt in range(ATTEMPTS):
            alt = space.pick_alt(rng, within if attempt < ATTEMPTS // 2 else None)
            apps = space.extending(alt, body, depth, types, cur)
            if want and attempt < ATTEMPTS - 2:
                apps = apps.where(lambda values: any(j in want for j in values))
            step = self._with_bodies(alt, rng.choice(apps), outer, depth + 1) if apps else None
            if step is not None:
                return step
        return None
