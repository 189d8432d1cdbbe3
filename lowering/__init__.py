"""Lower any Python/JAX function to StableHLO and count its operations.

`lower(fn, specs)` returns the StableHLO text of `jax.jit(fn).lower(*specs)`
and exact op counts from a walk of the MLIR module, nested regions (reduce
bodies, while and case branches) included; `lower_batch` gives the same for
many functions from one module. `universe()` is every op the
installed jaxlib registers in its `stablehlo` and `chlo` dialects. Nothing
here knows how a function was made.
"""
from .batch import lower_batch
from .lower import LoweringError, Lowered, count_ops, load_function, lower, universe

__all__ = ["LoweringError", "Lowered", "count_ops", "load_function", "lower", "lower_batch", "universe"]
