"""Corpus records: one JSON object per line in `records-NNNNN.jsonl` shards,
with a `manifest.json` beside them (see `pipeline`; what a reader may
trust of them is checked by `schema`).

Each record pairs a program's Python with its StableHLO and says how it was
lowered (`"lowering": {"platform": "tpu", "symbolic": false, "shapes":
"static"}`: a symbolic run's `shapes` says which way of `lowering.SYMBOLIC`
it took), so that `lowering.lower(f, inputs, platform, symbolic)` gives its
text again (after `lowering.fake_devices()`, for programs with a mesh). Field
order is fixed and every field has one type across records (op counts are a
list of {op, count} objects, not a dict with varying keys), so pandas, duckdb
and `datasets` read the file as it is.

`attribution` says which ops each grammar alternative of the program
produced. It comes from the lowering itself: JAX gives every op the source
position of the Python call that made it (`lowering.op_sites`), and the
innermost operation of the program's text around that position
(`Grammar.spans`) is the op's alternative. Ops of a helper function JAX
shares (`@relu`, `@_where`) belong to the call that first reaches it; ops
no operation made (func.func, func.return, a constant JAX hoists out of
its step) to PROGRAM. For every op, the counts add up to `ops`.
"""
from __future__ import annotations

import hashlib
import time
from collections import Counter

from ...lowering import Lowered, LoweringError, lower_batch
from ...synth.grammar import Grammar
from ...synth.printer import printed
from ...synth.program import Program
from ...synth.safety import UnsafeProgram, load_program
from .fields import Made, record

PROGRAM = "(program)"   # the alternative of ops no operation of the program made


BATCH = 50      # programs lowered together in one module


class Mismatch(Exception):
    """A program whose spliced lowering is not JAX's: the run stops."""


def make_records(items, grammar: Grammar, style: str, batch: int = BATCH, platform: str = "cpu",
                 symbolic: bool = False, composer=None, verify: float = 0.0, times: Counter | None = None,
                 ways: list | None = None):
    """[(origin fields, program)] -> (program, record or LoweringError) for each,
    printed and lowered for `platform` (symbolically or not). With a
    `compose.Composer`, a program is spliced from its steps' lowerings where
    that gives JAX's text, and the fraction `verify` of them (chosen by
    hash) is lowered by JAX as well and compared: a difference raises
    Mismatch. The others are lowered by JAX, `batch` at a time (see
    `lowering.lower_batch`). `ways` gets, for each program in order, how it
    was lowered: ("spliced",), ("spliced", "verified") or ("by_jax",);
    `times` adds up the seconds of each stage."""
    items = list(items)
    times = Counter() if times is None else times
    how = {"platform": platform, "symbolic": symbolic}
    t0 = time.perf_counter()
    texts = [printed(p.tree, grammar, style) for _, p in items]
    sources = [source for source, _ in texts]
    t1 = time.perf_counter()
    composed = composer.lower([p for _, p in items], style) if composer is not None and not symbolic \
        else [None] * len(items)
    t2 = time.perf_counter()
    checked = [c is not None and not c.whole and _chosen(p, verify) for (_, p), c in zip(items, composed)]
    by_jax = [k for k, c in enumerate(composed) if c is None or c.whole or checked[k]]
    lowered: dict = {}
    for i in range(0, len(by_jax), batch):
        chunk = by_jax[i:i + batch]
        lowered.update(zip(chunk, by_jax_attributed([texts[k] for k in chunk], [items[k][1] for k in chunk],
                                                    lambda jobs: lower_batch(jobs, platform, symbolic))))
    times["print"] += t1 - t0
    times["compose"] += t2 - t1
    times["programs lowered by JAX"] += time.perf_counter() - t2
    way = [("by_jax",) if c is None or c.whole else ("spliced", "verified") if checked[k] else ("spliced",)
           for k, c in enumerate(composed)]
    if ways is not None:
        ways.extend(way)
    for k, ((origin, program), source, c) in enumerate(zip(items, sources, composed)):
        if k in lowered:
            low = lowered[k]
            if checked[k] and isinstance(low, LoweringError):
                raise Mismatch(f"program {origin['id']}: spliced, but JAX does not lower it ({low})")
            if not isinstance(low, LoweringError):
                low, attributed = low
                if checked[k]:
                    _compare(origin["id"], c, low, attributed)
                low = record(Made(program, source, low, origin, how, attributed))
        else:
            low = record(Made(program, source, Lowered(c.text, c.ops), origin, how, c.attribution))
        yield program, low


def _chosen(program: Program, fraction: float) -> bool:
    """Whether a program is among the `fraction` verified, by its hash."""
    return int(program.structural_hash[:8], 16) < fraction * (1 << 32)


def _compare(name: str, composed, low, attributed) -> None:
    what = [w for w, same in (("StableHLO text", composed.text == low.text), ("op counts", composed.ops == low.ops),
                              ("attribution", composed.attribution == attributed)) if not same]
    if what:
        raise Mismatch(f"program {name}: its spliced lowering differs from JAX's in {', '.join(what)}")


def load_source(source: str):
    """The program's function, or why its text may not run (a grammar whose
    literals name what the program does not bind), as a lowering error. Its
    file is named after its text, so that no op of another program's trace
    that JAX cached (a helper's) can pass for one written at the same place
    of this one: attribution does not depend on what the process lowered
    before."""
    try:
        return load_program(source, filename=f"<program {hashlib.sha256(source.encode()).hexdigest()[:16]}>")
    except UnsafeProgram as e:
        return LoweringError(f"UnsafeProgram: {e}")


def by_jax_attributed(texts, programs, lower) -> list:
    """Printed programs, each (source, spans), lowered by JAX through
    `lower` (a function of [(fn, specs)]: `lower_batch` or `lower_flat` with
    their options), each as (Lowered, its attribution) or the LoweringError
    of its text or its lowering: what a record and a piece are made of."""
    loaded = [load_source(source) for source, _ in texts]
    done = iter(lower([(fn, [t.spec() for t in p.inputs]) for fn, p in zip(loaded, programs) if callable(fn)]))
    out = []
    for (_, spans), fn in zip(texts, loaded):
        low = next(done) if callable(fn) else fn
        out.append(low if isinstance(low, LoweringError) else (low, attribution(spans, low.sites)))
    return out


def attribution(spans, sites) -> list[dict]:
    """[{alternative, op, count}] sorted, from a program's `Grammar.spans`
    and its lowering's `sites`: each op goes to the innermost operation
    whose text holds the op's position."""
    counts: Counter = Counter()
    for span, op, n in sites:
        owner = PROGRAM
        if span is not None:
            start, end = span[:2], span[2:]
            for first, last, alt in spans:     # outermost first: the last that holds it is innermost
                if first <= start and end <= last:
                    owner = alt
        counts[owner, op] += n
    return [{"alternative": a, "op": o, "count": n} for (a, o), n in sorted(counts.items())]
