"""Programs worth having: no operation whose result is fixed by construction,
nothing JAX deletes when lowering, sub-programs that use their surroundings.

Checked on 5,000 sampled programs and on every enumerated program of size
<= 2 of two signatures, each lowered with JAX, and with the corpus quality
scan (`corpus.quality`) on hand-made records."""
import random
from collections import Counter

import pytest

import brute
from jaxsynth.corpus.analysis.quality import Quality
from jaxsynth.corpus.run.records import make_records
from jaxsynth.synth.program import Program, captures, chain_scope
from jaxsynth.synth.rules import Body, Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import parse_signature

SCOPE = parse_signature("f32[2,3], f32[3], f32[3], i32[3], i32[3], bool[3], bool[3], bool[], i32[], f32[], f32[2,3,1], "
                        "f32[16,16], c64[4], c64[4], f32[1,2,4,4], f32[3,2,2,2], f32[2,3,2], i32[2], u8[3], c64[3,3], c64[3,2]")


KINDS = 6          # one-step programs per alternative, of distinct kinds of operands
TRANSFORMS = {"vmap"}   # no op of its own: its trace is its sub-program's, batched


def control_flow(grammar):
    """Alternatives that lower to a while or case op: calls of the lax
    functions the quality scan counts."""
    from jaxsynth.corpus.analysis.quality import CONTROL_FLOW
    first = {a.name: grammar.literals.get(a.expansion[0].name, "") for a in grammar.alts}
    return {name for name, lit in first.items() if lit.removeprefix("lax.") in CONTROL_FLOW}


@pytest.fixture(scope="module")
def signature_ops(grammar, space):
    """Alternative -> the ops its one-step programs lower to (one program per
    kind of operands, up to KINDS of them: `jnp.square` is chlo.square on
    floats, a multiply on ints), less the ops most alternatives' one-step
    programs have (constants, broadcasts, converts)."""
    programs, kinds = {}, Counter()
    for alt in space.alts:
        for app in space.apps(alt, SCOPE):
            kind = (alt.name, tuple(SCOPE[j].dtype for j in app.slots if isinstance(j, int)), app.result.dtype,
                    app.result.rank)
            if kind in programs or kinds[alt.name] >= KINDS:
                continue
            bodies = sum(isinstance(s, Body) for s in app.slots)      # of one operation each
            step = next(brute.with_bodies(space, alt, app, SCOPE, 1, bodies), None)
            if step:
                programs[kind] = Program(SCOPE, (step,))
                kinds[alt.name] += 1
    # operations that apply only inside a mesh: as the one operation of a shard_map's sub-program
    mesh = next(a for a in space.alts if a.rule.name == "shard_map")
    for app in space.apps(mesh, SCOPE):
        for step in brute.with_bodies(space, mesh, app, SCOPE, 1, 1):
            inner = step.bodies[0][0].alt
            if inner.rule.within and (inner.name,) not in programs:
                programs[(inner.name,)] = Program(SCOPE, (step,))
    own = {}
    for key, (p, r) in zip(programs, make_records([({"id": ""}, p) for p in programs.values()], space.grammar,
                                                  "statements")):
        own.setdefault(key[0], set()).update(o["op"] for o in r["ops"] if not o["op"].startswith("func."))
    assert len(own) == len(space.alts) and all(own.values()), sorted({a.name for a in space.alts} - set(own))
    freq = Counter(op for ops in own.values() for op in ops)
    return {name: {op for op in ops if freq[op] <= len(own) / 2} or ops for name, ops in own.items()}


def lowered(space, programs):
    records = list(make_records([({"id": str(k)}, p) for k, p in enumerate(programs)], space.grammar, "statements"))
    assert all(isinstance(r, dict) for _, r in records), "every program lowers"
    return records


def check_nothing_vanishes(records, signature_ops, quality):
    loops_of = control_flow(quality.grammar)
    for program, r in records:
        ops = {o["op"]: o["count"] for o in r["ops"]}
        quality.add(r)
        main = r["stablehlo"].split("func.func public @main(", 1)[1].split(") ->", 1)[0]
        assert main.count("%arg") == len(program.inputs), r["python"]
        for alt in set(program.alternatives) - TRANSFORMS:
            assert signature_ops[alt] & set(ops), f"{alt} left none of {signature_ops[alt]} in\n{r['python']}"
        loops = sum(1 for a in program.alternatives if a in loops_of)
        assert ops.get("stablehlo.while", 0) + ops.get("stablehlo.case", 0) >= loops, r["python"]


def all_steps(steps):
    for s in steps:
        yield s
        for chain in s.bodies:
            yield from all_steps(chain)


@pytest.mark.slow
def test_sampled_programs_keep_every_operation(grammar, space, signature_ops):
    quality = Quality(grammar)
    programs = [space.sample(random.Random(f"quality:{k}")) for k in range(5000)]
    check_nothing_vanishes(lowered(space, programs), signature_ops, quality)
    q = quality.report()
    assert q["unparsed"] == 0 and q["degenerate_programs"] == 0
    assert q["control_flow"] > 1000 and q["control_flow_vanished"] == 0 and q["arity_mismatches"] == 0
    assert q["capturing_share"] >= 0.3 and q["fori_index_share"] >= 0.5


@pytest.mark.slow
@pytest.mark.parametrize("sig", ["f32[3], bool[]", "bool[2]"])
def test_enumerated_programs_keep_every_operation(grammar, signature_ops, sig):
    space = Space(grammar, Config(pools=Pools(dims=(2,))))
    enum = Enumeration(space, parse_signature(sig))
    programs = list(enum.programs(2))
    assert len(programs) > 1500
    quality = Quality(grammar)
    check_nothing_vanishes(lowered(space, programs), signature_ops, quality)
    assert quality.report()["degenerate_programs"] == 0


def test_distinct_alternatives_never_get_equal_operands(grammar, space):
    distinct = seen = 0
    for k in range(2000):
        for s in all_steps(space.sample(random.Random(f"distinct:{k}")).steps):
            operands = [x for x in s.app.slots if isinstance(x, int)]
            if s.alt.distinct:
                distinct += 1
                assert len(set(operands)) == len(operands)
                assert len(s.bodies) < 2 or len(set(s.bodies)) > 1, "branches not all the same"
            seen += len(set(operands)) < len(operands)
    assert distinct > 1000 and seen > 100, "x * x and x + x stay legal"


def test_sub_programs_are_never_empty_and_capture_their_scope(space):
    captured = bodies = 0
    for k in range(1000):
        for s in all_steps(space.sample(random.Random(f"bodies:{k}")).steps):
            for body, chain in zip((b for b in s.app.slots if isinstance(b, Body)), s.bodies):
                bodies += 1
                assert chain, "no empty sub-program"
                captured += any(j >= len(chain_scope(body)) + 1 for c in chain for j in c.app.slots
                                if isinstance(j, int))
    assert bodies > 300 and captured / bodies > 0.3


def test_a_value_read_only_inside_a_body_is_not_returned(space):
    for k in range(500):
        p = space.sample(random.Random(f"capture:{k}"))
        inside = {j for s in p.steps for j in captures(s)}
        operands = {j for s in p.steps for j in s.app.slots if isinstance(j, int)}
        if inside - operands:
            assert not (inside - operands) & set(p.outputs)
            return
    pytest.fail("no program captured a value it used nowhere else")


def _record(python, stablehlo="", ops=()):
    return {"python": "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n\n\n" + python,
            "stablehlo": stablehlo, "ops": [{"op": o, "count": c} for o, c in ops]}


def test_quality_scan_finds_each_fault(grammar):
    main2 = "func.func public @main(%arg0: tensor<3xf32>, %arg1: tensor<i1>) -> (tensor<3xf32>)"
    q = Quality(grammar)
    q.add(_record('def f(x0):\n    """f32[3] -> f32[3]"""\n    v0 = x0 - x0\n    return v0\n',
                  "func.func public @main(%arg0: tensor<3xf32>) -> (tensor<3xf32>)"))
    q.add(_record('def f(x0, x1):\n    """f32[3], bool[] -> f32[3]"""\n'
                  '    v0 = lax.cond(x1, lambda a: jnp.exp(a), lambda a: jnp.exp(a), x0)\n    return v0\n',
                  main2, [("stablehlo.case", 1)]))
    q.add(_record('def f(x0, x1):\n    """f32[3], bool[] -> f32[3]"""\n'
                  '    v0 = lax.fori_loop(0, 2, lambda i, c: c * x0, x0)\n    v1 = jnp.zeros_like(x1)\n'
                  '    return v0, v1\n', "func.func public @main(%arg0: tensor<3xf32>) -> (tensor<3xf32>)"))
    q.add(_record("def f(x0):\n    import os\n    return x0\n", "func.func public @main(%arg0: tensor<3xf32>)"))
    q.add(_record("this is not Python (", "func.func public @main()"))
    r = q.report()
    assert r["programs"] == 5 and r["unparsed"] == 2
    assert r["degenerate_programs"] == 2                       # x0 - x0; two equal branches
    assert r["control_flow"] == 2 and r["control_flow_vanished"] == 1    # the loop left no while
    assert r["bodies"] == 3 and r["capturing_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["fori_bodies"] == 1 and r["fori_index_share"] == 0
    assert r["arity_mismatches"] == 1
    assert r["self_operand_share"] == pytest.approx(1 / 3, abs=1e-4)    # x0 - x0; not cond(x1, .., x0), c * x0


def test_quality_scan_counts_switch_branches(grammar):
    q = Quality(grammar)
    q.add(_record('def f(x0, x1):\n    """f32[3], i32[] -> f32[3]"""\n'
                  '    v0 = lax.switch(x1, [lambda a: jnp.exp(a), lambda a: a * x0, lambda a: jnp.sin(a)], x0)\n'
                  '    return v0\n', "func.func public @main(%arg0: tensor<3xf32>, %arg1: tensor<i32>)",
                  [("stablehlo.case", 1)]))
    r = q.report()
    assert r["bodies"] == 3 and r["capturing_share"] == pytest.approx(1 / 3, abs=1e-4)
    assert r["control_flow_vanished"] == 0 and r["degenerate_programs"] == 0 and r["arity_mismatches"] == 0
