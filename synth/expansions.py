"""The typed expansions: every well-typed step at a point of a program.

At each point the space offers an operation alternative applied to values
in scope (`Expansions.apps`), or, inside a sub-program, to its parameters
and the value built so far (`Expansions.body_apps`), in rule order. Both
modes walk these: sampling draws among them, enumeration visits them all.
They do not depend on the alternatives' weights, so views of a space that
sample from other alternatives (`Space.restricted`) share them.

Applications are memoised per scope and made only when asked for: a rule's
transfer runs once per tuple of operand types (`Transfers`), and its
applications go to every choice of values of those types (`Apps`).
"""
from __future__ import annotations

import bisect
import dataclasses
import itertools
from collections.abc import Sequence
from functools import cached_property, lru_cache
from itertools import accumulate

from . import walk
from .config import Config
from .grammar import Alt, Grammar
from .program import chain_scope
from .rules import App, Body, fits
from .types import Type

TRANSFERS = 4096   # tuples of operand types a table of a rule's transfer keeps (`Transfers`)
# tuples of operand types all tables together keep through `clear_caches`
# (~100 MB): tuples recur across programs where scopes do not
TRANSFERS_KEPT = 150_000


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
    every step of a chain, by a step that produces a needed type."""

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


class Expansions:
    """The steps of one grammar and configuration (`Config`): `pools` are the
    configuration's, with only dtypes the grammar can write; `context` is
    what a program runs within (under vmap, if `batched`)."""

    def __init__(self, grammar: Grammar, config: Config):
        self.grammar, self.config = grammar, config
        dtypes = tuple(d for d in config.pools.dtypes if d in grammar.dtypes)
        self.pools = dataclasses.replace(config.pools, dtypes=dtypes)
        self.context = (("batched", True),) if config.batched else ()
        self._apps = lru_cache(maxsize=100_000)(self.grouped)
        self._body_apps = lru_cache(maxsize=100_000)(self._body_apps_uncached)
        self._scope = lru_cache(maxsize=8)(Scope)
        self._tables: dict[tuple, Transfers] = {}     # (rule, args, context) -> its Transfers
        self._local = lru_cache(maxsize=1024)(_local_types)

    def clear_caches(self) -> None:
        """Forget memoised applications (they grow with every new signature),
        and the transfers' tables once they hold more than TRANSFERS_KEPT."""
        self._apps.cache_clear()
        self._body_apps.cache_clear()
        self._scope.cache_clear()
        self._local.cache_clear()
        if sum(map(len, self._tables.values())) > TRANSFERS_KEPT:
            self._tables.clear()

    def grouped(self, alt: Alt, types: tuple[Type, ...], depth: int, context,
                results=None, reading=None) -> Apps:
        """The applications of `alt` to values of these types, in rule order,
        grouped by operand values (`Apps`: sampling places only the one it
        draws); if given, only those of one result in `results` and those
        reading value `reading` (selecting before the operands are placed
        costs far less than placing them all and dropping most). Memoised
        in the scope's `Scope`."""
        if walk.too_deep(alt, depth, self.config.max_depth) or walk.no_derivative(alt, context):
            return Apps((), context)
        scope = self._scope(types)
        key = alt, context, results, reading
        apps = scope.apps.get(key)
        if apps is None:
            rule_key = alt.rule, alt.args, context, results, reading   # alternatives of one rule share these
            apps = scope.groups.get(rule_key)
            if apps is None:
                apps = scope.groups[rule_key] = self._groups(alt.rule, alt.args, scope, context, results, reading)
            if alt.distinct:
                apps = apps.where(walk.distinct_values)
            if alt.same:        # jnp.pad(x, (0, x.shape[0]))
                apps = apps.where(walk.one_value)
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
        return self.extending(alt, body, depth, *self.body_scope(body, outer))

    def body_scope(self, body: Body, outer) -> tuple[tuple[Type, ...], int]:
        """The types a body's chain step sees (`body_apps`) and the index of
        the current value among them."""
        local = self._local(body)
        return local + (() if walk.closed(body) else outer), len(local) - 1

    def extending(self, alt, body, depth, types, cur) -> Apps:
        """`body_apps`, given the `body_scope`: those of the body's result type
        that read the current value."""
        if not walk.extends(alt):
            return Apps((), body.context)
        return self.grouped(alt, types, depth, body.context, (body.result,), cur)

    def body_apps(self, alt: Alt, body: Body, depth: int, outer: tuple[Type, ...]) -> tuple[App, ...]:
        """Applications that extend a body's chain: read the current value and keep
        its type. Operands index the body's other parameters, the current value,
        then the enclosing program's values (`outer`), which the body captures."""
        return self._body_apps(alt, body, depth, outer).placed


def _inherit(app: App, context) -> App:
    """The application with its sub-programs inside `context` too."""
    slots = tuple(s._replace(context=tuple(dict(context, **dict(s.context)).items())) if isinstance(s, Body) else s
                  for s in app.slots)
    return app._replace(slots=slots)


def _local_types(body: Body) -> tuple[Type, ...]:
    """The types a body's chain step sees before the enclosing program's
    values: the other parameters, then the current value."""
    return tuple(t for _, t in chain_scope(body)) + (body.result,)
