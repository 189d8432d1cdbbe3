"""`jaxsynth bench`: lowering strategies side by side, on the same programs, in one run.

For each workload (a `sample` of -n programs, and one shard of the
enumeration of `--max-ops 3 --inputs "f32[2]" --dims 2`) it times
- the naive loop a simple generator is: one process, and for each program
  `exec` of its checked text (`safety.load_program`, as everywhere) +
  `jax.jit(f).lower(...).as_text()` + one JSON file per pair; its programs
  are made beforehand and not timed, which favours it;
- the pipeline end to end (sample, dedup, print, lower, count ops, write
  shards, worker start-up included) with the `batched` strategy (every
  program lowered by JAX, many to a module);
- the same with the `compose` strategy (programs spliced from their steps'
  lowerings), from an empty fragment cache with `cold`, else from the cache
  an untimed run over the same programs filled;
then prints rates, ratios and how compose found its steps (memory, disk,
lowered) and lowered its programs (spliced, by JAX), and a profile of the
work per program, stage by stage, in one process.
"""
from __future__ import annotations

import dataclasses
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from ..synth.safety import load_program
from ..synth.printer import to_source
from ..synth.types import parse_signature
from ..synth.rules import SHAPES
from .compose import Composer
from .pipeline import Recipe, Run, build, composer, executor, programs

ENUMERATE = {"inputs": "f32[2]", "max_ops": 3, "dims": (2,)}     # the enumerate workload
SHARD = (0, 500)        # its default part of the index space


def enumerate_recipe(grammar, shard: tuple[int, int] = SHARD) -> tuple[Recipe, int, int]:
    """(recipe, first, last) of shard I/N of the ENUMERATE workload, as
    `jaxsynth enumerate --shard I/N` cuts it."""
    from ..synth.space import Config
    config = Config(pools=dataclasses.replace(SHAPES["tiny"], dims=ENUMERATE["dims"]))
    recipe = Recipe("enumerate", grammar.path, grammar.text, (), config, "statements",
                    inputs=parse_signature(ENUMERATE["inputs"]), max_size=ENUMERATE["max_ops"])
    total = sum(build(recipe)[2].counts(ENUMERATE["max_ops"]))
    i, n = shard
    return recipe, total * i // n, total * (i + 1) // n


def naive(recipe, first: int, last: int, out: Path) -> float:
    """Programs/s of the naive loop over the recipe's programs first..last-1
    (`compare` gives it at most -n of a workload: it is slow)."""
    import jax
    grammar = build(recipe)[0]
    jax.clear_caches()
    sources = [(to_source(p.tree, grammar), [t.spec() for t in p.inputs])
               for _, p in programs(recipe, first, last) if not isinstance(p, Exception)]
    start = time.perf_counter()
    for k, (source, specs) in enumerate(sources):
        try:
            text = jax.jit(load_program(source)).lower(*specs).as_text()
        except Exception:       # as the pipeline does, a program that does not lower is passed over
            continue
        (out / f"{k}.json").write_text(json.dumps({"python": source, "stablehlo": text}))
    return (last - first) / (time.perf_counter() - start)


def pipeline(recipe, first: int, last: int, out: Path, workers: int, shard_size: int) -> tuple[float, dict]:
    """(programs/s of a pipeline run over first..last-1, its run Status)."""
    start = time.perf_counter()
    run = Run(out, recipe, {}, last - first if recipe.kind == "enumerate" else last, shard_size,
              first, last if recipe.kind == "enumerate" else None)
    _, status = run.execute(executor(workers))
    return (last - first) / (time.perf_counter() - start), status


def profile(recipe, first: int, last: int, cache=None) -> dict[str, float]:
    """Milliseconds per program of each stage, one process, compose strategy;
    and what JAX's own lowering (trace+lower+as_text, batched) costs instead."""
    import jax

    from ..lowering import lower_batch
    from .records import BATCH
    grammar = build(recipe)[0]
    jax.clear_caches()
    composer = Composer(grammar, recipe.platform, cache)
    stages = Counter()
    made = programs(recipe, first, last)
    done = []
    for _ in range(last - first):
        t0 = time.perf_counter()
        _, p = next(made)
        t1 = time.perf_counter()
        if isinstance(p, Exception):
            continue
        h = p.structural_hash
        t2 = time.perf_counter()
        source = to_source(p.tree, grammar)
        t3 = time.perf_counter()
        stages["sample"] += t1 - t0
        stages["hash"] += t2 - t1
        stages["print"] += t3 - t2
        done.append((p, source, h))
    t0 = time.perf_counter()
    composed = composer.lower([p for p, _, _ in done])
    stages["compose (all)"] += time.perf_counter() - t0
    for kind, seconds in composer.times.items():
        stages[f"  {kind}"] += seconds
    t0 = time.perf_counter()
    for (p, source, h), c in zip(done, composed):
        json.dumps({"python": source, "stablehlo": c.text, "ops": c.ops, "hash": h})
    stages["json"] += time.perf_counter() - t0
    # JAX's own lowering of the same programs, for comparison
    items = [(load_program(source), [t.spec() for t in p.inputs]) for p, source, _ in done]
    t0 = time.perf_counter()
    for i in range(0, len(items), BATCH):
        lower_batch(items[i:i + BATCH])
    stages["instead: lower_batch (JAX)"] += time.perf_counter() - t0
    n = max(len(done), 1)
    return {k: 1000 * v / n for k, v in stages.items()}


def _cache(root: Path, recipe):
    from .compose import FragmentCache
    return FragmentCache(root, build(recipe)[0].sha256, recipe.platform)


def compare(recipe, first: int, last: int, workers: int, shard_size: int, cold: bool, say, tmp: Path,
            naive_n: int) -> dict:
    """Naive (on the first `naive_n`), batched and compose on the programs
    first..last-1 of a recipe."""
    (tmp / "naive").mkdir()
    result = {"programs": last - first}
    result["naive"] = naive(recipe, first, min(last, first + naive_n), tmp / "naive")
    say(f"  naive loop (1 process, one file per pair, {min(last - first, naive_n)} programs): "
        f"{result['naive']:8.1f} programs/s")
    batched = dataclasses.replace(recipe, strategy="batched")
    result["batched"], _ = pipeline(batched, first, last, tmp / "batched", workers, shard_size)
    say(f"  batched ({workers} workers, end to end):     {result['batched']:8.1f} programs/s")
    compose = dataclasses.replace(recipe, strategy="compose", verify=0.0, cache=str(tmp / "cache"))
    if not cold:    # an untimed run over the same programs fills the cache
        pipeline(compose, first, last, tmp / "fill", workers, shard_size)
        composer.cache_clear()      # (one worker runs in this process) warm is the disk's, not memory
    result["compose"], status = pipeline(compose, first, last, tmp / "compose", workers, shard_size)
    steps, lowered = status.fragments, status.lowering
    met = sum(steps[k] for k in ("hit", "disk", "lowered")) or 1
    result["steps"] = {k: steps[k] / met for k in ("hit", "disk", "lowered")}
    made = lowered["spliced"] + lowered["by_jax"] or 1
    result["spliced"] = lowered["spliced"] / made
    say(f"  compose ({workers} workers, {'cold' if cold else 'warm'} cache):   {result['compose']:8.1f} programs/s; "
        f"steps {result['steps']['hit']:.0%} in memory, {result['steps']['disk']:.0%} on disk, "
        f"{result['steps']['lowered']:.0%} lowered; {result['spliced']:.0%} of programs spliced, the rest by JAX")
    result["ratios"] = {"compose/batched": result["compose"] / result["batched"],
                        "compose/naive": result["compose"] / result["naive"],
                        "batched/naive": result["batched"] / result["naive"]}
    say("  ratios: " + ", ".join(f"{k} {v:.2f}x" for k, v in result["ratios"].items()))
    stages = profile(compose, first, min(last, first + 500), _cache(tmp / "cache", recipe))
    result["stages_ms"] = stages
    say("  work per program, one process (ms): " + ", ".join(f"{k.strip()} {v:.2f}" for k, v in stages.items()))
    return result


def bench(recipe, n: int, workers: int, shard_size: int, cold: bool = False, shard=SHARD, say=print) -> dict:
    out = {"cold": cold, "workers": workers}
    grammar = build(recipe)[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        say(f"sample: {n} programs of seed {recipe.seed}")
        (tmp / "sample").mkdir()
        out["sample"] = compare(recipe, 0, n, workers, shard_size, cold, say, tmp / "sample", n)
        erecipe, first, last = enumerate_recipe(grammar, shard)
        say(f"enumerate --max-ops {ENUMERATE['max_ops']} --inputs \"{ENUMERATE['inputs']}\" --dims 2 "
            f"--shard {shard[0]}/{shard[1]}: {last - first} programs")
        (tmp / "enumerate").mkdir()
        out["enumerate"] = compare(erecipe, first, last, workers, shard_size, cold, say, tmp / "enumerate", n)
    return out
