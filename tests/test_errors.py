"""Bad input never ends in a traceback: `jaxsynth` exits with code 2 and prints
exactly one stderr line, `jaxsynth: error: PLACE: what`, where PLACE is the
grammar file and line, the weights file and line, the offending option, the
corpus record or the file given. A corpus already on disk is never touched.

Malformed grammars are copies of the packaged `jax.lark` with one line edited;
the expected line number is computed from the edited text.
"""
import json
import os
import re
import sys

import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.grammar import GRAMMAR_PATH

GRAMMAR = GRAMMAR_PATH.read_text()


def _op_line(alias):
    """The grammar line that defines operation `alias` (not the header example)."""
    lines = [l for l in GRAMMAR.splitlines()
             if not l.lstrip().startswith("//") and re.search(rf"->\s*{alias}\s*//@", l)]
    assert len(lines) == 1, alias
    return lines[0]


EXP = _op_line("exp")      # | "jnp.exp" "(" expr ")" -> exp   //@ unary(float) w=2
LOG = _op_line("log")


def fails(capsys, argv):
    """Run the CLI; assert exit code 2 and one `jaxsynth: error: ` line; return that line."""
    code = main([str(a) for a in argv])
    err = capsys.readouterr().err
    assert "Traceback" not in err
    assert code == 2, err
    assert err.endswith("\n") and err.count("\n") == 1, f"not exactly one line:\n{err}"
    assert err.startswith("jaxsynth: error: "), err
    return err.rstrip("\n")


def edited_grammar(tmp_path, old, new):
    """Copy the grammar with line `old` replaced by `new`: (path, line number of the edit)."""
    assert GRAMMAR.count(old) == 1 and new != old
    edited = GRAMMAR.replace(old, new)
    line = edited[:GRAMMAR.index(old)].count("\n") + 1
    assert edited.splitlines()[line - 1] == new
    path = tmp_path / "bad.lark"
    path.write_text(edited)
    return path, line


def sample_with(tmp_path, grammar):
    """Arguments that fail while loading the grammar, before anything is lowered."""
    return ["sample", "-n", "1", "--grammar", grammar, "--out", tmp_path / "out"]


# ---------------------------------------------------------------- grammar

GRAMMAR_CASES = {
    # id: (line to edit, edited line, what the message says)
    "unknown-rule": (EXP, EXP.replace("unary(float)", "nosuchrule(float)"), "unknown type rule 'nosuchrule'"),
    "too-many-args": (EXP, EXP.replace("unary(float)", "unary(float, int)"), "takes 1 argument(s)"),
    "no-args": (EXP, EXP.replace("unary(float)", "unary"), "takes 1 argument(s)"),
    "unknown-domain": (EXP, EXP.replace("unary(float)", "unary(complex128)"), "unknown domain 'complex128'"),
    "weight-zero": (EXP, EXP.replace("w=2", "w=0"), "weight must be a positive number"),
    "weight-negative": (EXP, EXP.replace("w=2", "w=-1"), "weight must be a positive number"),
    "weight-not-a-number": (EXP, EXP.replace("w=2", "w=abc"), "weight must be a positive number"),
    "weight-inf": (EXP, EXP.replace("w=2", "w=inf"), "weight must be a positive number"),
    "malformed-annotation": (EXP, EXP.replace("unary(float)", "unary(float"), "malformed annotation"),
    "unknown-flag": (EXP, EXP.replace("w=2", "w=2 extra"), "unknown flag 'extra'"),
    "alias-without-annotation": (EXP, EXP.split("//@")[0].rstrip(), "has no //@ annotation"),
    "annotation-without-alias": (EXP, re.sub(r"->\s*exp", "", EXP), "without an alias"),
    "shape-does-not-fit-rule": (EXP, EXP.replace("unary(float)", "binary(float)"), "needs slots 'ee'"),
    "duplicate-alias": (LOG, re.sub(r"->\s*log\b", "-> exp", LOG), "'exp' is defined twice"),
}


@pytest.mark.parametrize("old, new, says", GRAMMAR_CASES.values(), ids=GRAMMAR_CASES.keys())
def test_grammar_error_names_file_and_line(capsys, tmp_path, old, new, says):
    path, line = edited_grammar(tmp_path, old, new)
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:{line}: "), msg
    assert says in msg
    assert not (tmp_path / "out").exists()


def test_lark_syntax_error_is_one_line_naming_the_file(capsys, tmp_path):
    path, _ = edited_grammar(tmp_path, EXP, EXP.replace('"(" expr', '"(" (expr'))   # unclosed (
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:"), msg


def test_lark_syntax_error_names_its_line(capsys, tmp_path):
    # a stray ")" is detected on the edited line itself (Lark reports it there)
    path, line = edited_grammar(tmp_path, EXP, EXP.replace('")" ->', '")") ->'))
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:{line}: "), msg


def test_lark_undefined_rule_names_its_line(capsys, tmp_path):
    path, line = edited_grammar(tmp_path, EXP, EXP.replace('expr ")"', 'nosuchsymbol ")"'))
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:{line}: "), msg
    assert "nosuchsymbol" in msg


def test_missing_grammar_file(capsys, tmp_path):
    path = tmp_path / "nosuch.lark"
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}: "), msg


# ---------------------------------------------------------------- options

OPTION_CASES = {
    # id: (arguments, the option or argument the message must name)
    "weight-unknown-alt": (["sample", "--weight", "nosuch=2"], "--weight nosuch=2"),
    "weight-not-a-number": (["sample", "--weight", "exp=abc"], "--weight exp=abc"),
    "weight-negative": (["sample", "--weight", "exp=-1"], "--weight exp=-1"),
    "weight-without-eq": (["sample", "--weight", "exp"], "--weight exp"),
    "inputs-bad-dtype": (["sample", "--inputs", "f33[4]"], "--inputs"),
    "inputs-unclosed": (["sample", "--inputs", "f32[4"], "--inputs"),
    "inputs-zero-dim": (["sample", "--inputs", "f32[0]"], "--inputs"),
    "n-zero": (["sample", "-n", "0"], "-n"),
    "n-not-a-number": (["sample", "-n", "abc"], "-n"),
    "seed-negative": (["sample", "--seed", "-1"], "--seed"),
    "dims-bad": (["sample", "--dims", "1,x"], "--dims"),
    "index-out-of-range": (["enumerate", "--max-ops", "1", "--inputs", "f32[2]", "--index", "999999999"],
                           "--index 999999999"),
    "enumerate-without-inputs": (["enumerate", "--max-ops", "1"], "--inputs"),
    "unknown-subcommand": (["nosuchcommand"], "'nosuchcommand'"),
    "platform-unknown": (["sample", "--platform", "gpu"], "--platform"),
    "platform-unknown-enumerate": (["enumerate", "--max-ops", "1", "--inputs", "f32[2]", "--platform", "gpu"],
                                   "--platform"),
    "platform-unknown-extract": (["extract", "prog.py:f", "--inputs", "f32[2]", "--platform", "gpu"], "--platform"),
    "symbolic-takes-no-value": (["sample", "--symbolic=yes"], "--symbolic"),
    "inputs-beyond-bounds": (["sample", "--inputs", "f32[99999999999999999999]"], "--inputs"),
    "inputs-too-many-elements": (["sample", "--inputs", "f32[100000,100000]"], "--inputs"),
    "dims-beyond-bound": (["sample", "--dims", "2,3000000000"], "--dims"),
    "show-unknown-id": (["show", "nosuchdir", "--id", "x"], "nosuchdir"),
    "validate-no-corpus": (["validate", "nosuchdir"], "nosuchdir"),
}


@pytest.mark.parametrize("argv, names", OPTION_CASES.values(), ids=OPTION_CASES.keys())
def test_bad_option_names_the_option(capsys, tmp_path, argv, names):
    out = tmp_path / "out"
    if argv[0] in ("sample", "enumerate"):
        argv = [*argv, "--out", out]
    msg = fails(capsys, argv)
    assert names in msg
    assert not out.exists()


# ---------------------------------------------------------------- weights file

@pytest.mark.parametrize("bad", ["nosuch = 2", "exp 3", "log = abc"],
                         ids=["unknown-alternative", "no-equals", "bad-weight"])
def test_weights_file_error_names_file_and_line(capsys, tmp_path, bad):
    weights = tmp_path / "weights.txt"
    weights.write_text(f"# my weights\nexp = 3\n{bad}\nsin = 1\n")
    msg = fails(capsys, ["sample", "-n", "1", "--weights", weights, "--out", tmp_path / "out"])
    assert msg.startswith(f"jaxsynth: error: {weights}:3: "), msg


def test_missing_weights_file(capsys, tmp_path):
    weights = tmp_path / "nosuch.txt"
    msg = fails(capsys, ["sample", "-n", "1", "--weights", weights, "--out", tmp_path / "out"])
    assert msg.startswith(f"jaxsynth: error: {weights}: "), msg


# ---------------------------------------------------------------- corpus directories

RECORD = {"id": "0000000", "python": "def f(x):\n    return x\n", "inputs": ["f32[2]"], "outputs": ["f32[2]"],
          "stablehlo": "module {}", "ops": [{"op": "func.return", "count": 1}], "alternatives": [],
          "size": 1, "depth": 1, "hash": "0" * 32}


def test_coverage_of_a_dir_without_records(capsys, tmp_path):
    msg = fails(capsys, ["coverage", tmp_path])
    assert msg.startswith(f"jaxsynth: error: {tmp_path}: "), msg


@pytest.mark.parametrize("command", ["coverage", "show"])
@pytest.mark.parametrize("line2", ['{"ops": [', "[1, 2]"], ids=["not-json", "not-a-record"])
def test_malformed_record_names_file_and_line(capsys, tmp_path, command, line2):
    (tmp_path / "records-00000.jsonl").write_text(json.dumps(RECORD) + "\n" + line2 + "\n")
    msg = fails(capsys, [command, tmp_path])
    assert msg.startswith(f"jaxsynth: error: {tmp_path / 'records-00000.jsonl'}:2: "), msg


@pytest.mark.parametrize("command", ["coverage", "show"])
@pytest.mark.parametrize("line2", [{"ops": []}, {**RECORD, "ops": 5}, {**RECORD, "lowering": "tpu"}],
                         ids=["fields-missing", "ops-not-a-list", "lowering-not-an-object"])
def test_incomplete_record_names_file_and_line(capsys, tmp_path, command, line2):
    (tmp_path / "records-00000.jsonl").write_text(json.dumps(RECORD) + "\n" + json.dumps(line2) + "\n")
    msg = fails(capsys, [command, tmp_path])
    assert msg.startswith(f"jaxsynth: error: {tmp_path / 'records-00000.jsonl'}:2: "), msg


def test_existing_corpus_is_never_touched(capsys, tmp_path):
    out = tmp_path / "corpus"
    argv = ["sample", "-n", "3", "--seed", "1", "--workers", "1", "--out", out]
    assert main([str(a) for a in argv]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}
    assert set(before) == {"records-00000.jsonl", "manifest.json", "README.md"}
    for again in (argv, ["enumerate", "--max-ops", "1", "--inputs", "f32[2]", "--out", out]):
        msg = fails(capsys, again)
        assert msg.startswith(f"jaxsynth: error: {out}: "), msg
        assert {p.name: p.read_bytes() for p in out.iterdir()} == before


# ---------------------------------------------------------------- extract

F_PY = "import jax.numpy as jnp\n\n\ndef f(x):\n    return jnp.reshape(x, (3,))\n"


def test_extract_missing_file(capsys, tmp_path):
    path = tmp_path / "nofile.py"
    msg = fails(capsys, ["extract", f"{path}:f", "--inputs", "f32[2]"])
    assert msg.startswith(f"jaxsynth: error: {path}: "), msg


def test_extract_missing_function(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(F_PY)
    msg = fails(capsys, ["extract", f"{path}:missing", "--inputs", "f32[2]"])
    assert msg.startswith(f"jaxsynth: error: {path}: ") and "'missing'" in msg, msg


def test_extract_function_that_does_not_lower(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(F_PY)                     # reshape of f32[2] to (3,) cannot type-check
    msg = fails(capsys, ["extract", f"{path}:f", "--inputs", "f32[2]"])
    assert msg.startswith(f"jaxsynth: error: {path}:f: "), msg
    assert "reshape" in msg


def test_extract_bad_target_and_signature(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text(F_PY)
    assert "FILE.py:FUNC" in fails(capsys, ["extract", path, "--inputs", "f32[2]"])
    assert "--inputs" in fails(capsys, ["extract", f"{path}:f", "--inputs", "f32[2"])


def test_extract_file_whose_error_spans_lines(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_text('raise RuntimeError("first line\\nsecond line")\n')
    msg = fails(capsys, ["extract", f"{path}:f", "--inputs", "f32[2]"])
    assert msg.startswith(f"jaxsynth: error: {path}: "), msg


# ---------------------------------------------------------------- files that are not text

NOT_UTF8 = b"\xff\xfe\x00 not utf-8\n"


def test_grammar_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "bad.lark"
    path.write_bytes(NOT_UTF8)
    msg = fails(capsys, sample_with(tmp_path, path))
    assert msg.startswith(f"jaxsynth: error: {path}:"), msg


def test_weights_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "weights.txt"
    path.write_bytes(NOT_UTF8)
    msg = fails(capsys, ["sample", "-n", "1", "--weights", path, "--out", tmp_path / "out"])
    assert msg.startswith(f"jaxsynth: error: {path}:"), msg


def test_extract_file_not_utf8(capsys, tmp_path):
    path = tmp_path / "prog.py"
    path.write_bytes(NOT_UTF8)
    msg = fails(capsys, ["extract", f"{path}:f", "--inputs", "f32[2]"])
    assert msg.startswith(f"jaxsynth: error: {path}:"), msg


def test_records_not_utf8(capsys, tmp_path):
    (tmp_path / "records-00000.jsonl").write_bytes(json.dumps(RECORD).encode() + b"\n" + NOT_UTF8)
    msg = fails(capsys, ["coverage", tmp_path])
    assert msg.startswith(f"jaxsynth: error: {tmp_path / 'records-00000.jsonl'}:2: "), msg


def test_sample_gives_up_when_the_grammar_runs_dry(capsys, tmp_path, grammar):
    weights = tmp_path / "w.txt"
    weights.write_text("".join(f"{a.name} = {1 if a.name == 'logical_not' else 0}\n" for a in grammar.alts))
    out = tmp_path / "out"
    msg = fails(capsys, ["sample", "-n", "5", "--inputs", "bool[]", "--max-ops", "1", "--weights", weights,
                         "--shard-size", "5", "--workers", "1", "--out", out])
    assert msg.startswith(f"jaxsynth: error: {out}: no new program in the last 100 draws (1 distinct so far)"), msg


def test_unwritable_out_is_one_line(capsys):
    msg = fails(capsys, ["sample", "-n", "1", "--workers", "1", "--out", "/proc/self/corpus"])
    assert msg.startswith("jaxsynth: error: /proc/self/corpus: cannot create"), msg


def test_out_that_holds_other_files_is_refused(capsys, tmp_path):
    """A folder of other things is not made a corpus among them (reading it
    back would fail); an empty one is fine, and nothing is written either way."""
    (tmp_path / "notes.txt").write_text("mine\n")
    msg = fails(capsys, ["sample", "-n", "3", "--workers", "1", "--out", tmp_path])
    assert msg == f"jaxsynth: error: {tmp_path}: not empty and not a corpus (no manifest.json); choose a new or " \
                  f"empty --out", msg
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    (tmp_path / "empty").mkdir()
    assert main(["sample", "-n", "3", "--workers", "1", "--out", str(tmp_path / "empty")]) == 0


def test_resume_of_nothing_is_refused(capsys, tmp_path):
    for out in (tmp_path / "absent", tmp_path):
        msg = fails(capsys, ["sample", "-n", "3", "--workers", "1", "--out", out, "--resume"])
        assert msg == f"jaxsynth: error: --resume {out}: no corpus to finish there (no manifest.json); leave out " \
                      f"--resume to start one", msg
    assert not (tmp_path / "absent").exists() and not any(tmp_path.iterdir())


# ---------------------------------------------------------------- edges

def test_huge_and_tiny_weights_work(capsys, tmp_path):
    for w in ("1e308", "1e-300"):
        out = tmp_path / w
        assert main(["sample", "-n", "5", "--weight", f"exp={w}", "--weight", f"log={w}", "--workers", "1",
                     "--out", str(out)]) == 0, capsys.readouterr().err
        assert json.loads((out / "manifest.json").read_text())["weights"]["exp"] == float(w)


def test_shards_follow_the_run(capsys, tmp_path):
    """No more programs in a shard than the run needs, fewer for big programs."""
    from jaxsynth.corpus.cli.jobs import shard_size_of
    from jaxsynth.corpus.cli.options import build_parser
    out = tmp_path / "few"
    assert main(["sample", "-n", "5", "--workers", "1", "--out", str(out)]) == 0
    assert json.loads((out / "manifest.json").read_text())["shard_size"] == 5
    args = build_parser().parse_args(["sample", "-n", "5", "--max-ops", "1000", "--out", str(tmp_path / "big")])
    assert shard_size_of(args, 5) == 2
    args = build_parser().parse_args(["sample", "-n", "5", "--out", str(out), "--resume"])
    assert shard_size_of(args, 5) == 5          # a resumed run keeps its own


def test_resume_knows_the_grammar_by_its_content(capsys, tmp_path, monkeypatch):
    grammar = tmp_path / "g.lark"
    grammar.write_text(GRAMMAR)
    out = tmp_path / "c"
    argv = ["sample", "-n", "4", "--seed", "2", "--workers", "1", "--out", str(out)]
    assert main(argv + ["--grammar", str(grammar)]) == 0
    capsys.readouterr()
    monkeypatch.chdir(tmp_path)
    assert main(argv + ["--grammar", "g.lark", "--resume"]) == 0
    assert "wrote 4 records (4 kept from before)" in capsys.readouterr().out
    grammar.write_text(GRAMMAR.replace("w=2", "w=3", 1))
    assert "differs in: grammar_sha256" in fails(capsys, argv + ["--grammar", "g.lark", "--resume"])


def test_counting_shows_progress(capsys, monkeypatch):
    from jaxsynth.corpus.cli import progress
    monkeypatch.setattr(progress.Ticker, "EVERY", 0.001)
    assert main(["enumerate", "--count", "--max-ops", "2", "--inputs", "f32[2]", "--dims", "2"]) == 0
    captured = capsys.readouterr()
    assert "counting programs of size" in captured.err and "size 2: " in captured.out


@pytest.mark.parametrize("command", ["coverage", "show", "report"])
def test_a_cut_shard_names_the_command_that_repairs_it(capsys, tmp_path, command):
    """A shard cut short (a run killed mid-write by something other than
    jaxsynth, a copy interrupted) is refused by the readers with the line
    and the command that makes it again; that command does."""
    out = tmp_path / "c"
    assert main(["sample", "-n", "12", "--seed", "2", "--shard-size", "6", "--workers", "1", "--out", str(out)]) == 0
    shard = out / "records-00001.jsonl"
    whole = shard.read_bytes()
    shard.write_bytes(whole[:len(whole) // 2])
    capsys.readouterr()
    argv = [command, out] + {"report": ["--html", tmp_path / "r.html"], "show": ["-n", "50"]}.get(command, [])
    msg = fails(capsys, argv)
    repair = f"jaxsynth sample -n 12 --seed 2 --shard-size 6 --out {out} --resume"
    assert msg.startswith(f"jaxsynth: error: {shard}:"), msg
    assert msg.endswith(f"the shard is not what its manifest's checksum says (a run cut short, or a changed file); "
                        f"to make it again: {repair}"), msg
    assert main(repair.split()[1:]) == 0 and shard.read_bytes() == whole


def test_a_shard_cut_at_a_line_end_is_refused_once_read(capsys, tmp_path):
    out = tmp_path / "c"
    assert main(["sample", "-n", "12", "--seed", "2", "--shard-size", "6", "--workers", "1", "--out", str(out)]) == 0
    shard = out / "records-00000.jsonl"
    shard.write_bytes(b"".join(shard.read_bytes().splitlines(keepends=True)[:4]))
    capsys.readouterr()
    msg = fails(capsys, ["coverage", out])
    assert msg == f"jaxsynth: error: {shard}: 4 of the 6 records its manifest lists (a run cut short, or a " \
                  f"changed file); to make it again: jaxsynth sample -n 12 --seed 2 --shard-size 6 --out {out} --resume", msg


def test_a_record_of_a_whole_shard_that_breaks_the_schema_has_no_repair(capsys, tmp_path):
    (tmp_path / "records-00000.jsonl").write_text(json.dumps(RECORD) + "\n[1, 2]\n")
    assert "--resume" not in fails(capsys, ["coverage", tmp_path])


def test_workers_beyond_the_cores_are_capped_with_a_warning(capsys, tmp_path, monkeypatch):
    from jaxsynth.corpus.cli import jobs
    made = []
    real = jobs.executor
    monkeypatch.setattr(jobs, "executor", lambda workers, *a: made.append(workers) or real(workers, *a))
    monkeypatch.setattr(jobs, "cores", lambda: 1)
    argv = ["sample", "-n", "8", "--shard-size", "2", "--workers", "64", "--out", str(tmp_path / "c")]
    assert main(argv) == 0
    assert made == [1]
    assert "jaxsynth: warning: --workers 64: this machine has 1 cores; using 1\n" in capsys.readouterr().err


def test_an_extra_is_installed_the_way_jaxsynth_was(monkeypatch, tmp_path):
    """From a checkout (pip install -e) by its folder; else by name."""
    from importlib import metadata

    from jaxsynth.corpus.run.install import install_hint

    class Dist:
        def __init__(self, record):
            self.record = record

        def read_text(self, name):
            return self.record if name == "direct_url.json" else None

    where, pip = tmp_path / "my clone", f"{sys.executable} -m pip"      # this environment's pip
    cases = {json.dumps({"url": where.as_uri(), "dir_info": {"editable": True}}): f'{pip} install -e "{where}[report]"',
             json.dumps({"url": "https://x/jaxsynth-0.1.0.whl", "archive_info": {}}): f'{pip} install "jaxsynth[report]"',
             None: f'{pip} install "jaxsynth[report]"'}
    for record, hint in cases.items():
        monkeypatch.setattr(metadata, "distributions", lambda name=None, r=record: [Dist(r)])
        assert install_hint("report") == hint


def test_a_count_estimated_to_take_too_long_is_refused_before_it_starts(monkeypatch, capsys):
    """Counting a size costs a growing multiple of the size before: a size
    estimated beyond --time-limit is not started; the sizes before it are
    printed, and the error says what the estimate is and how to go on."""
    from jaxsynth.corpus.cli import options, progress
    clock = [0.0]
    cost = {1: 0.01, 2: 0.5, 3: 30.0, 4: 2000.0}     # seconds counting each size takes

    class Enum:
        started = []

        def count(self, k):
            self.started.append(k)
            clock[0] += cost[k]
            return 10 ** k

    monkeypatch.setattr(progress.time, "perf_counter", lambda: clock[0])
    enum = Enum()
    printed = []
    with pytest.raises(options.UsageError) as e:
        progress.count_sizes(enum, 50, 120, lambda k, c: printed.append((k, c)))
    assert enum.started == [1, 2, 3] and printed == [(1, 10), (2, 100), (3, 1000)]
    assert str(e.value) == ("--max-ops 50: counting size 4 would take 30 min or more (size 3: 30.0 s, 60x size 2), "
                            "more than --time-limit 120; counted up to size 3: --max-ops 3, or --time-limit 0 to "
                            "count anyway")
    assert progress.count_sizes(Enum(), 4, 0) == [10, 100, 1000, 10000]


def test_enumerate_refuses_a_count_beyond_its_time_limit(capsys):
    msg = fails(capsys, ["enumerate", "--max-ops", "9", "--inputs", "f32[2]", "--dims", "2", "--count",
                         "--time-limit", "0.000001"])
    assert msg.startswith("jaxsynth: error: --max-ops 9: counting size 3 would take "), msg


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")     # the one Python swallows
def test_a_ctrl_c_python_swallows_still_ends_the_command(capsys, monkeypatch):
    """Python drops a KeyboardInterrupt raised inside a __del__ or a gc
    callback; the Ctrl-C is remembered, so the command still exits 130."""
    import signal

    from jaxsynth.corpus.cli import commands

    class Finalized:
        def __del__(self):
            signal.raise_signal(signal.SIGINT)      # Python prints "Exception ignored" and goes on

    def command(args):
        Finalized()
        print("finished")
    monkeypatch.setitem(commands.COMMANDS, "show", command)
    assert main(["show", "anything"]) == 130
    out, err = capsys.readouterr()
    assert out == "finished\n" and err.splitlines()[-1] == "jaxsynth: interrupted"
    assert signal.getsignal(signal.SIGINT) is signal.default_int_handler     # as it was before the command
