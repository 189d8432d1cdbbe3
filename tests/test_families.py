"""The operation families: every alternative's type transfer agrees with JAX,
sub-programs keep to their context (collectives only on a mesh, nothing
without a derivative under differentiation, no capture where JAX forbids
one), several results bind as `a, b = ...`, and the dtype set is the one
table read through the grammar's DTYPE terminal."""
import random

import jax
import pytest

import brute
from jaxsynth.lowering import load_function
from jaxsynth.synth.grammar import GrammarError, load_grammar
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.program import Program
from jaxsynth.synth.rules import Body, REGISTRY
from jaxsynth.synth.space import Config, Space
from jaxsynth.synth.types import DTYPES, parse_signature

# one value of each kind the families read: matrices, complex vectors, an
# image batch and a kernel, expert matrices and group sizes, scalars
SCOPE = parse_signature("f32[2,3], f32[3], f32[3], i32[3], bool[3], bool[], i32[], f32[], f32[16,16], c64[4], "
                        "f32[1,2,4,4], f32[3,2,2,2], f32[2,3,2], i32[2], u8[3], bf16[4,2], i8[2,3], c64[3,3], c64[3,2]")


def jax_types(program, grammar):
    fn = load_function(to_source(program.tree, grammar))
    out = jax.eval_shape(fn, *[t.spec() for t in program.inputs])
    return sorted((o.dtype.name, tuple(o.shape)) for o in jax.tree.leaves(out))


def one_step_programs(space, per_alt=12):
    """Alternative -> up to `per_alt` one-step programs over SCOPE (spread over
    its applications); operations that apply only on a mesh as the one
    operation of a shard_map's sub-program."""
    out = {}
    for alt in space.alts:
        apps = space.apps(alt, SCOPE)
        for app in apps[::max(1, len(apps) // per_alt)]:
            bodies = sum(isinstance(s, Body) for s in app.slots)
            step = next(brute.with_bodies(space, alt, app, SCOPE, 1, bodies), None)
            if step:
                out.setdefault(alt.name, []).append(Program(SCOPE, (step,)))
    mesh = next(a for a in space.alts if a.rule.name == "shard_map")
    for app in space.apps(mesh, SCOPE):
        for step in brute.with_bodies(space, mesh, app, SCOPE, 1, 1):
            inner = step.bodies[0][0].alt.name
            if step.bodies[0][0].alt.rule.within and len(out.get(inner, [])) < per_alt:
                out.setdefault(inner, []).append(Program(SCOPE, (step,)))
    return out


def test_every_alternative_types_as_jax_does(grammar, space):
    programs = one_step_programs(space)
    assert set(programs) == {a.name for a in space.alts}
    for name, ps in programs.items():
        for p in ps:
            want = sorted((DTYPES[t.dtype].name, t.shape) for t in p.output_types)
            assert jax_types(p, grammar) == want, f"{name}:\n{to_source(p.tree, grammar)}"


def steps_within(steps, context=()):
    """(step, the context it runs within) for every step, sub-programs included."""
    for s in steps:
        yield s, dict(context)
        for body, chain in zip((b for b in s.app.slots if isinstance(b, Body)), s.bodies):
            yield from steps_within(chain, tuple(dict(dict(context), **dict(body.context)).items()))


@pytest.fixture(scope="module")
def sampled(space):
    return [space.sample(random.Random(f"families:{k}")) for k in range(1500)]


def test_sub_programs_keep_to_their_context(sampled):
    seen = {"mesh": 0, "diff": 0, "closed": 0}
    for p in sampled:
        for s, ctx in steps_within(p.steps):
            if s.alt.rule.within:
                assert s.alt.rule.within in ctx, s.alt.name           # collectives only on a mesh
            if s.alt.rule.outside:
                assert s.alt.rule.outside not in ctx, s.alt.name      # no mesh inside a mesh, ...
            if ctx.get("diff"):
                assert "nodiff" not in s.alt.flags, s.alt.name
            if s.alt.same:                    # jnp.pad(x, (0, x.shape[0])): one value
                assert len({j for j in s.app.slots if isinstance(j, int)}) == 1, s.alt.name
            for body, chain in zip((b for b in s.app.slots if isinstance(b, Body)), s.bodies):
                closed = dict(ctx, **dict(body.context)).get("closed")
                local = len(body.params)      # chain scope + the current value
                if closed:
                    assert all(j < local for c in chain for j in c.app.slots if isinstance(j, int))
            for key in seen:
                seen[key] += bool(ctx.get(key))
    assert all(seen.values()), seen          # each context was met


def test_several_results_bind_together(grammar, sampled):
    multi = [p for p in sampled if any(s.app.more for s in p.steps)]
    assert len(multi) > 20
    for p in multi[:50]:
        src = to_source(p.tree, grammar)
        assert grammar.parse(src) == p.tree
        k = next(k for k, s in enumerate(p.steps) if s.app.more)
        names = ", ".join(p.name(i) for i in p.values[k])
        assert f"    {names} = " in src
        assert len(jax_types(p, grammar)) == len(p.outputs)


def test_symbolic_runs_sample_only_what_batches(grammar):
    """Under vmap (symbolic lowering) no operation without a batching rule."""
    space = Space(grammar, Config(batched=True))
    outside = {a.name for a in grammar.alts if a.rule.outside == "batched"}
    assert outside
    for k in range(300):
        p = space.sample(random.Random(f"batched:{k}"))
        assert not outside & set(p.alternatives)


def test_dtypes_come_from_the_table_through_the_dtype_terminal(tmp_path):
    """The packaged grammar writes every dtype of the table; a grammar whose
    DTYPE terminal names three has values of those three only."""
    text = load_grammar().text
    assert load_grammar().dtypes == tuple(DTYPES)
    three = tmp_path / "three.lark"
    three.write_text(text.replace(r"DTYPE: /jnp\.[a-z0-9_]+/", r"DTYPE: /jnp\.(float32|int32|bool_)/"))
    grammar = load_grammar(three)
    assert grammar.dtypes == ("f32", "i32", "bool")
    space = Space(grammar)
    for k in range(200):
        assert {t.dtype for t in space.sample(random.Random(k)).types} <= {"f32", "i32", "bool"}
    bad = tmp_path / "bad.lark"
    bad.write_text(text.replace(r"DTYPE: /jnp\.[a-z0-9_]+/", r"DTYPE: /jnp\.float64/"))
    with pytest.raises(GrammarError, match=r"bad\.lark:\d+: terminal DTYPE matches no dtype"):
        load_grammar(bad)


def test_rules_loop_over_the_values_their_domains_accept(grammar):
    """The framework offers a transfer exactly the operands in its domains."""
    seen = []
    rule = REGISTRY["unary"]
    for app in rule.apps(SCOPE, Space(grammar).pools, ("int",)):
        seen.append(app.slots[0])
    assert [SCOPE[i].dtype for i in seen] == [t.dtype for t in SCOPE if DTYPES[t.dtype].kind in ("int", "uint")]
    top = [SCOPE[a.slots[0]] for a in REGISTRY["transpose_all"].apps(SCOPE, Space(grammar).pools)]
    assert top and all(t.rank >= 2 for t in top)


@pytest.mark.parametrize("wrapper", ["value_and_grad", "vmap", "shard_map", "composite"])
def test_every_operation_a_sub_program_may_hold_traces_there(grammar, space, wrapper):
    """For each alternative the context of a sub-program allows (under
    differentiation, vmap, a mesh, closed), a one-operation body of it traces:
    a context that let in what JAX refuses there (scatter_mul under grad)
    fails here."""
    alt = grammar.by_name[wrapper]
    inner = {}
    for app in space.apps(alt, SCOPE):
        for step in brute.with_bodies(space, alt, app, SCOPE, 1, 1):
            inner.setdefault(step.bodies[0][0].alt.name, []).append(Program(SCOPE, (step,)))
    assert len(inner) > 40
    for name, programs in inner.items():
        for p in programs[::max(1, len(programs) // 6)]:       # where the body's value sits varies
            want = sorted((DTYPES[t.dtype].name, t.shape) for t in p.output_types)
            assert jax_types(p, grammar) == want, f"{name} in {wrapper}:\n{to_source(p.tree, grammar)}"
