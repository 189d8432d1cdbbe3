"""Independent listings of programs by plain recursion over the expansion space,
the oracle that enumeration counts and hash tests are checked against.

Sub-programs are non-empty chains that may capture the enclosing program's
values; an alternative marked `distinct` never has all its sub-programs the
same; a chain reads the parameters its body needs. Imported by the tests as
`brute` (pytest puts this folder on sys.path)."""
from jaxsynth.synth.program import Program, Step, chain_scope
from jaxsynth.synth.rules import Body


def chains(space, body, outer, depth, k):
    """Every chain of k operations (sub-program operations included) for a body."""
    if k == 0:
        yield ()
        return
    for alt in space.alts:
        for app in space.body_apps(alt, body, depth, outer):
            for s in range(k):
                for step in with_bodies(space, alt, app, outer, depth + 1, s):
                    for rest in chains(space, body, outer, depth, k - 1 - s):
                        yield (step,) + rest


def fill(space, bodies, outer, depth, s):
    """Every way to fill these sub-programs with non-empty chains of s operations in all."""
    if not bodies:
        if s == 0:
            yield ()
        return
    for k in range(1, s + 1):
        for c in chains(space, bodies[0], outer, depth, k):
            for rest in fill(space, bodies[1:], outer, depth, s - k):
                yield (c,) + rest


def with_bodies(space, alt, app, outer, depth, s):
    """The step of this application for every filling of its sub-programs with s operations."""
    bodies = [b for b in app.slots if isinstance(b, Body)]
    for chosen in fill(space, bodies, outer, depth, s):
        if alt.distinct and len(chosen) > 1 and len(set(chosen)) == 1:
            continue        # all branches the same
        if all(reads_params(b, c) >= set(b.needs) for b, c in zip(bodies, chosen)):
            yield Step(alt, app, chosen)


def reads_params(body, chain):
    """Names of the body's parameters that the chain's steps read."""
    scope = [name for name, _ in chain_scope(body)]
    return {scope[j] for s in chain if s.alt.reads for j in s.app.slots if isinstance(j, int) and j < len(scope)}


def top_steps(space, types, size):
    """Every top-level step of `size` operations (its own and its sub-programs')."""
    for alt in space.alts:
        for app in space.apps(alt, types):
            yield from with_bodies(space, alt, app, types, 1, size - 1)


def programs(space, inputs, size):
    """Every program of this size that reads all its inputs."""
    def extend(steps, types, left):
        if left == 0:
            p = Program(inputs, steps)
            if all(i not in p.outputs for i in range(len(inputs))):
                yield p
            return
        for s in range(1, left + 1):
            for step in top_steps(space, types, s):
                yield from extend(steps + (step,), types + step.app.results, left - s)

    return list(extend((), tuple(inputs), size))
