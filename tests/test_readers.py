"""Readers never crash: `coverage`, `show`, `validate` and `--resume` fed a
corpus mutated at random (valid JSON of the wrong types, missing and extra
fields, huge and negative numbers, truncations, invalid UTF-8, stray files,
FIFOs, missing shards, integers too long to convert) end with exit 0 or 2
and no traceback, and the first three write nothing into the corpus (nor
does `--resume` when it refuses).

Every example runs under an alarm: a reader that blocks (on a FIFO, say)
fails the test instead of hanging it. 500 examples (about a minute).
"""
import json
import os
import shutil
import signal
import tempfile
from pathlib import Path

import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from jaxsynth.corpus.cli import main

N, SHARD, SEED = 6, 3, 1
RESUME = ["sample", "-n", str(N), "--seed", str(SEED), "--shard-size", str(SHARD), "--workers", "1"]
EXAMPLES = 500

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-10 ** 30, 10 ** 30) | st.sampled_from([0, -1, 1, 2 ** 63])
    | st.floats(allow_nan=False) | st.text(max_size=12),
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


@pytest.fixture(scope="module")
def tiny(tmp_path_factory):
    out = tmp_path_factory.mktemp("tiny") / "c"
    assert main(RESUME + ["--out", str(out)]) == 0
    return out


def _paths(value, prefix=()):
    """Every path into a JSON value (keys and list positions), the value's own included."""
    yield prefix
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _paths(v, prefix + (k,))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _paths(v, prefix + (i,))


def _edit(value, path, how, new):
    if not path:
        return new if how == "set" else value
    parent = value
    for step in path[:-1]:
        parent = parent[step]
    last = path[-1]
    if how == "set":
        parent[last] = new
    elif how == "delete":
        del parent[last]
    elif how == "add" and isinstance(parent, dict):
        parent[f"extra{len(parent)}"] = new
    return value


def _mutate_json(data: bytes, pick: int, how: str, new, line: int | None) -> bytes:
    lines = data.decode("utf-8").splitlines(keepends=True) if line is not None else [data.decode("utf-8")]
    if not lines:
        return data
    k = (line or 0) % len(lines)
    value = json.loads(lines[k])
    paths = list(_paths(value))
    path = paths[pick % len(paths)]
    value = _edit(value, path, how, new)
    lines[k] = json.dumps(value) + ("\n" if line is not None else "")
    return "".join(lines).encode()


MUTATION = st.one_of(
    st.tuples(st.just("json"), st.integers(0, 10 ** 6), st.sampled_from(["set", "delete", "add"]), JSON,
              st.sampled_from([None, 0, 1, 2]), st.integers(0, 3)),
    st.tuples(st.just("truncate"), st.integers(0, 3), st.floats(0, 1)),
    st.tuples(st.just("bytes"), st.integers(0, 3),
              st.binary(max_size=20) | st.sampled_from([b"\xff\xfe{", b'{"size": ' + b"9" * 5000 + b"}\n"])),
    st.tuples(st.just("stray"), st.sampled_from(["records-00099.jsonl", "records-00001.jsonl.partial", "notes.txt",
                                                 "records-x.jsonl"]), st.binary(max_size=40)),
    st.tuples(st.just("fifo"), st.sampled_from(["records-00000.jsonl", "records-00001.jsonl", "manifest.json",
                                                "records-00050.jsonl"])),
    st.tuples(st.just("delete"), st.integers(0, 3)),
)


def _files(d: Path):
    return sorted(p for p in d.iterdir() if p.is_file())


def _apply(d: Path, mutation):
    kind, *rest = mutation
    files = _files(d)
    if kind == "json":
        pick, how, new, line, which = rest
        target = d / "manifest.json" if line is None else files[which % len(files)]
        if target.name == "manifest.json":
            line = None
        if not target.is_file():
            return              # deleted, or made a FIFO, by an earlier mutation
        try:
            target.write_bytes(_mutate_json(target.read_bytes(), pick, how, new, line))
        except (ValueError, KeyError, IndexError, TypeError):
            pass                # an earlier mutation left no JSON there
    elif kind == "truncate" and files:
        f = files[rest[0] % len(files)]
        data = f.read_bytes()
        f.write_bytes(data[:int(len(data) * rest[1])])
    elif kind == "bytes" and files:
        f = files[rest[0] % len(files)]
        f.write_bytes(f.read_bytes() + rest[1])
    elif kind == "stray":
        (d / rest[0]).write_bytes(rest[1])
    elif kind == "fifo":
        p = d / rest[0]
        if p.exists():
            p.unlink()
        os.mkfifo(p)
    elif kind == "delete" and files:
        files[rest[0] % len(files)].unlink()


def _snapshot(d: Path):
    return {p.name: (p.read_bytes() if p.is_file() else "not a file") for p in sorted(d.iterdir())}


class _Blocked(Exception):
    pass


def _alarm(*_):
    raise _Blocked("a reader blocked")


@settings(max_examples=EXAMPLES, deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
@given(mutations=st.lists(MUTATION, min_size=1, max_size=3))
def test_readers_never_crash(tiny, capsys, mutations):
    old = signal.signal(signal.SIGALRM, _alarm)
    signal.alarm(300)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            d = Path(tmp) / "c"
            shutil.copytree(tiny, d)
            for m in mutations:
                _apply(d, m)
            before = _snapshot(d)
            for argv in (["coverage", d], ["show", d, "-n", "10"], ["validate", d, "--workers", "1"],
                         RESUME + ["--out", d, "--resume"]):
                code = main([str(a) for a in argv])
                err = capsys.readouterr().err
                event(f"{argv[0]} exit {code}")
                assert code in (0, 2), (argv[0], code, err)
                assert "Traceback" not in err
                if code == 2:
                    lines = [l for l in err.splitlines() if not l.startswith("jaxsynth: warning: ")]
                    assert len(lines) == 1 and lines[0].startswith("jaxsynth: error: "), err
                if argv[0] != "sample" or code == 2:
                    assert _snapshot(d) == before, (argv[0], code, err)
    finally:
        signal.alarm(0)
        signal.signal(signal.SIGALRM, old)
