"""The `jaxsynth` command: sample, enumerate, coverage, show, extract.

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
from ..synth.types import SignatureError, parse_signature
from .coverage import Coverage, format_report
from .quality import Quality
from .pipeline import Recipe, Run, build, executor
from .records import MANIFEST, CorpusError, read_records, versions

DEFAULT_OUT = Path("corpus") / "out"


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
        s.add_argument("--shard-size", type=_positive, default=250, help="programs per shard (default 250)")
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
    s.add_argument("--shard-size", type=_positive, default=250)
    s.add_argument("--grammar", type=Path)
    s.add_argument("--json", action="store_true", help="print the measurements as JSON too")

    s = sub.add_parser("coverage", help="op coverage and program quality of a corpus")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality scan reads "
                                                "(default: the corpus's own if unchanged, else the packaged one)")

    s = sub.add_parser("show", help="print records readably")
    s.add_argument("dir", type=Path)
    s.add_argument("-n", type=_positive, default=3)

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


class _Progress:
    """A bar with rate and ETA on a terminal; elsewhere a line every few seconds."""
    def __init__(self, total, desc):
        from tqdm import tqdm
        self.tty, self.total, self.desc, self.last = sys.stderr.isatty(), total, desc, time.monotonic()
        self.bar = tqdm(total=total, desc=desc, unit="rec", file=sys.stderr) if self.tty else None

    def __call__(self, status):
        if self.bar is not None:
            self.bar.update(status.records - self.bar.n)
        elif time.monotonic() - self.last > 5:
            self.last = time.monotonic()
            rate = status.records / max(self.last - status.started, 1e-9)
            of = f"/{self.total}" if self.total else ""
            print(f"{self.desc}: {status.records}{of} records, {rate:.0f}/s", file=sys.stderr, flush=True)

    def close(self):
        if self.bar is not None:
            self.bar.close()


def _run(args, recipe, target, first=0, last=None, **manifest):
    grammar = build(recipe)[0]
    manifest = {"grammar": recipe.grammar_path, "grammar_sha256": grammar.sha256,
                "weights": grammar.weights(), **manifest, "versions": versions()}
    run = Run(args.out, recipe, manifest, target, args.shard_size, first, last, resume=args.resume)
    pool = executor(args.workers, args.backend, args.address)
    bar = _Progress(target if last is None else None, recipe.kind)
    try:
        m, status = run.execute(pool, progress=bar)
    finally:
        bar.close()
    seconds = time.monotonic() - status.started
    fails = sum(status.failures.values())
    reasons = "; ".join(f"{n}× {r}" for r, n in status.failures.most_common(3))
    print(f"wrote {status.records} records to {args.out} in {seconds:.1f} s ({status.records / seconds:.0f}/s); "
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
    counts = enum.counts(args.max_ops)
    total = sum(counts)
    i, n = args.shard or (0, 1)
    first, last = i * total // n, (i + 1) * total // n
    if args.count or (args.index is None and args.out is None):
        for k, c in enumerate(counts, 1):
            print(f"size {k}: {c}")
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


def _read_manifest(path):
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def _corpus_grammar(manifest: dict):
    """The grammar a corpus was made with, if its file is still the same; else the packaged one."""
    path = manifest.get("grammar")
    if isinstance(path, str):
        try:
            grammar = load_grammar(path)
            if grammar.sha256 == manifest.get("grammar_sha256"):
                return grammar
        except GrammarError:
            pass
    return load_grammar()


def cmd_coverage(args):
    manifest = _read_manifest(args.dir)
    cov = Coverage(Quality(load_grammar(args.grammar) if args.grammar else _corpus_grammar(manifest)))
    for record in read_records(args.dir):
        cov.add(record)
    report = cov.report(manifest.get("weights", {}))
    print(json.dumps(report, indent=2) if args.json else format_report(report))


def cmd_show(args):
    for k, r in enumerate(read_records(args.dir)):
        if k >= args.n:
            break
        ops = ", ".join(f"{o['op'].split('.', 1)[1]}×{o['count']}" for o in r["ops"] if o["op"].startswith(("stablehlo.", "chlo.")))
        print(f"── {r['id']}  {', '.join(r['inputs'])} -> {', '.join(r['outputs'])}  "
              f"size {r['size']} depth {r['depth']}  hash {r['hash'][:12]}")
        print(r["python"].split("\n\n\n", 1)[-1].rstrip())
        print(f"   ops: {ops}\n")


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
            "show": cmd_show, "extract": cmd_extract}


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
