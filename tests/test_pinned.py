"""Pinned enumeration facts: counts and the programs at fixed global indices,
for the frozen grammar `tests/data/pinned.lark` with `--dims 2,3`.

An index names a program for good (`enumerate --index N`, record ids `eN`,
`--shard I/N`), so the order of enumeration is part of the interface: these
facts change only by a deliberate edit of this file, when the grammar
language or a type rule changes on purpose.
"""
import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.synth.printer import HEADER

COUNTS = {"f32[2,3]": [20, 912, 67868], "f32[2], bool[]": [2, 489, 53168]}

PROGRAMS = {
    ("f32[2,3]", 0): '''
def f(x0):
    """f32[2,3] -> f32[2,3]"""
    v0 = x0 + x0
    return v0
''',
    ("f32[2,3]", 20): '''
def f(x0):
    """f32[2,3] -> f32[2,3], f32[2,3]"""
    v0 = x0 + x0
    v1 = x0 + x0
    return v0, v1
''',
    ("f32[2,3]", 476): '''
def f(x0):
    """f32[2,3] -> i32[]"""
    v0 = jnp.argmax(x0, axis=1)
    v1 = jnp.sum(v0, axis=0, keepdims=False)
    return v1
''',
    ("f32[2,3]", 56521): '''
def f(x0):
    """f32[2,3] -> f32[2,3]"""
    v0 = lax.fori_loop(0, 3, lambda i, c: c, x0)
    v1 = jnp.sin(v0)
    v2 = jnp.exp(v1)
    return v2
''',
    ("f32[2,3]", 68799): '''
def f(x0):
    """f32[2,3] -> f32[2,3]"""
    v0 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, jnp.sin(c[1])), (0, c[1]))[1]), (0, x0))[1]
    return v0
''',
    ("f32[2], bool[]", 0): '''
def f(x0, x1):
    """f32[2], bool[] -> f32[2]"""
    v0 = jnp.where(x1, x0, x0)
    return v0
''',
    ("f32[2], bool[]", 246): '''
def f(x0, x1):
    """f32[2], bool[] -> bool[1,1,1,1], f32[2]"""
    v0 = jnp.reshape(x1, (1, 1, 1, 1))
    v1 = x0 + x0
    return v0, v1
''',
    ("f32[2], bool[]", 17612): '''
def f(x0, x1):
    """f32[2], bool[] -> f32[1,1,1,1], bool[]"""
    v0 = jnp.sum(x0, axis=0, keepdims=False)
    v1 = jnp.reshape(v0, (1, 1, 1, 1))
    v2 = jnp.where(x1, x1, x1)
    return v1, v2
''',
    ("f32[2], bool[]", 53658): '''
def f(x0, x1):
    """f32[2], bool[] -> bool[], f32[2]"""
    v0 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1]), (0, c[1]))[1]), (0, x1))[1]
    v1 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1]), (0, x0))[1]
    return v0, v1
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
