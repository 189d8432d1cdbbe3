"""A run's recipe: everything that fixes its programs (grammar, weights,
configuration, how they are drawn or enumerated), and the programs of any
range of its index space, made the same in any process.

Program k of a sample run is drawn from `random.Random(f"{seed}:{k}")`;
program k of an enumeration is the k-th of its global index (see `programs`).
"""
from __future__ import annotations

import dataclasses
import json
import random
import re
from dataclasses import dataclass
from functools import lru_cache

from ...synth.grammar import load_grammar, override_weights
from ...synth.rules import Pools
from ...synth.space import Config, Enumeration, NoProgram, Space
from ...synth.types import DTYPES, MAX_DIM, MAX_RANK, Type, within_bounds
from .files import CorpusError


@dataclass(frozen=True)
class Recipe:
    """Everything that fixes a run's programs; picklable, so workers rebuild it."""
    kind: str                          # "sample" or "enumerate"
    grammar_path: str
    grammar_text: str
    weights: tuple[tuple[str, float], ...]   # overrides of the grammar's weights
    config: Config
    style: str
    seed: int = 0
    inputs: tuple[Type, ...] | None = None
    max_size: int = 0                  # enumerate, and sample --uniform: sizes 1..max_size
    platform: str = "cpu"              # lowered for, without its hardware
    symbolic: bool = False             # lowered with symbolic dimensions (lowering.lower_symbolic)
    uniform: bool = False              # sample: a uniform index of the enumeration of `inputs`
    swarm: int | None = None           # sample: each program from a random subset of this many alternatives
    # how programs are lowered, which does not change a record (see `compose`):
    strategy: str = "compose"          # spliced from their steps' lowerings, or "batched": all by JAX
    verify: float = 0.01               # compose: the fraction of programs lowered by JAX as well, and compared
    cache: str | None = None           # compose: the directory of the fragment cache on disk; None: none

    @property
    def lowering(self) -> dict:
        """How programs are lowered, as records and the manifest say it."""
        return {"platform": self.platform, "symbolic": self.symbolic}

    def describe(self) -> dict:
        """The run's options as JSON data, for the manifest (and --resume's comparison)."""
        config = dataclasses.asdict(self.config)
        if self.kind != "sample":
            for key in SAMPLING_ONLY:
                del config[key]
        # named only when chosen (see CHOSEN): a default run's manifest stays as it was
        chosen = {k: getattr(self, k) for k in CHOSEN if getattr(self, k)}
        return json.loads(json.dumps({
            "command": self.kind, "seed": self.seed if self.kind == "sample" else None,
            "inputs": [str(t) for t in self.inputs] if self.inputs else None,
            "max_size": self.max_size or None, "config": {**config, "style": self.style},
            "lowering": self.lowering, **chosen,
            "strategy": {"name": self.used_strategy, "verify": self.verify if self.used_strategy == "compose" else 0}}))

    @property
    def used_strategy(self) -> str:
        """The strategy programs are lowered by: symbolic lowerings are JAX's alone."""
        return "batched" if self.symbolic else self.strategy


SAMPLING_ONLY = ("max_ops", "max_body_ops", "max_inputs")     # fields of Config enumeration ignores
# ways of sampling a manifest names only when chosen; --resume compares them
# present or absent, so that it refuses a mismatch and still knows older runs
CHOSEN = ("uniform", "swarm")


def provenance(recipe: Recipe) -> dict:
    """What the manifest says of where a run's programs come from: the
    grammar (path as given, and its content's sha256), the weights in force."""
    grammar = build(recipe)[0]
    return {"grammar": recipe.grammar_path, "grammar_sha256": grammar.sha256, "weights": grammar.weights()}


def build(recipe: Recipe):
    """(grammar, space, enumeration or None) of a recipe, cached per process
    (recipes that differ only in how programs are lowered share them)."""
    enumerates = recipe.kind == "enumerate" or recipe.uniform
    return _build(recipe.grammar_path, recipe.grammar_text, recipe.weights, recipe.config,
                  recipe.inputs if enumerates else None)


# grammars this process loaded itself, by what a recipe holds of them (`given`)
_GIVEN: dict = {}


def given(grammar) -> None:
    """A grammar this process has loaded (the command line's): recipes made
    of it build on it, rather than load its text again. Workers, which get
    the recipe alone, load the text."""
    _GIVEN[grammar.path, grammar.text, tuple(grammar.overrides.items())] = grammar


@lru_cache(maxsize=4)
def _build(grammar_path, grammar_text, weights, config, inputs):
    grammar = _GIVEN.get((grammar_path, grammar_text, weights))
    if grammar is None:
        grammar = load_grammar(grammar_path, grammar_text, parser=False)    # the run loaded it whole
        if weights:
            grammar = override_weights(grammar, [("recipe", n, str(w)) for n, w in weights])
    space = Space(grammar, config)
    return grammar, space, Enumeration(space, inputs) if inputs is not None else None


def shared(recipe: Recipe) -> tuple:
    """What this process worked out for a recipe that its workers would
    otherwise work out again, each on its own: the counts of its
    enumeration (seconds of a worker's start). The `setup` of `executor`."""
    enum = build(recipe)[2]
    return ((learn, recipe, enum.counted()),) if enum is not None else ()


def learn(recipe: Recipe, counted: dict) -> None:
    """In a worker: take the counts this recipe's enumeration has in the driver."""
    build(recipe)[2].learn(counted)


def programs(recipe: Recipe, start: int, stop: int):
    """(origin fields, program) for the indices start..stop-1 of the run.

    Sample program k is drawn from `random.Random(f"{seed}:{k}")`: by the
    weights; with `uniform`, as the enumeration index `randrange(total)` over
    the `total` programs of sizes 1..max_size (exact for any total: Python's
    ints), so that each of them is equally likely; with `swarm`, by the
    weights of a random subset of alternatives. A draw that finds no program
    (a swarm subset, or weights that leave a signature almost nothing to
    apply) gives its NoProgram in the program's place, a failure to count."""
    grammar, space, enum = build(recipe)
    total = sum(enum.counts(recipe.max_size)) if recipe.uniform else 0     # memoised by the enumeration
    for k in range(start, stop):
        if recipe.kind == "enumerate":
            size, i = enum.locate(k, recipe.max_size)
            yield {"id": f"e{k}", "index": k}, enum.program(size, i)
            continue
        rng = random.Random(f"{recipe.seed}:{k}")
        if recipe.uniform:
            program = enum.program(*enum.locate(rng.randrange(total), recipe.max_size))
        else:
            try:
                program = space.sample_swarm(rng, recipe.swarm, recipe.inputs) if recipe.swarm \
                    else space.sample(rng, recipe.inputs)
            except NoProgram as e:
                program = e
        yield {"id": f"s{recipe.seed}-{k}", "seed": recipe.seed, "index": k}, program


# what --resume may change: how a run is lowered changes no record
NOT_COMPARED = ("versions", "grammar", "strategy")


# ---------------------------------------------------------------- a manifest's options, read back

# what a manifest's options may be: enough for every profile jaxsynth has, and
# small enough that no rule's loop over attribute pools (pairs of floats for
# `clip`) or created value (`max_size`) takes long or much memory
POOL_BOUNDS = {"dims": 64, "floats": 16, "small_ints": 16, "shapes": 1024, "dtypes": len(DTYPES)}
_FLOAT = re.compile(r"-?[0-9]{1,6}\.[0-9]{1,6}")


def _ints(values, lo, hi) -> bool:
    return all(isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi for v in values)


def config_of(manifest: dict | None, where: str) -> Config:
    """The generation options a manifest records (pools decide which
    attributes and shapes the rules allow), within POOL_BOUNDS; the defaults
    without a manifest."""
    if manifest is None:
        return Config()
    c = manifest["config"]
    try:
        pools = c.get("pools", {})
        if not isinstance(pools, dict) or set(pools) - {f.name for f in dataclasses.fields(Pools)}:
            raise ValueError("pools: not an object of known pools")
        for key, most in POOL_BOUNDS.items():
            if not isinstance(pools.get(key, []), list) or len(pools.get(key, [])) > most:
                raise ValueError(f"pools.{key}: not a list of at most {most}")
        pools = dict(pools)
        if not (_ints(pools.get("dims", [1]), 1, MAX_DIM) and _ints(pools.get("small_ints", []), 1, 1024)
                and all(isinstance(f, str) and _FLOAT.fullmatch(f) for f in pools.get("floats", []))
                and all(isinstance(s, list) and len(s) <= MAX_RANK and _ints(s, 1, MAX_DIM)
                        and within_bounds(tuple(s)) for s in pools.get("shapes", []))
                and all(d in DTYPES for d in pools.get("dtypes", []))
                and _ints([pools.get("max_size", 1)], 1, 1 << 24) and _ints([pools.get("devices", 1)], 1, 8)):
            raise ValueError("pools: values out of range")
        for key in ("dims", "floats", "small_ints", "dtypes"):
            if key in pools:
                pools[key] = tuple(pools[key])
        pools["shapes"] = tuple(tuple(s) for s in pools.get("shapes", []))
        options = {k: c[k] for k in ("max_depth", "batched") if k in c}
        if not (_ints([options.get("max_depth", 0)], 0, 4) and isinstance(options.get("batched", False), bool)):
            raise ValueError("max_depth or batched out of range")
        return Config(pools=Pools(**pools), **options)
    except (TypeError, ValueError) as e:
        raise CorpusError(f"{where}: config: {e}") from None
