"""The expansion space: typed sampling, dataflow graphs, exhaustive enumeration."""
import random

import jax
import networkx as nx
import pytest
from hypothesis import given, settings, strategies as st

import brute
from jaxsynth.lowering import load_function
from jaxsynth.synth.grammar import override_weights
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.program import Program, Step
from jaxsynth.synth.rules import Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import DTYPES, parse_signature


def _jax_types(program, grammar):
    fn = load_function(to_source(program.tree, grammar))
    out = jax.eval_shape(fn, *[t.spec() for t in program.inputs])
    return [(o.dtype.name, tuple(o.shape)) for o in (out if isinstance(out, tuple) else (out,))]


def test_types_agree_with_jax(grammar, space):
    """Every rule's result type is the type JAX computes: programs are never ill-typed."""
    for k in range(200):
        p = space.sample(random.Random(f"types:{k}"))
        want = [(DTYPES[t.dtype][0], t.shape) for t in p.output_types]
        assert _jax_types(p, grammar) == want, to_source(p.tree, grammar)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**40))
def test_sampling_is_deterministic(space, seed):
    a, b = space.sample(random.Random(seed)), space.sample(random.Random(seed))
    assert a.tree == b.tree and a.structural_hash == b.structural_hash


def test_given_signature_is_kept(space):
    sig = parse_signature("f32[4,8], i32[8]")
    for k in range(20):
        assert space.sample(random.Random(k), sig).inputs == sig


def test_dataflow_graph(space):
    reuse = 0
    for k in range(200):
        p = space.sample(random.Random(f"graph:{k}"))
        g = p.graph
        assert nx.is_directed_acyclic_graph(g)
        for v, data in g.nodes(data=True):
            if data["kind"] == "input":
                assert g.out_degree(v) >= 1, "every input is used"
            assert g.out_degree(v) >= 1 or data.get("output"), "no dead values"
            if data["kind"] == "op":
                t = p.types[list(g.nodes).index(v)]
                assert (data["dtype"], data["shape"]) == (t.dtype, t.shape)
        assert p.size >= len(p.steps) and 1 <= p.depth <= len(p.steps)
        reuse += any(g.out_degree(v) > 1 for v in g if v.startswith("v"))
    assert reuse > 10, "values are reused: programs are DAGs, not only trees"


def test_structural_hash_ignores_names_and_order(grammar):
    space = Space(grammar)
    sig = parse_signature("f32[3]")
    exp, sin, add = (grammar.by_name[n] for n in ("exp", "sin", "add"))
    a_exp, = space.apps(exp, sig)
    a_sin, = space.apps(sin, sig)
    p1 = Program(sig, (Step(exp, a_exp), Step(sin, a_sin)))
    p2 = Program(sig, (Step(sin, a_sin), Step(exp, a_exp)))
    assert to_source(p1.tree, grammar) != to_source(p2.tree, grammar)
    assert p1.structural_hash == p2.structural_hash
    types = sig + (a_exp.result,)
    apps = space.apps(add, types)
    p3 = Program(sig, (Step(exp, a_exp), Step(add, apps[1])))     # exp(x) + ... differs
    assert p3.structural_hash != p1.structural_hash
    assert Program(parse_signature("f32[4]"), p1.steps).structural_hash != p1.structural_hash


def _small_space(grammar, names):
    g = override_weights(grammar, [("test", a.name, "1" if a.name in names else "0") for a in grammar.alts])
    return Space(g, Config(pools=Pools(dims=(2,), floats=("2.0",), small_ints=(2,))))


SMALL = ("exp", "add", "sub", "sum", "transpose_all", "all", "cond", "fori_loop", "while_loop", "argmax", "switch")


@pytest.mark.parametrize("sig, max_size", [("f32[2]", 3), ("f32[2,2], bool[]", 3),
                                           pytest.param("f32[2], bool[], i32[]", 4, marks=pytest.mark.slow)])
def test_counts_equal_brute_force(grammar, sig, max_size):
    space = _small_space(grammar, SMALL)
    inputs = parse_signature(sig)
    enum = Enumeration(space, inputs)
    for size in range(1, max_size + 1):
        listed = brute.programs(space, inputs, size)
        assert enum.count(size) == len(listed)
        assert listed or size < 3, "control flow needs 3 operations: 2 branches, 1 cond"
        unranked = [enum.program(size, i) for i in range(enum.count(size))]
        texts = [to_source(p.tree, space.grammar) for p in unranked]
        assert len(set(texts)) == len(texts), "each index gives a different program"
        assert set(texts) == {to_source(p.tree, space.grammar) for p in listed}, "and together all of them"
        assert all(p.size == size for p in unranked)


def test_pair_carry_counts_equal_brute_force(grammar):
    """A pair carry's first chain must read the second component: counted exactly."""
    space = _small_space(grammar, ("exp", "sub", "mul", "fori_pair", "zeros_like"))
    inputs = parse_signature("f32[2], f32[2]")
    enum = Enumeration(space, inputs)
    for size in (1, 2, 3):
        listed = brute.programs(space, inputs, size)
        assert enum.count(size) == len(listed)
    assert any("fori_pair" in p.alternatives for p in listed)
    texts = {to_source(enum.program(3, i).tree, space.grammar) for i in range(enum.count(3))}
    assert texts == {to_source(p.tree, space.grammar) for p in listed}


def test_several_results_and_contexts_count_as_brute_force_lists(grammar):
    """Steps with several results (top_k, divmod, scan, value_and_grad) and
    sub-programs on a mesh (shard_map, psum) over a mesh of 2: counted,
    unranked and listed alike."""
    names = ("exp", "add", "top_k", "divmod", "scan", "value_and_grad", "shard_map", "psum")
    g = override_weights(grammar, [("test", a.name, "1" if a.name in names else "0") for a in grammar.alts])
    space = Space(g, Config(pools=Pools(dims=(2,), floats=("2.0",), small_ints=(2,), devices=2)))
    inputs = parse_signature("f32[2]")
    enum = Enumeration(space, inputs)
    seen = set()
    for size in (1, 2, 3):
        listed = brute.programs(space, inputs, size)
        assert enum.count(size) == len(listed)
        texts = {to_source(enum.program(size, i).tree, g) for i in range(enum.count(size))}
        assert texts == {to_source(p.tree, g) for p in listed}
        seen |= {a for p in listed for a in p.alternatives}
    assert set(names) <= seen


def test_enumeration_uses_control_flow(grammar):
    space = _small_space(grammar, SMALL)
    alts = set()
    for sig in ("f32[2], bool[]", "i32[], i32[]"):
        enum = Enumeration(space, parse_signature(sig))
        every = max(1, enum.count(4) // 2000)      # programs come in blocks by first operation
        alts |= {a for i in range(0, enum.count(4), every) for a in enum.program(4, i).alternatives}
    assert {"cond", "while_loop", "fori_loop", "switch"} <= alts


def test_locate_and_range(grammar):
    enum = Enumeration(_small_space(grammar, SMALL), parse_signature("f32[2]"))
    c1, c2 = enum.count(1), enum.count(2)
    assert enum.locate(0, 2) == (1, 0) and enum.locate(c1, 2) == (2, 0)
    assert enum.locate(c1 + c2 - 1, 2) == (2, c2 - 1)
    with pytest.raises(IndexError):
        enum.locate(c1 + c2, 2)
    with pytest.raises(IndexError):
        enum.program(1, c1)


@settings(max_examples=12, deadline=None)
@given(names=st.lists(st.sampled_from(SMALL + ("mul", "where", "reshape", "slice", "concatenate", "astype",
                                                "lt", "argsort", "expand_dims", "pad", "fori_pair", "zeros_like")),
                      min_size=2, max_size=5, unique=True),
    sig=st.sampled_from(["f32[2]", "f32[2,2]", "f32[2], i32[2]", "bool[2], f32[2]"]))
def test_counts_equal_brute_force_property(grammar, names, sig):
    space = _small_space(grammar, names)
    inputs = parse_signature(sig)
    enum = Enumeration(space, inputs)
    for size in (1, 2):
        assert enum.count(size) == len(brute.programs(space, inputs, size))


def test_full_grammar_counts_equal_brute_force(grammar):
    space = Space(grammar, Config(pools=Pools(dims=(2,))))
    inputs = parse_signature("f32[2]")
    enum = Enumeration(space, inputs)
    assert [enum.count(k) for k in (1, 2)] == [len(brute.programs(space, inputs, k)) for k in (1, 2)]


@given(shapes=st.lists(st.lists(st.integers(1, 3), max_size=4).map(tuple), min_size=1, max_size=3))
def test_broadcast_matches_numpy(shapes):
    import numpy as np
    from jaxsynth.synth.rules.shapes import broadcast
    try:
        expected = tuple(np.broadcast_shapes(*shapes))
    except ValueError:
        expected = None
    assert broadcast(*shapes) == expected


@settings(max_examples=40, deadline=None)
@given(seed=st.integers(0, 2**32), max_ops=st.integers(1, 4))
def test_max_ops_bounds_the_top_level_steps(grammar, seed, max_ops):
    program = Space(grammar, Config(max_ops=max_ops)).sample(random.Random(seed))
    assert 1 <= len(program.steps) <= max_ops
    assert all(program.graph.out_degree(f"x{i}") for i in range(len(program.inputs)))


def test_depth_counts_operations(grammar):
    space = Space(grammar)
    sig = parse_signature("f32[4]")
    arange, mul = grammar.by_name["arange"], grammar.by_name["mul"]
    a_range = next(a for a in space.apps(arange, sig) if a.result == sig[0])
    a_mul = next(a for a in space.apps(mul, sig + (sig[0],)) if a.slots == (0, 1))
    p = Program(sig, (Step(arange, a_range), Step(mul, a_mul)))
    assert p.depth == 2      # arange, then the product: two operations on one path


def test_clearing_caches_keeps_the_transfer_tables_up_to_a_bound(grammar, monkeypatch):
    """A shard's end forgets scopes (they rarely recur) but keeps what the
    rules' transfers gave per tuple of operand types (they do), until those
    pass TRANSFERS_KEPT; what is sampled after either is the same."""
    from jaxsynth.synth import expansions
    space, fresh = Space(grammar), Space(grammar)
    first = [space.sample(random.Random(f"clear:{k}")).structural_hash for k in range(20)]
    kept = sum(map(len, space._tables.values()))
    assert kept > 0
    space.clear_caches()
    assert sum(map(len, space._tables.values())) == kept
    monkeypatch.setattr(expansions, "TRANSFERS_KEPT", kept - 1)
    space.clear_caches()
    assert space._tables == {}
    again = [space.sample(random.Random(f"clear:{k}")).structural_hash for k in range(20)]
    assert again == first == [fresh.sample(random.Random(f"clear:{k}")).structural_hash for k in range(20)]
