"""Lowering: exact op counts from the MLIR walk, the universe, and `extract`."""
import jax
import jax.numpy as jnp
from jax import lax
from jaxlib.mlir.dialects import chlo, stablehlo

from jaxsynth.corpus.cli import main
from jaxsynth.lowering import lower, universe
from jaxsynth.synth.types import parse_signature


def _specs(sig):
    return [t.spec() for t in parse_signature(sig)]


def test_counts_include_nested_regions():
    ops = lower(lambda x: jnp.sum(x, axis=0), _specs("f32[4,8]")).ops
    assert ops["stablehlo.reduce"] == 1 and ops["stablehlo.add"] == 1   # the add lives in the reduce body
    assert ops["stablehlo.return"] == 1 and ops["func.func"] == 1

    ops = lower(lambda x: lax.fori_loop(0, 3, lambda i, c: jnp.sin(c), x), _specs("f32[4]")).ops
    assert ops["stablehlo.while"] == 1 and ops["stablehlo.sine"] == 1 and ops["stablehlo.compare"] >= 1

    ops = lower(lambda p, x: lax.cond(p, jnp.exp, jnp.cos, x), _specs("bool[], f32[3]")).ops
    assert ops["stablehlo.case"] == 1 and ops["stablehlo.exponential"] == 1 and ops["stablehlo.cosine"] == 1


def test_text_is_jax_text():
    f = lambda x, y: x @ y
    lowered = lower(f, _specs("f32[2,3], f32[3]"))
    assert lowered.text == jax.jit(f).lower(*_specs("f32[2,3], f32[3]")).as_text()
    assert lowered.ops["stablehlo.dot_general"] == 1


def test_universe_is_the_installed_dialects():
    expected = {getattr(mod, name).OPERATION_NAME for mod in (stablehlo, chlo) for name in dir(mod)
                if isinstance(getattr(mod, name), type) and hasattr(getattr(mod, name), "OPERATION_NAME")}
    assert universe() == expected and "stablehlo.while" in expected and "chlo.erf" in expected


def test_extract_a_users_function(tmp_path, capsys):
    src = tmp_path / "model.py"
    src.write_text("import jax.numpy as jnp\n\ndef layer(w, b):\n    return jnp.tanh(w @ jnp.ones(8) + b.sum())\n")
    assert main(["extract", f"{src}:layer", "--inputs", "f32[4,8], f32[8]"]) == 0
    out = capsys.readouterr().out
    assert out.startswith("module @jit_layer")
    counts = {line.split()[1]: int(line.split()[0]) for line in out.splitlines()
              if line.strip() and line.split()[0].isdigit()}
    assert counts["stablehlo.tanh"] == 1 and counts["stablehlo.dot_general"] == 1 and counts["stablehlo.reduce"] == 1


def test_batched_lowering_equals_standalone(space, grammar):
    """300 programs lowered 50 to a module: each text and count equals its own lowering,
    helpers shared across the batch attributed to every program that calls them."""
    import random

    from jaxsynth.lowering import load_function, lower_batch
    from jaxsynth.synth.printer import to_source
    programs = [space.sample(random.Random(f"batch:{k}")) for k in range(300)]
    jobs = [(to_source(p.tree, grammar), [t.spec() for t in p.inputs]) for p in programs]
    alone = [lower(load_function(src), specs) for src, specs in jobs]
    batched = []
    for i in range(0, len(jobs), 50):
        batched += lower_batch([(load_function(src), specs) for src, specs in jobs[i:i + 50]])
    assert batched == alone
    with_helpers = [a for a in alone if a.ops["func.func"] > 1]
    assert len(with_helpers) > 20, "the batches did share helper functions"


def test_a_bad_program_costs_only_itself():
    from jaxsynth.lowering import LoweringError, lower_batch
    good = (lambda x: jnp.sum(jnp.where(x > 0, x, 0.0)), _specs("f32[3]"))
    bad = (lambda x: jnp.reshape(x, (4,)), _specs("f32[3]"))
    out = lower_batch([good, bad, good])
    assert isinstance(out[1], LoweringError) and "reshape" in str(out[1]).lower()
    assert out[0] == out[2] == lower(*good)
