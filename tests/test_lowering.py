"""Lowering: exact op counts from the MLIR walk, the universe, and `extract`."""
import jax
import jax.numpy as jnp
import pytest
from jax import lax

from jaxsynth.corpus.cli import main
from jaxsynth.lowering import Lowered, load_function, lower, universe
from jaxsynth.synth.types import parse_signature


def _specs(sig):
    return [t.spec() for t in parse_signature(sig)]


# Op counts read off the printed modules by hand (func.return prints as
# `return`, func.call as `call`; `stablehlo.` is left out below). They cover
# nested regions (reduce, sort, while, case bodies), private helper functions
# and calls to them, helpers called twice, and helpers calling helpers.
HAND_COUNTED = [
    (lambda x, y: x + y,
     "f32[3], f32[3]", "func.func=1 func.return=1 add=1"),
    (lambda x, y: x + y,
     "f32[2,3], f32[3]", "func.func=1 func.return=1 add=1 broadcast_in_dim=2"),
    (lambda x: jnp.sin(jnp.exp(x)),
     "f32[4]", "func.func=1 func.return=1 exponential=1 sine=1"),
    (lambda x, y: x @ y,
     "f32[2,3], f32[3]", "func.func=1 func.return=1 dot_general=1"),
    (lambda x: jnp.sum(x, axis=0),
     "f32[4,8]", "func.func=1 func.return=1 add=1 constant=1 reduce=1 return=1"),
    (lambda x: jnp.sum(x),
     "i32[2,3]", "func.func=1 func.return=1 add=1 constant=1 reduce=1 return=1"),
    (lambda x: jnp.max(x, axis=1, keepdims=True),
     "f32[2,3]", "func.func=1 func.return=1 broadcast_in_dim=1 constant=1 maximum=1 reduce=1 return=1"),
    (lambda x: jnp.argmax(x, axis=0),
     "f32[3,2]", "func.call=1 func.func=2 func.return=2 and=1 compare=4 constant=2 iota=1 or=2 reduce=1 return=1 select=2"),
    (lambda x: jnp.mean(x, axis=1),
     "f32[2,4]", "func.func=1 func.return=1 add=1 broadcast_in_dim=1 constant=2 divide=1 reduce=1 return=1"),
    (lambda p, x, y: jnp.where(p, x, y),
     "bool[3], f32[3], f32[3]", "func.call=1 func.func=2 func.return=2 select=1"),
    (lambda p, x: jnp.where(p, x, 0.0) + jnp.where(p, 1.0, x),
     "bool[3], f32[3]", "func.call=2 func.func=3 func.return=3 add=1 broadcast_in_dim=2 constant=2 convert=2 select=2"),
    (lambda x: jax.nn.relu(x),
     "f32[5]", "func.call=1 func.func=2 func.return=2 broadcast_in_dim=1 constant=1 maximum=1"),
    (lambda x: jax.nn.relu(x) * jax.nn.relu(-x),
     "f32[5]", "func.call=2 func.func=2 func.return=2 broadcast_in_dim=1 constant=1 maximum=1 multiply=1 negate=1"),
    (lambda p, x: lax.cond(p, jnp.exp, jnp.cos, x),
     "bool[], f32[3]", "func.func=1 func.return=1 case=1 convert=1 cosine=1 exponential=1 return=2"),
    (lambda k, x: lax.switch(k, [jnp.sin, jnp.cos, jnp.tanh], x),
     "i32[], f32[2]", "func.func=1 func.return=1 case=1 clamp=1 constant=2 cosine=1 return=3 sine=1 tanh=1"),
    (lambda x: lax.fori_loop(0, 3, lambda i, c: jnp.sin(c), x),
     "f32[4]", "func.call=1 func.func=2 func.return=2 add=1 compare=1 constant=3 return=2 sine=1 while=1"),
    (lambda x: lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, c[1] * 2.0), (0, x))[1],
     "f32[2]", "func.func=1 func.return=1 add=1 broadcast_in_dim=1 compare=1 constant=4 multiply=1 return=2 while=1"),
    (lambda x: lax.fori_loop(0, 2, lambda i, c: lax.fori_loop(0, 2, lambda j, d: d + 1.0, c), x),
     "f32[2]", "func.call=2 func.func=3 func.return=3 add=3 broadcast_in_dim=1 compare=2 constant=7 return=4 while=2"),
    (lambda p, x: lax.fori_loop(0, 2, lambda i, c: lax.cond(p, jnp.exp, jnp.sin, c), x),
     "bool[], f32[2]", "func.call=1 func.func=2 func.return=2 add=1 case=1 compare=1 constant=3 convert=1 exponential=1 return=4 sine=1 while=1"),
    (lambda x: jnp.sort(x, axis=0),
     "f32[4]", "func.call=1 func.func=2 func.return=2 compare=5 constant=6 return=1 select=4 sort=1"),
    (lambda x: jnp.cumsum(x, axis=1),
     "f32[2,3]", "func.call=2 func.func=3 func.return=3 add=1 broadcast_in_dim=1 constant=1 reduce_window=1 return=1"),
    (lambda x: jax.nn.softmax(x, axis=0),
     "f32[3]", "func.func=1 func.return=1 add=1 broadcast_in_dim=4 constant=3 divide=1 exponential=1 maximum=2 reduce=2 return=2 subtract=1"),
    (lambda x: jax.nn.logsumexp(x, axis=0),
     "f32[3,2]", "func.func=1 func.return=1 abs=1 add=2 broadcast_in_dim=4 constant=4 exponential=1 is_finite=1 log=1 maximum=2 reduce=2 return=2 select=1 subtract=1"),
    (lambda x: jnp.clip(x, -1.0, 2.0),
     "f32[3]", "func.call=1 func.func=2 func.return=2 broadcast_in_dim=2 constant=2 convert=2 maximum=1 minimum=1"),
    (lambda x, y: jnp.pad(jnp.concatenate((x, y), axis=0), ((1, 1),)),
     "f32[2], f32[3]", "func.call=1 func.func=2 func.return=2 concatenate=1 constant=1 convert=1 pad=1"),
    (lambda x: jnp.reshape(x.T, (6,)),
     "f32[2,3]", "func.func=1 func.return=1 reshape=1 transpose=1"),
    (lambda x: lax.erf_inv(x),
     "f32[3]", "chlo.erf_inv=1 func.func=1 func.return=1"),
    (lambda x: lax.bitcast_convert_type(x.astype(jnp.int32), jnp.float32),
     "f32[3]", "func.func=1 func.return=1 bitcast_convert=1 convert=1"),
    (lambda x, y: jnp.remainder(x, y),
     "i32[3], i32[3]", "func.call=2 func.func=3 func.return=3 add=1 and=1 broadcast_in_dim=5 compare=5 constant=5 remainder=1 select=2"),
    (lambda x, y: jnp.einsum("ab,bc->ac", x, y),
     "f32[2,3], f32[3,4]", "func.func=1 func.return=1 dot_general=1"),
]


@pytest.mark.parametrize("fn, sig, expected", HAND_COUNTED)
def test_op_counts_by_hand(fn, sig, expected):
    ops = lower(fn, _specs(sig)).ops
    want = {(k if "." in k else f"stablehlo.{k}"): int(v) for k, v in (item.split("=") for item in expected.split())}
    assert ops == want


def test_text_is_jax_text():
    """The text is the module `jax.jit(f).lower(...).as_text()` prints, header included."""
    lowered = lower(lambda x, y: x @ y, _specs("f32[2,3], f32[3]"))
    assert lowered.text == """\
module @jit__lambda attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {
  func.func public @main(%arg0: tensor<2x3xf32>, %arg1: tensor<3xf32>) -> (tensor<2xf32> {jax.result_info = "result"}) {
    %0 = stablehlo.dot_general %arg0, %arg1, contracting_dims = [1] x [0], precision = [DEFAULT, DEFAULT] : (tensor<2x3xf32>, tensor<3xf32>) -> tensor<2xf32>
    return %0 : tensor<2xf32>
  }
}
"""


def test_universe_is_the_installed_dialects():
    """Every name is an operation MLIR knows, of the stablehlo or chlo dialect;
    the ops JAX emits for the hand-counted programs are all in it."""
    from jaxlib.mlir import ir
    from jaxlib.mlir.dialects import chlo, stablehlo
    u = universe()
    with ir.Context() as ctx:
        stablehlo.register_dialect(ctx)
        chlo.register_dialect(ctx)
        assert all(ctx.is_registered_operation(op) for op in u)
        assert not ctx.is_registered_operation("stablehlo.no_such_op")
    assert {op.split(".")[0] for op in u} == {"stablehlo", "chlo"}
    assert sum(op.startswith("stablehlo.") for op in u) >= 100 and sum(op.startswith("chlo.") for op in u) >= 15
    emitted = {op for fn, sig, _ in HAND_COUNTED for op in lower(fn, _specs(sig)).ops}
    assert {op for op in emitted if not op.startswith("func.")} <= u
    assert not {"func.func", "func.call", "builtin.module"} & u


def test_extract_a_users_function(tmp_path, capsys):
    src = tmp_path / "model.py"
    src.write_text("import jax.numpy as jnp\n\ndef layer(w, b):\n    return jnp.tanh(w @ jnp.ones(8) + b.sum())\n")
    assert main(["extract", f"{src}:layer", "--inputs", "f32[4,8], f32[8]"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module @jit_layer")
    counts = {line.split()[1]: int(line.split()[0]) for line in out.splitlines()
              if line.strip() and line.split()[0].isdigit()}
    assert counts["stablehlo.tanh"] == 1 and counts["stablehlo.dot_general"] == 1 and counts["stablehlo.reduce"] == 1


@pytest.mark.slow
@pytest.mark.parametrize("platform, symbolic", [("cpu", False), ("tpu", False)])
def test_batched_lowering_equals_standalone(space, grammar, platform, symbolic, monkeypatch):
    """300 programs lowered 50 to a module: each text and count equals its own lowering,
    helpers shared across the batch attributed to every program that calls them; for
    another platform too. Every program is cut from a batch
    but those that must be lowered alone: those that fail, and those with a mesh."""
    import random

    from jaxsynth.lowering import LoweringError, batch, load_function, lower_batch
    from jaxsynth.synth.printer import to_source
    programs = [space.sample(random.Random(f"batch:{k}")) for k in range(300)]
    jobs = [(to_source(p.tree, grammar), [t.spec() for t in p.inputs]) for p in programs]
    alone = []
    # each program its own file, as records name them: no op of another's trace falls on its text
    for k, (src, specs) in enumerate(jobs):
        try:
            alone.append(lower(load_function(src, filename=f"<p{k}>"), specs, platform, symbolic))
        except LoweringError as e:
            alone.append(e)
    fns = [load_function(src, filename=f"<p{k}>") for k, (src, _) in enumerate(jobs)]
    went_alone = set()
    real_alone = batch._alone
    monkeypatch.setattr(batch, "_alone", lambda p, *a: went_alone.add(fns.index(p.fn)) or real_alone(p, *a))
    batched = []
    for i in range(0, len(jobs), 50):
        batched += lower_batch([(fn, specs) for fn, (_, specs) in zip(fns[i:i + 50], jobs[i:i + 50])],
                               platform, symbolic)
    same = [b == a if isinstance(a, Lowered) else (type(b), str(b)) == (type(a), str(a))
            for a, b in zip(alone, batched)]
    assert all(same), f"program {same.index(False)}"
    must = {k for k, a in enumerate(alone) if isinstance(a, LoweringError) or "sdy.mesh" in a.text}
    assert went_alone == must
    with_helpers = [a for a in alone if isinstance(a, Lowered) and a.ops["func.func"] > 1]
    assert len(with_helpers) > 20, "the batches did share helper functions"


def _went_alone(monkeypatch):
    """The functions lower_batch lowers alone rather than cut from a batch."""
    from jaxsynth.lowering import batch
    alone, real = [], batch._alone
    monkeypatch.setattr(batch, "_alone", lambda p, *a: alone.append(p.fn) or real(p, *a))
    return alone


def good(x):
    return jnp.sum(jnp.where(x > 0, x, 0.0))


def also_good(x):
    return jnp.cumsum(x, axis=-1) * 2.0


def test_a_bad_program_costs_only_itself(monkeypatch):
    """A program that does not trace fails alone; the others are still cut from a batch."""
    from jaxsynth.lowering import LoweringError, lower_batch
    alone = _went_alone(monkeypatch)

    def bad(x):
        return jnp.reshape(x, (4,))
    specs = _specs("f32[3]")
    out = lower_batch([(good, specs), (bad, specs), (also_good, specs), (good, specs)])
    assert isinstance(out[1], LoweringError) and "reshape" in str(out[1]).lower()
    # text and ops (where ops were written depends on which call traced JAX's cached helpers first)
    same = lambda a, b: (a.text, a.ops) == (b.text, b.ops)      # noqa: E731
    assert same(out[0], out[3]) and same(out[0], lower(good, specs)) and same(out[2], lower(also_good, specs))
    assert alone == [bad]


def test_lowering_for_a_platform_without_its_hardware():
    """On tpu, Cholesky and triangular solves are StableHLO ops; on cpu and cuda
    they are calls into LAPACK and cuSOLVER."""
    chol = lambda a: jnp.linalg.cholesky(a)           # noqa: E731
    solve = lambda a, b: jnp.linalg.solve(a, b)       # noqa: E731
    specs = _specs("f32[3,3], f32[3,3]")
    tpu = lower(chol, specs[:1], platform="tpu")
    assert tpu.ops["stablehlo.cholesky"] == 1 and "stablehlo.custom_call" not in tpu.ops
    assert lower(solve, specs, platform="tpu").ops["stablehlo.triangular_solve"] == 2
    cpu = lower(chol, specs[:1], platform="cpu")
    assert "stablehlo.cholesky" not in cpu.ops and "@lapack_spotrf_ffi" in cpu.text
    assert "@cusolver_potrf_ffi" in lower(chol, specs[:1], platform="cuda").text
    assert cpu == lower(chol, specs[:1]), "cpu is the default"
    assert cpu.text == jax.jit(chol).lower(*specs[:1]).as_text(), "and what jax.jit(f).lower gives"
    with pytest.raises(ValueError, match="gpu"):
        lower(chol, specs[:1], platform="gpu")


def test_symbolic_lowering_batches_over_b():
    """A program whose Python fixes its sizes is exported vmapped over a symbolic
    batch `b` of its first input: that input gains a `?`, the others stay, the
    sizes are read with get_dimension_size, and static reshapes and slices
    become their dynamic forms."""
    def f(x, y):
        return jnp.reshape(x, (6,))[1:4] + y
    lowered = lower(f, _specs("f32[2,3], f32[3]"), symbolic=True)
    main = next(line for line in lowered.text.splitlines() if "@main" in line)
    assert lowered.symbolic == "batch"
    assert "%arg0: tensor<?x2x3xf32>" in main and "%arg1: tensor<3xf32>" in main and "tensor<?x3xf32>" in main
    assert {"stablehlo.dynamic_reshape", "stablehlo.real_dynamic_slice",
            "stablehlo.get_dimension_size"} <= set(lowered.ops)
    assert "stablehlo.dynamic_reshape" not in lower(f, _specs("f32[2,3], f32[3]")).ops
    again = lower(f, _specs("f32[2,3], f32[3]"), "cpu", True)
    assert (lowered.text, lowered.ops, lowered.symbolic) == (again.text, again.ops, again.symbolic), "deterministic"


def test_extract_for_tpu_and_symbolically(tmp_path, capsys):
    src = tmp_path / "model.py"
    src.write_text("import jax.numpy as jnp\n\ndef chol(a):\n    return jnp.linalg.cholesky(a @ a.T)\n")
    assert main(["extract", f"{src}:chol", "--inputs", "f32[3,3]", "--platform", "tpu"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module @jit_chol") and "stablehlo.cholesky" in out
    assert main(["extract", f"{src}:chol", "--inputs", "f32[3,3]", "--symbolic"]) == 0
    out = capsys.readouterr().out
    assert "tensor<?x?xf32>" in out and "@lapack_spotrf_ffi" in out


# ---------------------------------------------------------------- meshes

MESH = "jax.make_mesh((4,), ('i',), (jax.sharding.AxisType.Auto,), devices=jax.devices()[:4])"
MESH_PROGRAMS = f"""
import jax
import jax.numpy as jnp
from jax import lax


def psum(x0):
    return jax.shard_map(lambda a: lax.psum(a, "i") * 2.0, mesh={MESH}, in_specs=jax.P("i"), out_specs=jax.P("i"))(x0)


def gather(x0):
    return jax.shard_map(lambda a: lax.all_gather(a, "i", tiled=True)[:2] + 1.0, mesh={MESH},
                         in_specs=jax.P("i"), out_specs=jax.P("i"))(x0)


def plain(x0):
    return jnp.sin(x0) @ x0


def where(x0):
    return jnp.where(x0 > 0, x0, 1.0).sum()
"""


def test_eight_fake_devices():
    """conftest calls fake_devices() before JAX starts, as every lowering process does."""
    assert jax.device_count() == 8


@pytest.mark.parametrize("platform, symbolic", [("cpu", False), ("tpu", False)])
def test_batch_equals_standalone_with_a_mesh(platform, symbolic, monkeypatch):
    """A program with a mesh makes its module multi-device (`sdy.mesh`,
    `mhlo.num_partitions = 4`): batched alone or among others, every program's
    text is its standalone text, and those without a mesh keep one partition."""
    from jaxsynth.lowering import load_function, lower_batch
    fns = {name: load_function(MESH_PROGRAMS, name) for name in ("psum", "gather", "plain", "where")}
    specs = _specs("f32[8]")
    alone = {name: lower(fn, specs, platform, symbolic) for name, fn in fns.items()}
    assert "sdy.mesh @mesh" in alone["psum"].text and "mhlo.num_partitions = 4" in alone["psum"].text
    assert alone["gather"].ops["stablehlo.all_gather"] == 1 and alone["psum"].ops["stablehlo.all_reduce"] == 1
    assert "mhlo.num_partitions = 1" in alone["plain"].text and "sdy" not in alone["plain"].text
    mix = ["plain", "psum", "where", "gather", "plain", "psum"]
    went_alone = _went_alone(monkeypatch)
    assert lower_batch([(fns[n], specs) for n in mix], platform, symbolic) == [alone[n] for n in mix]
    assert sorted(f.__name__ for f in went_alone) == ["gather", "psum", "psum"], "the others were cut"
    assert lower_batch([(fns["psum"], specs)], platform, symbolic) == [alone["psum"]]


SYMBOLIC_WAYS = [
    # every dimension a symbol: the Python is generic in its shapes
    ("def f(x, w):\n    return jnp.tanh(x) @ w", "f32[4,8], f32[8,3]", "dims",
     {"stablehlo.get_dimension_size", "stablehlo.dot_general"}),
    # a literal shape fixes the sizes: batched over a symbolic b instead
    ("def f(x):\n    return jnp.broadcast_to(x, (2, 4, 8))", "f32[4,8]", "batch",
     {"stablehlo.dynamic_broadcast_in_dim"}),
    # sizes fixed (a reshape whose size the symbols cannot prove), and a
    # convolution whose kernel would be batched with its input: static
    ("def f(x):\n    return lax.conv_general_dilated(x, jnp.reshape(x, (2, 2, 3)), (1,), 'VALID')", "f32[2,2,3]",
     "static", {"stablehlo.convolution"}),
]


@pytest.mark.parametrize("body, sig, way, ops", SYMBOLIC_WAYS)
def test_symbolic_lowering_takes_the_first_way_jax_accepts(body, sig, way, ops):
    from jaxsynth.lowering import lower_batch
    src = "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n\n\n" + body + "\n"
    fn = load_function(src)
    got = lower(fn, _specs(sig), symbolic=True)
    assert got.symbolic == way and ops <= set(got.ops)
    assert ("?" in got.text) == (way != "static")          # dynamic dimensions in the types
    assert lower_batch([(fn, _specs(sig))] * 2, symbolic=True) == [got, got]
    assert lower(fn, _specs(sig)).symbolic is None
