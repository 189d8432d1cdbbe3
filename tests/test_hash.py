"""The structural hash: what it must tell apart, and what it must not.

It tells apart programs that differ in an operation's attributes, in a
sub-program, or in which operand fills which slot. It ignores variable names,
the order of independent statements, the order of returned values, and
whether a repeated subexpression is bound once or written twice (README,
"Programs, enumeration and the hash"). Records are deduplicated by this hash,
so a hash that confuses two programs silently drops one of them.

It is defined on the dataflow graph (`structural_hash_of_graph`) and computed
from the steps without the graph (`Program.structural_hash`): the two must
give the same string for every program, as must the two depths.
"""
import random

import pytest
from hypothesis import given, settings, strategies as st

import brute
import jaxsynth.synth.program as program_module
from jaxsynth.synth.grammar import override_weights
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.program import (BLANK, Program, Step, captures, chain_scope, depth_of_graph, label, op_tree,
                                    structural_hash_of_graph)
from jaxsynth.synth.rules import SHAPES, App, Body, Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import Type, parse_signature


def step(space, name, types, slots=None, attrs=None, bodies=()):
    """The step applying alternative `name` to these operand indices and attributes."""
    alt = space.grammar.by_name[name]
    for app in space.apps(alt, tuple(types)):
        operands = tuple(s for s in app.slots if isinstance(s, int))
        if (slots is None or operands == slots) and (attrs is None or app.attrs == attrs):
            return Step(alt, app, bodies)
    raise LookupError(f"no application of {name} to {slots} {attrs}")


def body_step(space, name, t, current=0):
    """A one-operand step inside a body chain of type t, applied to the current value
    (`current`: its index in the chain's scope, after the body's other parameters)."""
    return Step(space.grammar.by_name[name], App((current,), (), t))


def program(sig, *steps):
    return Program(parse_signature(sig), steps)


def hashes(*programs):
    return [p.structural_hash for p in programs]


# ---------------------------------------------------------------- what it tells apart

def test_attributes_tell_programs_apart(space):
    sig = parse_signature("f32[2,3]")
    by_axis = [program("f32[2,3]", step(space, "sum", sig, attrs=(ax, keep)))
               for ax in ("0", "1") for keep in ("False", "True")]
    by_shape = [program("f32[2,3]", step(space, "reshape", sig, attrs=(shape,))) for shape in ("(3, 2)", "(6,)")]
    assert len(set(hashes(*by_axis))) == 4
    assert len(set(hashes(*by_shape))) == 2


def test_operand_positions_tell_programs_apart(space):
    sig = parse_signature("f32[2], f32[2], bool[2]")
    assert len(set(hashes(*(program("f32[2], f32[2], bool[2]", step(space, "sub", sig, slots=s))
                            for s in ((0, 1), (1, 0)))))) == 2
    assert len(set(hashes(*(program("f32[2], f32[2], bool[2]", step(space, "where", sig, slots=s))
                            for s in ((2, 0, 1), (2, 1, 0)))))) == 2
    # x0 - exp(x0) is not exp(x0) - x0
    one = parse_signature("f32[2]")
    e = step(space, "exp", one, slots=(0,))
    a, b = (program("f32[2]", e, step(space, "sub", one + (e.app.result,), slots=s)) for s in ((0, 1), (1, 0)))
    assert a.structural_hash != b.structural_hash


def test_sub_programs_tell_programs_apart(space):
    sig = parse_signature("f32[2], bool[]")
    t = sig[0]
    exp, sin = (body_step(space, n, t) for n in ("exp", "sin"))
    conds = [program("f32[2], bool[]", step(space, "cond", sig, slots=(1, 0), bodies=bodies))
             for bodies in [((), ()), ((exp,), ()), ((), (exp,)), ((sin,), ()), ((exp,), (sin,)), ((exp, sin), ())]]
    assert len(set(hashes(*conds))) == len(conds)
    exp, sin = (body_step(space, n, t, current=1) for n in ("exp", "sin"))    # after the index i
    loops = [program("f32[2]", step(space, "fori_loop", sig[:1], attrs=(n,), bodies=(chain,)))
             for n in ("2", "3") for chain in [(), (exp,), (sin,), (exp, sin)]]
    assert len(set(hashes(*loops))) == len(loops)


def test_captured_values_tell_programs_apart(space):
    """`lambda i, c: c * x1` and `lambda i, c: c * x2`: the hash sees what a body captures."""
    sig = parse_signature("f32[2], f32[2], f32[2]")
    loop = step(space, "fori_loop", sig, slots=(0,), attrs=("2",))
    body = loop.app.slots[0]
    mul = space.grammar.by_name["mul"]
    cur = len(body.params) - 1                       # after the index i: c, then x0, x1, x2
    variants = [program("f32[2], f32[2], f32[2]",
                        loop._replace(bodies=((Step(mul, App((cur, cur + 1 + x), (), sig[0])),),)))
                for x in (1, 2)]
    assert [captures(p.steps[0]) for p in variants] == [[1], [2]]
    assert variants[0].structural_hash != variants[1].structural_hash
    assert "c * x1" in to_source(variants[0].tree, space.grammar)


@pytest.mark.parametrize("sig", ["f32[2,3]", "f32[3], bool[]", "i32[], f32[2]"])
def test_programs_of_one_statement_all_hash_apart(grammar, sig):
    """A program of one top-level statement has no order, no outputs to permute
    and nothing bound twice, so distinct derivations must hash apart. Listed by
    brute force: every alternative of the grammar with every attribute the
    pools allow, and every sub-program of up to two operations, captures included."""
    space = Space(grammar, Config(pools=Pools(dims=(2, 3), floats=("2.0",), small_ints=(2,))))
    inputs = parse_signature(sig)
    with_bodies = 0
    for size in (1, 2, 3):
        single = [Program(inputs, (s,)) for s in brute.top_steps(space, inputs, size)]
        single = [p for p in single if not set(range(len(inputs))) & set(p.outputs)]
        assert len({p.structural_hash for p in single}) == len(single), f"size {size}: hash collision"
        with_bodies += sum(bool(p.steps[0].bodies) for p in single)
    assert with_bodies > 1000


# ---------------------------------------------------------------- what it ignores

def test_names_do_not_matter(space, monkeypatch):
    programs = [space.sample(random.Random(f"names:{k}")) for k in range(100)]
    before = hashes(*programs)
    monkeypatch.setattr(program_module, "input_name", lambda i: f"arg_{i}")
    monkeypatch.setattr(program_module, "value_name", lambda i: f"tmp_{i}")
    renamed = [Program(p.inputs, p.steps) for p in programs]
    assert "arg_0" in to_source(renamed[0].tree, space.grammar)
    assert hashes(*renamed) == before


def remap(step: Step, f) -> Step:
    """The step with every value of the enclosing program it reads, as an operand
    or captured in a sub-program, renumbered by f."""
    def in_body(s: Step, local: int) -> Step:
        slots = tuple(local + f(j - local) if isinstance(j, int) and j >= local else j for j in s.app.slots)
        return s._replace(app=s.app._replace(slots=slots), bodies=chains(s))

    def chains(s: Step):
        bodies = [b for b in s.app.slots if isinstance(b, Body)]
        return tuple(tuple(in_body(c, len(chain_scope(b)) + 1) for c in chain) for b, chain in zip(bodies, s.bodies))

    slots = tuple(f(j) if isinstance(j, int) else j for j in step.app.slots)
    return step._replace(app=step.app._replace(slots=slots), bodies=chains(step))


def reorder(p: Program, rng: random.Random) -> Program:
    """The same computation with its statements in another valid order."""
    n = len(p.inputs)
    step_of = {v: k for k, vs in enumerate(p.values) for v in vs}     # value -> the step making it
    deps = [{step_of[j] for j in [x for x in s.app.slots if isinstance(x, int)] + captures(s) if j >= n}
            for s in p.steps]
    order, placed = [], set()
    while len(order) < len(p.steps):
        k = rng.choice([k for k in range(len(p.steps)) if k not in placed and deps[k] <= placed])
        order.append(k)
        placed.add(k)
    new_index, next_value = {}, n
    for k in order:
        for v in p.values[k]:
            new_index[v], next_value = next_value, next_value + 1
    return Program(p.inputs, tuple(remap(p.steps[k], lambda j: new_index.get(j, j)) for k in order))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32), shuffle=st.integers(0, 2**32))
def test_independent_statement_order_and_output_order_do_not_matter(space, seed, shuffle):
    p = space.sample(random.Random(seed))
    q = reorder(p, random.Random(shuffle))
    assert sorted(map(str, q.output_types)) == sorted(map(str, p.output_types))
    assert q.structural_hash == p.structural_hash


def test_reordering_does_change_the_text(space):
    """The invariance above is not vacuous: reordered programs print differently,
    returned values included."""
    rng = random.Random(0)
    texts_differ = returns_differ = 0
    for k in range(200):
        p = space.sample(random.Random(f"order:{k}"))
        q = reorder(p, rng)
        a, b = (to_source(x.tree, space.grammar) for x in (p, q))
        texts_differ += a != b
        returns_differ += p.output_types != q.output_types
    assert texts_differ > 50 and returns_differ > 10


def test_bound_once_or_written_twice(space):
    sig = parse_signature("f32[3]")
    e = step(space, "exp", sig, slots=(0,))
    t = e.app.result
    once = program("f32[3]", e, step(space, "add", sig + (t,), slots=(1, 1)))
    twice = program("f32[3]", e, e, step(space, "add", sig + (t, t), slots=(1, 2)))
    other = program("f32[3]", e, step(space, "sin", sig, slots=(0,)), step(space, "add", sig + (t, t), slots=(1, 2)))
    assert once.structural_hash == twice.structural_hash != other.structural_hash


def test_signature_matters(space):
    sig = parse_signature("f32[3]")
    p = program("f32[3]", step(space, "exp", sig))
    assert Program(parse_signature("f32[4]"), p.steps).structural_hash != p.structural_hash
    assert Program((Type("f32", (3,)),), p.steps).structural_hash == p.structural_hash


# ---------------------------------------------------------------- the graph and the steps agree

# operations with several results (`a, b = lax.top_k(x, 2)`): each result is a value of its own
MULTI_RESULT = ("top_k", "divmod", "sort_pair", "qr", "eigh")


def structured(grammar):
    """The space sampling only sub-programs (loops, branches, maps), operations
    with several results, shape-only operations (zeros_like, ten times as
    often as by default) and a few elementwise ones to fill the sub-programs with."""
    def weight(a):
        if not a.reads:
            return 10 * a.weight
        keep = a.has_bodies or a.name in MULTI_RESULT or a.name in ("add", "mul", "sub", "exp", "sin")
        return a.weight if keep else 0
    return Space(override_weights(grammar, [("test", a.name, str(weight(a))) for a in grammar.alts]))


@pytest.fixture(scope="module")
def samplers(grammar):
    default = Space(grammar)
    return {
        "default": default.sample,
        "large": Space(grammar, Config(max_ops=12, max_depth=3, max_body_ops=3)).sample,
        "batched": Space(grammar, Config(batched=True)).sample,
        "realistic": Space(grammar, Config(pools=SHAPES["realistic"])).sample,
        "structured": structured(grammar).sample,
        "swarm": lambda rng: default.sample_swarm(rng, 20),
    }


def assert_agrees_with_graph(p: Program):
    g = p.graph
    for s, vs in zip(p.steps, p.values):
        text = label(s, vs.start)
        assert text == str(op_tree(s, [BLANK] * vs.start, [BLANK] * vs.start))
        assert [g.nodes[p.name(i)]["label"] for i in vs] == ([text] if len(vs) == 1 else
                                                             [f"{text}#{r}" for r in range(len(vs))])
    assert p.structural_hash == structural_hash_of_graph(p)
    assert p.depth == depth_of_graph(p)


@settings(max_examples=300, deadline=None)
@given(seed=st.integers(0, 2**32), profile=st.sampled_from(["default", "large", "batched", "realistic",
                                                            "structured", "swarm"]))
def test_sampled_programs_hash_as_their_graph(samplers, seed, profile):
    assert_agrees_with_graph(samplers[profile](random.Random(seed)))


def test_samplers_reach_what_the_graph_records(samplers):
    """The property above meets every kind of edge and node: sub-programs,
    captured values, several results, shape-only uses, nested sub-programs."""
    steps = [s for i in range(40) for s in samplers["structured"](random.Random(f"kinds:{i}")).steps]
    assert sum(bool(s.bodies) for s in steps) > 20
    assert sum(bool(captures(s)) for s in steps) > 10
    assert sum(bool(s.app.more) for s in steps) > 5
    assert sum(not s.alt.reads for s in steps) > 5
    assert sum(any(c.bodies for chain in s.bodies for c in chain) for s in steps) > 5


@pytest.mark.parametrize("alternatives, sig", [
    (("add", "exp", "zeros_like", "top_k", "fori_loop", "while_loop"), "f32[2]"),
    (("add", "sin", "zeros_like", "sort_pair", "switch", "fori_pair"), "f32[2], i32[]"),
])
def test_enumerated_programs_hash_as_their_graph(grammar, alternatives, sig):
    """Every program of sizes 1..3 of a small space."""
    space = Space(grammar, Config(pools=Pools(dims=(2,), floats=("2.0",), small_ints=(2,))))
    enum = Enumeration(space.restricted([grammar.by_name[a] for a in alternatives]), parse_signature(sig))
    programs = list(enum.programs(3))
    assert len(programs) == sum(enum.counts(3)) > 1000
    for p in programs:
        assert_agrees_with_graph(p)
    steps = [s for p in programs for s in p.steps]
    assert all(any(f(s) for s in steps) for f in (lambda s: s.bodies, captures, lambda s: s.app.more,
                                                  lambda s: not s.alt.reads))
