"""Array types of the program language: a dtype and a static shape.

`DTYPES` is the one table of dtypes: a new dtype is one entry here. The
grammar's `DTYPE` terminal says which of them a grammar can write (the
loader checks that it matches only entries of this table); domains
(`float`, `int`, ...), which annotations name, are sets of table entries by
kind.

Types print and parse as `f32[4,8]`, `i32[]`, `bool[3]`; a signature is a
comma-separated list of them.
"""
from __future__ import annotations

import re
from typing import NamedTuple


class DType(NamedTuple):
    name: str            # numpy/jax dtype name
    spelling: str        # how printed programs write it
    kind: str            # float, int, uint, bool, complex
    bits: int
    weight: float        # how often sampled signatures draw it


DTYPES = {
    "f32": DType("float32", "jnp.float32", "float", 32, 8),
    "i32": DType("int32", "jnp.int32", "int", 32, 2),
    "bool": DType("bool", "jnp.bool_", "bool", 8, 1),
    "f16": DType("float16", "jnp.float16", "float", 16, 0.4),
    "bf16": DType("bfloat16", "jnp.bfloat16", "float", 16, 0.6),
    "i8": DType("int8", "jnp.int8", "int", 8, 0.3),
    "u8": DType("uint8", "jnp.uint8", "uint", 8, 0.3),
    "u32": DType("uint32", "jnp.uint32", "uint", 32, 0.3),
    "c64": DType("complex64", "jnp.complex64", "complex", 64, 0.5),
}

# dtype domains that annotations name, e.g. `unary(float)`, by kind
KINDS = {"float": {"float"}, "int": {"int", "uint"}, "signed": {"float", "int"}, "bool": {"bool"},
         "numeric": {"float", "int", "uint"}, "complex": {"complex"}, "inexact": {"float", "complex"},
         "any": {"float", "int", "uint", "bool", "complex"}}
DOMAINS = {domain: frozenset(d for d, t in DTYPES.items() if t.kind in kinds) for domain, kinds in KINDS.items()}
MAX_RANK = 4

# Bounds on the shapes of values: input types (`parse_type`), the `--dims`
# pool (`check_dims`), sampled signatures and every value a rule creates stay
# within them. Measured with jax/jaxlib 0.10.2 on CPU, lowering only:
# - a dimension of 2**63 or more cannot be lowered at all: JAX builds each
#   value's MLIR type with `ir.RankedTensorType.get(shape, ...)`
#   (jax/_src/interpreters/mlir.py, `_array_ir_types`), whose shape is a list
#   of int64, so a larger Python int fails the binding's argument conversion:
#   "TypeError: get(): incompatible function arguments". Flattening turns an
#   element count into a dimension (`jnp.reshape(x, (n,))`, `jnp.argmin(x)`),
#   which is how f32[100000,100000,100000,100000] (1e20 elements, from
#   `--dims 100000` at rank 4) fails there; an input f32[99999999999999999999]
#   makes every program fail so, and a run writes only empty shards.
# - a dimension above 2**31 - 1 (the int32 maximum) lowers, but indices are
#   int32 (x64 is off): `jnp.take`, `x[idx]` and `x.at[idx].set(y)` fail to
#   trace ("OverflowError: Python integer 2147483648 out of bounds for int32"),
#   `jnp.argsort` warns that its int64 iota is truncated to int32, and
#   `jnp.argmax`/`lax.top_k` give int32 indices that cannot name positions
#   past 2**31 - 1; f32[2147483647] lowers in 300 of 300 sampled programs,
#   f32[2147483648] fails in 6 of 300.
# - an element count above 2**31 - 1 is the same problem one reshape later
#   (i32[65536,65536] flattened to (4294967296, 1, 1), then indexed); and a
#   byte size of 2**63 or more aborts XLA's compiler (f32[2**61]: "overflow in
#   static extent product", the process is killed), far beyond these bounds
#   (at most 2**31 - 1 elements of 8 bytes: 16 GiB).
MAX_DIM = 2**31 - 1          # largest dimension: an int32 index reaches every position
MAX_SIZE = 2**31 - 1         # largest number of elements: so is every dimension after a reshape
assert MAX_SIZE <= MAX_DIM   # a shape within MAX_SIZE has every dimension within MAX_DIM (dims >= 1)

_TYPE = re.compile(rf"\s*({'|'.join(sorted(DTYPES, key=len, reverse=True))})\[([0-9,\s]*)\]\s*$")


class SignatureError(ValueError):
    """A type or signature that does not parse, or is beyond the bounds."""


def within_bounds(shape) -> bool:
    """Whether a shape (dims >= 1) is within MAX_RANK, MAX_DIM and MAX_SIZE."""
    n = 1
    for d in shape:
        n *= d
    return len(shape) <= MAX_RANK and n <= MAX_SIZE and max(shape, default=1) <= MAX_DIM


def check_dims(dims) -> None:
    """Refuse a dimension pool (`--dims`) with a dimension < 1 or > MAX_DIM."""
    dims = tuple(dims)
    if not dims:
        raise SignatureError("empty dimension pool")
    for d in dims:
        if not 1 <= d <= MAX_DIM:
            raise SignatureError(f"dimension {d} is out of range: dimensions are 1..{MAX_DIM} (MAX_DIM, "
                                 "the int32 maximum: JAX indexes with int32)")


class Type(NamedTuple):
    dtype: str           # a key of DTYPES
    shape: tuple[int, ...]

    def __str__(self) -> str:
        return f"{self.dtype}[{','.join(map(str, self.shape))}]"

    @property
    def rank(self) -> int:
        return len(self.shape)

    @property
    def size(self) -> int:
        n = 1
        for d in self.shape:
            n *= d
        return n

    def spec(self):
        """The `jax.ShapeDtypeStruct` of this type."""
        import jax
        import jax.numpy as jnp
        return jax.ShapeDtypeStruct(self.shape, jnp.dtype(DTYPES[self.dtype].name))


def parse_type(text: str) -> Type:
    m = _TYPE.match(text)
    if not m:
        raise SignatureError(f"bad type {text.strip()!r} (expected e.g. f32[4,8], i32[], bool[3]; "
                             f"dtypes: {', '.join(DTYPES)})")
    dims = [d.strip() for d in m.group(2).split(",") if d.strip()]
    if not all(d.isdigit() for d in dims):       # `f32[2 3]`
        raise SignatureError(f"bad type {text.strip()!r} (dimensions are separated by commas)")
    if len(dims) > MAX_RANK:
        raise SignatureError(f"type {text.strip()!r} has rank {len(dims)} > {MAX_RANK}")
    # no int() of a huge digit string (Python refuses more than 4300 digits)
    shape = tuple(int(d) if len(d.lstrip("0")) <= len(str(MAX_DIM)) else MAX_DIM + 1 for d in dims)
    if any(d < 1 for d in shape):
        raise SignatureError(f"type {text.strip()!r} has a dimension < 1")
    shown = text.strip() if len(text.strip()) <= 60 else text.strip()[:56] + "...]"
    if max(shape, default=1) > MAX_DIM:
        raise SignatureError(f"type {shown!r} has a dimension > {MAX_DIM} (MAX_DIM, "
                             "the int32 maximum: JAX indexes with int32)")
    size = Type(m.group(1), shape).size
    if size > MAX_SIZE:
        raise SignatureError(f"type {shown!r} has {size} elements > {MAX_SIZE} (MAX_SIZE, "
                             "the int32 maximum: a reshape makes the element count a dimension)")
    return Type(m.group(1), shape)


def parse_signature(text: str) -> tuple[Type, ...]:
    """`"f32[4,8], f32[8]"` -> (Type, Type); brackets protect inner commas."""
    parts = [p for p in re.findall(r"[^,\[\]]*\[[^\]]*\]|[^,]+", text) if p.strip(", ")]
    if not parts:
        raise SignatureError("empty signature")
    return tuple(parse_type(p.strip(", ")) for p in parts)


def format_signature(types) -> str:
    return ", ".join(map(str, types))
