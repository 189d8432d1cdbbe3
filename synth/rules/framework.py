"""The framework of type rules and their registry.

A rule declares its operands by domain (`Operand`: a dtype domain and a rank
range) and is a type transfer: given one type per operand (and the pools of
attribute values), it yields every (attributes, result type) it allows, or
nothing. The framework (`Rule.apps`) loops over the values in scope that fit
the declared domains and turns each transfer into an application (`App`):
which values fill the operand slots, the attribute tokens, the sub-programs
(`Body`) that fill lambda or body slots, and the result type (a tuple of
types for an operation with several results: `a, b = lax.top_k(x, 2)`).
Sampling picks among the applications, enumeration visits all of them in the
order they come (operands in scope order, then the transfer's order), so a
transfer yields in a deterministic order.

Rules know nothing about the grammar: an annotation `//@ unary(float)` names
the rule and its arguments, and the loader checks the alternative's shape
(`Rule.slots`, `Rule.attrs`) against the rule's declaration here. A rule
declared `within="mesh"` applies only inside a sub-program that runs over a
device mesh (`Body.context`); its transfer gets the mesh size.
"""
from __future__ import annotations

import itertools
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple, Union

from ..types import MAX_RANK, Type
from .dtypes import DOMAINS


class Body(NamedTuple):
    """A typed sub-program: parameters (name, type) -> result type.

    Its chain starts from parameter `start` (default: the last one of the
    result type) and must read the parameters named in `needs` (a carry that
    nothing else reads would be dropped by JAX). Parameters named `c[0]`,
    `c[1]` are components of a tuple carry, referred to by the grammar's
    `carry` rule rather than by a name. `context` is what the sub-program
    runs within, as (key, value) pairs: ("mesh", n) inside a `shard_map` over
    n devices, ("diff", True) under reverse-mode differentiation, ("batched",
    True) under vmap, ("closed", True) where it may not capture the
    enclosing program's values; nested sub-programs inherit it."""
    params: tuple[tuple[str, Type], ...]
    result: Type
    start: int = -1
    needs: tuple[str, ...] = ()
    context: tuple[tuple[str, object], ...] = ()


class App(NamedTuple):
    """One well-typed use of a rule: slot fillers in slot order (an int is
    the index of an operand value in scope, a Body a sub-program), attribute
    tokens in order, the result type, and the further results of an
    operation with several (`more`)."""
    slots: tuple[Union[int, Body], ...]
    attrs: tuple[str, ...]
    result: Type
    more: tuple[Type, ...] = ()

    @property
    def results(self) -> tuple[Type, ...]:
        return (self.result,) + self.more

    def placed(self, values) -> App:
        """This application of `Rule.transfer` (operand slots hold positions
        0, 1, ...) with `values[k]` in the slot of operand k."""
        return App(tuple(values[s] if isinstance(s, int) else s for s in self.slots), self.attrs, self.result, self.more)


ARG = "ARG"        # an operand domain that is the annotation's argument: `unary(float)`


class Operand(NamedTuple):
    """What an operand slot accepts: a dtype domain (a key of `dtypes.DOMAINS`,
    or ARG) and a range of ranks."""
    domain: str = "any"
    min_rank: int = 0
    max_rank: int = MAX_RANK


def arg(min_rank=0, max_rank=MAX_RANK) -> Operand:
    return Operand(ARG, min_rank, max_rank)


ANY = Operand()


class Rule(NamedTuple):
    name: str
    fn: Callable[..., Iterator]
    slots: str                 # one letter per slot: e = operand, l = lambda, b = sub-program in an expression slot
    attrs: int                 # number of attribute terminals
    args: tuple[str, ...]      # names of annotation arguments
    needs: tuple[Type, ...]    # operand types worth producing when absent
    operands: tuple[Operand, ...]
    within: str | None         # a context key the rule needs ("mesh")
    outside: str | None        # a context key the rule must not be within (no mesh inside a mesh)
    scope: bool                # the transfer also sees the types in scope (creation ops shaped like them)

    @property
    def has_bodies(self) -> bool:
        """Yields Body slots (sub-programs nest one level deeper)."""
        return "l" in self.slots or "b" in self.slots

    def domains(self, args=()) -> tuple[tuple[frozenset, int, int], ...]:
        """(dtypes, least rank, greatest rank) each operand accepts, with these
        annotation arguments (`fits`)."""
        return _domains(self, args)

    def fitting(self, ts, args=()) -> list[list[int]]:
        """For each operand, the indices of the types in `ts` that fit its domain."""
        return [[i for i, t in enumerate(ts) if fits(domain, t)] for domain in self.domains(args)]

    def transfer(self, operands: tuple[Type, ...], pools, args=(), context=(), scope=()) -> Iterator[App]:
        """What the transfer gives for one operand of each of these types, as
        applications whose operand slots hold the operand's position (0, 1,
        ...: `App.placed` puts values there); nothing outside the rule's
        context. `scope`: the types in scope, for a rule that sees them."""
        extra, ctx = {}, dict(context)
        if self.outside in ctx:
            return
        if self.within is not None:
            if self.within not in ctx:
                return
            extra[self.within] = ctx[self.within]
        if self.scope:
            extra["scope"] = scope
        positions = tuple(range(len(operands)))     # the slots of an application without sub-programs
        for out in self.fn(*operands, pools, *args, **extra):
            attrs, result, bodies = out if len(out) == 3 else (*out, ())
            more = ()
            if isinstance(result, tuple) and not isinstance(result, Type):
                result, *more = result
            if result.dtype not in pools.dtypes or more and any(t.dtype not in pools.dtypes for t in more):
                continue            # a dtype the grammar cannot write (complex in a real-only grammar)
            slots = positions
            if bodies:
                operand, subs = iter(positions), iter(bodies)
                slots = tuple(next(operand) if k == "e" else next(subs) for k in self.slots)
            yield App(slots, tuple(attrs), result, tuple(more))

    def apps(self, ts, pools, args=(), context=()) -> Iterator[App]:
        """Every application to values of types `ts`: the transfer over every
        choice of operands in scope that fit their domains (in scope order)."""
        for chosen in itertools.product(*self.fitting(ts, args)):
            for app in self.transfer(tuple(ts[i] for i in chosen), pools, args, context, ts):
                yield app.placed(chosen)


def fits(domain, t: Type) -> bool:
    """Whether an operand of this domain (`Rule.domains`) may have type t."""
    dtypes, lo, hi = domain
    return t.dtype in dtypes and lo <= len(t.shape) <= hi


@lru_cache(maxsize=None)
def _domains(rule: Rule, args) -> tuple[tuple[frozenset, int, int], ...]:
    """`Rule.domains`, memoised: looked up for every scope."""
    named = dict(zip(rule.args, args))
    return tuple((DOMAINS[named["domain"] if op.domain == ARG else op.domain], op.min_rank, op.max_rank)
                 for op in rule.operands)


REGISTRY: dict[str, Rule] = {}


def rule(*operands: Operand, slots: str | None = None, attrs: int = 0, args: tuple[str, ...] = (),
         needs: tuple[Type, ...] = (), within: str | None = None, outside: str | None = None,
         scope: bool = False, name: str | None = None):
    """Register a type transfer over these operands, by its function's name
    unless `name` is given (rules a factory makes). `slots` (default: one
    `e` per operand) places operands and sub-programs in the alternative's
    order; an annotation argument `domain` is the domain of ARG operands."""
    def register(fn):
        key = name or fn.__name__
        kinds = slots if slots is not None else "e" * len(operands)
        assert kinds.count("e") == len(operands), key
        assert key not in REGISTRY, key
        REGISTRY[key] = Rule(key, fn, kinds, attrs, args, needs, tuple(operands), within, outside, scope)
        return fn
    return register
