"""The model tuning solves: a grammar's op values as a function of its
weights, fitted to pilot corpora (`pilot.Pilot`), and the two solvers that
bring it toward a target (`targets.Target`).

The model (`Model`): alternative a is used U_a(w) = T w_a c_a / sum_b w_b c_b
times per program (T the uses per program, c_a how applicable a is, both read
off the pilot; an alternative that applies only within a context, such as a
collective on a mesh, competes only with the others of that context, as
often as the context is opened); a use of a contains op o with probability
h_ao and produces e_ao occurrences of it (pooled over every pilot so far);
ops no alternative makes (a constant JAX hoists) come at the pilot's own
rate. The share of programs containing o is
1 - (1 - b_o) exp(-k_o sum_a U_a h_ao), where k_o makes the model agree with
the pilot. Two solvers:
- `model` (`solve_model`): minimises the distance of the model's prediction
  (smoothed; for a full target plus a tenth of KL(target || model), so that
  no wanted op is given up for the ops that come along with it) over
  log-weights by gradient descent (JAX computes the gradient), within a
  trust region around the current weights;
- `ipf` (`solve_ipf`): iterative proportional fitting: each alternative's
  weight is scaled by the geometric mean of target/measured over the ops it
  produces.

numpy and JAX are imported inside the functions: `--help` imports this
module through the command line's options, and need not wait for them.
"""
from __future__ import annotations

import math

from .pilot import Pilot
from .targets import Target, normalised

TRUST = math.log(4.0)          # most a weight moves in one iteration, either way
RANGE = math.log(1e4)          # most a weight moves from where it started, either way
KL_WEIGHT = 0.1                # of KL(target || model) beside TV in a full target's loss


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
    # a whole distribution wants 0 of an op it lacks; a partial target says nothing of it
    ratio = np.array([math.log((target.values.get(o, 0.0) + 1e-4) / (values.get(o, 0.0) + 1e-4))
                      if o in target.values or target.full else 0.0 for o in model.ops])
    share = model.rate.T / np.maximum(model.rate.T.sum(axis=1, keepdims=True), 1e-12)
    lo, hi = np.maximum(theta0 - trust, start_theta - RANGE), np.minimum(theta0 + trust, start_theta + RANGE)
    theta = np.clip(theta0 + share @ ratio, lo, hi)
    return theta, np.asarray(model.predict(theta))
