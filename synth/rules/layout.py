"""Type transfers of shape and layout operations: transposes, reshapes,
added and removed axes, broadcasts, joins, slices, padding, flips, rolls
and tiles."""
from __future__ import annotations

import itertools

from ..types import MAX_RANK, Type
from .framework import ANY, Operand, rule
from .shapes import bounded, creatable, replaced, without
from .syntax import literal


@rule(Operand("any", 2))
def transpose_all(x, pools):
    yield (), Type(x.dtype, x.shape[::-1])


@rule(Operand("any", 2), attrs=1)
def transpose(x, pools):
    for perm in itertools.permutations(range(x.rank)):
        if list(perm) != list(range(x.rank)) and list(perm) != list(range(x.rank))[::-1]:
            yield (literal(perm),), Type(x.dtype, tuple(x.shape[p] for p in perm))


def _factorings(size, dims, rank):
    """Shapes of `rank` dims from `dims` whose product is `size`."""
    if rank == 0:
        if size == 1:
            yield ()
        return
    for d in dims:
        if size % d == 0:
            for rest in _factorings(size // d, dims, rank - 1):
                yield (d,) + rest


@rule(ANY, attrs=1)
def reshape(x, pools):
    dims = sorted(set(pools.dims) | set(x.shape) | {x.size})
    seen = {x.shape}
    for rank in range(1, MAX_RANK + 1):
        for shape in _factorings(x.size, dims, rank):
            if shape not in seen:
                seen.add(shape)
                yield (literal(shape),), Type(x.dtype, shape)


@rule(Operand("any", 0, MAX_RANK - 1), attrs=1)
def expand_dims(x, pools):
    for ax in range(x.rank + 1):
        yield (str(ax),), Type(x.dtype, x.shape[:ax] + (1,) + x.shape[ax:])


@rule(ANY, attrs=1)
def squeeze(x, pools):
    for ax, d in enumerate(x.shape):
        if d == 1:
            yield (str(ax),), Type(x.dtype, without(x.shape, ax))


@rule(ANY, attrs=1)
def broadcast_to(x, pools):
    targets = []
    if x.rank < MAX_RANK:
        targets += [(d,) + x.shape for d in pools.dims if d > 1]
    targets += [replaced(x.shape, ax, d) for ax, one in enumerate(x.shape) if one == 1 for d in pools.dims if d > 1]
    for shape in targets:
        if creatable(shape, pools):
            yield (literal(shape),), Type(x.dtype, shape)


@rule(ANY, ANY, attrs=1)
def concatenate(a, b, pools):
    if a.dtype != b.dtype or a.rank != b.rank:
        return
    for ax in range(a.rank):
        if without(a.shape, ax) == without(b.shape, ax):
            shape = replaced(a.shape, ax, a.shape[ax] + b.shape[ax])
            if creatable(shape, pools):
                yield (str(ax),), Type(a.dtype, shape)


@rule(Operand("any", 0, MAX_RANK - 1), ANY)
def stack(a, b, pools):
    if a == b and bounded((2,) + a.shape):
        yield (), Type(a.dtype, (2,) + a.shape)


@rule(ANY, attrs=1)
def slice(x, pools):
    """Basic indexing on one axis: from 1, up to the last, or every other."""
    for ax, d in enumerate(x.shape):
        if d < 2:
            continue
        lead = ":, " * ax
        for text, n in (("1:", d - 1), (f":{d - 1}", d - 1), ("::2", (d + 1) // 2)):
            yield (f"[{lead}{text}]",), Type(x.dtype, replaced(x.shape, ax, n))


@rule(ANY, attrs=1)
def pad(x, pools):
    for ax in range(x.rank):
        for lo, hi in ((1, 1), (0, 2)):
            widths = [(0, 0)] * x.rank
            widths[ax] = (lo, hi)
            shape = replaced(x.shape, ax, x.shape[ax] + lo + hi)
            if creatable(shape, pools):
                yield (literal(tuple(widths)),), Type(x.dtype, shape)


@rule(Operand("any", 1, 1), Operand("any", 1, 1))
def pad_by_length(x, same, pools):
    """`jnp.pad(x, (0, x.shape[0]))`: zeros to twice the length (as before an
    FFT convolution); the second operand is x again (the `same` flag)."""
    if x == same and creatable((2 * x.shape[0],), pools):
        yield (), Type(x.dtype, (2 * x.shape[0],))


@rule(ANY, attrs=1)
def flip(x, pools):
    for ax in range(x.rank):
        yield (str(ax),), x


@rule(ANY, attrs=2)
def roll(x, pools):
    """Shifts that move something: not a multiple of the axis's length."""
    for ax in range(x.rank):
        for n in pools.small_ints:
            if n % x.shape[ax]:
                yield (str(n), str(ax)), x


@rule(ANY, attrs=1)
def tile(x, pools):
    for ax in range(x.rank):
        for n in pools.small_ints:
            reps = [1] * x.rank
            reps[ax] = n
            shape = replaced(x.shape, ax, x.shape[ax] * n)
            if creatable(shape, pools):
                yield (literal(tuple(reps)),), Type(x.dtype, shape)
