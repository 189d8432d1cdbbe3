"""Which ops of `universe()` JAX can emit, each shown by a probe, and why the rest cannot be.

`universe()` is every op class the installed jaxlib registers in its stablehlo
and chlo dialects, which includes legacy ops, ops only other frontends (TF,
PyTorch/XLA, TFLite) or MLIR passes create, and ops JAX reaches only on
another platform or under symbolic shapes. Coverage against it alone
understates what generated JAX programs can reach, so the universe is split:

- `PROBES`: op -> a `Probe`, a small JAX function that emits the op, with its
  inputs and how it is lowered (`MODES`);
- `NOT_EMITTED`: op -> why no JAX 0.10 lowering produces it.

The two key sets partition `universe()` exactly (tests/test_probes.py lowers
every probe and checks the partition, so a change of JAX's behaviour, or an op
a new jaxlib registers, fails there). Corpus tools read the key sets and the
descriptions only; nothing in this module runs a probe at import, and
`lower_probe` is for the tests (and for checking a probe by hand).
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .lower import count_ops, load_function, lower_exported

# How a probe's function is lowered (`lower_probe`)
MODES = {
    "cpu": "jax.jit(f).lower(*inputs)",
    "tpu": "for TPU, without TPU hardware: jax.jit(f).trace(*inputs).lower(lowering_platforms=('tpu',))",
    "symbolic": "jax.export.export(jax.jit(f)) with the leading dimension of every non-scalar input "
                "replaced by one symbolic dimension `b` (export, unlike jit, emits get_dimension_size)",
    "mesh": "f runs per shard in jax.shard_map over a 4-device mesh ('i',), in_specs=out_specs=jax.P('i'), "
            "lowered for CPU (4 devices: lowering.devices.fake_devices() before JAX starts)",
    "mesh-cuda": "as mesh, lowered for CUDA without a GPU (collectives JAX lowers on GPU only)",
}
_PLATFORM = {"tpu": "tpu", "mesh-cuda": "cuda"}
MESH_SIZE = 4

# The modules the probes below use. Not the grammar's header (`synth.skeleton`):
# a probe is a hand-written JAX function, not a program of the language, and
# lowering knows nothing about how a function was made (it lowers any), so it
# takes nothing from the grammar or its vocabulary; these are the imports the
# probe bodies need, whatever a grammar's header says.
_PROBE_HEADER = "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n\n\n"


class Probe(NamedTuple):
    """A function `f` that emits an op. `api` names the JAX API it exercises;
    `source` is a module defining `f`; `inputs` is a signature for
    `jaxsynth.synth.types.parse_signature` (f32, i32, bool: other dtypes are
    made inside `f`, e.g. complex via `lax.complex`); `mode` a key of MODES."""
    api: str
    source: str
    inputs: str
    mode: str = "cpu"

    def summary(self) -> str:
        return f"{self.mode}: {self.api}"


def _p(api: str, body: str, inputs: str = "f32[4]", mode: str = "cpu") -> Probe:
    return Probe(api, _PROBE_HEADER + body.strip() + "\n", inputs, mode)


def _unary(expr: str, inputs: str = "f32[4]", mode: str = "cpu") -> Probe:
    """A probe of one call on the input x, e.g. `_unary("jnp.sin")`."""
    return _p(expr, f"def f(x):\n    return {expr}(x)", inputs, mode)


def _binary(expr: str, inputs: str = "f32[4], f32[4]", mode: str = "cpu") -> Probe:
    """A probe of one call or operator on x and y: `_binary("jnp.maximum")`, `_binary("x - y")`."""
    body = f"return {expr}(x, y)" if re.fullmatch(r"[\w.]+", expr) else f"return {expr}"
    return _p(expr, f"def f(x, y):\n    {body}", inputs, mode)


_ASYNC_PSUM = _p("jax._src.lax.parallel.psum_start (private)", """
from jax._src.lax import parallel


def f(x):
    return parallel.psum_start(x, "i").done()""", mode="mesh")

PROBES: dict[str, Probe] = {
    # ---- elementwise, stablehlo
    "stablehlo.abs": _unary("jnp.abs"),
    "stablehlo.add": _binary("x + y"),
    "stablehlo.and": _binary("x & y", "i32[4], i32[4]"),
    "stablehlo.atan2": _binary("jnp.arctan2"),
    "stablehlo.bitcast_convert": _p("lax.bitcast_convert_type", """
def f(x):
    return lax.bitcast_convert_type(x, jnp.int32)"""),
    "stablehlo.cbrt": _unary("jnp.cbrt"),
    "stablehlo.ceil": _unary("jnp.ceil"),
    "stablehlo.clamp": _p("lax.clamp", """
def f(x):
    return lax.clamp(0.0, x, 1.0)"""),
    "stablehlo.compare": _binary("x < y"),
    "stablehlo.complex": _binary("lax.complex"),
    "stablehlo.constant": _p("a literal", """
def f(x):
    return x * 2.0"""),
    "stablehlo.convert": _p("astype", """
def f(x):
    return x.astype(jnp.int32)"""),
    "stablehlo.cosine": _unary("jnp.cos"),
    "stablehlo.count_leading_zeros": _unary("lax.clz", "i32[4]"),
    "stablehlo.divide": _binary("x / y"),
    "stablehlo.exponential": _unary("jnp.exp"),
    "stablehlo.exponential_minus_one": _unary("jnp.expm1"),
    "stablehlo.floor": _unary("jnp.floor"),
    "stablehlo.imag": _p("jnp.imag", """
def f(x, y):
    return jnp.imag(lax.complex(x, y))""", "f32[4], f32[4]"),
    "stablehlo.is_finite": _unary("jnp.isfinite"),
    "stablehlo.log": _unary("jnp.log"),
    "stablehlo.log_plus_one": _unary("jnp.log1p"),
    "stablehlo.maximum": _binary("jnp.maximum"),
    "stablehlo.minimum": _binary("jnp.minimum"),
    "stablehlo.multiply": _binary("x * y"),
    "stablehlo.negate": _unary("jnp.negative"),
    "stablehlo.not": _unary("jnp.logical_not", "bool[4]"),
    "stablehlo.or": _binary("x | y", "i32[4], i32[4]"),
    "stablehlo.popcnt": _unary("lax.population_count", "i32[4]"),
    "stablehlo.power": _binary("x ** y"),
    "stablehlo.real": _p("jnp.real", """
def f(x, y):
    return jnp.real(lax.complex(x, y))""", "f32[4], f32[4]"),
    "stablehlo.reduce_precision": _p("lax.reduce_precision", """
def f(x):
    return lax.reduce_precision(x, exponent_bits=5, mantissa_bits=10)"""),
    "stablehlo.remainder": _binary("lax.rem"),
    "stablehlo.round_nearest_afz": _unary("lax.round"),
    "stablehlo.round_nearest_even": _unary("jnp.round"),
    "stablehlo.rsqrt": _unary("lax.rsqrt"),
    "stablehlo.select": _p("jnp.where", """
def f(p, x, y):
    return jnp.where(p, x, y)""", "bool[4], f32[4], f32[4]"),
    "stablehlo.shift_left": _binary("x << y", "i32[4], i32[4]"),
    "stablehlo.shift_right_arithmetic": _binary("x >> y", "i32[4], i32[4]"),
    "stablehlo.shift_right_logical": _binary("lax.shift_right_logical", "i32[4], i32[4]"),
    "stablehlo.sign": _unary("jnp.sign"),
    "stablehlo.sine": _unary("jnp.sin"),
    "stablehlo.sqrt": _unary("jnp.sqrt"),
    "stablehlo.subtract": _binary("x - y"),
    "stablehlo.tan": _unary("jnp.tan"),
    "stablehlo.tanh": _unary("jnp.tanh"),
    "stablehlo.xor": _binary("x ^ y", "i32[4], i32[4]"),
    # ---- elementwise, chlo (JAX keeps these for XLA to expand)
    "chlo.acos": _unary("jnp.arccos"),
    "chlo.acosh": _unary("jnp.arccosh"),
    "chlo.asin": _unary("jnp.arcsin"),
    "chlo.asinh": _unary("jnp.arcsinh"),
    "chlo.atan": _unary("jnp.arctan"),
    "chlo.atanh": _unary("jnp.arctanh"),
    "chlo.bessel_i1e": _unary("jax.scipy.special.i1e"),
    "chlo.cosh": _unary("jnp.cosh"),
    "chlo.digamma": _unary("jax.scipy.special.digamma"),
    "chlo.erf": _unary("jax.scipy.special.erf"),
    "chlo.erf_inv": _unary("jax.scipy.special.erfinv"),
    "chlo.erfc": _unary("jax.scipy.special.erfc"),
    "chlo.lgamma": _unary("jax.scipy.special.gammaln"),
    "chlo.mulhi": _binary("lax.mulhi", "i32[4], i32[4]"),
    "chlo.next_after": _binary("jnp.nextafter"),
    "chlo.polygamma": _binary("lax.polygamma"),
    "chlo.sinh": _unary("jnp.sinh"),
    "chlo.square": _unary("jnp.square"),
    "chlo.zeta": _binary("jax.scipy.special.zeta"),
    "chlo.conj": _p("lax.linalg.triangular_solve(conjugate_a=True) of a complex matrix", """
def f(a, b):
    a = lax.complex(a, a)
    return lax.linalg.triangular_solve(a, b.astype(a.dtype), left_side=True, lower=True, conjugate_a=True)""",
                    "f32[3,3], f32[3,2]"),
    "chlo.top_k": _p("lax.top_k", """
def f(x):
    return lax.top_k(x, 2)[0]"""),
    "chlo.ragged_dot": _p("lax.ragged_dot", """
def f(lhs, rhs, group_sizes):
    return lax.ragged_dot(lhs, rhs, group_sizes)""", "f32[8,4], f32[2,4,3], i32[2]", "tpu"),
    # ---- shapes, indexing, reductions
    "stablehlo.broadcast_in_dim": _p("jnp.broadcast_to", """
def f(x):
    return jnp.broadcast_to(x, (3, 4))"""),
    "stablehlo.concatenate": _binary("jnp.concatenate([x, y])"),
    "stablehlo.iota": _p("jnp.arange", """
def f(x):
    return x + jnp.arange(4)"""),
    "stablehlo.pad": _p("jnp.pad", """
def f(x):
    return jnp.pad(x, 1)"""),
    "stablehlo.reshape": _p("reshape", """
def f(x):
    return x.reshape(2, 2)"""),
    "stablehlo.reverse": _unary("jnp.flip"),
    "stablehlo.slice": _p("x[1:3]", """
def f(x):
    return x[1:3]"""),
    "stablehlo.transpose": _p("x.T", """
def f(x):
    return x.T""", "f32[2,3]"),
    "stablehlo.dynamic_slice": _p("lax.dynamic_slice", """
def f(x, i):
    return lax.dynamic_slice(x, (i,), (2,))""", "f32[4], i32[]"),
    "stablehlo.dynamic_update_slice": _p("lax.dynamic_update_slice", """
def f(x, y, i):
    return lax.dynamic_update_slice(x, y, (i,))""", "f32[4], f32[2], i32[]"),
    "stablehlo.gather": _p("x[idx]", """
def f(x, idx):
    return x[idx]""", "f32[4], i32[3]"),
    "stablehlo.scatter": _p("x.at[idx].add", """
def f(x, idx, y):
    return x.at[idx].add(y)""", "f32[4], i32[3], f32[3]"),
    "stablehlo.reduce": _unary("jnp.sum"),
    "stablehlo.return": _unary("jnp.sum"),
    "stablehlo.sort": _unary("jnp.sort"),
    "stablehlo.dot_general": _binary("x @ y", "f32[2,3], f32[3,4]"),
    "stablehlo.convolution": _p("lax.conv", """
def f(x, w):
    return lax.conv(x, w, (1, 1), "SAME")""", "f32[1,1,4,4], f32[1,1,3,3]"),
    "stablehlo.reduce_window": _p("lax.reduce_window", """
def f(x):
    return lax.reduce_window(x, 0.0, lax.add, (2,), (1,), "VALID")"""),
    "stablehlo.select_and_scatter": _p("jax.grad of a max pool", """
def f(x):
    pool = lambda x: lax.reduce_window(x, -jnp.inf, lax.max, (2,), (2,), "VALID").sum()
    return jax.grad(pool)(x)"""),
    "stablehlo.fft": _p("jnp.fft.fft", """
def f(x):
    return jnp.fft.fft(x)"""),
    # ---- control flow
    "stablehlo.while": _p("lax.while_loop", """
def f(x):
    return lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))[1]"""),
    "stablehlo.case": _p("lax.cond", """
def f(p, x):
    return lax.cond(p, jnp.sin, jnp.cos, x)""", "bool[], f32[4]"),
    "stablehlo.optimization_barrier": _unary("lax.optimization_barrier"),
    "stablehlo.composite": _p("lax.composite", """
def f(x):
    return lax.composite(lambda x: jnp.sin(x) * 2.0, name="my.double_sin")(x)"""),
    "stablehlo.custom_call": _unary("jnp.linalg.cholesky", "f32[3,3]"),
    # ---- random
    "stablehlo.rng": _p("lax.rng_uniform", """
def f(x):
    return x + lax.rng_uniform(0.0, 1.0, (4,))"""),
    "stablehlo.rng_bit_generator": _p("jax.random.bits with an rbg key", """
def f(seed):
    return jax.random.bits(jax.random.key(seed, impl="rbg"), (4,))""", "i32[]"),
    # ---- tokens
    "stablehlo.create_token": _p("lax.create_token", """
def f(x):
    return x, lax.create_token()"""),
    "stablehlo.after_all": _p("lax.after_all", """
def f(x):
    return x, lax.after_all(lax.create_token(), lax.create_token())"""),
    # ---- linear algebra on TPU (XLA ops there, LAPACK custom calls on CPU)
    "stablehlo.cholesky": _unary("jnp.linalg.cholesky", "f32[3,3]", "tpu"),
    "stablehlo.triangular_solve": _binary("jax.scipy.linalg.solve_triangular", "f32[3,3], f32[3,2]", "tpu"),
    # ---- symbolic shapes
    "stablehlo.dynamic_iota": _p("jnp.arange(x.shape[0])", """
def f(x):
    return x + jnp.arange(x.shape[0])""", mode="symbolic"),
    "stablehlo.dynamic_broadcast_in_dim": _p("jnp.broadcast_to", """
def f(x):
    return jnp.broadcast_to(x[0], x.shape)""", mode="symbolic"),
    "stablehlo.dynamic_reshape": _p("reshape", """
def f(x):
    return x.reshape(-1)""", "f32[4,2]", "symbolic"),
    "stablehlo.real_dynamic_slice": _p("lax.slice_in_dim", """
def f(x):
    return lax.slice_in_dim(x, 1, x.shape[0])""", mode="symbolic"),
    "stablehlo.dynamic_gather": _p("x[1:]", """
def f(x):
    return x[1:]""", mode="symbolic"),
    "stablehlo.dynamic_pad": _p("jnp.pad", """
def f(x):
    return jnp.pad(x, (0, x.shape[0]))""", mode="symbolic"),
    "stablehlo.dynamic_conv": _p("lax.conv_general_dilated, SAME padding of a symbolic spatial dimension", """
def f(x):
    w = jnp.ones((3, 1, 1))
    return lax.conv_general_dilated(x, w, (2,), "SAME", dimension_numbers=("WNC", "WIO", "WNC"))""",
                                 "f32[5,1,1]", "symbolic"),
    "stablehlo.get_dimension_size": _p("x.shape[0]", """
def f(x):
    return x * x.shape[0]""", mode="symbolic"),
    # ---- collectives
    "stablehlo.all_reduce": _p("lax.psum", """
def f(x):
    return lax.psum(x, "i")""", mode="mesh"),
    "stablehlo.all_gather": _p("lax.all_gather", """
def f(x):
    return lax.all_gather(x, "i", tiled=True)""", mode="mesh"),
    "stablehlo.all_to_all": _p("lax.all_to_all", """
def f(x):
    return lax.all_to_all(x, "i", 0, 0, tiled=True)""", "f32[16]", "mesh"),
    "stablehlo.reduce_scatter": _p("lax.psum_scatter", """
def f(x):
    return lax.psum_scatter(x, "i", tiled=True)""", "f32[16]", "mesh"),
    "stablehlo.collective_permute": _p("lax.ppermute", """
def f(x):
    return lax.ppermute(x, "i", [(0, 1), (1, 2), (2, 3), (3, 0)])""", mode="mesh"),
    "stablehlo.partition_id": _p("lax.axis_index", """
def f(x):
    return x + lax.axis_index("i")""", mode="mesh"),
    "stablehlo.collective_broadcast": _p("lax.pbroadcast", """
def f(x):
    return lax.pbroadcast(x, "i", 0)""", mode="mesh-cuda"),
    "stablehlo.send": _p("lax.psend", """
def f(x):
    token = lax.psend(x, "i", [(0, 1)])
    return lax.precv(token, jax.ShapeDtypeStruct(x.shape, x.dtype), "i", [(0, 1)])""", mode="mesh-cuda"),
    "stablehlo.recv": _p("lax.precv", """
def f(x):
    return lax.precv(lax.create_token(), jax.ShapeDtypeStruct(x.shape, x.dtype), "i", [(0, 1)])""",
                         mode="mesh-cuda"),
    # psum_start and its kin (async collectives) are not exported by jax.lax
    "stablehlo.async_start": _ASYNC_PSUM,
    "stablehlo.async_done": _ASYNC_PSUM,
}

# Reasons shared by several ops are named, so a report can group the ops by reason.
_BROADCASTING = ("CHLO's implicitly broadcasting form of a binary op, for frontends that rely on it (TF); "
                 "JAX broadcasts explicitly (broadcast_in_dim) and emits the plain op")
_TUPLES = ("JAX lowers multi-result ops (custom calls, while, case) to several results, never to a tuple; "
           "tuples occur only in JAX's pre-2023 serialized back-compat test modules")
_BATCH_NORM = ("JAX has no batch-norm primitive: normalization (flax, jax.nn.standardize) is built from "
               "reduce and elementwise ops; emitted by TF's XLA bridge")
_FEEDS = ("JAX removed lax.infeed/lax.outfeed; host transfers go through callbacks "
          "(custom_call on CPU/GPU, send/recv on TPU)")
_QUANT = "JAX has no quantized element types (!quant.uniform); emitted by TFLite/ODML quantization frontends"
_IS_INF = "jnp.isinf/isposinf/isneginf lower to compare (and abs) against infinity"

NOT_EMITTED: dict[str, str] = {
    **{f"chlo.broadcast_{name}": _BROADCASTING for name in (
        "add", "and", "atan2", "compare", "complex", "divide", "maximum", "minimum", "multiply", "next_after",
        "or", "polygamma", "power", "remainder", "select", "shift_left", "shift_right_arithmetic",
        "shift_right_logical", "subtract", "xor", "zeta")},
    "chlo._asin_acos_kernel": "internal op of CHLO's own decomposition of complex asin/acos; JAX emits chlo.asin/acos",
    "chlo.constant": "CHLO's own constant op; JAX emits every constant as stablehlo.constant",
    "chlo.constant_like": "helper of CHLO decompositions (a constant shaped like an operand); "
                          "JAX emits stablehlo.constant and broadcast_in_dim",
    "chlo.is_inf": _IS_INF,
    "chlo.is_neg_inf": _IS_INF,
    "chlo.is_pos_inf": _IS_INF,
    "chlo.scan": "JAX 0.10's chlo.scan lowering of cumulative reductions (GPU) is disabled "
                 "(_is_supported_cumred returns False): cumsum & co. lower to reduce_window or an associative scan",
    "chlo.tan": "lax.tan lowers to stablehlo.tan",
    "stablehlo.batch_norm_grad": _BATCH_NORM,
    "stablehlo.batch_norm_inference": _BATCH_NORM,
    "stablehlo.batch_norm_training": _BATCH_NORM,
    "stablehlo.broadcast": "legacy op, superseded by broadcast_in_dim, which JAX emits",
    "stablehlo.cross-replica-sum": "legacy op (XLA's CrossReplicaSum), superseded by all_reduce, which lax.psum emits",
    "stablehlo.dot": "legacy op, superseded by dot_general, which JAX emits for every contraction (@, jnp.dot, einsum)",
    "stablehlo.einsum": "legacy XLA-client op; jnp.einsum lowers to dot_general, transpose and reduce",
    "stablehlo.get_tuple_element": _TUPLES,
    "stablehlo.if": "lax.cond lowers to stablehlo.case, two-way conds included; JAX never builds an IfOp",
    "stablehlo.infeed": _FEEDS,
    "stablehlo.logistic": "lax.logistic (jax.nn.sigmoid) lowers to 1 / (1 + exp(-x)); "
                          "JAX's LogisticOp lowering is commented out (numerical problems)",
    "stablehlo.map": "lax.map lowers through scan to while; JAX never builds a MapOp",
    "stablehlo.outfeed": _FEEDS,
    "stablehlo.replica_id": "axis_index's replica branch is dead in 0.10: every lowering has an SPMD or sharding "
                            "context (pmap runs as shard_map), so axis_index emits partition_id",
    "stablehlo.set_dimension_size": "bounded dynamic shapes (TF's XLA bridge); JAX's symbolic shapes are unbounded "
                                    "and use the dynamic_* ops",
    "stablehlo.torch_index_select": "emitted by PyTorch frontends (torch-mlir); jnp.take and indexing emit gather",
    "stablehlo.tuple": _TUPLES,
    "stablehlo.unary_einsum": "legacy XLA-client op; jnp.einsum of one operand lowers to transpose and reduce",
    "stablehlo.uniform_dequantize": _QUANT,
    "stablehlo.uniform_quantize": _QUANT,
}


def reachable() -> frozenset[str]:
    """The ops of the universe some JAX function emits (the keys of PROBES)."""
    return frozenset(PROBES)


def reach_of(op: str) -> str:
    """How an op is reached ('mode: api'), or why it is not."""
    return PROBES[op].summary() if op in PROBES else NOT_EMITTED[op]


def _specs(probe: Probe) -> list:
    import jax

    from ..synth.types import parse_signature
    types = parse_signature(probe.inputs)
    if probe.mode != "symbolic":
        return [t.spec() for t in types]
    scope = jax.export.SymbolicScope()      # one `b` for all inputs, not one per input
    return [jax.ShapeDtypeStruct(jax.export.symbolic_shape(", ".join(["b", *map(str, t.shape[1:])]), scope=scope)
                                 if t.shape else (), t.spec().dtype) for t in types]


def lower_probe(probe: Probe) -> dict[str, int]:
    """Lower a probe's `f` as its mode says (MODES); the op counts of the module."""
    import jax
    fn, specs = load_function(probe.source, filename=f"<probe {probe.api}>"), _specs(probe)
    if probe.mode.startswith("mesh"):
        if len(jax.devices()) < MESH_SIZE:
            raise RuntimeError(f"mesh probes need {MESH_SIZE} devices, JAX has {len(jax.devices())}: "
                               "call lowering.devices.fake_devices() before JAX starts")
        mesh = jax.make_mesh((MESH_SIZE,), ("i",), (jax.sharding.AxisType.Auto,), devices=jax.devices()[:MESH_SIZE])
        fn = jax.shard_map(fn, mesh=mesh, in_specs=jax.P("i"), out_specs=jax.P("i"))
    if probe.mode == "symbolic":
        return lower_exported(jax.export.export(jax.jit(fn))(*specs)).ops
    traced = jax.jit(fn).trace(*specs)
    platform = _PLATFORM.get(probe.mode)
    lowered = traced.lower(lowering_platforms=(platform,)) if platform else traced.lower()
    return count_ops(lowered.compiler_ir("stablehlo"))
