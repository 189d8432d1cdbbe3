"""The real-code reference: every function lowers, it reaches many ops, and its
shares are a distribution over the universe, the same in every process."""
import json
import math
import re
import subprocess
import sys
from collections import Counter

import pytest
from hypothesis import given
from hypothesis import strategies as st

from jaxsynth.corpus.analysis.realistic import format_table, ops_of_real_code, target_shares
from jaxsynth.corpus.analysis.reference import REAL_CODE
from jaxsynth.corpus.cli import main
from jaxsynth.lowering import universe
from jaxsynth.synth.types import parse_signature


@pytest.fixture(scope="module")
def records():
    return ops_of_real_code()


def test_the_table_is_the_documented_functions_with_valid_signatures():
    assert 40 <= len(REAL_CODE) <= 80
    names = [fn.__name__ for fn, _ in REAL_CODE]
    assert len(set(names)) == len(names)
    for fn, signature in REAL_CODE:
        assert fn.__doc__ and fn.__doc__.strip(), fn.__name__
        assert parse_signature(signature)


def test_every_function_lowers_and_uses_all_its_inputs(records):
    assert [r["name"] for r in records] == [fn.__name__ for fn, _ in REAL_CODE]
    for r, (_, signature) in zip(records, REAL_CODE):
        assert r["inputs"] == [str(t) for t in parse_signature(signature)]
        # jit drops unused inputs from main: an input missing there is a table mistake
        main_args = re.search(r"func\.func public @main\((.*?)\) ->", r["stablehlo"]).group(1)
        assert main_args.count("%arg") == len(r["inputs"]), r["name"]
        ops = {o["op"]: o["count"] for o in r["ops"]}
        assert ops["func.func"] >= 1 and all(n >= 1 for n in ops.values())
        assert [o["op"] for o in r["ops"]] == sorted(ops)


def test_the_real_code_reaches_many_ops(records):
    reached = {o["op"] for r in records for o in r["ops"]} & universe()
    assert len(reached) >= 60           # 66 with jax 0.10.2 on cpu
    for op in ("stablehlo.dot_general", "stablehlo.convolution", "stablehlo.reduce_window", "stablehlo.while",
               "stablehlo.scatter", "stablehlo.gather", "stablehlo.sort", "chlo.top_k", "stablehlo.case",
               "stablehlo.select_and_scatter", "chlo.erf_inv", "chlo.lgamma"):
        assert op in reached, op


@pytest.mark.parametrize("measure", ["programs", "occurrences"])
def test_target_shares_is_a_distribution_over_the_universe(records, measure):
    shares = target_shares(measure, records=records)
    assert math.isclose(sum(shares.values()), 1.0)
    assert set(shares) <= universe() and all(s > 0 for s in shares.values())
    assert set(shares) == {o["op"] for r in records for o in r["ops"]} & universe()


def test_the_programs_measure_counts_functions_and_occurrences_count_ops(records):
    containing = Counter(o["op"] for r in records for o in r["ops"] if o["op"] in universe())
    occurring = Counter()
    for r in records:
        occurring.update({o["op"]: o["count"] for o in r["ops"] if o["op"] in universe()})
    for measure, counts in (("programs", containing), ("occurrences", occurring)):
        total = sum(counts.values())
        shares = target_shares(measure, records=records)
        assert {op: round(s * total) for op, s in shares.items()} == dict(counts)


def test_a_bad_measure_is_refused():
    with pytest.raises(ValueError, match="measure"):
        target_shares("functions", records=[])


_ops = st.sampled_from(sorted(universe())[:20] + ["func.func", "func.return"])
_records = st.lists(st.dictionaries(_ops, st.integers(1, 5), min_size=1).map(
    lambda ops: {"ops": [{"op": o, "count": n} for o, n in sorted(ops.items())]}), min_size=1, max_size=8)


@given(_records, st.integers(2, 5))
def test_shares_depend_on_presence_or_on_counts_as_measured(recs, k):
    scaled = [{"ops": [{"op": o["op"], "count": k * o["count"]} for o in r["ops"]]} for r in recs]
    # presence alone for programs; proportions of counts for occurrences
    assert target_shares("programs", records=scaled) == target_shares("programs", records=recs)
    a, b = target_shares("occurrences", records=scaled), target_shares("occurrences", records=recs)
    assert a.keys() == b.keys() and all(math.isclose(a[op], b[op]) for op in a)
    for measure in ("programs", "occurrences"):
        shares = target_shares(measure, records=recs)
        assert set(shares) <= universe()
        assert not shares or math.isclose(sum(shares.values()), 1.0)


def test_the_lowering_is_the_same_bytes_in_another_process(records):
    out = subprocess.run([sys.executable, "-m", "jaxsynth", "reference", "--json"],
                         capture_output=True, text=True, check=True).stdout
    assert out == "\n".join(json.dumps(r) for r in records) + "\n"


def test_the_reference_command_prints_the_op_table(records, capsys):
    assert main(["reference", "--measure", "occurrences"]) == 0
    out = capsys.readouterr().out
    assert out == format_table(records, "occurrences") + "\n"
    shares = target_shares("occurrences", records=records)
    top = next(iter(shares))
    assert re.search(rf"^{re.escape(top)}\s+\d+\s+\d+\s+{100 * shares[top]:.2f}%$", out, re.M)
    assert out.startswith(f"{len(REAL_CODE)} functions of real JAX code reach {len(shares)} ")


def test_a_bad_option_is_one_line_and_exit_2(capsys):
    assert main(["reference", "--measure", "everything"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("jaxsynth: error: ") and err.count("\n") == 1
