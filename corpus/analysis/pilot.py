"""What tuning reads off a pilot corpus: its op tally and, from each
record's `attribution`, how often each grammar alternative was used and
which ops its uses produced; the model of `model.py` is fitted to these.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ...lowering import universe
from ..run.fields import multiset
from ..run.files import CorpusError
from ..run.readers import checked_records, corpus_files
from ..run.records import PROGRAM
from .tally import Tally


@dataclass
class Pilot:
    """A corpus's op values (its `tally`, over the universe's ops) and, per
    alternative, its uses and the ops they produced."""
    tally: Tally = field(default_factory=Tally)
    uses: Counter = field(default_factory=Counter)         # alternative -> uses
    holds: Counter = field(default_factory=Counter)        # (alternative, op) -> programs where a's uses made op
    made: Counter = field(default_factory=Counter)         # (alternative, op) -> occurrences a made
    base: Counter = field(default_factory=Counter)         # op -> programs where only PROGRAM made it
    base_made: Counter = field(default_factory=Counter)    # op -> occurrences PROGRAM made
    within: dict = field(default_factory=dict)             # alternative -> the context it applies only within
    openers: dict = field(default_factory=dict)            # context -> alternatives in every program using it

    @property
    def programs(self) -> int:
        return self.tally.programs

    @property
    def presence(self) -> Counter:
        """op -> programs containing it."""
        return self.tally.containing

    @property
    def occurrences(self) -> Counter:
        return self.tally.occurrences

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
        # the universe's ops only: what no target can name is no op to tune
        self.tally.add((op, n) for op, n in multiset(record) if op in u)
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
                if a["alternative"] == PROGRAM:
                    self.base_made[a["op"]] += a["count"]
                else:
                    self.made[a["alternative"], a["op"]] += a["count"]
        for op, alts in makers.items():
            if alts == {PROGRAM}:
                self.base[op] += 1
            # a program holds op "because of" each alternative that made it
            self.holds.update((a, op) for a in alts if a != PROGRAM)

    def values(self, measure: str) -> dict:
        """Each op's value in `measure` (`Tally.values`)."""
        return self.tally.values(measure)
