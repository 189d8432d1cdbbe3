"""`jaxsynth report`: one self-contained HTML page, checked as a browser shows it.

The page is rendered in a real headless Chromium (Debian's /usr/bin/chromium)
with networking features off: the screenshot must be a real, non-blank PNG of
the window's size, and the DOM Chromium builds must hold the plots (inline
<svg> elements with their ids) and the tables, and show a corpus's markup as
text. In CI, a missing Chromium fails these tests; elsewhere they are skipped
with the reason. The rest: the same bytes from another process, nothing the
page would load, the example chosen for each op and the lines shown of it,
corpora without attribution, and bad input.
"""
import json
import os
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

from jaxsynth.corpus import report
from jaxsynth.corpus.cli import main
from jaxsynth.corpus.records import PROGRAM
from jaxsynth.corpus.schema import read_records
from jaxsynth.lowering import universe
from test_errors import fails

CHROMIUM = Path("/usr/bin/chromium")
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]
WIDTH, HEIGHT = 1280, 4000
PLOTS = ("plot-ops", "plot-growth", "plot-shape", "plot-heatmap")
HOSTILE = "</pre><script>alert(1)</script>"


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


@pytest.mark.slow
def test_the_report_of_2000_programs_renders_in_chromium(tmp_path):
    corpus, out = tmp_path / "c", tmp_path / "report.html"
    assert main(["sample", "-n", "2000", "--seed", "0", "--workers", "2", "--out", str(corpus)]) == 0
    assert main(["report", str(corpus), "--html", str(out)]) == 0
    _check_screenshot(out, tmp_path)
    _check_dom(out, tmp_path)


def _check_screenshot(page, tmp_path):
    shot = tmp_path / "page.png"
    _browse(page, tmp_path, f"--screenshot={shot}", f"--window-size={WIDTH},{HEIGHT}")
    data = shot.read_bytes()
    assert _png_size(data) == (WIDTH, HEIGHT)
    pixels = (matplotlib.image.imread(shot)[:, :, :3] * 255).round().astype(np.uint8)
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
    assert len(dom.find("pre", **{"class": "python"})) == len(examples)


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
    assert "x" * (report.MAX_WIDTH + 1) not in text and "4,602 more characters" in text    # "# " + 5000 x


def test_same_corpus_same_bytes_over_a_previous_report(corpora, page, tmp_path):
    """In another process, under another hash seed, over the page a previous
    run wrote: the same page, byte for byte."""
    again = tmp_path / "again.html"
    again.write_bytes(page.read_bytes()[:1000])     # a report this command wrote, cut short
    env = {**os.environ, "PYTHONHASHSEED": "12345"}
    done = subprocess.run([sys.executable, "-m", "jaxsynth.corpus.cli", "report", str(corpora[0]),
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
        located = report.op_lines(r["stablehlo"])
        lines = r["stablehlo"].split("\n")
        assert set(located) == {o["op"] for o in r["ops"]} | {"builtin.module"}
        for op, numbers in located.items():
            word = {"func.return": "return", "func.call": "call", "builtin.module": "module"}.get(op, op)
            for n in numbers:       # or the line of a compact region (`applies stablehlo.add`): its body's ops
                assert word in lines[n - 1] or " applies " in lines[n - 1], (op, lines[n - 1])


def test_op_lines_of_a_text_mlir_cannot_parse():
    assert report.op_lines("module { this is not MLIR") is None


def test_example_is_the_smallest_program(corpora, page):
    """Fewest operations, then the shortest Python, then the first read."""
    shown = dict(re.findall(r'<details class="example" open id="ex-[^"]*" data-op="([^"]+)">'
                            r'<summary><span class="mono">[^<]*</span><span class="meta">([^ <]+)', page.read_text()))
    records = list(read_records(corpora[0]))
    covered = {o["op"] for r in records for o in r["ops"]} & universe()
    assert set(shown) == covered
    for op in covered:
        best = min((r for r in records if any(o["op"] == op for o in r["ops"])),
                   key=lambda r: (r["size"], len(r["python"])))
        assert shown[op] == best["id"], op


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


def test_missing_matplotlib_is_one_line(corpora, tmp_path, capsys, monkeypatch):
    import jaxsynth.corpus
    monkeypatch.setitem(sys.modules, "matplotlib", None)      # as if not installed: importing it fails
    monkeypatch.delitem(sys.modules, "jaxsynth.corpus.report")
    monkeypatch.delattr(jaxsynth.corpus, "report")
    msg = fails(capsys, ["report", corpora[0], "--html", tmp_path / "x.html"])
    assert 'pip install "jaxsynth[report]"' in msg
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
    fig = report.plot_ops([r], ["x"])
    bars = [p for ax in fig.axes for p in ax.patches if p.get_width() > 0]
    assert sorted(round(p.get_x() + p.get_width(), 6) for p in bars) == sorted([100.0, rarest / 10])
    left = fig.axes[0].get_xlim()[0]
    assert all(p.get_x() == left < p.get_x() + p.get_width() for p in bars)


@settings(max_examples=15, deadline=None)
@given(st.lists(st.text(min_size=1, max_size=24), min_size=1, max_size=3, unique=True))
def test_any_name_draws_as_text(names):
    """Alternative and op names from a corpus, whatever they hold (`$` starts
    mathtext, `<` and `&` are markup), draw into well-formed SVG."""
    matrix = {n: {"uses": 2, "ops": {f"stablehlo.{n}": {"count": 1, "uses": 1, "share": 0.5}}} for n in names}
    matrix[PROGRAM] = {"uses": 1, "ops": {"func.func": {"count": 1, "uses": 1, "share": 1.0}}}
    svg = report._svg(report.plot_heatmap(matrix), "plot-x", "<title & such>")
    root = ET.fromstring(svg)
    assert root.get("id") == "plot-x"
    assert "<script" not in svg


def test_a_text_nested_too_deep_for_mlir_is_not_parsed(corpora, tmp_path):
    """MLIR's parser recurses: a record nested 10^5 deep would crash the process."""
    r = next(read_records(corpora[0]))
    r["stablehlo"] = "#deep = " + "[" * 100_000 + "]" * 100_000 + "\n" + r["stablehlo"]
    d = _write(tmp_path / "deep", [r])
    done = subprocess.run([sys.executable, "-m", "jaxsynth.corpus.cli", "report", str(d), "--html",
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
