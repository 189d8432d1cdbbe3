"""Grammars and corpora are data: nothing in them runs code the grammar does
not derive.

- Hostile grammars (a literal that calls, imports, walks to builtins, names a
  module that touches the host, ...) fail to load with `file:line`, exit 2,
  and what they try to create never appears.
- Program text outside the vocabulary never executes (`safety.load_program`).
- A hostile corpus: `validate` reports every hostile record and executes
  none; `show`, `coverage` and `--resume` create nothing. A genuine corpus
  validates clean; an edited record fails alone. `validate` says the same,
  in record order, with any number of workers, its progress on stderr.
"""
import json
import re
import shutil
import sys

import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.readers import visible
from jaxsynth.synth.safety import UnsafeProgram, load_program, parse_program
from test_errors import EXP, GRAMMAR, edited_grammar, fails, sample_with

def _sentinel(tmp_path):
    return tmp_path / "pwned"


# ---------------------------------------------------------------- hostile grammars

def _evil(literal):
    """The exp alternative with its function literal replaced."""
    return EXP.replace('"jnp.exp"', json.dumps(literal))


HOSTILE_LITERALS = {
    # id: (literal, what the message says)
    "issue-example": ("__import__('os').system('touch {s}') or jnp.exp", "private or dunder name '__import__'"),
    "builtin-eval": ("eval", "builtin"),
    "builtin-open": ("open('{s}', 'w') and jnp.exp", "string"),
    "builtin-exec": ("exec", "builtin"),
    "import": ("import os", "keyword 'import'"),
    "semicolon": ("jnp.exp; import os", "operator ';'"),
    "other-module": ("os.system", "dotted names start at"),
    "denied-io": ("jnp.save", "touches files"),
    "denied-module": ("jax.profiler.start_server", "module jax.profiler"),
    "jax-config": ("jax.config.update", "jax.config is not one"),
    "callback": ("jax.pure_callback", "jax.pure_callback is not one"),
    "dunder-attribute": ("jnp.exp.__globals__", "dunder"),
    "unknown-name": ("jnp.no_such_function", "no 'no_such_function' in jax.numpy"),
    "lambda-default": ("(lambda f=__builtins__: jnp.exp)()", "dunder"),
    "walrus": ("(e := jnp.exp)", "operator ':='"),
    "comment": ("jnp.exp #", "comment"),
    "unicode-lookalike": ("\uff45val", "only printable ASCII"),
    "escape-in-string": ('jnp.exp if "\\x41" else jnp.exp', "string"),
    "fstring": ('f"{jnp}"', "string"),
    "private-module": ("lax._src", "private"),
    "getattr": ("getattr", "builtin"),
    "module-as-value": ("[jax][0].interpreters.os.system('touch pwned') or jnp.exp", "a module only as the start"),
    "module-chain": ("jax.numpy.linalg", "a module is not a value"),
    "runtime-attribute": ("jnp.exp(jnp.zeros(1).device) or jnp.exp", "attribute 'device'"),
}


@pytest.mark.parametrize("literal, says", HOSTILE_LITERALS.values(), ids=HOSTILE_LITERALS.keys())
def test_hostile_grammar_literal_is_refused(capsys, tmp_path, monkeypatch, literal, says):
    monkeypatch.chdir(tmp_path)         # where `touch pwned` would write
    literal = literal.replace("{s}", str(_sentinel(tmp_path)))
    path, line = edited_grammar(tmp_path, EXP, _evil(literal))
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:{line}: alternative 'exp': "), msg
    assert says in msg, msg
    assert not _sentinel(tmp_path).exists() and not (tmp_path / "out").exists()


def test_bench_refuses_a_hostile_grammar(capsys, tmp_path):
    literal = HOSTILE_LITERALS["issue-example"][0].replace("{s}", str(_sentinel(tmp_path)))
    path, line = edited_grammar(tmp_path, EXP, _evil(literal))
    assert fails(capsys, ["bench", "-n", "2", "--grammar", path]).startswith(f"jaxsynth: error: {path}:{line}: ")
    assert not _sentinel(tmp_path).exists()


def test_names_split_over_literals_are_followed(capsys, tmp_path):
    """`"jnp" "." "save"` is `jnp.save`, however the literals cut it."""
    path, line = edited_grammar(tmp_path, EXP, EXP.replace('"jnp.exp"', '"jnp" "." "save"'))
    assert "touches files" in fails(capsys, sample_with(tmp_path, path))


def test_hostile_skeleton_literal_is_refused(capsys, tmp_path):
    """Rules of the program skeleton are checked too (located at their line)."""
    old = 'ret: "return" expr ("," expr)*'
    path, line = edited_grammar(tmp_path, old, old.replace('"return"', '"return __import__(\\"os\\") or"'))
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:{line}: rule 'ret': "), msg


IMPORTS = '_IMPORTS: "import jax" _WS "import jax.numpy as jnp" _WS "from jax import lax"'
HOSTILE_HEADERS = {
    # id: (the grammar's _IMPORTS line, what the message says)
    "other-module": (IMPORTS.replace('"from jax import lax"', '"import os"'), "header 'import os'"),
    "other-module-under-a-root's-name": (IMPORTS.replace('"from jax import lax"', '"import os as lax"'),
                                         "header 'import os as lax'"),
    "root-under-another-name": (IMPORTS.replace('"import jax.numpy as jnp"', '"import jax.numpy as np"'),
                                "header 'import jax.numpy as np'"),
    "two-statements": (IMPORTS.replace('"from jax import lax"', '"from jax import lax; import os"'),
                       "header 'from jax import lax; import os'"),
    "not-an-import": (IMPORTS.replace('"from jax import lax"', '"lax = jax.lax"'), "header 'lax = jax.lax'"),
    "alternatives": (IMPORTS.replace('"from jax import lax"', '("from jax import lax" | "import os")'),
                     "import statements as string literals"),
    "missing-root": (IMPORTS.replace(' _WS "from jax import lax"', ""), "the grammar's header does not import lax"),
}


@pytest.mark.parametrize("line, says", HOSTILE_HEADERS.values(), ids=HOSTILE_HEADERS.keys())
def test_a_header_importing_anything_else_is_refused(capsys, tmp_path, line, says):
    """A grammar's header (its _IMPORTS terminal) imports only what the
    vocabulary allows (`vocabulary.ROOTS`): a foreign grammar cannot widen
    what programs import. Refused at load with file:line, one line."""
    from jaxsynth.synth.grammar import GrammarError, load_grammar
    path, at = edited_grammar(tmp_path, IMPORTS, line)
    with pytest.raises(GrammarError) as e:
        load_grammar(path)
    if "does not import" in says:       # located at an alternative that uses what the header leaves out
        at = int(re.match(rf"{re.escape(str(path))}:(\d+): ", str(e.value)).group(1))
        assert '"lax.' in path.read_text().splitlines()[at - 1]
    assert str(e.value).startswith(f"{path}:{at}: ") and says in str(e.value) and "\n" not in str(e.value)
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg == f"jaxsynth: error: {e.value}"
    assert not (tmp_path / "out").exists()


def test_packaged_grammar_is_within_the_vocabulary(grammar):
    assert grammar.alts      # it loaded: every literal passed


# ---------------------------------------------------------------- program text

GOOD = '''import jax
import jax.numpy as jnp
from jax import lax


def f(x0):
    """f32[3] -> f32[3]"""
    v0 = jnp.exp(x0)
    return lax.fori_loop(0, 2, lambda i, c: c * v0, v0)
'''

HOSTILE_SOURCES = {
    "import-os": GOOD.replace("from jax import lax", "from jax import lax\nimport os"),
    "module-level-call": GOOD + "\nopen('{s}', 'w')\n",
    "dunder-import": GOOD.replace("jnp.exp(x0)", "__import__('os').system('touch {s}')"),
    "builtin": GOOD.replace("jnp.exp(x0)", "open('{s}', 'w')"),
    "attribute-walk": GOOD.replace("jnp.exp(x0)", "().__class__.__base__.__subclasses__()"),
    "globals-walk": GOOD.replace("jnp.exp(x0)", "jnp.exp.__globals__['os']"),
    "denied": GOOD.replace("jnp.exp(x0)", "jnp.save('{s}', x0)"),
    "other-module": GOOD.replace("jnp.exp(x0)", "jax.profiler.start_server(9999)"),
    "rebinding": GOOD.replace("v0 = jnp.exp(x0)", "jnp = x0\n    v0 = x0"),
    "decorator": GOOD.replace("def f", "@jax.jit\ndef f"),
    "default-arg": GOOD.replace("def f(x0)", "def f(x0, y=open)"),
    "lambda-default": GOOD.replace("lambda i, c:", "lambda i, c, o=open:"),
    "comprehension": GOOD.replace("jnp.exp(x0)", "[open for _ in x0]"),
    "fstring": GOOD.replace("jnp.exp(x0)", "f'{x0}'"),
    "lookalike": GOOD.replace("jnp.exp(x0)", "\uff45val('1')"),
    "star-args": GOOD.replace("jnp.exp(x0)", "jnp.exp(**x0)"),
    "import-alias-swap": GOOD.replace("import jax.numpy as jnp", "import os as jnp"),
    "huge": GOOD.replace("jnp.exp(x0)", "jnp.exp(x0)" + " + x0" * 30000),
    "deep": GOOD.replace("jnp.exp(x0)", "(" * 5000 + "x0" + ")" * 5000),
    "while-statement": GOOD.replace("    return", "    while True:\n        pass\n    return"),
    "module-in-a-list": GOOD.replace("jnp.exp(x0)", "[jax][0].interpreters.os.system('touch {s}')"),
    "module-aliased": GOOD.replace("v0 = jnp.exp(x0)", "m = jnp\n    v0 = m.save('{s}', x0)"),
    "module-as-argument": GOOD.replace("jnp.exp(x0)", "(lambda m: m.save('{s}', x0))(jnp)"),
    "runtime-attribute": GOOD.replace("jnp.exp(x0)", "x0.sharding.mesh"),
    "class-attribute-walk": GOOD.replace("jnp.exp(x0)", "jnp.character.tofile(jnp.uint8.dtype.type([1]), 'pwned')"),
    "primitive-attribute": GOOD.replace("jnp.exp(x0)", "lax.add_p.def_impl(lambda a, b: a)"),
    "jit-options": GOOD.replace("jnp.exp(x0)", "jax.jit(lambda x: x, compiler_options=None)(x0)"),
    "call-from-jax-frames": GOOD.replace("jnp.exp(x0)", "jax.named_call(jnp.exp, name='a')(x0)"),
}


def test_good_program_loads():
    assert callable(load_program(GOOD))


@pytest.mark.parametrize("source", HOSTILE_SOURCES.values(), ids=HOSTILE_SOURCES.keys())
def test_hostile_program_text_never_runs(tmp_path, source):
    source = source.replace("{s}", str(_sentinel(tmp_path)))
    with pytest.raises(UnsafeProgram):
        load_program(source)
    assert not _sentinel(tmp_path).exists()


@pytest.mark.parametrize("name", ["open", "eval", "exec", "getattr", "compile", "globals", "vars", "breakpoint",
                                  "__import__", "__builtins__"])
def test_the_text_check_refuses_a_builtin_by_name(name):
    """The program-text check itself refuses a name the program does not
    bind (the namespace without builtins behind it is a second wall, not the
    first): judged on the text alone, before anything is defined or run."""
    with pytest.raises(UnsafeProgram, match=rf"name '{name}'"):
        parse_program(GOOD.replace("jnp.exp(x0)", f"{name}('x')"))
    parse_program(GOOD)


def test_programs_run_without_builtins():
    """A name the check missed would still find nothing to call, and nothing
    new to import; what JAX's C code imports from the program's frame is
    there, even in a fresh process (numpy, ml_dtypes)."""
    import subprocess
    import sys
    fn = load_program(GOOD)
    assert set(fn.__globals__["__builtins__"]) == {"__import__"}
    assert set(fn.__globals__) - {"__builtins__", "__name__"} == {"jax", "jnp", "lax", "f"}
    with pytest.raises(ImportError):
        fn.__globals__["__builtins__"]["__import__"]("this_module_is_not_imported")
    fresh = ("import jax, jax.numpy as jnp\nfrom jaxsynth.synth.safety import load_program\n"
             f"f = load_program({GOOD!r})\n"
             "print(jax.jit(f).lower(jax.ShapeDtypeStruct((3,), jnp.bfloat16)).as_text()[:6])")
    done = subprocess.run([sys.executable, "-c", fresh], capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and done.stdout.startswith("module"), done.stderr[-2000:]


def test_filtered_terminals_must_be_strings(capsys, tmp_path):
    path = tmp_path / "g.lark"
    path.write_text(GRAMMAR.replace(EXP, EXP.replace('"jnp.exp"', "_FN")) + "\n_FN: /jnp\\.exp/\n")
    assert "terminal _FN is filtered out but not a plain string" in fails(capsys, sample_with(tmp_path, path))


def test_a_manifest_cannot_make_validation_slow(genuine, tmp_path, capsys):
    d = _copy(genuine / "c", tmp_path / "c")
    m = json.loads((d / "manifest.json").read_text())
    m["config"]["pools"]["floats"] = [f"{k}.5" for k in range(2000)]
    (d / "manifest.json").write_text(json.dumps(m))
    for command in ("validate", "show"):
        assert "config: pools.floats: not a list of at most 16" in fails(capsys, [command, d])


def test_visible_escapes_control_and_lookalikes():
    assert visible("a\x1b[2Jb\n\u202e\uff45") == "a\\x1b[2Jb\n\\u202e\\uff45"


# ---------------------------------------------------------------- corpora

@pytest.fixture(scope="module")
def genuine(tmp_path_factory):
    """A small corpus in both styles of printing, one mesh program likely."""
    d = tmp_path_factory.mktemp("genuine")
    assert main(["sample", "-n", "40", "--seed", "3", "--out", str(d / "c"), "--workers", "1"]) == 0
    assert main(["sample", "-n", "20", "--seed", "4", "--style", "nested", "--out", str(d / "n"),
                 "--workers", "1"]) == 0
    return d


def _snapshot(d):
    out = {}
    for p in sorted(d.rglob("*")):
        out[str(p.relative_to(d))] = p.read_bytes() if p.is_file() else "other"
    return out


def _copy(src, dst):
    shutil.copytree(src, dst)
    return dst


def _records(path):
    return [json.loads(l) for l in path.read_text().splitlines()]


def _write(path, records):
    path.write_text("".join(json.dumps(r) + "\n" for r in records))


def test_genuine_corpora_validate_clean(genuine, capsys):
    for name in ("c", "n"):
        assert main(["validate", str(genuine / name)]) == 0, capsys.readouterr()
        out = capsys.readouterr().out
        assert re.search(r"validated \d+ records: \d+ pass, 0 fail", out), out


def test_an_edited_record_fails_alone(genuine, tmp_path, capsys):
    d = _copy(genuine / "c", tmp_path / "c")
    shard = d / "records-00000.jsonl"
    records = _records(shard)
    records[7]["stablehlo"] = records[7]["stablehlo"].replace("stablehlo.", "stablehlo .", 1)
    _write(shard, records)
    msg = fails(capsys, ["validate", d])
    assert "1 of 40 records fail validation" in msg
    # (fails() read the output; run again to see the lines)
    main(["validate", str(d)])
    out = capsys.readouterr().out.splitlines()
    failing = [l for l in out if not l.startswith("validated")]
    assert len(failing) == 1 and records[7]["id"] in failing[0] and "stablehlo" in failing[0], out


def _hostile_records(genuine, sentinel):
    """(record, what it is) pairs: each must fail validation and never run."""
    base = _records(genuine / "c" / "records-00000.jsonl")
    r = base[0]
    head, body = r["python"].split("\n\n\n", 1)
    touch = f"open('{sentinel}', 'w')"

    def python(text, what):
        return {**r, "python": text, "id": what}, what
    doc_type = r["inputs"][0]
    lied = re.sub(r"\[[0-9,]*\]", "[7]", doc_type, count=1)
    out = [
        python(f"{head}\nimport os\nos.system('touch {sentinel}')\n\n\n{body}", "import-os"),
        python(r["python"] + f"\n{touch}\n", "module-level"),
        python(r["python"].replace("return ", f"return {touch} or ", 1), "builtin-call"),
        python(r["python"].replace("return ", f"return __import__('os').system('touch {sentinel}') or ", 1),
               "dunder-import"),
        python(r["python"].replace("return ", "return ().__class__.__base__.__subclasses__() or ", 1),
               "attribute-walk"),
        python(r["python"].replace("return ", "return \uff45val('1') or ", 1), "lookalike"),
        python(r["python"].replace("def f", "@jax.jit\ndef f", 1), "decorator"),
        python(r["python"] + " " * (10 << 20), "ten-megabytes"),
        python(r["python"].replace("return ", "return " + "jnp.exp(" * 3000 + "x0" + ")" * 3000 + " or ", 1),
               "deep-nesting"),
        python(r["python"].replace("return ", "return jnp.save('x', x0) or ", 1), "denied-name"),
        python(r["python"].replace('"""', '"""\' + open("x") + \'', 1), "docstring-escape"),
        python(r["python"].replace(doc_type, lied, 1), "docstring-lies"),
        ({**r, "inputs": [lied] + r["inputs"][1:], "id": "inputs-lie"}, "inputs-lie"),
        ({**r, "outputs": ["f32[9]"], "id": "outputs-lie"}, "outputs-lie"),
        ({**r, "stablehlo": r["stablehlo"].replace("func.func public @main", "func.func public @mian"),
          "id": "tampered-stablehlo"}, "tampered-stablehlo"),
        # without its attribution (a format 3 record), so that only lowering can tell
        ({**{k: v for k, v in r.items() if k != "attribution"}, "ops": [{"op": "stablehlo.custom_call", "count": 1}],
          "id": "tampered-ops"}, "tampered-ops"),
        # every op credited to the program as a whole: the counts add up, the owners are wrong
        ({**r, "attribution": [{"alternative": "(program)", "op": o["op"], "count": o["count"]} for o in r["ops"]],
          "id": "tampered-attribution"}, "tampered-attribution"),
        ({**r, "hash": "0" * 32, "id": "wrong-hash"}, "wrong-hash"),
        ({**r, "lowering": {"platform": "cpu", "symbolic": False, "shapes": "dims"}, "id": "lowering-lies"},
         "lowering-lies"),
        ({**r, "inputs": [1, 2], "id": "inputs-numbers"}, "inputs-numbers"),
        ({**r, "alternatives": [{"op": 1}], "id": "alternatives-objects"}, "alternatives-objects"),
        ({**r, "ops": [{"op": "stablehlo.add", "count": -3}], "id": "negative-count"}, "negative-count"),
        ({**r, "ops": [{"op": "stablehlo.add", "count": 10 ** 30}], "id": "huge-count"}, "huge-count"),
        ({**r, "id": "control\x1b[2J\x07chars", "python": r["python"] + "\x1b[2J"}, "control-chars"),
    ]
    return out


def test_hostile_corpus(genuine, tmp_path, capsys):
    """`validate` reports each hostile record; nothing validate, show,
    coverage or --resume do creates a file the records try to create."""
    sentinel = _sentinel(tmp_path)
    d = _copy(genuine / "c", tmp_path / "c")
    hostile = _hostile_records(genuine, sentinel)
    assert len(hostile) >= 20
    shard = d / "records-00000.jsonl"
    _write(shard, [r for r, _ in hostile])
    before = _snapshot(d)
    fails(capsys, ["validate", d])
    main(["validate", str(d)])
    out = capsys.readouterr().out
    schema = ("inputs-numbers", "alternatives-objects", "negative-count", "huge-count", "lowering-lies")
    lines = out.splitlines()
    assert sum(" ?: not a jaxsynth record (" in l for l in lines) == len(schema), out
    for r, what in hostile:
        if what not in schema:
            assert sum(f" {visible(r['id'])}: " in l for l in lines) == 1, (what, out)
    assert "\x1b" not in out
    assert f"{len(hostile)} fail" in out
    for argv in (["show", d, "-n", "50"], ["coverage", d],
                 ["sample", "-n", "40", "--seed", "3", "--out", d, "--workers", "1", "--resume"]):
        code = main([str(a) for a in argv])
        err = capsys.readouterr().err
        assert code in (0, 2) and "Traceback" not in err
        if argv[0] != "sample":
            assert _snapshot(d) == before
    assert not sentinel.exists()


def test_show_shows_the_whole_record_visibly(genuine, tmp_path, capsys):
    d = _copy(genuine / "c", tmp_path / "c")
    shard = d / "records-00000.jsonl"
    records = _records(shard)
    r, escaped = records[0], records[2]
    r["python"] = r["python"] + "\nprint('hidden at module level')\n"
    escaped["python"] = escaped["python"].replace("\"\"\"", "\"\"\"\x1b[2J", 1)
    _write(shard, records)
    assert main(["show", str(d), "--id", r["id"], "--stablehlo"]) == 0
    out = capsys.readouterr().out
    assert "import jax.numpy as jnp" in out and "print('hidden at module level')" in out
    assert "!! not derived by the grammar" in out
    assert "func.func public @main" in out
    assert main(["show", str(d), "--id", escaped["id"]]) == 0
    out = capsys.readouterr().out
    assert '"""\\x1b[2J' in out and "\x1b" not in out and "!! python: characters outside" in out
    assert main(["show", str(d), "--id", records[1]["id"]]) == 0
    assert "!!" not in capsys.readouterr().out
    assert "no record with id 'nosuch'" in fails(capsys, ["show", d, "--id", "nosuch"])


def test_validate_run_compares_eager_with_jit(genuine, capsys, monkeypatch):
    assert main(["validate", str(genuine / "n"), "--run"]) == 0, capsys.readouterr()
    assert re.search(r"\d+ pass, 0 fail", capsys.readouterr().out)
    from jaxsynth.corpus.run import validate as v
    from jaxsynth.synth.types import parse_signature
    types = parse_signature("f32[3]")
    assert v.compare_run(GOOD, types, b"seed") is None
    with pytest.raises(v.NotRun):
        v.compare_run(GOOD, types, b"seed", ["stablehlo.rng"])
    import jax
    jit = jax.jit
    monkeypatch.setattr(jax, "jit", lambda fn: (lambda *a: jit(fn)(*a) * 1.001))    # a compiler 0.1% off
    assert "differs between eager and jit by up to" in v.compare_run(GOOD, types, b"seed")


# ---------------------------------------------------------------- validate in parallel

@pytest.fixture(scope="module")
def sharded(tmp_path_factory):
    """A corpus of four record files with three records edited to fail: in
    the first file, one that lowering finds before one that derivation finds
    (derivation runs first), and one in the third file."""
    d = tmp_path_factory.mktemp("sharded") / "c"
    assert main(["sample", "-n", "24", "--seed", "3", "--shard-size", "6", "--out", str(d), "--workers", "1"]) == 0
    first, third = d / "records-00000.jsonl", d / "records-00002.jsonl"
    records = _records(first)
    records[1]["stablehlo"] = records[1]["stablehlo"].replace("stablehlo.", "stablehlo .", 1)
    records[4]["python"] += "\nimport os\n"
    _write(first, records)
    records = _records(third)
    records[0]["hash"] = "0" * 32
    _write(third, records)
    return d


def _processes_started(monkeypatch):
    """The worker counts validate starts process pools for, as they start."""
    from jaxsynth.corpus.run import validate as v
    asked, real = [], v.executor
    monkeypatch.setattr(v, "executor", lambda workers: (workers > 1 and asked.append(workers)) or real(workers))
    return asked


def test_validate_says_the_same_with_any_number_of_workers(sharded, genuine, capsys, monkeypatch):
    asked = _processes_started(monkeypatch)
    said = []
    for workers in ("1", "2"):
        code = main(["validate", str(sharded), "--workers", workers])
        out, err = capsys.readouterr()
        said.append((code, out, err.splitlines()[-1]))
    assert asked == [2], "--workers 2 checks files in a second process"
    assert said[0] == said[1]
    code, out, error = said[0]
    assert code == 2 and error == f"jaxsynth: error: {sharded}: 3 of 24 records fail validation"
    lines = out.splitlines()
    first, third = sharded / "records-00000.jsonl", sharded / "records-00002.jsonl"
    assert [line.split(" ", 1)[0] for line in lines[:-1]] == [f"{first}:2", f"{first}:5", f"{third}:1"], out
    assert "stablehlo is not" in lines[0] and "not derived" in lines[1] and "hash is not" in lines[2]
    assert lines[-1].startswith("validated 24 records: 21 pass, 3 fail")
    assert main(["validate", str(genuine / "c"), "--workers", "4"]) == 0
    assert asked == [2], "one file: no other process"


def test_validate_shows_progress_on_stderr(sharded, capsys, monkeypatch):
    """A line every few seconds off a terminal, a bar on one; stdout holds the
    failures and the summary alone, the same either way."""
    from jaxsynth.corpus.cli import progress
    monkeypatch.setattr(progress.Ticker, "EVERY", 0.001)
    main(["validate", str(sharded), "--workers", "1"])
    plain = capsys.readouterr()
    assert re.search(r"validate: \d+/24 records", plain.err), plain.err[-2000:]
    monkeypatch.setattr(sys.stderr, "isatty", lambda: True)
    main(["validate", str(sharded), "--workers", "1"])
    bar = capsys.readouterr()
    assert "24/24" in bar.err and bar.out == plain.out
    assert "/24 records" not in plain.out and len(plain.out.splitlines()) == 4


def test_validate_interrupted_stops_its_workers(sharded, capsys, monkeypatch):
    """Ctrl-C while this process checks its second file: exit 130 with one
    line, and the worker ended."""
    import multiprocessing
    import multiprocessing.connection
    from jaxsynth.corpus.run import executors
    asked = _processes_started(monkeypatch)
    before = set(multiprocessing.active_children())
    checked, real = [], executors.Deferred.result

    def result(here):
        if checked:
            raise KeyboardInterrupt
        checked.append(here)
        return real(here)
    monkeypatch.setattr(executors.Deferred, "result", result)
    assert main(["validate", str(sharded), "--workers", "2"]) == 130
    out, err = capsys.readouterr()
    assert err.splitlines()[-1] == "jaxsynth: interrupted" and "Traceback" not in err
    assert "validated" not in out and asked == [2]
    for worker in set(multiprocessing.active_children()) - before:      # those not yet reaped
        assert multiprocessing.connection.wait([worker.sentinel], timeout=30), "the worker ends"
