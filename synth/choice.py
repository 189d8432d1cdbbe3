"""Choosing by weight: the alternatives a space samples from, and weights
normalised so that any finite positive ones choose.

Weights are normalised where they are used for choosing (`normalised`):
any finite positive weights work, however large or small, and scaling them
all by one factor chooses the same.
"""
from __future__ import annotations

import bisect
import math
import random
from itertools import accumulate

from .grammar import Alt


def normalised(weights) -> list[float]:
    """Weights scaled by one power of two, the largest to [0.5, 1): their sums
    cannot overflow (weights of 1e308) and the total is positive (weights of
    1e-300). Scaling by a power of two is exact in floating point, and so are
    then the sums and `random() * total`: every choice is the one the weights
    as written make wherever those work (the packaged grammar's weights, say),
    and the same whatever factor scales them all (up to rounding of the
    scaled weights themselves, unless the factor is a power of two). Only a
    weight some 2**1000 times smaller than the largest loses precision or
    becomes 0: as good as never chosen either way."""
    if not weights:
        return []
    _, e = math.frexp(max(weights))
    return [math.ldexp(w, -e) for w in weights]


class Alternatives:
    """Alternatives to pick by weight: `alts` in grammar order with the
    cumulative normalised weights picking bisects (`cum`), and, for each
    context that some rules apply only within (`Rule.within`: a mesh), those
    alternatives with theirs (`within`, `within_cum`)."""

    def __init__(self, alts):
        self.alts = list(alts)
        self.cum = list(accumulate(normalised([a.weight for a in self.alts])))
        self.within, self.within_cum = {}, {}
        for a in self.alts:
            if a.rule.within:
                self.within.setdefault(a.rule.within, []).append(a)
        for key, alts in self.within.items():
            self.within_cum[key] = list(accumulate(normalised([a.weight for a in alts])))

    def pick(self, rng: random.Random, within: str | None = None) -> Alt:
        """An alternative by weight; `within`: among those of rules that apply only there."""
        alts, cum = (self.alts, self.cum) if within is None else (self.within[within], self.within_cum[within])
        # what rng.choices(alts, cum_weights=cum) draws (one random(), bisected), without
        # its checks: normalised weights have a positive, finite total
        return alts[bisect.bisect(cum, rng.random() * cum[-1], 0, len(alts) - 1)]
