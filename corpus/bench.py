"""`jaxsynth bench`: the pipeline against a naive loop, on the same programs, in one run.

The naive loop is what a simple generator does: one process, and for each
program `exec` of its checked text (`safety.load_program`, as everywhere) +
`jax.jit(f).lower(...).as_text()` + one JSON file per pair.
Both sides lower for cpu, with the fake devices of every lowering process.
Its programs are made beforehand and not timed, which favours it. The
pipeline runs end to end (sample, dedup, print, lower in batches, count ops,
write shards), worker start-up included. A profile of the work per program
follows, stage by stage, to show where the time goes.
"""
from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path

from ..lowering import count_ops, lower_batch
from ..synth.safety import load_program
from ..synth.printer import to_source
from .pipeline import Run, build, executor, programs
from .records import BATCH


def naive(recipe, n: int, out: Path) -> float:
    """Programs/s of the naive loop over the recipe's first n programs."""
    import jax
    grammar = build(recipe)[0]
    jax.clear_caches()
    sources = [(to_source(p.tree, grammar), [t.spec() for t in p.inputs]) for _, p in programs(recipe, 0, n)]
    start = time.perf_counter()
    for k, (source, specs) in enumerate(sources):
        try:
            text = jax.jit(load_program(source)).lower(*specs).as_text()
        except Exception:       # as the pipeline does, a program that does not lower is passed over
            continue
        (out / f"{k}.json").write_text(json.dumps({"python": source, "stablehlo": text}))
    return n / (time.perf_counter() - start)


def pipeline(recipe, n: int, out: Path, workers: int, shard_size: int) -> float:
    start = time.perf_counter()
    run = Run(out, recipe, {}, n, shard_size)
    run.execute(executor(workers))
    return n / (time.perf_counter() - start)


def profile(recipe, n: int) -> dict[str, float]:
    """Milliseconds per program of each stage, one process."""
    import jax
    grammar = build(recipe)[0]
    jax.clear_caches()          # what the naive loop left there slows lowering down
    sources, made = [], programs(recipe, 0, n)
    stages = dict.fromkeys(["sample", "print", "exec", "trace+lower", "as_text", "count ops", "hash", "json"], 0.0)
    for _ in range(n):
        t0 = time.perf_counter()
        _, p = next(made)
        t1 = time.perf_counter()
        source = to_source(p.tree, grammar)
        t2 = time.perf_counter()
        fn = load_program(source)
        t3 = time.perf_counter()
        try:
            lowered = jax.jit(fn).lower(*[t.spec() for t in p.inputs])
        except Exception:       # passed over, as the pipeline passes it over
            continue
        t4 = time.perf_counter()
        text = lowered.as_text()
        t5 = time.perf_counter()
        ops = count_ops(lowered.compiler_ir("stablehlo"))
        t6 = time.perf_counter()
        h = p.structural_hash
        t7 = time.perf_counter()
        json.dumps({"python": source, "stablehlo": text, "ops": ops, "hash": h})
        t8 = time.perf_counter()
        for name, dt in zip(stages, (t1 - t0, t2 - t1, t3 - t2, t4 - t3, t5 - t4, t6 - t5, t7 - t6, t8 - t7)):
            stages[name] += dt
        sources.append((source, [t.spec() for t in p.inputs]))
    # what the pipeline does instead of trace+lower+as_text+count: whole batches
    # (functions loaded afresh, so nothing JAX cached for them above is reused)
    items = [(load_program(source), specs) for source, specs in sources]
    t0 = time.perf_counter()
    for i in range(0, n, BATCH):
        lower_batch(items[i:i + BATCH])
    batched = time.perf_counter() - t0
    result = {k: 1000 * v / n for k, v in stages.items()}
    result["lower_batch (instead of the three before)"] = 1000 * batched / n
    return result


def bench(recipe, n: int, workers: int, shard_size: int, say=print) -> dict:
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        (tmp / "naive").mkdir()
        rate_naive = naive(recipe, n, tmp / "naive")
        say(f"naive loop (1 process, one file per pair): {rate_naive:8.1f} programs/s")
        rate = pipeline(recipe, n, tmp / "pipeline", workers, shard_size)
        say(f"jaxsynth pipeline ({workers} workers, end to end): {rate:8.1f} programs/s")
        say(f"ratio: {rate / rate_naive:.2f}x")
    stages = profile(recipe, min(n, 200))
    say("work per program, one process (ms): " + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    return {"naive": rate_naive, "pipeline": rate, "ratio": rate / rate_naive, "stages_ms": stages}
