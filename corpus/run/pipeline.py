"""Sharded, parallel, resumable corpus generation.

The index space of a run (sample: program k is drawn from
`random.Random(f"{seed}:{k}")`, by the weights, uniformly among all programs
up to a size, or from a random subset of alternatives: see `programs`;
enumerate: the global program index) is cut
into shards of `shard_size` consecutive indices. A shard is made by a pure
function of its recipe (`Recipe`) and index range, in any process: locally
in-process, in spawned worker processes, or as Ray tasks. The driver commits
shards strictly in order, dropping programs whose structural hash an earlier
shard already holds, so the bytes of the corpus do not depend on how many
workers made it or in what order they finished. Every process that lowers
(this one, each worker, each Ray task) has the fake host devices of
`lowering.fake_devices()`, as programs may shard over a mesh.

On disk: `records-00000.jsonl`, … each written atomically (temporary file,
fsync, rename), and `manifest.json`, rewritten atomically after every shard
with `"complete": false` and the sha256 of every shard, and last with
`"complete": true`, then the dataset card `README.md` (`dataset`).
`--resume` keeps the shards whose checksum matches and makes the rest again.
"""
from __future__ import annotations

import contextlib
import dataclasses
import gc
import hashlib
import itertools
import json
import os
import pickle
import random
import signal
import sys
import tempfile
import time
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path

from ..lowering import LoweringError, fake_devices
from ..synth.grammar import load_grammar, override_weights
from ..synth.space import Config, Enumeration, NoProgram, Space
from ..synth.types import Type
from .compose import Composer, FragmentCache
from .dataset import CARD, write_card
from .records import FORMAT, MANIFEST, CorpusError, make_records, shard_name, versions
from .schema import is_regular, iter_records, read_manifest, sha256_of


@dataclass(frozen=True)
class Recipe:
    """Everything that fixes a run's programs; picklable, so workers rebuild it."""
    kind: str                          # "sample" or "enumerate"
    grammar_path: str
    grammar_text: str
    weights: tuple[tuple[str, float], ...]   # overrides of the grammar's weights
    config: Config
    style: str
    seed: int = 0
    inputs: tuple[Type, ...] | None = None
    max_size: int = 0                  # enumerate, and sample --uniform: sizes 1..max_size
    platform: str = "cpu"              # lowered for, without its hardware
    symbolic: bool = False             # lowered with symbolic dimensions (lowering.lower_symbolic)
    uniform: bool = False              # sample: a uniform index of the enumeration of `inputs`
    swarm: int | None = None           # sample: each program from a random subset of this many alternatives
    # how programs are lowered, which does not change a record (see `compose`):
    strategy: str = "compose"          # spliced from their steps' lowerings, or "batched": all by JAX
    verify: float = 0.01               # compose: the fraction of programs lowered by JAX as well, and compared
    cache: str | None = None           # compose: the directory of the fragment cache on disk; None: none

    @property
    def lowering(self) -> dict:
        """How programs are lowered, as records and the manifest say it."""
        return {"platform": self.platform, "symbolic": self.symbolic}

    def describe(self) -> dict:
        """The run's options as JSON data, for the manifest (and --resume's comparison)."""
        config = dataclasses.asdict(self.config)
        if self.kind != "sample":
            for key in SAMPLING_ONLY:
                del config[key]
        # named only when chosen (see CHOSEN): a default run's manifest stays as it was
        chosen = {k: getattr(self, k) for k in CHOSEN if getattr(self, k)}
        return json.loads(json.dumps({
            "command": self.kind, "seed": self.seed if self.kind == "sample" else None,
            "inputs": [str(t) for t in self.inputs] if self.inputs else None,
            "max_size": self.max_size or None, "config": {**config, "style": self.style},
            "lowering": self.lowering, **chosen,
            "strategy": {"name": self.used_strategy, "verify": self.verify if self.used_strategy == "compose" else 0}}))

    @property
    def used_strategy(self) -> str:
        """The strategy programs are lowered by: symbolic lowerings are JAX's alone."""
        return "batched" if self.symbolic else self.strategy


SAMPLING_ONLY = ("max_ops", "max_body_ops", "max_inputs")     # fields of Config enumeration ignores
# ways of sampling a manifest names only when chosen; --resume compares them
# present or absent, so that it refuses a mismatch and still knows older runs
CHOSEN = ("uniform", "swarm")


def provenance(recipe: Recipe) -> dict:
    """What the manifest says of where a run's programs come from: the
    grammar (path as given, and its content's sha256), the weights in force."""
    grammar = build(recipe)[0]
    return {"grammar": recipe.grammar_path, "grammar_sha256": grammar.sha256, "weights": grammar.weights()}


def build(recipe: Recipe):
    """(grammar, space, enumeration or None) of a recipe, cached per process
    (recipes that differ only in how programs are lowered share them)."""
    enumerates = recipe.kind == "enumerate" or recipe.uniform
    return _build(recipe.grammar_path, recipe.grammar_text, recipe.weights, recipe.config,
                  recipe.inputs if enumerates else None)


@lru_cache(maxsize=4)
def _build(grammar_path, grammar_text, weights, config, inputs):
    grammar = load_grammar(grammar_path, grammar_text, parser=False)    # the run loaded it whole
    if weights:
        grammar = override_weights(grammar, [("recipe", n, str(w)) for n, w in weights])
    space = Space(grammar, config)
    return grammar, space, Enumeration(space, inputs) if inputs is not None else None


def shared(recipe: Recipe) -> tuple:
    """What this process worked out for a recipe that its workers would
    otherwise work out again, each on its own: the counts of its
    enumeration (seconds of a worker's start). The `setup` of `executor`."""
    enum = build(recipe)[2]
    return ((learn, recipe, enum.counted()),) if enum is not None else ()


def learn(recipe: Recipe, counted: dict) -> None:
    """In a worker: take the counts this recipe's enumeration has in the driver."""
    build(recipe)[2].learn(counted)


def programs(recipe: Recipe, start: int, stop: int):
    """(origin fields, program) for the indices start..stop-1 of the run.

    Sample program k is drawn from `random.Random(f"{seed}:{k}")`: by the
    weights; with `uniform`, as the enumeration index `randrange(total)` over
    the `total` programs of sizes 1..max_size (exact for any total: Python's
    ints), so that each of them is equally likely; with `swarm`, by the
    weights of a random subset of alternatives. A draw that finds no program
    (a swarm subset, or weights that leave a signature almost nothing to
    apply) gives its NoProgram in the program's place, a failure to count."""
    grammar, space, enum = build(recipe)
    total = sum(enum.counts(recipe.max_size)) if recipe.uniform else 0     # memoised by the enumeration
    for k in range(start, stop):
        if recipe.kind == "enumerate":
            size, i = enum.locate(k, recipe.max_size)
            yield {"id": f"e{k}", "index": k}, enum.program(size, i)
            continue
        rng = random.Random(f"{recipe.seed}:{k}")
        if recipe.uniform:
            program = enum.program(*enum.locate(rng.randrange(total), recipe.max_size))
        else:
            try:
                program = space.sample_swarm(rng, recipe.swarm, recipe.inputs) if recipe.swarm \
                    else space.sample(rng, recipe.inputs)
            except NoProgram as e:
                program = e
        yield {"id": f"s{recipe.seed}-{k}", "seed": recipe.seed, "index": k}, program


# what --resume may change: how a run is lowered changes no record
NOT_COMPARED = ("versions", "grammar", "strategy")
BARREN_SHARDS = 20      # shards in a row without a new record before a run gives up
CLEAR_EVERY = 1000       # programs (or steps) JAX lowers in a process between clearings of its caches
_LOWERED = [0]


@dataclass
class Shard:
    number: int
    # (hash, JSON line, ops, how it was lowered: the keys of Status.lowering it counts in) in index order
    lines: list[tuple[str, str, tuple[str, ...], tuple[str, ...]]]
    duplicates: int = 0
    failures: dict = field(default_factory=dict)
    fragments: Counter = field(default_factory=Counter)    # this shard's steps: hit, disk, lowered


class Cancelled(Exception):
    """A shard no longer wanted (the run has its records): stopped between chunks."""


CHUNK = 100         # programs lowered between looks at whether the shard is still wanted
_STOP = [None]      # in a spawned worker: the pool's Event that says no running shard is wanted
# whether a pool's thread waits forever on a killed worker: only os._exit ends such a process
ABANDONED = [False]
ABANDON_AFTER = 5.0     # seconds a stopped pool's thread has to end before it counts as waiting forever


@lru_cache(maxsize=4)
def composer(recipe: Recipe):
    """The process's compositional lowering of a recipe (its pieces kept
    across shards), or None where programs are lowered by JAX alone."""
    if recipe.used_strategy != "compose":
        return None
    grammar = build(recipe)[0]
    cache = FragmentCache(recipe.cache, grammar.sha256, recipe.platform) if recipe.cache else None
    return Composer(grammar, recipe.platform, cache)


# Python's cyclic collector, at its default thresholds, walks the whole heap
# (JAX's caches, the pieces) so often that it took 70% of splicing's time
GC_THRESHOLDS = (50_000, 20, 100)


def _stopped() -> bool:
    return _STOP[0] is not None and _STOP[0].is_set()


def make_shard(recipe: Recipe, number: int, start: int, stop: int) -> Shard:
    """Generate, print, lower and serialise one shard (a pure function of its arguments)."""
    fake_devices()          # first thing in a fresh Ray worker; a no-op where already set
    gc.set_threshold(*GC_THRESHOLDS)
    if _stopped():
        raise Cancelled(f"shard {number}")
    grammar, space, _ = build(recipe)
    shard, seen, failures, unique = Shard(number, []), set(), Counter(), []
    before = Counter(composer(recipe).stats) if composer(recipe) is not None else Counter()
    for origin, program in programs(recipe, start, stop):
        if isinstance(program, NoProgram):
            failures[f"NoProgram: {program}"[:120]] += 1
        elif program.structural_hash in seen:
            shard.duplicates += 1
        else:
            seen.add(program.structural_hash)
            unique.append((origin, program))
    lowered = 0
    for i in range(0, len(unique), CHUNK):      # records are the same whatever the chunks
        if _stopped():
            raise Cancelled(f"shard {number}")
        ways: list = []
        made = make_records(unique[i:i + CHUNK], grammar, recipe.style, platform=recipe.platform,
                            symbolic=recipe.symbolic, composer=composer(recipe), verify=recipe.verify, ways=ways)
        for (program, record), way in zip(list(made), ways):
            lowered += "spliced" not in way or "verified" in way
            if isinstance(record, LoweringError):
                failures[str(record)[:120]] += 1
                continue
            ops = tuple(o["op"] for o in record["ops"])
            shard.lines.append((program.structural_hash, json.dumps(record, ensure_ascii=False) + "\n", ops, way))
    shard.failures = dict(failures)
    if composer(recipe) is not None:
        shard.fragments = Counter(composer(recipe).stats) - before
    # keep memory flat over long runs: what these caches hold is rarely met
    # again; clearing JAX's after every shard would cost ~15% of the rate
    space.clear_caches()
    # what JAX itself lowered: programs not spliced or verified, and the steps met first
    _LOWERED[0] += lowered + shard.fragments["lowered"]
    if _LOWERED[0] >= CLEAR_EVERY:
        _LOWERED[0] = 0
        import jax      # here, not at the top: the CLI imports this module for --help too
        jax.clear_caches()
    return shard


# ---------------------------------------------------------------- executors

class _InProcess:
    """Runs each piece of work when asked for its result: one process, same bytes."""
    parallelism = 1

    def call(self, k: int, fn, *args):
        """Piece of work k, `fn(*args)`, as something with a `result()`."""
        return _Deferred(fn, args)

    def submit(self, recipe, number, *args):
        """Shard `number` of a run (`make_shard`)."""
        return self.call(number, make_shard, recipe, number, *args)

    def shutdown(self, now: bool = False):
        pass


class _Deferred:
    """A call made in this process when its result is wanted, or earlier
    (`run`) by a process that would otherwise wait."""

    def __init__(self, fn, args):
        self.fn, self.args, self.ran, self.value, self.error = fn, args, False, None, None

    def run(self) -> None:
        if not self.ran:
            self.ran = True
            try:
                self.value = self.fn(*self.args)
            except Exception as e:      # raised where the result is wanted, in its turn
                self.error = e

    def result(self):
        self.run()
        if self.error is not None:
            raise self.error
        return self.value

    def cancel(self) -> bool:
        """Never made, where not made yet (a run that keeps its pool for the next)."""
        if not self.ran:
            self.ran, self.error = True, Cancelled("not wanted")
        return True


class _Remote:
    """A worker's piece of work. While it is not done, the process that
    wants it makes its own pieces already asked for, rather than wait."""

    def __init__(self, future, pool):
        self.future, self.pool = future, pool

    def result(self):
        while not self.future.done() and self.pool.ahead():
            pass
        return self.future.result()

    def cancel(self) -> bool:
        return self.future.cancel()


def _start_worker(parent: int, stop, setup: str | None) -> None:
    """A spawned worker's first act: fake devices before JAX's backend starts,
    an exit when the driver dies, the Event that cancels its shard, and
    the calls the driver's `setup` file holds (`shared`)."""
    import atexit
    fake_devices()
    _exit_with_parent(parent)
    _STOP[0] = stop
    # after the exit handlers of what the worker runs (JAX's); those of its
    # own start (multiprocessing's, logging's) have nothing left to do
    atexit.register(_exit_now)
    try:
        with open(setup, "rb") as f:
            calls = pickle.load(f)      # written by the driver, for this run alone
    except (TypeError, OSError):        # none, or gone: the run ended first
        calls = ()
    for fn, *args in calls:
        fn(*args)


def _exit_now() -> None:
    """A worker's end once the exit handlers have run, without taking its
    heap apart (JAX, the pieces): that took most of a second of each run."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)


def _warm() -> None:
    """A worker's first steps, taken as it starts (while the driver may still
    load the grammar): JAX imported, its backend and lowering started."""
    import jax
    import jax.numpy as jnp
    jax.jit(jnp.negative).lower(jax.ShapeDtypeStruct((1,), jnp.float32)).as_text()


def _exit_with_parent(parent: int) -> None:
    """In a worker: exit when the driver dies (kill -9 leaves no one to stop us)."""
    import threading

    def watch():
        while os.getppid() == parent:
            time.sleep(1)
        os._exit(1)

    threading.Thread(target=watch, daemon=True).start()


class _Processes(_InProcess):
    """Work done by `workers` processes: this one (every workers-th piece,
    when its result is wanted or while it waits for a worker's) and
    workers - 1 spawned ones. This one is ready at once, and would otherwise
    only wait: a run pays for one process start fewer, and one shard needs
    no other process at all."""

    def __init__(self, workers, setup=()):
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor
        self.setup = None
        if setup:
            # a file of this process's, which each worker reads as it starts: passed
            # with the start, a big setup (counts) holds this process until it is read
            fd, self.setup = tempfile.mkstemp(prefix="jaxsynth-setup-", suffix=".pickle")
            with open(fd, "wb") as f:
                pickle.dump(setup, f)
        # spawn: forking a process in which JAX already runs can deadlock
        context = multiprocessing.get_context("spawn")
        self.stop, self.terminated = context.Event(), False
        self.pool = ProcessPoolExecutor(workers - 1, mp_context=context, initializer=_start_worker,
                                        initargs=(os.getpid(), self.stop, self.setup))
        self.parallelism = workers
        self.mine: list[_Deferred] = []     # this process's pieces, in the order asked for
        try:
            for _ in range(workers - 1):    # the workers start now, not at the first piece
                self._submit(_warm)
        except BaseException:               # Ctrl-C while they start
            self.shutdown(now=True)
            raise

    def call(self, k: int, fn, *args):
        if k % self.parallelism == 0:
            self.mine.append(_Deferred(fn, args))
            return self.mine[-1]
        return _Remote(self._submit(fn, *args), self)

    def _submit(self, fn, *args):
        # a submit may start a worker: it inherits SIGINT blocked, so that
        # Ctrl-C (sent to the whole process group) is this process's alone to
        # answer (this thread takes it after the submit; another of ours may
        # take it during, and then a worker may start untracked: it exits when
        # this process does)
        blocked = signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
        try:
            return self.pool.submit(fn, *args)
        finally:
            signal.pthread_sigmask(signal.SIG_SETMASK, blocked)

    def ahead(self) -> bool:
        """Make the first piece of this process's not made yet; False if none is left."""
        while self.mine and self.mine[0].ran:
            self.mine.pop(0)
        if not self.mine:
            return False
        self.mine.pop(0).run()
        return True

    def shutdown(self, now: bool = False):
        """Cancel the shards not started and stop those running: between
        chunks, or with `now` (an error, Ctrl-C) at once. A worker killed
        while it sends its result leaves half a message in the pipe, on which
        the pool's thread then waits forever: if it is still waiting after
        a few seconds, the process has to end with `os._exit` (`ABANDONED`)."""
        first, ended = not self.stop.is_set(), self.terminated
        self.stop.set()
        if self.setup is not None:
            with contextlib.suppress(OSError):
                os.unlink(self.setup)   # a worker that starts after this works without it
            self.setup = None
        if not now:
            if first:
                self.pool.shutdown(wait=True, cancel_futures=True)
            return
        if ended:
            return
        self.terminated = True
        # shutdown() forgets the pool's thread: it is taken first, to be watched
        thread = getattr(self.pool, "_executor_manager_thread", None)
        for process in list((getattr(self.pool, "_processes", None) or {}).values()):
            process.terminate()
        self.pool.shutdown(wait=False, cancel_futures=True)
        if thread is not None:
            thread.join(timeout=ABANDON_AFTER)
            ABANDONED[0] = ABANDONED[0] or thread.is_alive()


def executor(workers: int, backend: str = "local", address: str | None = None, setup: tuple = ()):
    """What makes a run's shards: `workers` local processes (this one among
    them), or the tasks of a Ray cluster. `setup`, calls (fn, *args), is
    done first in each spawned process (a cluster's tasks work out for
    themselves what it would give them)."""
    if backend == "ray":
        from .cluster import RayExecutor        # Ray, an optional extra, only when asked for
        return RayExecutor(address)
    return _InProcess() if workers <= 1 else _Processes(workers, setup)


# ---------------------------------------------------------------- files

def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        if tmp.is_symlink() or (tmp.exists() and not tmp.is_dir()):
            tmp.unlink()        # left by a crash, or not a file at all (a FIFO would block the write)
        # a new file, never through a link a corpus from elsewhere may hold
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise CorpusError(f"{path}: cannot write: {e.strerror}") from None


def _hashes_of(path: Path) -> tuple[list[str], set[str]]:
    hashes, ops = [], set()
    for where, record, problem in iter_records([path]):
        if problem:
            raise CorpusError(f"{where}: not a jaxsynth record ({problem}); move the corpus aside or choose "
                              f"another --out")
        hashes.append(record["hash"])
        ops.update(o["op"] for o in record["ops"])
    return hashes, ops


# ---------------------------------------------------------------- the run

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
        hashes, ops = _hashes_of(self.out / entry["file"])
        seen.update(hashes)
        status.records += len(hashes)
        status.kept += len(hashes)
        status.ops |= ops
        status.duplicates += entry["duplicates"]
        status.failures.update(entry["failures"])
        status.lowering.update(entry.get("lowering", {}))
        return entry

    def execute(self, pool, progress=None, keep_pool: bool = False) -> tuple[dict, Status]:
        """Commit shards in order until the target or the range end, with two
        shards in flight per worker; then shut the pool down, or with
        `keep_pool` only cancel the shards not started (for another run)."""
        status, seen, shards, inflight = Status(), set(), [], {}
        depth = 2 * pool.parallelism
        valid = self._verified(status)
        upcoming = (n for n in itertools.takewhile(self._in_range, itertools.count()) if n not in valid)
        number = barren = 0
        failed = True
        try:
            while status.records < self.target and self._in_range(number):
                # no more programs asked for than records are missing: a shard is made
                # at once where a process has nothing else to do (`_Remote`)
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
        write_card(self.out)        # after the manifest: a crash between them is finished by --resume
        for partial in self.out.glob("*.partial"):     # writes a crash cut short
            if not partial.is_dir():
                partial.unlink()
        return manifest, status

    def _commit(self, shard: Shard, status: Status, seen: set) -> dict:
        data, records, dups = [], 0, shard.duplicates
        lowering = Counter({"spliced": 0, "verified": 0, "by_jax": 0})
        for h, line, ops, way in shard.lines:
            if status.records + records >= self.target:
                break
            if h in seen:
                dups += 1
                continue
            seen.add(h)
            data.append(line)
            status.ops.update(ops)
            lowering.update(way)
            records += 1
        path = self.out / shard_name(shard.number)
        blob = "".join(data).encode()
        _atomic_write(path, blob)
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
        _atomic_write(self.out / MANIFEST, (json.dumps(m, indent=2) + "\n").encode())
        return m
