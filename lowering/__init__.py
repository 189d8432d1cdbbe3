"""Lower any Python/JAX function to StableHLO and count its operations.

`lower(fn, specs, platform=, symbolic=)` returns the StableHLO text of
`jax.jit(fn).trace(*specs).lower(lowering_platforms=(platform,))` (cpu, cuda
or tpu, none of which needs its hardware) and exact op counts from a walk of
the MLIR module, nested regions (reduce bodies, while and case branches)
included; with `symbolic`, through `jax.export` with symbolic dimensions
(`lower_symbolic`: every dimension a symbol where the function allows it,
else batched over a symbolic batch, else static), which gives the dynamic
ops.
`lower_batch` gives the same for many functions, from one module where it
can; `lower_flat`, for many functions independent of each other (one-step
programs), from one function. `devices.fake_devices()` gives a process the host devices that
programs sharding over a mesh need. `universe()` is every op the
installed jaxlib registers in its `stablehlo` and `chlo` dialects. Nothing
here knows how a function was made.
"""
from .batch import lower_batch
from .devices import fake_devices
from .flat import lower_flat
from .lower import PLATFORMS, SYMBOLIC, LoweringError, Lowered, count_ops, load_function, lower, lower_symbolic, universe

__all__ = ["PLATFORMS", "SYMBOLIC", "LoweringError", "Lowered", "count_ops", "fake_devices", "load_function", "lower",
           "lower_batch", "lower_flat", "lower_symbolic", "universe"]
