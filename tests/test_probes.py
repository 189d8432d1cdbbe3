"""The reach of JAX (`lowering/reach.py`): every probe emits its op, the probes
and the not-emitted table split the universe exactly, and the coverage report's
two denominators (ops JAX can emit, all registered ops) agree with a recount."""
import json
from functools import lru_cache

import pytest

from jaxsynth.corpus.analysis import coverage as coverage_module
from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.lowering import load_function, universe
from jaxsynth.lowering.reach import MODES, NOT_EMITTED, PROBES, lower_probe, reach_of, reachable
from jaxsynth.synth.types import parse_signature


@lru_cache(maxsize=None)
def _emitted(op: str) -> frozenset[str]:
    return frozenset(lower_probe(PROBES[op]))


@pytest.mark.parametrize("op", sorted(PROBES))
def test_probe_emits_its_op(op):
    assert op in _emitted(op), f"{reach_of(op)} no longer emits {op}: move it to NOT_EMITTED, or find another probe"


def test_probes_and_not_emitted_partition_the_universe():
    probed, not_emitted = set(PROBES), set(NOT_EMITTED)
    assert not probed & not_emitted
    assert not universe() - probed - not_emitted, "ops the installed jaxlib registers that reach.py does not place"
    assert not (probed | not_emitted) - universe(), "ops reach.py places that the installed jaxlib does not register"
    assert reachable() == probed


def test_no_probe_emits_an_op_said_not_to_be_emitted():
    """The probes lower some 120 varied functions on every mode: none of them
    may reach an op the table says JAX never emits."""
    emitted = set().union(*(_emitted(op) for op in PROBES))
    assert not emitted & set(NOT_EMITTED)
    assert {op for op in emitted if op.startswith(("stablehlo.", "chlo."))} <= universe()


@pytest.mark.parametrize("op", sorted(op for op, p in PROBES.items() if p.mode in ("tpu", "symbolic", "mesh-cuda")))
def test_a_probe_needs_its_mode(op):
    """Lowered the plain way (on cpu, static shapes, or the mesh on cpu), the
    probe does not emit its op: the mode is why it is reachable."""
    probe = PROBES[op]
    plain = probe._replace(mode="mesh" if probe.mode == "mesh-cuda" else "cpu")
    try:
        emitted = lower_probe(plain)
    except NotImplementedError:          # psend, pbroadcast, ...: lowered on GPU only
        return
    assert op not in emitted


def test_every_mode_is_used_and_a_probe_is_well_formed():
    assert {p.mode for p in PROBES.values()} == set(MODES)
    for op, p in PROBES.items():
        assert p.api.strip() and p.mode in MODES, op
        parse_signature(p.inputs)
        assert callable(load_function(p.source))


def test_reach_of():
    assert reach_of("stablehlo.cholesky") == "tpu: jnp.linalg.cholesky"
    assert reach_of("stablehlo.all_reduce") == "mesh: lax.psum"
    assert reach_of("stablehlo.dot").startswith("legacy op") and "dot_general" in reach_of("stablehlo.dot")
    for op, reason in NOT_EMITTED.items():
        assert isinstance(reason, str) and len(reason.split()) >= 4, op
        assert reach_of(op) == reason
    with pytest.raises(KeyError):
        reach_of("stablehlo.no_such_op")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("reach") / "c"
    assert main(["sample", "-n", "30", "--seed", "1", "--workers", "1", "--out", str(out)]) == 0
    return out


def _hits(corpus) -> set[str]:
    return {o["op"] for r in read_records(corpus) for o in r["ops"] if o["op"] in universe()}


def test_coverage_has_two_denominators(tiny, capsys):
    """Numbers and lists of the report against a recount from the records and the tables."""
    assert main(["coverage", str(tiny), "--json"]) == 0
    r = json.loads(capsys.readouterr().out)
    hit = _hits(tiny)
    assert hit - set(PROBES) == set(), "a JAX corpus hits only ops JAX can emit"
    assert (r["universe"], r["covered"], r["coverage"]) == (len(universe()), len(hit),
                                                            round(len(hit) / len(universe()), 4))
    assert (r["reachable"], r["covered_reachable"], r["coverage_reachable"]) == \
        (len(PROBES), len(hit), round(len(hit) / len(PROBES), 4))
    assert r["coverage_reachable"] > r["coverage"]
    assert r["never_hit_reachable"] == {op: PROBES[op].summary() for op in sorted(set(PROBES) - hit)}
    assert r["not_emitted"] == dict(sorted(NOT_EMITTED.items()))
    assert r["never_hit"] == sorted(r["never_hit_reachable"].keys() | r["not_emitted"].keys())
    assert r["hit_not_emitted"] == r["unclassified"] == []

    assert main(["coverage", str(tiny)]) == 0
    text = capsys.readouterr().out
    first = text.splitlines()[0]
    assert first == (f"30 programs; {len(hit)} of the {len(PROBES)} ops JAX can emit "
                     f"({100 * len(hit) / len(PROBES):.1f}%), {len(hit)} of all {len(universe())} "
                     f"stablehlo/chlo ops ({100 * len(hit) / len(universe()):.1f}%)")
    never = text[text.index("never hit, JAX can emit"):text.index("never hit, JAX never emits")]
    assert [line.split(None, 1) for line in never.splitlines()[1:] if line.strip()] == \
        [[op, how] for op, how in r["never_hit_reachable"].items()]
    tail = text[text.index("never hit, JAX never emits"):text.index("alternatives never used")]
    assert {word.rstrip(":") for word in tail.split()} >= set(NOT_EMITTED)
    tail = " ".join(tail.split())           # undo the wrapping
    assert tail.count(f"stablehlo.dot: {NOT_EMITTED['stablehlo.dot']}") == 1
    broadcasting = sorted(op for op in NOT_EMITTED if op.startswith("chlo.broadcast_"))
    assert tail.count(f"{' '.join(broadcasting)}: {NOT_EMITTED['chlo.broadcast_add']}") == 1, \
        "ops sharing a reason are listed once, together"


def test_coverage_reports_a_stale_table(tiny, grammar, monkeypatch):
    """An op hit that the table says JAX never emits, and an op a newer jaxlib
    registers that neither table names, are reported, not lost."""
    monkeypatch.setattr(coverage_module, "universe", lambda: universe() | {"stablehlo.new_op"})
    cov = coverage_module.Coverage(coverage_module.Quality(grammar))
    for k, record in enumerate(read_records(tiny)):
        if k == 0:
            record["ops"].append({"op": "stablehlo.dot", "count": 2})
        cov.add(record)
    r = cov.report()
    assert r["hit_not_emitted"] == ["stablehlo.dot"] and "stablehlo.dot" not in r["not_emitted"]
    assert {"op": "stablehlo.dot", "count": 2, "programs": 1} in r["ops"]
    assert r["unclassified"] == ["stablehlo.new_op"] and "stablehlo.new_op" in r["never_hit"]
    assert "stablehlo.new_op" not in r["never_hit_reachable"].keys() | r["not_emitted"].keys()
    assert (r["universe"], r["reachable"]) == (len(universe()) + 1, len(PROBES))
    assert r["covered"] == r["covered_reachable"] + 1
    text = coverage_module.format_report(r)
    assert "hit, though lowering/reach.py says JAX never emits them: stablehlo.dot\n" in text
    assert "in neither table of lowering/reach.py: stablehlo.new_op\n" in text
