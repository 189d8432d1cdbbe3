"""The typed expansion space, and its two modes: sampling and enumeration.

At each point of a program the space offers every well-typed step
(`expansions`): an operation alternative applied to values in scope
(`Space.apps`), or, inside a sub-program, to its parameters and the value
built so far (`Space.body_apps`). Sampling picks among these steps by the
grammar's weights (`sampling`); enumeration visits all of them in a fixed
order, alternatives in grammar order, applications in rule order
(`enumeration`). Both keep the walk constraints of `walk`.

Size is the number of operations, sub-program operations included. Every
input is used by some operation; values nobody uses are returned.

Swarm sampling (`Space.sample_swarm`) draws each program from a random
subset of the alternatives (`Space.restricted`); uniform sampling over all
programs up to a size draws an index of the enumeration (`Enumeration.locate`,
`Enumeration.program`).

This module is the space's front: `Space`, and the names the command line
and the corpus take from here (`Config`, `NoProgram`, `Enumeration`,
`SWARM_SUBSETS`).
"""
from __future__ import annotations

import copy
import random

from .choice import Alternatives
from .config import Config, NoProgram
from .enumeration import Enumeration
from .expansions import Expansions
from .grammar import Alt, Grammar
from .program import Program
from .sampling import Sampler
from .signatures import Signatures
from .types import Type

__all__ = ["Config", "Enumeration", "NoProgram", "Space", "SWARM_PICKS", "SWARM_SUBSETS", "SWARM_TRIES"]

SWARM_SUBSETS = 10  # subsets a swarm draw tries before it counts as a failure
SWARM_TRIES = 5     # programs (and signatures, unless given) each subset tries
# alternatives a subset may pick in all before it is given up: a subset whose
# sub-programs cannot be filled (only loops, say) makes every step retry its
# chains, nested, for minutes; default sampling needs under 3,000 per program
SWARM_PICKS = 5000


class Space(Expansions):
    """The steps of a grammar and configuration (`Expansions`), sampled by
    the weights of its alternatives of positive weight (`alts`)."""

    def __init__(self, grammar: Grammar, config: Config = Config()):
        super().__init__(grammar, config)
        self.choice = Alternatives(a for a in grammar.alts if a.weight > 0)
        self._picks = None      # picks left, in a view with a budget (see `restricted`)
        self.signatures = Signatures(self.pools, config.max_inputs)

    @property
    def alts(self) -> list[Alt]:
        """The alternatives sampling picks from, in grammar order."""
        return self.choice.alts

    def restricted(self, alts, picks: int | None = None) -> Space:
        """This space with only `alts` to sample from (the others weigh 0),
        and if `picks` is given, NoProgram once its sampling has picked that
        many alternatives. It shares the memoised applications, which do not
        depend on the alternatives allowed: a view per program costs next to
        nothing."""
        view = copy.copy(self)
        view.choice = Alternatives(alts)
        view._picks = picks
        return view

    def pick_alt(self, rng: random.Random, within: str | None = None) -> Alt:
        """An alternative by weight; `within`: among those of rules that apply only there."""
        if self._picks is not None:
            if self._picks <= 0:
                raise NoProgram("the budget of picks is spent")
            self._picks -= 1
        return self.choice.pick(rng, within)

    def sample_signature(self, rng: random.Random) -> tuple[Type, ...]:
        """Input types for a program (`Signatures.sample`)."""
        return self.signatures.sample(rng)

    def sample(self, rng: random.Random, inputs: tuple[Type, ...] | None = None, tries: int = 20) -> Program:
        """A random program, by the weights; the same rng state gives the same program."""
        for _ in range(tries):
            sig = inputs or self.sample_signature(rng)
            program = Sampler(self, rng).program(sig)
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
