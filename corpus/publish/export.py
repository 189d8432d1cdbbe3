"""A corpus as Parquet, in train, validation and test splits, with a card.

`export` writes the records as `train.parquet`, `validation.parquet` and
`test.parquet` with a card of their own. A record's split is decided by its
structural hash alone (`split_of`): stable across runs, machines, file order
and shard sizes, and programs with one hash never straddle two splits.
"""
from __future__ import annotations

import hashlib
import math
import os
import sys
from pathlib import Path

from ..run.fields import BOOL, FEATURES, INT, STRING
from ..run.files import CARD, CorpusError, atomic_write
from ..run.install import install_hint
from ..run.readers import checked_records, corpus_files, is_regular
from .card import (ATTRIBUTION_MISSING, MARK, Summary, fields_section, front_matter,
                   is_card, ops_section, origin_section, safe, short_number, summarize)

SPLITS = ("train", "validation", "test")
PARQUET = tuple(f"{s}.parquet" for s in SPLITS)
ROWS = 1000             # records per Parquet row group: memory stays flat on any corpus


# ---------------------------------------------------------------- field types

def arrow_schema(fields):
    """The Parquet schema of the given fields (names of FEATURES, in its order)."""
    pa = _pyarrow()[0]
    scalars = {STRING: pa.string(), INT: pa.int64(), BOOL: pa.bool_()}

    def arrow(t):
        if isinstance(t, str):
            return scalars[t]
        if isinstance(t, list):
            return pa.list_(arrow(t[0]))
        return pa.struct([(k, arrow(v)) for k, v in t.items()])
    return pa.schema([(name, arrow(FEATURES[name])) for name in fields])


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CorpusError(f"--parquet: needs pyarrow: {install_hint('export')}") from None
    return pyarrow, pyarrow.parquet


# ---------------------------------------------------------------- splits

def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> the train, validation and test fractions; ValueError
    unless three finite numbers >= 0 that sum to 1."""
    try:
        fractions = tuple(float(x) for x in text.split(","))
    except ValueError:
        fractions = ()
    if len(fractions) != 3 or not all(math.isfinite(f) and f >= 0 for f in fractions) \
            or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError("expected three fractions >= 0 (train,validation,test) that sum to 1")
    return fractions


def thresholds(fractions) -> tuple[int, int]:
    """The cumulative fractions as bounds in [0, 2^32], integers so that no
    machine's rounding moves a record."""
    train, validation, _ = fractions
    return min(round(train * 2 ** 32), 2 ** 32), min(round((train + validation) * 2 ** 32), 2 ** 32)


def split_of(structural_hash: str, bounds: tuple[int, int]) -> int:
    """0 (train), 1 (validation) or 2 (test): int(sha256(hash)) mod 2^32
    against the cumulative fractions."""
    v = int.from_bytes(hashlib.sha256(structural_hash.encode()).digest(), "big") % 2 ** 32
    return 0 if v < bounds[0] else 1 if v < bounds[1] else 2


# ---------------------------------------------------------------- the card of an export

def export_card(m: dict | None, summary: Summary, fractions, counts) -> str:
    """The card of a Parquet export (OUT) of corpus DIR: three splits, decided
    by hash. A split without records is left out of the configuration
    (`datasets` refuses an empty one), though its file is written."""
    files = [(s, f) for s, f, n in zip(SPLITS, PARQUET, counts) if n] or [(SPLITS[0], PARQUET[0])]
    lines = front_matter(files, summary.columns(), summary.records)
    lines += [MARK, "", f"# A jaxsynth corpus as Parquet: {summary.records} JAX programs and their StableHLO", "",
              "The records of a jaxsynth corpus DIR, in three splits. Nested fields keep their structure.", "",
              "## Splits", "", "```bash",
              f"jaxsynth export DIR --parquet OUT --splits {','.join(map(short_number, fractions))}", "```", "",
              "A record goes by its structural hash `h`: with `v = int(sha256(h)) mod 2^32`, to train if "
              "`v < round(train * 2^32)`, else to validation if `v < round((train + validation) * 2^32)`, else to "
              "test. Exporting again, on any machine, from the records in any order, gives the same splits.", "",
              "| split | fraction | records |", "|---|---:|---:|"]
    lines += [f"| {s} | {short_number(f)} | {n} |" for s, f, n in zip(SPLITS, fractions, counts)]
    lines += ["", "## The corpus", ""] + origin_section(m) + ops_section(summary) + fields_section(summary)
    lines += ["## Reading it", "", "With OUT this directory:", "", "```python",
              "import datasets", 'splits = datasets.load_dataset("OUT")',
              "```", "", "or `duckdb`: `select * from read_parquet('OUT/train.parquet')`.", ""]
    return "\n".join(lines)


# ---------------------------------------------------------------- Parquet

def _check_out(out: Path) -> None:
    """OUT may be new, empty, or a previous export (its own card, split files,
    and what an export cut short leaves); never anything else."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise CorpusError(f"--parquet {out}: not a directory")
    ours = {CARD, *PARQUET, *(f + ".partial" for f in PARQUET)}
    try:
        names = {p.name for p in out.iterdir()}
    except OSError as e:
        raise CorpusError(f"--parquet {out}: cannot read: {e.strerror}") from None
    finished = names - {n for n in names if n.endswith(".partial")}
    if names - ours or (finished and not is_card(out / CARD)) \
            or not all(is_regular(out / n) and not (out / n).is_symlink() for n in names):
        raise CorpusError(f"--parquet {out}: not empty and not a jaxsynth export; choose another directory")


def _table(pa, batch, schema):
    """The Arrow table of [(file:line, record)]; a record that does not fit
    the schema (an integer beyond int64) is an error that names it."""
    bad = (pa.ArrowException, OverflowError, TypeError, ValueError)
    try:
        return pa.Table.from_pylist([record for _, record in batch], schema=schema)
    except bad:
        for where, record in batch:
            try:
                pa.Table.from_pylist([record], schema=schema)
            except bad as e:
                raise CorpusError(f"{where}: does not fit the Parquet schema ({safe(e)[:200]})") from None
        raise


def _synced(path: Path, final: Path | None) -> None:
    """fsync a file (or directory), then move it to `final`, if given."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if final is not None:
        os.replace(path, final)


def export(directory, out, fractions=(0.8, 0.1, 0.1)) -> tuple[int, int, int]:
    """Write the records of a corpus (directory or .jsonl file) to OUT as
    train/validation/test Parquet files and a card; the records per split."""
    pa, pq = _pyarrow()
    directory, out = Path(directory), Path(out)
    manifest, files = corpus_files(directory)
    _check_out(out)
    summary = summarize(files)          # first pass: which fields the records carry
    if summary.unknown():
        print(f"jaxsynth: warning: {directory}: fields not exported (not jaxsynth record fields): "
              f"{', '.join(safe(f) for f in summary.unknown())}", file=sys.stderr)
    if summary.attributed < summary.records:
        print(f"jaxsynth: warning: {directory}: {'some ' if summary.attributed else ''}{ATTRIBUTION_MISSING}",
              file=sys.stderr)
    schema = arrow_schema(summary.columns())
    bounds = thresholds(fractions)
    fresh = not out.exists()
    partials = [out / (f + ".partial") for f in PARQUET]
    try:
        out.mkdir(parents=True, exist_ok=True)
        counts = _write_splits(pa, pq, files, schema, partials, bounds)
        if sum(counts) != summary.records:
            raise CorpusError(f"{directory}: changed while it was exported; export it again")
        # the card first: if a crash follows, OUT is still recognised as an export
        atomic_write(out / CARD, export_card(manifest, summary, fractions, counts).encode())
        for partial, name in zip(partials, PARQUET):
            _synced(partial, out / name)
        _synced(out, None)
    except BaseException as e:
        for partial in partials:        # what this export began; a previous export's files stay
            if partial.is_file() and not partial.is_symlink():
                partial.unlink()
        if fresh and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if isinstance(e, OSError):
            raise CorpusError(f"--parquet {out}: cannot write: {e.strerror or e}") from None
        raise
    return counts


def _write_splits(pa, pq, files, schema, partials, bounds) -> tuple[int, int, int]:
    """Stream the checked records into one Parquet file per split, ROWS at a time."""
    writers = []
    try:
        for p in partials:
            if p.is_symlink() or p.exists():
                p.unlink()      # left by a crash; never written through
            writers.append(pq.ParquetWriter(p, schema, compression="zstd"))
        counts, pending = [0, 0, 0], [[], [], []]
        for where, record in checked_records(files):
            s = split_of(record["hash"], bounds)
            pending[s].append((where, record))
            counts[s] += 1
            if len(pending[s]) >= ROWS:
                writers[s].write_table(_table(pa, pending[s], schema))
                pending[s] = []
        for s, writer in enumerate(writers):
            if pending[s]:
                writer.write_table(_table(pa, pending[s], schema))
    finally:
        for writer in writers:
            writer.close()
    return tuple(counts)
