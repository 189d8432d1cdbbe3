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
    symbolic: str | None = None   # how a symbolic lowering went (one of SYMBOLIC); None: static


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


PLATFORMS = ("cpu", "cuda", "tpu")     # lowered for without the hardware


def check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r}: expected one of {', '.join(PLATFORMS)}")


def prepare(fn, specs):
    """(`jax.jit` of fn, its specs). The jitted function caches its traces:
    traced in a batch, it lowers alone without being traced again."""
    import jax
    return jax.jit(fn), list(specs)


def lower_prepared(jitted, specs, platform: str) -> Lowered:
    """A prepared function traced at its specs and lowered for `platform`,
    whatever hardware this machine has."""
    try:
        lowered = jitted.trace(*specs).lower(lowering_platforms=(platform,))
        return Lowered(lowered.as_text(), count_ops(lowered.compiler_ir("stablehlo")))
    except Exception as e:  # JAX raises many types; the caller records the reason
        raise _error(e) from e


def _error(e: Exception) -> LoweringError:
    first = (str(e).strip().splitlines() or [""])[0]
    return LoweringError(f"{type(e).__name__}: {first}")


# How a symbolic lowering goes, in the order tried: the first that JAX accepts
# is the program's. `dims`: every input dimension > 1 is a symbol, one per
# size (`d4`; equal sizes stay equal, so the program's shape relations hold),
# which a program whose Python fixes a size (`jnp.broadcast_to(x, (2, 4, 8))`) refuses;
# `batch`: the program is vmapped over a symbolic batch `b` of its first
# input, as a model exported with a polymorphic batch size; `static`: no
# symbol (what JAX cannot batch, a convolution whose kernel is batched too).
SYMBOLIC = ("dims", "batch", "static")


def _symbolic(fn, specs, how):
    """(function, specs) of one way of SYMBOLIC."""
    import jax
    from jax import export
    scope = export.SymbolicScope()

    def shaped(dims, dtype):
        return jax.ShapeDtypeStruct(export.symbolic_shape(", ".join(dims), scope=scope) if dims else (), dtype)
    if how == "dims":
        return fn, [shaped([f"d{d}" if d > 1 else "1" for d in s.shape], s.dtype) for s in specs]
    if how == "batch" and specs:
        first, *rest = specs
        return (jax.vmap(fn, in_axes=(0,) + (None,) * len(rest)),
                [shaped(["b", *map(str, first.shape)], first.dtype), *rest])
    return fn, list(specs)


def lower_exported(exported, symbolic: str | None = None) -> Lowered:
    """The StableHLO of a `jax.export.Exported`, printed as `Lowered.as_text()`
    prints a lowering, and its ops."""
    from jax._src.interpreters import mlir      # the dialects of an exported module, to parse and print it
    from jaxlib.mlir import ir
    with mlir.make_ir_context():
        module = ir.Module.parse(exported.mlir_module())
        return Lowered(mlir.module_to_string(module, enable_debug_info=False), count_ops(module), symbolic)


def lower_symbolic(fn, specs, platform: str = "cpu") -> Lowered:
    """Lower through `jax.export` with symbolic dimensions, the first way of
    SYMBOLIC that JAX accepts: StableHLO as `Lowered.as_text()` prints it, the
    ops, and which way it was."""
    import jax
    for how in SYMBOLIC:
        f, s = _symbolic(fn, specs, how)
        try:
            exported = jax.export.export(jax.jit(f), platforms=(platform,))(*s)
        except Exception as e:
            if how == SYMBOLIC[-1]:     # static fails too: the program's own error
                raise _error(e) from e
            continue
        try:
            return lower_exported(exported, how)
        except Exception as e:
            raise _error(e) from e


def lower(fn, specs, platform: str = "cpu", symbolic: bool = False) -> Lowered:
    """StableHLO text and op counts of `jax.jit(fn)` at these (static) input
    specs, lowered for `platform`; with `symbolic`, exported with symbolic
    dimensions (`lower_symbolic`)."""
    check_platform(platform)
    if symbolic:
        return lower_symbolic(fn, specs, platform)
    return lower_prepared(*prepare(fn, specs), platform)


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

