"""Coverage of StableHLO/CHLO ops and of grammar alternatives over records,
and the quality of the programs (`quality`).

Op coverage has two denominators: the ops JAX can emit (`lowering.reach`:
each shown by a probe) and the universe, every op the installed jaxlib
registers (`lowering.universe()`), which also holds legacy ops and ops only
other frontends emit. Ops never hit are split the same way: those a program
could reach, with the probe that reaches them, and those JAX never emits,
with the reason. Ops outside the universe (func.func, func.call, ...) are
counted and listed apart.
"""
from __future__ import annotations

import textwrap
from collections import Counter
from dataclasses import dataclass, field

from ..lowering import universe
from ..lowering.reach import NOT_EMITTED, reach_of, reachable
from .quality import Quality, format_quality
from .schema import visible


@dataclass
class Coverage:
    quality: Quality
    programs: int = 0
    occurrences: Counter = field(default_factory=Counter)      # op -> times seen
    programs_with: Counter = field(default_factory=Counter)    # op -> programs containing it
    alternatives: Counter = field(default_factory=Counter)     # alternative -> times used

    def add(self, record: dict) -> None:
        self.programs += 1
        for item in record["ops"]:
            self.occurrences[item["op"]] += item["count"]
            self.programs_with[item["op"]] += 1
        self.alternatives.update(record["alternatives"])
        self.quality.add(record)

    def report(self, alternatives=()) -> dict:
        """Plain data: ops by count, coverage of the ops JAX can emit and of the
        universe, what was never hit and why. `alternatives` is every
        alternative of the grammar, to list the unused."""
        u = universe()
        reach, not_emitted = reachable() & u, frozenset(NOT_EMITTED) & u
        hit = sorted((op for op in self.occurrences if op in u), key=lambda o: (-self.occurrences[o], o))
        never = sorted(u - set(hit))
        return {
            "programs": self.programs,
            "universe": len(u),
            "covered": len(hit),
            "coverage": round(len(hit) / len(u), 4),
            "reachable": len(reach),
            "covered_reachable": len(reach.intersection(hit)),
            "coverage_reachable": round(len(reach.intersection(hit)) / max(len(reach), 1), 4),
            "ops": [{"op": op, "count": self.occurrences[op], "programs": self.programs_with[op]} for op in hit],
            "outside_universe": sorted(op for op in self.occurrences if op not in u),
            "never_hit": never,
            "never_hit_reachable": {op: reach_of(op) for op in never if op in reach},
            "not_emitted": {op: reach_of(op) for op in never if op in not_emitted},
            # both non-empty only if lowering/reach.py is stale for this jaxlib or corpus
            "hit_not_emitted": sorted(not_emitted.intersection(hit)),
            "unclassified": sorted(u - reach - not_emitted),
            "alternatives": dict(sorted(self.alternatives.items(), key=lambda kv: (-kv[1], kv[0]))),
            "alternatives_never_used": sorted(set(alternatives) - set(self.alternatives)),
            "quality": self.quality.report(),
        }


def format_report(r: dict) -> str:
    lines = [f"{r['programs']} programs; {r['covered_reachable']} of the {r['reachable']} ops JAX can emit "
             f"({100 * r['coverage_reachable']:.1f}%), {r['covered']} of all {r['universe']} stablehlo/chlo ops "
             f"({100 * r['coverage']:.1f}%)", "",
             f"{'op':<40} {'count':>9} {'programs':>9} {'% programs':>10}"]
    for o in r["ops"]:
        share = 100 * o["programs"] / max(r["programs"], 1)
        lines.append(f"{o['op']:<40} {o['count']:>9} {o['programs']:>9} {share:>9.1f}%")
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
    lines += ["", format_quality(r["quality"])]
    return visible("\n".join(lines))      # op and alternative names come from the corpus
