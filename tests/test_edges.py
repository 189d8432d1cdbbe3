"""Edge cases: weights of any finite positive size, and shapes at the bounds
of `types` (MAX_DIM, MAX_SIZE) in parsed types, dimension pools, sampled
signatures and the values rules create."""
import dataclasses
import math
import random
from itertools import accumulate

import pytest
from hypothesis import given, settings, strategies as st

from jaxsynth.synth.choice import normalised
from jaxsynth.synth.grammar import override_weights
from jaxsynth.synth.rules import REGISTRY, SHAPES, Body, Pools
from jaxsynth.synth.space import Config, Space
from jaxsynth.synth.types import (MAX_DIM, MAX_RANK, MAX_SIZE, SignatureError, Type, check_dims,
                                  parse_signature, parse_type, within_bounds)

SMALL = Config(max_ops=4)          # short programs: the properties below sample many


def _programs(space, n, tag="edges"):
    return [space.sample(random.Random(f"{tag}:{k}")) for k in range(n)]


def _scaled(grammar, factor, names=None):
    return grammar.with_weights({a.name: a.weight * factor for a in grammar.alts
                                 if names is None or a.name in names})

# ---------------------------------------------------------------- weights


@pytest.mark.parametrize("weights", [
    {"exp": "1e308", "log": "1e308"},                # their sum overflows to inf
    {"exp": "1.7e308", "psum": "1.7e308", "add": "1e308"},
    "all 1e-300",                                   # every weight tiny
    "all 1e308",                                    # every weight huge: any sum of two overflows
    "1e-300 and 1e300",                             # tiny and huge, every other alternative
], ids=str)
def test_extreme_weights_sample(grammar, weights):
    if weights == "all 1e-300":
        weights = {a.name: "1e-300" for a in grammar.alts}
    elif weights == "all 1e308":
        weights = {a.name: "1e308" for a in grammar.alts}
    elif weights == "1e-300 and 1e300":
        weights = {a.name: ("1e-300", "1e300")[k % 2] for k, a in enumerate(grammar.alts)}
    g = override_weights(grammar, [("test", name, w) for name, w in weights.items()])
    programs = _programs(Space(g, SMALL), 15)
    assert all(p.steps for p in programs)
    # the grammar keeps the weights as written (the manifest records them)
    assert all(g.by_name[name].weight == float(w) for name, w in weights.items())


def test_huge_weights_dominate(grammar):
    """exp and log at 1e308 against weights of at most a few: nothing else is
    picked at the top level (it would need a chance of 1e-307)."""
    g = override_weights(grammar, [("test", "exp", "1e308"), ("test", "log", "1e308")])
    for p in _programs(Space(g, SMALL), 15):
        assert {s.alt.name for s in p.steps} <= {"exp", "log"}


def test_normalising_keeps_the_packaged_choices(space):
    """The cumulative weights sampling bisects are those of the weights as
    written times one power of two, exactly: every choice is the same."""
    cum = list(accumulate(a.weight for a in space.alts))
    scale = space.choice.cum[-1] / cum[-1]
    assert math.frexp(scale)[0] == 0.5                 # a power of two
    assert [c * scale for c in cum] == space.choice.cum


@pytest.mark.parametrize("weights", [[3.0], [0.2, 3.0, 1.0], [1e308] * 200, [1e-300] * 5, [1e-300, 1e300, 2.0],
                                     [5e-324, 1.0]])
def test_normalised(weights):
    out = normalised(weights)
    assert 0.5 <= max(out) < 1 and math.isfinite(sum(out)) and all(w >= 0 for w in out)
    top = max(weights)
    assert all(n == w / top * max(out) for w, n in zip(weights, out) if w / top > 1e-290)
    assert normalised([w * 2.0**-700 for w in weights if w > 1e-5]) == normalised([w for w in weights if w > 1e-5])


@pytest.fixture(scope="module")
def small_space(grammar):
    return Space(grammar, SMALL)


@settings(max_examples=15, deadline=None)
@given(factor=st.one_of(st.floats(min_value=1e-250, max_value=1e250),
                        st.integers(-900, 900).map(lambda k: 2.0 ** k)),
       seed=st.integers(0, 2**32))
def test_scaling_all_weights_gives_the_same_programs(grammar, small_space, factor, seed):
    """A power of two gives exactly the same normalised weights; another
    factor the same up to rounding of the scaled weights (a choice could
    differ only for a random number within about 1e-16 of a boundary)."""
    scaled = Space(_scaled(grammar, factor), SMALL)
    for k in range(3):
        a = small_space.sample(random.Random(f"{seed}:{k}"))
        b = scaled.sample(random.Random(f"{seed}:{k}"))
        assert a.tree == b.tree

# ---------------------------------------------------------------- parsed types and dimension pools


@pytest.mark.parametrize("text", [
    f"f32[{MAX_DIM}]", f"bool[1,{MAX_DIM},1,1]", f"c64[{MAX_DIM}, 1]", "f32[32768,65535]", "i8[1024,1024,2047]",
])
def test_types_at_the_bounds_parse(text):
    t = parse_type(text)
    assert within_bounds(t.shape) and t.size <= MAX_SIZE


@pytest.mark.parametrize("text, bound", [
    (f"f32[{MAX_DIM + 1}]", "MAX_DIM"),
    ("f32[99999999999999999999]", "MAX_DIM"),
    (f"f32[{'9' * 5000}]", "MAX_DIM"),               # beyond what Python's int() reads
    (f"u8[1, {2**63}]", "MAX_DIM"),
    ("f32[100000,100000]", "MAX_SIZE"),
    ("f32[65536,32768]", "MAX_SIZE"),                # 2**31 elements
    (f"i32[{MAX_DIM},2]", "MAX_SIZE"),
    ("bool[2048,2048,2048]", "MAX_SIZE"),
])
def test_types_beyond_the_bounds_are_refused(text, bound):
    with pytest.raises(SignatureError) as e:
        parse_type(text)
    message = str(e.value)
    assert bound in message and str({"MAX_DIM": MAX_DIM, "MAX_SIZE": MAX_SIZE}[bound]) in message
    assert text[:20] in message                       # names the type
    with pytest.raises(SignatureError):
        parse_signature(f"f32[2], {text}")


def test_dimensions_without_commas_are_refused():
    with pytest.raises(SignatureError, match="separated by commas"):
        parse_type("f32[2 3]")


def test_check_dims():
    for dims in [(1, 2, 3, 4, 8), (100000,), (MAX_DIM,), (1, MAX_DIM)]:
        assert check_dims(dims) is None
    for dims, named in [((MAX_DIM + 1,), MAX_DIM + 1), ((2, 2**40), 2**40), ((0,), 0), ((3, -1), -1)]:
        with pytest.raises(SignatureError, match=rf"dimension {named} .*{MAX_DIM}"):
            check_dims(dims)
    with pytest.raises(SignatureError):
        check_dims(())

# ---------------------------------------------------------------- sampled signatures and created values


def _all_types(program):
    """Every value's type, inside sub-programs too."""
    def walk(steps):
        for s in steps:
            yield from s.app.results
            for b in s.app.slots:
                if isinstance(b, Body):
                    yield b.result
                    yield from (t for _, t in b.params)
            for chain in s.bodies:
                yield from walk(chain)
    return (*program.inputs, *walk(program.steps))


BIG_POOLS = [
    (100000,),
    (1, 2, 3, 100000),
    (MAX_DIM,),
    (2, 46340, 65536, MAX_DIM),
    (3, 2**40),                                      # a pool nobody checked (check_dims refuses it)
]


@pytest.mark.parametrize("dims", BIG_POOLS, ids=str)
def test_sampled_signatures_stay_within_bounds(grammar, dims):
    space = Space(grammar, Config(pools=dataclasses.replace(SHAPES["tiny"], dims=dims)))
    ranks = set()
    for k in range(300):
        for t in space.sample_signature(random.Random(f"sig:{k}")):
            assert within_bounds(t.shape), t
            ranks.add(t.rank)
    assert max(ranks) >= 1


def test_profile_shapes_beyond_bounds_are_not_drawn(grammar):
    pools = Pools(shapes=((2**16, 2**16), (8, 128), (MAX_DIM + 1,)), dims=(2, 3))
    space = Space(grammar, Config(pools=pools))
    drawn = {t.shape for k in range(200) for t in space.sample_signature(random.Random(k))}
    assert (8, 128) in drawn and all(within_bounds(s) for s in drawn)


@pytest.mark.parametrize("dims", BIG_POOLS[:4], ids=str)
def test_sampled_programs_stay_within_bounds(grammar, dims):
    pools = dataclasses.replace(SHAPES["realistic"], dims=dims, shapes=(), max_size=2**40)
    space = Space(grammar, Config(pools=pools, max_ops=5))
    for k in range(40):
        p = space.sample(random.Random(f"prog:{k}"))
        for t in _all_types(p):
            assert within_bounds(t.shape), (t, p.steps)


@pytest.mark.parametrize("rule, types, extra", [
    ("binary", (Type("f32", (2**16, 1)), Type("f32", (1, 2**16))), {"domain": "numeric"}),
    ("compare", (Type("f32", (2**16, 1)), Type("f32", (1, 2**16))), {"domain": "numeric"}),
    ("select", (Type("bool", (2**16, 1)), Type("f32", (1, 2**16)), Type("f32", (1, 1))), {}),
    ("stack", (Type("f32", (2**30 + 1,)), Type("f32", (2**30 + 1,))), {}),
    ("irfft", (Type("c64", (2**30 + 2,)),), {}),
    ("ragged_dot", (Type("f32", (2**20, 2)), Type("f32", (2, 2, 2**12)), Type("i32", (2,))), {}),
    ("conv", (Type("f32", (2**10, 2, 2**10)), Type("f32", (2**12, 1, 1)),), {}),
    ("broadcast_to", (Type("f32", (2**30, 1)),), {}),
    ("concatenate", (Type("f32", (2**30,)), Type("f32", (2**30,))), {}),
    ("outer", (Type("f32", (2**16,)), Type("f32", (2**16,))), {"domain": "float"}),
    ("arange", (), {}),
])
def test_rules_create_no_value_beyond_the_bounds(rule, types, extra):
    """Pools that allow anything (max_size 2**62, dims beyond MAX_DIM): the
    rules still create nothing beyond the bounds."""
    pools = Pools(max_size=2**62, dims=(2, 4, 2**31, 2**40))
    for out in REGISTRY[rule].fn(*types, pools, *extra.values()):
        result = out[1]
        for t in result if isinstance(result, tuple) and not isinstance(result, Type) else (result,):
            assert within_bounds(t.shape), (rule, t)


def test_bounds_are_consistent():
    assert MAX_SIZE <= MAX_DIM < 2**63 and MAX_RANK == 4
    assert within_bounds((MAX_DIM,)) and not within_bounds((MAX_DIM + 1,))
    assert not within_bounds((2,) * (MAX_RANK + 1))
