"""The typed expansion space, and its two modes: sampling and enumeration.

At each point of a program the space offers every well-typed step: an
operation alternative applied to values in scope (`Space.apps`), or, inside
a sub-program, to its parameters and the value built so far
(`Space.body_apps`). Sampling picks among these steps by the grammar's
weights; enumeration visits all of them in a fixed order (alternatives in
grammar order, applications in rule order).

Enumeration counts programs of each size without listing them: the number of
completions depends only on the types in scope and which inputs are still
unused, so counts are memoised on that state (as in Feat). The same counts
turn an index in [0, count) into exactly one program (unranking).

Size is the number of operations, sub-program operations included. Every
input is used by some operation; values nobody uses are returned.

Swarm sampling (`Space.sample_swarm`) draws each program from a random
subset of the alternatives (`Space.restricted`); uniform sampling over all
programs up to a size draws an index of the enumeration (`Enumeration.locate`,
`Enumeration.program`).

Weights are normalised where they are used for choosing (`_normalised`):
any finite positive weights work, however large or small, and scaling them
all by one factor chooses the same. Sampled signatures stay within the
bounds of `types` (MAX_DIM, MAX_SIZE) whatever the pools.
"""
from __future__ import annotations

import bisect
import copy
import dataclasses
import functools
import itertools
import math
import operator
import random
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from itertools import accumulate

from .grammar import Alt, Grammar
from .program import Program, Step, captures, chain_scope, needed, reads
from .rules import App, Body, Pools, fits
from .types import DTYPES, MAX_RANK, Type, within_bounds


ATTEMPTS = 24       # alternatives a sub-program's step tries before it gives up
SWARM_SUBSETS = 10  # subsets a swarm draw tries before it counts as a failure
SWARM_TRIES = 5     # programs (and signatures, unless given) each subset tries
# alternatives a subset may pick in all before it is given up: a subset whose
# sub-programs cannot be filled (only loops, say) makes every step retry its
# chains, nested, for minutes; default sampling needs under 3,000 per program
SWARM_PICKS = 5000
TRANSFERS = 4096   # tuples of operand types a table of a rule's transfer keeps (`Transfers`)
# tuples of operand types all tables together keep through `clear_caches`
# (~100 MB): tuples recur across programs where scopes do not
TRANSFERS_KEPT = 150_000


class NoProgram(ValueError):
    """The signature admits no program under this grammar and configuration."""


@dataclass(frozen=True)
class Config:
    pools: Pools = field(default_factory=Pools)
    max_ops: int = 8            # sampled programs have 1..max_ops top-level operations
    max_body_ops: int = 2       # longest sampled sub-program
    max_depth: int = 2          # how deeply sub-programs nest
    max_inputs: int = 3         # sampled signatures have 1..max_inputs inputs
    batched: bool = False       # programs may run under vmap (symbolic lowering): no op without a batching rule


class Apps(Sequence):
    """Applications in rule order, grouped by operand values: `groups` holds
    (values, the transfer's applications, operand slots holding positions:
    `App.placed`), `context` is what their sub-programs run within. An
    application is made only when it is asked for: sampling draws one of
    often hundreds (`rng.choice` asks for the length and one index)."""

    def __init__(self, groups, context=()):
        self.groups, self.context = groups, context

    @cached_property
    def _ends(self) -> list[int]:
        """Where each group's applications end."""
        return list(accumulate(len(apps) for _, apps in self.groups))

    def __len__(self) -> int:
        return self._ends[-1] if self.groups else 0

    def __bool__(self) -> bool:
        return bool(self.groups)        # no group is empty

    def __getitem__(self, i: int) -> App:
        if not 0 <= i < len(self):
            raise IndexError(i)
        g = bisect.bisect_right(self._ends, i)
        values, apps = self.groups[g]
        return self._made(apps[i - self._ends[g] + len(apps)], values)

    def __iter__(self):
        return (self._made(app, values) for values, apps in self.groups for app in apps)

    def _made(self, app: App, values) -> App:
        app = app.placed(values)
        return _inherit(app, self.context) if self.context else app

    @cached_property
    def placed(self) -> tuple[App, ...]:
        """Every application, made (once)."""
        return tuple(self)

    def where(self, keep) -> Apps:
        """Those whose tuple of operand values `keep` accepts."""
        return Apps([g for g in self.groups if keep(g[0])], self.context) if self.groups else self


class Scope:
    """Values in scope by type (`where`: type -> indices, in scope order),
    with what is worked out about them memoised: the types of each operand
    domain, applications by rule (`groups`) and by alternative (`apps`). A
    scope is looked at many times: by the alternatives a step tries, by
    every step of a chain, by `_produce`."""

    def __init__(self, types: tuple[Type, ...]):
        self.types, self.where = types, {}
        for i, t in enumerate(types):
            self.where.setdefault(t, []).append(i)
        self._fitting, self.groups, self.apps = {}, {}, {}

    def fitting(self, domain) -> list[Type]:
        """The types in scope of an operand domain (`Rule.domains`)."""
        kinds = self._fitting.get(domain)
        if kinds is None:
            kinds = self._fitting[domain] = [t for t in self.where if fits(domain, t)]
        return kinds


class Transfers(dict):
    """What a rule's transfer gives in one context (`Rule.transfer`), by tuple
    of operand types, memoised as they are asked for (at most TRANSFERS);
    `scope`: the types in scope, for a rule that sees them."""

    def __init__(self, rule, args, pools, context, scope=()):
        super().__init__()
        self.rule, self.args, self.pools, self.context, self.scope = rule, args, pools, context, scope

    def __missing__(self, operands) -> tuple[App, ...]:
        if len(self) >= TRANSFERS:
            self.clear()
        apps = self[operands] = tuple(self.rule.transfer(operands, self.pools, self.args, self.context, self.scope))
        return apps


class Space:
    def __init__(self, grammar: Grammar, config: Config = Config()):
        self.grammar, self.config = grammar, config
        # values have only dtypes the grammar can write
        self.pools = dataclasses.replace(config.pools, dtypes=tuple(d for d in config.pools.dtypes if d in grammar.dtypes))
        self.context = (("batched", True),) if config.batched else ()
        self._choose_among([a for a in grammar.alts if a.weight > 0])
        self._picks = None      # picks left, in a view with a budget (see `restricted`)
        # profile shapes a signature may draw (all of them, unless beyond the bounds)
        self._shapes = tuple(s for s in self.pools.shapes if within_bounds(s))
        self._apps = lru_cache(maxsize=100_000)(self._apps_uncached)
        self._body_apps = lru_cache(maxsize=100_000)(self._body_apps_uncached)
        self._scope = lru_cache(maxsize=8)(Scope)
        self._tables: dict[tuple, Transfers] = {}     # (rule, args, context) -> its Transfers
        self._local = lru_cache(maxsize=1024)(_local)

    def _choose_among(self, alts) -> None:
        """Sample only from `alts`, by their weights."""
        self.alts = list(alts)
        self._cum = list(accumulate(_normalised([a.weight for a in self.alts])))
        self._within, self._within_cum = {}, {}
        for a in self.alts:
            if a.rule.within:
                self._within.setdefault(a.rule.within, []).append(a)
        for key, alts in self._within.items():
            self._within_cum[key] = list(accumulate(_normalised([a.weight for a in alts])))

    def restricted(self, alts, picks: int | None = None) -> Space:
        """This space with only `alts` to sample from (the others weigh 0),
        and if `picks` is given, NoProgram once its sampling has picked that
        many alternatives. It shares the memoised applications, which do not
        depend on the alternatives allowed: a view per program costs next to
        nothing."""
        view = copy.copy(self)
        view._choose_among(alts)
        view._picks = picks
        return view

    def clear_caches(self) -> None:
        """Forget memoised applications (they grow with every new signature),
        and the transfers' tables once they hold more than TRANSFERS_KEPT."""
        self._apps.cache_clear()
        self._body_apps.cache_clear()
        self._scope.cache_clear()
        self._local.cache_clear()
        if sum(map(len, self._tables.values())) > TRANSFERS_KEPT:
            self._tables.clear()

    # ------------------------------------------------------------ the steps

    def _apps_uncached(self, alt: Alt, types: tuple[Type, ...], depth: int, context,
                       results=None, reading=None) -> Apps:
        """The applications of `alt` to values of these types, in rule order,
        grouped by operand values (`Apps`: sampling places only the one it
        draws); if given, only those of one result in `results` and those
        reading value `reading` (selecting before the operands are placed
        costs far less than placing them all and dropping most). Memoised
        in the scope's `Scope`."""
        if depth >= self.config.max_depth and alt.has_bodies:
            return Apps((), context)
        if "nodiff" in alt.flags and dict(context).get("diff"):
            return Apps((), context)
        scope = self._scope(types)
        key = alt, context, results, reading
        apps = scope.apps.get(key)
        if apps is None:
            rule_key = alt.rule, alt.args, context, results, reading   # alternatives of one rule share these
            apps = scope.groups.get(rule_key)
            if apps is None:
                apps = scope.groups[rule_key] = self._groups(alt.rule, alt.args, scope, context, results, reading)
            if alt.distinct:    # x - x, x < x: the result is fixed by construction
                apps = apps.where(lambda values: len(set(values)) == len(values))
            if alt.same:        # jnp.pad(x, (0, x.shape[0])): one value in every operand slot
                apps = apps.where(lambda values: len(set(values)) == 1)
            scope.apps[key] = apps
        return apps

    def _transfers(self, rule, args, context) -> Transfers:
        """The table of the rule's transfer in this context (`Transfers`)."""
        table = self._tables.get((rule, args, context))
        if table is None:
            table = self._tables[rule, args, context] = Transfers(rule, args, self.pools, context)
        return table

    def _groups(self, rule, args, scope: Scope, context, results, reading) -> Apps:
        """`rule.apps(types, ...)` grouped by operand values (`Apps`: sub-programs
        run within `context`, what their enclosing one runs within), in the
        same order; if given, only applications of one result in `results`
        and choices of values that read value `reading`. A scope holds the
        same type many times and grows by a step at a time: scopes rarely
        recur, tuples of operand types do. So the transfer runs once per tuple
        of types (memoised on it) and its applications go to every choice of
        values of those types. Rule order is the order of the operand values
        (the rule loops over them in scope order), then the transfer's."""
        if rule.scope:          # the transfer sees the whole scope: no other scope gives the same
            transfers = Transfers(rule, args, self.pools, context, scope.types)
        else:
            transfers = self._transfers(rule, args, context)
        kinds = [scope.fitting(domain) for domain in rule.domains(args)]     # each operand's
        if reading is None:
            candidates = itertools.product(*kinds)
        else:                   # only tuples of types that have the read value's somewhere
            r = scope.types[reading]
            candidates = dict.fromkeys(c for j, fit in enumerate(kinds) if r in fit
                                       for c in itertools.product(*kinds[:j], (r,), *kinds[j + 1:]))
        groups = []
        for operands in candidates:
            apps = transfers[operands]
            if apps and results is not None:
                apps = [a for a in apps if a.result in results and not a.more]
            if apps:
                choices = itertools.product(*map(scope.where.__getitem__, operands))
                if reading is not None:
                    choices = (values for values in choices if reading in values)
                groups += zip(choices, itertools.repeat(apps))
        groups.sort()           # by values: each tuple of values has one tuple of types, no ties
        return Apps(groups, context)

    def _placed(self, alt, types, context, results, reading) -> list[App]:
        """`alt.apps(types, ...)` selected as in `_groups`, in the same order,
        placed (outside any context): what tests compare with the rule's own loop."""
        return list(Apps(self._groups(alt.rule, alt.args, Scope(types), context, results, reading).groups))

    def apps(self, alt: Alt, types: tuple[Type, ...], depth: int = 0, context=None) -> tuple[App, ...]:
        """Every application of `alt` to values of these types (within a
        sub-program's context: a mesh, differentiation; default: the program's)."""
        return self._apps(alt, types, depth, self.context if context is None else context).placed

    def _body_apps_uncached(self, alt, body, depth, outer) -> Apps:
        """`body_apps`, grouped by operand values (`Apps`)."""
        return self._extending(alt, body, depth, *self._body_scope(body, outer))

    def _body_scope(self, body: Body, outer) -> tuple[tuple[Type, ...], int]:
        """The types a body's chain step sees (`body_apps`) and the index of
        the current value among them."""
        local = self._local(body)
        return local + (() if dict(body.context).get("closed") else outer), len(local) - 1

    def _extending(self, alt, body, depth, types, cur) -> Apps:
        """`body_apps`, given the `_body_scope`."""
        if not alt.reads:
            return Apps((), body.context)
        return self._apps_uncached(alt, types, depth, body.context, (body.result,), cur)

    def body_apps(self, alt: Alt, body: Body, depth: int, outer: tuple[Type, ...]) -> tuple[App, ...]:
        """Applications that extend a body's chain: read the current value and keep
        its type. Operands index the body's other parameters, the current value,
        then the enclosing program's values (`outer`), which the body captures."""
        return self._body_apps(alt, body, depth, outer).placed

    # ------------------------------------------------------------ sampling

    def pick_alt(self, rng: random.Random, within: str | None = None) -> Alt:
        """An alternative by weight; `within`: among those of rules that apply only there."""
        if self._picks is not None:
            if self._picks <= 0:
                raise NoProgram("the budget of picks is spent")
            self._picks -= 1
        alts, cum = (self.alts, self._cum) if within is None else (self._within[within], self._within_cum[within])
        # what rng.choices(alts, cum_weights=cum) draws (one random(), bisected), without
        # its checks: normalised weights have a positive, finite total
        return alts[bisect.bisect(cum, rng.random() * cum[-1], 0, len(alts) - 1)]

    def sample_signature(self, rng: random.Random) -> tuple[Type, ...]:
        """1..max_inputs inputs; later ones often share the first one's shape,
        a suffix of it (broadcasting), or are a layer's weights for it: a
        matrix whose first dim is its last (with profile shapes), a
        convolution kernel, a stack of expert matrices with group sizes.
        Every type is within the bounds of `types`: a dimension that would
        take a shape beyond them is drawn among the pool's dims that do not
        (none: the shape ends there), a layer beyond them is left out."""
        pools = self.pools
        dtypes = [d for d in pools.dtypes if DTYPES[d].weight > 0]
        dtype_weights = _normalised([DTYPES[d].weight for d in dtypes])

        def dtype():
            return rng.choices(dtypes, dtype_weights)[0]

        def shape():
            if self._shapes:
                return rng.choice(self._shapes)
            rank = rng.choices(range(MAX_RANK + 1), [1, 3, 4, 2, 1][:MAX_RANK + 1])[0]
            out = ()
            for _ in range(rank):
                # every dim of the pool, unless it would take the shape beyond the bounds
                # (a pool of 100000 at rank 4): the same draws as ever for a pool that fits
                fit = [d for d in pools.dims if within_bounds(out + (d,))]
                if not fit:
                    break
                out += (rng.choice(fit),)
            return out

        first = Type(dtype(), shape())
        sig = [first]
        widths = [x[0] for x in self._shapes if len(x) == 1]
        for _ in range(rng.randint(1, self.config.max_inputs) - 1):
            d = first.dtype if rng.random() < 0.6 else dtype()
            r = rng.random()
            if r < 0.5:
                s = first.shape
            elif r < 0.75:
                s = first.shape[rng.randint(0, first.rank):]
            elif widths and first.rank and r < 0.85:
                s = (first.shape[-1], rng.choice([w for w in widths if within_bounds((first.shape[-1], w))] or [1]))
            elif first.rank >= 2 and r < 0.9:
                sig.extend(_weights(rng, first, pools))
                continue
            else:
                s = shape()
            sig.append(Type(d, s))
        return tuple(sig[:max(self.config.max_inputs, 1)])

    def sample(self, rng: random.Random, inputs: tuple[Type, ...] | None = None, tries: int = 20) -> Program:
        """A random program, by the weights; the same rng state gives the same program."""
        for _ in range(tries):
            sig = inputs or self.sample_signature(rng)
            program = self._sample_steps(rng, sig)
            if program is not None:
                return program
        raise NoProgram(f"no program found for signature {', '.join(map(str, sig))} in {tries} tries")

    def sample_swarm(self, rng: random.Random, k: int, inputs: tuple[Type, ...] | None = None) -> Program:
        """A random program from a random subset of k alternatives (swarm
        testing, Groce et al. 2012): each draw leaves most operations out, so
        that the few kept are not crowded out by the others; a program holds
        few operations, often several times over, in combinations sampling
        by the full weights rarely makes. The subset is drawn uniformly
        among the alternatives of weight > 0, none always kept; within it the
        weights choose as usual. A subset that makes no program (none of its
        operations reads an input of the signature, or it cannot fill its
        sub-programs) is drawn again from the same rng, up to SWARM_SUBSETS
        times, each tried SWARM_TRIES times within SWARM_PICKS picks, then
        NoProgram. The same rng state gives the same program."""
        if not 1 <= k <= len(self.alts):
            raise ValueError(f"a swarm of {k} among {len(self.alts)} alternatives")
        for _ in range(SWARM_SUBSETS):
            chosen = sorted(rng.sample(range(len(self.alts)), k))    # grammar order: the weights' order
            try:
                view = self.restricted([self.alts[i] for i in chosen], SWARM_PICKS)
                return view.sample(rng, inputs, SWARM_TRIES)
            except NoProgram:
                pass
        raise NoProgram(f"no program from {SWARM_SUBSETS} swarm subsets of {k} alternatives")

    def _sample_steps(self, rng, inputs):
        """At most `target` top-level steps; the last ones go to inputs not yet used."""
        target = rng.randint(1, self.config.max_ops)
        types, used, steps = list(inputs), [False] * len(inputs), []
        n = len(inputs)
        for _ in range(8 * (target + n)):
            if len(steps) >= target:
                break
            unused_inputs = [i for i in range(n) if not used[i]]
            alt = self.pick_alt(rng)
            apps = self._apps_uncached(alt, tuple(types), 0, self.context)
            if not apps and alt.rule.needs and len(steps) + 2 <= target and not unused_inputs:
                self._produce(rng, alt.rule.needs, types, used, steps)
                apps = self._apps_uncached(alt, tuple(types), 0, self.context)
            if unused_inputs and target - len(steps) <= len(unused_inputs):
                # no budget left to spare: only steps that read a forgotten input
                apps = apps.where(lambda values: alt.reads and any(v in unused_inputs for v in values))
            elif alt.reads and rng.random() < 0.7:       # prefer reading unread values, so few are returned
                apps = apps.where(lambda values: not all(used[v] for v in values)) or apps
            if apps:
                self._append(alt, rng.choice(apps), rng, types, used, steps)
        if all(used[:n]):
            return Program(tuple(inputs), tuple(steps))
        return None

    def _append(self, alt, app, rng, types, used, steps) -> bool:
        """Add the step with sampled sub-programs, if they can be had."""
        step = self._with_bodies(alt, app, rng, tuple(types), 1)
        if step is None:
            return False
        steps.append(step)
        for s in reads(step) + captures(step):
            used[s] = True
        types.extend(app.results)
        used.extend([False] * len(app.results))
        return True

    def _with_bodies(self, alt, app, rng, outer, depth) -> Step | None:
        """The step with a non-empty chain for each sub-program (not all the same
        for a `distinct` alternative), or None."""
        bodies = [b for b in app.slots if isinstance(b, Body)]
        for _ in range(3):
            chains = tuple(self._sample_chain(rng, b, depth, outer) for b in bodies)
            if all(chains) and all(needed(b) <= {j for s in c for j in reads(s)} for b, c in zip(bodies, chains)) \
                    and not (alt.distinct and len(chains) > 1 and len(set(chains)) == 1):
                return Step(alt, app, chains)
        return None

    def _produce(self, rng, needs, types, used, steps):
        """Add a step whose result is a type some rule needs (a scalar predicate, say)."""
        scope = tuple(types)
        options = [(a, self._apps_uncached(a, scope, 0, self.context, needs))
                   for a in self.alts if not a.has_bodies and a.reads]
        options = [(a, apps) for a, apps in options if apps]
        if options:
            alt, apps = rng.choices(options, _normalised([a.weight for a, _ in options]))[0]
            self._append(alt, rng.choice(apps), rng, types, used, steps)

    def _sample_chain(self, rng, body: Body, depth: int, outer) -> tuple[Step, ...]:
        """1..max_body_ops steps. As a person would, a body mostly reads its other
        parameters (the fori index) and often the enclosing program's values
        (`c * i`, `a + x0`): a step prefers a parameter the chain has not read
        yet, else sometimes a captured value; inside a mesh it prefers the
        operations that only apply there (collectives)."""
        chain = []
        types, cur = self._body_scope(body, outer)
        # inside a mesh, a chain mostly communicates (psum, all_gather, ...)
        special = [k for k, _ in body.context if k in self._within]
        for _ in range(rng.randint(1, self.config.max_body_ops)):
            unread = set(range(cur)) - {j for step in chain for j in reads(step)}
            if unread and rng.random() < 0.75:
                want = unread                            # a parameter: the fori index, the other carry
            elif rng.random() < 0.3:
                want = range(cur + 1, cur + 1 + len(outer))      # a captured value
            else:
                want = None
            within = special[0] if special and rng.random() < 0.6 else None
            # many alternatives cannot read what is wanted (an i32 index): try more of them
            for attempt in range(ATTEMPTS):
                alt = self.pick_alt(rng, within if attempt < ATTEMPTS // 2 else None)
                apps = self._extending(alt, body, depth, types, cur)
                if want and attempt < ATTEMPTS - 2:
                    apps = apps.where(lambda values: any(j in want for j in values))
                step = self._with_bodies(alt, rng.choice(apps), rng, outer, depth + 1) if apps else None
                if step is not None:
                    chain.append(step)
                    break
        return tuple(chain)


def _weights(rng, x: Type, pools) -> list[Type]:
    """Parameters of a layer applied to x: for (N, C, spatial...) a kernel
    (O, C or 1, k...), for (m, k) expert matrices (g, k, n) and group sizes (g,);
    none if they would be beyond the bounds of `types`."""
    if x.rank >= 3:
        per_group = rng.choice((x.shape[1], 1))
        out = x.shape[1] * rng.choice((1, 2)) if per_group == 1 else rng.choice(pools.dims)
        kernel = tuple(rng.choice([k for k in (1, 2, 3) if k <= d] or [1]) for d in x.shape[2:])
        layer = [Type(x.dtype, (out, per_group) + kernel)]
    else:
        g = rng.choice([d for d in pools.dims if d > 1] or [2])
        layer = [Type(x.dtype, (g, x.shape[1], rng.choice(pools.dims))), Type("i32", (g,))]
    return layer if all(within_bounds(t.shape) for t in layer) else []


def _normalised(weights) -> list[float]:
    """Weights scaled by one power of two, the largest to [0.5, 1): their sums
    cannot overflow (weights of 1e308) and the total is positive (weights of
    1e-300). Scaling by a power of two is exact in floating point, and so are
    then the sums and `random() * total`: every choice is the one the weights
    as written make wherever those work (the packaged grammar's weights, say),
    and the same whatever factor scales them all (up to rounding of the
    scaled weights themselves, unless the factor is a power of two). Only a
    weight some 2**1000 times smaller than the largest loses precision or
    becomes 0: as good as never chosen either way."""
    if not weights:
        return []
    _, e = math.frexp(max(weights))
    return [math.ldexp(w, -e) for w in weights]


def _inherit(app: App, context) -> App:
    """The application with its sub-programs inside `context` too."""
    slots = tuple(s._replace(context=tuple(dict(context, **dict(s.context)).items())) if isinstance(s, Body) else s
                  for s in app.slots)
    return app._replace(slots=slots)


def _local(body: Body) -> tuple[Type, ...]:
    """The types a body's chain step sees before the enclosing program's
    values: the other parameters, then the current value."""
    return tuple(t for _, t in chain_scope(body)) + (body.result,)


def _compositions(total: int, parts: int):
    """Every way to write `total` as an ordered sum of `parts` positive ints."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    for k in range(1, total - parts + 2):
        for rest in _compositions(total - k, parts - 1):
            yield (k,) + rest


def _skip_diagonal(i: int, c: int, b: int) -> int:
    """The i-th point of [0, c**b) in mixed-radix order that is not on the
    diagonal (all b digits equal: the points a * (1 + c + ... + c**(b-1)))."""
    d = sum(c ** p for p in range(b))
    a, offset = divmod(i, d - 1)
    return a * d + 1 + offset


def _digits(i: int, radices) -> list[int]:
    """i in mixed radix, most significant first."""
    out = []
    for r in reversed(radices):
        i, digit = divmod(i, r)
        out.append(digit)
    return out[::-1]


class Enumeration:
    """All programs of a signature, by size; counts, indexing and listing.

    Within a size, programs are ordered by their first step (alternative in
    grammar order, then application in rule order, then sub-program sizes,
    the inputs the sub-programs capture, and the sub-programs), then by the
    rest, recursively.

    The choices are described once, as blocks: each `_*_blocks` generator
    yields, for one way to make the next choice, the set of inputs the
    choice reads inside sub-programs (a bit mask: a program must read every
    input, so counts are kept per mask; a chain's mask also has a bit for
    each parameter its body `needs`), the number of programs in the block,
    and what `_build_*` needs to make the i-th of them. Counting adds
    the blocks up (memoised); unranking walks the same blocks to the one
    that holds the index."""

    def __init__(self, space: Space, inputs: tuple[Type, ...]):
        self.space, self.inputs = space, tuple(inputs)
        self._full = (1 << len(self.inputs)) - 1
        self._counted: dict = {}      # (types, unused, r) -> number of programs: see `counted`
        self._chain = lru_cache(maxsize=None)(self._chain_uncached)
        self._fill = lru_cache(maxsize=None)(self._fill_uncached)
        self._steps = lru_cache(maxsize=None)(self._steps_uncached)
        # consecutive indices unrank through the same choices: their blocks, indexed
        self._indexed = lru_cache(maxsize=4096)(self._indexed_uncached)

    def _steps_uncached(self, types) -> tuple:
        """(alt, app, inputs its operands read, its sub-programs) for every
        top-level step from this scope (scopes recur: counting visits each
        with many `unused` and `r`)."""
        return tuple((alt, app, self._input_mask(reads(Step(alt, app))),
                      tuple(b for b in app.slots if isinstance(b, Body)))
                     for alt in self.space.alts for app in self.space.apps(alt, types, 0))

    def _needed_mask(self, body) -> int:
        """The bits a body's chain mask has for the parameters it must read
        (after the inputs' bits)."""
        return sum(1 << (len(self.inputs) + q) for q in needed(body))

    def _input_mask(self, indices) -> int:
        return sum(1 << i for i in set(indices) if i < len(self.inputs))

    # ------------------------------------------------------------ the blocks

    def _program_blocks(self, types, unused, r):
        """Programs of r more operations from this scope, which must still read
        the inputs in `unused`."""
        if r == 0:
            if unused == 0:
                yield 0, 1, None
            return
        for alt, app, read, bodies in self._steps(types):
            left = unused & ~read
            for s in range(r):
                for mask, ways in self._fill(bodies, types, 1, s, alt.distinct).items():
                    rest = self._count(types + app.results, left & ~mask, r - 1 - s)
                    if rest:
                        yield 0, ways * rest, (alt, app, bodies, s, mask, rest, left & ~mask, r - 1 - s)

    def _build_program(self, types, block, i) -> tuple[Step, ...]:
        if block is None:
            return ()
        alt, app, bodies, s, mask, rest, left, r = block
        step = Step(alt, app, self._unrank_fill(bodies, types, 1, s, alt.distinct, mask, i // rest))
        return (step,) + self._unrank_program(types + app.results, left, r, i % rest)

    def _fill_blocks(self, bodies, outer, depth, s, distinct):
        """Non-empty chains for these sub-programs, s operations in all; for a
        `distinct` alternative, not all the same."""
        for sizes in _compositions(s, len(bodies)):
            tables = [[(m, c) for m, c in sorted(self._chain(b, outer, depth, k).items())
                       if m & self._needed_mask(b) == self._needed_mask(b)] for b, k in zip(bodies, sizes)]
            for combo in itertools.product(*tables):
                counts = [c for _, c in combo]
                diagonal = distinct and len(bodies) > 1 and \
                    all((b, k, m) == (bodies[0], sizes[0], combo[0][0]) for b, k, (m, _) in zip(bodies, sizes, combo))
                size = math.prod(counts) - (counts[0] if diagonal else 0)
                if size:
                    mask = functools.reduce(operator.or_, (m for m, _ in combo), 0) & self._full
                    yield mask, size, (sizes, combo, diagonal)

    def _build_fill(self, bodies, outer, depth, block, i):
        sizes, combo, diagonal = block
        counts = [c for _, c in combo]
        if diagonal:
            i = _skip_diagonal(i, counts[0], len(bodies))
        return tuple(self._unrank_chain(b, outer, depth, k, m, d)
                     for b, k, (m, _), d in zip(bodies, sizes, combo, _digits(i, counts)))

    def _chain_blocks(self, body, outer, depth, k):
        """Chains of k operations (nested sub-programs included) for a body."""
        if k == 0:
            yield 0, 1, None
            return
        local, n = len(chain_scope(body)) + 1, len(self.inputs)
        for alt in self.space.alts:
            for app in self.space.body_apps(alt, body, depth, outer):
                read = reads(Step(alt, app))
                caught = sum(1 << (j - local) for j in read if local <= j < local + n) | \
                    sum(1 << (n + q) for q in needed(body) if q in read)
                inner = tuple(b for b in app.slots if isinstance(b, Body))
                for s in range(k):
                    for m1, c1 in sorted(self._fill(inner, outer, depth + 1, s, alt.distinct).items()):
                        for m2, c2 in sorted(self._chain(body, outer, depth, k - 1 - s).items()):
                            yield caught | m1 | m2, c1 * c2, (alt, app, inner, s, m1, m2, c2)

    def _build_chain(self, body, outer, depth, k, block, i):
        if block is None:
            return ()
        alt, app, inner, s, m1, m2, rest = block
        step = Step(alt, app, self._unrank_fill(inner, outer, depth + 1, s, alt.distinct, m1, i // rest))
        return (step,) + self._unrank_chain(body, outer, depth, k - 1 - s, m2, i % rest)

    # ------------------------------------------------------------ counting

    def _count(self, types, unused, r) -> int:
        n = self._counted.get((types, unused, r))
        if n is None:
            n = self._counted[types, unused, r] = sum(size for _, size, _ in self._program_blocks(types, unused, r))
        return n

    def counted(self) -> dict:
        """What counting found so far, state by state: given to `learn` in
        another process (a worker of the same run), it spares that process the
        counting, and unranking there visits only the states its indices need."""
        return dict(self._counted)

    def learn(self, counted: dict) -> None:
        """Take the `counted` of an enumeration of the same space and inputs."""
        self._counted.update(counted)

    def _chain_uncached(self, body, outer, depth, k) -> dict[int, int]:
        """mask of inputs read -> number of chains"""
        out = Counter()
        for mask, size, _ in self._chain_blocks(body, outer, depth, k):
            out[mask] += size
        return dict(out)

    def _fill_uncached(self, bodies, outer, depth, s, distinct) -> dict[int, int]:
        out = Counter()
        for mask, size, _ in self._fill_blocks(bodies, outer, depth, s, distinct):
            out[mask] += size
        return dict(out)

    def count(self, size: int) -> int:
        """Number of programs with exactly `size` operations."""
        return self._count(self.inputs, self._full, size)

    def counts(self, max_size: int) -> list[int]:
        return [self.count(k) for k in range(1, max_size + 1)]

    # ------------------------------------------------------------ unranking

    def _indexed_uncached(self, blocks, args) -> dict:
        """mask -> (the end of each block's index range, the blocks), in order,
        of the blocks `blocks` (a `_*_blocks` method's name) yields for args."""
        out: dict = {}
        for m, size, block in getattr(self, blocks)(*args):
            ends, found = out.setdefault(m, ([], []))
            ends.append((ends[-1] if ends else 0) + size)
            found.append(block)
        return out

    def _find(self, blocks, args, mask, i):
        """The block of this mask that holds index i, and i within it."""
        ends, found = self._indexed(blocks, args).get(mask, ((), ()))
        j = bisect.bisect_right(ends, i)
        if j == len(ends):
            raise IndexError("index beyond count")
        return found[j], i - (ends[j - 1] if j else 0)

    def _unrank_program(self, types, unused, r, i):
        block, i = self._find("_program_blocks", (types, unused, r), 0, i)
        return self._build_program(types, block, i)

    def _unrank_fill(self, bodies, outer, depth, s, distinct, mask, i):
        block, i = self._find("_fill_blocks", (bodies, outer, depth, s, distinct), mask, i)
        return self._build_fill(bodies, outer, depth, block, i)

    def _unrank_chain(self, body, outer, depth, k, mask, i):
        block, i = self._find("_chain_blocks", (body, outer, depth, k), mask, i)
        return self._build_chain(body, outer, depth, k, block, i)

    def program(self, size: int, index: int) -> Program:
        """The program number `index` (0-based) among those of this size."""
        if not 0 <= index < self.count(size):
            raise IndexError(f"index {index} out of range for size {size} ({self.count(size)} programs)")
        return Program(self.inputs, self._unrank_program(self.inputs, self._full, size, index))

    # ------------------------------------------------------------ global index

    def locate(self, index: int, max_size: int) -> tuple[int, int]:
        """Global index over sizes 1..max_size -> (size, index within size)."""
        for k in range(1, max_size + 1):
            c = self.count(k)
            if index < c:
                return k, index
            index -= c
        raise IndexError("index beyond the number of programs up to this size")

    def programs(self, max_size: int):
        """Every program up to `max_size` operations, in index order."""
        for k in range(1, max_size + 1):
            for i in range(self.count(k)):
                yield self.program(k, i)
