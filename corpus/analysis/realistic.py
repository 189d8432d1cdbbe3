"""The StableHLO op distribution of real-world JAX (`reference.REAL_CODE`).

`ops_of_real_code(platform)` lowers each with `lowering.lower` and returns
record-like dicts; `target_shares(measure)` is their op distribution over the
universe (`lowering.universe()`), the reference a "realistic" weight profile
is fitted to. It is made by a `tally.Tally`, as a sampled corpus's is, in
either of `tally.MEASURES`:

- `programs`: for each op, the number of functions containing it,
  normalised to sum 1 over ops;
- `occurrences`: each op's share of all op occurrences.

`jaxsynth reference` prints the op table.
"""
from __future__ import annotations

from functools import lru_cache

from ...lowering import LoweringError, lower, universe
from ...synth.types import parse_signature
from .reference import REAL_CODE
from .tally import Tally


# ---------------------------------------------------------------- lowering and shares

def ops_of_real_code(platform: str = "cpu") -> list[dict]:
    """Every function of REAL_CODE lowered for `platform`, in table order, as
    {"name", "inputs", "ops": [{"op", "count"}], "stablehlo"}."""
    return [{"name": name, "inputs": list(inputs), "ops": [{"op": o, "count": n} for o, n in ops], "stablehlo": text}
            for name, inputs, ops, text in _lowered(platform)]


@lru_cache(maxsize=None)
def _lowered(platform: str) -> tuple:
    """The lowerings, computed once per process and platform (immutable, so
    each caller gets its own dicts)."""
    out = []
    for fn, signature in REAL_CODE:
        types = parse_signature(signature)
        try:
            lowered = lower(fn, [t.spec() for t in types], platform)
        except LoweringError as e:
            raise LoweringError(f"{fn.__name__}: {e}") from e
        out.append((fn.__name__, tuple(map(str, types)), tuple(lowered.ops.items()), lowered.text))
    return tuple(out)


def target_shares(measure: str = "programs", platform: str = "cpu", records=None) -> dict[str, float]:
    """The op distribution of the real code in `measure` (see the module
    docstring), tallied as a sampled corpus's is, so the two compare;
    `records` defaults to `ops_of_real_code(platform)`."""
    return Tally.of_records(ops_of_real_code(platform) if records is None else records).shares(measure)


def format_table(records, measure: str = "programs") -> str:
    """The op table, by decreasing share: op, functions containing it, occurrences, share."""
    tally = Tally.of_records(records)
    share = tally.shares(measure)
    lines = [f"{len(records)} functions of real JAX code reach {len(share)} of the {len(universe())} "
             f"stablehlo/chlo ops; share by {measure}", "",
             f"{'op':<36} {'programs':>9} {'occurrences':>12} {'share':>8}"]
    lines += [f"{o['op']:<36} {o['programs']:>9} {o['count']:>12} {100 * share[o['op']]:>7.2f}%"
              for o in sorted(tally.rows(), key=lambda o: (-share[o["op"]], o["op"]))]
    if tally.outside():
        lines += ["", "outside the universe: " + " ".join(tally.outside())]
    return "\n".join(lines)
