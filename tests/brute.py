"""Independent listings of programs by plain recursion over the expansion space,
the oracle that enumeration counts and hash tests are checked against.

Imported by the tests as `brute` (pytest puts this folder on sys.path)."""
from jaxsynth.synth.program import Program, Step
from jaxsynth.synth.rules import Body


def chains(space, body, depth, k):
    """Every chain of k operations (sub-program operations included) for a body."""
    if k == 0:
        yield ()
        return
    for alt in space.alts:
        for app in space.body_apps(alt, body, depth):
            inner = [b for b in app.slots if isinstance(b, Body)]
            for s in range(k):
                for bodies in fill(space, inner, depth + 1, s):
                    for rest in chains(space, body, depth, k - 1 - s):
                        yield (Step(alt, app, bodies),) + rest


def fill(space, bodies, depth, s):
    """Every way to fill these sub-programs with s operations in all."""
    if not bodies:
        if s == 0:
            yield ()
        return
    for k in range(s + 1):
        for c in chains(space, bodies[0], depth, k):
            for rest in fill(space, bodies[1:], depth, s - k):
                yield (c,) + rest


def top_steps(space, types, size):
    """Every top-level step of `size` operations (its own and its sub-programs')."""
    for alt in space.alts:
        for app in space.apps(alt, types):
            inner = [b for b in app.slots if isinstance(b, Body)]
            for bodies in fill(space, inner, 1, size - 1):
                yield Step(alt, app, bodies)


def programs(space, inputs, size):
    """Every program of this size that uses all its inputs."""
    def extend(steps, types, left):
        if left == 0:
            p = Program(inputs, steps)
            if all(i not in p.outputs for i in range(len(inputs))):
                yield p
            return
        for s in range(1, left + 1):
            for step in top_steps(space, types, s):
                yield from extend(steps + (step,), types + (step.app.result,), left - s)

    return list(extend((), tuple(inputs), size))
