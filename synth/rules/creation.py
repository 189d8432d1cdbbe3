"""Type transfers of operations that create values: ranges, constants and
random numbers, shaped like values in scope so they combine with them."""
from __future__ import annotations

from ..types import DTYPES, MAX_SIZE, Type
from .dtypes import FLOAT, INDEX, SCALAR_INT
from .framework import Operand, rule
from .syntax import literal

IMPLS = ("threefry2x32", "rbg")        # jax.random's key implementations (`impl=`) the programs use


@rule(attrs=2)
def arange(pools):
    for n in pools.dims:
        if 1 < n <= MAX_SIZE:      # a pool not checked by `types.check_dims`
            for d in (FLOAT, INDEX):
                yield (str(n), DTYPES[d].spelling), Type(d, (n,))


def _shapes(scope):
    """The shapes of the values in scope, in a fixed order."""
    return sorted({t.shape for t in scope})


@rule(attrs=2, scope=True)
def full(pools, scope):
    """Constants shaped like a value in scope, so they combine with it."""
    for shape in _shapes(scope):
        for c in pools.floats:
            yield (literal(shape), c), Type(FLOAT, shape)


@rule(attrs=3, scope=True, outside="batched")
def rng_uniform(pools, scope):
    """`lax.rng_uniform(lo, hi, shape)`: random, shaped like a value in scope."""
    for shape in _shapes(scope):
        for lo, hi in pools.bounds()[:1]:
            yield (lo, hi, literal(shape)), Type(FLOAT, shape)


@rule(Operand("seed", 0, 0), attrs=2, args=("dtype",), scope=True, needs=(SCALAR_INT,))
def random(seed, pools, dtype, scope):
    """`jax.random.*(jax.random.key(seed, impl=...), shape)` with a seed from
    the program, shaped like a value in scope."""
    for impl in IMPLS:
        for shape in _shapes(scope):
            yield (literal(impl), literal(shape)), Type(dtype, shape)
