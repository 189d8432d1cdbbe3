"""Array types of the program language: a dtype and a static shape.

Types print and parse as `f32[4,8]`, `i32[]`, `bool[3]`; a signature is a
comma-separated list of them.
"""
from __future__ import annotations

import re
from typing import NamedTuple

# short name -> (numpy/jax dtype name, jnp spelling in printed programs)
DTYPES = {"f32": ("float32", "jnp.float32"), "i32": ("int32", "jnp.int32"),
          "bool": ("bool", "jnp.bool_")}
# dtype domains that annotations name, e.g. `unary(float)`
DOMAINS = {"float": {"f32"}, "int": {"i32"}, "bool": {"bool"},
           "numeric": {"f32", "i32"}, "any": {"f32", "i32", "bool"}}
MAX_RANK = 4

_TYPE = re.compile(r"\s*(f32|i32|bool)\[([0-9,\s]*)\]\s*$")


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
        return jax.ShapeDtypeStruct(self.shape, DTYPES[self.dtype][0])


def parse_type(text: str) -> Type:
    m = _TYPE.match(text)
    if not m:
        raise SignatureError(f"bad type {text.strip()!r} (expected e.g. f32[4,8], i32[], bool[3])")
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
