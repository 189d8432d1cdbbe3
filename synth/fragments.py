"""A program cut into one-step programs, to lower each step once.

A step's fragment is the program of that step alone: its parameters are the
distinct values the step uses (operands, values its sub-programs capture, in
first use order), its results the step's. Two steps with equal fragments
(the same printed program) lower to the same StableHLO wherever they sit, up
to the names of values, unless JAX's whole-program passes see across steps
(`lowering.splice` says which; those programs are lowered whole).
"""
from __future__ import annotations

from typing import NamedTuple

from .printer import inlined
from .program import Program, Step, chain_scope
from .rules import Body


class Fragment(NamedTuple):
    program: Program            # the step alone, on parameters of its operands' types
    params: tuple[int, ...]     # the program's value at each parameter
    results: tuple[int, ...]    # the program's values the step makes


def _uses(step: Step, local: int | None, out: list) -> None:
    """Program values a step uses, in first-use order (`local`: how many of a
    body step's operand indices are the body's own; None at the top)."""
    for slot in step.app.slots:
        if isinstance(slot, int):
            v = slot if local is None else slot - local
            if v >= 0 and v not in out:
                out.append(v)
    for body, chain in zip((b for b in step.app.slots if isinstance(b, Body)), step.bodies):
        for s in chain:
            _uses(s, len(chain_scope(body)) + 1, out)


def _remap(step: Step, new: dict, local: int | None) -> Step:
    slots = tuple(slot if not isinstance(slot, int) else new[slot] if local is None
                  else slot if slot < local else local + new[slot - local] for slot in step.app.slots)
    bodies = tuple(tuple(_remap(s, new, len(chain_scope(body)) + 1) for s in chain)
                   for body, chain in zip((b for b in step.app.slots if isinstance(b, Body)), step.bodies))
    return step._replace(app=step.app._replace(slots=slots), bodies=bodies)


def fragment(program: Program, k: int) -> Fragment:
    """Step k of `program` as a program of its own."""
    step, params = program.steps[k], []
    _uses(step, None, params)
    if not params:      # a program has parameters (`jnp.eye(3)` alone: on the first input, unread)
        params = [0]
    new = {v: i for i, v in enumerate(params)}
    alone = Program(tuple(program.types[v] for v in params), (_remap(step, new, None),))
    return Fragment(alone, tuple(params), tuple(program.values[k]))


def evaluation_order(program: Program, style: str) -> list[int] | None:
    """The steps in the order Python runs them when the program is printed in
    `style`: in order, but for `nested` a value written in place runs where
    it is used, its operands first, left to right. None where a value is
    written inside a sub-program (it runs where JAX traces the lambda)."""
    if style != "nested":
        return list(range(len(program.steps)))
    fn = program.tree.children[0]
    index = {program.name(v): v for v in range(len(program.types))}
    in_place = {index[name] for name in inlined(fn.children[3:-1], fn.children[-1])}
    step_of = {v: k for k, vs in enumerate(program.values) for v in vs}
    order: list[int] = []

    def run(k: int) -> bool:
        step = program.steps[k]
        within: list[int] = []
        for body, chain in zip((b for b in step.app.slots if isinstance(b, Body)), step.bodies):
            for s in chain:
                _uses(s, len(chain_scope(body)) + 1, within)
        if in_place.intersection(within):
            return False
        for slot in step.app.slots:
            if isinstance(slot, int) and slot in in_place and not run(step_of[slot]):
                return False
        order.append(k)
        return True

    for k, vs in enumerate(program.values):
        if vs.start not in in_place and not run(k):
            return None
    for v in program.outputs:
        if v in in_place and not run(step_of[v]):
            return None
    return order
