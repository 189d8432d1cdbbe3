"""Type transfers of linear maps: contractions (matmul, einsum, outer,
ragged_dot), functions of square matrices (on CPU: LAPACK custom calls) and
Fourier transforms."""
from __future__ import annotations

import itertools

from ..types import Type
from .dtypes import COMPLEX, DOMAINS, INDEX, real
from .framework import Operand, arg, rule
from .shapes import bounded, broadcast, creatable, replaced, without
from .syntax import literal

# ---------------------------------------------------------------- contractions


def _matmul_shape(a, b):
    if not a or not b:
        return None
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        return None
    batch = broadcast(a2[:-2], b2[:-2])
    if batch is None:
        return None
    out = batch + (a2[-2],) + (b2[-1],)
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


@rule(Operand("numeric"), Operand("numeric"))
def matmul(a, b, pools):
    shape = _matmul_shape(a.shape, b.shape) if a.dtype == b.dtype else None
    if shape is not None and creatable(shape, pools):
        yield (), Type(a.dtype, shape)


@rule(Operand("numeric"), Operand("numeric"), attrs=1)
def einsum(a, b, pools):
    """Contract one axis of the first operand with one of the second."""
    if a.dtype != b.dtype:
        return
    letters = "abcdefgh"
    for p, q in itertools.product(range(a.rank), range(b.rank)):
        if a.shape[p] != b.shape[q]:
            continue
        la, lb = letters[:a.rank], list(letters[a.rank:a.rank + b.rank])
        lb[q] = la[p]
        out = [c for c in la if c != la[p]] + [c for c in lb if c != la[p]]
        shape = without(a.shape, p) + without(b.shape, q)
        if creatable(shape, pools):
            yield (literal(f"{la},{''.join(lb)}->{''.join(out)}"),), Type(a.dtype, shape)


@rule(arg(), arg(), args=("domain",))
def outer(a, b, pools, domain):
    shape = (a.size, b.size)
    if a.dtype == b.dtype and creatable(shape, pools):
        yield (), Type(a.dtype, shape)


@rule(Operand("float", 2, 2), Operand("float", 3, 3), Operand(INDEX, 1, 1), outside="batched")
def ragged_dot(lhs, rhs, groups, pools):
    """`lax.ragged_dot`: rows of lhs in groups (sizes `groups`), each group
    times its own matrix of rhs: (m, k) x (g, k, n) -> (m, n). JAX cannot
    batch it (vmap) over its first axis."""
    if lhs.dtype == rhs.dtype and rhs.shape[0] == groups.shape[0] and lhs.shape[1] == rhs.shape[1] \
            and bounded((lhs.shape[0], rhs.shape[2])):
        yield (), Type(lhs.dtype, (lhs.shape[0], rhs.shape[2]))

# ---------------------------------------------------------------- linear algebra


def _square(x):
    """Square matrices of a dtype LAPACK factorizes (an ARG operand's domain may hold others)."""
    return x.rank >= 2 and x.shape[-1] == x.shape[-2] and x.dtype in DOMAINS["lapack"]


def matrix(name, result):
    """Register rule `name`: a function of square matrices with the
    result(s) `result(x)`."""
    @rule(Operand("lapack", 2), name=name)
    def transfer(x, pools):
        if _square(x):
            yield (), result(x)
    return transfer


matrix("square_matrix", lambda x: x)                                       # cholesky, inv
matrix("determinant", lambda x: Type(x.dtype, x.shape[:-2]))
matrix("decompose", lambda x: (x, x))                                      # qr: two square factors
matrix("eigh", lambda x: (Type(real(x.dtype), x.shape[:-1]), x))           # real eigenvalues, eigenvectors


@rule(Operand("lapack", 2), Operand("lapack", 1))
def solve(a, b, pools):
    """Solve a x = b for square a: b a vector or a matrix of a's rows."""
    if _square(a) and a.dtype == b.dtype and a.rank == 2 and b.rank <= 2 and b.shape[0] == a.shape[0]:
        yield (), b


@rule(arg(2), arg(2), attrs=1, args=("domain",))
def triangular_solve(a, b, pools, domain):
    if _square(a) and a.dtype == b.dtype and a.rank == b.rank == 2 and b.shape[0] == a.shape[0]:
        for lower in (True, False):
            yield (literal(lower),), b

# ---------------------------------------------------------------- FFT


@rule(Operand("has_complex", 1), attrs=1)
def rfft(x, pools):
    for ax in range(x.rank):
        yield (str(ax),), Type(COMPLEX[x.dtype], replaced(x.shape, ax, x.shape[ax] // 2 + 1))


@rule(Operand("complex", 1), attrs=1)
def irfft(z, pools):
    for ax in range(z.rank):
        shape = replaced(z.shape, ax, 2 * (z.shape[ax] - 1))
        if z.shape[ax] >= 2 and bounded(shape):
            yield (str(ax),), Type(real(z.dtype), shape)
