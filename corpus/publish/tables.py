"""The report page's tables: the summary, the quality numbers as `jaxsynth
coverage` prints them, every op of the universe, the bookkeeping ops outside
it, and the comparison of two corpora. The numbers are those of
`coverage.Coverage`, `coverage.compare` and `diversity.Diversity`; this
module only lays them out."""
from __future__ import annotations

import html

from ..analysis.coverage import MEASURES
from ..analysis.quality import format_quality
from .families import totals
from .markup import anchor, esc, pct, table
from .plots import statuses
from .scan import Scan
from .style import STATUS

TOP_CHANGES = 20          # ops of the comparison shown before the full table
MAX_MAKERS = 5            # alternatives listed for a bookkeeping op


def _chip(key: str) -> str:
    colour, name = STATUS[key]
    return f'<span class="chip" style="background:{colour}"></span>{name}'


def summary(scans: list[Scan], reports: list[dict], names: list[str]) -> str:
    def row(label, values):
        return [f"<td>{label}</td>"] + [f"<td>{v}</td>" for v in values]
    rows = [
        row("programs", [f"{r['programs']:,}" for r in reports]),
        row("ops JAX can emit, covered", [f"{r['covered_reachable']} / {r['reachable']} "
                                          f"({pct(r['coverage_reachable'])})" for r in reports]),
        row("stablehlo/chlo ops, covered", [f"{r['covered']} / {r['universe']} ({pct(r['coverage'])})"
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
    head = [""] + [esc(n) for n in names] if len(names) > 1 else ["", "value"]
    return table(head, rows, "summary")


def _text_rows(text: str) -> list[tuple[str, str]]:
    """(label, value) of each indented line of a block `jaxsynth coverage`
    prints (`  label   value`): the page shows its words as they are."""
    rows = []
    for line in text.split("\n"):
        if line.startswith("  "):
            label, _, value = line.strip().partition("  ")
            rows.append((label, value.strip()))
    return rows


def quality(reports: list[dict], names: list[str]) -> str:
    """The quality numbers and the alternatives never used, as `jaxsynth coverage` prints them."""
    columns = [_text_rows(format_quality(r["quality"])) for r in reports]
    rows = [[f"<td>{html.escape(label)}</td>"] + [f'<td class="text">{esc(c[k][1])}</td>' for c in columns]
            for k, (label, _) in enumerate(columns[0])]
    out = [table([""] + [esc(n) for n in names] if len(names) > 1 else None, rows, "summary quality")]
    for r, n in zip(reports, names):
        unused = r["alternatives_never_used"]
        listed = ", ".join(f"<code>{esc(a)}</code>" for a in unused) or "none"
        whose = f" ({esc(n)})" if len(names) > 1 else ""
        out.append(f'<p class="unused"><b>Alternatives never used</b>{whose} ({len(unused)}): {listed}.</p>')
    return "\n".join(out)


def bookkeeping(matrix: dict, family: dict) -> str:
    """The ops outside the heatmap (func.*, sdy.*: outside the universe) and the alternatives that made them."""
    counts = totals(matrix)
    ops = sorted((op for op in counts if op not in family), key=lambda o: (-counts[o], o))
    if not ops:
        return ""
    rows = []
    for op in ops:
        count = {a: row["ops"][op]["count"] for a, row in matrix.items() if op in row["ops"]}
        makers = sorted(count, key=lambda a: (-count[a], a))
        made = ", ".join(f"<code>{esc(a)}</code> {count[a]:,}" for a in makers[:MAX_MAKERS])
        more = f", and {len(makers) - MAX_MAKERS} more" if len(makers) > MAX_MAKERS else ""
        rows.append([f'<td class="op">{esc(op)}</td>', f"<td>{counts[op]:,}</td>",
                     f'<td class="text">{made}{more}</td>'])
    return ('<p class="note">Bookkeeping ops, outside the stablehlo/chlo universe and so outside the heatmap, and the '
            "alternatives that made the most of each:</p>\n"
            + table(["op", "occurrences", "made by (occurrences)"], rows, "bookkeeping",
                    [f' class="bookkeeping" data-op="{esc(op)}"' for op in ops]))


def op_table(reports: list[dict], names: list[str]) -> str:
    status = statuses(reports[0])
    by = [{o["op"]: o for o in r["ops"]} for r in reports]
    order = sorted(status, key=lambda op: (-max(b.get(op, {}).get("programs", 0) for b in by), op))
    rows, attrs = [], []
    for op in order:
        note = reports[0]["never_hit_reachable"].get(op) or reports[0]["not_emitted"].get(op) or ""
        key = "covered" if any(op in b for b in by) else status[op]
        name = f'<a href="#ex-{anchor(op)}">{html.escape(op)}</a>' if key == "covered" else html.escape(op)
        row = [f'<td class="op">{name}</td>', f'<td class="status">{_chip(key)}</td>']
        for r, b in zip(reports, by):
            o = b.get(op)
            row += [f"<td>{o['count'] if o else 0:,}</td>", f"<td>{o['programs'] if o else 0:,}</td>",
                    f"<td>{pct(o['programs'] / max(r['programs'], 1)) if o else '–'}</td>"]
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
            + table(head, rows, "ops", attrs) + "</details>")


def outside(reports: list[dict], names: list[str]) -> str:
    parts = []
    for r, n in zip(reports, names):
        if r["outside_universe"]:
            ops = ", ".join(f"<code>{esc(op)}</code>" for op in r["outside_universe"])
            parts.append(f'<p class="note">Outside the universe ({esc(n)}), not in the histogram: {ops}.</p>')
        for key, what in (("hit_not_emitted", "covered, though lowering/reach.py says JAX never emits them"),
                          ("unclassified", "in neither table of lowering/reach.py")):
            if r[key]:
                listed = ", ".join(f"<code>{esc(op)}</code>" for op in r[key])
                parts.append(f'<p class="note">{esc(n)}: {what}: {listed}.</p>')
    return "\n".join(parts)


def _delta(x: float) -> str:
    """A change of share, in percentage points, coloured by its sign once it shows."""
    points = round(100 * x, 2) + 0.0      # + 0.0: no -0.00
    cls = "pos" if points > 0 else "neg" if points < 0 else ""
    return f'<td class="{cls}">{points:+.2f}</td>' if cls else f"<td>{points:.2f}</td>"


def comparison(c: dict, names: list[str]) -> str:
    """The tables of `coverage.compare(a, b)`."""
    a, b = (esc(n) for n in names)
    rows = []
    for m in MEASURES:
        d = c["distance"][m]
        rows.append([f"<td>{m}</td>"] + [f"<td>{d[k]:.4f}</td>" if d else "<td>–</td>" for k in ("tv", "js")]
                    + [f"<td>{c[side]['entropy'][m]:.3f}</td>" for side in ("a", "b")])
    out = [table(["op distribution", "total variation", "Jensen–Shannon distance", f"entropy of {a} (bits)",
                  f"entropy of {b} (bits)"], rows, "distances")]
    for key, what in (("gained", f"covered by {b}, not by {a}"), ("lost", f"covered by {a}, not by {b}")):
        listed = ", ".join(f"<code>{esc(op)}</code>" for op in c[key]) or "none"
        out.append(f"<p><b>{key.capitalize()}</b> ({len(c[key])}), {what}: {listed}.</p>")
    rows, attrs = [], []
    for o in c["ops"]:
        row = [f'<td class="op">{esc(o["op"])}</td>']
        for m in MEASURES:
            row += [f"<td>{100 * o[f'{m}_share_a']:.2f}</td>", f"<td>{100 * o[f'{m}_share_b']:.2f}</td>",
                    _delta(o[f"{m}_share_delta"])]
        row += [f"<td>{o['count_a']:,}</td>", f"<td>{o['count_b']:,}</td>"]
        rows.append(row)
        attrs.append(f' class="cmp" data-op="{esc(o["op"])}"')
    head = ["op", "% programs A", "% programs B", "Δ", "% occurrences A", "% occurrences B", "Δ",
            "occurrences A", "occurrences B"]
    out.append(f"<h3>The {min(TOP_CHANGES, len(rows))} largest changes in the share of programs</h3>")
    out.append(table(head, rows[:TOP_CHANGES], "compare", attrs))
    if len(rows) > TOP_CHANGES:
        out.append(f"<details><summary>All {len(rows)} ops either corpus covers</summary>\n"
                   + table(head, rows, "compare", attrs) + "</details>")
    return "\n".join(out)
