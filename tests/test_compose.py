"""Compositional lowering: programs spliced from their steps' lowerings are
exactly what JAX prints; what JAX's whole-program passes change is lowered by
JAX; the fragment cache on disk; the run's verification and manifest."""
import json
import random
import sqlite3
from collections import Counter
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from jaxsynth.corpus.run import compose as compose_module
from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.compose import Composer, FragmentCache, Stored
from jaxsynth.corpus.run.records import Mismatch, make_records
from jaxsynth.corpus.run.readers import checked_records, corpus_files
from jaxsynth.lowering import splice
from jaxsynth.synth.check import check_source
from jaxsynth.synth.grammar import load_grammar

HEADER = load_grammar(parser=False).header      # the packaged grammar's imports, as programs print them

SLOW = settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


@pytest.fixture(scope="module")
def composer(grammar):
    return Composer(grammar)


def _lower(composer, grammar, programs, style="statements"):
    """Records of programs, each spliced program lowered by JAX as well and
    compared (a difference raises Mismatch); and how they were lowered."""
    ways = []
    records = list(make_records([({"id": f"p{k}"}, p) for k, p in enumerate(programs)], grammar, style,
                                composer=composer, verify=1.0, ways=ways))
    return records, Counter(key for way in ways for key in way)


def _program(space, body: str, signature: str):
    """A program from the statements of its body (indented 4) and its docstring."""
    return check_source(f'{HEADER}def f({", ".join(f"x{i}" for i in range(signature.split(" -> ")[0].count("[")))}):\n'
                        f'    """{signature}"""\n{body}', space)


@SLOW
@given(seed=st.integers(0, 10 ** 6), style=st.sampled_from(["statements", "nested"]))
def test_spliced_programs_are_what_jax_prints(composer, grammar, space, seed, style):
    """Text, op counts and attribution of every spliced program equal JAX's own
    lowering's (make_records compares them with verify=1); most programs splice."""
    programs = [space.sample(random.Random(f"{seed}:{k}")) for k in range(20)]
    _, stats = _lower(composer, grammar, programs, style)
    assert stats["verified"] == stats["spliced"] and stats["spliced"] + stats["by_jax"] == 20
    assert stats["spliced"] >= 10


def test_enumerated_programs_splice(composer, grammar, space):
    from jaxsynth.synth.space import Enumeration
    from jaxsynth.synth.types import parse_signature
    enum = Enumeration(space, parse_signature("f32[2]"))
    programs = [enum.program(*enum.locate(k, 2)) for k in range(0, 30000, 97)]
    _, stats = _lower(composer, grammar, programs)
    assert stats["spliced"] == stats["verified"] >= 0.95 * len(programs)


@pytest.mark.parametrize("body, signature, why", [
    # JAX shares one @relu between the two calls (one cached trace)
    ("    v0 = jax.nn.relu(x0)\n    v1 = jax.nn.relu(v0)\n    return v1\n", "f32[3] -> f32[3]",
     "the private function @relu is made twice (JAX may share it)"),
    # a scalar zero is a literal: JAX prints it at each use
    ("    v0 = jnp.zeros_like(x0)\n    v1 = jnp.arctan2(x0, v0)\n    v2 = v0 * 0.5\n    return v1, v2\n",
     "f32[] -> f32[], f32[]", "a step whose value is a literal constant"),
    # Python scalars make a weakly typed value
    ("    v0 = jnp.full((2,), 0.5)\n    v1 = x0 + v0\n    return v1\n", "f32[2] -> f32[2]",
     "a weakly typed value crosses steps"),
])
def test_whole_program_effects_go_to_jax(composer, grammar, space, body, signature, why):
    program = _program(space, body, signature)
    assert composer.lower([program])[0].whole == why
    records, stats = _lower(composer, grammar, [program])
    assert stats["by_jax"] == 1 and isinstance(records[0][1], dict)


_MESH = 'jax.shard_map(lambda a: {}, mesh=jax.sharding.Mesh(jax.devices()[:4], "i"), in_specs=jax.P("i"), ' \
        'out_specs=jax.P("i"), check_vma=False)({})'


def test_programs_over_a_mesh_splice(composer, grammar, space):
    """Steps over a mesh splice with the others: the module takes the mesh's
    header and declares the mesh once, every collective on channel 1."""
    psum, psum_cos = 'lax.psum(a, "i")', 'jnp.cos(lax.psum(a, "i"))'
    body = (f"    v0 = {_MESH.format(psum, 'x0')}\n    v1 = jnp.sin(x0)\n"
            f"    v2 = {_MESH.format(psum_cos, 'v1')}\n    return v0, v2\n")
    program = _program(space, body, "f32[8,4] -> f32[8,4], f32[8,4]")
    records, stats = _lower(composer, grammar, [program])
    assert stats["spliced"] == stats["verified"] == 1
    text = records[0][1]["stablehlo"]
    assert text.count("sdy.mesh @mesh") == 1 and text.count("sdy.manual_computation") == 2
    assert {"alternative": "(program)", "op": "sdy.mesh", "count": 1} in records[0][1]["attribution"]


def test_a_value_made_over_a_mesh_read_by_a_step_with_helpers_goes_to_jax(composer, grammar, space):
    """Its type carries the mesh: here JAX traces the two `jnp.where`s apart
    (two helpers), where the step alone shares one."""
    barrier = "lax.optimization_barrier(a)"
    body = (f"    v0 = {_MESH.format(barrier, 'x0')}\n"
            "    v1 = lax.fori_loop(0, 2, lambda i, c: lax.switch(i, [lambda a: jnp.where(a, v0, x0), "
            "lambda a: x0 | jnp.roll(a, 2, axis=1), lambda a: jnp.logical_not(jnp.where(x0, a, v0))], c), v0)\n"
            "    return v1\n")
    program = _program(space, body, "bool[8,3] -> bool[8,3]")
    assert composer.lower([program])[0].whole == "a value made over a mesh crosses to a step with private functions"
    records, stats = _lower(composer, grammar, [program])
    assert stats["by_jax"] == 1 and records[0][1]["stablehlo"].count("func.func private @_where") == 2
    # read by steps without private functions, it splices (and what they make of it carries the mesh on)
    plain = (f"    v0 = {_MESH.format(barrier, 'x0')}\n    v1 = jnp.logical_not(v0)\n    v2 = v1 & x0\n"
             "    return v2\n")
    records, stats = _lower(composer, grammar, [_program(space, plain, "bool[8,3] -> bool[8,3]")])
    assert stats["spliced"] == stats["verified"] == 1


def test_a_scalar_of_a_program_over_a_mesh_goes_to_jax(composer, grammar, space):
    """JAX gives a scalar input of a module over a mesh a sharding on an empty mesh."""
    psum = 'lax.psum(a, "i")'
    body = f"    v0 = x1 * x0\n    v1 = {_MESH.format(psum, 'v0')}\n    return v1\n"
    program = _program(space, body, "f32[], f32[8,4] -> f32[8,4]")
    assert composer.lower([program])[0].whole == "a scalar input or output of a program over a mesh"
    records, stats = _lower(composer, grammar, [program])
    assert stats["by_jax"] == 1 and "@empty_mesh" in records[0][1]["stablehlo"]


def test_without_its_rule_a_whole_program_effect_is_caught(grammar, space, monkeypatch):
    """The shared-helper and literal rules are needed: without them the splice
    differs from JAX's text, and verification says which program."""
    shared = _program(space, "    v0 = jax.nn.relu(x0)\n    v1 = jax.nn.relu(v0)\n    return v1\n", "f32[3] -> f32[3]")
    literal = _program(space, "    v0 = jnp.zeros_like(x0)\n    v1 = jnp.arctan2(x0, v0)\n    v2 = v0 * 0.5\n"
                              "    return v1, v2\n", "f32[] -> f32[], f32[]")
    monkeypatch.setattr(splice, "_helper_key", lambda lines: object())
    with pytest.raises(Mismatch, match="program p0: its spliced lowering differs from JAX's in StableHLO text"):
        _lower(Composer(grammar), grammar, [shared])
    monkeypatch.setattr(splice, "_returns_literal", lambda body, returns: False)
    with pytest.raises(Mismatch, match="program p0"):
        _lower(Composer(grammar), grammar, [literal])


def _steps(composer, grammar, program):
    """splice.Steps of a program's pieces, in order."""
    steps = []
    for k in range(len(program.steps)):
        f = compose_module.fragment(program, k)
        stored = composer._ensure([(compose_module.fragment_key(f.program), f.program)])
        n = len(f.params)
        steps.append(splice.Step(next(iter(stored.values())).piece, f.params,
                                 tuple(f.results[v - n] if v >= n else None for v in f.program.outputs)))
    return steps


def test_a_value_nothing_reads_is_removed_with_its_step(composer, grammar, space):
    """A step whose value only an op that ignores it receives (and no output
    returns) is dead code to JAX: splice refuses it."""
    program = _program(space, "    v0 = jnp.exp(x0)\n    v1 = jnp.zeros_like(v0)\n    return v0, v1\n",
                       "f32[2] -> f32[2], f32[2]")
    steps = _steps(composer, grammar, program)
    splice.splice(steps, 1, (1, 2))      # both returned: fine
    with pytest.raises(splice.Whole, match="a value no op reads"):
        splice.splice([steps[0], steps[1]._replace(piece=steps[1].piece._replace(params=()))], 1, (2,))


def test_nested_style_runs_a_value_where_it_is_used(composer, grammar, space):
    """Printed nested, `x0 + x0` runs after top_k (it is written in the return):
    the splice follows the order Python runs the steps in."""
    program = _program(space, "    v0 = x0 + x0\n    v1, v2 = lax.top_k(x0, 2)\n    return v0, v1, v2\n",
                       "f32[2] -> f32[2], f32[2], i32[2]")
    records, stats = _lower(composer, grammar, [program], "nested")
    assert stats["spliced"] == 1
    text = records[0][1]["stablehlo"]
    assert text.index("chlo.top_k") < text.index("stablehlo.add")


def test_a_value_written_inside_a_lambda_goes_to_jax(composer, grammar, space):
    program = _program(space, "    v0 = x0 / x1\n    v1 = lax.while_loop(lambda c: c[0] < 3, lambda c: (c[0] + 1, "
                              "c[1] * v0), (0, x0))[1]\n    return v1\n", "f32[], f32[] -> f32[]")
    assert composer.lower([program], "nested")[0].whole == "a value written inside a lambda"
    assert not composer.lower([program], "statements")[0].whole


# ---------------------------------------------------------------- the cache on disk

def test_cache_round_trip_bound_and_damage(grammar, space, tmp_path):
    cache = FragmentCache(tmp_path, grammar.sha256, "cpu", max_bytes=1)
    composer = Composer(grammar, cache=cache)
    programs = [space.sample(random.Random(f"cache:{k}")) for k in range(10)]
    first = composer.lower(programs)
    warm = Composer(grammar, cache=FragmentCache(tmp_path, grammar.sha256, "cpu"))
    assert warm.lower(programs) == first
    assert warm.stats["lowered"] == 0 and warm.stats["disk"] > 0
    # past its bound the cache deletes its oldest entries
    db = sqlite3.connect(cache.path)
    before = db.execute("SELECT count(*) FROM pieces").fetchone()[0]
    cache._bound(cache._connect())
    assert db.execute("SELECT count(*) FROM pieces").fetchone()[0] < before
    # a damaged entry is lowered again, not trusted
    key = db.execute("SELECT key FROM pieces LIMIT 1").fetchone()[0]
    db.execute("UPDATE pieces SET value = 'not json' WHERE key = ?", (key,))
    db.commit()
    again = Composer(grammar, cache=FragmentCache(tmp_path, grammar.sha256, "cpu"))
    assert again.lower(programs) == first and again.stats["lowered"] >= 1


def test_a_cache_that_cannot_be_used_is_said_once_and_gone_without(grammar, space, tmp_path, capsys):
    cache = FragmentCache(tmp_path, grammar.sha256, "cpu")
    cache.path.mkdir(parents=True)          # where its database would be
    programs = [space.sample(random.Random(f"nocache:{k}")) for k in range(5)]
    assert Composer(grammar, cache=cache).lower(programs) == Composer(grammar).lower(programs)
    err = capsys.readouterr().err.splitlines()
    assert len(err) == 1 and err[0].startswith(f"jaxsynth: warning: fragment cache {cache.path}: ")
    assert err[0].endswith("going on without it")


def test_cache_must_be_a_directory(tmp_path, capsys):
    (tmp_path / "file").write_text("")
    assert main(["sample", "-n", "5", "--cache", str(tmp_path / "file"), "--out", str(tmp_path / "o")]) == 2
    assert capsys.readouterr().err == f"jaxsynth: error: --cache {tmp_path / 'file'}: not a directory\n"
    assert not (tmp_path / "o").exists()


def test_cache_file_names_versions_platform_grammar_and_code(grammar, tmp_path):
    import jax
    name = FragmentCache(tmp_path, grammar.sha256, "tpu").path.name
    assert jax.__version__ in name and "-tpu-" in name and grammar.sha256[:12] in name
    assert compose_module.code_version() in name


def test_code_version_reads_the_packages_code_and_nothing_beside_it():
    """Installed editable, the packages' parent is the checkout, with its
    .venv: the version is of our modules only, so installing a package
    neither invalidates the cache nor costs a read of JAX at start-up."""
    import jaxsynth.lowering
    import jaxsynth.synth.rules.elementwise
    import jaxsynth.synth.space
    files = compose_module.code_files()
    folders = {Path(m.__file__).resolve().parent for m in (jaxsynth.synth, jaxsynth.lowering, compose_module)}
    assert set(files) == {f for d in folders for f in d.rglob("*.py")}
    for module in (compose_module, jaxsynth.synth.space, jaxsynth.synth.rules.elementwise):
        assert Path(module.__file__).resolve() in files, "a change to it would serve pieces of other code"


def test_fragment_keys_tell_fragments_apart_as_their_text_does(grammar, space):
    """Two one-step programs have one key exactly when they print the same."""
    from jaxsynth.synth.printer import to_source
    fragments = [compose_module.fragment(p, k).program for p in
                 (space.sample(random.Random(f"key:{i}")) for i in range(150)) for k in range(len(p.steps))]
    by_key, by_text = {}, {}
    for f in fragments:
        by_key.setdefault(compose_module.fragment_key(f), set()).add(to_source(f.tree, grammar))
        by_text.setdefault(to_source(f.tree, grammar), set()).add(compose_module.fragment_key(f))
    assert all(len(v) == 1 for v in by_key.values()) and all(len(v) == 1 for v in by_text.values())
    assert len(by_key) > 300


def test_stored_pieces_survive_json(composer, grammar, space):
    composer.lower([space.sample(random.Random("json:1"))])
    for stored in list(composer.pieces.values())[:50]:
        assert compose_module._decode(compose_module._encode(stored)) == stored
    assert isinstance(stored, Stored)


# ---------------------------------------------------------------- runs

def _records(out):
    return [json.dumps(r, sort_keys=True) for _, r in checked_records(corpus_files(out)[1])]


def test_compose_and_batched_runs_write_the_same_corpus(tmp_path, capsys):
    common = ["sample", "-n", "60", "--seed", "3", "--workers", "2", "--shard-size", "20"]
    assert main([*common, "--out", str(tmp_path / "c"), "--cache", str(tmp_path / "cache")]) == 0
    assert main([*common, "--out", str(tmp_path / "b"), "--lowering", "batched"]) == 0
    assert _records(tmp_path / "c") == _records(tmp_path / "b")
    assert [f.read_bytes() for f in corpus_files(tmp_path / "c")[1]] == [f.read_bytes() for f in corpus_files(tmp_path / "b")[1]]
    m = json.loads((tmp_path / "c" / "manifest.json").read_text())
    assert m["strategy"] == {"name": "compose", "verify": 0.01}
    low = m["counts"]["lowering"]
    assert low["spliced"] + low["by_jax"] == 60 and low["spliced"] > 30
    assert sum(s["lowering"]["verified"] for s in m["shards"]) == low["verified"]
    assert json.loads((tmp_path / "b" / "manifest.json").read_text())["strategy"] == {"name": "batched", "verify": 0}
    # a second run starts warm: no step lowered again
    capsys.readouterr()
    assert main([*common, "--out", str(tmp_path / "c2"), "--cache", str(tmp_path / "cache")]) == 0
    assert capsys.readouterr().out.splitlines()[-1].endswith("from the cache on disk, 0% lowered")
    assert _records(tmp_path / "c2") == _records(tmp_path / "c")


def test_no_cache_writes_no_cache(tmp_path, monkeypatch):
    monkeypatch.setenv("JAXSYNTH_FRAGMENTS", str(tmp_path / "default"))
    assert main(["sample", "-n", "5", "--workers", "1", "--no-cache", "--out", str(tmp_path / "o")]) == 0
    assert not (tmp_path / "default").exists()
    assert main(["sample", "-n", "5", "--workers", "1", "--out", str(tmp_path / "p")]) == 0
    assert list((tmp_path / "default").glob("*.sqlite"))


def test_a_mismatch_stops_the_run_before_it_is_written(tmp_path, monkeypatch, capsys):
    """Verification catches a splice that is not JAX's: one line naming the
    program, a non-zero exit, and no shard holding it."""
    real, calls = splice._reprint, [0]

    def wrong_after_the_first_shard(text):
        calls[0] += 1
        t, ops = real(text)
        return (t + "\n" if calls[0] > 10 else t), ops
    monkeypatch.setattr(splice, "_reprint", wrong_after_the_first_shard)
    out = tmp_path / "o"
    code = main(["sample", "-n", "40", "--seed", "1", "--workers", "1", "--shard-size", "10", "--verify", "1",
                 "--no-cache", "--out", str(out)])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1
    assert err[0].startswith("jaxsynth: error: program s1-") and "differs from JAX's in StableHLO text" in err[0]
    bad = err[0].split("program ")[1].split(":")[0]
    manifest, files = corpus_files(out, warn=False)
    assert not manifest["complete"] and len(files) >= 1
    written = [r["id"] for _, r in checked_records(files)]
    assert len(written) >= 10 and bad not in written


def test_verify_must_be_a_fraction(capsys):
    assert main(["sample", "-n", "5", "--verify", "1.5"]) == 2
    assert capsys.readouterr().err == "jaxsynth: error: argument --verify: '1.5' is not a fraction in [0, 1]\n"


@pytest.mark.slow
@pytest.mark.parametrize("args", [
    ["sample", "-n", "20000", "--seed", "11"],
    ["enumerate", "--max-ops", "3", "--inputs", "f32[2]", "--dims", "2", "--shard", "1/600"],
])
def test_twenty_thousand_programs_equal_jax(tmp_path, grammar, args):
    """Every spliced program of 20,000 sampled and 27,860 enumerated is lowered
    by JAX as well and equal to it (--verify 1 stops the run otherwise); the
    sampled ones use every alternative of the grammar."""
    out = tmp_path / "o"
    assert main([*args, "--verify", "1", "--workers", "2", "--cache", str(tmp_path / "cache"), "--out", str(out)]) == 0
    m = json.loads((out / "manifest.json").read_text())
    low = m["counts"]["lowering"]
    assert low["verified"] == low["spliced"] and low["spliced"] + low["by_jax"] >= 20000
    if args[0] == "sample":
        used = {a for _, r in checked_records(corpus_files(out)[1]) for a in r["alternatives"]}
        assert used == set(grammar.by_name)


def test_module_state_of_pieces_over_meshes():
    """One mesh for all the pieces over one, declared once under its header;
    pieces over two meshes, or plain pieces of another kind of module, do not join."""
    plain = splice.Piece("module @jit_f attributes {mhlo.num_partitions = 1 : i32, mhlo.num_replicas = 1 : i32} {",
                         (), (), (), (), (), (), ())
    mesh = ('  sdy.mesh @mesh = <["i"=4]> {stablehlo.mesh = {axes = [{name = "i", size = 4 : i64}]}}',)
    meshed = plain._replace(header=plain.header.replace("= 1 : i32, mhlo.num_replicas", "= 4 : i32, mhlo.num_replicas"),
                            others=mesh)
    assert splice.module_state([plain, meshed, plain]) == (meshed.header, mesh)
    assert splice.module_state([plain, plain]) == (plain.header, ())
    with pytest.raises(splice.Whole, match="modules of different kinds"):
        splice.module_state([meshed, meshed._replace(others=(mesh[0].replace("=4", "=2"),))])
    with pytest.raises(splice.Whole, match="modules of different kinds"):
        splice.module_state([meshed, plain._replace(header=plain.header.replace("replicas = 1", "replicas = 2"))])


def test_a_collective_on_another_channel_is_not_spliced():
    from jaxsynth.lowering import Lowered
    text = ('module @jit_f attributes {mhlo.num_partitions = 4 : i32, mhlo.num_replicas = 1 : i32} {\n'
            '  sdy.mesh @mesh = <["i"=4]> {stablehlo.mesh = {axes = [{name = "i", size = 4 : i64}]}}\n'
            '  func.func public @main(%arg0: tensor<8xf32>) -> (tensor<8xf32> {jax.result_info = "result"}) {\n'
            '    %0 = "stablehlo.all_gather"(%arg0) <{all_gather_dim = 0 : i64, channel_handle = '
            '#stablehlo.channel_handle<handle = CHANNEL, type = 1>}> : (tensor<8xf32>) -> tensor<8xf32>\n'
            '    return %0 : tensor<8xf32>\n  }\n}\n')
    assert splice.cut(Lowered(text.replace("CHANNEL", "1"), {}, kept=(0,), weak=(False,))).whole == ""
    assert splice.cut(Lowered(text.replace("CHANNEL", "2"), {}, kept=(0,), weak=(False,))).whole == \
        "a step with module-level state other than a mesh"


def test_the_lowering_summary_counts_the_records_written(tmp_path, capsys):
    """A run's last shard is made whole but written only up to the target:
    the summary and the manifest count how the records written were lowered."""
    out = tmp_path / "c"
    assert main(["sample", "-n", "25", "--seed", "4", "--shard-size", "20", "--workers", "1",
                 "--out", str(out), "--cache", str(tmp_path / "cache")]) == 0
    summary = capsys.readouterr().out.splitlines()[-1]
    low = json.loads((out / "manifest.json").read_text())["counts"]["lowering"]
    assert low["spliced"] + low["by_jax"] == 25
    assert summary.startswith(f"lowering: {low['spliced']} of 25 programs spliced ({low['verified']} of them "
                              f"verified against JAX), {low['by_jax']} lowered by JAX; steps: "), summary
