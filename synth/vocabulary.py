"""The language's fixed vocabulary: what a program's text may name.

- the modules a program may import, by the names it uses (`ROOTS`: the
  fixed allowlist; a grammar's header, read by `skeleton`, imports only
  these, and `imported_root` reads an import statement), and what may be
  reached through them: dotted names resolved against the
  installed JAX, only in the namespaces of array computation
  (`NAMESPACES`, `TOP_LEVEL`), minus what touches the host (`DENIED`);
- Python's operators and punctuation (`OPERATORS`), the keywords of the
  program skeleton and of expressions (`KEYWORDS`), numbers, short plain
  strings (einsum specs, axis names), names the program binds;
- of any value other than a module only an array's computing attributes
  (`attributes()`: `.T`, `.at`, `.astype`);
- never a private or dunder name, a builtin, a name outside ASCII.

Grammar literals (`literals`) and whole programs (`safety`) are checked
against it; text outside it raises `UnsafeProgram`.
"""
from __future__ import annotations

import ast
import enum
import importlib
import math
import re
import types
from functools import lru_cache

ROOTS = {"jax": "jax", "jnp": "jax.numpy", "lax": "jax.lax"}
# modules (and their submodules) whose public functions compute on arrays
NAMESPACES = ("jax.numpy", "jax.lax", "jax.nn", "jax.random", "jax.scipy", "jax.sharding")
# what programs may use from `jax` itself besides those modules
# (not `jit`, whose compiler options can make XLA write files)
TOP_LEVEL = frozenset({
    "vmap", "grad", "value_and_grad", "jvp", "vjp", "linearize", "hessian", "jacfwd", "jacrev",
    "checkpoint", "remat", "shard_map", "devices", "device_count", "make_mesh", "P"})
# in those namespaces, but reading or writing files, or changing global state
DENIED = frozenset({
    "jax.numpy.load", "jax.numpy.save", "jax.numpy.savez", "jax.numpy.fromfile", "jax.numpy.frompyfunc",
    "jax.numpy.set_printoptions", "jax.numpy.printoptions", "jax.numpy.get_printoptions"})
KEYWORDS = frozenset({"def", "return", "lambda", "True", "False", "None",
                      "and", "or", "not", "if", "else", "in", "is"})
OPERATORS = frozenset("( ) [ ] , : . = + - * / // % ** @ < > <= >= == != & | ^ ~ << >>".split())
STRING = re.compile(r'(["\'])[A-Za-z0-9_.,\->: ]{0,64}\1')
MAX_INT = 2 ** 31 - 1       # largest integer literal, in size (int32) (shapes and indices are int32 in XLA)
# attributes a program may take of a value (not of a module): an array's
# computing methods and properties, and those of `x.at[i]`; not those that
# reach the runtime (devices, shards, buffers)
RUNTIME = frozenset({"addressable_data", "addressable_shards", "global_shards", "device", "sharding", "committed",
                     "copy_to_host_async", "to_device", "is_fully_addressable", "is_fully_replicated", "flat"})
AT_METHODS = frozenset({"get", "set", "add", "subtract", "mul", "multiply", "divide", "power", "min", "max", "apply"})


class UnsafeProgram(ValueError):
    """Text outside the language's vocabulary; the message says what (and
    `literal`, which grammar literal, if one)."""
    literal: str | None = None


def imported_root(node: ast.stmt) -> str | None:
    """The root an import statement binds (`import jax.numpy as jnp` -> jnp)
    if it binds one of `ROOTS` to its module, else None."""
    if isinstance(node, ast.Import) and len(node.names) == 1:
        alias = node.names[0]
        bound = alias.asname or alias.name
        return bound if ROOTS.get(bound) == alias.name else None
    if isinstance(node, ast.ImportFrom) and node.level == 0 and len(node.names) == 1:
        alias = node.names[0]
        bound = alias.asname or alias.name
        return bound if ROOTS.get(bound) == f"{node.module}.{alias.name}" else None
    return None


def is_private(name: str) -> bool:
    """A private or dunder name (Python folds lookalikes to them too: names are ASCII)."""
    return name.startswith("_")


@lru_cache(maxsize=None)
def resolve(dotted: str) -> str | None:
    """Why a dotted name rooted at a `ROOTS` module may not be used (None: it may).
    Names are looked up in the installed JAX, so an unknown name is found when
    a grammar loads, not when its programs run."""
    root, *parts = dotted.split(".")
    obj, where = importlib.import_module(ROOTS[root]), ROOTS[root]
    for part in parts:
        if is_private(part):
            return f"{dotted}: private or dunder name {part!r}"
        if isinstance(obj, type) and issubclass(obj, enum.Enum) and part in obj.__members__:
            obj, where = obj[part], f"{where}.{part}"       # an option's value: `jax.sharding.AxisType.Auto`
            continue
        if not isinstance(obj, types.ModuleType):
            # a member's own attributes (a class's, a primitive's) reach past the
            # namespaces: `jnp.character.tofile`, `lax.add_p.def_impl`
            return f"{dotted}: {part!r} is an attribute of {where}, not a member of a module"
        parent, where = obj, f"{where}.{part}"
        obj = getattr(obj, part, resolve)       # `resolve` itself marks a missing name
        if obj is resolve:
            return f"{dotted}: no {part!r} in {getattr(parent, '__name__', dotted)} (jax {_jax_version()})"
        if isinstance(obj, types.ModuleType):
            if not any(obj.__name__ == ns or obj.__name__.startswith(ns + ".") for ns in NAMESPACES):
                return f"{dotted}: module {obj.__name__} is not one programs may use ({', '.join(NAMESPACES)})"
        else:
            if parent.__name__ == "jax" and part not in TOP_LEVEL:
                return f"{dotted}: jax.{part} is not one programs may use"
            if where in DENIED or f"{parent.__name__}.{part}" in DENIED:
                return f"{dotted}: touches files or global state"
    if isinstance(obj, types.ModuleType):
        return f"{dotted}: a module is not a value programs compute with"
    return None


@lru_cache(maxsize=1)
def attributes() -> frozenset[str]:
    import jax
    return frozenset(n for n in dir(jax.Array) if not is_private(n)) - RUNTIME | AT_METHODS


def attribute_problem(name: str) -> str | None:
    """Why a program may not take this attribute of a value (None: it may)."""
    if is_private(name):
        return f"private or dunder name {name!r}"
    if name not in attributes():
        return f"attribute {name!r} is not one of an array's (see safety.attributes())"
    return None


def _jax_version() -> str:
    import jax
    return jax.__version__


def number_problem(text: str) -> str | None:
    """Why a number literal is outside the vocabulary (None: it is in)."""
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return f"number {text!r}"
    if isinstance(value, complex) or not math.isfinite(value) or (isinstance(value, int) and abs(value) > MAX_INT):
        return f"number {text!r} (finite, integers at most {MAX_INT} in size)"
    return None
