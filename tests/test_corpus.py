"""`jaxsynth sample` corpora: records, manifest, determinism, dedup, coverage, weights."""
import json
import random
import re
from collections import Counter

import duckdb
import jax
import pandas as pd
import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.lowering import SYMBOLIC, load_function, lower, universe
from jaxsynth.lowering.reach import reachable
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.rules import SHAPES, Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import parse_signature

N = 60


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("c") / "a"
    assert main(["sample", "-n", str(N), "--seed", "7", "--workers", "1", "--shard-size", "25", "--out", str(out)]) == 0
    return out


def _bytes(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _records(d):
    return list(read_records(d))


FIELD_ORDER = ["id", "python", "inputs", "outputs", "lowering", "stablehlo", "ops", "attribution", "alternatives",
               "size", "depth", "seed", "index", "hash"]


def _relowers(r):
    """The record's StableHLO and ops are those of its Python, lowered as it says."""
    specs = [t.spec() for t in parse_signature(", ".join(r["inputs"]))]
    how = r["lowering"]
    fresh = lower(load_function(r["python"]), specs, how["platform"], how["symbolic"])
    assert fresh.text == r["stablehlo"] and (fresh.symbolic or "static") == how["shapes"]
    assert [{"op": k, "count": v} for k, v in fresh.ops.items()] == r["ops"]


def test_records(corpus, grammar):
    records = _records(corpus)
    assert len(records) == N
    for r in records[:20]:
        assert list(r) == FIELD_ORDER
        assert r["lowering"] == {"platform": "cpu", "symbolic": False, "shapes": "static"}
        grammar.parse(r["python"])
        _relowers(r)
        specs = [t.spec() for t in parse_signature(", ".join(r["inputs"]))]
        assert jax.jit(load_function(r["python"])).lower(*specs).as_text() == r["stablehlo"], \
            "the default is plain jax.jit(f).lower"
        assert r["size"] == len(r["alternatives"]) >= 1


@pytest.fixture(scope="module")
def lowered_corpora(tmp_path_factory):
    """Corpora of the same programs lowered for tpu, and symbolically (on cpu)."""
    out = {}
    for name, options in {"tpu": ["--platform", "tpu"], "symbolic": ["--symbolic"]}.items():
        out[name] = tmp_path_factory.mktemp(name) / "c"
        assert main(["sample", "-n", "40", "--seed", "7", "--workers", "1", "--shard-size", "25",
                     "--out", str(out[name]), *options]) == 0
    return out


@pytest.mark.parametrize("name, how", [("tpu", {"platform": "tpu", "symbolic": False}),
                                       ("symbolic", {"platform": "cpu", "symbolic": True})])
def test_records_relower_with_their_lowering_options(lowered_corpora, grammar, name, how):
    """Each record's StableHLO is its Python lowered as its `lowering` field says
    (a program that does not lower so is counted in the manifest, not written);
    a symbolic run samples from what JAX can batch, and says per record which
    way of symbolic lowering it took."""
    records = _records(lowered_corpora[name])
    m = json.loads((lowered_corpora[name] / "manifest.json").read_text())
    assert m["lowering"] == how and m["counts"]["records"] == len(records) == 40
    assert m["counts"]["failures"] == {}, "every program lowers"
    space = Space(grammar, Config(batched=how["symbolic"]))
    for r in records:
        assert list(r) == FIELD_ORDER
        assert {k: r["lowering"][k] for k in how} == how
        assert r["lowering"]["shapes"] in (SYMBOLIC if how["symbolic"] else ("static",))
        _relowers(r)
        _regenerates(r, space.sample(random.Random(f"{r['seed']}:{r['index']}")), grammar)
    if how["symbolic"]:
        ways = {r["lowering"]["shapes"] for r in records}
        assert {"dims", "batch"} <= ways
        assert all("tensor<?" in r["stablehlo"] for r in records if r["lowering"]["shapes"] == "batch")
        assert any("tensor<?" in r["stablehlo"] for r in records if r["lowering"]["shapes"] == "dims")
        assert any(o["op"].startswith("stablehlo.dynamic_") for r in records for o in r["ops"])


def _regenerates(record, program, grammar):
    assert record["python"] == to_source(program.tree, grammar)
    assert (record["hash"], record["alternatives"], record["size"], record["depth"]) == \
        (program.structural_hash, program.alternatives, program.size, program.depth)
    assert record["inputs"] == [str(t) for t in program.inputs]
    assert record["outputs"] == [str(t) for t in program.output_types]


def test_records_regenerate_from_seed_and_index(corpus, grammar, space):
    """README: `random.Random(f"{seed}:{index}")` regenerates the record's program."""
    records = _records(corpus)
    assert [r["index"] for r in records] == sorted(r["index"] for r in records)
    for r in records:
        assert r["id"] == f"s{r['seed']}-{r['index']}" and r["seed"] == 7
        _regenerates(r, space.sample(random.Random(f"{r['seed']}:{r['index']}")), grammar)


def test_enumerated_records_regenerate_from_their_index(pinned, tmp_path):
    """An enumerated record's index is the program's global enumeration index."""
    sig, out = "f32[2], bool[]", tmp_path / "e"
    assert main(["enumerate", "--grammar", str(pinned), "--dims", "2,3", "--max-ops", "3", "--inputs", sig,
                 "--shard", "90/100", "--workers", "1", "--out", str(out)]) == 0
    grammar = load_grammar(pinned)
    enum = Enumeration(Space(grammar, Config(pools=Pools(dims=(2, 3)))), parse_signature(sig))
    records = _records(out)
    assert len(records) > 40 and any("lambda" in r["python"] for r in records)
    for r in records:
        assert r["id"] == f"e{r['index']}" and "seed" not in r
        _regenerates(r, enum.program(*enum.locate(r["index"], 3)), grammar)


def test_manifest(corpus, grammar):
    m = json.loads((corpus / "manifest.json").read_text())
    assert m["grammar_sha256"] == grammar.sha256
    assert m["weights"] == grammar.weights()
    assert m["versions"]["jax"] and m["versions"]["jaxlib"]
    assert m["complete"] and m["counts"]["records"] == N
    assert m["lowering"] == {"platform": "cpu", "symbolic": False}
    assert sum(s["records"] for s in m["shards"]) == N
    assert [s["file"] for s in m["shards"]] == sorted(p.name for p in corpus.glob("records-*.jsonl"))


def test_same_seed_same_bytes(corpus, tmp_path):
    again = tmp_path / "b"
    assert main(["sample", "-n", str(N), "--seed", "7", "--workers", "1", "--shard-size", "25", "--out", str(again)]) == 0
    assert _bytes(again) == _bytes(corpus)


def test_readers(corpus):
    df = pd.concat(pd.read_json(p, lines=True) for p in sorted(corpus.glob("records-*.jsonl")))
    assert len(df) == N and set(df.columns) >= {"python", "stablehlo", "ops"}
    assert duckdb.sql(f"select count(*) from read_json_auto('{corpus}/records-*.jsonl')").fetchall() == [(N,)]
    import datasets
    ds = datasets.load_dataset("json", data_files=str(corpus / "records-*.jsonl"), split="train",
                               cache_dir=str(corpus.parent / "hf"))
    assert ds.num_rows == N and ds[0]["ops"][0].keys() == {"op", "count"}


def test_coverage(corpus, capsys):
    """The report's numbers equal a recount from the records."""
    assert main(["coverage", str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    records = _records(corpus)
    occurrences, programs, alternatives = Counter(), Counter(), Counter()
    for r in records:
        for o in r["ops"]:
            occurrences[o["op"]] += o["count"]
            programs[o["op"]] += 1
        alternatives.update(r["alternatives"])
    ours = {op for op in occurrences if op.startswith(("stablehlo.", "chlo."))}
    assert report["programs"] == len(records)
    assert {o["op"]: (o["count"], o["programs"]) for o in report["ops"]} == \
        {op: (occurrences[op], programs[op]) for op in ours}
    assert any(occurrences[op] > programs[op] for op in ours), "some op occurs twice in one program"
    assert report["covered"] == len(ours) and report["never_hit"] == sorted(universe() - ours)
    assert report["outside_universe"] == sorted(set(occurrences) - ours)
    assert report["alternatives"] == dict(alternatives)
    q = report["quality"]
    assert q["programs"] == len(records) and q["unparsed"] == 0 and q["degenerate_programs"] == 0
    assert q["distinct_stablehlo"] == len({r["stablehlo"] for r in records})
    counts = [o["count"] for o in report["ops"]]
    assert counts == sorted(counts, reverse=True)
    assert main(["coverage", str(corpus)]) == 0
    text = capsys.readouterr().out
    assert text.startswith(f"{len(records)} programs; {len(ours & reachable())} of the {len(reachable())} ops JAX "
                           f"can emit (")
    assert f"), {len(ours)} of all {len(universe())} stablehlo/chlo ops (" in text.splitlines()[0]
    top = report["ops"][0]
    assert re.search(rf"^{re.escape(top['op'])}\s+{top['count']}\s+{top['programs']}\s", text, re.M)


def test_show(corpus, capsys):
    assert main(["show", str(corpus), "-n", "2"]) == 0
    out = capsys.readouterr().out
    for r in _records(corpus)[:2]:
        assert f"── {r['id']}  {', '.join(r['inputs'])} -> {', '.join(r['outputs'])}" in out
        assert r["python"].split("\n\n\n", 1)[1].rstrip() in out
    assert out.count("def f(") == 2 and out.count("   ops: ") == 2
    # ops by their whole names: func.return and stablehlo.return are two ops
    first = _records(corpus)[0]
    assert "   ops: " + ", ".join(f"{o['op']}×{o['count']}" for o in first["ops"]) in out


def _share(d, op):
    records = _records(d)
    return sum(any(o["op"] == op for o in r["ops"]) for r in records) / len(records)


def test_raising_a_weight_raises_its_share(corpus, tmp_path):
    heavy = tmp_path / "heavy"
    assert main(["sample", "-n", str(N), "--seed", "7", "--weight", "sort=40", "--workers", "1", "--out", str(heavy)]) == 0
    assert _share(heavy, "stablehlo.sort") > _share(corpus, "stablehlo.sort") + 0.2
    m = json.loads((heavy / "manifest.json").read_text())
    assert m["weights"]["sort"] == 40


def test_bench_reports_strategies_side_by_side(capsys):
    assert main(["bench", "-n", "20", "--workers", "1", "--shard-size", "10", "--shard", "3/200000", "--json"]) == 0
    out, err = capsys.readouterr()
    lines = [line.strip() for line in err.splitlines()]  # with --json the report goes to stderr, stdout is the JSON
    assert lines[0].startswith("sample: 20 programs") and lines[1].startswith("naive loop")
    assert lines[2].startswith("batched (1 workers") and "x naive" in lines[2]
    assert lines[3].startswith("compose (1 workers, cold cache)") and lines[4].startswith("compose (1 workers, warm")
    assert lines[5].startswith("ratios: batched/naive") and "compose cold/naive" in lines[5]
    assert lines[6].startswith("work per program, one process, cold")
    assert lines[7].startswith("work per program, one process, warm")
    assert lines[8].startswith('enumerate --max-ops 3 --inputs "f32[2]" --dims 2 --shard 3/200000')
    result = json.loads(out)
    for workload in ("sample", "enumerate"):
        r = result[workload]
        rates = r["rates"]
        assert set(rates) == {"naive", "batched", "compose cold", "compose warm"} and min(rates.values()) > 0
        assert r["ratios"]["compose warm/naive"] == pytest.approx(rates["compose warm"] / rates["naive"])
        assert r["ratios"]["compose cold/batched"] == pytest.approx(rates["compose cold"] / rates["batched"])
        for run in ("cold", "warm"):
            assert sum(r["steps"][run].values()) == pytest.approx(1)
        assert r["steps"]["cold"]["lowered"] > 0 and r["steps"]["cold"]["disk"] == 0     # an empty cache
        assert r["steps"]["warm"]["lowered"] == 0 and r["steps"]["warm"]["disk"] > 0     # the cache cold filled
        for run in ("cold", "warm"):
            assert {"sample", "hash", "print", "compose", "programs lowered by JAX", "records and JSON",
                    "compose: steps found or lowered"} <= set(r["stages_ms"][run])
    assert result["enumerate"]["programs"] == 84


def test_bench_compares_the_same_work(grammar, tmp_path):
    """Every side of bench makes the same (Python, StableHLO) pairs."""
    import dataclasses

    from jaxsynth.corpus.cli.bench import naive, pipeline
    from jaxsynth.corpus.run.recipe import Recipe
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=1)
    (tmp_path / "naive").mkdir()
    naive(recipe, 0, 12, tmp_path / "naive")
    pairs = [json.loads((tmp_path / "naive" / f"{k}.json").read_text()) for k in range(12)]
    for strategy in ("batched", "compose"):
        _, status = pipeline(dataclasses.replace(recipe, strategy=strategy), 0, 12, tmp_path / strategy, 1, 12)
        assert [(p["python"], p["stablehlo"]) for p in pairs] == \
            [(r["python"], r["stablehlo"]) for r in _records(tmp_path / strategy)]
    assert status.lowering["spliced"] > 6


def test_realistic_shapes(tmp_path):
    """--shapes realistic draws signatures from model shapes; the manifest records the profile."""
    out = tmp_path / "real"
    assert main(["sample", "-n", "30", "--seed", "2", "--shapes", "realistic", "--workers", "1",
                 "--out", str(out)]) == 0
    pools = json.loads((out / "manifest.json").read_text())["config"]["pools"]
    assert pools["max_size"] == SHAPES["realistic"].max_size == 1 << 20
    assert [tuple(s) for s in pools["shapes"]] == list(SHAPES["realistic"].shapes)
    firsts = [parse_signature(r["inputs"][0])[0] for r in _records(out)]
    assert all(t.shape in SHAPES["realistic"].shapes for t in firsts)
    assert sorted(t.size for t in firsts)[len(firsts) // 2] >= 1024, "median first input: a thousand elements or more"
    assert main(["sample", "-n", "5", "--shapes", "realistic", "--dims", "4,8", "--workers", "1",
                 "--out", str(tmp_path / "dims")]) == 0
    assert json.loads((tmp_path / "dims" / "manifest.json").read_text())["config"]["pools"]["dims"] == [4, 8]
