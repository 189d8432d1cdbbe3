"""`jaxsynth report`: one self-contained HTML page about a corpus, or two.

The page is for reading and for papers. At its top, how the corpus was made
(from its manifest: the command that makes it again, seed, weights set apart
from the grammar's, the grammar's sha256, versions); then the op histogram
against the whole StableHLO/CHLO universe (each op covered, reachable but
not covered, or not emitted by JAX), the quality numbers and unused
alternatives `jaxsynth coverage` prints, the growth of distinct ops and op
pairs with the number of programs, the size / depth / input-count
histograms, the alternative -> op matrix as a heatmap with its ops grouped
by family, and for each covered op a representative program: the smallest
in which the op comes from its typical alternative, with its Python and the
StableHLO lines of that op. With a second corpus, the comparison table of
`coverage.compare` and every plot with both corpora overlaid.

An op's family is its dialect and, within it, the section of the grammar
(the comment heading a run of alternatives, `// control flow`) that holds
the op's typical alternative: of the alternatives whose own op it is (the op
most of their uses produce), the one with the most uses that made it;
failing one, of all that made it. So `stablehlo.while` is a control flow op
because `while_loop` makes it, though `igamma` makes loops too, and
`stablehlo.compare` one of `lt`, not of `jnp.remainder`, which makes four. Ops
outside the universe (func.*, sdy.*) are bookkeeping: listed apart.

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
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.patches import Patch
from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter

from ..lowering import universe
from ..synth.grammar import GrammarError, load_grammar, override_weights, profile_path, profiles, read_weights_file
from ..synth.types import SignatureError
from .coverage import MEASURES, Coverage, alt_matrix, compare
from .dataset import command_line, grammar_file, grammar_weights
from .diversity import MAX_NESTING, nesting
from .pipeline import _atomic_write
from .quality import Quality, format_quality
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
OP_COLUMNS = 3                     # columns of the op histogram, side by side: a third of its height

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
    """A program shown for an op: (size, length of its Python, order read) decides which is smallest."""
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
    examples: dict = field(default_factory=dict)      # op -> Example: the smallest program containing it
    made: dict = field(default_factory=dict)          # (op, alternative) -> Example: the smallest where it made the op

    def add(self, where: str, record: dict) -> None:
        self.coverage.add(record)
        self.sizes[record["size"]] += 1
        self.depths[record["depth"]] += 1
        self.arities[len(record["inputs"])] += 1
        key = (record["size"], len(record["python"]), self.coverage.programs)
        example = None

        def keep(table: dict, k) -> None:
            nonlocal example
            best = table.get(k)
            if best is None or key < best.key:
                example = example or Example(key, record["id"], where, record["python"], record["stablehlo"])
                table[k] = example
        for item in record["ops"]:
            keep(self.examples, item["op"])
        for a in record.get("attribution", ()):     # which alternative made the op: the typical one is chosen later
            keep(self.made, (a["op"], a["alternative"]))

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
    """A corpus-given name as a plot label: visible, on one line (a label's
    room is one line), and with `$` escaped, which would otherwise start
    mathtext (a malformed formula fails the drawing)."""
    return visible(text).replace("\n", "\\n").replace("$", r"\$")


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
    """Every op of the universe, sorted by share of programs, in OP_COLUMNS columns;
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
        per = -(-len(order) // OP_COLUMNS)
        fig = _figure(11, max(3.0, 0.118 * per + 1.2))
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


# ---------------------------------------------------------------- alternatives, typical ones, op families

def _totals(matrix: dict) -> Counter:
    """op -> occurrences, over every alternative of `coverage.alt_matrix`."""
    totals: Counter = Counter()
    for row in matrix.values():
        totals.update({op: o["count"] for op, o in row["ops"].items()})
    return totals


def own_ops(matrix: dict, shown) -> dict[str, str]:
    """alternative -> its own op among `shown`: the one the largest share of
    its uses produced; of equals, the rarest in the corpus (`jax.nn.relu` is
    placed by maximum, not by the constant it also makes). PROGRAM has none."""
    totals = _totals(matrix)
    own = {}
    for alt, row in matrix.items():
        ops = [op for op in row["ops"] if op in shown]
        if ops and alt != PROGRAM:
            own[alt] = min(ops, key=lambda o: (-row["ops"][o]["share"], totals[o], o))
    return own


def typical(matrix: dict, shown) -> dict[str, str]:
    """op -> the alternative that most typically makes it: of those whose own
    op it is (`own_ops`), the one with the most uses that made it, then the
    one that made the most of it; if none is, the same of all that made it.
    Uses before counts: one op from each of many uses is more typical than
    many from a few (`lt` makes a compare, `jnp.remainder` four). Any op of
    the matrix, `shown` or not (no alternative owns a func.call)."""
    own = own_ops(matrix, shown)
    makers: dict[str, list[str]] = {}
    for alt, row in matrix.items():
        for op in row["ops"]:
            makers.setdefault(op, []).append(alt)
    out = {}
    for op, alts in makers.items():
        owners = [a for a in alts if own.get(a) == op]
        out[op] = min(owners or alts, key=lambda a: (-matrix[a]["ops"][op]["uses"], -matrix[a]["ops"][op]["count"], a))
    return out


_RULE_START = re.compile(r"\s*[?!]?\w+(\.-?\d+)?\s*:")


def sections(grammar) -> dict[str, str]:
    """alternative -> the title of the grammar section holding it: the first
    line of the `//` comment nearest above it within its rule, up to a colon
    or parenthesis (`// linear algebra (on cpu: ...)`: "linear algebra");
    the rule's name where no comment heads it (`infix`)."""
    lines = grammar.text.split("\n")
    out = {}
    for alt in grammar.alts:
        title = None
        for line in reversed(lines[:alt.line]):      # from the alternative's own line up
            if line.strip().startswith("//"):
                title = line.strip()                  # a comment of several lines: its first
            elif title is not None or _RULE_START.match(line):
                break
        text = re.split(r"[:(]", title.lstrip("/"), maxsplit=1)[0].strip() if title else ""
        out[alt.name] = text or alt.origin
    return out


@dataclass(frozen=True, order=True)
class Family:
    """A group of ops shown together: a dialect, and within it the grammar
    section of the ops' typical alternative ("" if unknown); `rank` orders them."""
    rank: tuple
    dialect: str
    section: str

    @property
    def label(self) -> str:
        """As HTML: the names come from the corpus and the grammar."""
        return f"{_e(self.dialect)} · {_e(self.section)}" if self.section else _e(self.dialect)


def dialect(op: str) -> str:
    return op.split(".", 1)[0] if "." in op else op


def families(ops, typical_of: dict, section_of: dict) -> dict[str, Family]:
    """op -> its Family, for the universe's ops among `ops` (the others are
    bookkeeping: func.*, sdy.*). Dialects by how many ops the universe holds
    of each, sections in the grammar's order, then PROGRAM's, then unknown."""
    u = universe()
    size = Counter(dialect(op) for op in u)
    order = {title: k for k, title in enumerate(dict.fromkeys([*section_of.values(), PROGRAM]))}
    out = {}
    for op in ops:
        if op in u:
            alt = typical_of.get(op)
            section = PROGRAM if alt == PROGRAM else section_of.get(alt, "")
            d = dialect(op)
            out[op] = Family((-size[d], d, order.get(section, len(order))), d, section)
    return out


def heat(matrix: dict, family: dict) -> tuple[list[str], list[str], list[list[float]]]:
    """(alternatives, ops, rows of the share of each alternative's uses that
    produced each op) of `coverage.alt_matrix`, over the ops `family` groups:
    ops by family, then by count; each alternative placed by its own op
    (`own_ops`), so that the matrix reads along its diagonal, family by
    family. Alternatives that made no op shown are left out; PROGRAM last."""
    totals = _totals(matrix)
    ops = sorted((op for op in totals if op in family), key=lambda o: (family[o], -totals[o], o))
    column = {op: k for k, op in enumerate(ops)}
    own = own_ops(matrix, column)
    alts = sorted(own, key=lambda a: (column[own[a]], -matrix[a]["ops"][own[a]]["count"], a))
    if any(op in column for op in matrix.get(PROGRAM, {}).get("ops", ())):
        alts.append(PROGRAM)
    return alts, ops, [[matrix[a]["ops"].get(op, {}).get("share", 0.0) for op in ops] for a in alts]


# ---------------------------------------------------------------- the heatmap, laid out by hand

HEAT_FONT = 5.8         # points, of op and alternative names
HEAT_ROW = 0.092        # inches of one alternative's row: its name and no more
BAND_FONT = 6.4         # points, of family names
BAND = 0.15             # inches of one level of family names
HEAT_WIDTH = 11.0       # inches, as wide as the other plots


def _name(op: str) -> str:
    """An op's name under its dialect's band: `while`, not `stablehlo.while`."""
    return _plain(op.split(".", 1)[1] if "." in op else op)


def _widths(texts, size: float) -> list[float]:
    """Inches each label takes at `size` points, as the Agg renderer draws it:
    the layout leaves room for every label whole."""
    renderer = FigureCanvasAgg(Figure(dpi=72)).get_renderer()
    prop = FontProperties(family=RC["font.family"], size=size)
    return [renderer.get_text_width_height_descent(t, prop, ismath=False)[0] / 72 for t in texts]


def _runs(keys: list) -> list[tuple[int, int, object]]:
    """(first, last, key) of each run of equal keys."""
    out = []
    for k, key in enumerate(keys):
        if out and out[-1][2] == key:
            out[-1] = (out[-1][0], k, key)
        else:
            out.append((k, k, key))
    return out


def _levels(spans: list[tuple[float, float, float]], lo: float, hi: float) -> list[tuple[float, int]]:
    """(left edge, level) of labels of width w centred over spans (x0, x1, w)
    within [lo, hi]: each on the lowest level where it clears the label
    before it, so that a narrow family's name never hides its neighbour's."""
    ends: list[float] = []
    out = []
    for x0, x1, w in spans:
        left = min(max((x0 + x1 - w) / 2, lo), hi - w)
        level = next((k for k, end in enumerate(ends) if end <= left), len(ends))
        if level == len(ends):
            ends.append(0.0)
        ends[level] = left + w + 0.06
        out.append((left, level))
    return out


def _band(fig: Figure, runs, x_of, names: list[str], placed, y: float, bold: bool) -> None:
    """Family names over their columns (`_levels`), from `y` (inches) up,
    each above a bracket whose ends mark the first and last of its columns."""
    for (a, b, _), name, (left, level) in zip(runs, names, placed):
        base = y + level * BAND
        x0, x1 = x_of(a) + 0.012, x_of(b + 1) - 0.012
        fig.add_artist(Line2D([x0, x0, x1, x1], [base - 0.015, base + 0.02, base + 0.02, base - 0.015], lw=0.8,
                              color="#444444" if bold else "#8a8a8a", transform=fig.dpi_scale_trans))
        fig.text(left, base + 0.04, name, fontsize=BAND_FONT, fontweight="bold" if bold else "normal",
                 color="#1a1a1a", transform=fig.dpi_scale_trans)


def plot_heatmap(matrix: dict, family: dict) -> Figure:
    """The alternative -> op matrix (`heat`), its columns under their dialect
    and grammar section, its rows in the families of their own ops, every
    name whole: the figure is as tall as its rows and labels need."""
    alts, ops, rows = heat(matrix, family)
    op_names, alt_names = [_name(o) for o in ops], [_short(a) for a in alts]
    own = own_ops(matrix, set(ops))
    bands = []         # (runs, names, bold): sections below, dialects above
    for key, bold in ((lambda f: f, False), (lambda f: f.dialect, True)):
        runs = _runs([key(family[o]) for o in ops])
        names = [_plain(f if bold else f.section or "other") for _, _, f in runs]
        bands.append((runs, names, bold))
    with _style():
        label_h = max(_widths(op_names, HEAT_FONT)) + 0.06
        left = max(_widths(alt_names, HEAT_FONT)) + 0.12
        right = HEAT_WIDTH - 0.08
        cell = (right - left) / len(ops)

        def x_of(k):     # inches from the figure's left edge to column k's left side
            return left + k * cell
        placed = [_levels([(x_of(a), x_of(b + 1), w) for (a, b, _), w in zip(runs, _widths(names, BAND_FONT))],
                          left, right) for runs, names, _ in bands]
        band_h = [BAND * (max(level for _, level in p) + 1) for p in placed]
        bar_h, mh, bottom = 0.34, HEAT_ROW * len(alts), label_h + 0.04
        height = bottom + mh + label_h + 0.04 + sum(band_h) + 0.06 + bar_h
        fig = Figure(figsize=(HEAT_WIDTH, height))
        ax = fig.add_axes((left / HEAT_WIDTH, bottom / height, (right - left) / HEAT_WIDTH, mh / height))
        values = [v for row in rows for v in row if v > 0]
        data = np.ma.masked_equal(np.array(rows, dtype=float).reshape(len(alts), len(ops)), 0.0)
        norm = LogNorm(vmin=min(values), vmax=max(values)) if values and min(values) < max(values) else None
        image = ax.imshow(data, aspect="auto", interpolation="none", cmap="viridis", norm=norm)
        ax.set_xticks(range(len(ops)), op_names, fontsize=HEAT_FONT)
        ax.set_yticks(range(len(alts)), alt_names, fontsize=HEAT_FONT)
        ax.tick_params(length=0, pad=1.5, labeltop=True)        # a tall matrix: op names above and below
        ax.tick_params(axis="x", labelrotation=90)
        starts = {a for a, _, _ in bands[1][0]}
        for a, _, _ in bands[0][0][1:]:     # family boundaries, darker between dialects, up to the brackets
            fig.add_artist(Line2D([x_of(a)] * 2, [0.04, bottom + mh + label_h + 0.04], lw=0.6,
                                  color="#555555" if a in starts else "#c8c8c8", transform=fig.dpi_scale_trans))
        for a, _, _ in _runs([family.get(own.get(alt)) for alt in alts])[1:]:
            ax.axhline(a - 0.5, color="#c8c8c8", lw=0.6)
        for spine in ax.spines.values():
            spine.set_color("#888888")
            spine.set_linewidth(0.6)
        y = bottom + mh + label_h + 0.04
        for (runs, names, bold), p, h in zip(bands, placed, band_h):
            _band(fig, runs, x_of, names, p, y, bold)
            y += h
        cax = fig.add_axes((left / HEAT_WIDTH, (height - 0.14) / height, 2.4 / HEAT_WIDTH, 0.09 / height))
        bar = fig.colorbar(image, cax=cax, orientation="horizontal")
        bar.ax.tick_params(labelsize=HEAT_FONT, length=2, pad=1)
        bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:.3g}%"))
        bar.ax.xaxis.set_minor_formatter(NullFormatter())
        bar.outline.set_linewidth(0.5)
        cax.text(1.04, 0.5, "share of the alternative's uses that produced the op (log scale; blank: never)",
                 fontsize=BAND_FONT, va="center", transform=cax.transAxes)
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
.provenance { background: #eef4fa; border: 1px solid #c9dcee; border-radius: 4px; padding: 8px 14px 4px;
  margin: 0 0 14px; }
.provenance h2 { font-size: 15px; margin: 2px 0 4px; padding: 0; border: 0; }
.provenance pre.command { background: #fff; white-space: pre-wrap; overflow-wrap: anywhere; margin: 4px 0 2px;
  max-height: 7.2em; overflow-y: auto; }
.provenance p { margin: 2px 0 6px; }
table.facts { border: 0; margin: 0 0 4px; font-size: 13px; }
table.facts td { padding: 1px 14px 1px 0; text-align: left; }
table.facts tbody tr:nth-child(even) { background: none; }
table.facts td:first-child { color: #555; white-space: nowrap; }
table.quality th { text-align: left; }
.side { display: flex; flex-wrap: wrap; gap: 0 44px; align-items: flex-start; }
.side > div { min-width: 0; }
.side h3 { margin-top: 4px; }
.side p.note { max-width: 62ch; }
.family { font-size: 13.5px; font-weight: 600; margin: 12px 0 2px; }
.examples { display: grid; grid-template-columns: repeat(3, minmax(0, 1fr)); grid-auto-flow: row dense;
  column-gap: 22px; }
.examples details { padding: 2px 0; min-width: 0; }
.examples details[open] { grid-column: 1 / -1; padding-bottom: 10px; }
.examples summary { white-space: nowrap; overflow: hidden; text-overflow: ellipsis; line-height: 1.4; }
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


def _table(head: list[str] | None, rows: list[list[str]], cls: str = "", row_attrs=None) -> str:
    """A table of cells already made HTML, with a head row unless `head` is None; `row_attrs`, each row's attributes."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if head:
        out += ["<thead><tr>"] + [f"<th>{h}</th>" for h in head] + ["</tr></thead>"]
    out.append("<tbody>")
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


MAX_WEIGHTS = 12          # weights listed before "and N more"
MAX_MAKERS = 5            # alternatives listed for a bookkeeping op


def _apart(weights: dict, base: dict) -> dict:
    return {name: w for name, w in weights.items() if base.get(name) != w}


def weights_apart(m: dict) -> tuple[dict | None, str | None]:
    """(the weights a manifest sets apart from those its grammar's file
    gives, the shipped profile they start from if one leaves fewer apart);
    (None, None) if that grammar is not at hand to compare with."""
    defaults, packaged = grammar_weights(m)
    if defaults is None:
        return None, None
    apart, profile = _apart(m["weights"], defaults), None
    for name in profiles() if packaged else ():     # profiles are weights of the packaged grammar
        try:
            base = override_weights(load_grammar(), read_weights_file(profile_path(name))).weights()
        except GrammarError:
            continue
        if len(_apart(m["weights"], base)) < len(apart):
            apart, profile = _apart(m["weights"], base), name
    return apart, profile


def _weights(m: dict) -> str:
    apart, profile = weights_apart(m)
    if apart is None:
        return ("not compared: the grammar it was made with is not at hand (its file is gone or changed); "
                "<code>manifest.json</code> holds them all")
    listed = ", ".join(f"<code>{_e(name)}={w:g}</code>" for name, w in list(apart.items())[:MAX_WEIGHTS])
    more = f" and {len(apart) - MAX_WEIGHTS} more" if len(apart) > MAX_WEIGHTS else ""
    start = f"those of profile <code>{_e(profile)}</code>" if profile else "the grammar's own"
    if not apart:
        return start
    return f"{start}, {len(apart)} set apart: {listed}{more}" if profile else \
        f"{len(apart)} set apart from the grammar's: {listed}{more}"


def _grammar(m: dict) -> str:
    """The packaged grammar as such, another by its file name: as the dataset card names it, no directory of
    the machine that made the corpus."""
    return "jaxsynth's packaged grammar" if grammar_weights(m)[1] else f"<code>{_e(grammar_file(m))}</code>"


def _versions(m: dict) -> str:
    versions = m.get("versions") if isinstance(m.get("versions"), dict) else {}
    shown = [f"{_e(k)} {_e(v)}" for k, v in versions.items()]
    if "jaxsynth" not in versions:
        shown.append("jaxsynth: not recorded in the manifest")
    return " · ".join(shown)


def _provenance(s: Scan, name: str | None) -> str:
    """How a corpus was made, from its manifest: the page's first section."""
    title = f"How {_e(name)} was made" if name else "How this corpus was made"
    ident = f' id="provenance{"-b" if name and name.startswith("B:") else ""}"'
    m = s.manifest
    if m is None:
        return (f'<section class="provenance"{ident}><h2>{title}</h2><p class="note">No '
                "<code>manifest.json</code>: how these records were made is not known.</p></section>")
    try:
        command, exact = command_line(m, "DIR")
    except (KeyError, TypeError, ValueError, AttributeError, SignatureError):     # a manifest of unknown origin
        command, exact = None, False
    how = ("makes these records again in <code>DIR</code>, byte for byte, with any number of workers."
           if exact else "is the nearest command; <code>manifest.json</code> holds options no flag sets.")
    counts = m["counts"]
    failures = sum(counts["failures"].values())
    facts = [("seed", _e(m.get("seed")) if m["command"] == "sample" else "none: an enumeration"),
             ("weights", _weights(m)),
             ("grammar", f"{_grammar(m)}, sha256 <code>{_e(m['grammar_sha256'])}</code>"),
             ("versions", _versions(m)),
             ("records", f"{counts['records']:,}; duplicates skipped: {counts['duplicates_skipped']:,}; "
                         f"programs that failed: {failures:,}" + ("" if m["complete"] else
                                                                  "; the run is not complete"))]
    out = [f'<section class="provenance"{ident}><h2>{title}</h2>']
    if command is not None:
        out.append(f'<pre class="command">{_e(command)}</pre><p class="note">{how}</p>')
    out.append(_table(None, [[f"<td>{k}</td>", f"<td>{v}</td>"] for k, v in facts], "facts"))
    out.append("</section>")
    return "\n".join(out)


def _text_rows(text: str) -> list[tuple[str, str]]:
    """(label, value) of each indented line of a block `jaxsynth coverage`
    prints (`  label   value`): the page shows its words as they are."""
    rows = []
    for line in text.split("\n"):
        if line.startswith("  "):
            label, _, value = line.strip().partition("  ")
            rows.append((label, value.strip()))
    return rows


def _quality(reports: list[dict], names: list[str]) -> str:
    """The quality numbers and the alternatives never used, as `jaxsynth coverage` prints them."""
    columns = [_text_rows(format_quality(r["quality"])) for r in reports]
    rows = [[f"<td>{html.escape(label)}</td>"] + [f'<td class="text">{_e(c[k][1])}</td>' for c in columns]
            for k, (label, _) in enumerate(columns[0])]
    out = [_table([""] + [_e(n) for n in names] if len(names) > 1 else None, rows, "summary quality")]
    for r, n in zip(reports, names):
        unused = r["alternatives_never_used"]
        listed = ", ".join(f"<code>{_e(a)}</code>" for a in unused) or "none"
        whose = f" ({_e(n)})" if len(names) > 1 else ""
        out.append(f'<p class="unused"><b>Alternatives never used</b>{whose} ({len(unused)}): {listed}.</p>')
    return "\n".join(out)


def _bookkeeping(matrix: dict, family: dict) -> str:
    """The ops outside the heatmap (func.*, sdy.*: outside the universe) and the alternatives that made them."""
    totals = _totals(matrix)
    ops = sorted((op for op in totals if op not in family), key=lambda o: (-totals[o], o))
    if not ops:
        return ""
    rows = []
    for op in ops:
        count = {a: row["ops"][op]["count"] for a, row in matrix.items() if op in row["ops"]}
        makers = sorted(count, key=lambda a: (-count[a], a))
        made = ", ".join(f"<code>{_e(a)}</code> {count[a]:,}" for a in makers[:MAX_MAKERS])
        more = f", and {len(makers) - MAX_MAKERS} more" if len(makers) > MAX_MAKERS else ""
        rows.append([f'<td class="op">{_e(op)}</td>', f"<td>{totals[op]:,}</td>",
                     f'<td class="text">{made}{more}</td>'])
    return ('<p class="note">Bookkeeping ops, outside the stablehlo/chlo universe and so outside the heatmap, and the '
            "alternatives that made the most of each:</p>\n"
            + _table(["op", "occurrences", "made by (occurrences)"], rows, "bookkeeping",
                     [f' class="bookkeeping" data-op="{_e(op)}"' for op in ops]))


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


def _example(op: str, ex: Example, alt: str | None, source: str | None, located: dict) -> str:
    """An op's example, as <details> a reader opens from its one-line summary;
    `alt`, the alternative the op comes from in it, if the record says;
    `located` holds the op lines of each example record already parsed (a
    record is often the example of several ops)."""
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
    made = f" · {_e(alt)}" if alt is not None else ""
    by = f' data-alternative="{_e(alt)}"' if alt is not None else ""
    return (f'<details class="example" id="ex-{_anchor(op)}" data-op="{_e(op)}" data-id="{_e(ex.id)}"{by}>'
            f'<summary title="{_e(op)}"><span class="mono">{_e(op.split(".", 1)[-1])}</span>'
            f'<span class="meta">{_e(ex.id)}{origin} · size {ex.size}{made}</span></summary>\n'
            f'<div class="cols"><div><div class="label">Python{" (imports left out)" if start else ""}</div>'
            f'<pre class="python">{_e(python)}</pre></div>'
            f'<div><div class="label">StableHLO lines of <code>{_e(op)}</code> '
            f"(line numbers of the record’s text)</div>{hlo}</div></div></details>")


def _cut(line: str) -> str:
    return line if len(line) <= MAX_WIDTH else f"{line[:MAX_WIDTH]} … ({len(line) - MAX_WIDTH:,} more characters)"


def _anchor(op: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", op)


@dataclass
class Attributed:
    """What one corpus's attribution gives the page: the alternative -> op
    matrix, each op's typical alternative, and each covered op's Family."""
    matrix: dict
    typical: dict
    family: dict


def attributed(s: Scan, report: dict) -> Attributed:
    matrix = alt_matrix(report)
    u = universe()
    t = typical(matrix, {op for row in matrix.values() for op in row["ops"]} & u)
    covered = {o["op"] for o in report["ops"]} | set(_totals(matrix))
    return Attributed(matrix, t, families(covered, t, sections(s.coverage.quality.grammar)))


def _alternatives(scans: list[Scan], reports: list[dict], names: list[str], groups: list[Attributed],
                  figure) -> list[str]:
    body = ['<h2 id="alternatives">Alternatives → ops</h2>']
    for k, (s, r, n, g) in enumerate(zip(scans, reports, names, groups)):
        counted = r["attributed"]
        if not counted:
            body.append(f'<p class="note">{_e(n)}: its records carry no <code>attribution</code> (made before '
                        f"records had it): no alternative → op matrix.</p>")
            continue
        if counted < s.programs:
            body.append(f'<p class="note">{_e(n)}: {s.programs - counted} of {s.programs} records carry no '
                        f"<code>attribution</code>; the matrix counts the others.</p>")
        two = len(scans) > 1
        if any(op in g.family for op in _totals(g.matrix)):
            body.append(figure("plot-heatmap" if k == 0 else "plot-heatmap-b", plot_heatmap(g.matrix, g.family),
                               f"alternative to op heatmap{' of ' + n if two else ''}",
                               (f"{_e(n)}: " if two else "") + "Which stablehlo/chlo ops each grammar alternative "
                               "produced: the share of the alternative's uses that produced the op (log colour "
                               "scale; blank: never). Ops are grouped by dialect, then by the section of the "
                               "grammar that holds their typical alternative (of those whose own op it is, the one "
                               "with the most uses that made it); ops by count within a group. Each alternative's row "
                               "sits by its own op, the one most of its uses produce, so the matrix reads along "
                               f"its diagonal. <code>{PROGRAM}</code> holds the ops no operation of a program made "
                               "(constants JAX hoists); its uses are the programs."))
        body.append(_bookkeeping(g.matrix, g.family))
    return body


def _examples(scans: list[Scan], reports: list[dict], names: list[str], groups: list[Attributed]) -> list[str]:
    """Each covered op's representative program, collapsed to one line, in the heatmap's families."""
    body = ['<h2 id="examples">Example programs</h2>',
            '<p class="note">For each covered op, in the families of the heatmap, a representative program: the '
            "smallest (fewest operations, then shortest text) in which the op comes from its typical alternative, "
            "named last on its line; the smallest containing the op where the records carry no "
            "<code>attribution</code>. Open a line for its Python and the lines of its StableHLO that hold the "
            "op. For an op written in the compact form of another op’s region (<code>applies "
            "stablehlo.add</code>), the line is that op’s.</p>"]
    located: dict = {}
    shown: dict[Family, list[str]] = {}
    for op in sorted({o["op"] for r in reports for o in r["ops"]}):
        k = 0 if op in scans[0].examples else 1
        s, g = scans[k], groups[k]
        alt = g.typical.get(op)
        example = s.made.get((op, alt))
        shown.setdefault(g.family[op], []).append(
            _example(op, example or s.examples[op], alt if example else None, names[k] if len(scans) > 1 else None,
                     located))
    for fam in sorted(shown):
        body.append(f'<div class="family">{fam.label}</div>\n<div class="examples">\n'
                    + "\n".join(shown[fam]) + "\n</div>")
    return body


def render(a: Scan, b: Scan | None = None) -> str:
    """The page, as text."""
    scans = [s for s in (a, b) if s is not None]
    names = _names(a, b)
    reports = [s.report() for s in scans]
    groups = [attributed(s, r) for s, r in zip(scans, reports)]
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
            f" · universe: {u} stablehlo/chlo ops registered by the installed jaxlib</p>"]
    body += [_provenance(s, n if b else None) for s, n in zip(scans, names)]
    body += ['<nav><a href="#summary">Summary</a><a href="#quality">Quality</a>'
             + ('<a href="#comparison">Comparison</a>' if b else "")
             + '<a href="#ops">Ops</a><a href="#growth">Growth</a><a href="#shape">Program shape</a>'
             '<a href="#alternatives">Alternatives</a><a href="#examples">Examples</a></nav>',
             '<h2 id="summary">Summary and quality</h2>',
             f'<div class="side"><div>{_summary(scans, reports, names)}</div>\n<div id="quality"><h3>Quality</h3>'
             '<p class="note">Read from the records alone, the Python parsed and never run, as <code>jaxsynth '
             "coverage</code> prints it; alternatives never used are those of the corpus's weights no record "
             f"holds.</p>\n{_quality(reports, names)}</div></div>"]
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
    body += _alternatives(scans, reports, names, groups, figure)
    body += _examples(scans, reports, names, groups)
    body.append('<footer>Written by <code>jaxsynth report</code>. Op names, programs and StableHLO come from the '
                "corpus and are shown as text.</footer>")
    title = f"jaxsynth report: {' vs '.join(_e(n) for n in names)}"
    return (HEAD + '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")
