"""The walk constraints: what a walk through the expansion space must keep
to be a program of the space, besides types, stated once.

Sampling (`sampling`), enumeration (`enumeration`, through the steps
`expansions` offers and its own counts) and the checker (`check.steps`,
`check`) all ask these; the checker says which one a tree breaks. The
brute-force oracle of the tests (`tests/brute.py`) states them again on
purpose, to be checked against.

- depth: sub-programs nest at most `Config.max_depth` deep (`too_deep`);
- contexts: a rule declared `within` a context applies only inside a
  sub-program that runs within it, one declared `outside` never there
  (`missing_context`, `excluded`: the rules' transfers keep these too), and
  a `nodiff` operation never runs where it is differentiated
  (`no_derivative`);
- operands: those of a `distinct` alternative are distinct values, those of
  a `same` one a single value (`distinct_values`, `one_value`);
- sub-programs: each chain is non-empty, its steps read the chain so far
  (`extends`), it reads the parameters its body needs (`unread_needs`), it
  captures nothing where its body is closed (`closed`), and the
  sub-programs of a `distinct` alternative are not all the same
  (`repeats`); `filled` is all of these for the chains of one step;
- inputs: every input is read by some step (`unread_inputs`).
"""
from __future__ import annotations

from .program import needed, reads


def too_deep(alt, depth: int, max_depth: int) -> bool:
    """Whether the alternative's sub-programs would nest deeper than allowed
    (top-level steps are at depth 0, their sub-programs' steps at 1)."""
    return depth >= max_depth and alt.has_bodies


def no_derivative(alt, context) -> bool:
    """Whether a `nodiff` alternative would run inside a differentiated sub-program."""
    return "nodiff" in alt.flags and bool(dict(context).get("diff"))


def missing_context(rule, context) -> bool:
    """Whether a rule that applies only within a context (a mesh) is outside it."""
    return rule.within is not None and rule.within not in dict(context)


def excluded(rule, context) -> bool:
    """Whether a rule runs within a context it must stay out of (a mesh in a mesh)."""
    return rule.outside is not None and rule.outside in dict(context)


def distinct_values(values) -> bool:
    """Operands a `distinct` alternative may have: no value twice (x - x is fixed by construction)."""
    return len(set(values)) == len(values)


def one_value(values) -> bool:
    """Operands a `same` alternative may have: one value in every slot."""
    return len(set(values)) == 1


def extends(alt) -> bool:
    """Whether the alternative can be a chain's step: a step reads the chain
    so far, and one that reads only shapes reads no value."""
    return alt.reads


def closed(body) -> bool:
    """Whether a sub-program sees only its parameters (captures nothing)."""
    return bool(dict(body.context).get("closed"))


def all_same(items) -> bool:
    """Two or more, all equal (one sub-program is not `all the same`)."""
    return len(items) > 1 and len(set(items)) == 1


def repeats(alt, chains) -> bool:
    """Whether a `distinct` alternative's sub-programs are all the same (the
    branches of a cond that does not depend on its predicate)."""
    return alt.distinct and all_same(chains)


def unread_needs(body, chain) -> set[int]:
    """Positions (`needed`) of the parameters the body needs that the chain
    does not read: a carry nothing reads would be dropped by JAX."""
    return needed(body) - {j for s in chain for j in reads(s)}


def filled(alt, bodies, chains) -> bool:
    """Whether chains fill an application's sub-programs: each non-empty,
    reading what its body needs, and not all the same if they must differ."""
    return all(chains) and not any(unread_needs(b, c) for b, c in zip(bodies, chains)) \
        and not repeats(alt, chains)


def unread_inputs(program) -> list[int]:
    """The inputs no step reads (a capture by a sub-program is a read): they
    would be returned unchanged."""
    return [i for i in program.outputs if i < len(program.inputs)]
