"""Sharded, parallel, resumable corpus generation: the run.

The index space of a run (see `recipe`) is cut into shards of `shard_size`
consecutive indices, each made by `shards.make_shard` in any process an
executor gives (`executors`). The run commits shards strictly in order,
dropping programs whose structural hash an earlier shard already holds, so
the bytes of the corpus do not depend on how many workers made it or in what
order they finished. Every process that lowers (this one, each worker, each
Ray task) has the fake host devices of `lowering.fake_devices()`, as
programs may shard over a mesh.

On disk: `records-00000.jsonl`, … each written atomically (temporary file,
fsync, rename), and `manifest.json`, rewritten atomically after every shard
with `"complete": false` and the sha256 of every shard, and last with
`"complete": true`; the command then writes the dataset card `README.md`
(`publish.card`). `--resume` keeps the shards whose checksum matches and
makes the rest again.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import sys
import time
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from .fields import multiset
from .files import CARD, FORMAT, MANIFEST, CorpusError, atomic_write, shard_name
from .install import versions
from .readers import is_regular, iter_records, read_manifest, sha256_of
from .recipe import CHOSEN, NOT_COMPARED, Recipe, provenance
from .shards import Shard

BARREN_SHARDS = 20      # shards in a row without a new record before a run gives up


def _kept(path: Path) -> list[tuple[str, tuple[str, ...], tuple[tuple[str, int], ...]]]:
    """(hash, fields, ops) of each record of a shard a resumed run keeps."""
    kept = []
    for where, record, problem in iter_records([path]):
        if problem:
            raise CorpusError(f"{where}: not a jaxsynth record ({problem}); move the corpus aside or choose "
                              f"another --out")
        kept.append((record["hash"], tuple(record), multiset(record)))
    return kept



@dataclass
class Status:
    """What a run did, for the summary line and the manifest."""
    records: int = 0
    kept: int = 0               # of the records, those of shards a resumed run kept
    duplicates: int = 0
    failures: Counter = field(default_factory=Counter)
    ops: set = field(default_factory=set)
    regenerated: list = field(default_factory=list)
    started: float = field(default_factory=time.monotonic)
    lowering: Counter = field(default_factory=Counter)     # programs spliced, verified, lowered by JAX
    fragments: Counter = field(default_factory=Counter)    # steps met in memory, on disk, lowered


def _others(folder: Path) -> bool:
    """Whether a folder holds something a new corpus would be written among.
    Not: a .partial file (a write a crash cut short, before the first
    manifest), a README.md of the user's (kept beside the corpus, in place of
    its card), hidden files (.gitkeep)."""
    try:
        return any(not (p.name.endswith(".partial") or p.name == CARD or p.name.startswith("."))
                   for p in folder.iterdir())
    except OSError as e:
        raise CorpusError(f"{folder}: cannot read: {e.strerror}") from None


class Run:
    def __init__(self, out: Path, recipe: Recipe, manifest: dict, target: int, shard_size: int,
                 first: int = 0, last: int | None = None, resume: bool = False):
        """Make records for indices first..last-1 (sample: unbounded) until `target` records."""
        self.out, self.recipe, self.target, self.shard_size = Path(out), recipe, target, shard_size
        self.first, self.last = first, last
        self.manifest = {"format": FORMAT, **recipe.describe(), **provenance(recipe), **manifest,
                         "versions": versions(), "shard_size": shard_size,
                         "range": [first, last], "target": target}
        self.previous = self._open(resume)

    def _open(self, resume: bool) -> dict:
        old = read_manifest(self.out) if self.out.is_dir() else None
        if old is not None:
            if not resume:
                what = "a corpus" if old["complete"] else "an unfinished corpus; add --resume to finish it"
                raise CorpusError(f"{self.out}: already holds {what}")
            # the grammar is compared by content (its sha256), not by how its path was written
            keys = [k for k in dict.fromkeys([*self.manifest, *CHOSEN]) if k not in NOT_COMPARED]
            differ = [k for k in keys if old.get(k) != self.manifest.get(k)]
            if differ:
                raise CorpusError(f"--resume {self.out}: made with other options (differs in: {', '.join(differ)})")
            return {s["number"]: s for s in old["shards"]}
        if resume:
            raise CorpusError(f"--resume {self.out}: no corpus to finish there (no {MANIFEST}); "
                              f"leave out --resume to start one")
        if self.out.is_dir() and _others(self.out):
            raise CorpusError(f"{self.out}: not empty and not a corpus (no {MANIFEST}); choose a new or empty --out")
        try:
            self.out.mkdir(parents=True, exist_ok=True)
        except OSError as e:
            raise CorpusError(f"{self.out}: cannot create: {e.strerror}") from None
        # before any shard, so that a run killed at any point can be resumed
        self._checkpoint([], Status(), complete=False)
        return {}

    def _range(self, number):
        start = self.first + number * self.shard_size
        stop = start + self.shard_size
        return start, stop if self.last is None else min(stop, self.last)

    def _in_range(self, number) -> bool:
        return self.last is None or self._range(number)[0] < self.last

    def _verified(self, status) -> set[int]:
        """Shards from before whose file matches its checksum; warn about the others."""
        valid = set()
        for number, entry in sorted(self.previous.items()):
            path = self.out / entry["file"]
            if is_regular(path) and sha256_of(path) == entry["sha256"]:
                valid.add(number)
            else:
                why = "missing" if not path.exists() else "not a regular file" if not is_regular(path) \
                    else "checksum mismatch"
                print(f"jaxsynth: warning: {path}: {why}, making the shard again", file=sys.stderr)
                status.regenerated.append(number)
        return valid

    def _reuse(self, number, status, seen) -> dict:
        entry = self.previous[number]
        kept = _kept(self.out / entry["file"])
        for h, fields, ops in kept:
            seen.add(h)
            status.ops.update(op for op, _ in ops)
            self.each(fields, ops)
        status.records += len(kept)
        status.kept += len(kept)
        status.duplicates += entry["duplicates"]
        status.failures.update(entry["failures"])
        status.lowering.update(entry.get("lowering", {}))
        return entry

    def execute(self, pool, progress=None, keep_pool: bool = False, each=None) -> tuple[dict, Status]:
        """Commit shards in order until the target or the range end, with two
        shards in flight per worker; then shut the pool down, or with
        `keep_pool` only cancel the shards not started (for another run).
        `each(fields, ops)` is told of every record the corpus holds, in
        file order: its fields and its (op, count) pairs (the dataset card's
        summary, without reading the shards again)."""
        self.each = each or (lambda fields, ops: None)
        status, seen, shards, inflight = Status(), set(), [], {}
        depth = 2 * pool.parallelism
        valid = self._verified(status)
        upcoming = (n for n in itertools.takewhile(self._in_range, itertools.count()) if n not in valid)
        number = barren = 0
        failed = True
        try:
            while status.records < self.target and self._in_range(number):
                # no more programs asked for than records are missing: a shard is made
                # at once where a process has nothing else to do (`executors.Remote`)
                while len(inflight) < depth and status.records + sum(
                        stop - start for start, stop in map(self._range, inflight)) < self.target \
                        and (n := next(upcoming, None)) is not None:
                    inflight[n] = pool.submit(self.recipe, n, *self._range(n))
                if number in valid:
                    entry = self._reuse(number, status, seen)
                else:
                    entry = self._commit(inflight.pop(number).result(), status, seen)
                shards.append(entry)
                self._checkpoint(shards, status, complete=False)
                barren = 0 if entry["records"] else barren + 1
                if barren >= BARREN_SHARDS and self.last is None:
                    raise CorpusError(
                        f"{self.out}: no new program in the last {barren * self.shard_size} draws "
                        f"({status.records} distinct so far); ask for fewer or widen the grammar")
                if progress:
                    progress(status)
                number += 1
            failed = False
        finally:
            if keep_pool:
                for future in inflight.values():
                    getattr(future, "cancel", lambda: None)()
            else:
                try:
                    pool.shutdown(now=failed)
                except KeyboardInterrupt:       # while waiting for the workers' last chunks
                    pool.shutdown(now=True)
                    raise
        manifest = self._checkpoint(shards, status, complete=True)
        for partial in self.out.glob("*.partial"):     # writes a crash cut short
            if not partial.is_dir():
                partial.unlink()
        return manifest, status

    def _commit(self, shard: Shard, status: Status, seen: set) -> dict:
        data, records, dups = [], 0, shard.duplicates
        lowering = Counter({"spliced": 0, "verified": 0, "by_jax": 0})
        for line in shard.lines:
            if status.records + records >= self.target:
                break
            if line.hash in seen:
                dups += 1
                continue
            seen.add(line.hash)
            data.append(line.text)
            status.ops.update(op for op, _ in line.ops)
            self.each(line.fields, line.ops)
            lowering.update(line.way)
            records += 1
        path = self.out / shard_name(shard.number)
        blob = "".join(data).encode()
        atomic_write(path, blob)
        status.records += records
        status.duplicates += dups
        status.failures.update(shard.failures)
        status.lowering.update(lowering)
        status.fragments.update(shard.fragments)
        start, stop = self._range(shard.number)
        # how many of its records were spliced, verified, lowered by JAX: the
        # same for any workers (which fragments were met before is not)
        return {"number": shard.number, "file": path.name, "start": start, "stop": stop, "records": records,
                "duplicates": dups, "failures": shard.failures, "sha256": hashlib.sha256(blob).hexdigest(),
                "lowering": dict(sorted(lowering.items()))}

    def _checkpoint(self, shards, status, complete) -> dict:
        m = {**self.manifest, "complete": complete,
             "counts": {"records": status.records, "duplicates_skipped": status.duplicates,
                        "failures": dict(sorted(status.failures.items())),
                        "lowering": dict(sorted(status.lowering.items()))},
             "shards": shards}
        atomic_write(self.out / MANIFEST, (json.dumps(m, indent=2) + "\n").encode())
        return m
