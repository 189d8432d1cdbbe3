"""Corpus analysis: two corpora compared, diversity beyond the op set, the
alternative -> op matrix, CSV. Each number is checked against a recount
written here the plain way (pairs by itertools, dataflow bigrams by a textual
SSA parse of the StableHLO, distances by numpy and scipy), the distances
against known values and their properties."""
import csv
import io
import itertools
import json
import math
import re
from collections import Counter

import jax
import jax.numpy as jnp
import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from jax import lax
from scipy.spatial.distance import jensenshannon
from scipy.stats import entropy as scipy_entropy

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.analysis.coverage import compare, entropy, js, shares, tv
from jaxsynth.corpus.analysis.diversity import MAX_NESTING, Diversity, nesting
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.lowering import lower, universe
from test_errors import fails

U = universe()


@pytest.fixture(scope="module")
def corpora(tmp_path_factory):
    """Two small corpora: default weights, and sort weighted up."""
    root = tmp_path_factory.mktemp("analysis")
    a, b = root / "a", root / "b"
    assert main(["sample", "-n", "60", "--seed", "7", "--workers", "1", "--shard-size", "30", "--out", str(a)]) == 0
    assert main(["sample", "-n", "40", "--seed", "8", "--weight", "sort=20", "--workers", "1", "--out", str(b)]) == 0
    return a, b


def run(capsys, *argv):
    """stdout of a command that succeeds."""
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert code == 0, err
    return out


def recount(records):
    """(programs, occurrences, programs containing) of each stablehlo/chlo op."""
    occurrences, programs = Counter(), Counter()
    for r in records:
        for o in r["ops"]:
            if o["op"] in U:
                occurrences[o["op"]] += o["count"]
                programs[o["op"]] += 1
    return len(records), occurrences, programs


# ---------------------------------------------------------------- distances

def test_distances_of_known_distributions():
    p, q = {"a": 0.5, "b": 0.5}, {"a": 1.0}
    assert tv(p, p) == js(p, p) == 0
    assert tv({"a": 1.0}, {"b": 1.0}) == 1 and js({"a": 0.25, "b": 0.75}, {"c": 0.5, "d": 0.5}) == pytest.approx(1)
    assert tv(p, q) == 0.5
    # m = (3/4, 1/4): KL(p || m) = 1/2 log2(2/3) + 1/2, KL(q || m) = log2(4/3)
    assert js(p, q) == pytest.approx(math.sqrt((0.5 * math.log2(2 / 3) + 0.5 + math.log2(4 / 3)) / 2))
    assert entropy({k: 0.25 for k in "abcd"}) == 2 and entropy(q) == 0
    with pytest.raises(ValueError):
        shares({"programs": 1, "ops": []}, "records")


def _normalised(d):
    total = sum(d.values())
    return {k: v / total for k, v in d.items()}


DIST = st.dictionaries(st.sampled_from("abcdefgh"), st.integers(1, 1000), min_size=1).map(_normalised)


@given(DIST, DIST)
def test_tv_and_js_are_symmetric_bounded_and_zero_on_equal(p, q):
    assert tv(p, q) == tv(q, p) and 0 <= tv(p, q) <= 1
    assert js(p, q) == js(q, p) and 0 <= js(p, q) <= 1
    assert tv(p, p) == js(p, p) == 0
    if not p.keys() & q.keys():
        assert tv(p, q) == pytest.approx(1) and js(p, q) == pytest.approx(1)
    keys = sorted(p.keys() | q.keys())
    assert js(p, q) == pytest.approx(jensenshannon([p.get(k, 0) for k in keys], [q.get(k, 0) for k in keys], base=2),
                                     abs=1e-9)


@given(DIST, DIST, DIST)
def test_js_distance_is_a_metric(p, q, r):
    assert js(p, r) <= js(p, q) + js(q, r) + 1e-12


OP_TABLE = st.dictionaries(st.sampled_from(sorted(U)[:12]), st.tuples(st.integers(1, 40), st.integers(1, 40)),
                           min_size=1)


def _report(table, extra=0):
    """A coverage report of programs whose ops are `table` {op: (count, programs)}."""
    return {"programs": max(p for _, p in table.values()) + extra,
            "ops": [{"op": op, "count": max(c, p), "programs": p} for op, (c, p) in table.items()]}


@given(OP_TABLE, st.integers(0, 30))
def test_a_corpus_compared_with_itself_differs_in_nothing(table, extra):
    c = compare(_report(table, extra), _report(table, extra))
    assert all(r[k] == 0 for r in c["ops"] for k in r if k.endswith("_delta"))
    assert c["gained"] == c["lost"] == [] and c["a"] == c["b"]
    assert all(d == {"tv": 0, "js": 0} for d in c["distance"].values())


@given(OP_TABLE, OP_TABLE)
def test_comparison_is_antisymmetric(ta, tb):
    ab, ba = compare(_report(ta), _report(tb)), compare(_report(tb), _report(ta))
    assert ab["gained"] == ba["lost"] and ab["lost"] == ba["gained"] and ab["distance"] == ba["distance"]
    rows = {r["op"]: r for r in ba["ops"]}
    for r in ab["ops"]:
        assert r["programs_share_delta"] == -rows[r["op"]]["programs_share_delta"]
        assert r["occurrences_share_a"] == rows[r["op"]]["occurrences_share_b"]
    for measure in ("programs", "occurrences"):
        assert sum(shares(_report(ta), measure).values()) == pytest.approx(1)


# ---------------------------------------------------------------- compare, through the command line

def test_compare_agrees_with_a_recount(corpora, capsys):
    a, b = corpora
    out = run(capsys, "coverage", a, "--compare", b, "--json")
    assert run(capsys, "coverage", a, "--compare", b, "--json") == out, "deterministic"
    c = json.loads(out)
    (na, occ_a, pa), (nb, occ_b, pb) = recount(list(read_records(a))), recount(list(read_records(b)))
    ops = sorted(occ_a.keys() | occ_b.keys())
    rows = {r["op"]: r for r in c["ops"]}
    assert sorted(rows) == ops and len(c["ops"]) == len(ops)
    for op in ops:
        r = rows[op]
        assert (r["count_a"], r["count_b"], r["programs_a"], r["programs_b"]) == (occ_a[op], occ_b[op], pa[op], pb[op])
        expected = {"programs_share_a": pa[op] / na, "programs_share_b": pb[op] / nb,
                    "occurrences_share_a": occ_a[op] / sum(occ_a.values()),
                    "occurrences_share_b": occ_b[op] / sum(occ_b.values())}
        expected["programs_share_delta"] = expected["programs_share_b"] - expected["programs_share_a"]
        expected["occurrences_share_delta"] = expected["occurrences_share_b"] - expected["occurrences_share_a"]
        for key, value in expected.items():
            assert r[key] == pytest.approx(value, abs=2e-6), (op, key)
    assert rows["stablehlo.sort"]["programs_share_delta"] > 0.2, "sort was weighted up in b"
    assert c["gained"] == sorted(occ_b.keys() - occ_a.keys()) and c["lost"] == sorted(occ_a.keys() - occ_b.keys())
    assert c["gained"] or c["lost"]
    for measure, (ca, cb) in {"programs": (pa, pb), "occurrences": (occ_a, occ_b)}.items():
        p, q = (np.array([x[op] for op in ops], float) for x in (ca, cb))
        p, q = p / p.sum(), q / q.sum()
        assert c["distance"][measure]["tv"] == pytest.approx(np.abs(p - q).sum() / 2, abs=1e-6)
        assert c["distance"][measure]["js"] == pytest.approx(jensenshannon(p, q, base=2), abs=1e-6)
        assert c["a"]["entropy"][measure] == pytest.approx(scipy_entropy(p, base=2), abs=1e-6)
        assert c["b"]["entropy"][measure] == pytest.approx(scipy_entropy(q, base=2), abs=1e-6)
    assert (c["a"]["programs"], c["b"]["programs"]) == (na, nb)


def _table_line(text, op):
    return re.search(rf"^{re.escape(op)} +(.*)$", text, re.M).group(1).split()


def test_compare_text_and_csv_say_the_same(corpora, capsys):
    a, b = corpora
    text = run(capsys, "coverage", a, "--compare", b)
    rows = list(csv.DictReader(io.StringIO(run(capsys, "coverage", a, "--compare", b, "--csv"))))
    c = json.loads(run(capsys, "coverage", a, "--compare", b, "--json"))
    assert [r["op"] for r in rows] == [r["op"] for r in c["ops"]]
    assert list(rows[0]) == ["op", "count_a", "count_b", "programs_a", "programs_b", "programs_share_a",
                             "programs_share_b", "programs_share_delta", "occurrences_share_a",
                             "occurrences_share_b", "occurrences_share_delta"]
    for row in rows:
        pct = {k: 100 * float(v) for k, v in row.items() if "share" in k}
        assert _table_line(text, row["op"]) == [
            f"{pct['programs_share_a']:.1f}", f"{pct['programs_share_b']:.1f}", f"{pct['programs_share_delta']:+.1f}",
            f"{pct['occurrences_share_a']:.2f}", f"{pct['occurrences_share_b']:.2f}",
            f"{pct['occurrences_share_delta']:+.2f}"]
    d = c["distance"]
    assert re.search(rf"total variation +{d['programs']['tv']:.4f} +{d['occurrences']['tv']:.4f}$", text, re.M)
    assert re.search(rf"Jensen-Shannon distance +{d['programs']['js']:.4f} +{d['occurrences']['js']:.4f}$", text, re.M)
    assert "square root of the Jensen-Shannon divergence in base 2" in " ".join(text.split())
    gained, lost = text.split("\ngained, in B not in A ")[1].split("\nlost, in A not in B ")
    assert gained.startswith(f"({len(c['gained'])}): ") and lost.startswith(f"({len(c['lost'])}): ")
    assert gained.split()[1:] == (c["gained"] or ["-"]) and lost.split("\n\n")[0].split()[1:] == (c["lost"] or ["-"])


def test_coverage_csv_parses_back_to_the_text(corpora, capsys):
    a, _ = corpora
    text = run(capsys, "coverage", a)
    out = run(capsys, "coverage", a, "--csv")
    assert out.splitlines()[0] == "op,count,programs,share_programs" and "\r" not in out
    rows = list(csv.DictReader(io.StringIO(out)))
    n, occurrences, programs = recount(list(read_records(a)))
    assert {r["op"]: (int(r["count"]), int(r["programs"])) for r in rows} == \
        {op: (occurrences[op], programs[op]) for op in occurrences}
    for r in rows:
        assert float(r["share_programs"]) == int(r["programs"]) / n
        assert _table_line(text, r["op"]) == [r["count"], r["programs"], f"{100 * float(r['share_programs']):.1f}%"]


def test_bad_compare_path_is_one_line(corpora, capsys, tmp_path):
    a, _ = corpora
    assert main(["coverage", str(a), "--compare", str(tmp_path / "missing")]) == 2
    out, err = capsys.readouterr()
    assert out == "" and err == f"jaxsynth: error: {tmp_path / 'missing'}: not a corpus directory or a regular file\n"
    assert "--by-alt" in fails(capsys, ["coverage", a, "--compare", a, "--by-alt"])
    assert "--json" in fails(capsys, ["coverage", a, "--json", "--csv"])


# ---------------------------------------------------------------- diversity

DEF = re.compile(r"\s*((?:%[\w$.-]+(?::\d+)?\s*,\s*)*%[\w$.-]+(?::\d+)?)\s*=\s*\"?([\w.]+)")    # %a, %b:2 = op
BARE = re.compile(r"\s*\"?([\w.]+)")          # an op without results: stablehlo.return %x
NAME = re.compile(r"%([\w$.-]+)")             # %x, %x#1 (the #1 is left out)
APPLIES = re.compile(r"\bapplies ([\w.]+)")   # a reduce whose body the printer hides: op(block args), return


def textual_bigrams(text):
    """Dataflow bigrams read off the printed text line by line: a scope per
    `{ ... }` region, names looked up from the innermost; a name a region
    reads from an enclosing one is also an edge to each region's op."""
    scopes, edges, last = [(None, {})], set(), None     # (op that opened the region, names it defines)
    for line in text.splitlines():
        closed = scopes.pop()[0] if line.strip().startswith("}") else None
        d, b = DEF.match(line), BARE.match(line)
        op = d.group(2) if d else b.group(1) if b and "." in b.group(1) else None
        for name in NAME.findall(line[d.end():] if d else line):
            level = next((i for i in reversed(range(len(scopes))) if name in scopes[i][1]), None)
            if level is not None:
                producer = scopes[level][1][name]
                edges.update((producer, c) for c in [op] + [s[0] for s in scopes[level + 1:]])
        reduced = APPLIES.search(line)
        if reduced:
            edges.add((reduced.group(1), "stablehlo.return"))
        if d:
            scopes[-1][1].update(dict.fromkeys(NAME.findall(d.group(1)), op))
        last = op or last
        if line.rstrip().endswith("{"):
            scopes.append((op or closed or last, {}))
    return {(p, c) for p, c in edges if p in U and c in U}


def test_edges_of_a_known_program():
    def f(x):
        y = jnp.exp(x)
        return lax.cond(x.sum() > 0, lambda v: jnp.sin(v * y), lambda v: jnp.cos(v), x)
    lowered = lower(f, [jax.ShapeDtypeStruct((3,), jnp.float32)])
    text = lowered.text
    d = Diversity()
    d.add({"stablehlo": text, "ops": [{"op": k, "count": n} for k, n in lowered.ops.items()]})
    edges = d.bigrams
    assert ("stablehlo.add", "stablehlo.return") in edges, "the sum's reduce body"
    assert ("stablehlo.exponential", "stablehlo.multiply") in edges, "read inside a branch"
    assert ("stablehlo.exponential", "stablehlo.case") in edges, "taken into the branch"
    assert ("stablehlo.multiply", "stablehlo.sine") in edges and ("stablehlo.compare", "stablehlo.convert") in edges
    assert not any(p == "stablehlo.case" for p, _ in edges), "the case's result is returned, not used"
    assert edges == textual_bigrams(text)


def test_diversity_agrees_with_a_plain_recount(corpora, capsys):
    a, _ = corpora
    d = json.loads(run(capsys, "coverage", a, "--json"))["diversity"]
    records = list(read_records(a))
    ops, pairs, bigrams, growth = set(), set(), set(), []
    for n, r in enumerate(records, 1):
        present = {o["op"] for o in r["ops"]} & U
        ops |= present
        pairs |= {frozenset(p) for p in itertools.combinations(present, 2)}
        bigrams |= textual_bigrams(r["stablehlo"])
        if n in (1, 2, 5, 10, 20, 50, len(records)):
            growth.append({"programs": n, "ops": len(ops), "pairs": len(pairs), "bigrams": len(bigrams)})
    assert d["growth"] == growth and len(records) == 60
    assert (d["programs"], d["ops"], d["pairs"], d["bigrams"], d["unparsed"]) == \
        (len(records), len(ops), len(pairs), len(bigrams), 0)
    assert d["distinct_stablehlo"] == len({r["stablehlo"] for r in records})
    assert d["distinct_op_multisets"] == len({json.dumps(sorted((o["op"], o["count"]) for o in r["ops"]))
                                              for r in records})
    text = run(capsys, "coverage", a)
    assert re.search(rf"^  op pairs +{len(pairs)} ", text, re.M)
    assert re.search(rf"^  dataflow bigrams +{len(bigrams)} ", text, re.M)
    assert re.search(rf"^ +60 +{len(ops)} +{len(pairs)} +{len(bigrams)}$", text, re.M), "the growth curve's last row"


def test_unparsable_text_counts_as_unparsed():
    d = Diversity()
    d.add({"stablehlo": "not mlir at all", "ops": [{"op": "stablehlo.add", "count": 1}]})
    r = d.report()
    assert (r["unparsed"], r["bigrams"], r["ops"], r["growth"]) == (1, 0, 1, [{"programs": 1, "ops": 1, "pairs": 0,
                                                                                "bigrams": 0}])


def test_text_nested_too_deep_for_the_parser_is_not_parsed():
    """MLIR's parser recurses: an attribute nested 10^5 deep ends the process."""
    deep = "module attributes {a = " + "[" * 100_000 + "]" * 100_000 + "} {}"
    hidden = 'module attributes {a = "' + "]" * 300 + '" // ]]]\n, b = ' + "[" * 300 + "]" * 300 + "} {}"
    assert nesting(deep) == nesting(hidden) == MAX_NESTING + 1
    assert nesting('module attributes {a = [[1]], b = "[[[["} {} // (((') == 3
    d = Diversity()
    for text in (deep, hidden, 'module attributes {mhlo.a = [[1]]} {}'):
        d.add({"stablehlo": text, "ops": []})
    assert d.report()["unparsed"] == 2


# ---------------------------------------------------------------- alternative -> op

def _attributed(records, every=1):
    """Records with a made-up attribution on every `every`-th (the others,
    all if `every` is 0, have none): each op's occurrences dealt to the
    program's alternatives in turn, func.* ops to (program)."""
    out = []
    for k, r in enumerate(records):
        r = {key: v for key, v in r.items() if key != "attribution"}
        if every and k % every == 0:
            alts, counts = sorted(set(r["alternatives"])), Counter()
            for i, o in enumerate(r["ops"]):
                for j in range(o["count"]):
                    counts["(program)" if o["op"].startswith("func.") else alts[(i + j) % len(alts)], o["op"]] += 1
            r["attribution"] = [{"alternative": a, "op": op, "count": n} for (a, op), n in sorted(counts.items())]
        out.append(r)
    return out


def _write(directory, records):
    directory.mkdir()
    (directory / "records-00000.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return directory


def _matrix(records):
    """The alternative -> op matrix recounted: ops per (alternative, op), uses of each alternative,
    and per program the uses that made the op (one each, as far as the count goes)."""
    count, uses, made = Counter(), Counter(), Counter()
    for r in records:
        if "attribution" not in r:
            continue
        used = Counter(r["alternatives"]) + Counter({"(program)": 1})
        uses += used
        for a in r["attribution"]:
            count[a["alternative"], a["op"]] += a["count"]
            made[a["alternative"], a["op"]] += min(a["count"], used[a["alternative"]])
    return {alt: {"uses": n, "ops": {op: {"count": c, "uses": made[alt, op], "share": made[alt, op] / n}
                                     for (x, op), c in sorted(count.items(), key=lambda kv: (-kv[1], kv[0][1]))
                                     if x == alt}}
            for alt, n in sorted(uses.items())}


def test_by_alt_agrees_with_a_recount(corpora, capsys, tmp_path):
    records = _attributed(list(read_records(corpora[0])))
    d = _write(tmp_path / "attributed", records)
    expected = _matrix(records)
    assert json.loads(run(capsys, "coverage", d, "--by-alt", "--json")) == expected
    report = json.loads(run(capsys, "coverage", d, "--json"))
    assert report["by_alt"] == {alt: {op: o["count"] for op, o in row["ops"].items()}
                                for alt, row in expected.items() if row["ops"]}
    assert report["attributed"] == len(records)
    text = run(capsys, "coverage", d, "--by-alt")
    assert text.startswith(f"alternative -> ops it produced, over the {len(records)} of {len(records)} programs")
    for alt, row in expected.items():
        unit = ("program" if alt == "(program)" else "use") + ("" if row["uses"] == 1 else "s")
        block = re.search(rf"^{re.escape(alt)}  {row['uses']} {unit}\n((?:    .*\n?)*)", text, re.M).group(1)
        assert [line.split() for line in block.splitlines()] == \
            [[op, str(o["count"]), f"{100 * o['share']:.1f}%"] for op, o in row["ops"].items()]
    rows = list(csv.DictReader(io.StringIO(run(capsys, "coverage", d, "--by-alt", "--csv"))))
    assert [(r["alternative"], r["op"], int(r["count"]), int(r["uses"]), float(r["share"])) for r in rows] == \
        [(alt, op, o["count"], o["uses"], o["share"]) for alt, row in expected.items() for op, o in row["ops"].items()]


def test_by_alt_says_when_records_lack_attribution(corpora, capsys, tmp_path):
    records = list(read_records(corpora[0]))
    none = _write(tmp_path / "none", _attributed(records, every=0))
    msg = fails(capsys, ["coverage", none, "--by-alt"])
    assert msg.startswith(f"jaxsynth: error: {none}: ") and "attribution" in msg
    assert json.loads(run(capsys, "coverage", none, "--json"))["by_alt"] == {}
    half = _attributed(records, every=2)
    mixed = _write(tmp_path / "mixed", half)
    assert main(["coverage", str(mixed), "--by-alt", "--json"]) == 0
    out, err = capsys.readouterr()
    assert err == f"jaxsynth: warning: {mixed}: 30 of 60 records carry no 'attribution'; the matrix counts the others\n"
    assert json.loads(out) == _matrix(half)


def test_sampled_records_attribute_every_op(corpora, capsys):
    """End to end: `sample` writes the attribution the matrix reads."""
    b = corpora[1]
    records = list(read_records(b))
    matrix = json.loads(run(capsys, "coverage", b, "--by-alt", "--json"))
    made = Counter()
    for row in matrix.values():
        for op, o in row["ops"].items():
            made[op] += o["count"]
    assert made == sum((Counter({o["op"]: o["count"] for o in r["ops"]}) for r in records), Counter())
    program = matrix["(program)"]
    assert program["uses"] == len(records) and program["ops"]["func.func"]["count"] >= len(records)
    assert {alt: row["uses"] for alt, row in matrix.items() if alt != "(program)"} == \
        dict(sum((Counter(r["alternatives"]) for r in records), Counter()))
    assert matrix["sort"]["ops"]["stablehlo.sort"]["count"] >= 1


def test_a_reader_that_goes_away_ends_the_command_quietly(corpora):
    """`jaxsynth show DIR --stablehlo | head -1`: no traceback when head closes
    the pipe before the output (more than a pipe holds) is written."""
    import subprocess
    import sys
    done = subprocess.run(f"{sys.executable} -m jaxsynth show {corpora[0]} -n 40 --stablehlo | head -1",
                          shell=True, capture_output=True, text=True, timeout=300)
    assert done.stdout.startswith("── ") and done.stdout.count("\n") == 1
    assert "Traceback" not in done.stderr and "BrokenPipe" not in done.stderr, done.stderr
