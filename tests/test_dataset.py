"""A corpus directory is a dataset: its card (`README.md`) makes
`datasets.load_dataset(DIR)` read exactly the records; `export` writes
Parquet splits decided by hash; `bench --json` prints JSON alone."""
import hashlib
import json
import random
import shlex
import shutil
import sys

import duckdb
import pyarrow.parquet as pq
import pytest
import yaml
from hypothesis import given
from hypothesis import strategies as st

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.files import CARD
from jaxsynth.corpus.run.fields import FEATURES as FIELDS
from jaxsynth.corpus.publish.export import PARQUET, SPLITS, split_of, thresholds
from jaxsynth.corpus.run.schema import RECORD
from jaxsynth.corpus.run.readers import corpus_files, read_records

ARGV = ["sample", "-n", "24", "--seed", "5", "--shard-size", "8", "--workers", "1"]


@pytest.fixture(scope="module")
def corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("dataset") / "c"
    assert main(ARGV + ["--out", str(out)]) == 0
    return out


@pytest.fixture(scope="module")
def records(corpus):
    return list(read_records(corpus))


@pytest.fixture(scope="module")
def exported(corpus, tmp_path_factory):
    out = tmp_path_factory.mktemp("export") / "pq"
    assert main(["export", str(corpus), "--parquet", str(out)]) == 0
    return out


@pytest.fixture
def offline(monkeypatch, tmp_path):
    """`datasets`, kept off the network, with a cache of its own; a loader."""
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    import datasets
    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(datasets.config, "HF_DATASETS_OFFLINE", True, raising=False)
    datasets.disable_progress_bars()
    return lambda path, **kw: datasets.load_dataset(str(path), cache_dir=str(tmp_path / "hf"), **kw)


def _front_matter(path):
    text = path.read_text()
    assert text.startswith("---\n")
    return yaml.safe_load(text.split("\n---\n", 1)[0][4:])


def _fails(capsys, argv) -> str:
    """The one error line of a command that must exit 2."""
    assert main([str(a) for a in argv]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if not line.startswith("jaxsynth: warning: ")]
    assert len(err) == 1 and err[0].startswith("jaxsynth: error: "), err
    return err[0]


def _fits(value, t) -> bool:
    """A JSON value of the FIELDS type t."""
    if isinstance(t, list):
        return isinstance(value, list) and all(_fits(v, t[0]) for v in value)
    if isinstance(t, dict):
        return isinstance(value, dict) and set(value) == set(t) and all(_fits(value[k], t[k]) for k in t)
    return {"string": isinstance(value, str), "bool": isinstance(value, bool),
            "int64": isinstance(value, int) and not isinstance(value, bool) and -2 ** 63 <= value < 2 ** 63}[t]


# ---------------------------------------------------------------- the card

def test_fields_describe_the_records(records):
    """FIELDS, which the card and the Parquet schema are read from, types
    every field a record has, in record order."""
    assert set(RECORD) <= set(FIELDS)
    for r in records:
        assert list(r) == [name for name in FIELDS if name in r]
        for name, value in r.items():
            assert _fits(value, FIELDS[name]), name
    assert "attribution" in records[0]


def test_card_names_the_shards_and_types_every_field(corpus, records):
    meta = _front_matter(corpus / CARD)
    assert meta["configs"] == [{"config_name": "default",
                                "data_files": [{"split": "train", "path": "records-*.jsonl"}]}]
    features = meta["dataset_info"]["features"]
    assert [f["name"] for f in features] == list(records[0])
    ops = next(f for f in features if f["name"] == "ops")
    assert ops == {"name": "ops", "list": [{"name": "op", "dtype": "string"}, {"name": "count", "dtype": "int64"}]}
    body = (corpus / CARD).read_text()
    m = json.loads((corpus / "manifest.json").read_text())
    assert "jaxsynth sample -n 24 --seed 5 --shard-size 8 --out DIR\n" in body
    assert "makes these records again, byte for byte" in body
    assert m["grammar_sha256"] in body and f"jax {m['versions']['jax']}" in body
    ops_total = sum(o["count"] for r in records for o in r["ops"])
    assert f"{ops_total} occurrences in 24 records" in body
    constants = sum(o["count"] for r in records for o in r["ops"] if o["op"] == "stablehlo.constant")
    with_constants = sum(any(o["op"] == "stablehlo.constant" for o in r["ops"]) for r in records)
    assert f"| `stablehlo.constant` | {constants} | {with_constants} |" in body


@pytest.mark.parametrize("options", [
    ["sample", "-n", "3", "--seed", "4", "--weight", "sort=10", "--weight", "matmul=0", "--shapes", "realistic",
     "--dims", "1,2,16", "--style", "nested", "--platform", "tpu", "--max-ops", "3"],
    ["enumerate", "--max-ops", "1", "--inputs", "f32[2]", "--shard", "1/3"],
], ids=["sample", "enumerate"])
def test_the_cards_command_makes_the_corpus_again(tmp_path, options):
    assert main(options + ["--workers", "1", "--out", str(tmp_path / "a")]) == 0
    body = (tmp_path / "a" / CARD).read_text()
    command = body.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert "byte for byte" in body and "--workers" not in command
    argv = [str(tmp_path / "b") if word == "DIR" else word for word in shlex.split(command)]
    assert argv[0] == "jaxsynth" and main(argv[1:] + ["--workers", "1"]) == 0

    def files(d):
        return {p.name: p.read_bytes() for p in d.iterdir()}
    assert files(tmp_path / "b") == files(tmp_path / "a")


def test_the_card_names_no_path_of_this_machine(corpus, tmp_path, monkeypatch):
    """The packaged grammar is named as such, and the card's command needs no
    --grammar; another grammar by its file name, which the command gives and
    which, where that file is, makes the records again. The manifest keeps
    the path; neither card, a corpus's or its export's, holds one."""
    from jaxsynth.synth.grammar import DEFAULT_GRAMMAR
    from test_errors import EXP, GRAMMAR
    body = (corpus / CARD).read_text()
    m = json.loads((corpus / "manifest.json").read_text())
    assert m["grammar"] == str(DEFAULT_GRAMMAR)
    assert f"- grammar: jaxsynth's packaged grammar (sha256 `{m['grammar_sha256']}`)\n" in body
    assert "--grammar" not in body and str(DEFAULT_GRAMMAR.parent) not in body

    where = tmp_path / "somewhere" / "grammars"
    where.mkdir(parents=True)
    (where / "mine.lark").write_text(GRAMMAR.replace(EXP, EXP.replace("w=2", "w=3")))
    made = tmp_path / "a"
    assert main(["sample", "-n", "4", "--seed", "2", "--workers", "1", "--grammar", str(where / "mine.lark"),
                 "--out", str(made)]) == 0
    assert main(["export", str(made), "--parquet", str(tmp_path / "pq")]) == 0
    m = json.loads((made / "manifest.json").read_text())
    assert m["grammar"] == str(where / "mine.lark")
    for card in (made / CARD, tmp_path / "pq" / CARD):
        body = card.read_text()
        assert f"- grammar: `mine.lark` (sha256 `{m['grammar_sha256']}`)\n" in body
        assert str(tmp_path) not in body and str(DEFAULT_GRAMMAR.parent) not in body
    body = (made / CARD).read_text()
    command = body.split("```bash\n", 1)[1].split("\n", 1)[0]
    assert " --grammar mine.lark " in command and "byte for byte" in body
    monkeypatch.chdir(where)
    argv = [str(tmp_path / "b") if word == "DIR" else word for word in shlex.split(command)]
    assert main(argv[1:] + ["--workers", "1"]) == 0
    for name in ("records-00000.jsonl", CARD):
        assert (tmp_path / "b" / name).read_bytes() == (made / name).read_bytes()


def test_load_dataset_reads_exactly_the_records(corpus, records, offline, tmp_path):
    ds = offline(corpus, split="train")
    assert ds.num_rows == len(records) == 24
    assert ds["id"] == [r["id"] for r in records]
    assert ds.column_names == list(records[0])
    assert [ds[i] for i in range(ds.num_rows)] == records      # nested fields (ops, attribution) as written
    bare = shutil.copytree(corpus, tmp_path / "bare")
    (bare / CARD).unlink()
    from datasets.exceptions import DatasetGenerationError
    with pytest.raises(DatasetGenerationError):      # without its card, manifest.json is read as data
        offline(bare, split="train")


def test_readers_and_resume_with_the_card(corpus, capsys, tmp_path):
    manifest, files = corpus_files(corpus)
    assert [f.name for f in files] == [s["file"] for s in manifest["shards"]]
    for argv in (["coverage", corpus], ["show", corpus, "-n", "2"]):
        assert main([str(a) for a in argv]) == 0
    copy = shutil.copytree(corpus, tmp_path / "c")
    card = (copy / CARD).read_bytes()
    (copy / "records-00001.jsonl").unlink()
    (copy / CARD).unlink()
    assert main(ARGV + ["--out", str(copy), "--resume"]) == 0
    assert (copy / CARD).read_bytes() == card
    assert {p.name: p.read_bytes() for p in copy.iterdir()} == {p.name: p.read_bytes() for p in corpus.iterdir()}


def test_a_run_makes_its_card_from_what_it_wrote(corpus, tmp_path, monkeypatch, capsys):
    """The run sums up its records as it writes them (kept shards of a
    resumed run as it reads them back anyway): the card is the one read
    back from the shards, without reading them again."""
    from jaxsynth.corpus.publish import card
    manifest, files = corpus_files(corpus)
    read_back = card.card(manifest, card.summarize(files)).encode()
    monkeypatch.setattr(card, "summarize", lambda files: pytest.fail("the card read the shards back"))
    copy = shutil.copytree(corpus, tmp_path / "c")
    (copy / "records-00001.jsonl").unlink()
    (copy / CARD).unlink()
    assert main(ARGV + ["--out", str(copy), "--resume"]) == 0
    fresh = tmp_path / "fresh"
    assert main(ARGV + ["--out", str(fresh)]) == 0
    assert (copy / CARD).read_bytes() == (fresh / CARD).read_bytes() == read_back


def test_the_largest_dims_pool_makes_a_corpus_its_readers_accept(tmp_path, capsys):
    """--dims takes as many values as a corpus's readers accept, no more: a
    run never makes a corpus that `validate` or `coverage` refuses, and its
    card says the command that makes it again."""
    dims = ",".join(map(str, range(1, 66)))
    out = tmp_path / "c"
    argv = ["sample", "-n", "6", "--max-ops", "2", "--workers", "1", "--out", str(out)]
    assert main(argv + ["--dims", dims]) == 2 and not out.exists()
    assert "argument --dims: 65 values; at most 64" in capsys.readouterr().err
    dims = dims.rsplit(",", 1)[0]
    assert main(argv + ["--dims", dims]) == 0
    assert f"--dims {dims}" in (out / CARD).read_text()
    assert main(["validate", str(out), "--workers", "1"]) == 0 and main(["coverage", str(out)]) == 0


def test_a_readme_of_the_user_is_kept(tmp_path, capsys):
    out = tmp_path / "mine"
    out.mkdir()
    (out / CARD).write_text("# my notes\n")
    assert main(["sample", "-n", "2", "--seed", "1", "--workers", "1", "--out", str(out)]) == 0
    assert (out / CARD).read_text() == "# my notes\n"
    assert "not a jaxsynth dataset card; left as it is" in capsys.readouterr().err


# ---------------------------------------------------------------- export

def _rows(out):
    return {split: pq.read_table(out / f).to_pylist() for split, f in zip(SPLITS, PARQUET)}


def test_export_keeps_records_and_structure(exported, records):
    rows = _rows(exported)
    assert sorted(r["id"] for split in rows.values() for r in split) == sorted(r["id"] for r in records)
    by_id = {r["id"]: r for r in records}
    for name, split in rows.items():
        for row in split:
            assert row == by_id[row["id"]]          # ops, lowering, attribution keep their structure
            v = int(hashlib.sha256(row["hash"].encode()).hexdigest(), 16) % 2 ** 32     # the card's rule
            assert name == ("train" if v < 0.8 * 2 ** 32 else "validation" if v < 0.9 * 2 ** 32 else "test")
    assert len([split for split in rows.values() if split]) >= 2
    schema = pq.read_schema(exported / PARQUET[0])
    assert schema.names == list(records[0])
    assert str(schema.field("ops").type) == "list<element: struct<op: string, count: int64>>"
    assert str(schema.field("lowering").type) == "struct<platform: string, symbolic: bool, shapes: string>"


def test_duckdb_and_datasets_agree(corpus, exported, records, offline):
    def key(rows):
        return sorted((r["id"], r["hash"], json.dumps(r["ops"]), json.dumps(r["attribution"])) for r in rows)

    def rows(query):
        return [dict(zip(query.columns, row)) for row in query.fetchall()]
    jsonl = rows(duckdb.sql(f"select * from read_json('{corpus}/records-*.jsonl')"))
    parquet = rows(duckdb.sql(f"select * from read_parquet('{exported}/*.parquet')"))
    splits = offline(exported)
    counts = {s: len(split) for s, split in _rows(exported).items()}
    assert {s: d.num_rows for s, d in splits.items()} == {s: n for s, n in counts.items() if n}
    loaded = [row for split in splits.values() for row in split]
    assert key(jsonl) == key(parquet) == key(loaded) == key(offline(corpus, split="train")) == key(records)


def test_splits_are_stable(corpus, exported, records, tmp_path, capsys):
    """Exporting again gives the same bytes; records in another order and
    other files go to the same splits."""
    before = {p.name: p.read_bytes() for p in exported.iterdir()}
    assert main(["export", str(corpus), "--parquet", str(exported)]) == 0     # over a previous export
    assert {p.name: p.read_bytes() for p in exported.iterdir()} == before
    shuffled = records[:]
    random.Random(0).shuffle(shuffled)
    (tmp_path / "shuffled.jsonl").write_text("".join(json.dumps(r) + "\n" for r in shuffled))
    assert main(["export", str(tmp_path / "shuffled.jsonl"), "--parquet", str(tmp_path / "again")]) == 0
    def ids(out):
        return {s: sorted(r["id"] for r in rows) for s, rows in _rows(out).items()}
    assert ids(tmp_path / "again") == ids(exported)


def test_splits_partition_by_the_fractions(records, tmp_path):
    """A few hundred records (those of the corpus, each given a fresh id and
    hash) fall into the splits at about the fractions asked."""
    many = [{**r, "id": f"x{k}", "hash": hashlib.md5(str(k).encode()).hexdigest()}
            for k, r in zip(range(600), records * 25)]
    (tmp_path / "many.jsonl").write_text("".join(json.dumps(r) + "\n" for r in many))
    assert main(["export", str(tmp_path / "many.jsonl"), "--parquet", str(tmp_path / "out"),
                 "--splits", "0.6,0.3,0.1"]) == 0
    ids = {s: [r["id"] for r in rows] for s, rows in _rows(tmp_path / "out").items()}
    assert sorted(sum(ids.values(), [])) == sorted(r["id"] for r in many)        # each record once
    for s, fraction in zip(SPLITS, (0.6, 0.3, 0.1)):
        assert abs(len(ids[s]) / len(many) - fraction) < 0.07, (s, len(ids[s]))  # > 3.5 standard deviations
    meta = _front_matter(tmp_path / "out" / CARD)
    assert meta["configs"][0]["data_files"] == [{"split": s, "path": f} for s, f in zip(SPLITS, PARQUET)]


HASHES = st.text("0123456789abcdef", min_size=32, max_size=32)
FRACTIONS = st.lists(st.integers(0, 20), min_size=3, max_size=3).filter(sum).map(
    lambda w: tuple(x / sum(w) for x in w))


@given(HASHES, FRACTIONS, FRACTIONS)
def test_train_is_kept_when_only_the_other_fractions_change(h, a, b):
    """A record's split depends on its hash and the cumulative fractions
    only: train keeps its records when validation and test trade places,
    and an empty split gets nothing."""
    split = split_of(h, thresholds(a))
    if a[0] == b[0]:
        assert (split == 0) == (split_of(h, thresholds(b)) == 0)
    assert a[split] > 0
    assert split_of(h, thresholds((1.0, 0.0, 0.0))) == 0
    assert split_of(h, thresholds((0.0, 0.0, 1.0))) == 2


def _reseal(directory):
    """The manifest's checksums made those of the shards as they are now."""
    m = json.loads((directory / "manifest.json").read_text())
    for entry in m["shards"]:
        entry["sha256"] = hashlib.sha256((directory / entry["file"]).read_bytes()).hexdigest()
    (directory / "manifest.json").write_text(json.dumps(m, indent=2) + "\n")


def test_records_without_attribution(corpus, records, tmp_path, capsys, offline):
    """Records of corpora made before `attribution` existed: said in one
    line, exported without the column; a corpus half old, half new gets it
    empty where missing."""
    old = shutil.copytree(corpus, tmp_path / "old")
    for f in corpus_files(old)[1]:
        rows = [json.loads(line) for line in f.read_text().splitlines()]
        f.write_text("".join(json.dumps({k: v for k, v in r.items() if k != "attribution"}) + "\n" for r in rows))
    _reseal(old)      # as such a corpus's own manifest says of its shards
    from jaxsynth.corpus.publish.card import write_card
    write_card(old)
    assert "records carry no attribution" in (old / CARD).read_text()
    assert [r["id"] for r in offline(old, split="train")] == [r["id"] for r in records]
    assert main(["export", str(old), "--parquet", str(tmp_path / "o")]) == 0
    warnings = [line for line in capsys.readouterr().err.splitlines() if "attribution" in line]
    assert warnings == [f"jaxsynth: warning: {old}: records carry no attribution (made before jaxsynth recorded it)"]
    assert "attribution" not in pq.read_schema(tmp_path / "o" / PARQUET[0]).names
    half = tmp_path / "half.jsonl"
    half.write_text((old / "records-00000.jsonl").read_text() + (corpus / "records-00001.jsonl").read_text())
    assert main(["export", str(half), "--parquet", str(tmp_path / "h"), "--splits", "1,0,0"]) == 0
    rows = pq.read_table(tmp_path / "h" / "train.parquet").to_pylist()
    assert [r["attribution"] is None for r in rows] == [True] * 8 + [False] * 8
    assert "some records carry no attribution" in capsys.readouterr().err


# ---------------------------------------------------------------- bad input

@pytest.mark.parametrize("splits", ["0.8,0.2", "a,b,c", "0.5,0.6,-0.1", "0.5,0.5,0.1", "nan,0.5,0.5", ""])
def test_bad_splits(corpus, tmp_path, capsys, splits):
    msg = _fails(capsys, ["export", corpus, "--parquet", tmp_path / "o", "--splits", splits])
    assert msg.startswith(f"jaxsynth: error: --splits {splits}: expected three fractions"), msg
    assert not (tmp_path / "o").exists()


def test_export_refuses_what_is_not_its_own(corpus, tmp_path, capsys):
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "train.parquet").write_text("my own")
    msg = _fails(capsys, ["export", corpus, "--parquet", mine])
    assert "not empty and not a jaxsynth export" in msg
    assert (mine / "train.parquet").read_text() == "my own" and len(list(mine.iterdir())) == 1
    assert "not empty and not a jaxsynth export" in _fails(capsys, ["export", corpus, "--parquet", corpus])
    (tmp_path / "file").write_text("x")
    assert "not a directory" in _fails(capsys, ["export", corpus, "--parquet", tmp_path / "file"])
    assert "not a corpus directory" in _fails(capsys, ["export", tmp_path / "nothing", "--parquet", tmp_path / "o"])
    bad = shutil.copytree(corpus, tmp_path / "bad")
    with open(bad / "records-00002.jsonl", "a") as f:
        f.write('{"id": 3}\n')
    msg = _fails(capsys, ["export", bad, "--parquet", tmp_path / "o"])
    assert msg.startswith(f"jaxsynth: error: {bad / 'records-00002.jsonl'}:9: not a jaxsynth record"), msg
    assert not (tmp_path / "o").exists()


def test_export_without_pyarrow(corpus, tmp_path, capsys, monkeypatch):
    monkeypatch.setitem(sys.modules, "pyarrow", None)
    monkeypatch.setitem(sys.modules, "pyarrow.parquet", None)
    msg = _fails(capsys, ["export", corpus, "--parquet", tmp_path / "o"])
    from jaxsynth.corpus.run.install import install_hint
    assert msg.endswith(f"--parquet: needs pyarrow: {install_hint('export')}"), msg


# ---------------------------------------------------------------- bench

def test_bench_json_is_all_of_stdout(capfd):
    assert main(["bench", "-n", "2", "--workers", "1", "--shard-size", "2", "--shard", "0/2000000", "--json"]) == 0
    out, err = capfd.readouterr()
    result = json.loads(out)
    assert set(result) == {"cold_only", "workers", "sample", "enumerate"}
    assert "naive loop" in err and "ratios:" in err
