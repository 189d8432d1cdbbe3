"""Solve grammar weights for a target StableHLO op distribution (`jaxsynth tune`).

A target gives, for some ops, the value a corpus should have, in one of two
measures:
- `programs`: the share of programs that contain the op;
- `occurrences`: the share of all op occurrences that are the op.
A *full* target (`uniform` over the ops the grammar reaches, or another
corpus) is a whole distribution: the measure's values normalised to sum 1
over the ops of the universe, compared by total-variation distance (TV). A
*partial* target (a JSON file `{"stablehlo.while": 0.5, ...}`) fixes the
listed ops' own values (half the programs contain a while loop) and leaves
the others free; its distance is the largest error over the listed ops (the
TV between each op's wanted and measured share).

The loop: sample a pilot corpus with the current weights; read, from each
record's `attribution`, how often each alternative is used and which ops a
use produces; fit a model of the measure as a function of the weights, made
exact at the current weights; solve the model for the target; sample again
with the solved weights and a new seed. It stops when the distance is within
the tolerance or the iteration budget is spent, then verifies the best
weights on a corpus of a seed no iteration used.

The model (`Model`): alternative a is used U_a(w) = T w_a c_a / sum_b w_b c_b
times per program (T the uses per program, c_a how applicable a is, both read
off the pilot; an alternative that applies only within a context, such as a
collective on a mesh, competes only with the others of that context, as
often as the context is opened); a use of a contains op o with probability h_ao and produces
e_ao occurrences of it (pooled over every pilot so far); ops no alternative
makes (a constant JAX hoists) come at the pilot's own rate. The share of
programs containing o is 1 - (1 - b_o) exp(-k_o sum_a U_a h_ao), where k_o
makes the model agree with the pilot. Two solvers:
- `model` (default): minimises the distance of the model's prediction
  (smoothed; for a full target plus a tenth of KL(target || model), so that
  no wanted op is given up for the ops that come along with it) over
  log-weights by gradient descent (JAX computes the gradient), within a
  trust region of a factor 4 per iteration, halved and restarted from the
  best weights so far whenever a step made it worse;
- `ipf`: iterative proportional fitting: each alternative's weight is scaled
  by the geometric mean of target/measured over the ops it produces.
"""
from __future__ import annotations

import json
import math
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..lowering import universe
from .coverage import ops_report, shares, tv
from .records import MANIFEST, PROGRAM, CorpusError
from .schema import checked_records, corpus_files, read_records

SOLVERS = ("model", "ipf")
TRUST = math.log(4.0)          # most a weight moves in one iteration, either way
RANGE = math.log(1e4)          # most a weight moves from where it started, either way
KL_WEIGHT = 0.1                # of KL(target || model) beside TV in a full target's loss


@dataclass(frozen=True)
class Target:
    name: str
    values: dict            # op -> wanted value in the measure
    full: bool              # a whole distribution, or the listed ops' own values


def uniform_target(ops) -> Target:
    ops = sorted(ops)
    return Target("uniform", {o: 1 / len(ops) for o in ops}, True)


def file_target(path: Path, measure: str) -> Target:
    """A JSON object {op: value}: the share of programs containing the op, or
    of occurrences (see the module docstring)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as e:
        raise CorpusError(f"{path}: cannot read: {getattr(e, 'strerror', None) or e}") from None
    except ValueError as e:
        raise CorpusError(f"{path}: not JSON ({e})") from None
    if not isinstance(data, dict) or not data:
        raise CorpusError(f"{path}: expected a JSON object {{op: share}}")
    u = universe()
    for op, v in data.items():
        if op not in u:
            raise CorpusError(f"{path}: {op!r} is not a stablehlo or chlo op of this jaxlib")
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0 <= v <= 1:
            raise CorpusError(f"{path}: the share of {op!r} must be a number in [0, 1], got {v!r}")
    if measure == "occurrences" and sum(data.values()) > 1 + 1e-9:
        raise CorpusError(f"{path}: shares of occurrences add up to more than 1")
    return Target(str(path), {op: float(v) for op, v in sorted(data.items())}, False)


def corpus_target(path: Path, measure: str) -> Target:
    """The op distribution of another corpus (any format: only `ops` is read)."""
    values = shares(ops_report(read_records(path)), measure)
    if not values:
        raise CorpusError(f"{path}: no stablehlo or chlo op in its records")
    return Target(str(path), values, True)


def realistic_target(measure: str) -> Target:
    from .realistic import REAL_CODE, target_shares
    return Target(f"the real JAX code of corpus/realistic.py ({len(REAL_CODE)} functions)",
                  target_shares(measure), True)


def normalised(values: dict) -> dict:
    """Values in a measure as a distribution (`coverage.shares` of a corpus)."""
    total = sum(values.values())
    return {o: v / total for o, v in values.items() if v > 0} if total > 0 else {}


def distance(target: Target, values: dict) -> float:
    if target.full:
        return tv(normalised(values), target.values)
    return max(abs(values.get(o, 0.0) - v) for o, v in target.values.items())


@dataclass
class Pilot:
    """What tuning reads off a corpus: op values and, per alternative, its
    uses and the ops they produced (from the records' `attribution`)."""
    programs: int = 0
    presence: Counter = field(default_factory=Counter)     # op -> programs containing it
    occurrences: Counter = field(default_factory=Counter)  # op -> occurrences
    uses: Counter = field(default_factory=Counter)         # alternative -> uses
    holds: Counter = field(default_factory=Counter)        # (alternative, op) -> programs where a's uses made op
    made: Counter = field(default_factory=Counter)         # (alternative, op) -> occurrences a made
    base: Counter = field(default_factory=Counter)         # op -> programs where only PROGRAM made it
    base_made: Counter = field(default_factory=Counter)    # op -> occurrences PROGRAM made
    within: dict = field(default_factory=dict)             # alternative -> the context it applies only within
    openers: dict = field(default_factory=dict)            # context -> alternatives in every program using it

    @classmethod
    def read(cls, path, within: dict | None = None) -> "Pilot":
        """`within`: alternative -> the context key its rule applies only within ("mesh")."""
        pilot, u = cls(within=dict(within or {})), universe()
        for where, record in checked_records(corpus_files(Path(path))[1]):
            if "attribution" not in record:
                raise CorpusError(f"{where}: record without 'attribution' (a corpus older than format 4); "
                                  f"make it again with this version")
            pilot.add(record, u)
        if not pilot.programs:
            raise CorpusError(f"{path}: no records")
        return pilot

    def add(self, record: dict, u) -> None:
        self.programs += 1
        self.uses.update(record["alternatives"])
        alts = set(record["alternatives"])
        for key in {self.within[a] for a in alts if a in self.within}:
            # what opens a context (shard_map for "mesh") is in every program that uses it
            others = {a for a in alts if a not in self.within}
            self.openers[key] = self.openers[key] & others if key in self.openers else others
        makers: dict = {}
        for a in record["attribution"]:
            if a["op"] in u:
                makers.setdefault(a["op"], set()).add(a["alternative"])
                self.occurrences[a["op"]] += a["count"]
                if a["alternative"] == PROGRAM:
                    self.base_made[a["op"]] += a["count"]
                else:
                    self.made[a["alternative"], a["op"]] += a["count"]
        for op, alts in makers.items():
            self.presence[op] += 1
            if alts == {PROGRAM}:
                self.base[op] += 1
            # a program holds op "because of" each alternative that made it
            self.holds.update((a, op) for a in alts if a != PROGRAM)

    def values(self, measure: str) -> dict:
        if measure == "programs":
            return {o: n / self.programs for o, n in sorted(self.presence.items())}
        total = sum(self.occurrences.values())
        return {o: n / total for o, n in sorted(self.occurrences.items())}


class Model:
    """The measure as a function of the weights, fitted to the pilots (see
    the module docstring); exact at the weights of the last pilot."""

    def __init__(self, pilots: list[Pilot], weights: dict, measure: str, ops: list[str], last: Pilot | None = None):
        """`last`: the pilot sampled with `weights` (default: the last of `pilots`)."""
        import numpy as np
        last = last or pilots[-1]
        self.alts = sorted(a for a in weights if weights[a] > 0 and any(p.uses[a] for p in pilots))
        self.ops, self.measure = ops, measure
        uses = {a: sum(p.uses[a] for p in pilots) for a in self.alts}
        h = np.array([[sum(p.holds[a, o] for p in pilots) / uses[a] for o in ops] for a in self.alts])
        e = np.array([[sum(p.made[a, o] for p in pilots) / uses[a] for o in ops] for a in self.alts])
        self.w0 = np.array([weights[a] for a in self.alts])
        # applicability: uses per unit of weight in the last pilot (an alternative
        # it did not use keeps one use, so that a weight driven low can come back)
        self.c = np.array([max(last.uses[a], 1) / last.programs for a in self.alts]) / self.w0
        # An alternative that applies only within a context (a collective, on a
        # mesh) competes with the others of that context, as many times as the
        # context's openers are used; the others compete with each other.
        index = {a: i for i, a in enumerate(self.alts)}
        self.groups = []        # (members, openers, uses of members per use of openers)
        for key in sorted(set(last.within.values())):
            members = [index[a] for a, k in last.within.items() if k == key and a in index]
            openers = [index[a] for a in sorted(last.openers.get(key, ())) if a in index]
            if members and openers:
                used = sum(last.uses[self.alts[i]] for i in members)
                opened = sum(last.uses[self.alts[i]] for i in openers)
                self.groups.append((np.array(members), np.array(openers), used / max(opened, 1)))
        grouped = {int(i) for members, _, _ in self.groups for i in members}
        self.free = np.array([i not in grouped for i in range(len(self.alts))])
        self.total = float(sum(last.uses[a] for a in self.alts if self.free[index[a]])) / last.programs
        n = last.programs
        if measure == "programs":
            f = np.array([min(last.presence[o] / n, 1 - 0.5 / n) for o in ops])
            b = np.array([min(last.base[o] / n, 1 - 0.5 / n) for o in ops])
            self.rate, self.floor = h.T, b
            lam = self.rate @ self.uses(np.log(self.w0))
            # k makes the model meet the pilot; an op the alternatives made nowhere keeps k = 1
            seen = -np.log((1 - f) / (1 - b))
            self.k = np.where(lam > 0, np.maximum(seen, 0) / np.where(lam > 0, lam, 1), 1.0)
        else:
            self.rate, self.floor = e.T, np.array([last.base_made[o] / n for o in ops])
            self.k = np.ones(len(ops))

    def uses(self, theta):
        """Uses per program of each alternative at log-weights theta (numpy or jax)."""
        import jax.numpy as jnp
        x = jnp.exp(theta) * self.c
        u = jnp.where(self.free, self.total * x / jnp.sum(jnp.where(self.free, x, 0)), 0.0)
        for members, openers, ratio in self.groups:
            u = u.at[members].set(jnp.sum(u[openers]) * ratio * x[members] / jnp.sum(x[members]))
        return u

    def predict(self, theta):
        import jax.numpy as jnp
        lam = self.k * (jnp.asarray(self.rate) @ self.uses(theta))
        if self.measure == "programs":
            return 1 - (1 - self.floor) * jnp.exp(-lam)
        m = self.floor + lam
        return m / m.sum()


def solve_model(model: Model, target: Target, start_theta, trust: float = TRUST, iterations: int = 400):
    """Log-weights that bring the model's prediction nearest the target,
    within `trust` of the current ones and RANGE of the starting ones."""
    import jax
    import jax.numpy as jnp
    import numpy as np
    theta0 = np.log(model.w0)
    lo, hi = np.maximum(theta0 - trust, start_theta - RANGE), np.minimum(theta0 + trust, start_theta + RANGE)
    listed = np.array([o in target.values for o in model.ops])
    want = np.array([target.values.get(o, 0.0) for o in model.ops])

    def loss(theta):
        pred = model.predict(theta)
        if target.full:
            p = pred / pred.sum()
            # TV (smoothed) alone would rather drop an op than keep the several a
            # step brings along; KL(target || model) keeps every wanted op alive
            tv_smooth = jnp.sum(jnp.sqrt((p - want) ** 2 + 1e-8)) / 2
            kl = jnp.sum(jnp.where(want > 0, want * (jnp.log(want + 1e-12) - jnp.log(p + 1e-9)), 0.0))
            return tv_smooth + KL_WEIGHT * kl
        diff = jnp.where(listed, pred - want, 0.0)
        # the listed ops as asked, the rest of the grammar as it was
        return jnp.sum(diff ** 2) + 1e-4 * jnp.sum((theta - theta0) ** 2)

    step = jax.jit(jax.value_and_grad(loss))
    theta, m, v = theta0.copy(), np.zeros_like(theta0), np.zeros_like(theta0)
    for t in range(1, iterations + 1):          # Adam, projected on the box
        _, g = step(theta)
        g = np.asarray(g)
        m, v = 0.9 * m + 0.1 * g, 0.999 * v + 0.001 * g * g
        theta = np.clip(theta - 0.05 * (m / (1 - 0.9 ** t)) / (np.sqrt(v / (1 - 0.999 ** t)) + 1e-8), lo, hi)
    return theta, np.asarray(model.predict(theta))


def solve_ipf(model: Model, target: Target, pilot_values: dict, start_theta, trust: float = TRUST):
    """One sweep of proportional fitting: log w_a += mean over the ops a makes
    (weighted by how often it makes them) of log(target / measured)."""
    import numpy as np
    theta0 = np.log(model.w0)
    values = normalised(pilot_values) if target.full else pilot_values
    ratio = np.array([math.log((target.values[o] + 1e-4) / (values.get(o, 0.0) + 1e-4))
                      if o in target.values or target.full else 0.0 for o in model.ops])
    share = model.rate.T / np.maximum(model.rate.T.sum(axis=1, keepdims=True), 1e-12)
    lo, hi = np.maximum(theta0 - trust, start_theta - RANGE), np.minimum(theta0 + trust, start_theta + RANGE)
    theta = np.clip(theta0 + share @ ratio, lo, hi)
    return theta, np.asarray(model.predict(theta))


def format_weights(weights: dict, header: list[str]) -> str:
    lines = [f"# {h}" for h in header]
    lines += [f"{name} = {w:.6g}" for name, w in sorted(weights.items())]
    return "\n".join(lines) + "\n"


@dataclass
class Tuned:
    weights: dict               # alternative -> weight, every alternative
    target: Target
    history: list               # (iteration, seed, distance)
    verified: float             # distance on the verification corpus
    values: dict                # the verification corpus's values in the measure
    unreached: list             # target ops no pilot ever produced
    nearest: dict               # the model's values nearest the target, with weights free in RANGE


def tune(recipe, target: Target | None, measure: str, *, programs: int, verify: int, iterations: int,
         tolerance: float, workers: int, work: Path, solver: str = "model", say=print) -> Tuned:
    """Iterate pilot -> attribution -> solve from `recipe`'s weights (its
    seed is the first pilot's; pilot i has seed + i), then verify the best
    weights on `verify` programs of seed + 1000. `target` None: uniform over
    the ops the first pilot reaches."""
    import dataclasses

    import numpy as np

    from .pipeline import Run, build, executor
    if not 0 <= iterations < 1000:
        raise ValueError("iterations must be in [0, 1000)")
    grammar = build(recipe)[0]
    start = grammar.weights()
    within = {a.name: a.rule.within for a in grammar.alts if a.rule.within}
    weights, pilots, history = dict(start), [], []
    pool = executor(workers)
    kind = "TV" if target is None or target.full else "max error"

    def corpus(name, w, seed, n):
        r = dataclasses.replace(recipe, weights=tuple(sorted(w.items())), seed=seed)
        # shards by the corpus's size alone, so that --work is reused whatever the workers;
        # a pilot there from before is finished (or kept), else made
        run = Run(work / name, r, {}, n, max(1, min(250, n // 8)), resume=(work / name / MANIFEST).is_file())
        run.execute(pool, keep_pool=True)
        return Pilot.read(work / name, within)

    failed = True
    try:
        best = None
        for i in range(iterations + 1):
            pilot = corpus(f"pilot-{i}", weights, recipe.seed + i, programs)
            pilots.append(pilot)
            if target is None:
                target = uniform_target(o for o in pilot.presence)
            values = pilot.values(measure)
            d = distance(target, values)
            history.append((i, recipe.seed + i, d))
            say(f"iteration {i}: {kind} {d:.4f} ({pilot.programs} programs, seed {recipe.seed + i}"
                f"{', the starting weights' if i == 0 else ''})")
            if best is None or d < best[0]:
                best, trust = (d, dict(weights), pilot), TRUST
            else:       # the step overshot: solve again from the best weights, within a smaller region
                weights, trust = dict(best[1]), trust / 2
            if d <= tolerance or i == iterations:
                break
            ops = sorted(set().union(*(p.presence for p in pilots)) | set(target.values))
            model = Model(pilots, weights, measure, ops, last=best[2])
            start_theta = np.array([math.log(start[a]) for a in model.alts])
            if solver == "ipf":
                theta, _ = solve_ipf(model, target, best[2].values(measure), start_theta, trust)
            else:
                theta, _ = solve_model(model, target, start_theta, trust)
            # as the weights file writes them, so that the file gives the corpora measured here
            weights = {**weights, **{a: float(f"{math.exp(t):.6g}") for a, t in zip(model.alts, theta)}}
        weights = best[1]
        # the nearest the grammar can come, as the model sees it: solved without a trust region
        ops = sorted(set().union(*(p.presence for p in pilots)) | set(target.values))
        model = Model(pilots, weights, measure, ops, last=best[2])
        _, predicted = solve_model(model, target, np.array([math.log(start[a]) for a in model.alts]), RANGE)
        nearest = dict(zip(ops, map(float, predicted)))
        check = corpus("verify", weights, recipe.seed + 1000, verify)
        failed = False
    finally:
        pool.shutdown(now=failed)
    values = check.values(measure)
    verified = distance(target, values)
    say(f"verified on {check.programs} programs of seed {recipe.seed + 1000}: {kind} {verified:.4f}")
    seen = set().union(*(p.presence for p in pilots), check.presence)
    return Tuned(weights, target, history, verified, values, sorted(set(target.values) - seen), nearest)


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
