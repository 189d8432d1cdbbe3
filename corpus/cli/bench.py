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
  lowerings), the default, cold: from an empty fragment cache, as a first
  run on a machine is;
- compose again, warm: from the cache the cold run filled, in fresh
  processes (unless `cold_only`);
then prints each rate with its ratio to the naive loop and to batched, how
compose found its steps (memory, disk, lowered) and lowered its programs
(spliced, by JAX), and a profile of the work per program, stage by stage,
in one process, cold and warm.
"""
from __future__ import annotations

import dataclasses
import gc
import json
import tempfile
import time
from collections import Counter
from pathlib import Path

from ...lowering import LoweringError
from ...synth.printer import to_source
from ...synth.rules import SHAPES
from ...synth.safety import load_program
from ...synth.types import parse_signature
from ..publish.card import Summary, write_card
from ..run.compose import Composer, FragmentCache
from ..run.executors import executor
from ..run.pipeline import Run
from ..run.recipe import Recipe, build, programs, shared
from ..run.records import make_records
from ..run.shards import GC_THRESHOLDS
from ..run.shards import composer as process_composer

ENUMERATE = {"inputs": "f32[2]", "max_ops": 3, "dims": (2,)}     # the enumerate workload
SHARD = (0, 500)        # its default part of the index space


def enumerate_recipe(grammar, shard: tuple[int, int] = SHARD) -> tuple[Recipe, int, int]:
    """(recipe, first, last) of shard I/N of the ENUMERATE workload, as
    `jaxsynth enumerate --shard I/N` cuts it."""
    from ...synth.space import Config
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
    import jax
    jax.clear_caches()      # this process makes shards too: not from what an earlier side traced
    start = time.perf_counter()
    run = Run(out, recipe, {}, last - first if recipe.kind == "enumerate" else last, shard_size,
              first, last if recipe.kind == "enumerate" else None)
    summary = Summary()
    _, status = run.execute(executor(workers, setup=shared(recipe)), each=summary.add)
    write_card(out, summary)        # as a user's run does
    return (last - first) / (time.perf_counter() - start), status


def profile(recipe, first: int, last: int, cache: FragmentCache | None) -> dict[str, float]:
    """Milliseconds per program of each stage of making records, in one
    process as a worker makes them (compose strategy, nothing verified)."""
    import jax
    grammar, space, _ = build(recipe)
    jax.clear_caches()
    space.clear_caches()        # as a worker's are after each shard (the transfers' tables kept)
    composer = Composer(grammar, recipe.platform, cache)
    thresholds = gc.get_threshold()
    gc.set_threshold(*GC_THRESHOLDS)
    try:
        t0 = time.perf_counter()
        drawn = [(o, p) for o, p in programs(recipe, first, last) if not isinstance(p, Exception)]
        t1 = time.perf_counter()
        for _, p in drawn:
            p.structural_hash
        t2 = time.perf_counter()
        times: Counter = Counter()
        for _, record in make_records(drawn, grammar, recipe.style, platform=recipe.platform, composer=composer,
                                      times=times):
            if not isinstance(record, LoweringError):
                json.dumps(record, ensure_ascii=False)
        t3 = time.perf_counter()
    finally:
        gc.set_threshold(*thresholds)
    stages = Counter({"sample": t1 - t0, "hash": t2 - t1, **times})
    for kind, seconds in composer.times.items():
        stages[f"compose: {kind}"] += seconds
    stages["records and JSON"] = (t3 - t2) - sum(times.values())
    n = max(len(drawn), 1)
    return {k: 1000 * v / n for k, v in stages.items()}


def compare(recipe, first: int, last: int, workers: int, shard_size: int, cold_only: bool, say, tmp: Path,
            naive_n: int) -> dict:
    """Naive (on the first `naive_n`), batched, compose cold and compose warm
    on the programs first..last-1 of a recipe."""
    (tmp / "naive").mkdir()
    result: dict = {"programs": last - first, "rates": {}, "steps": {}, "spliced": {}, "stages_ms": {}}
    rates = result["rates"]
    rates["naive"] = naive(recipe, first, min(last, first + naive_n), tmp / "naive")
    say(f"  naive loop (1 process, one file per pair, {min(last - first, naive_n)} programs): "
        f"{rates['naive']:8.1f} programs/s")
    rates["batched"], _ = pipeline(dataclasses.replace(recipe, strategy="batched"), first, last, tmp / "batched",
                                   workers, shard_size)
    say(f"  batched ({workers} workers, end to end):     {rates['batched']:8.1f} programs/s "
        f"({rates['batched'] / rates['naive']:.2f}x naive)")
    compose = dataclasses.replace(recipe, strategy="compose", verify=0.0, cache=str(tmp / "cache"))
    for run in ("cold",) if cold_only else ("cold", "warm"):
        # warm: the cache the cold run filled, read by fresh processes (or, with one
        # worker, by this one after forgetting what it kept in memory)
        process_composer.cache_clear()
        rates[f"compose {run}"], status = pipeline(compose, first, last, tmp / f"compose-{run}", workers,
                                                   shard_size)
        steps, lowered = status.fragments, status.lowering
        met = sum(steps[k] for k in ("hit", "disk", "lowered")) or 1
        result["steps"][run] = {k: steps[k] / met for k in ("hit", "disk", "lowered")}
        result["spliced"][run] = lowered["spliced"] / (lowered["spliced"] + lowered["by_jax"] or 1)
        say(f"  compose ({workers} workers, {run} cache):   {rates[f'compose {run}']:8.1f} programs/s "
            f"({rates[f'compose {run}'] / rates['naive']:.2f}x naive, "
            f"{rates[f'compose {run}'] / rates['batched']:.2f}x batched); steps "
            + ", ".join(f"{result['steps'][run][k]:.0%} {w}" for k, w in
                        (("hit", "in memory"), ("disk", "on disk"), ("lowered", "lowered")))
            + f"; {result['spliced'][run]:.0%} of programs spliced, the rest by JAX")
    result["ratios"] = {f"{a}/{b}": rates[a] / rates[b] for a in rates for b in ("naive", "batched")
                        if a != b and not (a == "naive" and b == "batched")}
    say("  ratios: " + ", ".join(f"{k} {v:.2f}x" for k, v in result["ratios"].items()))
    profiled = min(last, first + 500)
    for run in ("cold",) if cold_only else ("cold", "warm"):
        where = tmp / ("profile-cold" if run == "cold" else "cache")
        stages = profile(compose, first, profiled, _cache(where, recipe))
        result["stages_ms"][run] = stages
        say(f"  work per program, one process, {run} ({profiled - first} programs, ms): "
            + ", ".join(f"{k} {v:.2f}" for k, v in stages.items()))
    return result


def _cache(root: Path, recipe) -> FragmentCache:
    return FragmentCache(root, build(recipe)[0].sha256, recipe.platform)


def bench(recipe, n: int, workers: int, shard_size: int, cold_only: bool = False, shard=SHARD, say=print) -> dict:
    out = {"cold_only": cold_only, "workers": workers}
    grammar = build(recipe)[0]
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        say(f"sample: {n} programs of seed {recipe.seed}")
        (tmp / "sample").mkdir()
        out["sample"] = compare(recipe, 0, n, workers, shard_size, cold_only, say, tmp / "sample", n)
        erecipe, first, last = enumerate_recipe(grammar, shard)
        say(f"enumerate --max-ops {ENUMERATE['max_ops']} --inputs \"{ENUMERATE['inputs']}\" --dims 2 "
            f"--shard {shard[0]}/{shard[1]}: {last - first} programs")
        (tmp / "enumerate").mkdir()
        out["enumerate"] = compare(erecipe, first, last, workers, shard_size, cold_only, say, tmp / "enumerate", n)
    return out
