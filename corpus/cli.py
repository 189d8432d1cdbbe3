"""The `jaxsynth` command: sample, enumerate, bench, coverage, show, validate, extract.

Bad input (grammar, annotation, weight, signature, corpus, file) ends with one
line `jaxsynth: error: PLACE: what` and exit code 2, never a traceback, and a
corpus that is already written is never touched.
"""
from __future__ import annotations

import argparse
import dataclasses
import json
import os
import sys
import time
from pathlib import Path

from ..lowering import PLATFORMS, LoweringError, fake_devices, load_function, lower, universe
from ..synth.grammar import GrammarError, load_grammar, override_weights, read_weights_file
from ..synth.printer import STYLES
from ..synth.rules import SHAPES, Pools
from ..synth.space import Config, Enumeration, NoProgram, Space
from ..synth.types import SignatureError, check_dims, parse_signature
from .coverage import Coverage, format_report
from .quality import Quality
from .pipeline import Recipe, Run, executor
from .records import CorpusError
from .schema import corpus_files, is_regular, iter_records, read_manifest, visible

DEFAULT_OUT = Path("corpus") / "out"
SHARD_SIZE = 250        # programs per shard, at most, unless --shard-size says otherwise


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


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return int(text)


def _shard(text: str) -> tuple[int, int]:
    i, slash, n = text.partition("/")
    if not (slash and i.isdigit() and n.isdigit() and int(i) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N")
    return int(i), int(n)


def _lowering_options(s):
    s.add_argument("--platform", choices=PLATFORMS, default="cpu",
                   help="lower for this platform, without its hardware (default cpu)")
    s.add_argument("--symbolic", action="store_true",
                   help="lower through jax.export with symbolic dimensions (the dynamic_* ops); "
                        "programs are sampled from operations JAX can batch")


def build_parser() -> Parser:
    p = Parser(prog="jaxsynth", description="Grammar-driven JAX program synthesis, lowered to StableHLO.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def generation(s):
        s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
        s.add_argument("--weight", action="append", default=[], metavar="ALT=W", help="override a weight")
        s.add_argument("--weights", type=Path, help="file of NAME = WEIGHT lines")
        s.add_argument("--inputs", help='input signature, e.g. "f32[4,8], f32[8]"')
        s.add_argument("--shapes", choices=SHAPES, default="tiny",
                       help="shape profile: tiny dims (default) or realistic model shapes (batch, features, images)")
        s.add_argument("--dims", type=_dims, help="dimension pool (default: the profile's; tiny: 1,2,3,4,8)")
        s.add_argument("--style", choices=STYLES, default="statements", help="how programs are printed")
        s.add_argument("--out", type=Path, help="corpus directory to write")
        s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                       help="worker processes (default: one per core); the corpus is the same for any number")
        s.add_argument("--shard-size", type=_positive,
                       help=f"programs per shard (default: {SHARD_SIZE}, fewer for few or big programs)")
        s.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
        s.add_argument("--backend", choices=("local", "ray"), default="local")
        s.add_argument("--address", help="Ray cluster address (auto, HOST:PORT; default: start a local Ray)")
        _lowering_options(s)

    s = sub.add_parser("sample", help="write a corpus of random programs")
    s.add_argument("-n", type=_positive, default=2000, help="number of records (default 2000)")
    s.add_argument("--seed", type=_natural, default=0)
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops, help="largest program (top-level ops)")
    generation(s)

    s = sub.add_parser("enumerate", help="count, index or list every program up to a size")
    s.add_argument("--max-ops", type=_positive, required=True)
    s.add_argument("--count", action="store_true", help="print the number of programs of each size")
    s.add_argument("--index", type=_natural, help="print the program with this index")
    s.add_argument("--shard", type=_shard, help="I/N: only the I-th of N equal parts of the index space")
    generation(s)

    s = sub.add_parser("bench", help="the pipeline against a naive lowering loop, on the same programs")
    s.add_argument("-n", type=_positive, default=1000, help="programs (default 1000)")
    s.add_argument("--seed", type=_natural, default=0)
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1)
    s.add_argument("--shard-size", type=_positive, default=SHARD_SIZE)
    s.add_argument("--grammar", type=Path)
    s.add_argument("--json", action="store_true", help="print the measurements as JSON too")

    s = sub.add_parser("coverage", help="op coverage and program quality of a corpus")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality scan reads "
                                                "(default: the corpus's own if unchanged, else the packaged one)")

    s = sub.add_parser("show", help="print records as they are (control characters made visible)")
    s.add_argument("dir", type=Path)
    s.add_argument("-n", type=_positive, default=3, help="records to show (default 3)")
    s.add_argument("--id", help="only the record with this id")
    s.add_argument("--stablehlo", action="store_true", help="print each record's StableHLO too")
    s.add_argument("--grammar", type=Path, help="grammar that should derive the programs (default: the packaged one)")

    s = sub.add_parser("validate", help="check a corpus of unknown origin: derivations, types, StableHLO")
    s.add_argument("dir", type=Path)
    s.add_argument("--grammar", type=Path, help="grammar the corpus was made with (default: the packaged one)")
    s.add_argument("--run", action="store_true",
                   help="also execute each program on random inputs, eagerly and under jit, and compare")

    s = sub.add_parser("extract", help="lower FILE.py:FUNC and count its ops")
    s.add_argument("target", metavar="FILE.py:FUNC")
    s.add_argument("--inputs", required=True)
    _lowering_options(s)
    return p


# ---------------------------------------------------------------- helpers

def _grammar(args):
    grammar = load_grammar(args.grammar)
    items = []
    if getattr(args, "weights", None):
        items += read_weights_file(args.weights)
    for w in getattr(args, "weight", []):
        name, eq, value = w.partition("=")
        if not eq:
            raise UsageError(f"--weight {w}: expected ALT=WEIGHT")
        items.append((f"--weight {w}", name.strip(), value.strip()))
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


def _recipe(kind, args, grammar, config, inputs, **extra) -> Recipe:
    return Recipe(kind, grammar.path, grammar.text, tuple(grammar.overrides.items()), config, args.style,
                  inputs=inputs, platform=args.platform, symbolic=args.symbolic, **extra)


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

    def __init__(self, total, desc):
        from tqdm import tqdm
        self.tty, self.total, self.desc = sys.stderr.isatty(), total, desc
        self.bar = tqdm(total=total, desc=desc, unit="rec", file=sys.stderr) if self.tty else None
        super().__init__(say=(lambda line: self.bar.set_postfix_str(line)) if self.bar is not None else None)
        self.doing = f"{desc}: making the first shard"

    def __call__(self, status):
        of = f"/{self.total}" if self.total else ""
        self.doing = f"{self.desc}: {status.records}{of} records; making the next shard"
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


def _run(args, recipe, target, first=0, last=None, **manifest):
    pool = executor(args.workers, args.backend, args.address)    # before --out exists: a failed join leaves nothing
    try:
        run = Run(args.out, recipe, manifest, target, _shard_size(args, target), first, last, resume=args.resume)
    except BaseException:
        pool.shutdown()
        raise
    with _Progress(target if last is None else None, recipe.kind) as bar:
        m, status = run.execute(pool, progress=bar)
    seconds = time.monotonic() - status.started
    fails = sum(status.failures.values())
    reasons = "; ".join(f"{n}× {visible(r)}" for r, n in status.failures.most_common(3))
    made = status.records - status.kept
    kept = f" ({status.kept} kept from before)" if status.kept else ""
    print(f"wrote {status.records} records{kept} to {args.out} in {seconds:.1f} s ({made / seconds:.0f}/s); "
          f"{status.duplicates} duplicates skipped; {fails} failures{' (' + reasons + ')' if fails else ''}; "
          f"{len(status.ops & universe())} stablehlo/chlo ops covered"
          + (f"; shards made again: {status.regenerated}" if status.regenerated else ""))
    return m


# ---------------------------------------------------------------- commands

def cmd_sample(args):
    grammar = _grammar(args)
    inputs = _signature(args.inputs)
    config = Config(pools=_pools(args), max_ops=args.max_ops, batched=args.symbolic)
    space = Space(grammar, config)
    for i, t in enumerate(inputs or ()):
        if not any(i in app.slots for a in space.alts for app in space.apps(a, inputs)):
            raise UsageError(f"--inputs {args.inputs}: no operation of the grammar can use input {i} ({t})")
    args.out = args.out or DEFAULT_OUT / f"sample-seed{args.seed}-n{args.n}"
    _run(args, _recipe("sample", args, grammar, config, inputs, seed=args.seed), args.n)


def cmd_enumerate(args):
    grammar = _grammar(args)
    inputs = _signature(args.inputs)
    if inputs is None:
        raise UsageError("--inputs: enumerate needs an input signature")
    config = Config(pools=_pools(args), batched=args.symbolic)
    enum = Enumeration(Space(grammar, config), inputs)
    listing = args.count or (args.index is None and args.out is None)
    counts = []
    with _Ticker() as tick:
        for k in range(1, args.max_ops + 1):
            tick.doing = f"counting programs of size {k}"
            counts.append(enum.count(k))
            if listing:
                print(f"size {k}: {counts[-1]}", flush=True)
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
        recipe = _recipe("enumerate", args, grammar, config, inputs, max_size=args.max_ops)
        _run(args, recipe, last - first, first, last, shard=[i, n])


def cmd_bench(args):
    from .bench import bench
    grammar = load_grammar(args.grammar)
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=args.seed)
    result = bench(recipe, args.n, args.workers, args.shard_size)
    if args.json:
        print(json.dumps(result))


def _corpus_grammar(manifest: dict | None):
    """The grammar a corpus was made with, if its file is still the same; else the packaged one."""
    path = Path(manifest["grammar"]) if manifest else None
    if path is not None and is_regular(path) and path.stat().st_size < (1 << 20):
        try:
            grammar = load_grammar(path)
            if grammar.sha256 == manifest["grammar_sha256"]:
                return grammar
        except GrammarError:
            pass
    return load_grammar()


def cmd_coverage(args):
    manifest, files = corpus_files(args.dir)
    cov = Coverage(Quality(load_grammar(args.grammar) if args.grammar else _corpus_grammar(manifest)))
    for where, record, problem in iter_records(files):
        if problem:
            raise CorpusError(f"{where}: not a jaxsynth record ({problem})")
        cov.add(record)
    report = cov.report(manifest["weights"] if manifest else {})
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def cmd_show(args):
    from .validate import config_of, derive
    manifest, files = corpus_files(args.dir)
    space = Space(load_grammar(args.grammar), config_of(manifest, str(args.dir)))
    shown = 0
    for where, r, problem in iter_records(files):
        if problem:
            raise CorpusError(f"{where}: not a jaxsynth record ({problem})")
        if args.id is not None and r["id"] != args.id:
            continue
        v = {k: visible(str(x)) for k, x in r.items() if k in ("id", "size", "depth", "hash")}
        ops = ", ".join(f"{visible(o['op'].split('.', 1)[-1])}×{o['count']}" for o in r["ops"])
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
    from .validate import validate
    report = validate(args.dir, load_grammar(args.grammar), args.run)
    print(report.summary())
    if report.failures:
        raise CorpusError(f"{args.dir}: {len(report.failures)} of {report.checked} records fail validation")


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


COMMANDS = {"sample": cmd_sample, "enumerate": cmd_enumerate, "bench": cmd_bench, "coverage": cmd_coverage,
            "show": cmd_show, "validate": cmd_validate, "extract": cmd_extract}


def main(argv=None) -> int:
    # before anything starts JAX's backend (importing jax does not; nothing
    # this module imports does): programs may shard over a mesh of devices
    fake_devices()
    try:
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except (UsageError, GrammarError, CorpusError, SignatureError, NoProgram) as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxsynth: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
