"""The report's figures of a corpus as counts: every op of the universe by
its share of programs, the growth of distinct ops and op pairs with the
number of programs, and the size / depth / input histograms (one corpus, or
two overlaid)."""
from __future__ import annotations

import math

from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import MaxNLocator

from ...lowering import universe
from .scan import Scan
from .style import CORPUS_COLOURS, NOT_EMITTED, REACHABLE, STATUS, new_figure, plain, plain_ticks, short, style

OP_COLUMNS = 3                     # columns of the op histogram, side by side: a third of its height
GROWTH_PANELS = (("ops", "distinct ops"), ("pairs", "distinct op pairs in one program"),
                 ("bigrams", "distinct dataflow bigrams"))


def statuses(report: dict) -> dict[str, str]:
    """universe op -> status key of STATUS."""
    hit = {o["op"] for o in report["ops"]}
    out = {}
    for op in sorted(universe()):
        out[op] = ("covered" if op in hit else "reachable" if op in report["never_hit_reachable"]
                   else "not_emitted" if op in report["not_emitted"] else "unclassified")
    return out


def _shares(report: dict) -> dict[str, float]:
    """op -> % of programs containing it."""
    return {o["op"]: 100 * o["programs"] / max(report["programs"], 1) for o in report["ops"]}


def plot_ops(reports: list[dict], names: list[str]) -> Figure:
    """Every op of the universe, sorted by share of programs, in OP_COLUMNS columns;
    bars coloured by status (one corpus) or by corpus (two)."""
    with style():
        status = statuses(reports[0])
        shares = [_shares(r) for r in reports]
        rank = {"covered": 0, "reachable": 1, "unclassified": 2, "not_emitted": 3}
        if len(reports) > 1:     # an op either corpus covers counts as covered, for the order
            for op in status:
                if status[op] != "covered" and any(op in s for s in shares):
                    status[op] = "covered"
        order = sorted(status, key=lambda op: (rank[status[op]], -max(s.get(op, 0) for s in shares), op))
        per = -(-len(order) // OP_COLUMNS)
        fig = new_figure(11, max(3.0, 0.118 * per + 1.2))
        axes = fig.subplots(1, OP_COLUMNS)
        low = min([v for s in shares for v in s.values()] + [100.0])
        floor = min(10.0 ** (math.ceil(math.log10(low)) - 1), 1.0)     # a decade strictly below the rarest op
        for ax, ops in zip(axes, (order[k * per:(k + 1) * per] for k in range(OP_COLUMNS))):
            ys = list(range(len(ops)))
            n = len(shares)
            height = 0.8 / n
            for k, s in enumerate(shares):
                offset = (k - (n - 1) / 2) * height
                widths = [s.get(op, 0) for op in ops]
                colours = [STATUS[status[op]][0] if n == 1 else CORPUS_COLOURS[k] for op in ops]
                ax.barh([y + offset for y in ys], [w - floor if w else 0 for w in widths], height=height * 0.92,
                        left=floor, color=colours, linewidth=0)
            for y, op in zip(ys, ops):
                if all(op not in s for s in shares):      # nothing to draw: a marker says where the op is
                    marker = "o" if status[op] == "reachable" else "x"
                    ax.plot([floor * 1.25], [y], marker=marker, ms=3.2, mfc="none", mew=0.9,
                            color=STATUS[status[op]][0], clip_on=False)
            ax.set_xscale("log")
            plain_ticks(ax.xaxis, percent=True)
            ax.set_xlim(floor, 100)
            ax.set_ylim(len(ops) - 0.5 if ops else 0.5, -0.5)
            ax.set_yticks(ys, [short(op) for op in ops], fontsize=6.6)
            for tick, op in zip(ax.get_yticklabels(), ops):
                tick.set_color("#1a1a1a" if status[op] == "covered" else STATUS[status[op]][0])
            ax.tick_params(axis="y", length=0, pad=2)
            ax.grid(axis="x", which="major")
            ax.set_axisbelow(True)
            ax.set_xlabel("programs containing the op (log scale)")
        handles = []
        if len(reports) == 1:
            present = [k for k in STATUS if k in status.values()]
            handles = [Patch(color=STATUS[k][0], label=STATUS[k][1]) if k == "covered" else
                       Line2D([], [], color=STATUS[k][0], marker="o" if k == "reachable" else "x", ls="",
                              mfc="none", label=STATUS[k][1]) for k in present]
        else:
            handles = [Patch(color=CORPUS_COLOURS[k], label=plain(names[k])) for k in range(len(reports))]
            handles += [Line2D([], [], color=STATUS[k][0], marker="o" if k == "reachable" else "x", ls="",
                               mfc="none", label=f"{STATUS[k][1]} (label colour)")
                        for k in ("reachable", "not_emitted") if k in status.values()]
        fig.legend(handles=handles, loc="outside upper center", ncol=len(handles))
        return fig


def _growth_series(growth) -> dict[str, list[tuple[int, int]]]:
    """measure -> [(programs, distinct)] from `Diversity.report()["growth"]`."""
    series: dict[str, list[tuple[int, int]]] = {}
    for point in growth:
        for measure, value in point.items():
            if measure != "programs":
                series.setdefault(measure, []).append((point["programs"], value))
    return series


def plot_growth(growths: list, names: list[str], reachable: int, universe_size: int) -> Figure:
    with style():
        series = [_growth_series(g) for g in growths]
        panels = [(m, title) for m, title in GROWTH_PANELS if any(m in s for s in series)]
        fig = new_figure(11, 3.3)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (measure, title) in zip(axes, panels):
            for k, s in enumerate(series):
                points = s.get(measure, [])
                ax.plot([p for p, _ in points], [v for _, v in points], marker="o", ms=3, lw=1.4,
                        color=CORPUS_COLOURS[k], label=plain(names[k]))
            if measure == "ops":
                ax.axhline(reachable, color=REACHABLE, lw=0.9, ls="--", label=f"ops JAX can emit ({reachable})")
                ax.axhline(universe_size, color=NOT_EMITTED, lw=0.9, ls=":", label=f"universe ({universe_size})")
                ax.set_ylim(0, universe_size * 1.05)
            else:
                ax.set_ylim(bottom=0)
            ax.set_xscale("log")
            plain_ticks(ax.xaxis)
            ax.set_xlabel("programs (log scale)")
            ax.set_title(title, loc="left")
            ax.grid(True, which="major")
            ax.set_axisbelow(True)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=len(labels))
        return fig


def plot_histograms(scans: list[Scan], names: list[str]) -> Figure:
    with style():
        fig = new_figure(11, 2.8)
        axes = fig.subplots(1, 3)
        for ax, (attr, title) in zip(axes, (("sizes", "program size (operations)"), ("depths", "depth"),
                                            ("arities", "inputs"))):
            counters = [getattr(s, attr) for s in scans]
            xs = sorted(set().union(*counters))
            n = len(scans)
            width = 0.8 / n
            for k, (s, c) in enumerate(zip(scans, counters)):
                ax.bar([x + (k - (n - 1) / 2) * width for x in xs], [100 * c[x] / s.programs for x in xs],
                       width=width * 0.92, color=CORPUS_COLOURS[k], label=plain(names[k]), linewidth=0)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
            ax.set_xlabel(title)
            ax.set_ylabel("% of programs")
            ax.grid(axis="y")
            ax.set_axisbelow(True)
        if n > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside upper center", ncol=n)
        return fig
