"""The `jaxsynth` commands: sample, enumerate, tune, bench, coverage, report,
show, validate, export, extract, reference; each takes the parsed options
(`options`) and raises a one-line error for bad input.
"""
from __future__ import annotations

import json
import sys
from pathlib import Path

from ...lowering import LoweringError, load_function, lower
from ...synth.grammar import load_grammar
from ...synth.space import Config, Space
from ..analysis.coverage import (ALT_FIELDS, COMPARE_FIELDS, OP_FIELDS, alt_matrix, alt_rows, collect, compare,
                                 format_alt_matrix, format_compare, format_report, op_rows, to_csv)
from ..analysis.quality import Quality
from ..publish.card import write_card
from ..run.files import CorpusError, atomic_write
from ..run.install import install_hint
from ..run.readers import checked_records, corpus_files, read_manifest, visible
from ..run.recipe import Recipe, build, config_of, given
from .jobs import (cache_of, corpus_grammar, grammar_of, pool_of, pools_of, recipe_of, run, signature_of,
                   workers_of)
from .options import DEFAULT_OUT, UsageError
from .progress import Progress, count_sizes


def cmd_sample(args):
    # options first: loading the grammar imports JAX (seconds), which a usage error need not wait for
    inputs = signature_of(args.inputs)
    if args.uniform and inputs is None:
        raise UsageError("--uniform: needs --inputs (it draws among the programs of one signature)")
    if args.uniform and args.swarm:
        raise UsageError("--swarm: not with --uniform (a uniform draw is among the programs of all alternatives)")
    cache = cache_of(args)
    way = "-uniform" if args.uniform else f"-swarm{args.swarm}" if args.swarm else ""
    args.out = args.out or DEFAULT_OUT / f"sample-seed{args.seed}-n{args.n}{way}"
    # local workers start while the grammar loads (a uniform run's share what is counted here)
    pool = pool_of(args, args.n) if args.backend == "local" and not args.uniform else None
    try:
        _sample(args, inputs, cache, pool)
    except BaseException:
        if pool is not None:
            pool.shutdown(now=True)
        raise


def _sample(args, inputs, cache, pool):
    grammar = grammar_of(args)
    config = Config(pools=pools_of(args), max_ops=args.max_ops, batched=args.symbolic)
    recipe = recipe_of("sample", args, grammar, config, inputs, cache, seed=args.seed, uniform=args.uniform,
                     swarm=args.swarm, max_size=args.max_ops if args.uniform else 0)
    _, space, enum = build(recipe)      # the pipeline's own (cached): what is counted here serves its shards
    if args.swarm and args.swarm > len(space.alts):
        raise UsageError(f"--swarm {args.swarm}: more than the {len(space.alts)} alternatives of weight > 0")
    for i, t in enumerate(inputs or ()):
        if not any(i in app.slots for a in space.alts for app in space.apps(a, inputs)):
            raise UsageError(f"--inputs {args.inputs}: no operation of the grammar can use input {i} ({t})")
    if args.uniform:
        total = sum(count_sizes(enum, args.max_ops, args.time_limit, lambda k, c: print(f"jaxsynth: size {k}: {c} programs",
                                                                    file=sys.stderr, flush=True)))
        if args.n > total:
            raise UsageError(f"-n {args.n}: only {total} programs of size 1..{args.max_ops} "
                             f"for --inputs {args.inputs}")
    run(args, recipe, args.n, pool=pool)


def cmd_enumerate(args):
    inputs = signature_of(args.inputs)     # before the grammar, as in cmd_sample
    if inputs is None:
        raise UsageError("--inputs: enumerate needs an input signature")
    cache = cache_of(args) if args.out is not None else None
    grammar = grammar_of(args)
    config = Config(pools=pools_of(args), batched=args.symbolic)
    recipe = recipe_of("enumerate", args, grammar, config, inputs, cache, max_size=args.max_ops)
    enum = build(recipe)[2]     # the pipeline's own (cached): what is counted here serves its shards
    listing = args.count or (args.index is None and args.out is None)
    counts = count_sizes(enum, args.max_ops, args.time_limit, (lambda k, c: print(f"size {k}: {c}", flush=True)) if listing else None)
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
        from ...synth.printer import to_source
        size, k = enum.locate(args.index, args.max_ops)
        print(to_source(enum.program(size, k).tree, grammar, args.style), end="")
    if args.out is not None:
        run(args, recipe, last - first, first, last, shard=[i, n])


def cmd_bench(args):
    from .bench import bench
    grammar = load_grammar(args.grammar)
    given(grammar)
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=args.seed)
    # with --json, stdout is one JSON document: the report goes to stderr
    say = (lambda line: print(line, file=sys.stderr, flush=True)) if args.json else print
    result = bench(recipe, args.n, args.workers, args.shard_size, args.cold, args.shard, say=say)
    if args.json:
        print(json.dumps(result))


def cmd_export(args):
    from ..publish.export import SPLITS, export, parse_fractions
    try:
        fractions = parse_fractions(args.splits)
    except ValueError as e:
        raise UsageError(f"--splits {args.splits}: {e}") from None
    counts = export(args.dir, args.parquet, fractions)
    print(f"wrote {sum(counts)} records to {args.parquet}: "
          + ", ".join(f"{split} {n}" for split, n in zip(SPLITS, counts)))


def cmd_coverage(args):
    if args.compare and args.by_alt:
        raise UsageError("--by-alt: not with --compare (it is the matrix of one corpus)")

    def read(directory):
        manifest, files = corpus_files(directory)
        grammar = load_grammar(args.grammar) if args.grammar else corpus_grammar(manifest)
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
    from ..run.validate import derive
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
    from ..run.pipeline import Status
    from ..run.validate import validate
    grammar = load_grammar(args.grammar)
    manifest = read_manifest(args.dir) if args.dir.is_dir() else None     # for the bar's total alone
    status = Status()

    def progress(checked):
        status.records = checked
        bar(status)
    words = ("checking the first file", "checking the next file", "stopping the workers")
    with Progress(manifest["counts"]["records"] if manifest else None, "validate", words) as bar:
        # on a terminal, a line goes above the bar instead of through it
        say = bar.bar.write if bar.bar is not None else print
        report = validate(args.dir, grammar, args.run, say=say, workers=workers_of(args, args.workers),
                          progress=progress)
    print(report.summary())
    if report.failures:
        raise CorpusError(f"{args.dir}: {len(report.failures)} of {report.checked} records fail validation")


def cmd_report(args):
    try:
        from ..publish import report
    except ModuleNotFoundError as e:
        if not (e.name or "").startswith("matplotlib"):
            raise
        raise UsageError(f"report: matplotlib is not installed: {install_hint('report')}") from None
    report.check_output(args.html)      # before reading: a refused OUT costs no wait
    grammar = load_grammar(args.grammar) if args.grammar else None
    scans = [report.scan(d, lambda m: grammar or corpus_grammar(m)) for d in (args.dir, args.compare) if d]
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
    inputs = signature_of(args.inputs)
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

    from ..analysis.targets import corpus_target, file_target, realistic_target
    from ..analysis.tune import format_weights, summary, tune
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
    grammar = grammar_of(args)
    config = Config(pools=pools_of(args), max_ops=args.max_ops)
    given(grammar)
    recipe = Recipe("sample", grammar.path, grammar.text, tuple(grammar.overrides.items()), config, "statements",
                    seed=args.seed)
    with tempfile.TemporaryDirectory(prefix="jaxsynth-tune-") as tmp:
        tuned = tune(recipe, target, args.measure, programs=args.n, verify=args.verify,
                     iterations=args.iterations, tolerance=args.tolerance, workers=args.workers,
                     work=args.work or Path(tmp), solver=args.solver, card=write_card)
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
    atomic_write(args.out, format_weights(tuned.weights, header).encode())
    print(f"wrote {args.out}")


def cmd_reference(args):
    from ..analysis.realistic import format_table, ops_of_real_code
    try:
        records = ops_of_real_code(args.platform)
    except LoweringError as e:
        raise UsageError(f"reference: {e}") from None
    print("\n".join(json.dumps(r) for r in records) if args.json else format_table(records, args.measure))


COMMANDS = {"sample": cmd_sample, "enumerate": cmd_enumerate, "tune": cmd_tune, "bench": cmd_bench,
            "coverage": cmd_coverage, "report": cmd_report, "show": cmd_show, "validate": cmd_validate,
            "export": cmd_export, "extract": cmd_extract,
            "reference": cmd_reference}
