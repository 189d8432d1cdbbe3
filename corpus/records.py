"""Corpus records: one JSON object per line in `records-NNNNN.jsonl` shards,
with a `manifest.json` beside them (see `pipeline`).

Each record pairs a program's Python with its StableHLO and says how it was
lowered (`"lowering": {"platform": "tpu", "symbolic": false, "shapes":
"static"}`: a symbolic run's `shapes` says which way of `lowering.SYMBOLIC`
it took), so that `lowering.lower(f, inputs, platform, symbolic)` gives its
text again (after `lowering.fake_devices()`, for programs with a mesh). Field
order is fixed and every field has one type across records (op counts are a
list of {op, count} objects, not a dict with varying keys), so pandas, duckdb
and `datasets` read the file as it is.
"""
from __future__ import annotations

import json
import platform as _platform
from pathlib import Path

from ..lowering import SYMBOLIC, LoweringError, load_function, lower_batch
from ..synth.printer import to_source
from ..synth.program import Program
from ..synth.grammar import Grammar

MANIFEST = "manifest.json"


class CorpusError(ValueError):
    """A corpus directory that cannot be read or written as asked."""


BATCH = 50      # programs lowered together in one module


def make_records(items, grammar: Grammar, style: str, batch: int = BATCH, platform: str = "cpu",
                 symbolic: bool = False):
    """[(origin fields, program)] -> (program, record or LoweringError) for each,
    printed and lowered for `platform` (symbolically or not) `batch` at a time
    (see `lowering.lower_batch`)."""
    items = list(items)
    how = {"platform": platform, "symbolic": symbolic}
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        sources = [to_source(p.tree, grammar, style) for _, p in chunk]
        lowered = lower_batch([(load_function(s), [t.spec() for t in p.inputs]) for s, (_, p) in zip(sources, chunk)],
                              platform, symbolic)
        for (origin, program), source, low in zip(chunk, sources, lowered):
            yield program, (low if isinstance(low, LoweringError) else _record(program, source, low, dict(origin), how))


def _record(program: Program, source: str, lowered, origin: dict, how: dict) -> dict:
    return {
        "id": origin.pop("id"),
        "python": source,
        "inputs": [str(t) for t in program.inputs],
        "outputs": [str(t) for t in program.output_types],
        "lowering": {**how, "shapes": lowered.symbolic or "static"},
        "stablehlo": lowered.text,
        "ops": [{"op": k, "count": v} for k, v in lowered.ops.items()],
        "alternatives": program.alternatives,
        "size": program.size,
        "depth": program.depth,
        **origin,
        "hash": program.structural_hash,
    }


def versions() -> dict:
    import jax
    import jaxlib
    import lark
    import networkx
    import numpy
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": numpy.__version__,
            "lark": lark.__version__, "networkx": networkx.__version__,
            "python": _platform.python_version()}


def shard_name(number: int) -> str:
    return f"records-{number:05d}.jsonl"


def record_files(path) -> list[Path]:
    """The record files of a corpus directory in order (or the one file given)."""
    path = Path(path)
    if not path.is_dir():
        return [path]
    files = sorted(path.glob("records-*.jsonl"))
    if not files:
        raise CorpusError(f"{path}: no records-*.jsonl here (not a corpus directory)")
    return files


# every field a reader of records relies on, with its JSON type
FIELDS = {"id": str, "python": str, "inputs": list, "outputs": list, "stablehlo": str,
          "ops": list, "alternatives": list, "size": int, "depth": int, "hash": str}
# how `stablehlo` was made; records of corpora from before it was recorded
# lack it, and were lowered for cpu with static shapes
DEFAULT_LOWERING = {"platform": "cpu", "symbolic": False, "shapes": "static"}


def lowering_of(record: dict) -> dict:
    """A record's lowering: {"platform": str, "symbolic": bool, "shapes": str}."""
    return record.get("lowering", DEFAULT_LOWERING)


def _check(record) -> str | None:
    """What is wrong with a record, or None."""
    if not isinstance(record, dict):
        return "not a JSON object"
    for name, kind in FIELDS.items():
        if not isinstance(record.get(name), kind):
            return f"field {name!r} missing or not a {kind.__name__}"
    if not all(isinstance(o, dict) and isinstance(o.get("op"), str) and isinstance(o.get("count"), int)
               for o in record["ops"]):
        return "field 'ops' is not a list of {op, count}"
    how = lowering_of(record)
    if not (isinstance(how, dict) and isinstance(how.get("platform"), str) and isinstance(how.get("symbolic"), bool)
            and how.get("shapes") in ("static",) + SYMBOLIC):
        return "field 'lowering' is not {platform, symbolic, shapes}"
    return None


def read_records(path):
    """Records of a corpus directory (or a .jsonl file), one dict at a time."""
    for file in record_files(path):
        try:
            f = open(file, "rb")
        except OSError as e:
            raise CorpusError(f"{file}: cannot read: {e.strerror}") from None
        with f:
            for n, raw in enumerate(f, 1):
                try:
                    record = json.loads(raw.decode("utf-8"))
                except UnicodeDecodeError:
                    raise CorpusError(f"{file}:{n}: not UTF-8 text") from None
                except json.JSONDecodeError as e:
                    raise CorpusError(f"{file}:{n}: not a JSON record ({e.msg})") from None
                problem = _check(record)
                if problem:
                    raise CorpusError(f"{file}:{n}: not a jaxsynth record ({problem})")
                yield record
