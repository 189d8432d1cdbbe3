"""Corpus records: one JSON object per line in `records-NNNNN.jsonl` shards,
with a `manifest.json` beside them (see `pipeline`).

Each record pairs a program's Python with its StableHLO. Field order is
fixed and every field has one type across records (op counts are a list of
{op, count} objects, not a dict with varying keys), so pandas, duckdb and
`datasets` read the file as it is.
"""
from __future__ import annotations

import json
import platform
from pathlib import Path

from ..lowering import LoweringError, load_function, lower_batch
from ..synth.printer import to_source
from ..synth.program import Program
from ..synth.grammar import Grammar

MANIFEST = "manifest.json"


class CorpusError(ValueError):
    """A corpus directory that cannot be read or written as asked."""


BATCH = 50      # programs lowered together in one module


def make_records(items, grammar: Grammar, style: str, batch: int = BATCH):
    """[(origin fields, program)] -> (program, record or LoweringError) for each,
    printed and lowered `batch` at a time (see `lowering.lower_batch`)."""
    items = list(items)
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        sources = [to_source(p.tree, grammar, style) for _, p in chunk]
        lowered = lower_batch([(load_function(s), [t.spec() for t in p.inputs]) for s, (_, p) in zip(sources, chunk)])
        for (origin, program), source, low in zip(chunk, sources, lowered):
            yield program, (low if isinstance(low, LoweringError) else _record(program, source, low, dict(origin)))


def _record(program: Program, source: str, lowered, origin: dict) -> dict:
    return {
        "id": origin.pop("id"),
        "python": source,
        "inputs": [str(t) for t in program.inputs],
        "outputs": [str(t) for t in program.output_types],
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
            "python": platform.python_version()}


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
