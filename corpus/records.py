"""Corpus records: one JSON object per line in `records.jsonl`, and a
`manifest.json` beside it, written last.

Each record pairs a program's Python with its StableHLO. Field order is
fixed and every field has one type across records (op counts are a list of
{op, count} objects, not a dict with varying keys), so pandas, duckdb and
`datasets` read the file as it is.
"""
from __future__ import annotations

import hashlib
import json
import os
import platform
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..lowering import load_function, lower
from ..synth.printer import to_source
from ..synth.program import Program
from ..synth.grammar import Grammar

RECORDS = "records.jsonl"
MANIFEST = "manifest.json"
FORMAT = 1


class CorpusError(ValueError):
    """A corpus directory that cannot be read or written as asked."""


def make_record(program: Program, grammar: Grammar, style: str, **origin) -> dict:
    """Print and lower one program; raises LoweringError if it does not lower."""
    source = to_source(program.tree, grammar, style)
    lowered = lower(load_function(source), [t.spec() for t in program.inputs])
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


@dataclass
class Writer:
    """Streams records to `DIR/records.jsonl.partial`; `close()` renames it and
    writes the manifest. Refuses a directory that already holds a corpus."""
    out: Path
    manifest: dict
    records: int = 0
    failures: Counter = field(default_factory=Counter)
    duplicates: int = 0

    def __post_init__(self):
        self.out = Path(self.out)
        if (self.out / MANIFEST).exists() or (self.out / RECORDS).exists():
            raise CorpusError(f"{self.out}: already holds a corpus; choose another --out")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
            self._tmp = self.out / (RECORDS + ".partial")
            self._file = open(self._tmp, "w", encoding="utf-8")
        except OSError as e:
            raise CorpusError(f"{self.out}: cannot write: {e.strerror}") from None
        self._sha = hashlib.sha256()

    def write(self, record: dict) -> None:
        line = json.dumps(record, ensure_ascii=False) + "\n"
        self._file.write(line)
        self._sha.update(line.encode())
        self.records += 1

    def abort(self) -> None:
        """Drop the unfinished records file (a failed run leaves no corpus)."""
        self._file.close()
        self._tmp.unlink(missing_ok=True)

    def close(self) -> dict:
        self._file.flush()
        os.fsync(self._file.fileno())
        self._file.close()
        os.replace(self._tmp, self.out / RECORDS)
        self.manifest.update({
            "counts": {"records": self.records, "duplicates_skipped": self.duplicates,
                       "failures": dict(sorted(self.failures.items()))},
            "files": {RECORDS: {"records": self.records, "sha256": self._sha.hexdigest()}},
        })
        tmp = self.out / (MANIFEST + ".partial")
        tmp.write_text(json.dumps(self.manifest, indent=2) + "\n")
        os.replace(tmp, self.out / MANIFEST)
        return self.manifest


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
    path = Path(path)
    file = path / RECORDS if path.is_dir() else path
    try:
        f = open(file, "rb")
    except OSError:
        raise CorpusError(f"{path}: no readable {RECORDS} here (not a corpus directory)") from None
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
