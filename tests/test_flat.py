"""`lower_flat` gives what `lower_batch` (and so `lower`) gives: text, op
counts, sites, weak types and kept inputs, for every kind of step; what it
cannot cut from its one function goes to `lower_batch`."""
import math
import random

import jax
import jax.numpy as jnp
import pytest

from jaxsynth.corpus.run.records import load_source
from jaxsynth.lowering import LoweringError, lower, lower_batch, lower_flat
from jaxsynth.lowering import flat
from jaxsynth.synth.fragments import fragment
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.printer import to_source

HEADER = load_grammar(parser=False).header      # the packaged grammar's imports, as programs print them


def _steps(grammar, space, seed, n):
    """(function, specs) of the distinct one-step programs of sampled programs."""
    items, seen, k = [], set(), 0
    while len(items) < n:
        program = space.sample(random.Random(f"{seed}:{k}"))
        k += 1
        for i in range(len(program.steps)):
            alone = fragment(program, i).program
            source = to_source(alone.tree, grammar)
            fn = load_source(source)
            if source not in seen and callable(fn):
                seen.add(source)
                items.append((fn, [t.spec() for t in alone.inputs]))
    return items[:n]


def test_flat_lowering_is_each_functions_own(grammar, space):
    """Over steps of every alternative the sampler reaches (a mesh, literals,
    loops and helpers included), each result equals lower_batch's."""
    items = _steps(grammar, space, "flat", 600)
    flat_results, batch_results = [], []
    for i in range(0, len(items), 200):
        flat_results += lower_flat(items[i:i + 200])
        batch_results += lower_batch(items[i:i + 200])
    assert flat_results == batch_results


def test_most_steps_are_cut_from_one_function(grammar, space):
    items = _steps(grammar, space, "cut", 200)
    assert sum(low is not None for low in flat._flat(items, "cpu")) >= 180


def _source(body, n_inputs=1):
    return load_source(f'{HEADER}def f({", ".join(f"x{i}" for i in range(n_inputs))}):\n    """doc"""\n{body}')


def test_literals_and_forwarded_inputs(grammar):
    """A literal operand JAX makes outside the step's scope, a literal result,
    an input returned as it is, and an input only its shape is read of."""
    f32 = [jax.ShapeDtypeStruct((3,), jnp.float32)]
    items = [(_source("    v0 = x0 * -1.0\n    return v0\n"), f32),
             (_source("    v0 = x0 + -1.0\n    return v0\n"), f32),
             (_source("    v0 = jnp.zeros_like(x0)\n    return v0\n"), [jax.ShapeDtypeStruct((), jnp.float32)]),
             (_source("    v0 = x0.astype(jnp.float32)\n    return v0\n"), f32),
             (_source("    v0 = jnp.zeros_like(x0)\n    return x0, v0\n"), f32)]
    assert all(low is not None for low in flat._flat(items, "cpu"))
    assert lower_flat(items) == [lower(fn, specs) for fn, specs in items]


def test_a_step_over_a_mesh_is_lowered_alone(grammar):
    mesh = ('jax.shard_map(lambda a: lax.psum(a, "i"), mesh=jax.sharding.Mesh(jax.devices()[:4], "i"), '
            'in_specs=jax.P("i"), out_specs=jax.P("i"), check_vma=False)(x0)')
    f32 = [jax.ShapeDtypeStruct((8,), jnp.float32)]
    items = [(_source(f"    v0 = {mesh}\n    return v0\n"), f32), (_source("    v0 = jnp.sin(x0)\n    return v0\n"), f32),
             (_source("    v0 = jnp.cos(x0)\n    return v0\n"), f32)]
    cut = flat._flat(items, "cpu")
    assert cut[0] is None and cut[1] is not None and cut[2] is not None
    assert lower_flat(items) == [lower(fn, specs) for fn, specs in items]


@pytest.mark.parametrize("broken", ["location", "chunks"])
def test_what_it_cannot_place_goes_to_lower_batch(grammar, space, monkeypatch, broken):
    """Without a scope in its ops' locations, or with main's lines not its ops,
    nothing is cut: every function goes to lower_batch, with the same results."""
    items = _steps(grammar, space, "broken", 20)
    if broken == "location":
        monkeypatch.setattr(flat, "_step", lambda location: None)
    else:
        monkeypatch.setattr(flat, "_chunks", lambda body: [body])
    assert flat._flat(items, "cpu") == [None] * len(items)
    assert lower_flat(items) == lower_batch(items)


def test_a_function_that_does_not_lower_costs_only_the_halves_it_is_in(grammar, space, monkeypatch):
    """One function that fails in a batch: the batch is lowered in halves, and
    lower_batch gets that function (its error) and, at most, one function
    left alone in a half at each halving."""
    items = _steps(grammar, space, "halves", 40)
    alone, real = [], flat.lower_batch
    monkeypatch.setattr(flat, "lower_batch", lambda some, platform: alone.extend(map(id, some)) or real(some, platform))
    lower_flat(items)
    usual = set(alone)      # a mesh, or what cannot be cut
    bad = (_source("    v0 = jnp.reshape(x0, (7,))\n    return v0\n"), [jax.ShapeDtypeStruct((3,), jnp.float32)])
    items.insert(17, bad)
    alone.clear()
    results = lower_flat(items)
    assert id(bad) in alone and len(set(alone) - usual - {id(bad)}) <= math.log2(len(items))
    assert isinstance(results[17], LoweringError)
    def plain(results):     # errors compared by what they say
        return [repr(r) if isinstance(r, LoweringError) else r for r in results]
    assert plain(results) == plain(lower_batch(items))


def test_a_function_that_makes_a_mesh_goes_to_lower_batch_untraced(grammar, monkeypatch):
    """A function whose code makes a mesh is not traced with the others (its
    mesh would make them lowered again)."""
    mesh = ('jax.shard_map(lambda a: lax.psum(a, "i"), mesh=jax.sharding.Mesh(jax.devices()[:4], "i"), '
            'in_specs=jax.P("i"), out_specs=jax.P("i"), check_vma=False)(x0)')
    f32 = [jax.ShapeDtypeStruct((8,), jnp.float32)]
    items = [(_source("    v0 = jnp.sin(x0)\n    return v0\n"), f32), (_source(f"    v0 = {mesh}\n    return v0\n"), f32),
             (_source("    v0 = jnp.cos(x0)\n    return v0\n"), f32)]
    assert [flat._makes_a_mesh(fn) for fn, _ in items] == [False, True, False]
    traced, real = [], flat._flat
    monkeypatch.setattr(flat, "_flat", lambda some, *rest: traced.append(len(some)) or real(some, *rest))
    assert lower_flat(items) == [lower(fn, specs) for fn, specs in items]
    assert traced == [2], "the two others, traced once"


def test_pieces_for_splicing_are_the_same_module(grammar, space):
    """Not canonical: the text MLIR parses is the same module (printed, it is
    the canonical text), and everything else is the same."""
    from jaxsynth.lowering.lower import reprint
    items = _steps(grammar, space, "raw", 200)
    exact, raw = lower_flat(items), lower_flat(items, canonical=False)
    assert sum(a != b for a, b in zip(exact, raw)) > 100, "most texts are other text"
    for a, b in zip(exact, raw):
        if isinstance(a, LoweringError):
            assert repr(a) == repr(b)
            continue
        assert reprint(b.text) == (a.text, b.ops), "the same module, its ops counted from their sites"
        assert (a.ops, a.sites, a.weak, a.kept) == (b.ops, b.sites, b.weak, b.kept)
