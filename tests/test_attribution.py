"""Attribution: which ops each grammar alternative of a program produced,
read from the source positions JAX gives every op (records.attribution)."""
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.records import PROGRAM, attribution, make_records
from jaxsynth.corpus.run.schema import check_record
from jaxsynth.corpus.run.readers import corpus_files, iter_records
from jaxsynth.lowering import lower, lower_batch
from jaxsynth.synth.safety import load_program
from jaxsynth.synth.types import parse_signature

HEADER = "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n\n\n"


def attributed(grammar, body: str, inputs: str, **lowering):
    source = HEADER + body
    fn = load_program(source, filename="<test>")
    low = lower(fn, [t.spec() for t in parse_signature(inputs)], **lowering)
    table: dict = {}
    for a in attribution(grammar.spans(source), low.sites):
        table.setdefault(a["alternative"], {})[a["op"]] = a["count"]
    return table, low


STATEMENTS = '''def f(x0):
    """f32[4] -> f32[4]"""
    v0 = jnp.exp(x0)
    v1 = jax.nn.relu(v0)
    v2 = jnp.sin(v1)
    return v2 * 2.0
'''
NESTED = '''def f(x0):
    """f32[4] -> f32[4]"""
    return jnp.sin(jnp.cos(jnp.exp(x0)))
'''


def test_each_op_goes_to_the_operation_that_wrote_it(grammar):
    table, low = attributed(grammar, STATEMENTS, "f32[4]")
    assert table["exp"] == {"stablehlo.exponential": 1}
    assert table["sin"] == {"stablehlo.sine": 1}
    # a helper JAX shares (@relu) belongs, body and all, to the call that reaches it
    assert table["relu"]["func.call"] == 1 and table["relu"]["func.func"] == 1
    assert "stablehlo.maximum" in table["relu"]
    assert "stablehlo.multiply" in table["scale"]
    # the function itself, and the literal 2.0, which JAX hoists out of its step without a position
    assert table[PROGRAM] == {"func.func": 1, "func.return": 1, "stablehlo.constant": 1}
    total = Counter()
    for ops in table.values():
        total.update(ops)
    assert dict(total) == low.ops


def test_nested_calls_on_one_line_are_told_apart_by_column(grammar):
    table, _ = attributed(grammar, NESTED, "f32[4]")
    assert table["exp"] == {"stablehlo.exponential": 1}
    assert table["cos"] == {"stablehlo.cosine": 1}
    assert table["sin"] == {"stablehlo.sine": 1}


def test_ops_inside_a_sub_program_go_to_its_own_operations(grammar):
    body = '''def f(x0):
    """f32[4] -> f32[4]"""
    return lax.fori_loop(0, 3, lambda i, c: jnp.tanh(c), x0)
'''
    if "fori_loop" not in grammar.by_name:
        pytest.skip("the grammar has no fori_loop")
    table, _ = attributed(grammar, body, "f32[4]")
    assert table["tanh"] == {"stablehlo.tanh": 1}
    assert "stablehlo.while" in table["fori_loop"]


def test_symbolic_lowering_is_attributed_too(grammar):
    table, _ = attributed(grammar, STATEMENTS, "f32[4]", symbolic=True)
    assert table["exp"] == {"stablehlo.exponential": 1}


def test_a_batch_attributes_as_lowering_alone(corpus_records):
    """Ops of helpers JAX shares across the batch stay with the program whose call reaches them."""
    records = corpus_records[:40]
    jobs = [(load_program(r["python"], filename=f"<{r['id']}>"),
             [t.spec() for t in parse_signature(", ".join(r["inputs"]))]) for r in records]
    for (fn, specs), batched in zip(jobs, lower_batch(jobs)):
        assert batched.sites == lower(fn, specs).sites


def test_every_record_shares_out_its_ops(corpus_records):
    for r in corpus_records:
        assert check_record(r) is None
        owners = {a["alternative"] for a in r["attribution"]}
        assert owners <= set(r["alternatives"]) | {PROGRAM}
        # an operation that lowers to one op of its own name is credited with it
        if "exp" in r["alternatives"]:
            assert any(a["alternative"] == "exp" and a["op"] == "stablehlo.exponential" for a in r["attribution"])


def test_the_schema_refuses_an_attribution_that_does_not_add_up(corpus_records):
    r = dict(corpus_records[0])
    r["attribution"] = [dict(a) for a in r["attribution"]]
    r["attribution"][0]["count"] += 1
    assert "does not add up" in check_record(r)
    r["attribution"][0]["count"] -= 1
    r["attribution"][0]["alternative"] = "no_such_alternative"
    assert "not one of the program's alternatives" in check_record(r)
    r["attribution"] = [{"alternative": "exp", "op": 3, "count": 1}]
    assert "attribution" in check_record(r)


@settings(max_examples=15, deadline=None)
@given(st.integers(0, 10 ** 6))
def test_attribution_adds_up_for_any_sampled_program(space, seed):
    import random
    program = space.sample(random.Random(seed))
    [(_, record)] = list(make_records([({"id": f"t{seed}"}, program)], space.grammar, "nested"))
    if isinstance(record, Exception):
        return
    assert check_record(record) is None


@pytest.fixture(scope="module")
def corpus_records(tmp_path_factory):
    out = tmp_path_factory.mktemp("attr") / "c"
    assert main(["sample", "-n", "120", "--seed", "5", "--workers", "1", "--out", str(out)]) == 0
    _, files = corpus_files(out)
    return [r for _, r, _ in iter_records(files)]


def test_validate_wants_attribution_in_a_format_4_corpus(tmp_path, capsys):
    import json
    out = tmp_path / "c"
    assert main(["sample", "-n", "6", "--seed", "1", "--workers", "1", "--out", str(out)]) == 0
    shard = out / "records-00000.jsonl"
    lines = shard.read_text().splitlines()
    record = json.loads(lines[2])
    del record["attribution"]
    lines[2] = json.dumps(record)
    shard.write_text("\n".join(lines) + "\n")
    capsys.readouterr()
    assert main(["validate", str(out)]) == 2
    said = capsys.readouterr().out
    assert f"{record['id']}: attribution missing" in said and "5 pass, 1 fail" in said
