"""The dtypes transfers name by the role they play in JAX, and the operand
domains narrower than an annotation's kinds: which dtypes each holds is said
here once, so no transfer narrows a domain by testing a dtype's name.

`DOMAINS` extends the annotation domains of `types` (which annotations may
name) with each dtype alone and these; `Operand` domains are keys of it.
"""
from __future__ import annotations

from ..types import DOMAINS as KIND_DOMAINS, DTYPES, Type

FLOAT = "f32"        # jnp's float with x64 off: what Python floats, arange and random numbers become
INDEX = "i32"        # indices, counts and loop counters (argmax, top_k, fori_loop's i)
BOOL = "bool"        # of predicates and comparisons
COMPLEX = {FLOAT: "c64"}                       # a float's complex counterpart (lax.complex, rfft)
REAL = {c: f for f, c in COMPLEX.items()}      # and back (jnp.real, irfft, eigenvalues)

SCALAR_BOOL = Type(BOOL, ())
SCALAR_INT = Type(INDEX, ())

# jnp.sum and jnp.prod accumulate integers narrower than 32 bits in the
# 32-bit integer of their kind (signed or unsigned)
WIDE = {DTYPES[d].kind: d for d in KIND_DOMAINS["int"] if DTYPES[d].bits == 32}

DOMAINS = {
    **{d: frozenset({d}) for d in DTYPES},     # a dtype alone: Operand(FLOAT), Operand(INDEX)
    **KIND_DOMAINS,
    "has_complex": frozenset(COMPLEX),                 # lax.complex's parts, rfft's input
    "lapack": frozenset({FLOAT, *COMPLEX.values()}),   # what jnp.linalg factorizes
    "seed": frozenset(d for d in KIND_DOMAINS["int"] if DTYPES[d].bits == 32),   # jax.random.key's seed
    # adding an index keeps the dtype (`promoted`: i32 + i32, f32 + an i32 scalar)
    "index_sum": frozenset({FLOAT, INDEX}),
}


# dtype rules: a result's dtype as a function of an operand's (JAX's
# `_input_dtype` and `_fixed_dtype`), for the rule factories

def own(dtype: str) -> str:
    """The operand's dtype."""
    return dtype


def fixed(dtype: str):
    """This dtype, whatever the operand's."""
    return lambda _: dtype


def real(dtype: str) -> str:
    """The real dtype of a value's precision: its parts' for a complex one."""
    return REAL.get(dtype, dtype)


def widened(dtype: str) -> str:
    """The dtype jnp.sum/prod give: integers narrower than 32 bits widen to 32."""
    t = DTYPES[dtype]
    return WIDE[t.kind] if t.kind in WIDE and t.bits < 32 else dtype


def promoted(a: Type, b: Type) -> str | None:
    """The dtype JAX gives a binary op on a and b: their common dtype, or
    float when a float meets an integer scalar (`c * i` in a loop body)."""
    if a.dtype == b.dtype:
        return a.dtype
    if {a.dtype, b.dtype} == {FLOAT, INDEX} and (a if a.dtype == INDEX else b).rank == 0:
        return FLOAT
    return None
