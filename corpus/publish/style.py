"""How every figure of the report is drawn: matplotlib's settings, the
colours, corpus text as plot labels, and a figure as an inline <svg>.

The settings start from matplotlib's own defaults, never a matplotlibrc of
the machine, with a fixed hash salt and no date: the same corpus gives the
same bytes anywhere.
"""
from __future__ import annotations

import contextlib
import html
import io
import re

import matplotlib
import matplotlib.style
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, NullFormatter

from ..run.readers import visible

LABEL = 48                         # characters of a corpus-given name in a plot label

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


@contextlib.contextmanager
def style(**extra):
    """matplotlib's own defaults, not those of a matplotlibrc here, then the
    page's settings: the same plots, byte for byte, on every machine."""
    with matplotlib.style.context("default"), matplotlib.rc_context({**RC, **extra}):
        yield


def svg(fig: Figure, ident: str, label: str) -> str:
    """The figure as an <svg> element for inlining: its own id, a title for
    screen readers, and internal ids prefixed so that no two plots share one."""
    buf = io.StringIO()
    with style(**{"svg.id": ident}):
        FigureCanvasAgg(fig)
        fig.savefig(buf, format="svg", metadata={"Date": None, "Creator": None})
    text = buf.getvalue()
    text = text[text.index("<svg"):]                                # no XML prolog or DOCTYPE inside HTML
    text = re.sub(r"<!--.*?-->\n?", "", text, flags=re.S)           # matplotlib's copies of the label texts
    text = re.sub(r"<metadata>.*?</metadata>\n?", "", text, flags=re.S)
    own = set(re.findall(r' id="([^"]+)"', text)) - {ident}
    text = re.sub(r'( id="|href="#|url\(#)([^")]+)',
                  lambda m: m.group(1) + (f"{ident}-{m.group(2)}" if m.group(2) in own else m.group(2)), text)
    text = re.sub(r'<svg ([^>]*?)width="[^"]*" height="[^"]*"', r'<svg class="plot" role="img" \1', text, count=1)
    return text.replace(">", f"><title>{html.escape(label)}</title>", 1)


def new_figure(width: float, height: float) -> Figure:
    with style():
        return Figure(figsize=(width, height), layout="constrained")


def plain(text: str) -> str:
    """A corpus-given name as a plot label: visible, on one line (a label's
    room is one line), and with `$` escaped, which would otherwise start
    mathtext (a malformed formula fails the drawing)."""
    return visible(text).replace("\n", "\\n").replace("$", r"\$")


def short(op: str) -> str:
    name = op[len("stablehlo."):] if op.startswith("stablehlo.") else op
    return plain(name if len(name) <= LABEL else name[:LABEL - 1] + "…")


def plain_ticks(axis, percent: bool = False) -> None:
    """Plain tick labels on a log axis (1, 10, 1,000; 0.1%, 10%) instead of powers of ten."""
    def label(x, _):
        text = f"{x:,.0f}" if x >= 1 else f"{x:.3g}"
        return text + "%" if percent else text
    axis.set_major_formatter(FuncFormatter(label))
    axis.set_minor_formatter(NullFormatter())
