"""The op tally: what every op count over records is made of.

Over programs added one at a time, a `Tally` keeps, per op, the number of
programs containing it and its number of occurrences; from these come the
per-op table (`rows`, as coverage reports print it) and the op distribution
in either of `MEASURES` (`shares`), or each op's own value in the measure
(`values`: the share of programs containing it, or of occurrences), as
targets of tuning state them. Only the universe's ops
(`lowering.universe()`, every stablehlo/chlo op of the installed jaxlib)
have shares and values; the others are counted and listed apart.

Coverage, the real-code reference distribution, corpus targets and tuning's
pilots all count with it. `multiset` (of `run.fields`) is a record's ops as
one hashable value, for counting distinct op multisets (quality, diversity).
"""
from __future__ import annotations

from collections import Counter

from ...lowering import universe
from ..run.fields import multiset

MEASURES = {
    "programs": "each op's share of the programs containing it, normalised to sum 1 over ops",
    "occurrences": "each op's share of all op occurrences",
}


class Tally:
    def __init__(self):
        self.programs = 0
        self.occurrences: Counter = Counter()      # op -> occurrences
        self.containing: Counter = Counter()       # op -> programs containing it

    def add(self, ops) -> None:
        """One program, of (op, count) pairs, one pair per op it holds."""
        self.programs += 1
        for op, n in ops:
            self.occurrences[op] += n
            self.containing[op] += 1

    def add_record(self, record: dict) -> None:
        self.add(multiset(record))

    @classmethod
    def of_records(cls, records) -> "Tally":
        tally = cls()
        for record in records:
            tally.add_record(record)
        return tally

    @classmethod
    def of_report(cls, report: dict) -> "Tally":
        """The tally a report (`report()`, or a coverage report) was made
        of, its universe's ops only: reports give no counts of the others."""
        tally = cls()
        tally.programs = report["programs"]
        for o in report["ops"]:
            tally.occurrences[o["op"]] = o["count"]
            tally.containing[o["op"]] = o["programs"]
        return tally

    def hit(self) -> list[str]:
        """The universe's ops seen, by decreasing occurrences, then name."""
        u = universe()
        return sorted((op for op in self.occurrences if op in u), key=lambda o: (-self.occurrences[o], o))

    def outside(self) -> list[str]:
        """Ops seen that are not the universe's (func.func, func.call, ...), by name."""
        u = universe()
        return sorted(op for op in self.occurrences if op not in u)

    def rows(self) -> list[dict]:
        """{op, count (occurrences), programs (containing it)} of each op of `hit`."""
        return [{"op": op, "count": self.occurrences[op], "programs": self.containing[op]} for op in self.hit()]

    def report(self) -> dict:
        """Plain data: "programs", "ops" (`rows`) and "outside_universe"."""
        return {"programs": self.programs, "ops": self.rows(), "outside_universe": self.outside()}

    def table(self) -> dict[str, tuple[int, int]]:
        """{op: (occurrences, programs containing it)} over the universe's ops seen, by name."""
        u = universe()
        return {op: (n, self.containing[op]) for op, n in sorted(self.occurrences.items()) if op in u}

    def shares(self, measure: str) -> dict[str, float]:
        """The op distribution in `measure` (see MEASURES): {op: share},
        summing to 1 over the universe's ops seen; {} if none is."""
        column = _column(measure)
        table = self.table()
        total = sum(row[column] for row in table.values())
        return {op: row[column] / total for op, row in table.items()} if total else {}

    def values(self, measure: str) -> dict[str, float]:
        """Each op's own value in `measure`: the share of programs containing
        it ("programs", not normalised over ops), or its share of all
        occurrences ("occurrences", as in `shares`)."""
        if _column(measure) == 0:
            return self.shares(measure)
        return {op: containing / self.programs for op, (_, containing) in self.table().items()}


def _column(measure: str) -> int:
    """Where `table` keeps the count a measure is made of."""
    if measure not in MEASURES:
        raise ValueError(f"measure {measure!r} is not one of {', '.join(MEASURES)}")
    return 1 if measure == "programs" else 0
