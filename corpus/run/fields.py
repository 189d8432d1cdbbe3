"""A record's fields, said once: the order a record is written in, how
each field is made of a lowered program, the check a reader holds it to
(`schema`), and its type as a dataset feature (the card, Parquet). Adding a
record field is one row of `FIELDS`.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

from . import checks

# feature types, as Hugging Face `datasets` spells them: a list is `[type]`, an object `{name: type}`
STRING, INT, BOOL = "string", "int64", "bool"


@dataclass(frozen=True)
class Made:
    """What a record is made of."""
    program: object         # synth.program.Program
    source: str
    lowered: object         # lowering.Lowered
    origin: dict            # id, and seed and index where the run has them
    how: dict               # platform, symbolic
    attributed: list


@dataclass(frozen=True)
class Field:
    name: str
    feature: object
    make: Callable[[Made], object] | None      # None: taken from the origin, where it has the field
    check: Callable[[object], str | None] | None = None     # None: no reader relies on it
    optional: bool = False                     # older corpora lack it (lowering: format 3, attribution: 4)


FIELDS = (
    Field("id", STRING, lambda m: m.origin["id"], lambda v: checks.text(v, 200)),
    Field("python", STRING, lambda m: m.source, checks.text),
    Field("inputs", [STRING], lambda m: [str(t) for t in m.program.inputs], checks.types),
    Field("outputs", [STRING], lambda m: [str(t) for t in m.program.output_types], checks.types),
    Field("lowering", {"platform": STRING, "symbolic": BOOL, "shapes": STRING},
          lambda m: {**m.how, "shapes": m.lowered.symbolic or "static"}, checks.lowering, optional=True),
    Field("stablehlo", STRING, lambda m: m.lowered.text, checks.text),
    Field("ops", [{"op": STRING, "count": INT}],
          lambda m: [{"op": k, "count": v} for k, v in m.lowered.ops.items()], checks.ops),
    Field("attribution", [{"alternative": STRING, "op": STRING, "count": INT}], lambda m: m.attributed,
          checks.attribution, optional=True),
    Field("alternatives", [STRING], lambda m: m.program.alternatives, checks.names),
    Field("size", INT, lambda m: m.program.size, lambda v: checks.count(v, 1)),
    Field("depth", INT, lambda m: m.program.depth, checks.count),
    Field("seed", INT, None),
    Field("index", INT, None),
    Field("hash", STRING, lambda m: m.program.structural_hash, checks.structural_hash),
)


def multiset(record: dict) -> tuple:
    """A record's ops as a hashable ((op, count), ...), in the record's order."""
    return tuple((o["op"], o["count"]) for o in record["ops"])


def record(made: Made) -> dict:
    """The record of a lowered program, its fields in table order."""
    return {f.name: f.make(made) if f.make else made.origin[f.name]
            for f in FIELDS if f.make or f.name in made.origin}


FEATURES = {f.name: f.feature for f in FIELDS}      # every field a record may carry, in record order
