"""Pinned enumeration facts: counts and the programs at fixed global indices,
for the frozen grammar `tests/data/pinned.lark` with `--dims 2,3`.

An index names a program for good (`enumerate --index N`, record ids `eN`,
`--shard I/N`), so the order of enumeration is part of the interface: these
facts change only by a deliberate edit of this file, when the grammar
language or a type rule changes on purpose.
"""
import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.synth.grammar import load_grammar

HEADER = load_grammar(parser=False).header      # the packaged grammar's imports, as programs print them

COUNTS = {"f32[2,3]": [14, 467, 26246], "f32[2], bool[]": [0, 74, 4985]}

PROGRAMS = {
    ("f32[2,3]", 0): '''
def f(x0):
    """f32[2,3] -> f32[2,3]"""
    v0 = x0 + x0
    return v0
''',
    ("f32[2,3]", 14): '''
def f(x0):
    """f32[2,3] -> f32[2,3], f32[2,3]"""
    v0 = x0 + x0
    v1 = x0 + x0
    return v0, v1
''',
    ("f32[2,3]", 247): '''
def f(x0):
    """f32[2,3] -> f32[2]"""
    v0 = jnp.sum(x0, axis=1, keepdims=True)
    v1 = jnp.reshape(v0, (2,))
    return v1
''',
    ("f32[2,3]", 18853): '''
def f(x0):
    """f32[2,3] -> f32[6], f32[3,2]"""
    v0 = jnp.reshape(x0, (6,))
    v1 = x0 + x0
    v2 = jnp.reshape(v1, (3, 2))
    return v0, v2
''',
    ("f32[2,3]", 26726): '''
def f(x0):
    """f32[2,3] -> f32[2,3]"""
    v0 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, x0 - c[1]), (0, c[1]))[1]), (0, x0))[1]
    return v0
''',
    ("f32[2], bool[]", 0): '''
def f(x0, x1):
    """f32[2], bool[] -> f32[2]"""
    v0 = x0 + x0
    v1 = jnp.where(x1, x0, v0)
    return v1
''',
    ("f32[2], bool[]", 37): '''
def f(x0, x1):
    """f32[2], bool[] -> bool[1], f32[]"""
    v0 = jnp.reshape(x1, (1,))
    v1 = jnp.sum(x0, axis=0, keepdims=False)
    return v0, v1
''',
    ("f32[2], bool[]", 2566): '''
def f(x0, x1):
    """f32[2], bool[] -> bool[1], i32[1,1,1]"""
    v0 = jnp.argmax(x0, axis=0)
    v1 = jnp.reshape(x1, (1,))
    v2 = jnp.reshape(v0, (1, 1, 1))
    return v1, v2
''',
    ("f32[2], bool[]", 4560): '''
def f(x0, x1):
    """f32[2], bool[] -> f32[2]"""
    v0 = lax.fori_loop(0, 2, lambda i, c: jnp.where(x1, x0, i - c), x0)
    return v0
''',
    ("f32[2], bool[]", 5058): '''
def f(x0, x1):
    """f32[2], bool[] -> f32[2]"""
    v0 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.where(x1, x0, c[1])), (0, c[1]))[1]), (0, x0))[1]
    return v0
''',
}


def enumerate_(pinned, capsys, sig, *args):
    assert main(["enumerate", "--grammar", str(pinned), "--dims", "2,3", "--max-ops", "3",
                 "--inputs", sig, *args]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("sig", COUNTS)
def test_counts_are_pinned(pinned, capsys, sig):
    counts = COUNTS[sig]
    expected = [f"size {k}: {c}" for k, c in enumerate(counts, 1)] + [f"total: {sum(counts)}"]
    assert enumerate_(pinned, capsys, sig, "--count").splitlines() == expected


@pytest.mark.parametrize("sig, index", PROGRAMS)
def test_programs_at_indices_are_pinned(pinned, capsys, sig, index):
    assert enumerate_(pinned, capsys, sig, "--index", str(index)) == HEADER + PROGRAMS[sig, index].lstrip("\n")


# a seed names a program too (record `seed` and `index`): sha256 of the structural
# hashes of programs `Random(f"pin:{k}")`, k < 150, of the frozen grammar
SAMPLED = {"default": "7bd34452a50948b9", "small": "7905ab31785b981c", "realistic": "a60a8f16c9056d9b"}


def test_sampled_programs_are_pinned(pinned):
    """The sampler draws the same programs from the same seeds (a faster
    sampler must not change them unnoticed)."""
    import hashlib
    import random

    from jaxsynth.synth.grammar import load_grammar
    from jaxsynth.synth.rules import SHAPES
    from jaxsynth.synth.space import Config, Space
    grammar, digests = load_grammar(pinned), {}
    for name, config in {"default": Config(), "small": Config(max_ops=3, max_body_ops=1),
                         "realistic": Config(pools=SHAPES["realistic"])}.items():
        space, h = Space(grammar, config), hashlib.sha256()
        for k in range(150):
            h.update(space.sample(random.Random(f"pin:{k}")).structural_hash.encode())
        digests[name] = h.hexdigest()[:16]
    assert digests == SAMPLED
