"""The registry of type rules: one pure function per kind of operation.

A rule is given the types of the values in scope and the finite pools of
attribute values, and yields every well-typed application (`App`): which
values fill the operand slots, the attribute tokens, the sub-programs
(`Body`) that fill lambda or body slots, and the result type. Sampling picks
among these applications, enumeration visits all of them in the order they
are yielded, so each rule must yield in a deterministic order.

Rules know nothing about the grammar: an annotation `//@ unary(float)` names
the rule and its arguments, and the loader checks the alternative's shape
(`Rule.slots`, `Rule.attrs`) against the rule's declaration here.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from typing import Callable, Iterator, NamedTuple, Union

from .types import DOMAINS, DTYPES, MAX_RANK, Type


class Body(NamedTuple):
    """A typed sub-program: parameters (name, type) -> result type.

    Its chain starts from parameter `start` (default: the last one of the
    result type) and must read the parameters named in `needs` (a carry that
    nothing else reads would be dropped by JAX). Parameters named `c[0]`,
    `c[1]` are components of a tuple carry, referred to by the grammar's
    `carry` rule rather than by a name."""
    params: tuple[tuple[str, Type], ...]
    result: Type
    start: int = -1
    needs: tuple[str, ...] = ()


class App(NamedTuple):
    """One well-typed use of a rule: slot fillers in slot order (an int is
    the index of an operand value in scope, a Body a sub-program), attribute
    tokens in order, and the result type."""
    slots: tuple[Union[int, Body], ...]
    attrs: tuple[str, ...]
    result: Type


@dataclass(frozen=True)
class Pools:
    """Finite pools of the values attributes are drawn from, and of the shapes
    sampled signatures draw from (none: shapes of dims from `dims`)."""
    dims: tuple[int, ...] = (1, 2, 3, 4, 8)
    floats: tuple[str, ...] = ("-1.0", "0.5", "2.0")
    small_ints: tuple[int, ...] = (2, 3)
    max_size: int = 4096       # largest number of elements of a created value
    shapes: tuple[tuple[int, ...], ...] = ()


def _realistic_shapes():
    batch, features = (1, 8, 32, 64), (16, 64, 128, 256, 512, 1024)
    return tuple(sorted(
        {(f,) for f in features} | {(b, f) for b in batch for f in features} | {(128, 128), (256, 1024)}
        | {(b, 128, f) for b in (1, 8) for f in (64, 128)}                       # sequences
        | {(b, 28, 28) for b in batch} | {(b, 32, 32, 3) for b in batch}))       # images


# named shape profiles (`--shapes`): tiny dims that enumerate well, and the
# shapes of real models (batch 1-64, features 16-1024, sequences, images)
SHAPES = {
    "tiny": Pools(),
    "realistic": Pools(dims=(1, 2, 3, 4, 8, 16, 28, 32, 64, 128, 256, 512, 1024), max_size=1 << 20,
                       shapes=_realistic_shapes()),
}


class Rule(NamedTuple):
    name: str
    fn: Callable[..., Iterator[App]]
    slots: str                 # one letter per slot: e = expression, l = lambda
    attrs: int                 # number of attribute terminals
    args: tuple[str, ...]      # names of annotation arguments
    needs: tuple[Type, ...]    # operand types worth producing when absent
    has_bodies: bool           # yields Body slots (sub-programs nest one level deeper)


REGISTRY: dict[str, Rule] = {}


def rule(slots: str, attrs: int = 0, args: tuple[str, ...] = (), needs: tuple[Type, ...] = (),
         bodies: bool = False):
    """Register a rule; a lambda slot (`l`) implies sub-programs, `bodies=True`
    declares them for expression slots (the while loop's body)."""
    def register(fn):
        REGISTRY[fn.__name__] = Rule(fn.__name__, fn, slots, attrs, args, needs, bodies or "l" in slots)
        return fn
    return register


# ---------------------------------------------------------------- helpers

def _in(t: Type, domain: str) -> bool:
    return t.dtype in DOMAINS[domain]


def _broadcast(*shapes) -> tuple[int, ...] | None:
    """NumPy broadcasting of shapes (dims >= 1), or None (hot: no numpy call)."""
    n = max(map(len, shapes))
    out = []
    for dims in zip(*[(1,) * (n - len(s)) + s for s in shapes]):
        d = max(dims)
        if any(x != 1 and x != d for x in dims):
            return None
        out.append(d)
    return tuple(out)


def _tuple(xs) -> str:
    xs = list(xs)
    return "(" + ", ".join(map(str, xs)) + ("," if len(xs) == 1 else "") + ")"


def _without(shape, axis):
    return shape[:axis] + shape[axis + 1:]


def _fits(shape, pools: Pools) -> bool:
    return len(shape) <= MAX_RANK and math.prod(shape) <= pools.max_size


SCALAR_BOOL = Type("bool", ())
SCALAR_INT = Type("i32", ())

# ---------------------------------------------------------------- elementwise


@rule("e", args=("domain",))
def unary(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            yield App((i,), (), t)


@rule("e", args=("domain",))
def predicate(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            yield App((i,), (), Type("bool", t.shape))


def _promoted(a: Type, b: Type) -> str | None:
    """The dtype JAX gives a binary op on a and b: their common dtype, or
    float when a float meets an integer scalar (`c * i` in a loop body)."""
    if a.dtype == b.dtype:
        return a.dtype
    if {a.dtype, b.dtype} == {"f32", "i32"} and (a if a.dtype == "i32" else b).rank == 0:
        return "f32"
    return None


def _pairs(ts, domain, out_dtype=None):
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            dtype = _promoted(a, b)
            if dtype is None or dtype not in DOMAINS[domain]:
                continue
            shape = _broadcast(a.shape, b.shape)
            if shape is not None:
                yield App((i, j), (), Type(out_dtype or dtype, shape))


@rule("ee", args=("domain",))
def binary(ts, pools, domain):
    return _pairs(ts, domain)


@rule("ee", args=("domain",))
def same(ts, pools, domain):
    """Elementwise on operands of one type (lax ops do not broadcast)."""
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            if a == b and _in(a, domain):
                yield App((i, j), (), a)


@rule("e", attrs=2)
def precision(ts, pools):
    """Round to a narrower float format: (exponent, mantissa) bits of bf16 and f16."""
    for i, t in enumerate(ts):
        if t.dtype == "f32":
            for e, m in ((8, 7), (5, 10)):
                yield App((i,), (str(e), str(m)), t)


@rule("ee", args=("domain",))
def compare(ts, pools, domain):
    return _pairs(ts, domain, "bool")


@rule("e", attrs=1, args=("domain",))
def scalar(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for c in pools.floats:
                yield App((i,), (c,), t)


@rule("e", attrs=1, args=("domain",))
def scalar_int(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for n in pools.small_ints:
                yield App((i,), (str(n),), t)


@rule("eee")
def select(ts, pools):
    for i, c in enumerate(ts):
        if c.dtype != "bool":
            continue
        for j, a in enumerate(ts):
            for k, b in enumerate(ts):
                shape = _broadcast(c.shape, a.shape, b.shape) if a.dtype == b.dtype else None
                if shape is not None:
                    yield App((i, j, k), (), Type(a.dtype, shape))


def _bounds(pools):
    return [(lo, hi) for lo, hi in itertools.combinations(pools.floats, 2) if float(lo) < float(hi)]


@rule("e", attrs=2)
def clip(ts, pools):
    for i, t in enumerate(ts):
        if t.dtype == "f32":
            for lo, hi in _bounds(pools):
                yield App((i,), (lo, hi), t)


@rule("e", attrs=2)
def clamp(ts, pools):
    return clip(ts, pools)


@rule("e", attrs=1)
def astype(ts, pools):
    for i, t in enumerate(ts):
        for d in DTYPES:
            if d != t.dtype:
                yield App((i,), (DTYPES[d][1],), Type(d, t.shape))


@rule("e", attrs=1)
def bitcast(ts, pools):
    swap = {"f32": "i32", "i32": "f32"}
    for i, t in enumerate(ts):
        if t.dtype in swap:
            yield App((i,), (DTYPES[swap[t.dtype]][1],), Type(swap[t.dtype], t.shape))


@rule("e")
def like(ts, pools):
    for i, t in enumerate(ts):
        yield App((i,), (), t)

# ---------------------------------------------------------------- reductions


@rule("e", attrs=2, args=("domain",))
def reduce(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for ax in range(t.rank):
                yield App((i,), (str(ax), "False"), Type(t.dtype, _without(t.shape, ax)))
                yield App((i,), (str(ax), "True"), Type(t.dtype, t.shape[:ax] + (1,) + t.shape[ax + 1:]))


@rule("e", attrs=1, args=("domain",))
def reduce_nokeep(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for ax in range(t.rank):
                yield App((i,), (str(ax),), Type(t.dtype, _without(t.shape, ax)))


@rule("e", args=("domain",))
def reduce_all(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain) and t.rank > 0:
            yield App((i,), (), Type(t.dtype, ()))


@rule("e", attrs=1, args=("domain",))
def along_axis(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for ax in range(t.rank):
                yield App((i,), (str(ax),), t)


@rule("e", attrs=1, args=("domain",))
def arg_reduce(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for ax in range(t.rank):
                yield App((i,), (str(ax),), Type("i32", _without(t.shape, ax)))


@rule("e", args=("domain",))
def arg_reduce_all(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain) and t.rank > 0:
            yield App((i,), (), SCALAR_INT)


@rule("e", attrs=1, args=("domain",))
def arg_along_axis(ts, pools, domain):
    for i, t in enumerate(ts):
        if _in(t, domain):
            for ax in range(t.rank):
                yield App((i,), (str(ax),), Type("i32", t.shape))

# ---------------------------------------------------------------- contractions


def _matmul_shape(a, b):
    if not a or not b:
        return None
    a2 = (1,) + a if len(a) == 1 else a
    b2 = b + (1,) if len(b) == 1 else b
    if a2[-1] != b2[-2]:
        return None
    batch = _broadcast(a2[:-2], b2[:-2])
    if batch is None:
        return None
    out = batch + (a2[-2],) + (b2[-1],)
    if len(a) == 1:
        out = out[:-2] + out[-1:]
    if len(b) == 1:
        out = out[:-1]
    return out


@rule("ee")
def matmul(ts, pools):
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            shape = _matmul_shape(a.shape, b.shape) if a.dtype == b.dtype != "bool" else None
            if shape is not None and _fits(shape, pools):
                yield App((i, j), (), Type(a.dtype, shape))


@rule("ee", attrs=1)
def einsum(ts, pools):
    """Contract one axis of the first operand with one of the second."""
    letters = "abcdefgh"
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            if a.dtype != b.dtype or a.dtype == "bool":
                continue
            for p, q in itertools.product(range(a.rank), range(b.rank)):
                if a.shape[p] != b.shape[q]:
                    continue
                la, lb = letters[:a.rank], list(letters[a.rank:a.rank + b.rank])
                lb[q] = la[p]
                out = [c for c in la if c != la[p]] + [c for c in lb if c != la[p]]
                shape = _without(a.shape, p) + _without(b.shape, q)
                if _fits(shape, pools):
                    spec = f'"{la},{"".join(lb)}->{"".join(out)}"'
                    yield App((i, j), (spec,), Type(a.dtype, shape))


@rule("ee", args=("domain",))
def outer(ts, pools, domain):
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            shape = (a.size, b.size)
            if a.dtype == b.dtype and _in(a, domain) and _fits(shape, pools):
                yield App((i, j), (), Type(a.dtype, shape))

# ---------------------------------------------------------------- shape and layout


@rule("e")
def transpose_all(ts, pools):
    for i, t in enumerate(ts):
        if t.rank >= 2:
            yield App((i,), (), Type(t.dtype, t.shape[::-1]))


@rule("e", attrs=1)
def transpose(ts, pools):
    for i, t in enumerate(ts):
        if t.rank >= 2:
            for perm in itertools.permutations(range(t.rank)):
                if list(perm) != list(range(t.rank)) and list(perm) != list(range(t.rank))[::-1]:
                    yield App((i,), (_tuple(perm),), Type(t.dtype, tuple(t.shape[p] for p in perm)))


def _factorings(size, dims, rank):
    """Shapes of `rank` dims from `dims` whose product is `size`."""
    if rank == 0:
        if size == 1:
            yield ()
        return
    for d in dims:
        if size % d == 0:
            for rest in _factorings(size // d, dims, rank - 1):
                yield (d,) + rest


@rule("e", attrs=1)
def reshape(ts, pools):
    for i, t in enumerate(ts):
        dims = sorted(set(pools.dims) | set(t.shape) | {t.size})
        seen = {t.shape}
        for rank in range(1, MAX_RANK + 1):
            for shape in _factorings(t.size, dims, rank):
                if shape not in seen:
                    seen.add(shape)
                    yield App((i,), (_tuple(shape),), Type(t.dtype, shape))


@rule("e", attrs=1)
def expand_dims(ts, pools):
    for i, t in enumerate(ts):
        if t.rank < MAX_RANK:
            for ax in range(t.rank + 1):
                yield App((i,), (str(ax),), Type(t.dtype, t.shape[:ax] + (1,) + t.shape[ax:]))


@rule("e", attrs=1)
def squeeze(ts, pools):
    for i, t in enumerate(ts):
        for ax, d in enumerate(t.shape):
            if d == 1:
                yield App((i,), (str(ax),), Type(t.dtype, _without(t.shape, ax)))


@rule("e", attrs=1)
def broadcast_to(ts, pools):
    for i, t in enumerate(ts):
        targets = []
        if t.rank < MAX_RANK:
            targets += [(d,) + t.shape for d in pools.dims if d > 1]
        targets += [t.shape[:ax] + (d,) + t.shape[ax + 1:]
                    for ax, one in enumerate(t.shape) if one == 1 for d in pools.dims if d > 1]
        for shape in targets:
            if _fits(shape, pools):
                yield App((i,), (_tuple(shape),), Type(t.dtype, shape))


@rule("ee", attrs=1)
def concatenate(ts, pools):
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            if a.dtype != b.dtype or a.rank != b.rank:
                continue
            for ax in range(a.rank):
                if _without(a.shape, ax) == _without(b.shape, ax):
                    shape = a.shape[:ax] + (a.shape[ax] + b.shape[ax],) + a.shape[ax + 1:]
                    if _fits(shape, pools):
                        yield App((i, j), (str(ax),), Type(a.dtype, shape))


@rule("ee")
def stack(ts, pools):
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            if a == b and a.rank < MAX_RANK:
                yield App((i, j), (), Type(a.dtype, (2,) + a.shape))


@rule("e", attrs=1)
def slice(ts, pools):
    """Basic indexing on one axis: from 1, up to the last, or every other."""
    for i, t in enumerate(ts):
        for ax, d in enumerate(t.shape):
            if d < 2:
                continue
            lead = ":, " * ax
            for text, n in (("1:", d - 1), (f":{d - 1}", d - 1), ("::2", (d + 1) // 2)):
                yield App((i,), (f"[{lead}{text}]",), Type(t.dtype, t.shape[:ax] + (n,) + t.shape[ax + 1:]))


@rule("e", attrs=1)
def pad(ts, pools):
    for i, t in enumerate(ts):
        for ax in range(t.rank):
            for lo, hi in ((1, 1), (0, 2)):
                widths = [(0, 0)] * t.rank
                widths[ax] = (lo, hi)
                shape = t.shape[:ax] + (t.shape[ax] + lo + hi,) + t.shape[ax + 1:]
                if _fits(shape, pools):
                    yield App((i,), (_tuple(f"({a}, {b})" for a, b in widths),), Type(t.dtype, shape))


@rule("e", attrs=1)
def flip(ts, pools):
    for i, t in enumerate(ts):
        for ax in range(t.rank):
            yield App((i,), (str(ax),), t)


@rule("e", attrs=2)
def roll(ts, pools):
    for i, t in enumerate(ts):
        for ax in range(t.rank):
            for n in pools.small_ints:
                yield App((i,), (str(n), str(ax)), t)


@rule("e", attrs=1)
def tile(ts, pools):
    for i, t in enumerate(ts):
        for ax in range(t.rank):
            for n in pools.small_ints:
                reps = [1] * t.rank
                reps[ax] = n
                shape = t.shape[:ax] + (t.shape[ax] * n,) + t.shape[ax + 1:]
                if _fits(shape, pools):
                    yield App((i,), (_tuple(reps),), Type(t.dtype, shape))

# ---------------------------------------------------------------- creation


@rule("", attrs=2)
def arange(ts, pools):
    for n in pools.dims:
        if n > 1:
            for d in ("f32", "i32"):
                yield App((), (str(n), DTYPES[d][1]), Type(d, (n,)))


@rule("", attrs=2)
def full(ts, pools):
    """Constants shaped like a value in scope, so they combine with it."""
    for shape in sorted({t.shape for t in ts}):
        for c in pools.floats:
            yield App((), (_tuple(shape), c), Type("f32", shape))

# ---------------------------------------------------------------- control flow


@rule("elle", needs=(SCALAR_BOOL,))
def cond(ts, pools):
    for p, pt in enumerate(ts):
        if pt == SCALAR_BOOL:
            for i, t in enumerate(ts):
                body = Body((("a", t),), t)
                yield App((p, body, body, i), (), t)


@rule("ellle", needs=(SCALAR_INT,))
def switch(ts, pools):
    for k, kt in enumerate(ts):
        if kt == SCALAR_INT:
            for i, t in enumerate(ts):
                body = Body((("a", t),), t)
                yield App((k, body, body, body, i), (), t)


@rule("le", attrs=1)
def fori_loop(ts, pools):
    for i, t in enumerate(ts):
        for n in pools.small_ints:
            yield App((Body((("i", SCALAR_INT), ("c", t)), t), i), (str(n),), t)


@rule("eeee", attrs=3, bodies=True)
def fori_pair(ts, pools):
    """A fori loop over a pair carry (c[0], c[1]) that returns c[0]; c[0]'s
    chain reads c[1], whose chain may read c[0]. Attributes: the trip count
    and the lambda's parameter names."""
    for i, a in enumerate(ts):
        for j, b in enumerate(ts):
            params = (("i", SCALAR_INT), ("c[0]", a), ("c[1]", b))
            for n in pools.small_ints:
                yield App((Body(params, a, 1, ("c[1]",)), Body(params, b, 2), i, j), (str(n), "i", "c"), a)


@rule("ee", attrs=1, bodies=True)
def while_loop(ts, pools):
    for i, t in enumerate(ts):
        for n in pools.small_ints:
            yield App((Body((("c[1]", t),), t), i), (str(n),), t)
