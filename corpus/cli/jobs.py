"""What the commands share: the grammar, signature, recipe and pool that an
invocation's options ask for, and the run that writes a corpus with them
(`run`), summed up in one line when it ends.
"""
from __future__ import annotations

import dataclasses
import hashlib
import os
import sys
import time
from collections import Counter
from pathlib import Path

from ...lowering import universe
from ...synth.grammar import GrammarError, load_grammar, override_weights, profile_path, read_weights_file
from ...synth.rules import SHAPES, Pools
from ...synth.types import SignatureError, parse_signature
from ..publish.card import Summary, write_card
from ..run.executors import executor
from ..run.pipeline import Run
from ..run.readers import is_regular, read_manifest, visible
from ..run.recipe import Recipe, given, shared
from .options import SHARD_SIZE, UsageError
from .progress import Progress


def grammar_of(args):
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


def pools_of(args) -> Pools:
    pools = SHAPES[args.shapes]
    return dataclasses.replace(pools, dims=args.dims) if args.dims else pools


def signature_of(text):
    if text is None:
        return None
    try:
        return parse_signature(text)
    except SignatureError as e:
        raise UsageError(f"--inputs: {e}") from None


def cache_of(args) -> str | None:
    if args.no_cache or args.lowering != "compose":
        return None
    if args.cache.exists() and not args.cache.is_dir():
        raise UsageError(f"--cache {args.cache}: not a directory")
    return str(args.cache)


def recipe_of(kind, args, grammar, config, inputs, cache, **extra) -> Recipe:
    given(grammar)
    return Recipe(kind, grammar.path, grammar.text, tuple(grammar.overrides.items()), config, args.style,
                  inputs=inputs, platform=args.platform, symbolic=args.symbolic, strategy=args.lowering,
                  verify=args.verify, cache=cache, **extra)


def corpus_grammar(manifest: dict | None):
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


def shard_size_of(args, target: int) -> int:
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


def workers_of(args, shards: int) -> int:
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


def pool_of(args, target, setup=()):
    """The run's executor, its workers starting now. Made before --out
    exists: a failed join leaves nothing."""
    return executor(workers_of(args, -(-target // shard_size_of(args, target))), args.backend, args.address, setup)


def run(args, recipe, target, first=0, last=None, pool=None, **manifest):
    """Write the corpus of `recipe` to --out (indices first..last-1, until
    `target` records) with its dataset card, and say in a line what it made."""
    shard_size = shard_size_of(args, target)
    if pool is None:
        pool = pool_of(args, target, shared(recipe))
    try:
        job = Run(args.out, recipe, manifest, target, shard_size, first, last, resume=args.resume)
    except BaseException:
        pool.shutdown(now=True)
        raise
    try:
        with Progress(target if last is None else None, recipe.kind) as bar:
            summary = Summary()
            m, status = job.execute(pool, progress=bar, each=summary.add)
        write_card(args.out, summary)       # after the manifest: a crash between them is finished by --resume
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
