"""`jaxsynth --help` and usage errors answer without importing JAX, whose
import alone takes seconds: each case runs `main` in a fresh interpreter and
looks at what it imported."""
import json
import subprocess
import sys

import pytest

PROBE = """
import contextlib, io, json, sys
from jaxsynth.corpus.cli import main
out, err = io.StringIO(), io.StringIO()
with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
    try:
        code = main(sys.argv[1:])
    except SystemExit as e:         # argparse's --help
        code = e.code
jax = sorted(m for m in sys.modules if m.split(".")[0] in ("jax", "jaxlib"))
print(json.dumps({"code": code, "out": out.getvalue(), "err": err.getvalue(), "jax": jax}))
"""


def run(argv, cwd):
    done = subprocess.run([sys.executable, "-c", PROBE, *argv], cwd=cwd, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout)


@pytest.mark.parametrize("argv", [["--help"], ["sample", "--help"], ["enumerate", "--help"]],
                         ids=" ".join)
def test_help_does_not_import_jax(tmp_path, argv):
    r = run(argv, tmp_path)
    assert r["code"] == 0, r["err"]
    assert r["out"].startswith("usage: jaxsynth")
    assert r["jax"] == []


USAGE_ERRORS = {
    "unknown-option": ["sample", "--nosuch"],
    "workers-zero": ["sample", "--workers", "0"],
    "shard-out-of-range": ["enumerate", "--max-ops", "2", "--shard", "3/2"],
    "missing-required": ["enumerate", "--inputs", "f32[2]"],
    "bad-signature": ["sample", "--inputs", "f32[4"],
    "enumerate-without-inputs": ["enumerate", "--max-ops", "2"],
    "weight-without-eq": ["sample", "--weight", "exp"],
    "cache-not-a-directory": ["sample", "--cache", "/dev/null"],
    "unknown-subcommand": ["nosuchcommand"],
}


@pytest.mark.parametrize("argv", USAGE_ERRORS.values(), ids=USAGE_ERRORS.keys())
def test_usage_error_does_not_import_jax(tmp_path, argv):
    r = run(argv, tmp_path)
    assert r["code"] == 2
    assert r["err"].startswith("jaxsynth: error: ") and r["err"].count("\n") == 1, r["err"]
    assert r["jax"] == []
    assert list(tmp_path.iterdir()) == []       # nothing written


def test_version_and_bare_command_answer_without_jax(tmp_path):
    from importlib import metadata
    r = run(["--version"], tmp_path)
    assert r["code"] == 0 and r["jax"] == []
    assert r["out"] == f"jaxsynth {metadata.version('jaxsynth')} (jax {metadata.version('jax')}, " \
                       f"jaxlib {metadata.version('jaxlib')})\n"
    r = run([], tmp_path)       # what there is to do, not a one-line complaint
    assert r["code"] == 2 and r["jax"] == [] and r["out"] == ""
    assert r["err"].startswith("usage: jaxsynth") and "sample" in r["err"] and "COMMAND --help" in r["err"]


def test_python_dash_m_runs_the_command(tmp_path):
    done = subprocess.run([sys.executable, "-m", "jaxsynth", "sample", "--nosuch"], cwd=tmp_path,
                          capture_output=True, text=True, timeout=120)
    assert (done.returncode, done.stdout) == (2, "")
    assert done.stderr == "jaxsynth: error: unrecognized arguments: --nosuch\n"


def test_every_option_says_what_it_does():
    import argparse

    from jaxsynth.corpus.cli.options import build_parser
    commands = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction)).choices
    silent = [f"{name} {a.option_strings[0] if a.option_strings else a.dest}"
              for name, parser in commands.items() for a in parser._actions if not a.help]
    assert silent == []
    assert "sampled" not in commands["extract"].format_help() and "batch" not in commands["extract"].format_help()
