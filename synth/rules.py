"""The registry of type rules: one pure type transfer per kind of operation.

A rule declares its operands by domain (`Operand`: a dtype domain and a rank
range) and is a type transfer: given one type per operand (and the pools of
attribute values), it yields every (attributes, result type) it allows, or
nothing. The framework (`Rule.apps`) loops over the values in scope that fit
the declared domains and turns each transfer into an application (`App`):
which values fill the operand slots, the attribute tokens, the sub-programs
(`Body`) that fill lambda or body slots, and the result type (a tuple of
types for an operation with several results: `a, b = lax.top_k(x, 2)`).
Sampling picks among the applications, enumeration visits all of them in the
order they come (operands in scope order, then the transfer's order), so a
transfer yields in a deterministic order.

Rules know nothing about the grammar: an annotation `//@ unary(float)` names
the rule and its arguments, and the loader checks the alternative's shape
(`Rule.slots`, `Rule.attrs`) against the rule's declaration here. A rule
declared `within="mesh"` applies only inside a sub-program that runs over a
device mesh (`Body.context`); its transfer gets the mesh size.
"""
from __future__ import annotations

import itertools
import math
from dataclasses import dataclass
from functools import lru_cache
from typing import Callable, Iterator, NamedTuple, Union

from .types import DOMAINS, DTYPES, MAX_RANK, MAX_SIZE, Type


class Body(NamedTuple):
    """A typed sub-program: parameters (name, type) -> result type.

    Its chain starts from parameter `start` (default: the last one of the
    result type) and must read the parameters named in `needs` (a carry that
    nothing else reads would be dropped by JAX). Parameters named `c[0]`,
    `c[1]` are components of a tuple carry, referred to by the grammar's
    `carry` rule rather than by a name. `context` is what the sub-program
    runs within, as (key, value) pairs: ("mesh", n) inside a `shard_map` over
    n devices, ("diff", True) under reverse-mode differentiation, ("batched",
    True) under vmap, ("closed", True) where it may not capture the
    enclosing program's values; nested sub-programs inherit it."""
    params: tuple[tuple[str, Type], ...]
    result: Type
    start: int = -1
    needs: tuple[str, ...] = ()
    context: tuple[tuple[str, object], ...] = ()


class App(NamedTuple):
    """One well-typed use of a rule: slot fillers in slot order (an int is
    the index of an operand value in scope, a Body a sub-program), attribute
    tokens in order, the result type, and the further results of an
    operation with several (`more`)."""
    slots: tuple[Union[int, Body], ...]
    attrs: tuple[str, ...]
    result: Type
    more: tuple[Type, ...] = ()

    @property
    def results(self) -> tuple[Type, ...]:
        return (self.result,) + self.more

    def placed(self, values) -> App:
        """This application of `Rule.transfer` (operand slots hold positions
        0, 1, ...) with `values[k]` in the slot of operand k."""
        return App(tuple(values[s] if isinstance(s, int) else s for s in self.slots), self.attrs, self.result, self.more)


@dataclass(frozen=True)
class Pools:
    """Finite pools of the values attributes are drawn from, and of the shapes
    sampled signatures draw from (none: shapes of dims from `dims`); `dtypes`
    is every dtype a value may have (the grammar may allow fewer). Whatever the
    pools, no value exceeds the bounds of `types` (MAX_DIM, MAX_SIZE)."""
    dims: tuple[int, ...] = (1, 2, 3, 4, 8)
    floats: tuple[str, ...] = ("-1.0", "0.5", "2.0")
    small_ints: tuple[int, ...] = (2, 3)
    max_size: int = 4096       # largest number of elements of a created value
    shapes: tuple[tuple[int, ...], ...] = ()
    dtypes: tuple[str, ...] = tuple(DTYPES)
    devices: int = 4           # the mesh of shard_map sub-programs


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

ARG = "ARG"        # an operand domain that is the annotation's argument: `unary(float)`


class Operand(NamedTuple):
    """What an operand slot accepts: a dtype domain (a key of DOMAINS, or ARG)
    and a range of ranks."""
    domain: str = "any"
    min_rank: int = 0
    max_rank: int = MAX_RANK


def arg(min_rank=0, max_rank=MAX_RANK) -> Operand:
    return Operand(ARG, min_rank, max_rank)


ANY, SCALAR_INT_OPERAND = Operand(), Operand("int", 0, 0)


class Rule(NamedTuple):
    name: str
    fn: Callable[..., Iterator]
    slots: str                 # one letter per slot: e = operand, l = lambda, b = sub-program in an expression slot
    attrs: int                 # number of attribute terminals
    args: tuple[str, ...]      # names of annotation arguments
    needs: tuple[Type, ...]    # operand types worth producing when absent
    operands: tuple[Operand, ...]
    within: str | None         # a context key the rule needs ("mesh")
    outside: str | None        # a context key the rule must not be within (no mesh inside a mesh)
    scope: bool                # the transfer also sees the types in scope (creation ops shaped like them)

    @property
    def has_bodies(self) -> bool:
        """Yields Body slots (sub-programs nest one level deeper)."""
        return "l" in self.slots or "b" in self.slots

    def domains(self, args=()) -> tuple[tuple[frozenset, int, int], ...]:
        """(dtypes, least rank, greatest rank) each operand accepts, with these
        annotation arguments (`fits`)."""
        return _domains(self, args)

    def fitting(self, ts, args=()) -> list[list[int]]:
        """For each operand, the indices of the types in `ts` that fit its domain."""
        return [[i for i, t in enumerate(ts) if fits(domain, t)] for domain in self.domains(args)]

    def transfer(self, operands: tuple[Type, ...], pools, args=(), context=(), scope=()) -> Iterator[App]:
        """What the transfer gives for one operand of each of these types, as
        applications whose operand slots hold the operand's position (0, 1,
        ...: `App.placed` puts values there); nothing outside the rule's
        context. `scope`: the types in scope, for a rule that sees them."""
        extra, ctx = {}, dict(context)
        if self.outside in ctx:
            return
        if self.within is not None:
            if self.within not in ctx:
                return
            extra[self.within] = ctx[self.within]
        if self.scope:
            extra["scope"] = scope
        positions = tuple(range(len(operands)))     # the slots of an application without sub-programs
        for out in self.fn(*operands, pools, *args, **extra):
            attrs, result, bodies = out if len(out) == 3 else (*out, ())
            more = ()
            if isinstance(result, tuple) and not isinstance(result, Type):
                result, *more = result
            if result.dtype not in pools.dtypes or more and any(t.dtype not in pools.dtypes for t in more):
                continue            # a dtype the grammar cannot write (complex in a real-only grammar)
            slots = positions
            if bodies:
                operand, subs = iter(positions), iter(bodies)
                slots = tuple(next(operand) if k == "e" else next(subs) for k in self.slots)
            yield App(slots, tuple(attrs), result, tuple(more))

    def apps(self, ts, pools, args=(), context=()) -> Iterator[App]:
        """Every application to values of types `ts`: the transfer over every
        choice of operands in scope that fit their domains (in scope order)."""
        for chosen in itertools.product(*self.fitting(ts, args)):
            for app in self.transfer(tuple(ts[i] for i in chosen), pools, args, context, ts):
                yield app.placed(chosen)


def fits(domain, t: Type) -> bool:
    """Whether an operand of this domain (`Rule.domains`) may have type t."""
    dtypes, lo, hi = domain
    return t.dtype in dtypes and lo <= len(t.shape) <= hi


@lru_cache(maxsize=None)
def _domains(rule: Rule, args) -> tuple[tuple[frozenset, int, int], ...]:
    """`Rule.domains`, memoised: looked up for every scope."""
    named = dict(zip(rule.args, args))
    return tuple((DOMAINS[named["domain"] if op.domain == ARG else op.domain], op.min_rank, op.max_rank)
                 for op in rule.operands)


REGISTRY: dict[str, Rule] = {}


def rule(*operands: Operand, slots: str | None = None, attrs: int = 0, args: tuple[str, ...] = (),
         needs: tuple[Type, ...] = (), within: str | None = None, outside: str | None = None,
         scope: bool = False):
    """Register a type transfer over these operands. `slots` (default: one
    `e` per operand) places operands and sub-programs in the alternative's
    order; an annotation argument `domain` is the domain of ARG operands."""
    def register(fn):
        kinds = slots if slots is not None else "e" * len(operands)
        assert kinds.count("e") == len(operands), fn.__name__
        REGISTRY[fn.__name__] = Rule(fn.__name__, fn, kinds, attrs, args, needs, tuple(operands), within, outside, scope)
        return fn
    return register


# ---------------------------------------------------------------- helpers

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


def _with(shape, axis, d):
    return shape[:axis] + (d,) + shape[axis + 1:]


def _fits(shape, pools: Pools) -> bool:
    """Within the pools' size of created values (and the bounds of `types`)."""
    return len(shape) <= MAX_RANK and math.prod(shape) <= min(pools.max_size, MAX_SIZE)


def _bounded(shape) -> bool:
    """Within the bounds of `types` (for results that are not held to
    `max_size`, as a broadcast of values in scope): MAX_SIZE >= every dim."""
    return math.prod(shape) <= MAX_SIZE


SCALAR_BOOL = Type("bool", ())
SCALAR_INT = Type("i32", ())

# ---------------------------------------------------------------- elementwise

@rule(arg(), args=("domain",))
def unary(x, pools, domain):
    yield (), x


@rule(arg(), args=("domain",))
def predicate(x, pools, domain):
    yield (), Type("bool", x.shape)


def _promoted(a: Type, b: Type) -> str | None:
    """The dtype JAX gives a binary op on a and b: their common dtype, or
    float when a float meets an integer scalar (`c * i` in a loop body)."""
    if a.dtype == b.dtype:
        return a.dtype
    if {a.dtype, b.dtype} == {"f32", "i32"} and (a if a.dtype == "i32" else b).rank == 0:
        return "f32"
    return None


def _pair(a, b, domain, out_dtype=None):
    dtype = _promoted(a, b)
    shape = _broadcast(a.shape, b.shape) if dtype in DOMAINS[domain] else None
    if shape is not None and _bounded(shape):
        yield (), Type(out_dtype or dtype, shape)


@rule(Operand("any"), Operand("any"), args=("domain",))
def binary(a, b, pools, domain):
    return _pair(a, b, domain)


@rule(Operand("any"), Operand("any"), args=("domain",))
def compare(a, b, pools, domain):
    return _pair(a, b, domain, "bool")


@rule(arg(), arg(), args=("domain",))
def same(a, b, pools, domain):
    """Elementwise on operands of one type (lax ops do not broadcast)."""
    if a == b:
        yield (), a


@rule(Operand("float"), attrs=2)
def precision(x, pools):
    """Round to a narrower float format: (exponent, mantissa) bits of bf16 and f16."""
    if x.dtype == "f32":
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


@rule(Operand("bool"), ANY, ANY)
def select(c, a, b, pools):
    shape = _broadcast(c.shape, a.shape, b.shape) if a.dtype == b.dtype else None
    if shape is not None and _bounded(shape):
        yield (), Type(a.dtype, shape)


def _bounds(pools):
    return [(lo, hi) for lo, hi in itertools.combinations(pools.floats, 2) if float(lo) < float(hi)]


@rule(Operand("float"), attrs=2)
def clip(x, pools):
    if x.dtype == "f32":
        for lo, hi in _bounds(pools):
            yield (lo, hi), x


@rule(Operand("float"), attrs=2)
def clamp(x, pools):
    return clip(x, pools)


@rule(ANY, attrs=1)
def astype(x, pools):
    for d in pools.dtypes:
        # complex to real drops the imaginary part (jnp.real says so)
        if d != x.dtype and not (DTYPES[x.dtype].kind == "complex" and DTYPES[d].kind != "complex"):
            yield (DTYPES[d].spelling,), Type(d, x.shape)


@rule(Operand("numeric"), attrs=1)
def bitcast(x, pools):
    """Reinterpret the bits as another dtype of the same width."""
    for d in pools.dtypes:
        if d != x.dtype and DTYPES[d].bits == DTYPES[x.dtype].bits and DTYPES[d].kind in ("float", "int", "uint"):
            yield (DTYPES[d].spelling,), Type(d, x.shape)


@rule(ANY)
def like(x, pools):
    yield (), x


@rule(Operand("float"), Operand("float"))
def complex_of(re, im, pools):
    """`lax.complex` of two f32 arrays of one shape."""
    if re == im and re.dtype == "f32":
        yield (), Type("c64", re.shape)


@rule(Operand("complex"))
def real_part(z, pools):
    """A real function of a complex value: real, imag, abs, angle."""
    yield (), Type("f32", z.shape)

# ---------------------------------------------------------------- reductions


@rule(arg(1), attrs=2, args=("domain",))
def reduce(x, pools, domain):
    for ax in range(x.rank):
        yield (str(ax), "False"), Type(x.dtype, _without(x.shape, ax))
        yield (str(ax), "True"), Type(x.dtype, _with(x.shape, ax, 1))


def _widened(dtype: str) -> str:
    """The dtype jnp.sum/prod give: integers narrower than 32 bits widen to 32."""
    t = DTYPES[dtype]
    if t.kind in ("int", "uint") and t.bits < 32:
        return "i32" if t.kind == "int" else "u32"
    return dtype


@rule(arg(1), attrs=2, args=("domain",))
def accumulate(x, pools, domain):
    """A sum or product along an axis (keepdims or not)."""
    for attrs, t in reduce(x, pools, domain):
        yield attrs, Type(_widened(t.dtype), t.shape)


@rule(arg(1), args=("domain",))
def accumulate_all(x, pools, domain):
    yield (), Type(_widened(x.dtype), ())


@rule(arg(1), attrs=1, args=("domain",))
def reduce_nokeep(x, pools, domain):
    for ax in range(x.rank):
        yield (str(ax),), Type(x.dtype, _without(x.shape, ax))


@rule(arg(1), args=("domain",))
def reduce_all(x, pools, domain):
    yield (), Type(x.dtype, ())


@rule(arg(1), attrs=1, args=("domain",))
def along_axis(x, pools, domain):
    for ax in range(x.rank):
        yield (str(ax),), x


@rule(arg(1), attrs=1, args=("domain",))
def arg_reduce(x, pools, domain):
    for ax in range(x.rank):
        yield (str(ax),), Type("i32", _without(x.shape, ax))


@rule(arg(1), args=("domain",))
def arg_reduce_all(x, pools, domain):
    yield (), SCALAR_INT


@rule(arg(1), attrs=1, args=("domain",))
def arg_along_axis(x, pools, domain):
    for ax in range(x.rank):
        yield (str(ax),), Type("i32", x.shape)


@rule(arg(1), attrs=1, args=("domain",))
def top_k(x, pools, domain):
    """The k largest along the last axis, and their indices."""
    for k in pools.small_ints:
        if k <= x.shape[-1]:
            shape = _with(x.shape, x.rank - 1, k)
            yield (str(k),), (Type(x.dtype, shape), Type("i32", shape))


@rule(arg(1), arg(1), attrs=1, args=("domain",))
def sort_pair(keys, values, pools, domain):
    """Sort two arrays of one shape along an axis by the first."""
    if keys.shape == values.shape:
        for ax in range(keys.rank):
            yield (str(ax),), (keys, values)


@rule(arg(), arg(), args=("domain",))
def divmod_(a, b, pools, domain):
    for attrs, t in _pair(a, b, domain):
        yield attrs, (t, t)

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


@rule(Operand("numeric"), Operand("numeric"))
def matmul(a, b, pools):
    shape = _matmul_shape(a.shape, b.shape) if a.dtype == b.dtype else None
    if shape is not None and _fits(shape, pools):
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
        shape = _without(a.shape, p) + _without(b.shape, q)
        if _fits(shape, pools):
            yield (f'"{la},{"".join(lb)}->{"".join(out)}"',), Type(a.dtype, shape)


@rule(arg(), arg(), args=("domain",))
def outer(a, b, pools, domain):
    shape = (a.size, b.size)
    if a.dtype == b.dtype and _fits(shape, pools):
        yield (), Type(a.dtype, shape)


@rule(Operand("float", 2, 2), Operand("float", 3, 3), Operand("int", 1, 1), outside="batched")
def ragged_dot(lhs, rhs, groups, pools):
    """`lax.ragged_dot`: rows of lhs in groups (sizes `groups`), each group
    times its own matrix of rhs: (m, k) x (g, k, n) -> (m, n). JAX cannot
    batch it (vmap) over its first axis."""
    if lhs.dtype == rhs.dtype and rhs.shape[0] == groups.shape[0] and lhs.shape[1] == rhs.shape[1] \
            and groups.dtype == "i32" and _bounded((lhs.shape[0], rhs.shape[2])):
        yield (), Type(lhs.dtype, (lhs.shape[0], rhs.shape[2]))

# ---------------------------------------------------------------- linear algebra


def _square(x):
    return x.rank >= 2 and x.shape[-1] == x.shape[-2] and x.dtype in ("f32", "c64")


@rule(Operand("inexact", 2))
def square_matrix(x, pools):
    """A function of square matrices with a result of their type (cholesky, inv)."""
    if _square(x):
        yield (), x


@rule(Operand("inexact", 2))
def determinant(x, pools):
    if _square(x):
        yield (), Type(x.dtype, x.shape[:-2])


@rule(Operand("inexact", 2))
def decompose(x, pools):
    """Two square factors of a square matrix (qr)."""
    if _square(x):
        yield (), (x, x)


@rule(Operand("inexact", 2))
def eigh(x, pools):
    """Eigenvalues (real) and eigenvectors of a Hermitian matrix."""
    if _square(x):
        yield (), (Type("f32", x.shape[:-1]), x)


@rule(Operand("inexact", 2), Operand("inexact", 1))
def solve(a, b, pools):
    """Solve a x = b for square a: b a vector or a matrix of a's rows."""
    if _square(a) and a.dtype == b.dtype and a.rank == 2 and b.rank <= 2 and b.shape[0] == a.shape[0]:
        yield (), b


@rule(arg(2), arg(2), attrs=1, args=("domain",))
def triangular_solve(a, b, pools, domain):
    if _square(a) and a.dtype == b.dtype and a.rank == b.rank == 2 and b.shape[0] == a.shape[0]:
        for lower in ("True", "False"):
            yield (lower,), b

# ---------------------------------------------------------------- shape and layout


@rule(Operand("any", 2))
def transpose_all(x, pools):
    yield (), Type(x.dtype, x.shape[::-1])


@rule(Operand("any", 2), attrs=1)
def transpose(x, pools):
    for perm in itertools.permutations(range(x.rank)):
        if list(perm) != list(range(x.rank)) and list(perm) != list(range(x.rank))[::-1]:
            yield (_tuple(perm),), Type(x.dtype, tuple(x.shape[p] for p in perm))


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


@rule(ANY, attrs=1)
def reshape(x, pools):
    dims = sorted(set(pools.dims) | set(x.shape) | {x.size})
    seen = {x.shape}
    for rank in range(1, MAX_RANK + 1):
        for shape in _factorings(x.size, dims, rank):
            if shape not in seen:
                seen.add(shape)
                yield (_tuple(shape),), Type(x.dtype, shape)


@rule(Operand("any", 0, MAX_RANK - 1), attrs=1)
def expand_dims(x, pools):
    for ax in range(x.rank + 1):
        yield (str(ax),), Type(x.dtype, x.shape[:ax] + (1,) + x.shape[ax:])


@rule(ANY, attrs=1)
def squeeze(x, pools):
    for ax, d in enumerate(x.shape):
        if d == 1:
            yield (str(ax),), Type(x.dtype, _without(x.shape, ax))


@rule(ANY, attrs=1)
def broadcast_to(x, pools):
    targets = []
    if x.rank < MAX_RANK:
        targets += [(d,) + x.shape for d in pools.dims if d > 1]
    targets += [_with(x.shape, ax, d) for ax, one in enumerate(x.shape) if one == 1 for d in pools.dims if d > 1]
    for shape in targets:
        if _fits(shape, pools):
            yield (_tuple(shape),), Type(x.dtype, shape)


@rule(ANY, ANY, attrs=1)
def concatenate(a, b, pools):
    if a.dtype != b.dtype or a.rank != b.rank:
        return
    for ax in range(a.rank):
        if _without(a.shape, ax) == _without(b.shape, ax):
            shape = _with(a.shape, ax, a.shape[ax] + b.shape[ax])
            if _fits(shape, pools):
                yield (str(ax),), Type(a.dtype, shape)


@rule(Operand("any", 0, MAX_RANK - 1), ANY)
def stack(a, b, pools):
    if a == b and _bounded((2,) + a.shape):
        yield (), Type(a.dtype, (2,) + a.shape)


@rule(ANY, attrs=1)
def slice(x, pools):
    """Basic indexing on one axis: from 1, up to the last, or every other."""
    for ax, d in enumerate(x.shape):
        if d < 2:
            continue
        lead = ":, " * ax
        for text, n in (("1:", d - 1), (f":{d - 1}", d - 1), ("::2", (d + 1) // 2)):
            yield (f"[{lead}{text}]",), Type(x.dtype, _with(x.shape, ax, n))


@rule(ANY, attrs=1)
def pad(x, pools):
    for ax in range(x.rank):
        for lo, hi in ((1, 1), (0, 2)):
            widths = [(0, 0)] * x.rank
            widths[ax] = (lo, hi)
            shape = _with(x.shape, ax, x.shape[ax] + lo + hi)
            if _fits(shape, pools):
                yield (_tuple(f"({a}, {b})" for a, b in widths),), Type(x.dtype, shape)


@rule(Operand("any", 1, 1), Operand("any", 1, 1))
def pad_by_length(x, same, pools):
    """`jnp.pad(x, (0, x.shape[0]))`: zeros to twice the length (as before an
    FFT convolution); the second operand is x again (the `same` flag)."""
    if x == same and _fits((2 * x.shape[0],), pools):
        yield (), Type(x.dtype, (2 * x.shape[0],))


@rule(ANY, attrs=1)
def flip(x, pools):
    for ax in range(x.rank):
        yield (str(ax),), x


@rule(ANY, attrs=2)
def roll(x, pools):
    """Shifts that move something: not a multiple of the axis's length."""
    for ax in range(x.rank):
        for n in pools.small_ints:
            if n % x.shape[ax]:
                yield (str(n), str(ax)), x


@rule(ANY, attrs=1)
def tile(x, pools):
    for ax in range(x.rank):
        for n in pools.small_ints:
            reps = [1] * x.rank
            reps[ax] = n
            shape = _with(x.shape, ax, x.shape[ax] * n)
            if _fits(shape, pools):
                yield (_tuple(reps),), Type(x.dtype, shape)

# ---------------------------------------------------------------- indexing


def _indexes(idx: Type, d: int) -> bool:
    """Whether idx's dtype holds an axis size d (JAX writes d in it to wrap
    negative indices: an int8 index cannot index an axis of 128)."""
    t = DTYPES[idx.dtype]
    return d <= (2 ** t.bits - 1 if t.kind == "uint" else 2 ** (t.bits - 1) - 1)


@rule(Operand("any", 1), Operand("int"), attrs=1)
def take(x, idx, pools):
    """`jnp.take(x, idx, axis)`: idx's shape in place of the axis."""
    for ax in range(x.rank):
        shape = x.shape[:ax] + idx.shape + x.shape[ax + 1:]
        if _fits(shape, pools) and _indexes(idx, x.shape[ax]):
            yield (str(ax),), Type(x.dtype, shape)


@rule(Operand("any", 1), Operand("int", 1))
def index(x, idx, pools):
    """`x[idx]` with an integer array: idx's shape in place of the first axis."""
    shape = idx.shape + x.shape[1:]
    if _fits(shape, pools) and _indexes(idx, x.shape[0]):
        yield (), Type(x.dtype, shape)


@rule(Operand("any", 1), Operand("int", 1), attrs=1)
def take_along(x, idx, pools):
    """`jnp.take_along_axis`: indices of x's rank, equal to it but on the axis."""
    if idx.rank == x.rank:
        for ax in range(x.rank):
            if _without(idx.shape, ax) == _without(x.shape, ax) and _indexes(idx, x.shape[ax]):
                yield (str(ax),), Type(x.dtype, idx.shape)


@rule(arg(1), Operand("int", 1, 1), arg(), args=("domain",))
def scatter(x, idx, y, pools, domain):
    """`x.at[idx].set(y)` (add, ...): y a scalar or one row of x per index."""
    if y.dtype == x.dtype and (y.rank == 0 or y.shape == idx.shape + x.shape[1:]) and _indexes(idx, x.shape[0]):
        yield (), x


@rule(Operand("any", 1), SCALAR_INT_OPERAND, attrs=2, needs=(SCALAR_INT,))
def dynamic_slice(x, start, pools):
    """`lax.dynamic_slice_in_dim(x, start, size, axis)`: the start from the program."""
    for ax, d in enumerate(x.shape):
        for n in pools.small_ints:
            if n < d and _indexes(start, d):
                yield (str(n), str(ax)), Type(x.dtype, _with(x.shape, ax, n))


@rule(Operand("any", 1), Operand("any", 1), SCALAR_INT_OPERAND, attrs=1, needs=(SCALAR_INT,))
def dynamic_update(x, update, start, pools):
    """`lax.dynamic_update_slice_in_dim(x, update, start, axis)`: update as
    x but shorter on the axis (as long, the result would be the update)."""
    if update.dtype == x.dtype and update.rank == x.rank:
        for ax in range(x.rank):
            if _without(update.shape, ax) == _without(x.shape, ax) and update.shape[ax] < x.shape[ax] \
                    and _indexes(start, x.shape[ax]):
                yield (str(ax),), x

# ---------------------------------------------------------------- windows


def _windows(x, pools):
    """(window, strides, padding, result shape) over x's last one or two axes."""
    axes = range(max(0, x.rank - 2), x.rank)
    for k, s, padding in ((2, 1, "SAME"), (2, 2, "VALID"), (3, 1, "SAME"), (3, 2, "VALID")):
        if padding == "VALID" and any(x.shape[a] < k for a in axes):
            continue
        window = tuple(k if a in axes else 1 for a in range(x.rank))
        strides = tuple(s if a in axes else 1 for a in range(x.rank))
        shape = tuple(-(-d // st) if padding == "SAME" else (d - w) // st + 1
                      for d, w, st in zip(x.shape, window, strides))
        yield _tuple(window), _tuple(strides), f'"{padding}"', Type(x.dtype, shape)


@rule(arg(1), attrs=3, args=("domain",))
def window(x, pools, domain):
    """`lax.reduce_window` (max or sum pooling) over the last one or two axes."""
    for w, s, padding, result in _windows(x, pools):
        yield (w, s, padding), result


@rule(arg(1), attrs=3, args=("domain",))
def window_grad(x, pools, domain):
    """The gradient of a pooling with respect to its input: x's type."""
    for w, s, padding, _ in _windows(x, pools):
        yield (w, s, padding), x


@rule(Operand("float", 3, 4), Operand("float", 3, 4), attrs=3)
def conv(lhs, rhs, pools):
    """`lax.conv_general_dilated`, NC... inputs and OI... kernels: strides,
    padding and feature groups; C = I * groups, groups divide O."""
    if lhs.dtype != rhs.dtype or lhs.rank != rhs.rank:
        return
    channels, (out, per_group), spatial, kernel = lhs.shape[1], rhs.shape[:2], lhs.shape[2:], rhs.shape[2:]
    if channels % per_group:
        return
    groups = channels // per_group
    if out % groups:
        return
    for s, padding in ((1, "SAME"), (1, "VALID"), (2, "SAME")):
        if padding == "VALID" and any(k > d for k, d in zip(kernel, spatial)):
            continue
        dims = tuple(-(-d // s) if padding == "SAME" else (d - k) // s + 1 for d, k in zip(spatial, kernel))
        if not _bounded((lhs.shape[0], out) + dims):
            continue
        yield (_tuple([s] * len(spatial)), f'"{padding}"', str(groups)), Type(lhs.dtype, (lhs.shape[0], out) + dims)

# ---------------------------------------------------------------- FFT


@rule(Operand("float", 1), attrs=1)
def rfft(x, pools):
    for ax in range(x.rank):
        if x.dtype == "f32":
            yield (str(ax),), Type("c64", _with(x.shape, ax, x.shape[ax] // 2 + 1))


@rule(Operand("complex", 1), attrs=1)
def irfft(z, pools):
    for ax in range(z.rank):
        shape = _with(z.shape, ax, 2 * (z.shape[ax] - 1))
        if z.shape[ax] >= 2 and _bounded(shape):
            yield (str(ax),), Type("f32", shape)

# ---------------------------------------------------------------- creation


@rule(attrs=2)
def arange(pools):
    for n in pools.dims:
        if 1 < n <= MAX_SIZE:      # a pool not checked by `types.check_dims`
            for d in ("f32", "i32"):
                yield (str(n), DTYPES[d].spelling), Type(d, (n,))


@rule(attrs=2, scope=True)
def full(pools, scope):
    """Constants shaped like a value in scope, so they combine with it."""
    for shape in sorted({t.shape for t in scope}):
        for c in pools.floats:
            yield (_tuple(shape), c), Type("f32", shape)


@rule(attrs=3, scope=True, outside="batched")
def rng_uniform(pools, scope):
    """`lax.rng_uniform(lo, hi, shape)`: random, shaped like a value in scope."""
    for shape in sorted({t.shape for t in scope}):
        for lo, hi in _bounds(pools)[:1]:
            yield (lo, hi, _tuple(shape)), Type("f32", shape)


@rule(SCALAR_INT_OPERAND, attrs=2, args=("dtype",), scope=True, needs=(SCALAR_INT,))
def random(seed, pools, dtype, scope):
    """`jax.random.*(jax.random.key(seed, impl=...), shape)` with a seed from
    the program, shaped like a value in scope."""
    if seed.dtype in ("i32", "u32"):
        for impl in ('"threefry2x32"', '"rbg"'):
            for shape in sorted({t.shape for t in scope}):
                yield (impl, _tuple(shape)), Type(dtype, shape)

# ---------------------------------------------------------------- control flow


@rule(Operand("bool", 0, 0), ANY, slots="elle", needs=(SCALAR_BOOL,))
def cond(p, x, pools):
    body = Body((("a", x),), x)
    yield (), x, (body, body)


@rule(Operand("int", 0, 0), ANY, slots="ellle", needs=(SCALAR_INT,))
def switch(k, x, pools):
    if k.dtype == "i32":
        body = Body((("a", x),), x)
        yield (), x, (body, body, body)


@rule(ANY, slots="le", attrs=1)
def fori_loop(x, pools):
    for n in pools.small_ints:
        yield (str(n),), x, (Body((("i", SCALAR_INT), ("c", x)), x),)


@rule(ANY, ANY, slots="bbee", attrs=3)
def fori_pair(a, b, pools):
    """A fori loop over a pair carry (c[0], c[1]) that returns c[0]; c[0]'s
    chain reads c[1], whose chain may read c[0]. Attributes: the trip count
    and the lambda's parameter names."""
    params = (("i", SCALAR_INT), ("c[0]", a), ("c[1]", b))
    for n in pools.small_ints:
        yield (str(n), "i", "c"), a, (Body(params, a, 1, ("c[1]",)), Body(params, b, 2))


@rule(ANY, slots="be", attrs=1)
def while_loop(x, pools):
    for n in pools.small_ints:
        yield (str(n),), x, (Body((("c[1]", x),), x),)


@rule(ANY, Operand("any", 1), slots="bbee", attrs=2)
def scan(init, xs, pools):
    """`lax.scan` over xs's first axis: a carry of init's type whose chain
    reads the element, and per element an output of the element's type;
    results: the final carry and the stacked outputs (xs's type)."""
    params = (("c", init), ("a", Type(xs.dtype, xs.shape[1:])))
    yield ("c", "a"), (init, xs), (Body(params, init, 0, ("a",)), Body(params, params[1][1], 1))


@rule(Operand("any", 1), slots="le")
def vmap(x, pools):
    """`jax.vmap` of a sub-program over x's first axis."""
    row = Type(x.dtype, x.shape[1:])
    yield (), x, (Body((("a", row),), row, context=(("batched", True),)),)


@rule(ANY, slots="le", outside="batched")
def composite(x, pools):
    """`lax.composite`: a named sub-program kept whole in the IR; it may not
    capture values (its decomposition is traced on its own)."""
    yield (), x, (Body((("a", x),), x, context=(("closed", True),)),)


@rule(Operand("float"), slots="be", attrs=1)
def value_and_grad(x, pools):
    """`jax.value_and_grad` of the sum of a sub-program, at x: the sum and
    x's gradient. (`jax.grad` alone would let JAX drop forward operations
    whose values the gradient does not need, `sin` under `cos`.)"""
    yield ("a",), (Type(x.dtype, ()), x), (Body((("a", x),), x, context=(("diff", True),)),)


@rule(Operand("any", 1), slots="le", attrs=1, outside="mesh")
def shard_map(x, pools):
    """`jax.shard_map` over a mesh of `pools.devices` devices (axis "i"; one
    device set per program, as jit requires): each runs the sub-program on
    its block of x's first axis."""
    n = pools.devices
    if x.shape[0] % n == 0:
        block = Type(x.dtype, (x.shape[0] // n,) + x.shape[1:])
        yield (str(n),), x, (Body((("a", block),), block, context=(("mesh", n),)),)

# ---------------------------------------------------------------- collectives (inside shard_map)


@rule(arg(), args=("domain",), within="mesh")
def collective(x, pools, domain, mesh):
    """A collective over the mesh axis that keeps x's type (psum, pmax, ...)."""
    yield (), x


@rule(arg(1), attrs=2, args=("domain",), within="mesh")
def collective_blocks(x, pools, domain, mesh):
    """A collective that splits an axis into one block per device and joins
    them back on that axis (all_to_all; psum_scatter then all_gather)."""
    for ax, d in enumerate(x.shape):
        if d % mesh == 0:
            yield (str(ax), str(ax)), x


@rule(Operand("numeric"), attrs=1, within="mesh")
def ppermute(x, pools, mesh):
    """Send each device's value to the next one around the ring."""
    yield ("[" + ", ".join(f"({j}, {(j + 1) % mesh})" for j in range(mesh)) + "]",), x


@rule(Operand("numeric"), within="mesh")
def axis_offset(x, pools, mesh):
    """x plus the device's index along the mesh axis (f32 or i32: the sum keeps x's dtype)."""
    if x.dtype in ("f32", "i32"):
        yield (), x
