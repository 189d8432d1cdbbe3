"""Sampled signatures: the input types a sampled program is made for.

Signatures stay within the bounds of `types` (MAX_DIM, MAX_SIZE) whatever
the pools: a dimension that would take a shape beyond them is drawn among
the pool's dims that do not, a layer's weights beyond them are left out.
"""
from __future__ import annotations

import random

from .choice import normalised
from .types import DTYPES, MAX_RANK, Type, within_bounds

RANK_WEIGHTS = [1, 3, 4, 2, 1]     # of ranks 0, 1, ... of a shape drawn from the dims


class Signatures:
    """Signatures drawn from `pools` (its dtypes of positive weight, its
    profile shapes within the bounds, else its dims), 1..max_inputs inputs."""

    def __init__(self, pools, max_inputs: int):
        self.pools, self.max_inputs = pools, max_inputs
        self.dtypes = [d for d in pools.dtypes if DTYPES[d].weight > 0]
        self.dtype_weights = normalised([DTYPES[d].weight for d in self.dtypes])
        # profile shapes a signature may draw (all of them, unless beyond the bounds)
        self.shapes = tuple(s for s in pools.shapes if within_bounds(s))
        self.widths = [x[0] for x in self.shapes if len(x) == 1]

    def sample(self, rng: random.Random) -> tuple[Type, ...]:
        """1..max_inputs inputs; later ones often share the first one's shape,
        a suffix of it (broadcasting), or are a layer's weights for it: a
        matrix whose first dim is its last (with profile shapes), a
        convolution kernel, a stack of expert matrices with group sizes."""
        first = Type(self._dtype(rng), self._shape(rng))
        sig = [first]
        widths = self.widths
        for _ in range(rng.randint(1, self.max_inputs) - 1):
            d = first.dtype if rng.random() < 0.6 else self._dtype(rng)
            r = rng.random()
            if r < 0.5:
                s = first.shape
            elif r < 0.75:
                s = first.shape[rng.randint(0, first.rank):]
            elif widths and first.rank and r < 0.85:
                s = (first.shape[-1], rng.choice([w for w in widths if within_bounds((first.shape[-1], w))] or [1]))
            elif first.rank >= 2 and r < 0.9:
                sig.extend(_weights(rng, first, self.pools))
                continue
            else:
                s = self._shape(rng)
            sig.append(Type(d, s))
        return tuple(sig[:max(self.max_inputs, 1)])

    def _dtype(self, rng) -> str:
        return rng.choices(self.dtypes, self.dtype_weights)[0]

    def _shape(self, rng) -> tuple[int, ...]:
        if self.shapes:
            return rng.choice(self.shapes)
        rank = rng.choices(range(MAX_RANK + 1), RANK_WEIGHTS[:MAX_RANK + 1])[0]
        out = ()
        for _ in range(rank):
            # every dim of the pool, unless it would take the shape beyond the bounds
            # (a pool of 100000 at rank 4): the same draws as ever for a pool that fits
            fit = [d for d in self.pools.dims if within_bounds(out + (d,))]
            if not fit:
                break
            out += (rng.choice(fit),)
        return out


def _weights(rng, x: Type, pools) -> list[Type]:
    """Parameters of a layer applied to x: for (N, C, spatial...) a kernel
    (O, C or 1, k...), for (m, k) expert matrices (g, k, n) and group sizes (g,);
    none if they would be beyond the bounds of `types`."""
    if x.rank >= 3:
        per_group = rng.choice((x.shape[1], 1))
        out = x.shape[1] * rng.choice((1, 2)) if per_group == 1 else rng.choice(pools.dims)
        kernel = tuple(rng.choice([k for k in (1, 2, 3) if k <= d] or [1]) for d in x.shape[2:])
        layer = [Type(x.dtype, (out, per_group) + kernel)]
    else:
        g = rng.choice([d for d in pools.dims if d > 1] or [2])
        layer = [Type(x.dtype, (g, x.shape[1], rng.choice(pools.dims))), Type("i32", (g,))]
    return layer if all(within_bounds(t.shape) for t in layer) else []
