"""Type transfers of reductions and other functions along an axis (sums,
arg-reductions, scans along it, sorting, top_k). Most differ only in the
result's dtype and shape, so factories build them from a dtype rule and a
shape rule, as JAX's `standard_primitive` does."""
from __future__ import annotations

from ..types import Type
from .dtypes import INDEX, fixed, own, widened
from .framework import arg, rule
from .shapes import replaced, without
from .syntax import literal


def _unchanged(shape, axis):
    return shape


def keepdims(name, dtype=own):
    """Register rule `name`: a reduction along an axis that drops it, or
    keeps it with length 1 (`keepdims=True`); result dtype `dtype` of x's."""
    @rule(arg(1), attrs=2, args=("domain",), name=name)
    def transfer(x, pools, domain):
        for ax in range(x.rank):
            yield (str(ax), literal(False)), Type(dtype(x.dtype), without(x.shape, ax))
            yield (str(ax), literal(True)), Type(dtype(x.dtype), replaced(x.shape, ax, 1))
    return transfer


def along(name, dtype=own, shape=without):
    """Register rule `name`: a function along one axis, with the result
    shape `shape(x.shape, axis)` (default: the axis dropped) and dtype
    `dtype` of x's."""
    @rule(arg(1), attrs=1, args=("domain",), name=name)
    def transfer(x, pools, domain):
        for ax in range(x.rank):
            yield (str(ax),), Type(dtype(x.dtype), shape(x.shape, ax))
    return transfer


def whole(name, dtype=own):
    """Register rule `name`: a reduction of every element to a scalar of
    dtype `dtype` of x's."""
    @rule(arg(1), args=("domain",), name=name)
    def transfer(x, pools, domain):
        yield (), Type(dtype(x.dtype), ())
    return transfer


keepdims("reduce")
keepdims("accumulate", widened)              # a sum or product along an axis
whole("reduce_all")
whole("accumulate_all", widened)
whole("arg_reduce_all", fixed(INDEX))
along("reduce_nokeep")
along("along_axis", shape=_unchanged)
along("arg_reduce", fixed(INDEX))
along("arg_along_axis", fixed(INDEX), _unchanged)


@rule(arg(1), attrs=1, args=("domain",))
def top_k(x, pools, domain):
    """The k largest along the last axis, and their indices."""
    for k in pools.small_ints:
        if k <= x.shape[-1]:
            shape = replaced(x.shape, x.rank - 1, k)
            yield (str(k),), (Type(x.dtype, shape), Type(INDEX, shape))


@rule(arg(1), arg(1), attrs=1, args=("domain",))
def sort_pair(keys, values, pools, domain):
    """Sort two arrays of one shape along an axis by the first."""
    if keys.shape == values.shape:
        for ax in range(keys.rank):
            yield (str(ax),), (keys, values)
