"""Type transfers of indexing by values of the program: gathers (take,
`x[idx]`), scatters (`x.at[idx].set(y)`) and dynamic slices."""
from __future__ import annotations

from ..types import DTYPES, Type
from .dtypes import SCALAR_INT
from .framework import Operand, arg, rule
from .shapes import creatable, replaced, without

SCALAR_INT_OPERAND = Operand("int", 0, 0)      # a start index


def _indexes(idx: Type, d: int) -> bool:
    """Whether idx's dtype holds an axis size d (JAX writes d in it to wrap
    negative indices: an int8 index cannot index an axis of 128)."""
    t = DTYPES[idx.dtype]
    return d <= (2 ** t.bits - 1 if t.kind == "uint" else 2 ** (t.bits - 1) - 1)


@rule(Operand("any", 1), Operand("int"), attrs=1)
def take(x, idx, pools):
    """`jnp.take(x, idx, axis)`: idx's shape in place of the axis."""
    for ax in range(x.rank):
        shape = x.shape[:ax] + idx.shape + x.shape[ax + 1:]
        if creatable(shape, pools) and _indexes(idx, x.shape[ax]):
            yield (str(ax),), Type(x.dtype, shape)


@rule(Operand("any", 1), Operand("int", 1))
def index(x, idx, pools):
    """`x[idx]` with an integer array: idx's shape in place of the first axis."""
    shape = idx.shape + x.shape[1:]
    if creatable(shape, pools) and _indexes(idx, x.shape[0]):
        yield (), Type(x.dtype, shape)


@rule(Operand("any", 1), Operand("int", 1), attrs=1)
def take_along(x, idx, pools):
    """`jnp.take_along_axis`: indices of x's rank, equal to it but on the axis."""
    if idx.rank == x.rank:
        for ax in range(x.rank):
            if without(idx.shape, ax) == without(x.shape, ax) and _indexes(idx, x.shape[ax]):
                yield (str(ax),), Type(x.dtype, idx.shape)


@rule(arg(1), Operand("int", 1, 1), arg(), args=("domain",))
def scatter(x, idx, y, pools, domain):
    """`x.at[idx].set(y)` (add, ...): y a scalar or one row of x per index."""
    if y.dtype == x.dtype and (y.rank == 0 or y.shape == idx.shape + x.shape[1:]) and _indexes(idx, x.shape[0]):
        yield (), x


@rule(Operand("any", 1), SCALAR_INT_OPERAND, attrs=2, needs=(SCALAR_INT,))
def dynamic_slice(x, start, pools):
    """`lax.dynamic_slice_in_dim(x, start, size, axis)`: the start from the program."""
    for ax, d in enumerate(x.shape):
        for n in pools.small_ints:
            if n < d and _indexes(start, d):
                yield (str(n), str(ax)), Type(x.dtype, replaced(x.shape, ax, n))


@rule(Operand("any", 1), Operand("any", 1), SCALAR_INT_OPERAND, attrs=1, needs=(SCALAR_INT,))
def dynamic_update(x, update, start, pools):
    """`lax.dynamic_update_slice_in_dim(x, update, start, axis)`: update as
    x but shorter on the axis (as long, the result would be the update)."""
    if update.dtype == x.dtype and update.rank == x.rank:
        for ax in range(x.rank):
            if without(update.shape, ax) == without(x.shape, ax) and update.shape[ax] < x.shape[ax] \
                    and _indexes(start, x.shape[ax]):
                yield (str(ax),), x
