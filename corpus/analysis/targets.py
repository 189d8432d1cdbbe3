"""What `jaxsynth tune` aims at: a target op distribution, and how far a
corpus's op values are from it.

A target gives, for some ops, the value a corpus should have, in one of two
measures:
- `programs`: the share of programs that contain the op;
- `occurrences`: the share of all op occurrences that are the op.
A *full* target (`uniform` over the ops the grammar reaches, the real code
of `reference.py`, or another corpus) is a whole distribution: the measure's
values normalised to sum 1 over the ops of the universe, compared by
total-variation distance (TV). A *partial* target (a JSON file
`{"stablehlo.while": 0.5, ...}`) fixes the listed ops' own values (half the
programs contain a while loop) and leaves the others free; its distance is
the largest error over the listed ops (the TV between each op's wanted and
measured share).
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from ...lowering import universe
from ..run.files import CorpusError
from ..run.readers import read_records
from .coverage import tv
from .tally import Tally


@dataclass(frozen=True)
class Target:
    name: str
    values: dict            # op -> wanted value in the measure
    full: bool              # a whole distribution, or the listed ops' own values


def uniform_target(ops) -> Target:
    ops = sorted(ops)
    return Target("uniform", {o: 1 / len(ops) for o in ops}, True)


def file_target(path: Path, measure: str) -> Target:
    """A JSON object {op: value}: the share of programs containing the op, or
    of occurrences (see the module docstring)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    except ValueError as e:
        raise CorpusError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not data:
        raise CorpusError(f"{path}: expected a JSON object {{op: share}}")
    u = universe()
    for op, v in data.items():
        if op not in u:
            raise CorpusError(f"{path}: {op!r} is not a stablehlo or chlo op of this jaxlib")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise CorpusError(f"{path}: the share of {op!r} must be a number in [0, 1], got {v!r}")
    if measure == "occurrences" and sum(data.values()) > 1 + 1e-9:
        raise CorpusError(f"{path}: shares of occurrences add up to more than 1")
    return Target(str(path), {op: float(v) for op, v in sorted(data.items())}, False)


def corpus_target(path: Path, measure: str) -> Target:
    """The op distribution of another corpus (any format: only `ops` is read)."""
    values = Tally.of_records(read_records(path)).shares(measure)
    if not values:
        raise CorpusError(f"{path}: no stablehlo or chlo op in its records")
    return Target(str(path), values, True)


def realistic_target(measure: str) -> Target:
    # imported here: the real code imports JAX, which the other targets (and `--help`) need not wait for
    from .realistic import target_shares
    from .reference import REAL_CODE
    return Target(f"the real JAX code of corpus/analysis/reference.py ({len(REAL_CODE)} functions)",
                  target_shares(measure), True)


def normalised(values: dict) -> dict:
    """Values in a measure as a distribution (`Tally.shares` of a corpus)."""
    total = sum(values.values())
    return {o: v / total for o, v in values.items() if v > 0} if total > 0 else {}


def distance(target: Target, values: dict) -> float:
    """How far op values (`Tally.values`) are from the target: TV for a full
    one, the largest error over the listed ops for a partial one."""
    if target.full:
        return tv(normalised(values), target.values)
    return max(abs(values.get(o, 0.0) - v) for o, v in target.values.items())
