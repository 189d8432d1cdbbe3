"""The HTML pieces every section of the report page is made of: corpus text
made visible and escaped, tables of cells, percentages, and the anchors that
link an op to its example."""
from __future__ import annotations

import html
import re

from ..run.readers import visible


def esc(text) -> str:
    """Corpus text for the page: visible, then escaped."""
    return html.escape(visible(str(text)))


def pct(x: float, digits: int = 1) -> str:
    return f"{100 * x:.{digits}f}%"


def anchor(op: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "_", op)


def table(head: list[str] | None, rows: list[list[str]], cls: str = "", row_attrs=None) -> str:
    """A table of cells already made HTML, with a head row unless `head` is None; `row_attrs`, each row's attributes."""
    out = [f'<table class="{cls}">' if cls else "<table>"]
    if head:
        out += ["<thead><tr>"] + [f"<th>{h}</th>" for h in head] + ["</tr></thead>"]
    out.append("<tbody>")
    for i, row in enumerate(rows):
        out.append(f"<tr{row_attrs[i] if row_attrs else ''}>" + "".join(row) + "</tr>")
    out.append("</tbody></table>")
    return "\n".join(out)
