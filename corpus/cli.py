"""The `jaxsynth` command: sample, enumerate, coverage, show, extract.

Bad input (grammar, annotation, weight, signature, corpus, file) ends with one
line `jaxsynth: error: PLACE: what` and exit code 2, never a traceback, and a
corpus that is already written is never touched.
"""
from __future__ import annotations

import argparse
import json
import random
import sys
from pathlib import Path

from ..lowering import LoweringError, load_function, lower
from ..synth.grammar import GrammarError, load_grammar, override_weights, read_weights_file
from ..synth.printer import STYLES
from ..synth.rules import Pools
from ..synth.space import Config, Enumeration, NoProgram, Space
from ..synth.types import SignatureError, parse_signature
from .coverage import Coverage, format_report
from .records import MANIFEST, CorpusError, Writer, make_record, read_records, versions

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


def build_parser() -> Parser:
    p = Parser(prog="jaxsynth", description="Grammar-driven JAX program synthesis, lowered to StableHLO.")
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser)

    def generation(s):
        s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
        s.add_argument("--inputs", help='input signature, e.g. "f32[4,8], f32[8]"')
        s.add_argument("--dims", type=_dims, default=Pools().dims, help="dimension pool (default 1,2,3,4,8)")
        s.add_argument("--style", choices=STYLES, default="statements", help="how programs are printed")
        s.add_argument("--out", type=Path, help="corpus directory to write")

    s = sub.add_parser("sample", help="write a corpus of random programs")
    s.add_argument("-n", type=_positive, default=2000, help="number of records (default 2000)")
    s.add_argument("--seed", type=_natural, default=0)
    s.add_argument("--weight", action="append", default=[], metavar="ALT=W", help="override a weight")
    s.add_argument("--weights", type=Path, help="file of NAME = WEIGHT lines")
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops, help="largest program (top-level ops)")
    generation(s)

    s = sub.add_parser("enumerate", help="count, index or list every program up to a size")
    s.add_argument("--max-ops", type=_positive, required=True)
    s.add_argument("--count", action="store_true", help="print the number of programs of each size")
    s.add_argument("--index", type=_natural, help="print the program with this index")
    generation(s)

    s = sub.add_parser("coverage", help="op coverage of a corpus")
    s.add_argument("dir", type=Path)
    s.add_argument("--json", action="store_true")

    s = sub.add_parser("show", help="print records readably")
    s.add_argument("dir", type=Path)
    s.add_argument("-n", type=_positive, default=3)

    s = sub.add_parser("extract", help="lower FILE.py:FUNC and count its ops")
    s.add_argument("target", metavar="FILE.py:FUNC")
    s.add_argument("--inputs", required=True)
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


def _signature(text):
    if text is None:
        return None
    try:
        return parse_signature(text)
    except SignatureError as e:
        raise UsageError(f"--inputs: {e}") from None


def _progress(total, desc):
    from tqdm import tqdm
    return tqdm(total=total, desc=desc, unit="prog", disable=not sys.stderr.isatty(), file=sys.stderr)


def _manifest(command, args, grammar, config, **extra):
    return {"format": 1, "command": command, **extra,
            "config": {"max_ops": config.max_ops, "max_body_ops": config.max_body_ops,
                       "max_depth": config.max_depth, "max_inputs": config.max_inputs,
                       "dims": list(config.pools.dims), "floats": list(config.pools.floats),
                       "small_ints": list(config.pools.small_ints), "style": args.style},
            "grammar": grammar.path, "grammar_sha256": grammar.sha256,
            "weights": grammar.weights(), "versions": versions()}


def _write(writer, programs, grammar, style, total, desc):
    """Lower and write (origin, program) pairs until `total` records; dedup by hash.
    A run that fails or is interrupted leaves no partial records file."""
    seen = set()
    try:
        with _progress(total, desc) as bar:
            for origin, program in programs:
                if writer.records >= total:
                    break
                if program.structural_hash in seen:
                    writer.duplicates += 1
                    continue
                try:
                    record = make_record(program, grammar, style, id=f"{writer.records:07d}", **origin)
                except LoweringError as e:
                    writer.failures[str(e)[:120]] += 1
                    continue
                seen.add(program.structural_hash)
                writer.write(record)
                bar.update()
    except BaseException:
        writer.abort()
        raise
    return writer.close()


# ---------------------------------------------------------------- commands

def cmd_sample(args):
    grammar = _grammar(args)
    inputs = _signature(args.inputs)
    config = Config(pools=Pools(dims=args.dims), max_ops=args.max_ops)
    space = Space(grammar, config)
    for i, t in enumerate(inputs or ()):
        if not any(i in app.slots for a in space.alts for app in space.apps(a, inputs)):
            raise UsageError(f"--inputs {args.inputs}: no operation of the grammar can use input {i} ({t})")
    out = args.out or DEFAULT_OUT / f"sample-seed{args.seed}-n{args.n}"
    writer = Writer(out, _manifest("sample", args, grammar, config, seed=args.seed, n=args.n))

    def programs():
        k = 0
        while True:
            try:
                program = space.sample(random.Random(f"{args.seed}:{k}"), inputs)
            except NoProgram as e:
                raise UsageError(f"--inputs {args.inputs}: {e}") from None
            yield {"seed": args.seed, "index": k}, program
            k += 1

    m = _write(writer, programs(), grammar, args.style, args.n, "sample")
    print(f"wrote {m['counts']['records']} records to {out} "
          f"({m['counts']['duplicates_skipped']} duplicates skipped, {sum(m['counts']['failures'].values())} failures)")


def cmd_enumerate(args):
    grammar = _grammar(args)
    inputs = _signature(args.inputs)
    if inputs is None:
        raise UsageError("--inputs: enumerate needs an input signature")
    config = Config(pools=Pools(dims=args.dims))
    enum = Enumeration(Space(grammar, config), inputs)
    counts = enum.counts(args.max_ops)
    if args.count or (args.index is None and args.out is None):
        for k, c in enumerate(counts, 1):
            print(f"size {k}: {c}")
        print(f"total: {sum(counts)}")
    if args.index is not None:
        if args.index >= sum(counts):
            raise UsageError(f"--index {args.index}: only {sum(counts)} programs up to size {args.max_ops}")
        from ..synth.printer import to_source
        size, i = enum.locate(args.index, args.max_ops)
        print(to_source(enum.program(size, i).tree, grammar, args.style), end="")
    if args.out is not None:
        writer = Writer(args.out, _manifest("enumerate", args, grammar, config,
                                            inputs=[str(t) for t in inputs], max_size=args.max_ops))
        programs = (({"index": i}, enum.program(k, i))
                    for k in range(1, args.max_ops + 1) for i in range(enum.count(k)))
        m = _write(writer, programs, grammar, args.style, sum(counts), "enumerate")
        print(f"wrote {m['counts']['records']} records to {args.out}")


def _read_manifest(path):
    try:
        return json.loads((path / MANIFEST).read_text())
    except (OSError, json.JSONDecodeError):
        return {}


def cmd_coverage(args):
    cov = Coverage()
    for record in read_records(args.dir):
        cov.add(record)
    report = cov.report(_read_manifest(args.dir).get("weights", {}))
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
        lowered = lower(fn, [t.spec() for t in inputs])
    except LoweringError as e:
        raise UsageError(f"{args.target}: lowering failed: {e}") from None
    print(lowered.text.rstrip())
    print()
    for op, n in sorted(lowered.ops.items(), key=lambda kv: (-kv[1], kv[0])):
        print(f"{n:>6}  {op}")


COMMANDS = {"sample": cmd_sample, "enumerate": cmd_enumerate, "coverage": cmd_coverage,
            "show": cmd_show, "extract": cmd_extract}


def main(argv=None) -> int:
    try:
        args = build_parser().parse_args(argv)
        COMMANDS[args.command](args)
    except (UsageError, GrammarError, CorpusError, SignatureError) as e:
        print(f"jaxsynth: error: {' '.join(str(e).split())}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("jaxsynth: interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())
