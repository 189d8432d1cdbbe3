"""Coverage of StableHLO/CHLO ops and of grammar alternatives over records,
and the quality of the programs (`quality`).

The universe is what the installed jaxlib registers (`lowering.universe()`);
ops outside it (func.func, func.call, ...) are counted and listed apart.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field

from ..lowering import universe
from .quality import Quality, format_quality


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
        """Plain data: ops by count, coverage of the universe, what was never hit.
        `alternatives` is every alternative of the grammar, to list the unused."""
        u = universe()
        hit = sorted((op for op in self.occurrences if op in u), key=lambda o: (-self.occurrences[o], o))
        return {
            "programs": self.programs,
            "universe": len(u),
            "covered": len(hit),
            "coverage": round(len(hit) / len(u), 4),
            "ops": [{"op": op, "count": self.occurrences[op], "programs": self.programs_with[op]} for op in hit],
            "outside_universe": sorted(op for op in self.occurrences if op not in u),
            "never_hit": sorted(u - set(hit)),
            "alternatives": dict(sorted(self.alternatives.items(), key=lambda kv: (-kv[1], kv[0]))),
            "alternatives_never_used": sorted(set(alternatives) - set(self.alternatives)),
            "quality": self.quality.report(),
        }


def format_report(r: dict) -> str:
    lines = [f"{r['programs']} programs; {r['covered']} of {r['universe']} stablehlo/chlo ops "
             f"({100 * r['coverage']:.1f}%)", "",
             f"{'op':<40} {'count':>9} {'programs':>9} {'% programs':>10}"]
    for o in r["ops"]:
        share = 100 * o["programs"] / max(r["programs"], 1)
        lines.append(f"{o['op']:<40} {o['count']:>9} {o['programs']:>9} {share:>9.1f}%")
    lines += ["", f"never hit ({len(r['never_hit'])}): " + " ".join(r["never_hit"])]
    if r["outside_universe"]:
        lines.append(f"outside the universe: {' '.join(r['outside_universe'])}")
    lines.append(f"alternatives never used ({len(r['alternatives_never_used'])}): "
                 + " ".join(r["alternatives_never_used"]))
    lines += ["", format_quality(r["quality"])]
    return "\n".join(lines)
