"""The `jaxsynth` command: sample, enumerate, tune, bench, coverage, report, show,
validate, export, extract.

Bad input (grammar, annotation, weight, signature, corpus, file) ends with one
line `jaxsynth: error: PLACE: what` and exit code 2, never a traceback, and a
corpus that is already written is never touched.
"""
from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import signal
import sys
import threading
import time
from collections import Counter
from pathlib import Path

from ..lowering import PLATFORMS, LoweringError, fake_devices, load_function, lower, universe
from ..synth.grammar import GrammarError, load_grammar, override_weights, profile_path, profiles, read_weights_file
from ..synth.printer import STYLES
from ..synth.rules import SHAPES, Pools
from ..synth.space import SWARM_SUBSETS, Config, Enumeration, NoProgram, Space
from ..synth.types import SignatureError, check_dims, parse_signature
from .tune import SOLVERS
from .coverage import (ALT_FIELDS, COMPARE_FIELDS, MEASURES, OP_FIELDS, alt_matrix, alt_rows, collect, compare,
                       format_alt_matrix, format_compare, format_report, op_rows, to_csv)
from .quality import Quality
from .pipeline import ABANDONED, Recipe, Run, build, executor, shared
from .bench import ENUMERATE, SHARD
from .compose import default_cache_root
from .records import CorpusError, Mismatch, install_hint
from .schema import DamagedShard, checked_records, corpus_files, is_regular, read_manifest, visible

DEFAULT_OUT = Path("corpus") / "out"
SHARD_SIZE = 250        # programs per shard, at most, unless --shard-size says otherwise
TIME_LIMIT = 120.0      # seconds counting one size may be estimated to take, by default


class UsageError(Exception):
    """A bad option or argument; the message names it."""


class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, exit 2, like every other bad input
        raise UsageError(message)


def _dims(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive ints")
    try:
        check_dims(dims)
    except SignatureError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    return dims


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return int(text)


def _shard(text: str) -> tuple[int, int]:
    i, slash, n = text.partition("/")
    if not (slash and i.isdigit() and n.isdigit() and int(i) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N")
    return int(i), int(n)


def _lowering_options(s, sampled: bool = True):
    s.add_argument("--platform", choices=PLATFORMS, default="cpu",
                   help="lower for this platform, without its hardware (default cpu)")
    s.add_argument("--symbolic", action="store_true",
                   help="lower through jax.export with symbolic dimensions (the dynamic_* ops)"
                        + ("; programs are made of operations JAX can batch" if sampled else ""))


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in [0, 1]")
    return value


def _strategy_options(s):
    s.add_argument("--lowering", choices=("compose", "batched"), default="compose",
                   help="compose (default): each distinct step lowered once by JAX and programs spliced from "
                        "them, the text JAX prints (programs JAX's whole-program passes change are lowered by "
                        "JAX); batched: every program lowered by JAX, many to a module")
    s.add_argument("--verify", type=_fraction, default=0.01, metavar="P",
                   help="compose: lower this fraction of spliced programs (chosen by hash) by JAX as well; a "
                        "difference stops the run before the program is written (default 0.01)")
    s.add_argument("--cache", type=Path, default=default_cache_root(),
                   help="compose: directory of the fragment cache, shared by runs and workers "
                        f"(default {default_cache_root()})")
    s.add_argument("--no-cache", action="store_true", help="compose: no fragment cache on disk")


def _weights_options(s):
    s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
    s.add_argument("--profile", choices=profiles(),
                   help="a named weights file shipped with the grammar (grammar/profiles/); "
                        "--weights and --weight apply over it")
    s.add_argument("--weights", type=Path, help="file of NAME = WEIGHT lines")
    s.add_argument("--weight", action="append", default=[], metavar="ALT=W", help="override a weight")


def _version() -> str:
    """jaxsynth's version and the JAX it lowers with, without importing JAX."""
    from importlib import metadata

    def of(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    return f"jaxsynth {of('jaxsynth')} (jax {of('jax')}, jaxlib {of('jaxlib')})"


def build_parser() -> Parser:
    p = Parser(prog="jaxsynth", description="Grammar-driven JAX program synthesis, lowered to StableHLO.",
               epilog="jaxsynth COMMAND --help says more of each; start with: jaxsynth sample -n 2000")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    def generation(s):
        _weights_options(s)
        s.add_argument("--inputs", help='input signature, e.g. "f32[4,8], f32[8]"')
        s.add_argument("--shapes", choices=SHAPES, default="tiny",
                       help="shape profile: tiny dims (default) or realistic model shapes (batch, features, images)")
        s.add_argument("--dims", type=_dims, help="dimension pool (default: the profile's; tiny: 1,2,3,4,8)")
        s.add_argument("--style", choices=STYLES, default="statements", help="how programs are printed")
        s.add_argument("--out", type=Path, help="corpus directory to write")
        s.add_argument("--time-limit", type=_seconds, default=TIME_LIMIT, metavar="SECONDS",
                       help="enumerate, sample --uniform: stop before counting a size estimated to take longer "
                            f"(default {TIME_LIMIT:g}; 0: no limit)")
        s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                       help="processes that make shards, this one included (default: one per core, at most one "
                            "per shard); the corpus is the same for any number")
        s.add_argument("--shard-size", type=_positive,
                       help=f"programs per shard (default: {SHARD_SIZE}, fewer for few or big programs)")
        s.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
        s.add_argument("--backend", choices=("local", "ray"), default="local",
                       help="local: processes on this machine (default); ray: tasks on a Ray cluster "
                            "(the ray extra), the same corpus")
        s.add_argument("--address", help="Ray cluster address (auto, HOST:PORT; default: start a local Ray)")
        _lowering_options(s)
        _strategy_options(s)

    s = sub.add_parser("sample", help="write a corpus of random programs")
    s.add_argument("-n", type=_positive, default=2000, help="number of records (default 2000)")
    s.add_argument("--seed", type=_natural, default=0, help="fixes every program, whatever the workers (default 0)")
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops,
                   help=f"largest program, in top-level operations (default {Config().max_ops})")
    s.add_argument("--uniform", action="store_true",
                   help="every program of size 1..--max-ops with the --inputs signature equally likely (as "
                        "enumerate counts them: each draw is a uniform index into that enumeration); -n beyond "
                        "their number is refused before anything is written")
    s.add_argument("--swarm", type=_positive, metavar="K",
                   help="swarm testing: each program samples only from its own random K of the alternatives "
                        f"of weight > 0 (none always kept), drawn again up to {SWARM_SUBSETS} times if they make "
                        "no program, then counted as a failure")
    generation(s)

    s = sub.add_parser("enumerate", help="count, index or list every program up to a size")
    s.add_argument("--max-ops", type=_positive, required=True,
                   help="the largest programs, in top-level operations: sizes 1..MAX_OPS")
    s.add_argument("--count", action="store_true", help="print the number of programs of each size")
    s.add_argument("--index", type=_natural, help="print the program with this index")
    s.add_argument("--shard", type=_shard, help="I/N: only the I-th of N equal parts of the index space")
    generation(s)

    s = sub.add_parser("bench", help="lowering strategies against a naive loop, on the same programs")
    s.add_argument("-n", type=_positive, default=1000, help="sampled programs (default 1000)")
    s.add_argument("--seed", type=_natural, default=0, help="of the sampled programs (default 0)")
    s.add_argument("--shard", type=_shard, default=SHARD, metavar="I/N",
                   help="the part of the enumerate workload (--max-ops {max_ops} --inputs \"{inputs}\" --dims 2) "
                        "to run (default {0}/{1})".format(*SHARD, **ENUMERATE))
    s.add_argument("--cold", action="store_true",
                   help="compose only from an empty fragment cache, as a first run (default: that, then warm "
                        "from the cache it filled)")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes of the pipeline runs, this one included (default: one per core)")
    s.add_argument("--shard-size", type=_positive, default=SHARD_SIZE,
                   help=f"programs per shard of the pipeline runs (default {SHARD_SIZE})")
    s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
    s.add_argument("--json", action="store_true",
                   help="print only the measurements, as JSON, on stdout (the report goes to stderr)")

    s = sub.add_parser("export", help="write a corpus as Parquet train/validation/test splits with a dataset card")
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--parquet", type=Path, required=True, metavar="OUT",
                   help="directory to write (new, empty, or a previous export)")
    s.add_argument("--splits", default="0.8,0.1,0.1", metavar="TRAIN,VALIDATION,TEST",
                   help="fractions of the records, by structural hash (default 0.8,0.1,0.1)")

    s = sub.add_parser("coverage", help="op coverage, program quality and diversity of a corpus")
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    form = s.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print plain data as JSON")
    form.add_argument("--csv", action="store_true",
                      help="print the per-op table (with --compare, the side-by-side one; with --by-alt, "
                           "the alternative -> op table) as CSV")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality scan reads "
                                                "(default: the corpus's own if unchanged, else the packaged one)")
    s.add_argument("--compare", type=Path, metavar="DIR2",
                   help="compare the op distributions of DIR and DIR2: shares side by side, ops gained and lost, "
                        "total-variation and Jensen-Shannon distances, entropies")
    s.add_argument("--by-alt", action="store_true",
                   help="the ops each grammar alternative produced, with the share of its uses that produced each")

    s = sub.add_parser("show", help="print records as they are (control characters made visible)")
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("-n", type=_positive, default=3, help="records to show (default 3)")
    s.add_argument("--id", help="only the record with this id")
    s.add_argument("--stablehlo", action="store_true", help="print each record's StableHLO too")
    s.add_argument("--grammar", type=Path, help="grammar that should derive the programs (default: the packaged one)")

    s = sub.add_parser("validate", help="check a corpus of unknown origin: derivations, types, StableHLO")
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--grammar", type=Path, help="grammar the corpus was made with (default: the packaged one)")
    s.add_argument("--run", action="store_true",
                   help="also execute each program on random inputs, eagerly and under jit, and compare")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes that check record files, this one included (default: one per core, at most "
                        "one per file); the output is the same for any number")

    s = sub.add_parser("report", help="one self-contained HTML page of a corpus's coverage, growth and programs")
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--compare", type=Path, metavar="DIR2", help="a second corpus, compared and overlaid")
    s.add_argument("--html", type=Path, required=True, metavar="OUT", help="the page to write")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality numbers read "
                                                "(default: each corpus's own if unchanged, else the packaged one)")

    s = sub.add_parser("tune", help="solve weights whose sampled corpus has a target op distribution")
    s.add_argument("--target", default="uniform", metavar="uniform|realistic|FILE.json",
                   help="uniform over the ops the grammar reaches (default); the ops of the real JAX code of "
                        "corpus/realistic.py; or a JSON object {op: share} (share of programs containing the op, "
                        "or with --measure occurrences of occurrences)")
    s.add_argument("--target-corpus", type=Path, metavar="DIR", help="the op distribution of another corpus")
    s.add_argument("--measure", choices=MEASURES, default="programs",
                   help="programs: share of programs containing each op (default); occurrences: share of op "
                        "occurrences")
    s.add_argument("--out", type=Path, required=True, help="the weights file to write (use it with --weights)")
    s.add_argument("-n", type=_positive, default=2000, help="programs per pilot corpus (default 2000)")
    s.add_argument("--verify", type=_positive, default=5000,
                   help="programs of the verification corpus, of a seed no pilot used (default 5000)")
    s.add_argument("--iterations", type=_natural, default=6, help="solves at most (default 6)")
    s.add_argument("--tolerance", type=float, default=0.02, help="stop at this distance (default 0.02)")
    s.add_argument("--solver", choices=SOLVERS, default="model",
                   help="model (default): minimise a model of the measure as a function of the weights, fitted "
                        "to the pilot, by gradient descent; ipf: scale each weight by the geometric mean of "
                        "target/measured over the ops it makes")
    s.add_argument("--work", type=Path, help="keep the pilot corpora here (default: a temporary directory); "
                                             "a second run with the same options reuses them")
    s.add_argument("--seed", type=_natural, default=0, help="the first pilot's; pilot i has seed + i")
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops,
                   help=f"largest program of the pilots, in top-level operations (default {Config().max_ops})")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes that make each pilot corpus, this one included (default: one per core)")
    _weights_options(s)
    s.add_argument("--shapes", choices=SHAPES, default="tiny", help="shape profile of the pilots (default tiny)")
    s.add_argument("--dims", type=_dims, help="dimension pool of the pilots (default: the profile's)")

    s = sub.add_parser("extract", help="lower FILE.py:FUNC and count its ops")
    s.add_argument("target", metavar="FILE.py:FUNC", help="the function FUNC of the Python file FILE.py")
    s.add_argument("--inputs", required=True, help='the function\'s input types, e.g. "f32[4,8], f32[8]"')
    _lowering_options(s, sampled=False)
    return p


# ---------------------------------------------------------------- helpers

def _grammar(args):
    weights = []
    for w in getattr(args, "weight", []):     # before the grammar: checking its names imports JAX
        name, eq, value = w.partition("=")
        if not eq:
            raise UsageError(f"--weight {w}: expected ALT=WEIGHT")
        weights.append((f"--weight {w}", name.strip(), value.strip()))
    grammar = load_grammar(args.grammar)
    items = []
    if getattr(args, "profile", None):
        items += read_weights_file(profile_path(args.profile))
    if getattr(args, "weights", None):
        items += read_weights_file(args.weights)
    items += weights
    return override_weights(grammar, items) if items else grammar


def _pools(args) -> Pools:
    pools = SHAPES[args.shapes]
    return dataclasses.replace(pools, dims=args.dims) if args.dims else pools


def _signature(text):
    if text is None:
        return None
    try:
        return parse_signature(text)
    except SignatureError as e:
        raise UsageError(f"--inputs: {e}") from None


def _cache(args) -> str | None:
    if args.no_cache or args.lowering != "compose":
        return None
    if args.cache.exists() and not args.cache.is_dir():
        raise UsageError(f"--cache {args.cache}: not a directory")
    return str(args.cache)


def _recipe(kind, args, grammar, config, inputs, cache, **extra) -> Recipe:
    return Recipe(kind, grammar.path, grammar.text, tuple(grammar.overrides.items()), config, args.style,
                  inputs=inputs, platform=args.platform, symbolic=args.symbolic, strategy=args.lowering,
                  verify=args.verify, cache=cache, **extra)


class _Ticker:
    """Says on stderr what a long phase is doing (`doing`), every EVERY
    seconds that pass without other news (`touch`), until it ends."""
    EVERY = 5.0

    def __init__(self, say=None):
        import threading
        self.doing, self.started = "", time.monotonic()
        self.last, self.stop = self.started, threading.Event()
        self.say = say or (lambda line: print(f"jaxsynth: {line}", file=sys.stderr, flush=True))
        self.thread = threading.Thread(target=self._tick, daemon=True)

    def touch(self):
        self.last = time.monotonic()

    def _tick(self):
        while not self.stop.wait(min(1.0, self.EVERY)):
            if time.monotonic() - self.last >= self.EVERY:
                self.touch()
                self.say(f"{self.doing} ({time.monotonic() - self.started:.0f} s)")

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()


class _Progress(_Ticker):
    """A bar with rate and ETA on a terminal; elsewhere a line every few
    seconds; between shards that take long (big programs), a line that says
    the run goes on."""

    RUN = ("making the first shard", "making the next shard", "writing the manifest and stopping the workers")

    def __init__(self, total, desc, words=RUN):
        from tqdm import tqdm
        self.tty, self.total, self.desc, self.words = sys.stderr.isatty(), total, desc, words
        self.bar = tqdm(total=total, desc=desc, unit="rec", file=sys.stderr) if self.tty else None
        super().__init__(say=(lambda line: self.bar.set_postfix_str(line)) if self.bar is not None else None)
        self.doing = f"{desc}: {words[0]}"

    def __call__(self, status):
        if INTERRUPTED[0]:      # a Ctrl-C Python swallowed (raised in a __del__ or a gc callback)
            raise KeyboardInterrupt
        of = f"/{self.total}" if self.total else ""
        done = self.total and status.records >= self.total
        self.doing = f"{self.desc}: {status.records}{of} records; {self.words[2 if done else 1]}"
        if self.bar is not None:
            self.bar.update(status.records - self.bar.n)
            self.bar.set_postfix_str("")
        elif time.monotonic() - self.last > self.EVERY:
            rate = (status.records - status.kept) / max(time.monotonic() - status.started, 1e-9)
            print(f"{self.desc}: {status.records}{of} records, {rate:.0f}/s", file=sys.stderr, flush=True)
        else:
            return
        self.touch()

    def __exit__(self, *exc):
        super().__exit__(*exc)
        if self.bar is not None:
            self.bar.close()


def _counts(enum: Enumeration, max_size: int, limit: float, each=None) -> list[int]:
    """The number of programs of each size 1..max_size, each given to
    `each(size, count)` as soon as known; while a count takes long, a line
    every few seconds says which. Counting a size costs a growing multiple
    of the size before (here: 20x, then 100x): before a size estimated to
    take longer than `limit` seconds (0: no limit), a UsageError says so."""
    counts, took = [], []
    with _Ticker() as tick:
        for k in range(1, max_size + 1):
            if limit and len(took) >= 2:
                estimate = took[-1] * took[-1] / took[-2]
                if estimate > limit:
                    raise UsageError(
                        f"--max-ops {max_size}: counting size {k} would take {_duration(estimate)} or more "
                        f"(size {k - 1}: {_duration(took[-1])}, {took[-1] / took[-2]:.0f}x size {k - 2}), more than "
                        f"--time-limit {limit:g}; counted up to size {k - 1}: --max-ops {k - 1}, or --time-limit 0 "
                        f"to count anyway")
            tick.doing = f"counting programs of size {k}"
            started = time.perf_counter()
            counts.append(enum.count(k))
            took.append(max(time.perf_counter() - started, 1e-3))
            if each:
                each(k, counts[-1])
    return counts


def _duration(seconds: float) -> str:
    for unit, size in (("days", 86400), ("h", 3600), ("min", 60)):
        if seconds >= 2 * size:
            return f"{seconds / size:.0f} {unit}"
    return f"{seconds:.1f} s"


def _shard_size(args, target: int) -> int:
    """--shard-size; by default, what a run being resumed used, else a shard
    of a few seconds' work: no more programs than the run needs, fewer the
    bigger they are (progress shows per shard)."""
    if args.shard_size:
        return args.shard_size
    previous = read_manifest(args.out) if args.resume and args.out.is_dir() else None
    if previous is not None:
        return previous["shard_size"]
    return max(1, min(SHARD_SIZE, target, 2000 // args.max_ops))


class Interrupted(KeyboardInterrupt):
    """Ctrl-C during a run whose corpus can be finished: the message says how."""


def _workers(args, shards: int) -> int:
    """--workers, but no more processes than shards, and on this machine no
    more than its cores (each holds its own JAX: more only share the cores
    and multiply the memory)."""
    workers, have = min(args.workers, shards), cores()
    if getattr(args, "backend", "local") == "local" and workers > have:
        print(f"jaxsynth: warning: --workers {args.workers}: this machine has {have} cores; using {have}",
              file=sys.stderr, flush=True)
        workers = have
    return workers


def cores() -> int:
    """The cores this process may run on."""
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count() or 1


def _pool(args, target, setup=()):
    """The run's executor, its workers starting now. Made before --out
    exists: a failed join leaves nothing."""
    return executor(_workers(args, -(-target // _shard_size(args, target))), args.backend, args.address, setup)


def _run(args, recipe, target, first=0, last=None, pool=None, **manifest):
    shard_size = _shard_size(args, target)
    if pool is None:
        pool = _pool(args, target, shared(recipe))
    try:
        run = Run(args.out, recipe, manifest, target, shard_size, first, last, resume=args.resume)
    except BaseException:
        pool.shutdown(now=True)
        raise
    try:
        with _Progress(target if last is None else None, recipe.kind) as bar:
            m, status = run.execute(pool, progress=bar)
    except KeyboardInterrupt:
        raise Interrupted(f"interrupted; {args.out} keeps the shards made so far: the same command with "
                          f"--resume finishes the run") from None
    seconds = time.monotonic() - status.started
    fails = sum(status.failures.values())
    reasons = "; ".join(f"{n}× {visible(r)}" for r, n in status.failures.most_common(3))
    made = status.records - status.kept
    kept = f" ({status.kept} kept from before)" if status.kept else ""
    print(f"wrote {status.records} records{kept} to {args.out} in {seconds:.1f} s ({made / seconds:.0f}/s); "
          f"{status.duplicates} duplicates skipped; {fails} failures{' (' + reasons + ')' if fails else ''}; "
          f"{len(status.ops & universe())} stablehlo/chlo ops covered"
          + (f"; shards made again: {status.regenerated}" if status.regenerated else ""))
    if status.lowering["spliced"]:
        print(lowering_summary(status.lowering, status.fragments))
    return m


def lowering_summary(programs: Counter, steps: Counter) -> str:
    """A line on how a compositional run lowered its programs and found its steps."""
    made = programs["spliced"] + programs["by_jax"]
    met = steps["hit"] + steps["disk"] + steps["lowered"]
    return (f"lowering: {programs['spliced']} of {made} programs spliced ({programs['verified']} of them "
            f"verified against JAX), {programs['by_jax']} lowered by JAX; steps: "
            + ", ".join(f"{steps[k] / max(met, 1):.0%} {what}" for k, what in
                        (("hit", "in memory"), ("disk", "from the cache on disk"), ("lowered", "lowered"))))


# ---------------------------------------------------------------- commands

def cmd_sample(args):
    # options first: loading the grammar imports JAX (seconds), which a usage error need not wait for
    inputs = _signature(args.inputs)
    if args.uniform and inputs is None:
        raise UsageError("--uniform: needs --inputs (it draws among the programs of one signature)")
    if args.uniform and args.swarm:
        raise UsageError("--swarm: not with --uniform (a uniform draw is among the programs of all alternatives)")
    cache = _cache(args)
    way = "-uniform" if args.uniform else f"-swarm{args.swarm}" if args.swarm else ""
    args.out = args.out or DEFAULT_OUT / f"sample-seed{args.seed}-n{args.n}{way}"
    # local workers start while the grammar loads (a uniform run's share what is counted here)
    pool = _pool(args, args.n) if args.backend == "local" and not args.uniform else None
    try:
        _sample(args, inputs, cache, pool)
    except BaseException:
        if pool is not None:
            pool.shutdown(now=True)
        raise


def _sample(args, inputs, cache, pool):
    grammar = _grammar(args)
    config = Config(pools=_pools(args), max_ops=args.max_ops, batched=args.symbolic)
    recipe = _recipe("sample", args, grammar, config, inputs, cache, seed=args.seed, uniform=args.uniform,
                     swarm=args.swarm, max_size=args.max_ops if args.uniform else 0)
    _, space, enum = build(recipe)      # the pipeline's own (cached): what is counted here serves its shards
    if args.swarm and args.swarm > len(space.alts):
        raise UsageError(f"--swarm {args.swarm}: more than the {len(space.alts)} alternatives of weight > 0")
    for i, t in enumerate(inputs or ()):
        if not any(i in app.slots for a in space.alts for app in space.apps(a, inputs)):
            raise UsageError(f"--inputs {args.inputs}: no operation of the grammar can use input {i} ({t})")
    if args.uniform:
        total = sum(_counts(enum, args.max_ops, args.time_limit, lambda k, c: print(f"jaxsynth: size {k}: {c} programs",
                                                                    file=sys.stderr, flush=True)))
        if args.n > total:
            raise UsageError(f"-n {args.n}: only {total} programs of size 1..{args.max_ops} "
                             f"for --inputs {args.inputs}")
    _run(args, recipe, args.n, pool=pool)


def cmd_enumerate(args):
    inputs = _signature(args.inputs)     # before the grammar, as in cmd_sample
    if inputs is None:
        raise UsageError("--inputs: enumerate needs an input signature")
    cache = _cache(args) if args.out is not None else None
    grammar = _grammar(args)
    config = Config(pools=_pools(args), batched=args.symbolic)
    recipe = _recipe("enumerate", args, grammar, config, inputs, cache, max_size=args.max_ops)
    enum = build(recipe)[2]     # the pipeline's own (cached): what is counted here serves its shards
    listing = args.count or (args.index is None and args.out is None)
    counts = _counts(enum, args.max_ops, args.time_limit, (lambda k, c: print(f"size {k}: {c}", flush=True)) if listing else None)
    total = sum(counts)
    i, n = args.shard or (0, 1)
    first, last = i * total // n, (i + 1) * total // n
    if listing:
        print(f"total: {total}")
        if args.shard:
            print(f"shard {i}/{n}: indices {first}..{last - 1} ({last - first} programs)")
    if args.index is not None:
        if args.index >= total:
            raise UsageError(f"--index {args.index}: only {total} programs up to size {args.max_ops}")
        from ..synth.printer import to_source
        size, k = enum.locate(args.index, args.max_ops)
        print(to_source(enum.program(size, k).tree, grammar, args.style), end="")
    if args.out is not None:
        _run(args, recipe, last - first, first, last, shard=[i, n])


def cmd_bench(args):
    from .bench import bench
    grammar = load_grammar(args.grammar)
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=args.seed)
    # with --json, stdout is one JSON document: the report goes to stderr
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print
    result = bench(recipe, args.n, args.workers, args.shard_size, args.cold, args.shard, say=say)
    if args.json:
        print(json.dumps(result))


def cmd_export(args):
    from .dataset import SPLITS, export, parse_fractions
    try:
        fractions = parse_fractions(args.splits)
    except ValueError as e:
        raise UsageError(f"--splits {args.splits}: {e}") from None
    counts = export(args.dir, args.parquet, fractions)
    print(f"wrote {sum(counts)} records to {args.parquet}: "
          + ", ".join(f"{split} {n}" for split, n in zip(SPLITS, counts)))


def _corpus_grammar(manifest: dict | None):
    """The grammar a corpus was made with, if its file is still the same; else the packaged one."""
    path = Path(manifest["grammar"]) if manifest else None
    if path is not None and is_regular(path) and path.stat().st_size < (1 << 20):
        try:
            data = path.read_bytes()        # compared before anything parses it: the manifest may lie
            if hashlib.sha256(data).hexdigest() == manifest["grammar_sha256"]:
                return load_grammar(path, data.decode("utf-8"))
        except (GrammarError, OSError, UnicodeDecodeError):
            pass
    return load_grammar()


def cmd_coverage(args):
    if args.compare and args.by_alt:
        raise UsageError("--by-alt: not with --compare (it is the matrix of one corpus)")

    def read(directory):
        manifest, files = corpus_files(directory)
        grammar = load_grammar(args.grammar) if args.grammar else _corpus_grammar(manifest)
        return manifest, collect(files, Quality(grammar))

    def emit(data, rows, fields, text):
        if args.json:
            print(json.dumps(data, indent=2))
        elif args.csv:
            sys.stdout.write(to_csv(rows, fields))
        else:
            print(text())

    manifest, cov = read(args.dir)
    if args.compare:
        c = compare(cov, read(args.compare)[1])
        emit(c, c["ops"], COMPARE_FIELDS, lambda: format_compare(c, str(args.dir), str(args.compare)))
        return
    report = cov.report(manifest["weights"] if manifest else {})
    if not args.by_alt:
        emit(report, op_rows(report), OP_FIELDS, lambda: format_report(report))
        return
    if not report["attributed"]:
        raise CorpusError(f"{args.dir}: no record carries 'attribution' (the corpus was made before records said "
                          f"which alternative produced each op); --by-alt needs it")
    if report["attributed"] < report["programs"]:
        print(f"jaxsynth: warning: {args.dir}: {report['programs'] - report['attributed']} of {report['programs']} "
              f"records carry no 'attribution'; the matrix counts the others", file=sys.stderr)
    matrix = alt_matrix(report)
    emit(matrix, alt_rows(matrix), ALT_FIELDS,
         lambda: format_alt_matrix(matrix, report["programs"], report["attributed"]))


def cmd_show(args):
    from .validate import config_of, derive
    manifest, files = corpus_files(args.dir)
    space = Space(load_grammar(args.grammar), config_of(manifest, str(args.dir)))
    shown = 0
    for _, r in checked_records(files):
        if args.id is not None and r["id"] != args.id:
            continue
        v = {k: visible(str(x)) for k, x in r.items() if k in ("id", "size", "depth", "hash")}
        ops = ", ".join(f"{visible(o['op'])}×{o['count']}" for o in r["ops"])
        print(f"── {v['id']}  {visible(', '.join(r['inputs']))} -> {visible(', '.join(r['outputs']))}  "
              f"size {v['size']} depth {v['depth']}  hash {v['hash'][:12]}")
        derived = derive(r, space)
        if isinstance(derived, str):
            print(f"!! {visible(derived)}")
        print(visible(r["python"].rstrip("\n")))
        if args.stablehlo:
            print(visible(r["stablehlo"].rstrip("\n")))
        print(f"   ops: {ops}\n")
        shown += 1
        if shown >= args.n and args.id is None:
            break
    if args.id is not None and not shown:
        raise CorpusError(f"{args.dir}: no record with id {args.id!r}")


def cmd_validate(args):
    from .pipeline import Status
    from .validate import validate
    grammar = load_grammar(args.grammar)
    manifest = read_manifest(args.dir) if args.dir.is_dir() else None     # for the bar's total alone
    status = Status()

    def progress(checked):
        status.records = checked
        bar(status)
    words = ("checking the first file", "checking the next file", "stopping the workers")
    with _Progress(manifest["counts"]["records"] if manifest else None, "validate", words) as bar:
        # on a terminal, a line goes above the bar instead of through it
        say = bar.bar.write if bar.bar is not None else print
        report = validate(args.dir, grammar, args.run, say=say, workers=_workers(args, args.workers),
                          progress=progress)
    print(report.summary())
    if report.failures:
        raise CorpusError(f"{args.dir}: {len(report.failures)} of {report.checked} records fail validation")


def cmd_report(args):
    try:
        from . import report
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("matplotlib"):
            raise
        raise UsageError(f"report: matplotlib is not installed: {install_hint('report')}") from None
    report.check_output(args.html)      # before reading: a refused OUT costs no wait
    grammar = load_grammar(args.grammar) if args.grammar else None
    scans = [report.scan(d, lambda m: grammar or _corpus_grammar(m)) for d in (args.dir, args.compare) if d]
    report.write_report(args.html, *scans)
    for s in scans:       # the page says so too, where the heatmap would be
        if s.coverage.attributed < s.programs:
            print(f"jaxsynth: warning: {visible(str(s.path))}: {s.programs - s.coverage.attributed} of {s.programs} "
                  f"records carry no 'attribution' (made before records had it); the heatmap leaves them out",
                  file=sys.stderr)
    print(f"wrote {args.html} ({' and '.join(f'{s.programs} programs' for s in scans)})")


def cmd_extract(args):
    path, _, func = args.target.rpartition(":")
    if not path or not func.isidentifier():
        raise UsageError(f"{args.target}: expected FILE.py:FUNC")
    inputs = _signature(args.inputs)
    try:
        source = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as e:
        raise UsageError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    try:
        fn = load_function(source, func, filename=path)
    except LoweringError as e:
        raise UsageError(str(e)) from None
    except Exception as e:
        raise UsageError(f"{path}: running the file failed: {type(e).__name__}: {e}") from None
    try:
        lowered = lower(fn, [t.spec() for t in inputs], args.platform, args.symbolic)
    except LoweringError as e:
        raise UsageError(f"{args.target}: lowering failed: {e}") from None
    print(lowered.text.rstrip())
    print()
    for op, n in sorted(lowered.ops.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:>6}  {op}")


def cmd_tune(args):
    import tempfile

    from .tune import corpus_target, file_target, format_weights, realistic_target, summary, tune
    if args.target_corpus is not None and args.target != "uniform":
        raise UsageError("--target and --target-corpus: give one")
    if not 0 <= args.tolerance < 1:
        raise UsageError(f"--tolerance {args.tolerance}: expected a number in [0, 1)")
    if args.iterations >= 1000:
        raise UsageError(f"--iterations {args.iterations}: at most 999 (the verification's seed is seed + 1000)")
    if args.target_corpus is not None:
        target = corpus_target(args.target_corpus, args.measure)
    elif args.target in ("uniform", "realistic"):
        target = realistic_target(args.measure) if args.target == "realistic" else None
    else:
        target = file_target(Path(args.target), args.measure)
    grammar = _grammar(args)
    config = Config(pools=_pools(args), max_ops=args.max_ops)
    recipe = Recipe("sample", grammar.path, grammar.text, tuple(grammar.overrides.items()), config, "statements",
                    seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="jaxsynth-tune-") as tmp:
        tuned = tune(recipe, target, args.measure, programs=args.n, verify=args.verify,
                     iterations=args.iterations, tolerance=args.tolerance, workers=args.workers,
                     work=args.work or Path(tmp), solver=args.solver)
    lines = summary(tuned, args.measure, tuned.history[0][2])
    print(visible("\n".join(lines)))
    kind = "TV" if tuned.target.full else "max error"
    header = [f"weights solved by jaxsynth tune for {visible(tuned.target.name)} ({args.measure}), "
              f"from {'the packaged grammar' if args.grammar is None else visible(str(args.grammar))}"
              + (f", starting from {len(grammar.overrides)} weights set by --profile, --weights or --weight"
                 if grammar.overrides else ""),
              f"pilots of {args.n} programs from seed {args.seed}, at most {args.iterations} iterations, "
              f"solver {args.solver}, tolerance {args.tolerance}",
              f"{kind}: {tuned.history[0][2]:.4f} with the starting weights, {tuned.verified:.4f} verified on "
              f"{args.verify} programs of seed {args.seed + 1000}"]
    from .pipeline import _atomic_write
    _atomic_write(args.out, format_weights(tuned.weights, header).encode())
    print(f"wrote {args.out}")


COMMANDS = {"sample": cmd_sample, "enumerate": cmd_enumerate, "tune": cmd_tune, "bench": cmd_bench,
            "coverage": cmd_coverage, "report": cmd_report, "show": cmd_show, "validate": cmd_validate,
            "export": cmd_export, "extract": cmd_extract}


def main(argv=None) -> int:
    code = _main(argv)
    if ABANDONED[0]:    # a pool's thread waits on a killed worker forever: exiting normally would join it
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)
    return code


def _main(argv) -> int:
    # before anything starts JAX's backend (importing jax does not; nothing
    # this module imports does): programs may shard over a mesh of devices
    fake_devices()
    argv = sys.argv[1:] if argv is None else list(argv)
    INTERRUPTED[0] = ABANDONED[0] = False
    # not the main thread (which alone gets signals), or Ctrl-C ignored (a job
    # started with &): Python's own handling, as it is
    if threading.current_thread() is not threading.main_thread() or \
            signal.getsignal(signal.SIGINT) is not signal.default_int_handler:
        return _command(argv)
    previous = signal.signal(signal.SIGINT, _on_sigint)
    try:
        code = _command(argv)
    finally:
        signal.signal(signal.SIGINT, previous)
    if INTERRUPTED[0] and code not in (130, 141):       # a Ctrl-C Python swallowed, here at the latest
        print("jaxsynth: interrupted", file=sys.stderr, flush=True)
        return 130
    return code


INTERRUPTED = [False]


def _on_sigint(signum, frame):
    """Ctrl-C, remembered: Python drops a KeyboardInterrupt raised while it
    runs a __del__ or a gc callback, and the run would go on to exit 0."""
    INTERRUPTED[0] = True
    raise KeyboardInterrupt


def _command(argv) -> int:
    try:
        if not argv:        # what there is to do, rather than a complaint that nothing was asked
            build_parser().print_help(sys.stderr)
            return 2
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except DamagedShard as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}; {_repair(e)}", file=sys.stderr)
        return 2
    except (UsageError, GrammarError, CorpusError, SignatureError, NoProgram, Mismatch) as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt as e:
        print(f"jaxsynth: {str(e) or 'interrupted'}", file=sys.stderr, flush=True)
        return 130
    except BrokenPipeError:
        # the reader went away (`jaxsynth coverage DIR | head`): stop quietly, as
        # a Unix tool does; stdout goes to /dev/null so that exiting flushes nothing
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 141
    return 0


def _repair(e: DamagedShard) -> str:
    """How to make a damaged shard again: its run's own command, with --resume."""
    from .dataset import command_line
    try:
        return f"to make it again: {visible(command_line(e.manifest, str(e.directory), here=True)[0])} --resume"
    except (KeyError, TypeError, ValueError, CorpusError, GrammarError, SignatureError):
        return "the command that made the corpus, with --resume, makes it again"


if __name__ == "__main__":
    sys.exit(main())
