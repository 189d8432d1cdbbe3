"""The pools attribute values and sampled shapes are drawn from, and the
named shape profiles (`--shapes`)."""
from __future__ import annotations

import itertools
from dataclasses import dataclass

from ..types import DTYPES


@dataclass(frozen=True)
class Pools:
    """Finite pools of the values attributes are drawn from, and of the shapes
    sampled signatures draw from (none: shapes of dims from `dims`); `dtypes`
    is every dtype a value may have (the grammar may allow fewer). Whatever the
    pools, no value exceeds the bounds of `types` (MAX_DIM, MAX_SIZE)."""
    dims: tuple[int, ...] = (1, 2, 3, 4, 8)
    floats: tuple[str, ...] = ("-1.0", "0.5", "2.0")
    small_ints: tuple[int, ...] = (2, 3)
    max_size: int = 4096       # largest number of elements of a created value
    shapes: tuple[tuple[int, ...], ...] = ()
    dtypes: tuple[str, ...] = tuple(DTYPES)
    devices: int = 4           # the mesh of shard_map sub-programs

    def bounds(self) -> list[tuple[str, str]]:
        """Pairs (lo, hi) of pool floats with lo < hi: a range to clip to or draw from."""
        return [(lo, hi) for lo, hi in itertools.combinations(self.floats, 2) if float(lo) < float(hi)]


def _realistic_shapes():
    batch, features = (1, 8, 32, 64), (16, 64, 128, 256, 512, 1024)
    return tuple(sorted(
        {(f,) for f in features} | {(b, f) for b in batch for f in features} | {(128, 128), (256, 1024)}
        | {(b, 128, f) for b in (1, 8) for f in (64, 128)}                       # sequences
        | {(b, 28, 28) for b in batch} | {(b, 32, 32, 3) for b in batch}))       # images


# named shape profiles (`--shapes`): tiny dims that enumerate well, and the
# shapes of real models (batch 1-64, features 16-1024, sequences, images)
SHAPES = {
    "tiny": Pools(),
    "realistic": Pools(dims=(1, 2, 3, 4, 8, 16, 28, 32, 64, 128, 256, 512, 1024), max_size=1 << 20,
                       shapes=_realistic_shapes()),
}
