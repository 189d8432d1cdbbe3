"""The report page's example programs: for each covered op, in the families
of the heatmap, the smallest program in which the op comes from its typical
alternative, with its Python and the StableHLO lines that hold the op."""
from __future__ import annotations

from .families import Attributed, Family
from .markup import anchor, esc
from .scan import Example, Scan, op_lines

MAX_LINES = 200                    # of an example's Python shown
MAX_OP_LINES = 8                   # StableHLO lines of one op shown per example
MAX_WIDTH = 400                    # characters of a line shown (a constant's dense<...> may hold megabytes)


def _cut(line: str) -> str:
    return line if len(line) <= MAX_WIDTH else f"{line[:MAX_WIDTH]} … ({len(line) - MAX_WIDTH:,} more characters)"


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
        shown = "\n".join(f'<span class="ln">{n:>4}  </span>{esc(_cut(text[n - 1].strip()))}'
                           for n in lines[:MAX_OP_LINES])
        if len(lines) > MAX_OP_LINES:
            shown += f"\n… {len(lines) - MAX_OP_LINES} more lines of this op"
        hlo = f"<pre>{shown or '(no line of its own)'}</pre>"
    origin = f" from {esc(source)}" if source else ""
    made = f" · {esc(alt)}" if alt is not None else ""
    by = f' data-alternative="{esc(alt)}"' if alt is not None else ""
    return (f'<details class="example" id="ex-{anchor(op)}" data-op="{esc(op)}" data-id="{esc(ex.id)}"{by}>'
            f'<summary title="{esc(op)}"><span class="mono">{esc(op.split(".", 1)[-1])}</span>'
            f'<span class="meta">{esc(ex.id)}{origin} · size {ex.size}{made}</span></summary>\n'
            f'<div class="cols"><div><div class="label">Python{" (imports left out)" if start else ""}</div>'
            f'<pre class="python">{esc(python)}</pre></div>'
            f'<div><div class="label">StableHLO lines of <code>{esc(op)}</code> '
            f"(line numbers of the record’s text)</div>{hlo}</div></div></details>")


def examples(scans: list[Scan], reports: list[dict], names: list[str], groups: list[Attributed]) -> list[str]:
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
