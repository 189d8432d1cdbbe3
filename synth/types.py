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

_TYPE = re.compile(rf"\s*({'|'.join(sorted(DTYPES, key=len, reverse=True))})\[([0-9,\s]*)\]\s*$")


class SignatureError(ValueError):
    """A type or signature that does not parse."""


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
    if len(dims) > MAX_RANK:
        raise SignatureError(f"type {text.strip()!r} has rank {len(dims)} > {MAX_RANK}")
    shape = tuple(int(d) for d in dims)
    if any(d < 1 for d in shape):
        raise SignatureError(f"type {text.strip()!r} has a dimension < 1")
    return Type(m.group(1), shape)


def parse_signature(text: str) -> tuple[Type, ...]:
    """`"f32[4,8], f32[8]"` -> (Type, Type); brackets protect inner commas."""
    parts = [p for p in re.findall(r"[^,\[\]]*\[[^\]]*\]|[^,]+", text) if p.strip(", ")]
    if not parts:
        raise SignatureError("empty signature")
    return tuple(parse_type(p.strip(", ")) for p in parts)


def format_signature(types) -> str:
    return ", ".join(map(str, types))
