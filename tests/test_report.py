"""`jaxsynth report`: one self-contained HTML page, checked as a browser shows it.

The page is rendered in a real headless Chromium (Debian's /usr/bin/chromium)
with networking features off: the screenshot must be a real, non-blank PNG of
the window's size, and the DOM Chromium builds must hold the plots (inline
<svg> elements with their ids) and the tables, and show a corpus's markup as
text. For a corpus of realistic size the page, as Chromium lays it out, says
at its top how the corpus was made and is shorter than 8,000 px. In CI, a
missing Chromium fails these tests; elsewhere they are skipped with the
reason. The rest: the same bytes from another process, nothing the page would
load, the heatmap's families and whole labels, the example chosen for each op
and the lines shown of it, the quality section, corpora without attribution,
and bad input.
"""
import json
import os
import types
import re
import struct
import subprocess
import sys
import xml.etree.ElementTree as ET
from html.parser import HTMLParser
from pathlib import Path

import matplotlib.image
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from matplotlib.backends.backend_agg import FigureCanvasAgg
from jaxsynth.corpus.publish import report, style
from jaxsynth.corpus.publish.examples import MAX_WIDTH
from jaxsynth.corpus.publish.families import Family, attributed, sections
from jaxsynth.corpus.publish.heatmap import heat, plot_heatmap
from jaxsynth.corpus.publish.plots import plot_ops
from jaxsynth.corpus.publish.scan import op_lines
from jaxsynth.corpus.cli import main
from jaxsynth.corpus.publish.card import command_line
from jaxsynth.corpus.analysis.quality import format_quality
from jaxsynth.corpus.run.records import PROGRAM
from jaxsynth.corpus.run.readers import read_manifest, read_records, visible
from jaxsynth.lowering import universe
from jaxsynth.synth.grammar import load_grammar
from test_errors import fails

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 1280, 4000
PLOTS = ("plot-ops", "plot-growth", "plot-shape", "plot-heatmap")
HOSTILE = "</pre><script>alert(1)</script>"
LIMIT = 8000            # px: the page of a corpus of 2,000 programs is shorter
# programs of the corpus whose page is measured: its page holds what the page of 2,000 does (97 of their 100
# ops, 157 of their 170 alternatives; 7,058 px against 7,164), sampled in an eighth of the time
REALISTIC = 250
PROVENANCE = (0xEE, 0xF4, 0xFA)        # the background of the page's "how it was made" box


def _sample(out, *options):
    assert main(["sample", "-n", "40", "--workers", "1", "--shard-size", "20", "--out", str(out), *options]) == 0
    return out


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two small corpora of different weights: (a, b)."""
    d = tmp_path_factory.mktemp("report")
    return _sample(d / "a", "--seed", "7"), _sample(d / "b", "--seed", "8", "--weight", "sort=30")


@pytest.fixture(scope="module")
def page(corpora, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "report.html"
    assert main(["report", str(corpora[0]), "--html", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def compared(corpora, tmp_path_factory):
    out = tmp_path_factory.mktemp("page") / "compare.html"
    assert main(["report", str(corpora[0]), "--compare", str(corpora[1]), "--html", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def realistic(tmp_path_factory):
    """A corpus of realistic size and its page: (corpus, page)."""
    d = tmp_path_factory.mktemp("realistic")
    corpus, out = d / "c", d / "report.html"
    assert main(["sample", "-n", str(REALISTIC), "--seed", "0", "--workers", "1", "--out", str(corpus)]) == 0
    assert main(["report", str(corpus), "--html", str(out)]) == 0
    return corpus, out


def _write(d: Path, records) -> Path:
    """A corpus of these records, without a manifest (readers take the shard files as they are)."""
    d.mkdir()
    (d / "records-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return d


@pytest.fixture(scope="module")
def hostile(corpora, tmp_path_factory):
    """A corpus whose one record holds markup everywhere text can be: Python,
    StableHLO (an MLIR comment on an op's line), an op and an alternative
    name, and its directory's name; and a line too long to show whole; (corpus, page)."""
    r = next(read_records(corpora[0]))
    r["python"] += f"# {HOSTILE}\n# {'x' * 5000}\n"
    lines = r["stablehlo"].split("\n")
    first = next(i for i, line in enumerate(lines) if " = stablehlo." in line or " = chlo." in line)
    lines[first] += f"  // {HOSTILE}"
    r["stablehlo"] = "\n".join(lines)
    op, alt = "stablehlo.<marquee>m</marquee>$\\frac{", "<dfn>alt</dfn>$x$"
    r["ops"].append({"op": op, "count": 1})
    r["alternatives"].append(alt)
    r["attribution"].append({"alternative": alt, "op": op, "count": 1})
    d = _write(tmp_path_factory.mktemp("hostile") / "dir<u>$y$", [r])
    out = d.parent / "hostile.html"
    assert main(["report", str(d), "--html", str(out)]) == 0
    return d, out


# ---------------------------------------------------------------- the browser

def _chromium() -> Path:
    if not CHROMIUM.exists():
        why = f"{CHROMIUM} is not installed (apt-get install chromium)"
        if os.environ.get("CI"):
            pytest.fail(why)
        pytest.skip(why)
    return CHROMIUM


def test_a_missing_chromium_fails_in_ci_and_skips_elsewhere(monkeypatch, tmp_path):
    monkeypatch.setattr(sys.modules[__name__], "CHROMIUM", tmp_path / "no-chromium")
    monkeypatch.setenv("CI", "true")
    with pytest.raises(pytest.fail.Exception):
        _chromium()
    monkeypatch.delenv("CI")
    with pytest.raises(pytest.skip.Exception):
        _chromium()


def _browse(page: Path, tmp: Path, *args) -> subprocess.CompletedProcess:
    done = subprocess.run([str(_chromium()), *FLAGS, f"--user-data-dir={tmp / 'profile'}", *args, page.as_uri()],
                          capture_output=True, timeout=300)
    assert done.returncode == 0, done.stderr.decode(errors="replace")[-2000:]
    return done


def _dom(page: Path, tmp: Path) -> str:
    return _browse(page, tmp, "--dump-dom").stdout.decode()


class Elements(HTMLParser):
    """Every element of a document: (tag, attributes), and (class, text) of each <pre>."""

    def __init__(self, text):
        super().__init__()
        self.elements, self.pre, self._in_pre = [], [], False
        self.feed(text)

    def handle_starttag(self, tag, attrs):
        self.elements.append((tag, dict(attrs)))
        if tag == "pre":
            self._in_pre = True
            self.pre.append((dict(attrs).get("class"), ""))

    def handle_endtag(self, tag):
        if tag == "pre":
            self._in_pre = False

    def handle_data(self, data):
        if self._in_pre:
            cls, text = self.pre[-1]
            self.pre[-1] = cls, text + data

    def find(self, tag, **attrs):
        return [a for t, a in self.elements if t == tag and all(a.get(k) == v for k, v in attrs.items())]

    def classed(self, tag, cls):
        return [a for t, a in self.elements if t == tag and cls in (a.get("class") or "").split()]


def _png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n", "not a PNG"
    length, kind = struct.unpack(">I4s", data[8:16])
    assert kind == b"IHDR" and length == 13
    return struct.unpack(">II", data[16:24])


def test_screenshot_in_chromium_is_a_real_page(page, tmp_path):
    _check_screenshot(page, tmp_path)


def test_dom_in_chromium_holds_the_plots_and_tables(page, tmp_path):
    _check_dom(page, tmp_path)


def test_page_of_a_realistic_corpus_says_how_it_was_made_at_its_top_and_is_short(realistic, tmp_path):
    corpus, out = realistic
    _check_layout(out, tmp_path)
    dom = _check_dom(out, tmp_path)
    command = next(text for cls, text in dom.pre if cls == "command")
    assert command == visible(command_line(read_manifest(corpus), "DIR")[0])


@pytest.mark.slow
def test_the_report_of_2000_programs_renders_in_chromium(tmp_path):
    corpus, out = tmp_path / "c", tmp_path / "report.html"
    assert main(["sample", "-n", "2000", "--seed", "0", "--workers", "2", "--out", str(corpus)]) == 0
    assert main(["report", str(corpus), "--html", str(out)]) == 0
    _check_screenshot(out, tmp_path)
    _check_layout(out, tmp_path)
    _check_dom(out, tmp_path)


def _pixels(shot: Path) -> np.ndarray:
    return (matplotlib.image.imread(shot)[:, :, :3] * 255).round().astype(np.uint8)


def _check_layout(page, tmp_path):
    """In a window taller than LIMIT: the page ends (its last row not the
    white background) above LIMIT, and the box saying how the corpus was
    made is at its top."""
    shot = tmp_path / "tall.png"
    _browse(page, tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{LIMIT + 1000}", "--hide-scrollbars")
    pixels = _pixels(shot)
    drawn = np.flatnonzero((pixels != 255).any(axis=(1, 2)))
    assert drawn.max() + 1 < LIMIT, f"the page is {drawn.max() + 1} px tall"
    box = np.flatnonzero(np.all(pixels == PROVENANCE, axis=2).any(axis=1))
    assert box.size and box.min() < 200 and box.max() < 700, "how the corpus was made is not at the top"


def _check_screenshot(page, tmp_path):
    shot = tmp_path / "page.png"
    _browse(page, tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    data = shot.read_bytes()
    assert _png_size(data) == (WIDTH, HEIGHT)
    pixels = _pixels(shot)
    assert pixels.shape == (HEIGHT, WIDTH, 3)
    colours = np.unique(pixels.reshape(-1, 3).astype(np.int32) @ np.array([1 << 16, 1 << 8, 1]))
    assert len(colours) > 200, f"only {len(colours)} colours: a blank or unstyled page"
    assert (pixels.min(axis=2) < 128).mean() > 0.02, "hardly any dark pixel: no text or plots"
    covered = np.all(pixels == (0x00, 0x72, 0xB2), axis=2).sum()     # the bars of covered ops
    assert covered > 2000, "the op histogram's bars are not drawn"


def _check_dom(page, tmp_path):
    dom = Elements(_dom(page, tmp_path))
    for ident in PLOTS:
        (svg,) = dom.find("svg", id=ident)
        assert svg.get("class") == "plot"
    assert not dom.find("script") and not dom.find("img") and not dom.find("link") and not dom.find("iframe")
    rows = dom.classed("tr", "op")
    assert sorted(r["data-op"] for r in rows) == sorted(universe())
    examples = dom.classed("details", "example")
    assert examples and len(examples) == len({r["data-op"] for r in examples})
    assert not any("open" in e for e in examples), "an example is not collapsed"
    assert len(dom.find("pre", **{"class": "python"})) == len(examples)
    assert len(dom.find("summary")) >= len(examples)
    # how the corpus was made comes first: after the title, before any other section
    tags = [(t, a) for t, a in dom.elements if t in ("h1", "h2", "section", "nav", "figure", "table")]
    assert tags[0][0] == "h1" and tags[1] == ("section", {"class": "provenance", "id": "provenance"})
    assert len(dom.find("table", **{"class": "summary quality"})) == 1
    return dom


def test_compared_page_in_chromium(compared, corpora, tmp_path):
    dom = Elements(_dom(compared, tmp_path))
    for ident in ("plot-ops", "plot-growth", "plot-shape", "plot-heatmap", "plot-heatmap-b"):
        assert len(dom.find("svg", id=ident)) == 1, ident
    ops = {o["op"] for d in corpora for r in read_records(d) for o in r["ops"]} & universe()
    assert {r["data-op"] for r in dom.classed("tr", "cmp")} == ops
    assert len(dom.find("table", **{"class": "distances"})) == 1


def test_corpus_text_renders_as_text(hostile, tmp_path):
    d, out = hostile
    text = out.read_text()
    assert "<script" not in text and "<marquee" not in text and "<dfn" not in text and "<u>" not in text
    dom = Elements(_dom(out, tmp_path))
    assert not dom.find("script") and not dom.find("marquee") and not dom.find("dfn") and not dom.find("u")
    assert any(HOSTILE in text for cls, text in dom.pre if cls == "python"), "the Python's markup is not text"
    assert any(HOSTILE in text for cls, text in dom.pre if cls != "python"), "the StableHLO's markup is not text"
    assert dom.find("svg", id="plot-heatmap")
    assert "x" * (MAX_WIDTH + 1) not in text and "4,602 more characters" in text    # "# " + 5000 x


def test_same_corpus_same_bytes_over_a_previous_report(corpora, page, tmp_path):
    """In another process, under another hash seed, over the page a previous
    run wrote: the same page, byte for byte."""
    again = tmp_path / "again.html"
    again.write_bytes(page.read_bytes()[:1000])     # a report this command wrote, cut short
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-m", "jaxsynth", "report", str(corpora[0]),
                           "--html", str(again)], capture_output=True, env=env, timeout=600)
    assert done.returncode == 0, done.stderr.decode()
    assert again.read_bytes() == page.read_bytes()


def test_page_is_self_contained(page, compared):
    for p in (page, compared):
        text = p.read_text()
        assert "<script" not in text and "<link" not in text and "<img" not in text and "@import" not in text
        # references only within the page, or to data it holds (a heatmap's pixels)
        assert not re.search(r"""(?:src|href)\s*=\s*["'](?!#|data:image/png;base64,)""", text), "a reference out"
        assert not re.search(r"url\((?!#)", text)
        assert "default-src 'none'" in text      # the browser would load nothing even if told to
        # only the SVG namespaces name a URL; nothing is fetched from them
        assert set(re.findall(r"https?://[^\s\"'<>]+", text)) <= {"http://www.w3.org/2000/svg",
                                                                 "http://www.w3.org/1999/xlink"}


def test_ids_are_unique(compared):
    ids = re.findall(r'\sid="([^"]+)"', compared.read_text())
    assert len(ids) == len(set(ids))


def test_op_lines_are_the_lines_holding_the_op(corpora):
    for r in read_records(corpora[0]):
        located = op_lines(r["stablehlo"])
        lines = r["stablehlo"].split("\n")
        assert set(located) == {o["op"] for o in r["ops"]} | {"builtin.module"}
        for op, numbers in located.items():
            word = {"func.return": "return", "func.call": "call", "builtin.module": "module"}.get(op, op)
            for n in numbers:       # or the line of a compact region (`applies stablehlo.add`): its body's ops
                assert word in lines[n - 1] or " applies " in lines[n - 1], (op, lines[n - 1])


def test_op_lines_of_a_text_mlir_cannot_parse():
    assert op_lines("module { this is not MLIR") is None


def _shown(page: Path) -> dict[str, dict]:
    """op -> the attributes of its example's <details>."""
    return {e["data-op"]: e for e in Elements(page.read_text()).classed("details", "example")}


def _smallest(records, made) -> str:
    """The id of the smallest record for which `made(record)`: fewest operations, then the shortest Python,
    then the first read."""
    return min((r for r in records if made(r)), key=lambda r: (r["size"], len(r["python"])))["id"]


def test_example_is_the_smallest_where_the_op_comes_from_the_alternative_shown(corpora, page):
    records = list(read_records(corpora[0]))
    shown = _shown(page)
    assert set(shown) == {o["op"] for r in records for o in r["ops"]} & universe()
    for op, e in shown.items():
        alt = e["data-alternative"]
        assert e["data-id"] == _smallest(records, lambda r: any(
            a["op"] == op and a["alternative"] == alt for a in r["attribution"])), op


def _record(n: int, stablehlo: str, alternatives: list[str], made: list[tuple[str, str, int]]) -> dict:
    """A record of `size` n whose alternatives made these (alternative, op, count)."""
    ops: dict = {}
    for _, op, count in made:
        ops[op] = ops.get(op, 0) + count
    return {"id": f"r{n}", "python": f"def f(x):\n    return x  # {n}\n", "inputs": ["f32[2]"], "outputs": ["f32[2]"],
            "stablehlo": stablehlo, "ops": [{"op": op, "count": c} for op, c in ops.items()],
            "attribution": [{"alternative": a, "op": op, "count": c} for a, op, c in made],
            "alternatives": alternatives, "size": n, "depth": 1, "hash": f"{n:032x}"}


def test_example_comes_from_the_alternative_that_typically_makes_the_op(corpora, tmp_path):
    """`big` (a special function, say) makes the most loops, in the smallest
    program; but the op its uses make most is multiply, while every use of
    `loop` makes a loop: the loop's example is `loop`'s smallest, not the
    smallest program holding a loop."""
    text = next(read_records(corpora[0]))["stablehlo"]
    while_, mul = "stablehlo.while", "stablehlo.multiply"
    d = _write(tmp_path / "typical", [
        _record(1, text, ["big"] * 3, [("big", mul, 3), ("big", while_, 3)]),
        _record(2, text, ["loop"], [("loop", while_, 1)]),
        _record(3, text, ["loop", "mul"], [("loop", while_, 1), ("mul", mul, 1)]),
    ])
    out = tmp_path / "typical.html"
    assert main(["report", str(d), "--html", str(out)]) == 0
    shown = _shown(out)
    assert (shown[while_]["data-id"], shown[while_]["data-alternative"]) == ("r2", "loop")
    assert (shown[mul]["data-id"], shown[mul]["data-alternative"]) == ("r1", "big")


def test_heatmap_groups_ops_by_family_and_leaves_bookkeeping_out(realistic):
    corpus, page = realistic
    s = report.scan(corpus, lambda m: load_grammar())
    g = attributed(s, s.report())
    alts, ops, rows = heat(g.matrix, g.family)
    made = {a["op"] for r in read_records(corpus) for a in r["attribution"]}
    assert set(ops) == made & universe() and made - universe(), "func.* and sdy.* are not left out"
    families = [g.family[op] for op in ops]
    assert families == sorted(families), "the ops of a family are not together"
    assert g.family["stablehlo.while"].section == "control flow"      # while_loop's section, though igamma loops too
    assert g.typical["stablehlo.while"] in {"while_loop", "fori_loop", "fori_pair"}
    bookkeeping = {r["data-op"] for r in Elements(page.read_text()).classed("tr", "bookkeeping")}
    assert bookkeeping == made - universe()


def test_sections_are_the_comments_heading_the_alternatives():
    text = "\n".join([
        "// the header of the file",
        "start: x",
        "?infix: term \"+\" term -> add  //@ binary(numeric)",
        "      | term \"-\" term -> sub  //@ binary(numeric)",
        "?term: NAME",
        "     // linear algebra (on cpu: LAPACK)",
        "     | \"inv\" -> inv  //@ square_matrix",
        "     // collectives: over a mesh",
        "     // (a second line)",
        "     | \"psum\" -> psum  //@ collective(numeric)",
        "     | \"pmax\" -> pmax  //@ collective(numeric)",
    ])
    alts = [types.SimpleNamespace(name=n, line=k, origin=o)
            for n, k, o in (("add", 3, "infix"), ("sub", 4, "infix"), ("inv", 7, "term"), ("psum", 10, "term"),
                            ("pmax", 11, "term"))]
    assert sections(types.SimpleNamespace(text=text, alts=alts)) == {
        "add": "infix", "sub": "infix", "inv": "linear algebra", "psum": "collectives", "pmax": "collectives"}


def test_heatmap_labels_are_whole_and_apart(realistic):
    """Every name the heatmap draws lies inside the figure, and no two family names overlap."""
    corpus, _ = realistic
    s = report.scan(corpus, lambda m: load_grammar())
    g = attributed(s, s.report())
    fig = plot_heatmap(g.matrix, g.family)
    renderer = FigureCanvasAgg(fig).get_renderer()
    fig.draw(renderer)
    box = fig.bbox
    drawn = [ax.get_tightbbox(renderer) for ax in fig.axes]        # each axes with the tick labels it draws
    drawn += [t.get_window_extent(renderer) for t in fig.texts]
    for e in drawn:
        assert box.x0 - 0.5 <= e.x0 and e.x1 <= box.x1 + 0.5 and box.y0 - 0.5 <= e.y0 and e.y1 <= box.y1 + 0.5, e
    bands = [t.get_window_extent(renderer) for t in fig.texts]      # the family names
    assert all(not a.overlaps(b) for k, a in enumerate(bands) for b in bands[k + 1:])
    labels = {t.get_text() for t in fig.axes[0].get_xticklabels()}
    assert labels == {op.split(".", 1)[1] for op in heat(g.matrix, g.family)[1]}


def test_quality_and_unused_alternatives_are_those_coverage_prints(corpora, page, capsys):
    assert main(["coverage", str(corpora[0]), "--json"]) == 0
    printed = json.loads(capsys.readouterr().out)
    dom = Elements(page.read_text())
    text = page.read_text()
    table = text[text.index('<table class="summary quality">'):]
    table = table[:table.index("</table>")]
    cells = re.findall(r"<td[^>]*>(.*?)</td>", table)
    lines = [line.strip() for line in format_quality(printed["quality"]).split("\n")[1:]]
    assert [" ".join(cells[k:k + 2]) for k in range(0, len(cells), 2)] == [re.sub(r"  +", " ", x) for x in lines]
    unused = text[text.index('<p class="unused">'):]
    assert re.findall(r"<code>([^<]*)</code>", unused[:unused.index("</p>")]) == printed["alternatives_never_used"]
    assert dom.find("section", **{"class": "provenance", "id": "provenance"})


def test_corpus_without_attribution_says_so(corpora, tmp_path, capsys):
    records = [{k: v for k, v in r.items() if k != "attribution"} for r in read_records(corpora[0])]
    d = _write(tmp_path / "old", records)
    out = tmp_path / "old.html"
    assert main(["report", str(d), "--html", str(out)]) == 0
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "records carry no 'attribution'" in err
    text = out.read_text()
    assert "carry no <code>attribution</code>" in text and 'id="plot-heatmap"' not in text
    assert 'id="plot-ops"' in text and 'id="plot-growth"' in text
    for op, e in _shown(out).items():      # without attribution: the smallest program containing the op
        assert "data-alternative" not in e
        assert e["data-id"] == _smallest(records, lambda r: any(o["op"] == op for o in r["ops"])), op


def test_missing_matplotlib_is_one_line(corpora, tmp_path, capsys, monkeypatch):
    import jaxsynth.corpus.publish
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # as if not installed: importing it fails
    monkeypatch.delitem(sys.modules, "jaxsynth.corpus.publish.report")
    monkeypatch.delattr(jaxsynth.corpus.publish, "report")
    msg = fails(capsys, ["report", corpora[0], "--html", tmp_path / "x.html"])
    from jaxsynth.corpus.run.install import install_hint
    assert msg == f"jaxsynth: error: report: matplotlib is not installed: {install_hint('report')}", msg
    assert not (tmp_path / "x.html").exists()


def test_bad_input_is_one_line_and_writes_nothing(corpora, tmp_path, capsys):
    mine = tmp_path / "notes.html"
    mine.write_text("my own notes")
    msg = fails(capsys, ["report", corpora[0], "--html", mine])
    assert "not overwritten" in msg and mine.read_text() == "my own notes"
    assert "is a directory" in fails(capsys, ["report", corpora[0], "--html", tmp_path])
    assert "no directory" in fails(capsys, ["report", corpora[0], "--html", tmp_path / "nowhere" / "x.html"])
    out = tmp_path / "x.html"
    fails(capsys, ["report", tmp_path / "missing", "--html", out])
    fails(capsys, ["report", corpora[0], "--compare", tmp_path / "missing", "--html", out])
    assert not out.exists()
    fails(capsys, ["report", corpora[0]])       # --html is required


@pytest.mark.parametrize("rarest", [1, 3, 10, 100])
def test_every_covered_op_has_a_visible_bar(rarest):
    """However rare (one program in 1,000 is exactly 0.1%, a decade), its bar starts left of its end."""
    r = {"programs": 1000, "ops": [{"op": "stablehlo.add", "count": 9, "programs": 1000},
                                   {"op": "stablehlo.sine", "count": 1, "programs": rarest}],
         "never_hit_reachable": {}, "not_emitted": {}}
    fig = plot_ops([r], ["x"])
    bars = [p for ax in fig.axes for p in ax.patches if p.get_width() > 0]
    assert sorted(round(p.get_x() + p.get_width(), 6) for p in bars) == sorted([100.0, rarest / 10])
    left = fig.axes[0].get_xlim()[0]
    assert all(p.get_x() == left < p.get_x() + p.get_width() for p in bars)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=24), min_size=1, max_size=3, unique=True))
def test_any_name_draws_as_text(names):
    """Alternative, op and family names from a corpus and its grammar,
    whatever they hold (`$` starts mathtext, `<` and `&` are markup), draw
    into well-formed SVG."""
    matrix = {n: {"uses": 2, "ops": {f"stablehlo.{n}": {"count": 1, "uses": 1, "share": 0.5}}} for n in names}
    matrix[PROGRAM] = {"uses": 1, "ops": {"func.func": {"count": 1, "uses": 1, "share": 1.0}}}
    family = {f"stablehlo.{n}": Family((0, k), n, n) for k, n in enumerate(names)}
    svg = style.svg(plot_heatmap(matrix, family), "plot-x", "<title & such>")
    root = ET.fromstring(svg)
    assert root.get("id") == "plot-x"
    assert "<script" not in svg


def test_a_text_nested_too_deep_for_mlir_is_not_parsed(corpora, tmp_path):
    """MLIR's parser recurses: a record nested 10^5 deep would crash the process."""
    r = next(read_records(corpora[0]))
    r["stablehlo"] = "#deep = " + "[" * 100_000 + "]" * 100_000 + "\n" + r["stablehlo"]
    d = _write(tmp_path / "deep", [r])
    done = subprocess.run([sys.executable, "-m", "jaxsynth", "report", str(d), "--html",
                           str(tmp_path / "deep.html")], capture_output=True, timeout=600)
    assert done.returncode == 0, done.stderr.decode()[-2000:]
    assert (tmp_path / "deep.html").exists()


def test_a_lone_surrogate_is_one_line(corpora, tmp_path, capsys):
    r = next(read_records(corpora[0]))
    d = tmp_path / "sur"
    d.mkdir()
    line = json.dumps(r).replace('"stablehlo": "module', '"stablehlo": "\\ud800module', 1)
    (d / "records-00000.jsonl").write_text(line + "\n")
    for command in (["coverage", d], ["report", d, "--html", tmp_path / "s.html"]):
        assert "lone surrogate" in fails(capsys, command)


def test_a_file_that_only_mentions_the_report_is_not_overwritten(corpora, tmp_path, capsys):
    notes = tmp_path / "notes.md"
    notes.write_text("# Notes on the jaxsynth report of last week\n")
    assert "not overwritten" in fails(capsys, ["report", corpora[0], "--html", notes])
    assert notes.read_text().startswith("# Notes")
