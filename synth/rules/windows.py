"""Type transfers of sliding windows: pooling (`lax.reduce_window`), its
gradient, and convolutions, with JAX's padding modes declared once."""
from __future__ import annotations

from ..types import Type
from .framework import Operand, arg, rule
from .shapes import bounded
from .syntax import literal

SAME, VALID = "SAME", "VALID"
# the length a window of k with stride s gives over a length d, by padding
# mode: SAME pads so that every stride starts a window, VALID keeps windows
# inside (a length < 1: none fits)
LENGTH = {
    SAME: lambda d, k, s: -(-d // s),
    VALID: lambda d, k, s: (d - k) // s + 1,
}


def _windows(x):
    """(window, strides, padding, result shape) over x's last one or two axes."""
    axes = range(max(0, x.rank - 2), x.rank)
    for k, s, padding in ((2, 1, SAME), (2, 2, VALID), (3, 1, SAME), (3, 2, VALID)):
        window = tuple(k if a in axes else 1 for a in range(x.rank))
        strides = tuple(s if a in axes else 1 for a in range(x.rank))
        shape = tuple(LENGTH[padding](d, w, st) for d, w, st in zip(x.shape, window, strides))
        if min(shape) >= 1:
            yield literal(window), literal(strides), literal(padding), Type(x.dtype, shape)


def pooling(name, result):
    """Register rule `name`: a function of windows over the last one or two
    axes, with the result `result(x, pooled)` (pooled: the pooling's type)."""
    @rule(arg(1), attrs=3, args=("domain",), name=name)
    def transfer(x, pools, domain):
        for w, s, padding, pooled in _windows(x):
            yield (w, s, padding), result(x, pooled)
    return transfer


pooling("window", lambda x, pooled: pooled)         # max or sum pooling
pooling("window_grad", lambda x, pooled: x)         # a pooling's gradient with respect to its input


@rule(Operand("float", 3, 4), Operand("float", 3, 4), attrs=3)
def conv(lhs, rhs, pools):
    """`lax.conv_general_dilated`, NC... inputs and OI... kernels: strides,
    padding and feature groups; C = I * groups, groups divide O."""
    if lhs.dtype != rhs.dtype or lhs.rank != rhs.rank:
        return
    channels, (out, per_group), spatial, kernel = lhs.shape[1], rhs.shape[:2], lhs.shape[2:], rhs.shape[2:]
    if channels % per_group:
        return
    groups = channels // per_group
    if out % groups:
        return
    for s, padding in ((1, SAME), (1, VALID), (2, SAME)):
        dims = tuple(LENGTH[padding](d, k, s) for d, k in zip(spatial, kernel))
        if min(dims) < 1 or not bounded((lhs.shape[0], out) + dims):
            continue
        yield (literal((s,) * len(spatial)), literal(padding), str(groups)), Type(lhs.dtype, (lhs.shape[0], out) + dims)
