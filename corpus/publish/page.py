"""The report page as text: its stylesheet, its sections in order, and the
numbered figures between them. The page holds no script, no external
stylesheet or font, and nothing it loads from the network."""
from __future__ import annotations

from matplotlib.figure import Figure

from ..analysis.coverage import MEASURES, compare
from ..run.records import PROGRAM
from .examples import examples
from .families import Attributed, attributed, totals
from .heatmap import plot_heatmap
from .markup import esc
from .plots import plot_growth, plot_histograms, plot_ops
from .provenance import provenance
from .scan import Scan
from .style import svg
from .tables import bookkeeping, comparison, op_table, outside, quality, summary

GENERATOR = "jaxsynth report"
# how every page this command writes begins: only a file that begins so is overwritten
HEAD = ('<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f'<meta name="generator" content="{GENERATOR}">\n')

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


def _names(a: Scan, b: Scan | None) -> list[str]:
    """How the page names the corpora: the path of one; "A: name", "B: name" of two."""
    if b is None:
        return [str(a.path)]
    na, nb = a.path.name or str(a.path), b.path.name or str(b.path)
    if na == nb:
        na, nb = str(a.path), str(b.path)
    return [f"A: {na}", f"B: {nb}"]


class _Figures:
    """Each figure as a <figure>, numbered in the order the page shows them."""

    def __init__(self):
        self.numbered = 0

    def __call__(self, svg_id: str, drawn: Figure, title: str, caption: str) -> str:
        self.numbered += 1
        return (f'<figure id="fig-{svg_id}">{svg(drawn, svg_id, title)}<figcaption><b>Figure {self.numbered}.</b> '
                f"{caption}</figcaption></figure>")


def _top(scans: list[Scan], reports: list[dict], names: list[str]) -> list[str]:
    """The title, how each corpus was made, the navigation, the summary and quality."""
    two = len(scans) > 1
    u = reports[0]["universe"]
    sizes = ", ".join(f"{'AB'[k] + ': ' if two else ''}{r['programs']:,} programs" for k, r in enumerate(reports))
    body = [f"<h1>StableHLO coverage of {' vs '.join(esc(n) for n in names)}</h1>",
            f'<p class="subtitle">jaxsynth corpus report · {sizes}'
            f" · universe: {u} stablehlo/chlo ops registered by the installed jaxlib</p>"]
    body += [provenance(s, n if two else None) for s, n in zip(scans, names)]
    body += ['<nav><a href="#summary">Summary</a><a href="#quality">Quality</a>'
             + ('<a href="#comparison">Comparison</a>' if two else "")
             + '<a href="#ops">Ops</a><a href="#growth">Growth</a><a href="#shape">Program shape</a>'
             '<a href="#alternatives">Alternatives</a><a href="#examples">Examples</a></nav>',
             '<h2 id="summary">Summary and quality</h2>',
             f'<div class="side"><div>{summary(scans, reports, names)}</div>\n<div id="quality"><h3>Quality</h3>'
             '<p class="note">Read from the records alone, the Python parsed and never run, as <code>jaxsynth '
             "coverage</code> prints it; alternatives never used are those of the corpus's weights no record "
             f"holds.</p>\n{quality(reports, names)}</div></div>"]
    return body


def _compared(reports: list[dict], names: list[str]) -> list[str]:
    c = compare(reports[0], reports[1])
    return ['<h2 id="comparison">Comparison</h2>',
            f'<p class="note">Distances and entropies are between the two op distributions in each measure: '
            f"“programs”, {MEASURES['programs']}; “occurrences”, {MEASURES['occurrences']}; over the "
            f"stablehlo/chlo ops only. The Jensen–Shannon distance is the square root of the Jensen–Shannon "
            "divergence in base 2 (0: the same distribution, 1: no op in common). In the tables, "
            "“% programs” is the share of programs containing the op, “% occurrences” its share of all op "
            "occurrences, and Δ is B − A in percentage points; ops by the size of the change in "
            "% programs.</p>",
            comparison(c, names)]


def _plots(scans: list[Scan], reports: list[dict], names: list[str], figure: _Figures) -> list[str]:
    """The ops against the universe, the growth curves and the program shape."""
    u = reports[0]["universe"]
    caption = ("Every op of the universe, by the share of programs containing it (log scale). "
               + ("Bars: covered ops; ○ an op JAX can emit that no program reached; × an op JAX never emits. "
                  if len(scans) == 1 else "Bars: each corpus; label colour: orange, an op JAX can emit that neither "
                                          "corpus reached; grey, an op JAX never emits. ")
               + "Names without a dialect are <code>stablehlo.*</code>.")
    body = ['<h2 id="ops">Ops against the universe</h2>',
            figure("plot-ops", plot_ops(reports, names), "op histogram", caption),
            outside(reports, names), op_table(reports, names)]
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
    return body


def _alternatives(scans: list[Scan], reports: list[dict], names: list[str], groups: list[Attributed],
                  figure: _Figures) -> list[str]:
    body = ['<h2 id="alternatives">Alternatives → ops</h2>']
    for k, (s, r, n, g) in enumerate(zip(scans, reports, names, groups)):
        counted = r["attributed"]
        if not counted:
            body.append(f'<p class="note">{esc(n)}: its records carry no <code>attribution</code> (made before '
                        f"records had it): no alternative → op matrix.</p>")
            continue
        if counted < s.programs:
            body.append(f'<p class="note">{esc(n)}: {s.programs - counted} of {s.programs} records carry no '
                        f"<code>attribution</code>; the matrix counts the others.</p>")
        two = len(scans) > 1
        if any(op in g.family for op in totals(g.matrix)):
            body.append(figure("plot-heatmap" if k == 0 else "plot-heatmap-b", plot_heatmap(g.matrix, g.family),
                               f"alternative to op heatmap{' of ' + n if two else ''}",
                               (f"{esc(n)}: " if two else "") + "Which stablehlo/chlo ops each grammar alternative "
                               "produced: the share of the alternative's uses that produced the op (log colour "
                               "scale; blank: never). Ops are grouped by dialect, then by the section of the "
                               "grammar that holds their typical alternative (of those whose own op it is, the one "
                               "with the most uses that made it); ops by count within a group. Each alternative's row "
                               "sits by its own op, the one most of its uses produce, so the matrix reads along "
                               f"its diagonal. <code>{PROGRAM}</code> holds the ops no operation of a program made "
                               "(constants JAX hoists); its uses are the programs."))
        body.append(bookkeeping(g.matrix, g.family))
    return body


def render(a: Scan, b: Scan | None = None) -> str:
    """The page, as text."""
    scans = [s for s in (a, b) if s is not None]
    names = _names(a, b)
    reports = [s.report() for s in scans]
    groups = [attributed(s, r) for s, r in zip(scans, reports)]
    figure = _Figures()
    body = _top(scans, reports, names)
    if b is not None:
        body += _compared(reports, names)
    body += _plots(scans, reports, names, figure)
    body += _alternatives(scans, reports, names, groups, figure)
    body += examples(scans, reports, names, groups)
    body.append('<footer>Written by <code>jaxsynth report</code>. Op names, programs and StableHLO come from the '
                "corpus and are shown as text.</footer>")
    title = f"jaxsynth report: {' vs '.join(esc(n) for n in names)}"
    return (HEAD + '<meta name="viewport" content="width=device-width, initial-scale=1">\n'
            "<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; "
            "img-src data:\">\n"
            f"<title>{title}</title>\n<style>{CSS}</style>\n</head>\n<body>\n<main>\n"
            + "\n".join(p for p in body if p) + "\n</main>\n</body>\n</html>\n")
