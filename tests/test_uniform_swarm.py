"""Uniform sampling over the programs up to a size (`sample --uniform`) and
swarm sampling from a random subset of alternatives per program (`sample
--swarm K`): what they draw, that their corpora are the same bytes for any
number of workers, that the manifest says how a run sampled and --resume
holds to it, and the one-line errors of their options."""
import json
import random
from collections import Counter

import brute
import pytest
from hypothesis import given, settings, strategies as st

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.recipe import Recipe, build, programs
from jaxsynth.corpus.run.shards import make_shard
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.rules import Pools
from jaxsynth.synth.space import SWARM_SUBSETS, Config
from jaxsynth.synth.types import parse_signature

SMALL = ("exp", "add", "sub", "sum", "cond", "fori_loop")      # 60 programs of f32[2] up to 2 operations
TINY = ["--max-ops", "2", "--inputs", "f32[2]", "--dims", "2"]  # 35,113 programs of the packaged grammar


def _recipe(names=None, **options) -> Recipe:
    grammar = load_grammar()
    weights = tuple((a.name, 1.0 if a.name in names else 0.0) for a in grammar.alts) if names else ()
    config = Config(pools=Pools(dims=(2,), floats=("2.0",), small_ints=(2,)), max_ops=2)
    return Recipe("sample", grammar.path, grammar.text, weights, config, "statements", **options)


def _bytes(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


# ---------------------------------------------------------------- uniform

def test_uniform_draws_every_program_equally_often():
    """Against the brute-force listing of the space: every program appears,
    none outside it, with frequencies a chi-square test finds uniform (the
    seed is fixed; the bound is some five standard deviations above the
    mean). Sampling by the weights, whose sizes 1 and 2 are equally likely
    while 4 programs have size 1 and 56 size 2, is far beyond it."""
    recipe = _recipe(SMALL, seed=0, inputs=parse_signature("f32[2]"), max_size=2, uniform=True)
    grammar, space, _ = build(recipe)
    listed = [to_source(p.tree, grammar) for size in (1, 2) for p in brute.programs(space, recipe.inputs, size)]
    assert len(listed) == len(set(listed)) == 60
    per = 50
    drawn = Counter(to_source(p.tree, grammar) for _, p in programs(recipe, 0, per * len(listed)))
    assert set(drawn) == set(listed)
    chi2 = sum((drawn[s] - per) ** 2 / per for s in listed)
    df = len(listed) - 1
    assert chi2 < df + 5 * (2 * df) ** 0.5, chi2

    weighted = Counter(p.size for _, p in programs(_recipe(SMALL, seed=0, inputs=recipe.inputs), 0, 600))
    assert weighted[1] > 200, "the weights' sizes, so the test above tells the two apart"


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10 ** 9), k=st.integers(0, 10 ** 6))
def test_a_uniform_draw_is_the_same_in_any_shard(seed, k):
    """Program k depends only on the seed and k: alone, or after others."""
    recipe = _recipe(SMALL, seed=seed, inputs=parse_signature("f32[2]"), max_size=2, uniform=True)
    (origin, alone), = programs(recipe, k, k + 1)
    after = list(programs(recipe, max(0, k - 3), k + 1))[-1][1]
    assert origin["id"] == f"s{seed}-{k}" and alone.steps == after.steps and 1 <= alone.size <= 2


@pytest.fixture(scope="module")
def uniform_corpus(tmp_path_factory):
    out = tmp_path_factory.mktemp("uniform") / "c"
    assert main(["sample", "--uniform", *TINY, "-n", "30", "--seed", "2", "--shard-size", "10",
                 "--workers", "1", "--out", str(out)]) == 0
    return out


def test_uniform_corpus_is_the_same_bytes_for_1_or_2_workers(uniform_corpus, tmp_path):
    assert main(["sample", "--uniform", *TINY, "-n", "30", "--seed", "2", "--shard-size", "10",
                 "--workers", "2", "--out", str(tmp_path / "c")]) == 0
    assert _bytes(tmp_path / "c") == _bytes(uniform_corpus)
    assert main(["sample", "--uniform", *TINY, "-n", "30", "--seed", "3", "--shard-size", "10",
                 "--workers", "1", "--out", str(tmp_path / "other")]) == 0
    assert _bytes(tmp_path / "other")["records-00000.jsonl"] != _bytes(uniform_corpus)["records-00000.jsonl"]


def test_uniform_corpus_says_so_and_resume_holds_to_it(uniform_corpus, tmp_path, capsys):
    manifest = json.loads((uniform_corpus / "manifest.json").read_text())
    assert manifest["uniform"] is True and manifest["max_size"] == 2 and "swarm" not in manifest
    records = list(read_records(uniform_corpus))
    assert len(records) == 30 and all(r["inputs"] == ["f32[2]"] and r["size"] <= 2 for r in records)
    before = _bytes(uniform_corpus)
    capsys.readouterr()
    assert main(["sample", *TINY, "-n", "30", "--seed", "2", "--shard-size", "10", "--workers", "1",
                 "--out", str(uniform_corpus), "--resume"]) == 2
    assert "differs in: " in capsys.readouterr().err
    assert _bytes(uniform_corpus) == before


# ---------------------------------------------------------------- swarm

@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 10 ** 9), k=st.integers(1, 4))
def test_a_swarm_program_uses_at_most_k_alternatives(space, seed, k):
    """Sub-programs included; the same rng state gives the same program."""
    program = space.sample_swarm(random.Random(seed), k)
    assert len(set(program.alternatives)) <= k
    assert set(program.alternatives) <= {a.name for a in space.alts}
    assert space.sample_swarm(random.Random(seed), k).structural_hash == program.structural_hash


def test_swarm_subsets_vary_and_leave_default_sampling_alone(space):
    """Subsets differ from program to program; the space a subset restricts
    samples as before."""
    used = [frozenset(space.sample_swarm(random.Random(f"0:{k}"), 1).alternatives) for k in range(30)]
    assert all(len(u) == 1 for u in used) and len(set(used)) >= 15
    before = [space.sample(random.Random(f"d:{k}")).structural_hash for k in range(20)]
    space.restricted(space.alts[:3]).sample_swarm(random.Random(1), 2)
    assert [space.sample(random.Random(f"d:{k}")).structural_hash for k in range(20)] == before


def test_a_subset_that_makes_no_program_is_counted_as_a_failure():
    """One alternative rarely reads both an i32 vector and a bool scalar: the
    draws it fails are counted, the others are records of one alternative."""
    recipe = _recipe(seed=0, inputs=parse_signature("i32[2], bool[]"), swarm=1)
    shard = make_shard(recipe, 0, 0, 12)
    reasons = [r for r in shard.failures if r.startswith("NoProgram")]
    assert reasons == [f"NoProgram: no program from {SWARM_SUBSETS} swarm subsets of 1 alternatives"]
    assert shard.lines and sum(shard.failures.values()) + len(shard.lines) + shard.duplicates == 12
    for _, line, *_ in shard.lines:
        assert len(set(json.loads(line)["alternatives"])) == 1


def test_swarm_corpus_is_the_same_bytes_for_1_or_2_workers(tmp_path, capsys):
    args = ["sample", "--swarm", "3", "-n", "24", "--seed", "5", "--shard-size", "8", "--max-ops", "4"]
    assert main([*args, "--workers", "1", "--out", str(tmp_path / "a")]) == 0
    assert main([*args, "--workers", "2", "--out", str(tmp_path / "b")]) == 0
    assert _bytes(tmp_path / "a") == _bytes(tmp_path / "b")
    manifest = json.loads((tmp_path / "a" / "manifest.json").read_text())
    assert manifest["swarm"] == 3 and "uniform" not in manifest
    assert all(len(set(r["alternatives"])) <= 3 for r in read_records(tmp_path / "a"))
    capsys.readouterr()
    assert main([*args[:2], "4", *args[3:], "--workers", "1", "--out", str(tmp_path / "a"), "--resume"]) == 2
    assert "differs in: swarm" in capsys.readouterr().err


def test_default_manifest_names_neither_way():
    described = _recipe().describe()
    assert "uniform" not in described and "swarm" not in described


# ---------------------------------------------------------------- errors

@pytest.mark.parametrize("argv, says", [
    (["--uniform", "-n", "5"], "--uniform: needs --inputs"),
    (["--uniform", "--swarm", "2", "--inputs", "f32[2]"], "--swarm: not with --uniform"),
    (["--swarm", "0"], "argument --swarm: '0' is not a positive integer"),
    (["--swarm", "100000"], "--swarm 100000: more than the"),
    (["--uniform", "--max-ops", "1", "--inputs", "f32[2]", "--dims", "2", "-n", "121"],
     "-n 121: only 120 programs of size 1..1"),
])
def test_bad_options_are_one_line_and_write_nothing(tmp_path, capsys, argv, says):
    out = tmp_path / "c"
    assert main(["sample", *argv, "--workers", "1", "--out", str(out)]) == 2
    err = [line for line in capsys.readouterr().err.splitlines() if line.startswith("jaxsynth: error:")]
    assert len(err) == 1 and says in err[0], err
    assert not out.exists()
