"""Elementwise type transfers: functions of one value, of values that
broadcast together, conversions between dtypes, and complex parts."""
from __future__ import annotations

from ..types import DTYPES, Type
from .dtypes import BOOL, COMPLEX, DOMAINS, FLOAT, fixed, own, promoted, real
from .framework import ANY, ARG, Operand, arg, rule
from .shapes import bounded, broadcast


def unop(name, dtype=own, operand=arg(), **declared):
    """Register rule `name`: an elementwise function of one operand, with a
    result of its shape and of dtype `dtype(x.dtype)` (JAX's `standard_unop`).
    An ARG operand takes the annotation's domain."""
    @rule(operand, args=("domain",) if operand.domain == ARG else (), name=name, **declared)
    def transfer(x, pools, *args, **context):
        yield (), Type(dtype(x.dtype), x.shape)
    return transfer


unop("unary")
unop("predicate", fixed(BOOL))
unop("like", operand=ANY)
unop("real_part", real, Operand("complex"))     # real, imag, abs, angle of a complex value


def broadcast_pair(a, b, domain, dtype=own):
    """What an elementwise function of a and b gives: their shapes broadcast,
    their dtype promoted (`promoted`) within the annotation's domain, then
    `dtype` of it."""
    promoted_dtype = promoted(a, b)
    shape = broadcast(a.shape, b.shape) if promoted_dtype in DOMAINS[domain] else None
    if shape is not None and bounded(shape):
        yield (), Type(dtype(promoted_dtype), shape)


def binop(name, dtype=own):
    """Register rule `name`: an elementwise function of two operands that
    broadcast (`broadcast_pair`), of result dtype `dtype` of theirs."""
    @rule(ANY, ANY, args=("domain",), name=name)
    def transfer(a, b, pools, domain):
        return broadcast_pair(a, b, domain, dtype)
    return transfer


binop("binary")
binop("compare", fixed(BOOL))


@rule(arg(), arg(), args=("domain",))
def divmod_(a, b, pools, domain):
    for attrs, t in broadcast_pair(a, b, domain):
        yield attrs, (t, t)


@rule(arg(), arg(), args=("domain",))
def same(a, b, pools, domain):
    """Elementwise on operands of one type (lax ops do not broadcast)."""
    if a == b:
        yield (), a


@rule(Operand(FLOAT), attrs=2)
def precision(x, pools):
    """Round to a narrower float format: (exponent, mantissa) bits of bf16
    and f16 (both narrower than f32, not than each other)."""
    for e, m in ((8, 7), (5, 10)):
        yield (str(e), str(m)), x


@rule(arg(), attrs=1, args=("domain",))
def scalar(x, pools, domain):
    for c in pools.floats:
        yield (c,), x


@rule(arg(), attrs=1, args=("domain",))
def scalar_int(x, pools, domain):
    for n in pools.small_ints:
        yield (str(n),), x


@rule(arg(), attrs=1, args=("domain",))
def order(x, pools, domain):
    """A function of an integer order and x: `polygamma(1, x)`."""
    for n in (1, 2):
        yield (str(n),), x


@rule(Operand(BOOL), ANY, ANY)
def select(c, a, b, pools):
    shape = broadcast(c.shape, a.shape, b.shape) if a.dtype == b.dtype else None
    if shape is not None and bounded(shape):
        yield (), Type(a.dtype, shape)


@rule(Operand(FLOAT), attrs=2)
def clip(x, pools):
    """Between two pool floats: lax.clamp (clip's typing) takes one dtype, and
    Python floats there are f32."""
    for lo, hi in pools.bounds():
        yield (lo, hi), x


rule(Operand(FLOAT), attrs=2, name="clamp")(clip)      # lax.clamp(lo, x, hi): clip's typing


@rule(ANY, attrs=1)
def astype(x, pools):
    for d in pools.dtypes:
        # complex to real drops the imaginary part (jnp.real says so)
        if d != x.dtype and not (x.dtype in DOMAINS["complex"] and d not in DOMAINS["complex"]):
            yield (DTYPES[d].spelling,), Type(d, x.shape)


@rule(Operand("numeric"), attrs=1)
def bitcast(x, pools):
    """Reinterpret the bits as another dtype of the same width."""
    for d in pools.dtypes:
        if d != x.dtype and DTYPES[d].bits == DTYPES[x.dtype].bits and d in DOMAINS["numeric"]:
            yield (DTYPES[d].spelling,), Type(d, x.shape)


@rule(Operand("has_complex"), Operand("has_complex"))
def complex_of(re, im, pools):
    """`lax.complex` of two floats of one type."""
    if re == im:
        yield (), Type(COMPLEX[re.dtype], re.shape)
