"""Enumeration: every program of a signature, by size, in a fixed order.

Enumeration counts programs of each size without listing them: the number of
completions depends only on the types in scope and which inputs are still
unused, so counts are memoised on that state (as in Feat). The same counts
turn an index in [0, count) into exactly one program (unranking).

The steps are those of the space (`Space.apps`, `Space.body_apps`, which
keep the walk constraints on steps); the constraints on a whole walk
(`walk`: non-empty chains that read what their bodies need, sub-programs of
a `distinct` alternative not all the same, every input read) are kept here
as counts: per bit mask of the inputs (and needed parameters) read.
"""
from __future__ import annotations

import bisect
import functools
import itertools
import math
import operator
from collections import Counter
from functools import lru_cache

from . import walk
from .program import Program, Step, chain_scope, needed, reads
from .rules import Body
from .types import Type


def _compositions(total: int, parts: int):
    """Every way to write `total` as an ordered sum of `parts` positive ints
    (the sizes of `parts` chains, none empty)."""
    if parts == 0:
        if total == 0:
            yield ()
        return
    for k in range(1, total - parts + 2):
        for rest in _compositions(total - k, parts - 1):
            yield (k,) + rest


def _skip_diagonal(i: int, c: int, b: int) -> int:
    """The i-th point of [0, c**b) in mixed-radix order that is not on the
    diagonal (all b digits equal: the points a * (1 + c + ... + c**(b-1)))."""
    d = sum(c ** p for p in range(b))
    a, offset = divmod(i, d - 1)
    return a * d + 1 + offset


def _digits(i: int, radices) -> list[int]:
    """i in mixed radix, most significant first."""
    out = []
    for r in reversed(radices):
        i, digit = divmod(i, r)
        out.append(digit)
    return out[::-1]


class Enumeration:
    """All programs of a signature, by size; counts, indexing and listing.

    Within a size, programs are ordered by their first step (alternative in
    grammar order, then application in rule order, then sub-program sizes,
    the inputs the sub-programs capture, and the sub-programs), then by the
    rest, recursively.

    The choices are described once, as blocks: each `_*_blocks` generator
    yields, for one way to make the next choice, the set of inputs the
    choice reads inside sub-programs (a bit mask: a program must read every
    input, so counts are kept per mask; a chain's mask also has a bit for
    each parameter its body `needs`), the number of programs in the block,
    and what `_build_*` needs to make the i-th of them. Counting adds
    the blocks up (memoised); unranking walks the same blocks to the one
    that holds the index."""

    def __init__(self, space, inputs: tuple[Type, ...]):
        """`space`: a `Space`, whose steps and alternatives (`alts`) it walks."""
        self.space, self.inputs = space, tuple(inputs)
        self._full = (1 << len(self.inputs)) - 1
        self._counted: dict = {}      # (types, unused, r) -> number of programs: see `counted`
        self._chain = lru_cache(maxsize=None)(self._chain_uncached)
        self._fill = lru_cache(maxsize=None)(self._fill_uncached)
        self._steps = lru_cache(maxsize=None)(self._steps_uncached)
        # consecutive indices unrank through the same choices: their blocks, indexed
        self._indexed = lru_cache(maxsize=4096)(self._indexed_uncached)

    def _steps_uncached(self, types) -> tuple:
        """(alt, app, inputs its operands read, its sub-programs) for every
        top-level step from this scope (scopes recur: counting visits each
        with many `unused` and `r`)."""
        return tuple((alt, app, self._input_mask(reads(Step(alt, app))),
                      tuple(b for b in app.slots if isinstance(b, Body)))
                     for alt in self.space.alts for app in self.space.apps(alt, types, 0))

    def _needed_mask(self, body) -> int:
        """The bits a body's chain mask has for the parameters it must read
        (after the inputs' bits)."""
        return sum(1 << (len(self.inputs) + q) for q in needed(body))

    def _input_mask(self, indices) -> int:
        return sum(1 << i for i in set(indices) if i < len(self.inputs))

    # ------------------------------------------------------------ the blocks

    def _program_blocks(self, types, unused, r):
        """Programs of r more operations from this scope, which must still read
        the inputs in `unused`."""
        if r == 0:
            if unused == 0:
                yield 0, 1, None
            return
        for alt, app, read, bodies in self._steps(types):
            left = unused & ~read
            for s in range(r):
                for mask, ways in self._fill(bodies, types, 1, s, alt.distinct).items():
                    rest = self._count(types + app.results, left & ~mask, r - 1 - s)
                    if rest:
                        yield 0, ways * rest, (alt, app, bodies, s, mask, rest, left & ~mask, r - 1 - s)

    def _build_program(self, types, block, i) -> tuple[Step, ...]:
        if block is None:
            return ()
        alt, app, bodies, s, mask, rest, left, r = block
        step = Step(alt, app, self._unrank_fill(bodies, types, 1, s, alt.distinct, mask, i // rest))
        return (step,) + self._unrank_program(types + app.results, left, r, i % rest)

    def _fill_blocks(self, bodies, outer, depth, s, distinct):
        """Non-empty chains for these sub-programs, s operations in all; for a
        `distinct` alternative, not all the same."""
        for sizes in _compositions(s, len(bodies)):
            tables = [[(m, c) for m, c in sorted(self._chain(b, outer, depth, k).items())
                       if m & self._needed_mask(b) == self._needed_mask(b)] for b, k in zip(bodies, sizes)]
            for combo in itertools.product(*tables):
                counts = [c for _, c in combo]
                # chains of one body, size and mask come from one table: where all are
                # alike, the diagonal holds the combinations that repeat (`walk.repeats`)
                diagonal = distinct and walk.all_same(tuple(zip(bodies, sizes, (m for m, _ in combo))))
                size = math.prod(counts) - (counts[0] if diagonal else 0)
                if size:
                    mask = functools.reduce(operator.or_, (m for m, _ in combo), 0) & self._full
                    yield mask, size, (sizes, combo, diagonal)

    def _build_fill(self, bodies, outer, depth, block, i):
        sizes, combo, diagonal = block
        counts = [c for _, c in combo]
        if diagonal:
            i = _skip_diagonal(i, counts[0], len(bodies))
        return tuple(self._unrank_chain(b, outer, depth, k, m, d)
                     for b, k, (m, _), d in zip(bodies, sizes, combo, _digits(i, counts)))

    def _chain_blocks(self, body, outer, depth, k):
        """Chains of k operations (nested sub-programs included) for a body."""
        if k == 0:
            yield 0, 1, None
            return
        local, n = len(chain_scope(body)) + 1, len(self.inputs)
        for alt in self.space.alts:
            for app in self.space.body_apps(alt, body, depth, outer):
                read = reads(Step(alt, app))
                caught = sum(1 << (j - local) for j in read if local <= j < local + n) | \
                    sum(1 << (n + q) for q in needed(body) if q in read)
                inner = tuple(b for b in app.slots if isinstance(b, Body))
                for s in range(k):
                    for m1, c1 in sorted(self._fill(inner, outer, depth + 1, s, alt.distinct).items()):
                        for m2, c2 in sorted(self._chain(body, outer, depth, k - 1 - s).items()):
                            yield caught | m1 | m2, c1 * c2, (alt, app, inner, s, m1, m2, c2)

    def _build_chain(self, body, outer, depth, k, block, i):
        if block is None:
            return ()
        alt, app, inner, s, m1, m2, rest = block
        step = Step(alt, app, self._unrank_fill(inner, outer, depth + 1, s, alt.distinct, m1, i // rest))
        return (step,) + self._unrank_chain(body, outer, depth, k - 1 - s, m2, i % rest)

    # ------------------------------------------------------------ counting

    def _count(self, types, unused, r) -> int:
        n = self._counted.get((types, unused, r))
        if n is None:
            n = self._counted[types, unused, r] = sum(size for _, size, _ in self._program_blocks(types, unused, r))
        return n

    def counted(self) -> dict:
        """What counting found so far, state by state: given to `learn` in
        another process (a worker of the same run), it spares that process the
        counting, and unranking there visits only the states its indices need."""
        return dict(self._counted)

    def learn(self, counted: dict) -> None:
        """Take the `counted` of an enumeration of the same space and inputs."""
        self._counted.update(counted)

    def _chain_uncached(self, body, outer, depth, k) -> dict[int, int]:
        """mask of inputs read -> number of chains"""
        out = Counter()
        for mask, size, _ in self._chain_blocks(body, outer, depth, k):
            out[mask] += size
        return dict(out)

    def _fill_uncached(self, bodies, outer, depth, s, distinct) -> dict[int, int]:
        out = Counter()
        for mask, size, _ in self._fill_blocks(bodies, outer, depth, s, distinct):
            out[mask] += size
        return dict(out)

    def count(self, size: int) -> int:
        """Number of programs with exactly `size` operations."""
        return self._count(self.inputs, self._full, size)

    def counts(self, max_size: int) -> list[int]:
        return [self.count(k) for k in range(1, max_size + 1)]

    # ------------------------------------------------------------ unranking

    def _indexed_uncached(self, blocks, args) -> dict:
        """mask -> (the end of each block's index range, the blocks), in order,
        of the blocks `blocks` (a `_*_blocks` method's name) yields for args."""
        out: dict = {}
        for m, size, block in getattr(self, blocks)(*args):
            ends, found = out.setdefault(m, ([], []))
            ends.append((ends[-1] if ends else 0) + size)
            found.append(block)
        return out

    def _find(self, blocks, args, mask, i):
        """The block of this mask that holds index i, and i within it."""
        ends, found = self._indexed(blocks, args).get(mask, ((), ()))
        j = bisect.bisect_right(ends, i)
        if j == len(ends):
            raise IndexError("index beyond count")
        return found[j], i - (ends[j - 1] if j else 0)

    def _unrank_program(self, types, unused, r, i):
        block, i = self._find("_program_blocks", (types, unused, r), 0, i)
        return self._build_program(types, block, i)

    def _unrank_fill(self, bodies, outer, depth, s, distinct, mask, i):
        block, i = self._find("_fill_blocks", (bodies, outer, depth, s, distinct), mask, i)
        return self._build_fill(bodies, outer, depth, block, i)

    def _unrank_chain(self, body, outer, depth, k, mask, i):
        block, i = self._find("_chain_blocks", (body, outer, depth, k), mask, i)
        return self._build_chain(body, outer, depth, k, block, i)

    def program(self, size: int, index: int) -> Program:
        """The program number `index` (0-based) among those of this size."""
        if not 0 <= index < self.count(size):
            raise IndexError(f"index {index} out of range for size {size} ({self.count(size)} programs)")
        return Program(self.inputs, self._unrank_program(self.inputs, self._full, size, index))

    # ------------------------------------------------------------ global index

    def locate(self, index: int, max_size: int) -> tuple[int, int]:
        """Global index over sizes 1..max_size -> (size, index within size)."""
        for k in range(1, max_size + 1):
            c = self.count(k)
            if index < c:
                return k, index
            index -= c
        raise IndexError("index beyond the number of programs up to this size")

    def programs(self, max_size: int):
        """Every program up to `max_size` operations, in index order."""
        for k in range(1, max_size + 1):
            for i in range(self.count(k)):
                yield self.program(k, i)
