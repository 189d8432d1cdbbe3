"""The checker: parsed programs back to the programs that print them, or CheckError."""
import copy
import random
import re

import pytest
from hypothesis import given, settings, strategies as st
from lark import Token, Tree

from jaxsynth.synth.check import CheckError, check, check_source
from jaxsynth.synth.grammar import load_grammar, override_weights
from jaxsynth.synth.printer import STYLES, nest, to_source
from jaxsynth.synth.rules import Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import parse_signature

HEADER = load_grammar(parser=False).header      # the packaged grammar's imports, as programs print them


def _printed(program, style):
    return nest(program.tree) if style == "nested" else program.tree


def _assert_round_trip(program, space, style):
    tree = space.grammar.parse(to_source(program.tree, space.grammar, style))
    got = check(tree, space)
    assert _printed(got, style) == tree
    assert got.structural_hash == program.structural_hash
    assert got.output_types == program.output_types
    assert got.inputs == program.inputs
    if style == "statements":
        assert got == program       # statements fix the order: the very same steps


def _source(body, doc="f32[3] -> f32[3]", params="x0"):
    return HEADER + f'def f({params}):\n    """{doc}"""\n' + body


def _rejects(source, space, reason=""):
    with pytest.raises(CheckError) as e:
        check_source(source, space)
    message = str(e.value)
    assert "\n" not in message and reason in message, message
    return message


def _statements(program, grammar):
    return to_source(program.tree, grammar, "statements")


# ---------------------------------------------------------------- round trips


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**40), style=st.sampled_from(STYLES))
def test_sampled_programs_check(space, seed, style):
    _assert_round_trip(space.sample(random.Random(seed)), space, style)


# operations shaped like a value in scope (`full`, random numbers): where a
# value written in place goes depends on what is in scope before it
SCOPED = (("full", "30"), ("rng_uniform", "20"), ("uniform", "20"), ("normal", "10"), ("bernoulli", "10"))
CONFIGS = {"large": ((), Config(max_ops=12, max_depth=3, max_body_ops=3)),
           "batched": ((), Config(batched=True)),
           "scoped": (SCOPED, Config(max_ops=12))}


@pytest.mark.parametrize("name", CONFIGS)
def test_sampled_programs_of_other_configurations_check(grammar, name):
    weights, config = CONFIGS[name]
    space = Space(override_weights(grammar, [("test", a, w) for a, w in weights]), config)
    for k in range(40):
        program = space.sample(random.Random(f"check:{k}"))
        for style in STYLES:
            _assert_round_trip(program, space, style)


def _small_space(grammar, names, **pools):
    g = override_weights(grammar, [("test", a.name, "1" if a.name in names else "0") for a in grammar.alts])
    return Space(g, Config(pools=Pools(dims=(2,), floats=("2.0",), small_ints=(2,), **pools)))


CONTROL = ("exp", "add", "sub", "sum", "transpose_all", "all", "cond", "fori_loop", "while_loop", "argmax", "switch")
RESULTS = ("exp", "add", "top_k", "divmod", "scan", "value_and_grad", "shard_map", "psum")
PAIR = ("exp", "sub", "mul", "fori_pair", "zeros_like")

ENUMERATIONS = {      # (space, signature, largest size)
    "full": (lambda g: Space(g, Config(pools=Pools(dims=(2,)))), "f32[2]", 2),
    "full-2": (lambda g: Space(g, Config(pools=Pools(dims=(2,)))), "f32[2,2], i32[]", 2),
    "control": (lambda g: _small_space(g, CONTROL), "f32[2], bool[], i32[]", 4),
    "results": (lambda g: _small_space(g, RESULTS, devices=2), "f32[2]", 3),
    "pair": (lambda g: _small_space(g, PAIR), "f32[2], f32[2]", 3),
}


@pytest.mark.parametrize("name", ENUMERATIONS)
def test_enumerated_programs_check(grammar, name):
    """Every program of the smaller sizes, and programs spread over the largest."""
    make, sig, size = ENUMERATIONS[name]
    space = make(grammar)
    enum = Enumeration(space, parse_signature(sig))
    rng, programs = random.Random(name), []
    for k in range(1, size + 1):
        count = enum.count(k)
        indices = range(count) if count <= 150 else sorted(rng.sample(range(count), 150))
        programs += [enum.program(k, i) for i in indices]
    assert len(programs) > 100
    assert any(s.bodies for p in programs for s in p.steps), "sub-programs are covered"
    for p in programs:
        for style in STYLES:
            _assert_round_trip(p, space, style)


@pytest.mark.slow
@pytest.mark.parametrize("name, size", [("full", 1), ("control", 3), ("results", 3), ("pair", 3)])
def test_all_enumerated_programs_check(grammar, name, size):
    make, sig, _ = ENUMERATIONS[name]
    space = make(grammar)
    for p in Enumeration(space, parse_signature(sig)).programs(size):
        for style in STYLES:
            _assert_round_trip(p, space, style)


def test_nested_values_go_where_the_names_leave_room(space):
    """v1 stays a statement, the value before it is written in place later:
    the rebuilt program puts it first again."""
    source = _source("    v0 = jnp.exp(x0)\n    v1 = jnp.sin(x0)\n    v2 = v1 * v1\n    v3 = v0 + v2\n    return v3\n")
    program = check_source(source, space)
    nested = to_source(program.tree, space.grammar, "nested")
    assert "    v1 = jnp.sin(x0)\n    return jnp.exp(x0) + (v1 * v1)\n" in nested
    again = check_source(nested, space)
    assert nest(again.tree) == space.grammar.parse(nested)
    assert again.structural_hash == program.structural_hash


def test_nested_values_come_after_what_their_rule_looks_at(space):
    """`jnp.full` takes the shape of a value in scope: written first in the
    nested style, it must still come after the sum whose shape it has."""
    source = _source("    v0 = jnp.sum(x0, axis=0, keepdims=False)\n    v1 = jnp.full((3,), 2.0)\n"
                     "    v2 = v1 * v0\n    return v2\n", "f32[2,3] -> f32[3]")
    program = check_source(source, space)
    nested = to_source(program.tree, space.grammar, "nested")
    assert "return jnp.full((3,), 2.0) * jnp.sum(x0" in nested
    assert check_source(nested, space).structural_hash == program.structural_hash


def test_inlined_values_inside_sub_programs(space):
    """A captured value used once is written inside the lambda; it is told
    apart from the chain so far (which reaches the lambda's parameter)."""
    source = _source("    v0 = jnp.exp(x0)\n    v1 = lax.fori_loop(0, 2, lambda i, c: jnp.sin(c) * v0, x0)\n"
                     "    return v1\n")
    program = check_source(source, space)
    nested = to_source(program.tree, space.grammar, "nested")
    assert "lambda i, c: jnp.sin(c) * jnp.exp(x0)" in nested
    again = check_source(nested, space)
    assert again.structural_hash == program.structural_hash and again == program


def test_order_search_undoes_placements(grammar):
    """Five values before v6, one before v1, two `jnp.full` shaped like the
    reshape: the first order tried leads nowhere and is undone."""
    space = Space(override_weights(grammar, [("test", a, w) for a, w in SCOPED]), Config(max_ops=12))
    body = """    v0 = x0[:, :, :1]
    v1 = jnp.full((8, 2, 1, 1), -1.0)
    v2 = jnp.reshape(x0, (1, 1, 4, 8))
    v3 = lax.clamp(-1.0, v1, 2.0)
    v4 = lax.conv_general_dilated(v3, v1, (1, 1), "SAME", feature_group_count=1)
    v5 = jnp.maximum(v2, v0)
    v6 = jax.scipy.special.i1e(v4)
    v7 = jnp.full((1, 1, 4, 8), 2.0)
    v8 = jnp.full((1, 1, 4, 8), 0.5)
    v9 = jnp.sin(v6)
    v10 = jnp.flip(v6, 2)
    return v5, v7, v8, v9, v10
"""
    doc = "u8[8,2,2,1] -> u8[8,2,4,8], f32[1,1,4,8], f32[1,1,4,8], f32[8,8,1,1], f32[8,8,1,1]"
    program = check_source(_source(body, doc), space)
    _assert_round_trip(program, space, "nested")


# ---------------------------------------------------------------- tampered programs


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**40), style=st.sampled_from(STYLES))
def test_changed_docstring_fails(space, seed, style):
    program = space.sample(random.Random(seed))
    source = to_source(program.tree, space.grammar, style)
    doc = re.search(r'"""(.*) -> (.*)"""', source)
    first = re.match(r"\w+", doc.group(2)).group(0)
    outputs = ("u8" if first != "u8" else "i8") + doc.group(2)[len(first):]     # another dtype
    _rejects(source.replace(doc.group(0), f'"""{doc.group(1)} -> {outputs}"""'), space,
             f"docstring says {doc.group(1)} -> {outputs}, the rules give {doc.group(1)} -> {doc.group(2)}")


def test_attribute_out_of_range_fails(space):
    seen = 0
    for k in range(200):
        source = _statements(space.sample(random.Random(f"axis:{k}")), space.grammar)
        if "axis=" in source:
            seen += 1
            _rejects(re.sub(r"axis=\d+", "axis=7", source, count=1), space)
    assert seen > 20


def test_renumbered_names_fail(space):
    seen = 0
    for k in range(100):
        program = space.sample(random.Random(f"names:{k}"))
        if len(program.steps) >= 2 and len(program.steps[0].app.results) == 1:
            seen += 1
            source = re.sub(r"\bv1\b", "v99", _statements(program, space.grammar))
            _rejects(source, space, "names: expected v1, found v99")
    assert seen > 20


def test_unused_input_fails(space):
    for k in range(30):
        program = space.sample(random.Random(f"unused:{k}"))
        n = len(program.inputs)
        source = _statements(program, space.grammar)
        source = source.replace(" -> ", ", f32[2] -> ", 1).replace("):\n", f", x{n}):\n", 1)
        _rejects(source, space, f"input x{n} is never used")


def test_undefined_name_fails(space):
    seen = 0
    for k in range(60):
        source = _statements(space.sample(random.Random(f"undefined:{k}")), space.grammar)
        changed = re.sub(r"^(    v\d+(?:, v\d+)* = .*?)\b[xv]\d+\b", r"\1v99", source, count=1, flags=re.M)
        if changed != source:
            seen += 1
            _rejects(changed, space, "v99 is not defined")
    assert seen > 40


def test_wrong_operands_fail(space):
    sig, params = "f32[2,3], f32[3,4] -> f32[2,4]", "x0, x1"
    assert check_source(_source("    v0 = x0 @ x1\n    return v0\n", sig, params), space)
    _rejects(_source("    v0 = x1 @ x0\n    return v0\n", sig, params), space,
             "step 1 (v0 = x1 @ x0): no application of 'matmul' to x1 (f32[3,4]), x0 (f32[2,3])")
    _rejects(_source("    v0 = x0 @ x1\n    return v0\n", sig.replace("f32[3,4]", "f32[4,4]"), params), space,
             "no application of 'matmul' to x0 (f32[2,3]), x1 (f32[4,4])")
    _rejects(_source("    v0 = jnp.sum(x0, axis=2, keepdims=False)\n    return v0\n", "f32[2,3] -> f32[2]"), space,
             "no application of 'sum' to x0 (f32[2,3]) with attributes 2, False")
    _rejects(_source("    v0 = jnp.exp(x0)\n    v1 = jnp.exp(v2)\n    v2 = v0 + v1\n    return v2\n"), space,
             "v2 is used before it is defined")
    _rejects(_source("    v0 = x0\n    return v0\n"), space, "x0 is not an operation")
    _rejects(_source("    v0 = lax.top_k(x0, 2)\n    return v0\n"), space, "1 names for 2 result(s)")


def test_sub_program_rules_are_enforced(grammar, space):
    sig = "f32[3], bool[] -> f32[3]"
    cond = "    v0 = lax.cond(x1, lambda a: jnp.exp(a), lambda a: {}, x0)\n    return v0\n"
    assert check_source(_source(cond.format("jnp.sin(a)"), sig, "x0, x1"), space)
    _rejects(_source(cond.format("jnp.exp(a)"), sig, "x0, x1"), space, "the sub-programs of 'cond' are all the same")
    _rejects(_source(cond.format("a"), sig, "x0, x1"), space, "the chain is empty")
    scan = "    v0, v1 = lax.scan(lambda c, a: ({}, jnp.sin(a)), x0, x1)\n    return v0, v1\n"
    sig = "f32[4], f32[3,4] -> f32[4], f32[3,4]"
    assert check_source(_source(scan.format("c * a"), sig, "x0, x1"), space)
    _rejects(_source(scan.format("jnp.exp(c)"), sig, "x0, x1"), space, "the chain does not read a")
    fori = "    v0 = lax.fori_loop(0, 2, lambda {}, x0)\n    return v0\n"
    _rejects(_source(fori.format("i, c: jnp.exp(c) + c")), space, "c is read after the chain's first step")
    _rejects(_source(fori.format("j, c: jnp.exp(c)")), space, "the lambda's parameters should be i, c")
    _rejects(_source(fori.format("i, c: jnp.exp(x0)")), space, "the chain does not start from c")
    nested = fori.format("i, c: lax.fori_loop(0, 2, lambda i, c: jnp.exp(c), c)")
    assert check_source(_source(nested), space)
    _rejects(_source(nested), Space(grammar, Config(max_depth=1)), "sub-programs nest more than 1 deep")
    _rejects(_source('    v0 = lax.composite(lambda a: a + x0, "jaxsynth.block")(x0)\n    return v0\n'), space,
             "a closed sub-program captures x0")
    _rejects(_source('    v0 = lax.psum(x0, "i")\n    return v0\n'), space, "'psum' applies only inside a mesh")
    _rejects(_source("    v0, v1 = jax.value_and_grad(lambda a: jnp.sum(lax.nextafter(a, x0)))(x0)\n"
                     "    return v0, v1\n", "f32[3] -> f32[], f32[3]"), space, "'nextafter' has no derivative")


def test_alternatives_of_weight_zero_fail(grammar):
    space = Space(override_weights(grammar, [("test", "exp", "0")]))
    _rejects(_source("    v0 = jnp.exp(x0)\n    return v0\n"), space, "'exp' has weight 0")


def test_mixed_styles_fail(space):
    """Nested style writes every value used once in place: not only some."""
    flat = "    v0 = jnp.exp(x0)\n    v1 = jnp.sin(v0)\n    v2 = v1 + x0\n    return v2\n"
    assert check_source(_source(flat), space)
    assert check_source(_source("    return jnp.sin(jnp.exp(x0)) + x0\n"), space)
    _rejects(_source("    v0 = jnp.exp(x0)\n    return jnp.sin(v0) + x0\n"), space,
             "v0 is used once: the nested style writes it in place")
    _rejects(_source(flat.replace("    return v2\n", "    return v2, v1\n")), space,
             "return: expected `v2`, found `v2, v1`")
    _rejects(_source("    v2 = jnp.exp(x0)\n    return jnp.sin(v2) + jnp.cos(v2)\n"), space,
             "names: expected v0, found v2")


def test_deep_nesting_fails_cleanly(space):
    deep = "jnp.exp(" * 5000 + "x0" + ")" * 5000
    _rejects(_source(f"    return {deep}\n"), space)
    _rejects(_source(f"    return lax.fori_loop(0, 2, lambda i, c: {deep.replace('x0', 'c')}, x0)\n"), space)
    program = check_source(_source("    return " + "jnp.exp(" * 200 + "x0" + ")" * 200 + "\n"), space)
    assert len(program.steps) == 200


def test_not_derived_by_the_grammar(space):
    message = _rejects(_source("    return x0 $ 1\n"), space, "not derived by the grammar: line 8 col 15:")
    assert "'$'" in message
    _rejects(_source("    return jnp.exp(x0\n"), space, "not derived by the grammar: line 8")


def test_trees_the_parser_never_returns(space):
    for tree in (Tree("start", []), Tree("start", [Token("NAME", "f")]), Tree("exp", [Token("NAME", "x0")]),
                 Tree("start", [Tree("funcdef", [Token("NAME", "f"), Tree("params", []), None, Tree("ret", [])])])):
        with pytest.raises(CheckError):
            check(tree, space)


def _nodes(tree, out):
    out.append(tree)
    for c in tree.children if isinstance(tree, Tree) else ():
        _nodes(c, out)
    return out


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**40), style=st.sampled_from(STYLES), edits=st.integers(1, 3))
def test_any_tree_checks_or_fails_with_check_error(space, seed, style, edits):
    """Tampered trees (subtrees moved, dropped, swapped, renamed, junk put
    in): either CheckError, or a program that prints to exactly that tree."""
    rng = random.Random(seed)
    tree = copy.deepcopy(_printed(space.sample(rng), style))
    junk = [Token("NAME", "v0"), Token("INT", "3"), Tree("carry", [Token("CARRY", "c[0]")]),
            Tree("lam", [Token("NAME", "a")]), Tree("exp", []), "junk", None]
    for _ in range(edits):
        nodes = _nodes(tree, [])
        parent = rng.choice([n for n in nodes if isinstance(n, Tree) and n.children] or [tree])
        if not parent.children:
            break
        i, r = rng.randrange(len(parent.children)), rng.random()
        if r < 0.4:
            parent.children[i] = copy.deepcopy(rng.choice(nodes[1:]))
        elif r < 0.55:
            del parent.children[i]
        elif r < 0.7:
            parent.children.insert(i, rng.choice(junk))
        elif r < 0.85:
            j = rng.randrange(len(parent.children))
            parent.children[i], parent.children[j] = parent.children[j], parent.children[i]
        elif isinstance(parent.children[i], Tree):
            parent.children[i].data = rng.choice(["exp", "add", "cond", "lam", "carry", "sum", "fori_pair", "scan"])
    try:
        program = check(tree, space)
    except CheckError as e:
        assert "\n" not in str(e)
    else:
        assert program.tree == tree or nest(program.tree) == tree


_WORD = re.compile(r"\b(?:[xv]\d+|[aci]|\d+|True|False)\b(?!\[)")


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**40), style=st.sampled_from(STYLES))
def test_any_source_checks_or_fails_with_check_error(space, seed, style):
    """Names, numbers and flags replaced in printed source: CheckError, or a
    program that prints to exactly that source."""
    rng = random.Random(seed)
    source = to_source(space.sample(rng).tree, space.grammar, style)
    head, body = source.split("\n\n\n", 1)
    for _ in range(rng.randint(1, 2)):
        m = rng.choice(list(_WORD.finditer(body)))
        word = rng.choice(["x0", "x1", "v0", "v1", "v3", "a", "c", "i"] if not m.group(0).isdigit() else
                          ["0", "1", "2", "3", "4", "7"])
        body = body[:m.start()] + word + body[m.end():]
    source = head + "\n\n\n" + body
    try:
        program = check_source(source, space)
    except CheckError as e:
        assert "\n" not in str(e)
    else:
        assert source in {to_source(program.tree, space.grammar, s) for s in STYLES}
