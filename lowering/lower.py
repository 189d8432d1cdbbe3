"""Lowering and the op walk (see the package docstring)."""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from functools import lru_cache


class LoweringError(Exception):
    """A function that does not trace or lower; the message says why."""


@dataclass(frozen=True)
class Lowered:
    text: str                 # StableHLO, as `Lowered.as_text()` prints it
    ops: dict[str, int]       # op name -> occurrences, sorted by name


def count_ops(module) -> dict[str, int]:
    """Occurrences of each operation in an MLIR module, all regions included."""
    counts: Counter[str] = Counter()
    stack = [module.operation]
    while stack:
        op = stack.pop().operation     # an OpView's .name may be an attribute (func.func's)
        counts[op.name] += 1
        for region in op.regions:
            for block in region.blocks:
                stack.extend(block.operations)
    del counts["builtin.module"]
    return dict(sorted(counts.items()))


def lower(fn, specs) -> Lowered:
    """StableHLO text and op counts of `jax.jit(fn)` at these input specs."""
    import jax
    try:
        lowered = jax.jit(fn).lower(*specs)
        return Lowered(lowered.as_text(), count_ops(lowered.compiler_ir("stablehlo")))
    except Exception as e:  # JAX raises many types; the caller records the reason
        first = (str(e).strip().splitlines() or [""])[0]
        raise LoweringError(f"{type(e).__name__}: {first}") from e


def load_function(source: str, name: str = "f", filename: str = "<program>"):
    """Execute Python source in a fresh namespace and return its function `name`."""
    namespace: dict = {"__name__": "__jaxsynth_program__"}
    exec(compile(source, filename, "exec"), namespace)
    if not callable(namespace.get(name)):
        raise LoweringError(f"{filename}: no function named {name!r}")
    return namespace[name]


@lru_cache(maxsize=1)
def universe() -> frozenset[str]:
    """Every op class registered in the installed jaxlib's stablehlo and chlo dialects."""
    from jaxlib.mlir.dialects import chlo, stablehlo
    return frozenset(cls.OPERATION_NAME for mod in (stablehlo, chlo) for cls in vars(mod).values()
                     if isinstance(cls, type) and hasattr(cls, "OPERATION_NAME"))

