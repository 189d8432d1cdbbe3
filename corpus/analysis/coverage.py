"""Coverage of StableHLO/CHLO ops and of grammar alternatives over records,
the quality of the programs (`quality`), their diversity beyond the op set
(`diversity`), which ops each alternative produced, and the comparison of two
corpora's op distributions.

Op coverage has two denominators: the ops JAX can emit (`lowering.reach`:
each shown by a probe) and the universe, every op the installed jaxlib
registers (`lowering.universe()`), which also holds legacy ops and ops only
other frontends emit. Ops never hit are split the same way: those a program
could reach, with the probe that reaches them, and those JAX never emits,
with the reason. Ops outside the universe (func.func, func.call, ...) are
counted and listed apart.

Ops are counted by a `tally.Tally`. An op distribution is a dict op ->
share summing to 1, over the universe's ops only, in one of two measures
(`MEASURES`): "programs", the share of programs containing each op,
normalised to sum 1 over ops; "occurrences", each op's share of all op
occurrences. `shares` gives a corpus's (from its Coverage or report), `tv`,
`js` and `entropy` measure them, and `compare` sets two corpora side by side.
"""
from __future__ import annotations

import csv
import io
import math
import textwrap
from collections import Counter
from dataclasses import dataclass, field

from ...lowering import universe
from ...lowering.reach import NOT_EMITTED, reach_of, reachable
from ..run.readers import checked_records, visible
from ..run.records import PROGRAM
from .diversity import Diversity, format_diversity
from .quality import Quality, format_quality
from .tally import MEASURES, Tally


@dataclass
class Coverage:
    quality: Quality
    tally: Tally = field(default_factory=Tally)
    alternatives: Counter = field(default_factory=Counter)     # alternative -> times used
    diversity: Diversity = field(default_factory=Diversity)
    attributed: int = 0                                        # records that carry `attribution`
    by_alt: Counter = field(default_factory=Counter)           # (alternative, op) -> ops it produced
    by_alt_uses: Counter = field(default_factory=Counter)      # (alternative, op) -> uses that produced the op
    attributed_uses: Counter = field(default_factory=Counter)  # alternative -> uses, in attributed records

    @property
    def programs(self) -> int:
        return self.tally.programs

    def add(self, record: dict) -> None:
        self.tally.add_record(record)
        self.alternatives.update(record["alternatives"])
        self.quality.add(record)
        self.diversity.add(record)
        if "attribution" in record:     # corpora made before records carried it lack it
            self.attributed += 1
            uses = Counter(record["alternatives"])
            uses[PROGRAM] = 1
            self.attributed_uses.update(uses)
            for a in record["attribution"]:
                key = a["alternative"], a["op"]
                self.by_alt[key] += a["count"]
                # a record sums the ops of all its uses of an alternative: each use is taken to
                # make at most one of the op (exact unless one use made several and another none)
                self.by_alt_uses[key] += min(a["count"], uses[a["alternative"]])

    def report(self, alternatives=()) -> dict:
        """Plain data: ops by count, coverage of the ops JAX can emit and of the
        universe, what was never hit and why, quality, diversity, and the ops
        of each alternative (`by_alt`: {alternative: {op: count}}).
        `alternatives` is every alternative of the grammar, to list the unused."""
        u = universe()
        reach, not_emitted = reachable() & u, frozenset(NOT_EMITTED) & u
        hit = self.tally.hit()
        never = sorted(u - set(hit))
        return {
            "programs": self.programs,
            "universe": len(u),
            "covered": len(hit),
            "coverage": round(len(hit) / len(u), 4),
            "reachable": len(reach),
            "covered_reachable": len(reach.intersection(hit)),
            "coverage_reachable": round(len(reach.intersection(hit)) / max(len(reach), 1), 4),
            "ops": self.tally.rows(),
            "outside_universe": self.tally.outside(),
            "never_hit": never,
            "never_hit_reachable": {op: reach_of(op) for op in never if op in reach},
            "not_emitted": {op: reach_of(op) for op in never if op in not_emitted},
            # both non-empty only if lowering/reach.py is stale for this jaxlib or corpus
            "hit_not_emitted": sorted(not_emitted.intersection(hit)),
            "unclassified": sorted(u - reach - not_emitted),
            "alternatives": dict(sorted(self.alternatives.items(), key=lambda kv: (-kv[1], kv[0]))),
            "alternatives_never_used": sorted(set(alternatives) - set(self.alternatives)),
            "quality": self.quality.report(),
            "diversity": self.diversity.report(),
            "attributed": self.attributed,
            "attributed_uses": dict(sorted(self.attributed_uses.items())),
            "by_alt": self._by_alt(self.by_alt),
            "by_alt_uses": self._by_alt(self.by_alt_uses),
        }

    def _by_alt(self, counts: Counter) -> dict:
        """{alternative: {op: n}}, alternatives by name, each one's ops by count."""
        out: dict[str, dict[str, int]] = {}
        for (alt, op), n in sorted(self.by_alt.items(), key=lambda kv: (kv[0][0], -kv[1], kv[0][1])):
            out.setdefault(alt, {})[op] = counts[alt, op]
        return out


def collect(files, quality: Quality) -> Coverage:
    """The coverage of the records of `files` (as `readers.corpus_files` lists
    them); a record that breaks the schema is a CorpusError naming its line."""
    cov = Coverage(quality)
    for _, record in checked_records(files):
        cov.add(record)
    return cov


# ---------------------------------------------------------------- op distributions

def tally_of(coverage) -> Tally:
    """The op tally of a Coverage, or of its report."""
    return coverage.tally if isinstance(coverage, Coverage) else Tally.of_report(coverage)


def shares(coverage, measure: str) -> dict[str, float]:
    """The op distribution of a Coverage (or its report) in `measure`
    ("programs" or "occurrences", see MEASURES): {op: share}, summing to 1
    over the stablehlo/chlo ops hit; {} if none is."""
    return tally_of(coverage).shares(measure)


def tv(p: dict, q: dict) -> float:
    """Total-variation distance between two distributions {key: share}: half
    the sum of the absolute differences; 0 for equal ones, 1 for disjoint."""
    return min(1.0, sum(abs(p.get(k, 0.0) - q.get(k, 0.0)) for k in sorted(p.keys() | q.keys())) / 2)


def js(p: dict, q: dict) -> float:
    """Jensen-Shannon distance between two distributions {key: share}: the
    square root of the Jensen-Shannon divergence in base 2 (a metric); 0 for
    equal ones, 1 for disjoint."""
    def part(x, y):     # x log2(x / m), m the mixture (x + y) / 2
        return x * math.log2(2 * x / (x + y)) if x > 0 else 0.0
    divergence = sum(part(p.get(k, 0.0), q.get(k, 0.0)) + part(q.get(k, 0.0), p.get(k, 0.0))
                     for k in sorted(p.keys() | q.keys())) / 2
    return math.sqrt(min(1.0, max(0.0, divergence)))     # rounding may step just outside [0, 1]


def entropy(p: dict) -> float:
    """Shannon entropy of a distribution {key: share}, in bits."""
    return 0.0 - sum(x * math.log2(x) for x in p.values() if x > 0)


def _round(x: float) -> float:
    return round(x, 6) + 0.0     # + 0.0: never -0.0


COMPARE_FIELDS = ("op", "count_a", "count_b", "programs_a", "programs_b",
                  "programs_share_a", "programs_share_b", "programs_share_delta",
                  "occurrences_share_a", "occurrences_share_b", "occurrences_share_delta")


def compare(a, b) -> dict:
    """Two corpora's op distributions side by side, from their Coverage (or
    its report): per op (`COMPARE_FIELDS`), counts, the share of programs
    containing it, its share of occurrences, and each delta (b - a); the ops
    b gained and lost; total-variation and Jensen-Shannon distances in both
    MEASURES (None where a corpus hits no op); the entropy of each, in bits.
    Ops sorted by the change of their share of programs, largest first."""
    x, y = tally_of(a), tally_of(b)
    ta, tb = x.table(), y.table()
    dists = {m: (x.shares(m), y.shares(m)) for m in MEASURES}
    occ_a, occ_b = dists["occurrences"]
    held_a, held_b = x.values("programs"), y.values("programs")
    rows = []
    for op in sorted(ta.keys() | tb.keys()):
        (ca, pa), (cb, pb) = ta.get(op, (0, 0)), tb.get(op, (0, 0))
        sa, sb = held_a.get(op, 0.0), held_b.get(op, 0.0)
        oa, ob = occ_a.get(op, 0.0), occ_b.get(op, 0.0)
        rows.append(dict(zip(COMPARE_FIELDS, (op, ca, cb, pa, pb, *map(_round, (sa, sb, sb - sa, oa, ob, ob - oa))))))
    rows.sort(key=lambda r: (-abs(r["programs_share_delta"]), r["op"]))

    def side(n, table, i):
        return {"programs": n, "ops": len(table), "occurrences": sum(c for c, _ in table.values()),
                "entropy": {m: _round(entropy(d[i])) for m, d in dists.items()}}
    return {
        "a": side(x.programs, ta, 0),
        "b": side(y.programs, tb, 1),
        "ops": rows,
        "gained": sorted(tb.keys() - ta.keys()),
        "lost": sorted(ta.keys() - tb.keys()),
        "distance": {m: {"tv": _round(tv(p, q)), "js": _round(js(p, q))} if p and q else None
                     for m, (p, q) in dists.items()},
        "measures": MEASURES,
    }


def format_compare(c: dict, name_a: str = "A", name_b: str = "B") -> str:
    lines = [f"A = {name_a}: {c['a']['programs']} programs, {c['a']['ops']} stablehlo/chlo ops, "
             f"{c['a']['occurrences']} occurrences",
             f"B = {name_b}: {c['b']['programs']} programs, {c['b']['ops']} stablehlo/chlo ops, "
             f"{c['b']['occurrences']} occurrences", "",
             f"{'':<40} {'% of programs containing it':>26}   {'% of op occurrences':>26}",
             f"{'op':<40} {'A':>8} {'B':>8} {'B - A':>8}   {'A':>8} {'B':>8} {'B - A':>8}"]
    for r in c["ops"]:
        lines.append(f"{r['op']:<40} {100 * r['programs_share_a']:>8.1f} {100 * r['programs_share_b']:>8.1f} "
                     f"{100 * r['programs_share_delta']:>+8.1f}   {100 * r['occurrences_share_a']:>8.2f} "
                     f"{100 * r['occurrences_share_b']:>8.2f} {100 * r['occurrences_share_delta']:>+8.2f}")
    for title, ops in ((f"gained, in B not in A ({len(c['gained'])})", c["gained"]),
                       (f"lost, in A not in B ({len(c['lost'])})", c["lost"])):
        lines += ["", textwrap.fill(f"{title}: {' '.join(ops) or '-'}", 110, subsequent_indent="  ",
                                    break_on_hyphens=False)]

    def number(d, m, key):
        return f"{d[m][key]:>12.4f}" if d[m] is not None else f"{'-':>12}"
    d = c["distance"]
    lines += ["", f"{'between the op distributions':<36}{'programs':>12}{'occurrences':>12}",
              f"  {'total variation':<34}{number(d, 'programs', 'tv')}{number(d, 'occurrences', 'tv')}",
              f"  {'Jensen-Shannon distance':<34}{number(d, 'programs', 'js')}{number(d, 'occurrences', 'js')}"]
    for side in ("a", "b"):
        e = c[side]["entropy"]
        lines.append(f"  {'entropy of ' + side.upper() + ', bits':<34}{e['programs']:>12.4f}{e['occurrences']:>12.4f}")
    lines += [""] + textwrap.wrap(
        f"programs: {MEASURES['programs']}; occurrences: {MEASURES['occurrences']}; stablehlo/chlo ops only. "
        "Jensen-Shannon distance: the square root of the Jensen-Shannon divergence in base 2 "
        "(0: the same distribution, 1: no op in common).", 110, break_on_hyphens=False)
    return visible("\n".join(lines))      # op names come from the corpora


# ---------------------------------------------------------------- alternative -> op

def alt_matrix(report: dict) -> dict:
    """{alternative: {"uses": n, "ops": {op: {"count", "uses", "share"}}}} from
    a Coverage report, over the records that carry attribution: the ops each
    alternative produced, how many of its uses produced each (each use taken
    to make at most one of the op, see `Coverage.add`) and their share of its
    uses. PROGRAM's uses are the programs."""
    out = {}
    for alt, uses in report["attributed_uses"].items():
        ops = report["by_alt"].get(alt, {})
        made = report["by_alt_uses"].get(alt, {})
        out[alt] = {"uses": uses, "ops": {op: {"count": n, "uses": made[op], "share": made[op] / uses if uses else 0.0}
                                          for op, n in ops.items()}}
    return out


def format_alt_matrix(matrix: dict, programs: int, attributed: int) -> str:
    lines = [f"alternative -> ops it produced, over the {attributed} of {programs} programs that carry attribution",
             f"{'':<4}{'op':<40} {'count':>8} {'% of uses':>10}"]
    for alt, row in matrix.items():
        unit = ("program" if alt == PROGRAM else "use") + ("" if row["uses"] == 1 else "s")
        lines.append(f"{alt}  {row['uses']} {unit}" + ("" if row["ops"] else ", no op"))
        lines += [f"    {op:<40} {o['count']:>8} {100 * o['share']:>9.1f}%" for op, o in row["ops"].items()]
    return visible("\n".join(lines))      # op and alternative names come from the corpus


def alt_rows(matrix: dict) -> list[dict]:
    """The matrix as a table, one row per (alternative, op)."""
    return [{"alternative": alt, "op": op, **o} for alt, row in matrix.items() for op, o in row["ops"].items()]


def op_rows(report: dict) -> list[dict]:
    """The per-op table of a report: op, count, programs, share of programs."""
    return [{**o, "share_programs": _program_share(o, report)} for o in report["ops"]]


def _program_share(o: dict, report: dict) -> float:
    return o["programs"] / max(report["programs"], 1)


def to_csv(rows: list[dict], fields) -> str:
    """Rows as CSV with one header line; names made visible, as on a terminal."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(fields), lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return visible(out.getvalue())


OP_FIELDS = ("op", "count", "programs", "share_programs")
ALT_FIELDS = ("alternative", "op", "count", "uses", "share")


# ---------------------------------------------------------------- the report as text

def format_report(r: dict) -> str:
    lines = [f"{r['programs']} programs; {r['covered_reachable']} of the {r['reachable']} ops JAX can emit "
             f"({100 * r['coverage_reachable']:.1f}%), {r['covered']} of all {r['universe']} stablehlo/chlo ops "
             f"({100 * r['coverage']:.1f}%)", "",
             f"{'op':<40} {'count':>9} {'programs':>9} {'% programs':>10}"]
    for o in r["ops"]:
        lines.append(f"{o['op']:<40} {o['count']:>9} {o['programs']:>9} {100 * _program_share(o, r):>9.1f}%")
    lines += ["", f"never hit, JAX can emit ({len(r['never_hit_reachable'])}), with a way to reach each:"]
    lines += [f"  {op:<38} {how}" for op, how in r["never_hit_reachable"].items()]
    by_reason: dict[str, list[str]] = {}
    for op, reason in r["not_emitted"].items():
        by_reason.setdefault(reason, []).append(op)
    lines += ["", f"never hit, JAX never emits ({len(r['not_emitted'])}):"]
    lines += [textwrap.fill(f"{' '.join(ops)}: {reason}", 110, initial_indent="  ", subsequent_indent="      ",
                            break_on_hyphens=False) for reason, ops in by_reason.items()]
    if r["hit_not_emitted"]:
        lines.append(f"hit, though lowering/reach.py says JAX never emits them: {' '.join(r['hit_not_emitted'])}")
    if r["unclassified"]:
        lines.append(f"in neither table of lowering/reach.py: {' '.join(r['unclassified'])}")
    if r["outside_universe"]:
        lines.append(f"outside the universe: {' '.join(r['outside_universe'])}")
    lines.append("")
    lines.append(f"alternatives never used ({len(r['alternatives_never_used'])}): "
                 + " ".join(r["alternatives_never_used"]))
    lines += ["", format_quality(r["quality"]), "", format_diversity(r["diversity"])]
    return visible("\n".join(lines))      # op and alternative names come from the corpus
