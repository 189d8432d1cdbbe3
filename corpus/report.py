"""`jaxsynth report`: one self-contained HTML page about a corpus, or two.

The page is for reading and for papers: the op histogram against the whole
StableHLO/CHLO universe (each op covered, reachable but not covered, or not
emitted by JAX), the growth of distinct ops and op pairs with the number of
programs, the size / depth / input-count histograms, the alternative -> op
matrix as a heatmap, and for each covered op the smallest program that
contains it, with its Python and the StableHLO lines of that op. With a
second corpus, the comparison table of `coverage.compare` and every plot
with both corpora overlaid.

The numbers are those of `coverage.Coverage`, `coverage.compare` and
`diversity.Diversity`; this module only draws and lays them out. Plots are
inline SVG drawn by matplotlib (the `report` extra) on its Agg canvas, with
a fixed hash salt and no date, so the same corpus gives the same bytes; the
page holds no script, no external stylesheet or font, and nothing it loads
from the network. Everything that comes from a corpus is untrusted text:
made visible (`schema.visible`) and escaped before it reaches the page.
"""
from __future__ import annotations

import contextlib
import html
import io
import math
import re
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import matplotlib
import matplotlib.style
import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ..lowering import universe
from .coverage import MEASURES, Coverage, alt_matrix, compare
from .diversity import MAX_NESTING, nesting
from .pipeline import _atomic_write
from .quality import Quality
from .records import PROGRAM, CorpusError
from .schema import checked_records, corpus_files, is_regular, visible

GENERATOR = "jaxsynth report"
# how every page this command writes begins: only a file that begins so is overwritten
HEAD = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="{GENERATOR}">\n')
MAX_LINES = 200                    # of an example's Python shown
MAX_OP_LINES = 8                   # StableHLO lines of one op shown per example
MAX_WIDTH = 400                    # characters of a line shown (a constant's dense<...> may hold megabytes)
LABEL = 48                         # characters of a corpus-given name in a plot label
TOP_CHANGES = 20                   # ops of the comparison shown before the full table

# Okabe-Ito colours: distinguishable with any colour vision, and in greyscale by lightness
COVERED, REACHABLE, NOT_EMITTED, UNCLASSIFIED = "#0072B2", "#E69F00", "#9A9A9A", "#CC79A7"
CORPUS_COLOURS = ("#0072B2", "#D55E00")
STATUS = {      # key -> (colour, how the page names it)
    "covered": (COVERED, "covered"),
    "reachable": (REACHABLE, "reachable, not covered"),
    "not_emitted": (NOT_EMITTED, "not emitted by JAX"),
    "unclassified": (UNCLASSIFIED, "in neither table of lowering/reach.py"),
}

RC = {
    "svg.hashsalt": "jaxsynth",        # clip-path and marker ids from this salt, not from a random one
    "svg.fonttype": "path",            # glyphs as paths: the page looks the same without the font installed
    "font.family": "DejaVu Sans",      # bundled with matplotlib: the same metrics on every machine
    "font.size": 9,
    "axes.titlesize": 10,
    "axes.titleweight": "bold",
    "axes.labelsize": 9,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.linewidth": 0.7,
    "xtick.labelsize": 8,
    "ytick.labelsize": 8,
    "legend.fontsize": 8,
    "legend.frameon": False,
    "grid.color": "#dddddd",
    "grid.linewidth": 0.6,
}


# ---------------------------------------------------------------- one pass over a corpus

@dataclass
class Example:
    """The smallest program containing an op: (size, length of its Python, order read) decides."""
    key: tuple
    id: str
    where: str
    python: str
    stablehlo: str

    @property
    def size(self) -> int:
        return self.key[0]


@dataclass
class Scan:
    """What the page shows of one corpus, read in one pass."""
    path: Path
    manifest: dict | None
    coverage: Coverage
    sizes: Counter = field(default_factory=Counter)
    depths: Counter = field(default_factory=Counter)
    arities: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)      # op -> Example

    def add(self, where: str, record: dict) -> None:
        self.coverage.add(record)
        self.sizes[record["size"]] += 1
        self.depths[record["depth"]] += 1
        self.arities[len(record["inputs"])] += 1
        key = (record["size"], len(record["python"]), self.coverage.programs)
        for item in record["ops"]:
            best = self.examples.get(item["op"])
            if best is None or key < best.key:
                self.examples[item["op"]] = Example(key, record["id"], where, record["python"], record["stablehlo"])

    @property
    def programs(self) -> int:
        return self.coverage.programs

    def report(self) -> dict:
        return self.coverage.report(self.manifest["weights"] if self.manifest else {})


def scan(path, grammar_of) -> Scan:
    """Read a corpus through the schema's readers; `grammar_of(manifest)` is
    the grammar whose flags the quality scan reads."""
    manifest, files = corpus_files(path)
    s = Scan(Path(path), manifest, Coverage(Quality(grammar_of(manifest))))
    for where, record in checked_records(files):
        s.add(where, record)
    if not s.programs:
        raise CorpusError(f"{path}: no records")
    return s


def check_output(out: Path) -> None:
    """Refuse, before any work, an OUT that is not a file this command may (over)write."""
    if out.is_dir():
        raise CorpusError(f"--html {out}: is a directory")
    if not out.parent.is_dir():
        raise CorpusError(f"--html {out}: no directory {out.parent}")
    if out.exists() or out.is_symlink():
        head = b""
        if is_regular(out) and not out.is_symlink():
            try:
                with open(out, "rb") as f:
                    head = f.read(512)
            except OSError:
                pass
        if not head.startswith(HEAD.encode()):
            raise CorpusError(f"--html {out}: exists and is not a report this command wrote; not overwritten")


def write_report(out: Path, a: Scan, b: Scan | None = None) -> str:
    page = render(a, b)
    _atomic_write(out, page.encode("utf-8"))
    return page


# ---------------------------------------------------------------- StableHLO lines of an op

def op_lines(stablehlo: str) -> dict[str, list[int]] | None:
    """op -> the 1-based lines of the text where it is written, from the
    locations MLIR gives each op as it parses (an op in the compact form of a
    region, `applies stablehlo.add`, is on its parent's line); None if the
    text does not parse here."""
    from jax._src.interpreters import mlir      # a context with the stablehlo, chlo, sdy dialects
    from jaxlib.mlir import ir
    if nesting(stablehlo) > MAX_NESTING:        # MLIR's parser recurses: a deep text would crash the process
        return None
    lines: dict[str, list[int]] = {}

    def visit(op):
        line = getattr(op.location, "start_line", None)     # only a file:line:col location has one
        if isinstance(line, int):
            lines.setdefault(op.operation.name, []).append(line)
        return ir.WalkResult.ADVANCE

    with mlir.make_ir_context():
        try:
            module = ir.Module.parse(stablehlo)
        except Exception:       # MLIRError, and whatever a text of unknown origin makes the parser raise
            return None
        module.operation.walk(visit)
    return {op: sorted(set(ls)) for op, ls in lines.items()}


# ---------------------------------------------------------------- plots

@contextlib.contextmanager
def _style(**extra):
    """matplotlib's own defaults, not those of a matplotlibrc here, then the
    page's settings: the same plots, byte for byte, on every machine."""
    with matplotlib.style.context("default"), matplotlib.rc_context({**RC, **extra}):
        yield


def _svg(fig: Figure, ident: str, label: str) -> str:
    """The figure as an <svg> element for inlining: its own id, a title for
    screen readers, and internal ids prefixed so that no two plots share one."""
    buf = io.StringIO()
    with _style(**{"svg.id": ident}):
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    svg = buf.getvalue()
    svg = svg[svg.index("<svg"):]                                   # no XML prolog or DOCTYPE inside HTML
    svg = re.sub(r"<!--.*?-->\n?", "", svg, flags=re.S)             # matplotlib's copies of the label texts
    svg = re.sub(r"<metadata>.*?</metadata>\n?", "", svg, flags=re.S)
    own = set(re.findall(r' id="([^"]+)"', svg)) - {ident}
    svg = re.sub(r'( id="|href="#|url\(#)([^")]+)', lambda m: m.group(1) + (f"{ident}-{m.group(2)}"
                                                                           if m.group(2) in own else m.group(2)), svg)
    svg = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg class="plot" role="img" \1', svg, count=1)
    return svg.replace(">", f"><title>{html.escape(label)}</title>", 1)


def _figure(width: float, height: float) -> Figure:
    with _style():
        return Figure(figsize=(width, height), layout="constrained")


def _plain(text: str) -> str:
    """A corpus-given name as a plot label: visible, and with `$` escaped,
    which would otherwise start mathtext (a malformed formula fails the drawing)."""
    return visible(text).replace("$", r"\$")


def _short(op: str) -> str:
    name = op[len("stablehlo."):] if op.startswith("stablehlo.") else op
    return _plain(name if len(name) <= LABEL else name[:LABEL - 1] + "…")


def _numbers(axis, percent: bool = False) -> None:
    """Plain tick labels on a log axis (1, 10, 1,000; 0.1%, 10%) instead of powers of ten."""
    def label(x, _):
        text = f"{x:,.0f}" if x >= 1 else f"{x:.3g}"
        return text + "%" if percent else text
    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(NullFormatter())


def _status(report: dict) -> dict[str, str]:
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
    """Every op of the universe, sorted by share of programs, in two columns;
    bars coloured by status (one corpus) or by corpus (two)."""
    with _style():
        status = _status(reports[0])
        shares = [_shares(r) for r in reports]
        rank = {"covered": 0, "reachable": 1, "unclassified": 2, "not_emitted": 3}
        if len(reports) > 1:     # an op either corpus covers counts as covered, for the order
            for op in status:
                if status[op] != "covered" and any(op in s for s in shares):
                    status[op] = "covered"
        order = sorted(status, key=lambda op: (rank[status[op]], -max(s.get(op, 0) for s in shares), op))
        half = (len(order) + 1) // 2
        fig = _figure(11, max(4.0, 0.118 * half + 1.2))
        axes = fig.subplots(1, 2)
        low = min([v for s in shares for v in s.values()] + [100.0])
        floor = min(10.0 ** (math.ceil(math.log10(low)) - 1), 1.0)     # a decade strictly below the rarest op
        for ax, ops in zip(axes, (order[:half], order[half:])):
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
            _numbers(ax.xaxis, percent=True)
            ax.set_xlim(floor, 100)
            ax.set_ylim(len(ops) - 0.5 if ops else 0.5, -0.5)
            ax.set_yticks(ys, [_short(op) for op in ops], fontsize=6.6)
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
            handles = [Patch(color=CORPUS_COLOURS[k], label=_plain(names[k])) for k in range(len(reports))]
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


GROWTH_PANELS = (("ops", "distinct ops"), ("pairs", "distinct op pairs in one program"),
                 ("bigrams", "distinct dataflow bigrams"))


def plot_growth(growths: list, names: list[str], reachable: int, universe_size: int) -> Figure:
    with _style():
        series = [_growth_series(g) for g in growths]
        panels = [(m, title) for m, title in GROWTH_PANELS if any(m in s for s in series)]
        fig = _figure(11, 3.3)
        axes = fig.subplots(1, len(panels), squeeze=False)[0]
        for ax, (measure, title) in zip(axes, panels):
            for k, s in enumerate(series):
                points = s.get(measure, [])
                ax.plot([p for p, _ in points], [v for _, v in points], marker="o", ms=3, lw=1.4,
                        color=CORPUS_COLOURS[k], label=_plain(names[k]))
            if measure == "ops":
                ax.axhline(reachable, color=REACHABLE, lw=0.9, ls="--", label=f"ops JAX can emit ({reachable})")
                ax.axhline(universe_size, color=NOT_EMITTED, lw=0.9, ls=":", label=f"universe ({universe_size})")
                ax.set_ylim(0, universe_size * 1.05)
            else:
                ax.set_ylim(bottom=0)
            ax.set_xscale("log")
            _numbers(ax.xaxis)
            ax.set_xlabel("programs (log scale)")
            ax.set_title(title, loc="left")
            ax.grid(True, which="major")
            ax.set_axisbelow(True)
        handles, labels = axes[0].get_legend_handles_labels()
        fig.legend(handles, labels, loc="outside upper center", ncol=len(labels))
        return fig


def plot_histograms(scans: list[Scan], names: list[str]) -> Figure:
    with _style():
        fig = _figure(11, 2.8)
        axes = fig.subplots(1, 3)
        for ax, (attr, title) in zip(axes, (("sizes", "program size (operations)"), ("depths", "depth"),
                                            ("arities", "inputs"))):
            counters = [getattr(s, attr) for s in scans]
            xs = sorted(set().union(*counters))
            n = len(scans)
            width = 0.8 / n
            for k, (s, c) in enumerate(zip(scans, counters)):
                ax.bar([x + (k - (n - 1) / 2) * width for x in xs], [100 * c[x] / s.programs for x in xs],
                       width=width * 0.92, color=CORPUS_COLOURS[k], label=_plain(names[k]), linewidth=0)
            ax.xaxis.set_major_locator(MaxNLocator(nbins=12, integer=True))
            ax.set_xlabel(title)
            ax.set_ylabel("% of programs")
            ax.grid(axis="y")
            ax.set_axisbelow(True)
        if n > 1:
            handles, labels = axes[0].get_legend_handles_labels()
            fig.legend(handles, labels, loc="outside upper center", ncol=n)
        return fig


def heat(matrix: dict) -> tuple[list[str], list[str], list[list[float]]]:
    """(alternatives, ops, rows of the share of each alternative's uses that
    produced each op) of `coverage.alt_matrix`, ordered to read along the
    diagonal: each alternative is placed by its own op (the one most of its
    uses produce; of equals, the rarest in the corpus: `jax.nn.relu` by
    maximum, not by the constant it also makes), those ops first in that
    order, then the ops no alternative has as its own (the constants,
    broadcasts and func.* many make), by count. PROGRAM last."""
    totals: Counter = Counter()
    for row in matrix.values():
        totals.update({op: o["count"] for op, o in row["ops"].items()})
    alts = [a for a in matrix if matrix[a]["ops"] and a != PROGRAM]
    own = {a: min(matrix[a]["ops"], key=lambda o: (-matrix[a]["ops"][o]["share"], totals[o], o)) for a in alts}
    alts.sort(key=lambda a: (-totals[own[a]], own[a], a))
    ops = list(dict.fromkeys(own[a] for a in alts))
    ops += sorted(set(totals) - set(ops), key=lambda o: (-totals[o], o))
    if matrix.get(PROGRAM, {}).get("ops"):
        alts.append(PROGRAM)
    return alts, ops, [[matrix[a]["ops"].get(op, {}).get("share", 0.0) for op in ops] for a in alts]


def plot_heatmap(matrix: dict) -> Figure:
    alts, ops, rows = heat(matrix)
    labels = 0.047 * max(len(_short(o)) for o in ops)     # inches of the longest op name, at 5.6 pt
    with _style():
        fig = _figure(11, 0.095 * len(alts) + 2 * labels + 1.0)
        ax = fig.subplots()
        values = [v for row in rows for v in row if v > 0]
        data = np.ma.masked_equal(np.array(rows, dtype=float).reshape(len(alts), len(ops)), 0.0)
        norm = LogNorm(vmin=min(values), vmax=max(values)) if values and min(values) < max(values) else None
        image = ax.imshow(data, aspect="auto", interpolation="none", cmap="viridis", norm=norm)
        ax.set_xticks(range(len(ops)), [_short(o) for o in ops], rotation=90, fontsize=5.6)
        ax.set_yticks(range(len(alts)), [_short(a) for a in alts], fontsize=5.6)
        ax.tick_params(length=0, pad=1.5, labeltop=True)     # a tall matrix: op names above and below
        for label in ax.get_xticklabels():                   # those above as well as below
            label.set_rotation(90)
        ax.set_xlabel("op")
        ax.set_ylabel("grammar alternative")
        for spine in ax.spines.values():
            spine.set_visible(False)
        bar = fig.colorbar(image, ax=ax, shrink=min(1.0, 4.0 / fig.get_figheight()), aspect=25, pad=0.01,
                           anchor=(0.0, 1.0))      # beside the top rows, where the reading starts
        bar.set_label("share of the alternative's uses that produced the op")
        bar.ax.yaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:.3g}%"))
        bar.ax.yaxis.set_minor_formatter(NullFormatter())
        return fig


# ---------------------------------------------------------------- the page

CSS = """
body { margin: 0; background: #fff; color: #1b1b1b;
  font: 15px/1.5 "Helvetica Neue", Helvetica, Arial, "Liberation Sans", "DejaVu Sans", sans-serif; }
main { max-width: 1180px; margin: 0 auto; padding: 28px 36px 60px; }
h1 { font-size: 26px; font-weight: 600; margin: 0 0 4px; letter-spacing: -0.01em; }
h2 { font-size: 19px; font-weight: 600; margin: 38px 0 8px; padding-bottom: 4px; border-bottom: 1px solid #ddd; }
h3 { font-size: 15px; font-weight: 600; margin: 18px 0 6px; }
p, figcaption { max-width: 80ch; }
.subtitle { color: #555; margin: 0 0 18px; }
code, pre, td.op, .mono { font-family: "DejaVu Sans Mono", "Liberation Mono", Menlo, Consolas, monospace; }
code { font-size: 0.92em; }
figure { margin: 14px 0 22px; }
figcaption { font-size: 13.5px; color: #333; margin-top: 6px; }
figcaption b { font-weight: 600; }
svg.plot { display: block; width: 100%; height: auto; }
table { border-collapse: collapse; font-size: 13px; font-variant-numeric: tabular-nums;
  border-top: 1.6px solid #222; border-bottom: 1.6px solid #222; margin: 8px 0 18px; }
thead th { border-bottom: 1px solid #222; font-weight: 600; }
th, td { padding: 3px 10px; text-align: right; vertical-align: top; }
th:first-child, td:first-child, td.text, th.text { text-align: left; }
td.op { font-size: 12px; white-space: nowrap; }
td.op a { color: inherit; text-decoration: none; border-bottom: 1px dotted #999; }
td.status { text-align: left; white-space: nowrap; }
table.ops th:last-child, table.ops td:last-child { text-align: left; }
td.note { text-align: left; color: #555; font-size: 12px; }
tbody tr:nth-child(even) { background: #fafafa; }
table.summary td:first-child { color: #333; }
.chip { display: inline-block; width: 9px; height: 9px; border-radius: 2px; margin-right: 6px; vertical-align: 0; }
.pos { color: #1a7f37; } .neg { color: #b42318; }
.note { color: #555; font-size: 13.5px; }
details { border-top: 1px solid #e6e6e6; padding: 4px 0; }
details[open] { padding-bottom: 10px; }
summary { cursor: pointer; font-size: 13.5px; }
summary .mono { font-weight: 600; }
summary .meta { color: #666; margin-left: 8px; }
pre { background: #f6f7f8; border: 1px solid #e4e6e8; border-radius: 3px; padding: 8px 10px; margin: 6px 0;
  font-size: 12px; line-height: 1.4; overflow-x: auto; white-space: pre; }
pre .ln { color: #999; user-select: none; }
.cols { display: grid; grid-template-columns: minmax(0, 1fr) minmax(0, 1.3fr); gap: 14px; }
.label { font-size: 12px; color: #666; margin-top: 4px; }
nav { font-size: 13.5px; margin: 8px 0 0; color: #555; }
nav a { color: #0a58a6; text-decoration: none; margin-right: 14px; }
footer { margin-top: 40px; font-size: 12px; color: #777; }
"""


def _e(text) -> str:
    """Corpus text for the page: visible, then escaped."""
    return html.escape(visible(str(text)))


def _pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def _chip(key: str) -> str:
    colour, name = STATUS[key]
    return f'<span class="chip" style="background:{colour}"></span>{name}'


def _names(a: Scan, b: Scan | None) -> list[str]:
    """How the page names the corpora: the path of one; "A: name", "B: name" of two."""
    if b is None:
        return [str(a.path)]
    na, nb = a.path.name or str(a.path), b.path.name or str(b.path)
    if na == nb:
        na, nb = str(a.path), str(b.path)
    return [f"A: {na}", f"B: {nb}"]


def _table(head: list[str], rows: list[list[str]], cls: str = "", row_attrs=None) -> str:
    """A table of cells already made HTML; `row_attrs`, each row's attributes."""
    out = [f'<table class="{cls}">' if cls else "<table>", "<thead><tr>"]
    out += [f"<th>{h}</th>" for h in head]
    out.append("</tr></thead><tbody>")
    for i, row in enumerate(rows):
        out.append(f"<tr{row_attrs[i] if row_attrs else ''}>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)


def _summary(scans: list[Scan], reports: list[dict], names: list[str]) -> str:
    def row(label, values):
        return [f"<td>{label}</td>"] + [f"<td>{v}</td>" for v in values]
    rows = [
        row("programs", [f"{r['programs']:,}" for r in reports]),
        row("ops JAX can emit, covered", [f"{r['covered_reachable']} / {r['reachable']} "
                                          f"({_pct(r['coverage_reachable'])})" for r in reports]),
        row("stablehlo/chlo ops, covered", [f"{r['covered']} / {r['universe']} ({_pct(r['coverage'])})"
                                            for r in reports]),
        row("op occurrences", [f"{sum(o['count'] for o in r['ops']):,}" for r in reports]),
    ]
    rows += [row(label, [f"{r['diversity'][key]:,}" for r in reports])
             for key, label in (("pairs", "distinct op pairs in one program"), ("bigrams", "distinct dataflow bigrams"),
                                ("distinct_stablehlo", "distinct StableHLO texts"),
                                ("distinct_op_multisets", "distinct op multisets"))]
    rows += [
        row("alternatives used", [f"{len(r['alternatives'])}" for r in reports]),
        row("mean program size", [f"{sum(k * v for k, v in s.sizes.items()) / s.programs:.2f}" for s in scans]),
        row("records with attribution", [f"{r['attributed']:,}" for r in reports]),
    ]
    head = [""] + [_e(n) for n in names] if len(names) > 1 else ["", "value"]
    return _table(head, rows, "summary")


def _op_table(reports: list[dict], names: list[str]) -> str:
    status = _status(reports[0])
    by = [{o["op"]: o for o in r["ops"]} for r in reports]
    order = sorted(status, key=lambda op: (-max(b.get(op, {}).get("programs", 0) for b in by), op))
    rows, attrs = [], []
    for op in order:
        note = reports[0]["never_hit_reachable"].get(op) or reports[0]["not_emitted"].get(op) or ""
        key = "covered" if any(op in b for b in by) else status[op]
        name = f'<a href="#ex-{_anchor(op)}">{html.escape(op)}</a>' if key == "covered" else html.escape(op)
        row = [f'<td class="op">{name}</td>', f'<td class="status">{_chip(key)}</td>']
        for r, b in zip(reports, by):
            o = b.get(op)
            row += [f"<td>{o['count'] if o else 0:,}</td>", f"<td>{o['programs'] if o else 0:,}</td>",
                    f"<td>{_pct(o['programs'] / max(r['programs'], 1)) if o else '–'}</td>"]
        row.append(f'<td class="note">{html.escape(note)}</td>')
        rows.append(row)
        attrs.append(f' class="op" data-op="{html.escape(op)}"')
    head = ["op", "status"]
    for k in range(len(reports)):
        tag = f" ({'AB'[k]})" if len(reports) > 1 else ""
        head += [f"occurrences{tag}", f"programs{tag}", f"% programs{tag}"]
    head.append("how to reach it / why JAX never emits it")
    return (f"<details><summary>All {len(rows)} ops of the universe: occurrences, programs containing each, and "
            f"how to reach those not covered or why JAX never emits them</summary>\n"
            + _table(head, rows, "ops", attrs) + "</details>")


def _outside(reports: list[dict], names: list[str]) -> str:
    parts = []
    for r, n in zip(reports, names):
        if r["outside_universe"]:
            ops = ", ".join(f"<code>{_e(op)}</code>" for op in r["outside_universe"])
            parts.append(f'<p class="note">Outside the universe ({_e(n)}), not in the histogram: {ops}.</p>')
        for key, what in (("hit_not_emitted", "covered, though lowering/reach.py says JAX never emits them"),
                          ("unclassified", "in neither table of lowering/reach.py")):
            if r[key]:
                parts.append(f'<p class="note">{_e(n)}: {what}: ' + ", ".join(f"<code>{_e(op)}</code>" for op in r[key])
                             + ".</p>")
    return "\n".join(parts)


def _delta(x: float) -> str:
    """A change of share, in percentage points, coloured by its sign once it shows."""
    points = round(100 * x, 2) + 0.0      # + 0.0: no -0.00
    cls = "pos" if points > 0 else "neg" if points < 0 else ""
    return f'<td class="{cls}">{points:+.2f}</td>' if cls else f"<td>{points:.2f}</td>"


def _comparison(c: dict, names: list[str]) -> str:
    """The tables of `coverage.compare(a, b)`."""
    a, b = (_e(n) for n in names)
    rows = []
    for m in MEASURES:
        d = c["distance"][m]
        rows.append([f"<td>{m}</td>"] + [f"<td>{d[k]:.4f}</td>" if d else "<td>–</td>" for k in ("tv", "js")]
                    + [f"<td>{c[side]['entropy'][m]:.3f}</td>" for side in ("a", "b")])
    out = [_table(["op distribution", "total variation", "Jensen–Shannon distance", f"entropy of {a} (bits)",
                   f"entropy of {b} (bits)"], rows, "distances")]
    for key, what in (("gained", f"covered by {b}, not by {a}"), ("lost", f"covered by {a}, not by {b}")):
        listed = ", ".join(f"<code>{_e(op)}</code>" for op in c[key]) or "none"
        out.append(f"<p><b>{key.capitalize()}</b> ({len(c[key])}), {what}: {listed}.</p>")
    rows, attrs = [], []
    for o in c["ops"]:
        row = [f'<td class="op">{_e(o["op"])}</td>']
        for m in MEASURES:
            row += [f"<td>{100 * o[f'{m}_share_a']:.2f}</td>", f"<td>{100 * o[f'{m}_share_b']:.2f}</td>",
                    _delta(o[f"{m}_share_delta"])]
        row += [f"<td>{o['count_a']:,}</td>", f"<td>{o['count_b']:,}</td>"]
        rows.append(row)
        attrs.append(f' class="cmp" data-op="{_e(o["op"])}"')
    head = ["op", "% programs A", "% programs B", "Δ", "% occurrences A", "% occurrences B", "Δ",
            "occurrences A", "occurrences B"]
    out.append(f"<h3>The {min(TOP_CHANGES, len(rows))} largest changes in the share of programs</h3>")
    out.append(_table(head, rows[:TOP_CHANGES], "compare", attrs))
    if len(rows) > TOP_CHANGES:
        out.append(f"<details><summary>All {len(rows)} ops either corpus covers</summary>\n"
                   + _table(head, rows, "compare", attrs) + "</details>")
    return "\n".join(out)


def _example(op: str, ex: Example, source: str | None, located: dict) -> str:
    """An op's example, as <details> a reader may close; `located` holds the op
    lines of each example record already parsed (a record is often the example of several ops)."""
    py = ex.python.rstrip("\n").split("\n")
    start = next((i for i, line in enumerate(py) if line.startswith("def ")), 0)
    py = py[start:]         # the imports every program begins with say nothing of this one
    python = "\n".join(map(_cut, py[:MAX_LINES])) + (f"\n… {len(py) - MAX_LINES} more lines"
                                                     if len(py) > MAX_LINES else "")
    text = ex.stablehlo.split("\n")
    if ex.where not in located:
        located[ex.where] = op_lines(ex.stablehlo)
    lines_of = located[ex.where]
    if lines_of is None:
        hlo = '<p class="note">This StableHLO does not parse with the installed jaxlib; its lines are not shown.</p>'
    else:
        lines = [n for n in lines_of.get(op, []) if 1 <= n <= len(text)]
        shown = "\n".join(f'<span class="ln">{n:>4}  </span>{_e(_cut(text[n - 1].strip()))}'
                           for n in lines[:MAX_OP_LINES])
        if len(lines) > MAX_OP_LINES:
            shown += f"\n… {len(lines) - MAX_OP_LINES} more lines of this op"
        hlo = f"<pre>{shown or '(no line of its own)'}</pre>"
    origin = f" from {_e(source)}" if source else ""
    return (f'<details class="example" open id="ex-{_anchor(op)}" data-op="{_e(op)}">'
            f'<summary><span class="mono">{_e(op)}</span><span class="meta">{_e(ex.id)}{origin} · size {ex.size}'
            f"</span></summary>\n"
            f'<div class="cols"><div><div class="label">Python{" (imports left out)" if start else ""}</div>'
            f'<pre class="python">{_e(python)}</pre></div>'
            f'<div><div class="label">StableHLO lines of <code>{_e(op)}</code> '
            f"(line numbers of the record’s text)</div>{hlo}</div></div></details>")


def _cut(line: str) -> str:
    return line if len(line) <= MAX_WIDTH else f"{line[:MAX_WIDTH]} … ({len(line) - MAX_WIDTH:,} more characters)"


def _anchor(op: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", op)


def render(a: Scan, b: Scan | None = None) -> str:
    """The page, as text."""
    scans = [s for s in (a, b) if s is not None]
    names = _names(a, b)
    reports = [s.report() for s in scans]
    numbered = 0

    def figure(svg_id: str, drawn: Figure, title: str, caption: str) -> str:
        nonlocal numbered
        numbered += 1
        return (f'<figure id="fig-{svg_id}">{_svg(drawn, svg_id, title)}<figcaption><b>Figure {numbered}.</b> '
                f"{caption}</figcaption></figure>")

    u = reports[0]["universe"]
    sizes = ", ".join(f"{'AB'[k] + ': ' if b else ''}{r['programs']:,} programs" for k, r in enumerate(reports))
    body = [f"<h1>StableHLO coverage of {' vs '.join(_e(n) for n in names)}</h1>",
            f'<p class="subtitle">jaxsynth corpus report · {sizes}'
            f" · universe: {u} stablehlo/chlo ops registered by the installed jaxlib</p>",
            '<nav><a href="#summary">Summary</a>' + ('<a href="#comparison">Comparison</a>' if b else "")
            + '<a href="#ops">Ops</a><a href="#growth">Growth</a><a href="#shape">Program shape</a>'
            '<a href="#alternatives">Alternatives</a><a href="#examples">Examples</a></nav>',
            '<h2 id="summary">Summary</h2>', _summary(scans, reports, names)]
    if b is not None:
        c = compare(reports[0], reports[1])
        body += ['<h2 id="comparison">Comparison</h2>',
                 f'<p class="note">Distances and entropies are between the two op distributions in each measure: '
                 f"“programs”, {MEASURES['programs']}; “occurrences”, {MEASURES['occurrences']}; over the "
                 f"stablehlo/chlo ops only. The Jensen–Shannon distance is the square root of the Jensen–Shannon "
                 "divergence in base 2 (0: the same distribution, 1: no op in common). In the tables, "
                 "“% programs” is the share of programs containing the op, “% occurrences” its share of all op "
                 "occurrences, and Δ is B − A in percentage points; ops by the size of the change in "
                 "% programs.</p>",
                 _comparison(c, names)]
    caption = ("Every op of the universe, by the share of programs containing it (log scale). "
               + ("Bars: covered ops; ○ an op JAX can emit that no program reached; × an op JAX never emits. "
                  if b is None else "Bars: each corpus; label colour: orange, an op JAX can emit that neither "
                                    "corpus reached; grey, an op JAX never emits. ")
               + "Names without a dialect are <code>stablehlo.*</code>.")
    body += ['<h2 id="ops">Ops against the universe</h2>',
             figure("plot-ops", plot_ops(reports, names), "op histogram", caption),
             _outside(reports, names), _op_table(reports, names)]
    reach = reports[0]["reachable"]
    body += ['<h2 id="growth">Growth</h2>',
             figure("plot-growth", plot_growth([r["diversity"]["growth"] for r in reports], names, reach, u),
                    "growth curves",
                    "Distinct ops, distinct op pairs occurring in one program, and distinct dataflow bigrams "
                    "(producer op → consumer op) after the first <i>n</i> programs of the corpus, in its order. "
                    f"Dashed: the {reach} ops JAX can emit; dotted: the {u} ops of the universe.")]
    body += ['<h2 id="shape">Program shape</h2>',
             figure("plot-shape", plot_histograms(scans, names), "size, depth and input histograms",
                    "Share of programs by size (operations, those inside sub-programs included), by depth (most "
                    "operations on one path of the dataflow graph), and by number of inputs.")]
    body.append('<h2 id="alternatives">Alternatives → ops</h2>')
    for s, r, n in zip(scans, reports, names):
        attributed = r["attributed"]
        if not attributed:
            body.append(f'<p class="note">{_e(n)}: its records carry no <code>attribution</code> (made before '
                        f"records had it): no alternative → op matrix.</p>")
            continue
        if attributed < s.programs:
            body.append(f'<p class="note">{_e(n)}: {s.programs - attributed} of {s.programs} records carry no '
                        f"<code>attribution</code>; the matrix counts the others.</p>")
        ident = "plot-heatmap" if s is a else "plot-heatmap-b"
        body.append(figure(ident, plot_heatmap(alt_matrix(r)),
                           f"alternative to op heatmap{' of ' + n if b else ''}",
                           (f"{_e(n)}: " if b else "") + "Which StableHLO ops each grammar alternative produced: "
                           "the share of the alternative's uses that produced the op (log colour scale; blank: "
                           f"never). <code>{PROGRAM}</code> holds the ops no operation of a program made "
                           "(func.func, func.return, constants JAX hoists); its uses are the programs."))
    body += ['<h2 id="examples">Example programs</h2>',
             '<p class="note">For each covered op, in alphabetical order, the smallest program containing it '
             "(fewest operations, then shortest text): its Python and the lines of its StableHLO that hold the "
             "op. For an op written in the compact form of another op’s region (<code>applies "
             "stablehlo.add</code>), the line is that op’s.</p>"]
    located: dict = {}
    for op in sorted({o["op"] for r in reports for o in r["ops"]}):
        s = a if op in a.examples else b
        body.append(_example(op, s.examples[op], names[scans.index(s)] if b else None, located))
    body.append('<footer>Written by <code>jaxsynth report</code>. Op names, programs and StableHLO come from the '
                "corpus and are shown as text.</footer>")
    title = f"jaxsynth report: {' vs '.join(_e(n) for n in names)}"
    return (HEAD + '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")
