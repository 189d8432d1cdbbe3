"""Tuning weights to a target op distribution (corpus/analysis/, `jaxsynth tune`)."""
import json
import math

import numpy as np
import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.analysis.coverage import shares, tv
from jaxsynth.corpus.analysis.model import Model, solve_ipf
from jaxsynth.corpus.analysis.pilot import Pilot
from jaxsynth.corpus.analysis.targets import Target, corpus_target, distance, file_target, normalised
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.synth.grammar import load_grammar, override_weights, read_weights_file

from test_errors import fails


@pytest.fixture(scope="module")
def pilot_dir(tmp_path_factory):
    out = tmp_path_factory.mktemp("tune") / "pilot"
    assert main(["sample", "-n", "150", "--seed", "2", "--workers", "1", "--out", str(out)]) == 0
    return out


def _within():
    return {a.name: a.rule.within for a in load_grammar().alts if a.rule.within}


@pytest.mark.parametrize("measure", ["programs", "occurrences"])
@pytest.mark.parametrize("contexts", [False, True])
def test_the_model_is_exact_at_the_pilots_weights(pilot_dir, measure, contexts):
    pilot = Pilot.read(pilot_dir, _within() if contexts else None)
    weights = load_grammar().weights()
    model = Model([pilot], weights, measure, sorted(pilot.presence))
    predicted = dict(zip(model.ops, np.asarray(model.predict(np.log(model.w0)))))
    for op, value in pilot.values(measure).items():
        assert predicted[op] == pytest.approx(value, abs=1e-5), op


def test_the_model_moves_an_op_with_the_weight_of_its_maker(pilot_dir):
    pilot = Pilot.read(pilot_dir)
    weights = load_grammar().weights()
    model = Model([pilot], weights, "programs", sorted(pilot.presence))
    theta = np.log(model.w0)
    before = dict(zip(model.ops, np.asarray(model.predict(theta))))
    theta[model.alts.index("exp")] += math.log(8)
    after = dict(zip(model.ops, np.asarray(model.predict(theta))))
    assert after["stablehlo.exponential"] > before["stablehlo.exponential"] + 0.05


def test_ipf_pushes_down_an_op_a_whole_target_lacks(pilot_dir):
    """A whole distribution (a corpus's) that lacks an op the pilot makes
    wants none of it: proportional fitting lowers its maker's weight."""
    pilot = Pilot.read(pilot_dir)
    model = Model([pilot], load_grammar().weights(), "programs", sorted(pilot.presence))
    values = pilot.values("programs")
    target = Target("without exp", normalised({o: v for o, v in values.items() if o != "stablehlo.exponential"}), True)
    theta, predicted = solve_ipf(model, target, values, np.log(model.w0))
    assert np.all(np.isfinite(theta)) and np.all(np.isfinite(predicted))
    exp = model.alts.index("exp")
    assert theta[exp] < np.log(model.w0)[exp]


def test_collectives_come_with_the_mesh_that_opens_their_context(pilot_dir):
    pilot = Pilot.read(pilot_dir, _within())
    assert pilot.openers["mesh"] == {"shard_map"}
    model = Model([pilot], load_grammar().weights(), "programs", sorted(pilot.presence))
    theta = np.log(model.w0)
    before = dict(zip(model.ops, np.asarray(model.predict(theta))))
    theta[model.alts.index("shard_map")] += math.log(4)
    after = dict(zip(model.ops, np.asarray(model.predict(theta))))
    assert after["stablehlo.all_reduce"] > 1.5 * before["stablehlo.all_reduce"] > 0


def test_a_corpus_target_is_that_corpus_s_distribution(pilot_dir):
    from jaxsynth.corpus.analysis.coverage import Coverage
    from jaxsynth.corpus.analysis.quality import Quality
    from jaxsynth.corpus.run.readers import corpus_files, iter_records
    cov = Coverage(Quality(load_grammar()))
    for _, r, _ in iter_records(corpus_files(pilot_dir)[1]):
        cov.add(r)
    for measure in ("programs", "occurrences"):
        t = corpus_target(pilot_dir, measure)
        assert t.full and t.values == pytest.approx(shares(cov, measure))
        assert distance(t, Pilot.read(pilot_dir).values(measure)) == pytest.approx(0, abs=1e-12)


def test_distances_of_full_and_partial_targets():
    values = {"a": 0.5, "b": 0.25}
    half = {"a": 0.5, "b": 0.5}
    assert distance(Target("t", half, True), values) == pytest.approx(tv(normalised(values), half))
    assert distance(Target("t", {"a": 0.2}, False), values) == pytest.approx(0.3)
    assert distance(Target("t", {"c": 0.1}, False), values) == pytest.approx(0.1)


def test_tune_moves_a_partial_target_and_writes_usable_weights(tmp_path, capsys):
    target = tmp_path / "t.json"
    target.write_text(json.dumps({"stablehlo.sort": 0.3}))
    out = tmp_path / "w.weights"
    argv = ["tune", "--target", target, "-n", "150", "--verify", "150", "--iterations", "2", "--workers", "1",
            "--out", out, "--work", tmp_path / "work"]
    assert main([str(a) for a in argv]) == 0
    text = capsys.readouterr().out
    assert "iteration 0: max error" in text and "verified on 150 programs of seed 1000" in text
    start = float(text.split("iteration 0: max error ")[1].split()[0])
    verified = float(text.split("verified on 150 programs of seed 1000: max error ")[1].split()[0])
    assert verified < start
    grammar = override_weights(load_grammar(), read_weights_file(out))
    assert grammar.weights()["sort"] > load_grammar().weights()["sort"]
    # the kept pilots make a second run the same, without sampling them again
    out2 = tmp_path / "w2.weights"
    assert main([str(a) for a in argv[:-4] + ["--out", out2, "--work", tmp_path / "work"]]) == 0
    assert out2.read_text() == out.read_text()
    corpus = tmp_path / "c"
    assert main(["sample", "-n", "5", "--weights", str(out), "--workers", "1", "--out", str(corpus)]) == 0


def test_the_verification_corpus_has_a_seed_no_pilot_used(tmp_path):
    """Verifying on a pilot's seed would measure the solved weights on programs
    they were fitted to (the very corpus of the first pilot, when the best
    weights are the starting ones), and report a distance that flatters them."""
    target = tmp_path / "t.json"
    target.write_text(json.dumps({"stablehlo.sort": 0.3}))
    work = tmp_path / "work"
    argv = ["tune", "--target", target, "-n", "40", "--verify", "40", "--iterations", "1", "--workers", "1",
            "--out", tmp_path / "w.weights", "--work", work]
    assert main([str(a) for a in argv]) == 0
    pilots = sorted(work.glob("pilot-*"))
    assert [p.name for p in pilots] == ["pilot-0", "pilot-1"]
    assert all((corpus / "README.md").is_file() for corpus in (*pilots, work / "verify")), "each has its card"

    def seed(corpus):
        return json.loads((corpus / "manifest.json").read_text())["seed"]

    def programs(corpus):
        return [r["python"] for r in read_records(corpus)]
    assert seed(work / "verify") not in {seed(p) for p in pilots}
    assert all(programs(work / "verify") != programs(p) for p in pilots)


@pytest.mark.parametrize("content, says", [
    ('{"stablehlo.no_such_op": 0.5}', "'stablehlo.no_such_op' is not a stablehlo or chlo op"),
    ('{"stablehlo.sort": 1.5}', "must be a number in [0, 1]"),
    ('{"stablehlo.sort": true}', "must be a number in [0, 1]"),
    ('[1, 2]', "expected a JSON object"),
    ('{"stablehlo.sort": ', "not JSON"),
])
def test_a_bad_target_file_is_one_line(tmp_path, capsys, content, says):
    target = tmp_path / "t.json"
    target.write_text(content)
    line = fails(capsys, ["tune", "--target", target, "--out", tmp_path / "w"])
    assert str(target) in line and says in line
    assert not (tmp_path / "w").exists()


def test_tune_option_errors(tmp_path, capsys):
    assert "give one" in fails(capsys, ["tune", "--target", "x.json", "--target-corpus", tmp_path, "--out", "w"])
    assert "--tolerance" in fails(capsys, ["tune", "--tolerance", "2", "--out", tmp_path / "w"])
    assert "missing.json: cannot read" in fails(capsys, ["tune", "--target", tmp_path / "missing.json",
                                                         "--out", tmp_path / "w"])


def test_occurrence_shares_may_not_add_up_beyond_one(tmp_path):
    target = tmp_path / "t.json"
    target.write_text('{"stablehlo.sort": 0.7, "stablehlo.while": 0.7}')
    from jaxsynth.corpus.run.files import CorpusError
    with pytest.raises(CorpusError, match="more than 1"):
        file_target(target, "occurrences")
    assert file_target(target, "programs").values == {"stablehlo.sort": 0.7, "stablehlo.while": 0.7}


def test_profiles_ship_with_the_grammar_and_apply(tmp_path, capsys):
    from jaxsynth.synth.grammar import profile_path, profiles
    assert {"uniform-ops", "realistic"} <= set(profiles())
    default = load_grammar().weights()
    for name in profiles():
        text = profile_path(name).read_text()
        assert text.startswith("# weights solved by jaxsynth tune")
        weights = override_weights(load_grammar(), read_weights_file(profile_path(name))).weights()
        assert weights != default
    out = tmp_path / "c"
    assert main(["sample", "-n", "4", "--profile", "realistic", "--workers", "1", "--out", str(out)]) == 0
    manifest = json.loads((out / "manifest.json").read_text())
    realistic = override_weights(load_grammar(), read_weights_file(profile_path("realistic"))).weights()
    assert manifest["weights"] == pytest.approx(realistic)
    assert "--profile" in fails(capsys, ["sample", "--profile", "no-such-profile", "--out", tmp_path / "d"])


def test_a_draw_that_finds_no_program_is_a_failure_not_the_end(tmp_path, capsys, monkeypatch):
    """Solved weights can leave some signature nothing to apply (sampling
    raises NoProgram): that draw is its program's failure; the run goes on."""
    from jaxsynth.synth.space import NoProgram, Space
    real = Space.sample

    def starved(self, rng, inputs=None, tries=20):
        if rng.random() < 0.3:
            raise NoProgram("no program found for signature bf16[1,1] in 20 tries")
        return real(self, rng, inputs, tries)
    monkeypatch.setattr(Space, "sample", starved)
    out = tmp_path / "c"
    assert main(["sample", "-n", "10", "--workers", "1", "--out", str(out)]) == 0
    assert "NoProgram: no program found" in capsys.readouterr().out
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["counts"]["records"] == 10 and sum(manifest["counts"]["failures"].values()) > 0
