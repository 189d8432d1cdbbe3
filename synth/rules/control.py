"""Type transfers of control flow and of transformations of sub-programs
(`Body`): branches, loops, scans, vmap, composites, differentiation and
shard_map, which opens the mesh the collectives run within."""
from __future__ import annotations

from ..skeleton import CARRY_NAMES, CARRY_TUPLE
from ..types import Type
from .dtypes import BOOL, INDEX, SCALAR_BOOL, SCALAR_INT
from .framework import ANY, Body, Operand, rule


def branches(name, selector: Operand, needs: Type, n: int):
    """Register rule `name`: one of `n` sub-programs of x's type, chosen by
    a scalar of the `selector` domain (`needs`: the type worth producing)."""
    @rule(selector, ANY, slots="e" + "l" * n + "e", needs=(needs,), name=name)
    def transfer(k, x, pools):
        body = Body((("a", x),), x)
        yield (), x, (body,) * n
    return transfer


branches("cond", Operand(BOOL, 0, 0), SCALAR_BOOL, 2)
branches("switch", Operand(INDEX, 0, 0), SCALAR_INT, 3)


@rule(ANY, slots="le", attrs=1)
def fori_loop(x, pools):
    for n in pools.small_ints:
        yield (str(n),), x, (Body((("i", SCALAR_INT), ("c", x)), x),)


@rule(ANY, ANY, slots="bbee", attrs=3)
def fori_pair(a, b, pools):
    """A fori loop over a pair carry (c[0], c[1]) that returns c[0]; c[0]'s
    chain reads c[1], whose chain may read c[0]. Attributes: the trip count
    and the lambda's parameter names."""
    first, second = CARRY_NAMES
    params = (("i", SCALAR_INT), (first, a), (second, b))
    for n in pools.small_ints:
        yield (str(n), "i", CARRY_TUPLE), a, (Body(params, a, 1, (second,)), Body(params, b, 2))


@rule(ANY, slots="be", attrs=1)
def while_loop(x, pools):
    for n in pools.small_ints:
        yield (str(n),), x, (Body(((CARRY_NAMES[1], x),), x),)


@rule(ANY, Operand("any", 1), slots="bbee", attrs=2)
def scan(init, xs, pools):
    """`lax.scan` over xs's first axis: a carry of init's type whose chain
    reads the element, and per element an output of the element's type;
    results: the final carry and the stacked outputs (xs's type)."""
    params = (("c", init), ("a", Type(xs.dtype, xs.shape[1:])))
    yield ("c", "a"), (init, xs), (Body(params, init, 0, ("a",)), Body(params, params[1][1], 1))


@rule(Operand("any", 1), slots="le")
def vmap(x, pools):
    """`jax.vmap` of a sub-program over x's first axis."""
    row = Type(x.dtype, x.shape[1:])
    yield (), x, (Body((("a", row),), row, context=(("batched", True),)),)


@rule(ANY, slots="le", outside="batched")
def composite(x, pools):
    """`lax.composite`: a named sub-program kept whole in the IR; it may not
    capture values (its decomposition is traced on its own)."""
    yield (), x, (Body((("a", x),), x, context=(("closed", True),)),)


@rule(Operand("float"), slots="be", attrs=1)
def value_and_grad(x, pools):
    """`jax.value_and_grad` of the sum of a sub-program, at x: the sum and
    x's gradient. (`jax.grad` alone would let JAX drop forward operations
    whose values the gradient does not need, `sin` under `cos`.)"""
    yield ("a",), (Type(x.dtype, ()), x), (Body((("a", x),), x, context=(("diff", True),)),)


@rule(Operand("any", 1), slots="le", attrs=1, outside="mesh")
def shard_map(x, pools):
    """`jax.shard_map` over a mesh of `pools.devices` devices (axis "i"; one
    device set per program, as jit requires): each runs the sub-program on
    its block of x's first axis."""
    n = pools.devices
    if x.shape[0] % n == 0:
        block = Type(x.dtype, (x.shape[0] // n,) + x.shape[1:])
        yield (str(n),), x, (Body((("a", block),), block, context=(("mesh", n),)),)
