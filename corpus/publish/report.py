"""`jaxsynth report`: one self-contained HTML page about a corpus, or two.

The page is for reading and for papers. At its top, how the corpus was made
(from its manifest: the command that makes it again, seed, weights set apart
from the grammar's, the grammar's sha256, versions); then the op histogram
against the whole StableHLO/CHLO universe (each op covered, reachable but
not covered, or not emitted by JAX), the quality numbers and unused
alternatives `jaxsynth coverage` prints, the growth of distinct ops and op
pairs with the number of programs, the size / depth / input-count
histograms, the alternative -> op matrix as a heatmap with its ops grouped
by family (`families`), and for each covered op a representative program:
the smallest in which the op comes from its typical alternative, with its
Python and the StableHLO lines of that op. With a second corpus, the
comparison table of `coverage.compare` and every plot with both corpora
overlaid.

This module is what the command line calls: refuse an OUT it may not
overwrite, scan each corpus (`scan`), write the page (`page.render`). The
plots are inline SVG drawn by matplotlib (the `report` extra) on its Agg
canvas (`style`, `plots`, `heatmap`), so the same corpus gives the same
bytes. Everything that comes from a corpus is untrusted text: made visible
(`readers.visible`) and escaped before it reaches the page (`markup`).
"""
from __future__ import annotations

# before the modules of the page, which import it too: without the `report`
# extra, importing this module is what fails, and the error names matplotlib
import matplotlib  # noqa: F401

from pathlib import Path

from ..run.files import CorpusError, atomic_write
from ..run.readers import is_regular
from .page import HEAD, render
from .scan import Scan, scan

__all__ = ["check_output", "scan", "write_report"]


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
    atomic_write(out, page.encode("utf-8"))
    return page
