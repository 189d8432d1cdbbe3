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
"""
from __future__ import annotations

import platform as _platform

from ..lowering import LoweringError, lower_batch
from ..synth.printer import to_source
from ..synth.program import Program
from ..synth.grammar import Grammar
from ..synth.safety import UnsafeProgram, load_program

MANIFEST = "manifest.json"
FORMAT = 3          # of the manifest; 3: records say how they were lowered ("lowering")


class CorpusError(ValueError):
    """A corpus directory that cannot be read or written as asked."""


BATCH = 50      # programs lowered together in one module


def make_records(items, grammar: Grammar, style: str, batch: int = BATCH, platform: str = "cpu",
                 symbolic: bool = False):
    """[(origin fields, program)] -> (program, record or LoweringError) for each,
    printed and lowered for `platform` (symbolically or not) `batch` at a time
    (see `lowering.lower_batch`)."""
    items = list(items)
    how = {"platform": platform, "symbolic": symbolic}
    for i in range(0, len(items), batch):
        chunk = items[i:i + batch]
        sources = [to_source(p.tree, grammar, style) for _, p in chunk]
        loaded = [_load(s) for s in sources]
        jobs = [(fn, [t.spec() for t in p.inputs]) for fn, (_, p) in zip(loaded, chunk) if callable(fn)]
        lowered = iter(lower_batch(jobs, platform, symbolic))
        for (origin, program), source, fn in zip(chunk, sources, loaded):
            low = next(lowered) if callable(fn) else fn
            yield program, (low if isinstance(low, LoweringError) else _record(program, source, low, dict(origin), how))


def _load(source: str):
    """The program's function, or why its text may not run (a grammar whose
    literals name what the program does not bind), as a lowering error."""
    try:
        return load_program(source)
    except UnsafeProgram as e:
        return LoweringError(f"UnsafeProgram: {e}")


def _record(program: Program, source: str, lowered, origin: dict, how: dict) -> dict:
    return {
        "id": origin.pop("id"),
        "python": source,
        "inputs": [str(t) for t in program.inputs],
        "outputs": [str(t) for t in program.output_types],
        "lowering": {**how, "shapes": lowered.symbolic or "static"},
        "stablehlo": lowered.text,
        "ops": [{"op": k, "count": v} for k, v in lowered.ops.items()],
        "alternatives": program.alternatives,
        "size": program.size,
        "depth": program.depth,
        **origin,
        "hash": program.structural_hash,
    }


def versions() -> dict:
    import jax
    import jaxlib
    import lark
    import networkx
    import numpy
    return {"jax": jax.__version__, "jaxlib": jaxlib.__version__, "numpy": numpy.__version__,
            "lark": lark.__version__, "networkx": networkx.__version__,
            "python": _platform.python_version()}


def shard_name(number: int) -> str:
    return f"records-{number:05d}.jsonl"
