"""One shard of a run: its programs generated, printed, lowered and
serialised by a pure function of the recipe and the index range
(`make_shard`), in whatever process makes it: this one, a spawned worker or a
Ray task. A shard no longer wanted stops between chunks (`Cancelled`).
"""
from __future__ import annotations

import gc
import json
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache
from typing import NamedTuple

from ...lowering import LoweringError, fake_devices
from ...synth.space import NoProgram
from .compose import Composer, FragmentCache
from .recipe import Recipe, build, programs
from .fields import multiset
from .records import make_records

CLEAR_EVERY = 1000       # programs (or steps) JAX lowers in a process between clearings of its caches
LOWERED = [0]


class Line(NamedTuple):
    """A record made, as the run commits it."""
    hash: str
    text: str                               # the JSON line
    ops: tuple[tuple[str, int], ...]        # (op, count), as the record lists them
    way: tuple[str, ...]                    # how it was lowered: the keys of Status.lowering it counts in
    fields: tuple[str, ...]                 # the record's fields, in its order


@dataclass
class Shard:
    number: int
    lines: list[Line]       # in index order
    duplicates: int = 0
    failures: dict = field(default_factory=dict)
    fragments: Counter = field(default_factory=Counter)    # this shard's steps: hit, disk, lowered


class Cancelled(Exception):
    """A shard no longer wanted (the run has its records): stopped between chunks."""


CHUNK = 100         # programs lowered between looks at whether the shard is still wanted
STOP = [None]      # in a spawned worker: the pool's Event that says no running shard is wanted


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
    return STOP[0] is not None and STOP[0].is_set()


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
            shard.lines.append(Line(program.structural_hash, json.dumps(record, ensure_ascii=False) + "\n",
                                    multiset(record), way, tuple(record)))
    shard.failures = dict(failures)
    if composer(recipe) is not None:
        shard.fragments = Counter(composer(recipe).stats) - before
    # keep memory flat over long runs: what these caches hold is rarely met
    # again; clearing JAX's after every shard would cost ~15% of the rate
    space.clear_caches()
    # what JAX itself lowered: programs not spliced or verified, and the steps met first
    LOWERED[0] += lowered + shard.fragments["lowered"]
    if LOWERED[0] >= CLEAR_EVERY:
        LOWERED[0] = 0
        import jax      # here, not at the top: the CLI imports this module for --help too
        jax.clear_caches()
    return shard
