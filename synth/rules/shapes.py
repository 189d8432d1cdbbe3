"""Shape arithmetic the transfers share: broadcasting, an axis dropped or
replaced, and the bounds every value a rule makes stays within."""
from __future__ import annotations

import math

from ..types import MAX_RANK, MAX_SIZE


def broadcast(*shapes) -> tuple[int, ...] | None:
    """NumPy broadcasting of shapes (dims >= 1), or None (hot: no numpy call)."""
    n = max(map(len, shapes))
    out = []
    for dims in zip(*[(1,) * (n - len(s)) + s for s in shapes]):
        d = max(dims)
        if any(x != 1 and x != d for x in dims):
            return None
        out.append(d)
    return tuple(out)


def without(shape, axis):
    return shape[:axis] + shape[axis + 1:]


def replaced(shape, axis, d):
    """The shape with `d` on the axis."""
    return shape[:axis] + (d,) + shape[axis + 1:]


def creatable(shape, pools) -> bool:
    """Within the pools' size of created values (and the bounds of `types`)."""
    return len(shape) <= MAX_RANK and math.prod(shape) <= min(pools.max_size, MAX_SIZE)


def bounded(shape) -> bool:
    """Within the bounds of `types` (for results that are not held to
    `max_size`, as a broadcast of values in scope): MAX_SIZE >= every dim."""
    return math.prod(shape) <= MAX_SIZE
