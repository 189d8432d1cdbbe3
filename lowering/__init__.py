"""Lower any Python/JAX function to StableHLO and count its operations.

`lower(fn, specs)` returns the StableHLO text of `jax.jit(fn).lower(*specs)`
and exact op counts from a walk of the MLIR module, nested regions (reduce
bodies, while and case branches) included. `universe()` is every op the
installed jaxlib registers in its `stablehlo` and `chlo` dialects. Nothing
here knows how a function was made.
"""
from .lower import LoweringError, Lowered, count_ops, load_function, lower, reused_context, universe

__all__ = ["LoweringError", "Lowered", "count_ops", "load_function", "lower", "reused_context", "universe"]
