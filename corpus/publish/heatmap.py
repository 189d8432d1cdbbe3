"""The alternative -> op heatmap: its rows and columns in the families of
their ops, and a layout made by hand, as tall as its rows and labels need,
so that every name is drawn whole and no two family names overlap."""
from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.colors import LogNorm
from matplotlib.figure import Figure
from matplotlib.font_manager import FontProperties
from matplotlib.lines import Line2D
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..run.records import PROGRAM
from .families import own_ops, totals
from .style import RC, plain, short, style

HEAT_FONT = 5.8         # points, of op and alternative names
HEAT_ROW = 0.092        # inches of one alternative's row: its name and no more
BAND_FONT = 6.4         # points, of family names
BAND = 0.15             # inches of one level of family names
HEAT_WIDTH = 11.0       # inches, as wide as the other plots
BAR = 0.34              # inches of the colour bar and its margin, at the top


def heat(matrix: dict, family: dict) -> tuple[list[str], list[str], list[list[float]]]:
    """(alternatives, ops, rows of the share of each alternative's uses that
    produced each op) of `coverage.alt_matrix`, over the ops `family` groups:
    ops by family, then by count; each alternative placed by its own op
    (`own_ops`), so that the matrix reads along its diagonal, family by
    family. Alternatives that made no op shown are left out; PROGRAM last."""
    counts = totals(matrix)
    ops = sorted((op for op in counts if op in family), key=lambda o: (family[o], -counts[o], o))
    column = {op: k for k, op in enumerate(ops)}
    own = own_ops(matrix, column)
    alts = sorted(own, key=lambda a: (column[own[a]], -matrix[a]["ops"][own[a]]["count"], a))
    if any(op in column for op in matrix.get(PROGRAM, {}).get("ops", ())):
        alts.append(PROGRAM)
    return alts, ops, [[matrix[a]["ops"].get(op, {}).get("share", 0.0) for op in ops] for a in alts]


def _name(op: str) -> str:
    """An op's name under its dialect's band: `while`, not `stablehlo.while`."""
    return plain(op.split(".", 1)[1] if "." in op else op)


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


def _bands(ops: list[str], family: dict) -> list[tuple[list, list[str], bool]]:
    """(runs, names, bold) of the family names over the columns: sections below, dialects above."""
    bands = []
    for key, bold in ((lambda f: f, False), (lambda f: f.dialect, True)):
        runs = _runs([key(family[o]) for o in ops])
        names = [plain(f if bold else f.section or "other") for _, _, f in runs]
        bands.append((runs, names, bold))
    return bands


@dataclass
class _Layout:
    """Inches of the heatmap's parts, from the figure's bottom left corner."""
    left: float             # of the matrix, right of the alternatives' names
    right: float
    cell: float             # width of one column
    label_h: float          # of the op names, below and above the matrix
    bottom: float           # of the matrix
    mh: float               # height of the matrix
    placed: list = field(default_factory=list)      # (left edge, level) of each band's names
    band_h: list = field(default_factory=list)

    def x_of(self, k):      # inches from the figure's left edge to column k's left side
        return self.left + k * self.cell

    @property
    def top(self) -> float:
        """Of the op names above the matrix, where the bands begin."""
        return self.bottom + self.mh + self.label_h + 0.04

    @property
    def height(self) -> float:
        return self.bottom + self.mh + self.label_h + 0.04 + sum(self.band_h) + 0.06 + BAR


def _layout(op_names: list[str], alt_names: list[str], bands) -> _Layout:
    label_h = max(_widths(op_names, HEAT_FONT)) + 0.06
    left = max(_widths(alt_names, HEAT_FONT)) + 0.12
    right = HEAT_WIDTH - 0.08
    grid = _Layout(left, right, (right - left) / len(op_names), label_h, label_h + 0.04, HEAT_ROW * len(alt_names))
    grid.placed = [_levels([(grid.x_of(a), grid.x_of(b + 1), w)
                            for (a, b, _), w in zip(runs, _widths(names, BAND_FONT))], left, right)
                   for runs, names, _ in bands]
    grid.band_h = [BAND * (max(level for _, level in p) + 1) for p in grid.placed]
    return grid


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


def _matrix(fig: Figure, grid: _Layout, rows, op_names: list[str], alt_names: list[str]):
    """(axes, image) of the matrix itself, on a log colour scale; zero cells blank."""
    height = grid.height
    ax = fig.add_axes((grid.left / HEAT_WIDTH, grid.bottom / height, (grid.right - grid.left) / HEAT_WIDTH,
                       grid.mh / height))
    values = [v for row in rows for v in row if v > 0]
    data = np.ma.masked_equal(np.array(rows, dtype=float).reshape(len(alt_names), len(op_names)), 0.0)
    norm = LogNorm(vmin=min(values), vmax=max(values)) if values and min(values) < max(values) else None
    image = ax.imshow(data, aspect="auto", interpolation="none", cmap="viridis", norm=norm)
    ax.set_xticks(range(len(op_names)), op_names, fontsize=HEAT_FONT)
    ax.set_yticks(range(len(alt_names)), alt_names, fontsize=HEAT_FONT)
    ax.tick_params(length=0, pad=1.5, labeltop=True)        # a tall matrix: op names above and below
    ax.tick_params(axis="x", labelrotation=90)
    return ax, image


def _colour_bar(fig: Figure, image, grid: _Layout) -> None:
    height = grid.height
    cax = fig.add_axes((grid.left / HEAT_WIDTH, (height - 0.14) / height, 2.4 / HEAT_WIDTH, 0.09 / height))
    bar = fig.colorbar(image, cax=cax, orientation="horizontal")
    bar.ax.tick_params(labelsize=HEAT_FONT, length=2, pad=1)
    bar.ax.xaxis.set_major_formatter(FuncFormatter(lambda x, _: f"{100 * x:.3g}%"))
    bar.ax.xaxis.set_minor_formatter(NullFormatter())
    bar.outline.set_linewidth(0.5)
    cax.text(1.04, 0.5, "share of the alternative's uses that produced the op (log scale; blank: never)",
             fontsize=BAND_FONT, va="center", transform=cax.transAxes)


def plot_heatmap(matrix: dict, family: dict) -> Figure:
    """The alternative -> op matrix (`heat`), its columns under their dialect
    and grammar section, its rows in the families of their own ops, every
    name whole: the figure is as tall as its rows and labels need."""
    alts, ops, rows = heat(matrix, family)
    op_names, alt_names = [_name(o) for o in ops], [short(a) for a in alts]
    own = own_ops(matrix, set(ops))
    bands = _bands(ops, family)
    with style():
        grid = _layout(op_names, alt_names, bands)
        fig = Figure(figsize=(HEAT_WIDTH, grid.height))
        ax, image = _matrix(fig, grid, rows, op_names, alt_names)
        starts = {a for a, _, _ in bands[1][0]}
        for a, _, _ in bands[0][0][1:]:     # family boundaries, darker between dialects, up to the brackets
            fig.add_artist(Line2D([grid.x_of(a)] * 2, [0.04, grid.top], lw=0.6,
                                  color="#555555" if a in starts else "#c8c8c8", transform=fig.dpi_scale_trans))
        for a, _, _ in _runs([family.get(own.get(alt)) for alt in alts])[1:]:
            ax.axhline(a - 0.5, color="#c8c8c8", lw=0.6)
        for spine in ax.spines.values():
            spine.set_color("#888888")
            spine.set_linewidth(0.6)
        y = grid.top
        for (runs, names, bold), p, h in zip(bands, grid.placed, grid.band_h):
            _band(fig, runs, grid.x_of, names, p, y, bold)
            y += h
        _colour_bar(fig, image, grid)
        return fig
