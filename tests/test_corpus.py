"""`jaxsynth sample` corpora: records, manifest, determinism, dedup, coverage, weights."""
import json

import duckdb
import pandas as pd
import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.records import read_records
from jaxsynth.lowering import load_function, lower
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


def test_records(corpus, grammar):
    records = _records(corpus)
    assert len(records) == N
    assert len({r["hash"] for r in records}) == N, "no two records share a structural hash"
    for r in records[:20]:
        assert list(r) == ["id", "python", "inputs", "outputs", "stablehlo", "ops", "alternatives",
                           "size", "depth", "seed", "index", "hash"]
        grammar.parse(r["python"])
        specs = [t.spec() for t in parse_signature(", ".join(r["inputs"]))]
        fresh = lower(load_function(r["python"]), specs)
        assert fresh.text == r["stablehlo"]
        assert [{"op": k, "count": v} for k, v in fresh.ops.items()] == r["ops"]
        assert r["size"] == len(r["alternatives"]) >= 1


def test_manifest(corpus, grammar):
    m = json.loads((corpus / "manifest.json").read_text())
    assert m["grammar_sha256"] == grammar.sha256
    assert m["weights"] == grammar.weights()
    assert m["versions"]["jax"] and m["versions"]["jaxlib"]
    assert m["complete"] and m["counts"]["records"] == N
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
    assert main(["coverage", str(corpus), "--json"]) == 0
    report = json.loads(capsys.readouterr().out)
    ops = {o["op"] for r in _records(corpus) for o in r["ops"]}
    assert report["covered"] == len(ops & set(report["ops"][i]["op"] for i in range(len(report["ops"]))))
    assert {o["op"] for o in report["ops"]} == {op for op in ops if op.startswith(("stablehlo.", "chlo."))}
    assert report["covered"] + len(report["never_hit"]) == report["universe"]
    counts = [o["count"] for o in report["ops"]]
    assert counts == sorted(counts, reverse=True)
    assert main(["coverage", str(corpus)]) == 0
    assert "never hit" in capsys.readouterr().out


def test_show(corpus, capsys):
    assert main(["show", str(corpus), "-n", "2"]) == 0
    out = capsys.readouterr().out
    assert out.count("def f(") == 2 and "ops:" in out


def _share(d, op):
    records = _records(d)
    return sum(any(o["op"] == op for o in r["ops"]) for r in records) / len(records)


def test_raising_a_weight_raises_its_share(corpus, tmp_path):
    heavy = tmp_path / "heavy"
    assert main(["sample", "-n", str(N), "--seed", "7", "--weight", "sort=40", "--workers", "1", "--out", str(heavy)]) == 0
    assert _share(heavy, "stablehlo.sort") > _share(corpus, "stablehlo.sort") + 0.2
    m = json.loads((heavy / "manifest.json").read_text())
    assert m["weights"]["sort"] == 40


def test_enumerate_cli(tmp_path, capsys):
    assert main(["enumerate", "--max-ops", "2", "--inputs", "f32[2]", "--dims", "2", "--count"]) == 0
    lines = capsys.readouterr().out.splitlines()
    c1, c2 = (int(line.split(": ")[1]) for line in lines[:2])
    assert lines[2] == f"total: {c1 + c2}"
    assert main(["enumerate", "--max-ops", "2", "--inputs", "f32[2]", "--dims", "2", "--index", str(c1)]) == 0
    assert "def f(x0):" in capsys.readouterr().out


def test_bench_reports_both_rates_and_their_ratio(capsys):
    assert main(["bench", "-n", "20", "--workers", "1", "--shard-size", "10", "--json"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("naive loop") and lines[1].startswith("jaxsynth pipeline")
    assert lines[2].startswith("ratio: ") and lines[3].startswith("work per program")
    result = json.loads(lines[-1])
    assert result["ratio"] == pytest.approx(result["pipeline"] / result["naive"])
    assert {"sample", "trace+lower", "json"} <= set(result["stages_ms"])
