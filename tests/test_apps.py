"""The space's memoised applications are the rules' own, in the rules' order.

`Space` runs each transfer once per tuple of operand types (memoised on it) and
places its applications on every choice of values of those types. Sampling picks an
application by its position, so a placement that gave the same applications
in another order would change every corpus: the order is checked here
against the rule's plain loop over the scope.
"""
import random

import pytest
from hypothesis import given, settings, strategies as st

from jaxsynth.synth.program import chain_scope
from jaxsynth.synth.rules import SHAPES, Body
from jaxsynth.synth.space import Config, Space


@pytest.fixture(scope="module")
def spaces(grammar):
    return {"default": Space(grammar), "large": Space(grammar, Config(max_ops=12, max_depth=3, max_body_ops=3)),
            "batched": Space(grammar, Config(batched=True)),
            "realistic": Space(grammar, Config(pools=SHAPES["realistic"]))}


def scopes(space, program):
    """(types in scope, context, the body there or None) at each top-level step
    and in each sub-program of the program, nested ones included."""
    def inside(step, outer):
        for body, chain in zip((b for b in step.app.slots if isinstance(b, Body)), step.bodies):
            local = tuple(t for _, t in chain_scope(body)) + (body.result,)
            yield local + (() if dict(body.context).get("closed") else outer), body.context, body
            for s in chain:
                yield from inside(s, outer)

    types = program.inputs
    for step in program.steps:
        yield types, space.context, None
        yield from inside(step, types)
        types += step.app.results


@settings(max_examples=25, deadline=None)
@given(seed=st.integers(0, 2**32), profile=st.sampled_from(["default", "large", "batched", "realistic"]))
def test_placed_applications_are_the_rules_in_order(spaces, seed, profile):
    space = spaces[profile]
    program = space.sample(random.Random(seed))
    for types, context, body in scopes(space, program):
        for alt in space.alts:
            plain = list(alt.apps(types, space.pools, context))
            assert space._placed(alt, types, context, None, None) == plain
            if body is not None:        # a chain's step: keeps the body's type, reads the current value
                cur = len(chain_scope(body))
                assert space._placed(alt, types, context, (body.result,), cur) == \
                    [a for a in plain if a.result == body.result and not a.more and cur in a.slots]
