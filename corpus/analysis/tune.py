"""The tuning loop of `jaxsynth tune`: grammar weights solved for a target
op distribution (`targets`).

Sample a pilot corpus with the current weights; read, from each record's
`attribution`, how often each alternative is used and which ops a use
produces (`pilot`); fit a model of the measure as a function of the
weights, made exact at the weights of the best pilot so far; solve the model
for the target (`model`); sample again with the solved weights and a new
seed. A step that made the distance worse is taken back: the next one is
solved again from the best weights, within a trust region half as wide. The
loop stops when the distance is within the tolerance or the iteration
budget is spent, then verifies the best weights on a corpus of a seed no
iteration used.
"""
from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from pathlib import Path

from ..run.executors import executor
from ..run.files import MANIFEST
from ..run.pipeline import Run
from ..run.recipe import Recipe, build
from .model import RANGE, TRUST, Model, solve_ipf, solve_model
from .pilot import Pilot
from .targets import Target, distance, normalised, uniform_target

SOLVERS = ("model", "ipf")
VERIFY_SEED = 1000      # the verification corpus's seed is the recipe's plus this, beyond every pilot's


@dataclass
class Tuned:
    weights: dict               # alternative -> weight, every alternative
    target: Target
    history: list               # (iteration, seed, distance)
    verified: float             # distance on the verification corpus
    values: dict                # the verification corpus's values in the measure
    unreached: list             # target ops no pilot ever produced
    nearest: dict               # the model's values nearest the target, with weights free in RANGE


@dataclass
class Corpora:
    """Samples the corpora tuning measures: `recipe` but for its weights and seed, in `work`."""
    recipe: Recipe
    work: Path
    pool: object               # an executor of `run.executors`, kept open between corpora
    within: dict                # alternative -> the context it applies only within
    card: object = None         # writes a finished corpus's dataset card, given its directory

    def sample(self, name: str, weights: dict, seed: int, n: int) -> Pilot:
        r = dataclasses.replace(self.recipe, weights=tuple(sorted(weights.items())), seed=seed)
        out = self.work / name
        # shards by the corpus's size alone, so that --work is reused whatever the workers;
        # a pilot there from before is finished (or kept), else made
        run = Run(out, r, {}, n, max(1, min(250, n // 8)), resume=(out / MANIFEST).is_file())
        run.execute(self.pool, keep_pool=True)
        if self.card is not None:
            self.card(out)
        return Pilot.read(out, self.within)


@dataclass
class Best:
    distance: float
    weights: dict
    pilot: Pilot                # sampled with `weights`


def kind(target: Target | None) -> str:
    """The distance to the target, in words (uniform, the default, is full)."""
    return "TV" if target is None or target.full else "max error"


def _ops(pilots: list[Pilot], target: Target) -> list[str]:
    return sorted(set().union(*(p.presence for p in pilots)) | set(target.values))


def _log_start(model: Model, start: dict):
    """The starting weights of the model's alternatives, as log-weights."""
    import numpy as np      # not at the top: `--help` imports this module (SOLVERS), and need not wait for numpy
    return np.array([math.log(start[a]) for a in model.alts])


def step(pilots: list[Pilot], best: Best, target: Target, measure: str, start: dict, solver: str,
         trust: float) -> dict:
    """The next pilot's weights: the best so far, solved toward the target
    within `trust` of them (and RANGE of `start`)."""
    model = Model(pilots, best.weights, measure, _ops(pilots, target), last=best.pilot)
    if solver == "ipf":
        theta, _ = solve_ipf(model, target, best.pilot.values(measure), _log_start(model, start), trust)
    else:
        theta, _ = solve_model(model, target, _log_start(model, start), trust)
    # as the weights file writes them, so that the file gives the corpora measured here
    return {**best.weights, **{a: float(f"{math.exp(t):.6g}") for a, t in zip(model.alts, theta)}}


def nearest(pilots: list[Pilot], best: Best, target: Target, measure: str, start: dict) -> dict:
    """The nearest the grammar can come, as the model sees it: solved without a trust region."""
    ops = _ops(pilots, target)
    model = Model(pilots, best.weights, measure, ops, last=best.pilot)
    _, predicted = solve_model(model, target, _log_start(model, start), RANGE)
    return dict(zip(ops, map(float, predicted)))


def search(corpora: Corpora, target: Target | None, measure: str, start: dict, *, programs: int,
           iterations: int, tolerance: float, solver: str, say) -> tuple:
    """Pilots from the `start` weights on (pilot i of seed + i), each step
    solved from the best so far: (target, pilots, history, best)."""
    weights, pilots, history, best = dict(start), [], [], None
    for i in range(iterations + 1):
        seed = corpora.recipe.seed + i
        pilot = corpora.sample(f"pilot-{i}", weights, seed, programs)
        pilots.append(pilot)
        if target is None:
            target = uniform_target(o for o in pilot.presence)
        d = distance(target, pilot.values(measure))
        history.append((i, seed, d))
        say(f"iteration {i}: {kind(target)} {d:.4f} ({pilot.programs} programs, seed {seed}"
            f"{', the starting weights' if i == 0 else ''})")
        if best is None or d < best.distance:
            best, trust = Best(d, dict(weights), pilot), TRUST
        else:       # the step overshot: solve again from the best weights, within a smaller region
            trust /= 2
        if d <= tolerance or i == iterations:
            break
        weights = step(pilots, best, target, measure, start, solver, trust)
    return target, pilots, history, best


def tune(recipe: Recipe, target: Target | None, measure: str, *, programs: int, verify: int, iterations: int,
         tolerance: float, workers: int, work: Path, solver: str = "model", say=print, card=None) -> Tuned:
    """Iterate pilot -> attribution -> solve from `recipe`'s weights (its
    seed is the first pilot's; pilot i has seed + i), then verify the best
    weights on `verify` programs of seed + VERIFY_SEED. `target` None:
    uniform over the ops the first pilot reaches. `card(directory)`, if
    given, writes each corpus's dataset card."""
    if not 0 <= iterations < VERIFY_SEED:
        raise ValueError(f"iterations must be in [0, {VERIFY_SEED})")
    grammar = build(recipe)[0]
    start = grammar.weights()
    pool = executor(workers)
    corpora = Corpora(recipe, work, pool, {a.name: a.rule.within for a in grammar.alts if a.rule.within}, card)
    failed = True
    try:
        target, pilots, history, best = search(corpora, target, measure, start, programs=programs,
                                               iterations=iterations, tolerance=tolerance, solver=solver, say=say)
        near = nearest(pilots, best, target, measure, start)
        check = corpora.sample("verify", best.weights, recipe.seed + VERIFY_SEED, verify)
        failed = False
    finally:
        pool.shutdown(now=failed)
    values = check.values(measure)
    verified = distance(target, values)
    say(f"verified on {check.programs} programs of seed {recipe.seed + VERIFY_SEED}: {kind(target)} {verified:.4f}")
    seen = set().union(*(p.presence for p in pilots), check.presence)
    return Tuned(best.weights, target, history, verified, values, sorted(set(target.values) - seen), near)


def format_weights(weights: dict, header: list[str]) -> str:
    """A weights file (`--weights`): the header as comments, then NAME = WEIGHT lines by name."""
    lines = [f"# {h}" for h in header]
    lines += [f"{name} = {w:.6g}" for name, w in sorted(weights.items())]
    return "\n".join(lines) + "\n"


def summary(t: Tuned, measure: str, start_distance: float) -> list[str]:
    """What a person reads after tuning: how near it got, and where not."""
    lines = []
    if t.unreached:
        lines.append(f"not reached by the grammar in any pilot ({len(t.unreached)}): {' '.join(t.unreached)}")
    if t.target.full:
        got = normalised(t.values)
        worst = sorted(set(got) | set(t.target.values),
                       key=lambda o: (-abs(got.get(o, 0) - t.target.values.get(o, 0)), o))[:10]
        near = normalised(t.nearest)
        lines.append("largest differences from the target (share of the distribution: target, reached, "
                     "nearest reachable by the model):")
        lines += [f"  {o:<36} {t.target.values.get(o, 0):.4f}  {got.get(o, 0):.4f}  {near.get(o, 0):.4f}"
                  for o in worst]
        lines.append(f"nearest reachable distribution by the model: TV {distance(t.target, t.nearest):.4f} "
                     f"from the target")
    else:
        lines.append(f"per op ({'share of programs containing it' if measure == 'programs' else 'share of occurrences'}"
                     f": target, reached, nearest reachable by the model):")
        lines += [f"  {o:<36} {v:.3f}  {t.values.get(o, 0):.3f}  {t.nearest.get(o, 0):.3f}"
                  for o, v in t.target.values.items()]
    lines.append(f"distance: {start_distance:.4f} with the starting weights (first pilot), "
                 f"{t.verified:.4f} verified with the solved ones")
    return lines
