"""The sharded pipeline: same bytes for any number of workers, resume after
kill -9, damaged shards made again, enumeration shards that partition the
index space."""
import json
import os
import re
import signal
import subprocess
import sys
import time

import pytest

from jaxsynth.corpus.cli import main
from jaxsynth.corpus.run.recipe import Recipe
from jaxsynth.corpus.run.files import atomic_write
from jaxsynth.corpus.run.shards import make_shard
from jaxsynth.corpus.run.readers import read_records
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.rules import Pools
from jaxsynth.synth.space import Config, Enumeration, Space
from jaxsynth.synth.types import parse_signature


def _bytes(d):
    return {p.name: p.read_bytes() for p in sorted(d.iterdir())}


def _alive(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().split()[2] != "Z"
    except OSError:
        return False


def _sample(out, *extra):
    argv = ["sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--out", str(out), *extra]
    assert main(argv) == 0


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    out = tmp_path_factory.mktemp("ref") / "c"
    _sample(out, "--workers", "1")
    return out


@pytest.mark.parametrize("workers", ["2", "4"])
def test_same_bytes_for_any_number_of_workers(reference, tmp_path, workers):
    _sample(tmp_path / "c", "--workers", workers)
    assert _bytes(tmp_path / "c") == _bytes(reference)


def test_resume_after_kill_9(tmp_path):
    out = tmp_path / "c"
    argv = [sys.executable, "-m", "jaxsynth", "sample", "-n", "150", "--seed", "4",
            "--shard-size", "10", "--workers", "2", "--out", str(out)]
    proc = subprocess.Popen(argv, start_new_session=True, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(json.loads((out / "manifest.json").read_text())["shards"]) >= 3:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        workers = [int(p) for p in subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                                   text=True).stdout.split()]
        os.kill(proc.pid, signal.SIGKILL)         # the driver, mid-run
    finally:
        proc.wait()
    deadline = time.monotonic() + 30              # its workers notice and exit
    while any(_alive(p) for p in workers) and time.monotonic() < deadline:
        time.sleep(0.2)
    assert workers and not any(_alive(p) for p in workers), "no orphaned workers"
    m = json.loads((out / "manifest.json").read_text())
    assert not m["complete"] and 3 <= len(m["shards"]) < 15, "killed mid-way"

    assert main(["sample", "-n", "150", "--seed", "4", "--shard-size", "10", "--workers", "2",
                 "--out", str(out)]) == 2, "an unfinished corpus is not overwritten"
    assert main(["sample", "-n", "150", "--seed", "4", "--shard-size", "10", "--workers", "2",
                 "--out", str(out), "--resume"]) == 0
    whole = tmp_path / "whole"
    assert main(["sample", "-n", "150", "--seed", "4", "--shard-size", "10", "--workers", "1",
                 "--out", str(whole)]) == 0
    assert _bytes(out) == _bytes(whole)


def test_damaged_shard_is_made_again(reference, tmp_path, capsys):
    import shutil
    out = tmp_path / "c"
    shutil.copytree(reference, out)
    shard = out / "records-00001.jsonl"
    shard.write_bytes(shard.read_bytes()[:-40] + b"garbage\n")
    (out / "records-00002.jsonl").unlink()
    capsys.readouterr()
    assert main(["sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--workers", "1",
                 "--out", str(out), "--resume"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert any(f"{shard}: checksum mismatch" in line for line in err)
    assert any("records-00002.jsonl: missing" in line for line in err)
    assert _bytes(out) == _bytes(reference)


def test_resume_with_other_options_is_refused(reference, tmp_path, capsys):
    import shutil
    out = tmp_path / "c"
    shutil.copytree(reference, out)
    assert main(["sample", "-n", "40", "--seed", "5", "--shard-size", "10", "--out", str(out), "--resume"]) == 2
    assert "differs in: seed" in capsys.readouterr().err


def test_resume_with_another_lowering_is_refused(reference, tmp_path, capsys):
    import shutil
    out = tmp_path / "c"
    shutil.copytree(reference, out)
    for option in (["--platform", "tpu"], ["--symbolic"]):
        assert main(["sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--out", str(out), "--resume",
                     *option]) == 2
        assert re.search(r"differs in: .*\blowering\b", capsys.readouterr().err)
    assert _bytes(out) == _bytes(reference)


def test_enumerate_shards_partition_the_index_space(grammar, tmp_path, capsys):
    keep = {"exp", "add", "sum", "where", "all"}
    weights = tmp_path / "w.txt"
    weights.write_text("".join(f"{a.name} = {1 if a.name in keep else 0}\n" for a in grammar.alts))
    base = ["enumerate", "--max-ops", "2", "--inputs", "f32[2], bool[]", "--dims", "2", "--weights", str(weights)]
    assert main(base + ["--count"]) == 0
    total = int(capsys.readouterr().out.splitlines()[-1].split(": ")[1])
    assert main(base + ["--out", str(tmp_path / "all"), "--workers", "1"]) == 0
    ids, hashes, ranges = [], set(), []
    for i in range(3):
        d = tmp_path / f"part{i}"
        assert main(base + ["--shard", f"{i}/3", "--out", str(d), "--workers", "1", "--shard-size", "7"]) == 0
        recs = list(read_records(d))
        ids += [r["id"] for r in recs]
        hashes |= {r["hash"] for r in recs}
        ranges.append(json.loads((d / "manifest.json").read_text())["range"])
    assert ranges[0][0] == 0 and ranges[-1][1] == total
    assert all(a[1] == b[0] for a, b in zip(ranges, ranges[1:])), "contiguous, disjoint"
    assert len(ids) == len(set(ids)), "no program in two shards"
    assert hashes == {r["hash"] for r in read_records(tmp_path / "all")}, "together, the whole enumeration"


def test_ray_backend_gives_the_same_bytes(reference, tmp_path, monkeypatch):
    """Without --address a private local Ray starts, and stops with the run: it
    never joins a cluster recorded on the machine or named by RAY_ADDRESS (here
    an address where nothing listens, so joining it would fail)."""
    import ray
    monkeypatch.setenv("RAY_ADDRESS", "127.0.0.1:1")
    _sample(tmp_path / "c", "--backend", "ray")
    assert not ray.is_initialized()
    assert _bytes(tmp_path / "c") == _bytes(reference)


def _ray_processes(temp_dir) -> dict[int, bytes]:
    """pid -> command line of the Ray started with --temp-dir temp_dir (its
    processes name their session directory there) and of their descendants
    (Ray's workers, renamed ray::...)."""
    parents, lines, found = {}, {}, set()
    for p in filter(str.isdigit, os.listdir("/proc")):
        try:
            with open(f"/proc/{p}/cmdline", "rb") as f:
                lines[int(p)] = f.read()
            with open(f"/proc/{p}/stat") as f:
                parents[int(p)] = int(f.read().rsplit(")", 1)[1].split()[1])
        except (OSError, ValueError, IndexError):
            continue
        if f"{temp_dir}/session_".encode() in lines[int(p)]:
            found.add(int(p))
    while more := {p for p, parent in parents.items() if parent in found} - found:
        found |= more
    return {p: lines.get(p, b"") for p in found if _alive(p)}


@pytest.fixture
def ray_head():
    """A one-CPU cluster started as a user starts one, `ray start --head`, in a
    temp dir and with a home of its own that holds a token (~/.ray/auth_token):
    Ray >= 2.59 turns token authentication on then. Gives (its address, the
    environment of a driver on this machine: that home and no RAY_* variable,
    so no RAY_AUTH_MODE, a function that kills the cluster). Its processes are
    killed by pid however the test ends: `ray stop` cannot be told which Ray
    to stop and stops every one on the machine."""
    import secrets
    import shutil
    import socket
    import tempfile
    ray = pytest.importorskip("ray")
    base = tempfile.mkdtemp(prefix="jxray")      # short: Ray's socket paths there must fit in 107 bytes
    home = os.path.join(base, "home")
    os.makedirs(os.path.join(home, ".ray"))
    with open(os.path.join(home, ".ray", "auth_token"), "w") as f:
        f.write(secrets.token_hex(32))
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("RAY_")}, "HOME": home}

    def stop():
        deadline = time.monotonic() + 30
        while (pids := _ray_processes(base)) and time.monotonic() < deadline:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
            time.sleep(0.2)
        assert not _ray_processes(base), "the cluster's processes are gone"

    try:
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        started = subprocess.run(
            [sys.executable, "-m", "ray.scripts.scripts", "start", "--head", f"--port={port}", "--num-cpus=1",
             f"--temp-dir={base}", "--include-dashboard=false", "--dashboard-port=0", "--disable-usage-stats"],
            env=env, cwd=base, capture_output=True, text=True, timeout=120)
        assert started.returncode == 0, started.stderr[-3000:]
        with open(os.path.join(base, "ray_current_cluster")) as f:
            address = f.read().strip()       # HOST:PORT, as `ray start` prints it for joining
        if tuple(int(x) for x in ray.__version__.split(".")[:2]) >= (2, 59):
            gcs = [p for p, line in _ray_processes(base).items() if b"gcs_server" in line]
            with open(f"/proc/{gcs[0]}/environ", "rb") as f:
                assert b"RAY_AUTH_MODE=token\0" in f.read(), "token authentication is on"
        yield address, env, stop
    finally:
        stop()
        shutil.rmtree(base, ignore_errors=True)


def _cli(*argv):
    return [sys.executable, "-m", "jaxsynth", *argv]


def test_ray_cluster_of_ray_start_is_joined_by_address(ray_head, reference, tmp_path):
    """--address HOST:PORT of a cluster started by `ray start --head`, with
    token authentication on and nothing set: the driver sends the token found
    where `ray start` found it, and the corpus is a local run's. (A process of
    its own: Ray puts RAY_AUTH_MODE=token into the environment of this one
    once it has started a local Ray.)"""
    address, env, _ = ray_head
    out = tmp_path / "c"
    run = subprocess.run(_cli("sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--backend", "ray",
                              "--address", address, "--out", str(out)),
                         env=env, capture_output=True, text=True, timeout=300)
    assert run.returncode == 0, run.stderr[-3000:]
    assert _bytes(out) == _bytes(reference)


@pytest.mark.slow
def test_a_lost_ray_cluster_ends_in_one_line_and_resume_finishes(ray_head, tmp_path):
    """The cluster killed mid-run (every process of it, as `ray stop --force`
    does): the driver ends with exit 2 and one line saying to resume, long
    before Ray itself would end it (60 s after the head went away, exit 1);
    what was committed stays, and --resume (here without Ray) finishes to the
    bytes of an uninterrupted run."""
    address, env, stop = ray_head
    out, args = tmp_path / "c", ["sample", "-n", "100", "--seed", "4", "--shard-size", "10"]
    proc = subprocess.Popen(_cli(*args, "--backend", "ray", "--address", address, "--out", str(out)),
                            env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and proc.poll() is None:
            try:
                if len(json.loads((out / "manifest.json").read_text())["shards"]) >= 2:
                    break
            except (OSError, ValueError, KeyError):
                pass
            time.sleep(0.05)
        stop()
        lost = time.monotonic()
        err = proc.communicate(timeout=120)[1]
    finally:
        proc.kill()
        proc.wait()
    assert proc.returncode == 2 and time.monotonic() - lost < 45, err[-3000:]
    assert "Traceback" not in err
    errors = [line for line in err.splitlines() if line.startswith("jaxsynth: error:")]
    assert errors == [err.strip().splitlines()[-1]], err[-3000:]
    assert re.fullmatch(rf"jaxsynth: error: --address {re.escape(address)}: the Ray cluster was lost "
                        r"\(.+\); run the same command with --resume to finish", errors[0])
    m = json.loads((out / "manifest.json").read_text())
    assert not m["complete"] and 2 <= len(m["shards"]) < 10, "lost mid-way"

    assert main([*args, "--workers", "2", "--out", str(out), "--resume"]) == 0
    whole = tmp_path / "whole"
    assert main([*args, "--workers", "2", "--out", str(whole)]) == 0
    assert _bytes(out) == _bytes(whole)


def test_a_token_goes_only_to_a_cluster_on_this_machine():
    """An address is on this machine when it is a loopback address or one of
    its own; elsewhere (a documentation address here) Ray's own rule holds:
    no token unless RAY_AUTH_MODE=token says so."""
    import socket
    from jaxsynth.corpus.run.cluster import _on_this_machine
    assert _on_this_machine("127.0.0.1:6379") and _on_this_machine("localhost:6379")
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        try:
            s.connect(("192.0.2.1", 9))      # no packet is sent: picks this machine's outward address
            own = s.getsockname()[0]
        except OSError:
            own = "127.0.0.2"
    assert _on_this_machine(f"{own}:6379")
    assert not _on_this_machine("203.0.113.7:6379")
    assert not _on_this_machine("no-such-host.invalid:6379")
    assert not _on_this_machine("ray://127.0.0.1:10001") and not _on_this_machine("auto")


def test_a_crash_before_the_rename_leaves_no_torn_shard(reference, tmp_path, monkeypatch):
    """Shards are written to a temporary file and renamed into place: a crash
    in between leaves the shard absent (an existing file whole), never
    half-written, and --resume finishes the run to the same bytes."""
    real_replace, out = os.replace, tmp_path / "c"

    def crash_at(name):
        def replace(src, dst):
            if str(dst).endswith(name):
                raise KeyboardInterrupt          # as if the process died here
            real_replace(src, dst)
        return replace

    monkeypatch.setattr(os, "replace", crash_at("records-00002.jsonl"))
    assert main(["sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--workers", "1",
                 "--out", str(out)]) == 130
    assert sorted(p.name for p in out.glob("records-*.jsonl")) == ["records-00000.jsonl", "records-00001.jsonl"]
    first = out / "records-00000.jsonl"
    before = first.read_bytes()
    monkeypatch.setattr(os, "replace", crash_at(first.name))
    with pytest.raises(KeyboardInterrupt):
        atomic_write(first, b"new content\n")
    assert first.read_bytes() == before
    monkeypatch.setattr(os, "replace", real_replace)
    assert main(["sample", "-n", "40", "--seed", "3", "--shard-size", "10", "--workers", "1",
                 "--out", str(out), "--resume"]) == 0
    assert _bytes(out) == _bytes(reference), "same bytes, and no temporary file left behind"


def test_a_shard_holds_each_hash_once(pinned):
    """make_shard drops programs whose hash an earlier program of the shard has
    (reorderings of independent statements, enumerated as distinct programs)."""
    grammar = load_grammar(pinned)
    config, inputs = Config(pools=Pools(dims=(2, 3))), parse_signature("f32[2], bool[]")
    recipe = Recipe("enumerate", grammar.path, grammar.text, (), config, "statements", inputs=inputs, max_size=3)
    enum = Enumeration(Space(grammar, config), inputs)
    hashes = [enum.program(*enum.locate(k, 3)).structural_hash for k in range(120)]
    shard = make_shard(recipe, 0, 0, 120)
    assert len(set(hashes)) < len(hashes), "the range holds reorderings"
    assert [line[0] for line in shard.lines] == list(dict.fromkeys(hashes))
    assert shard.duplicates == len(hashes) - len(set(hashes)) and not shard.failures


def test_fake_devices_change_no_ordinary_program(reference, tmp_path):
    """The 8 fake devices every lowering process gets put no sharding into
    programs without a mesh: a run in a process with a single device (a count
    already set is kept) writes the same record for each of them."""
    env = {**os.environ, "XLA_FLAGS": "--xla_force_host_platform_device_count=1"}
    subprocess.run([sys.executable, "-m", "jaxsynth", "sample", "-n", "40", "--seed", "3",
                    "--shard-size", "10", "--workers", "1", "--out", str(tmp_path / "c")], env=env, check=True,
                   capture_output=True)
    single = {r["hash"]: r for r in read_records(tmp_path / "c")}
    ordinary = [r for r in read_records(reference) if "sdy.mesh" not in r["stablehlo"]]
    assert len(ordinary) > 20 and all(single.get(r["hash"]) == r for r in ordinary)


# the smallest grammar with a collective: psum in a shard_map over 4 of the 8 fake devices
MESH_GRAMMAR = r"""
start: _IMPORTS funcdef
_IMPORTS: "import jax" _WS "import jax.numpy as jnp" _WS "from jax import lax"

funcdef: "def" NAME "(" params ")" ":" DOCSTRING stmt* ret
params: NAME ("," NAME)*
stmt: NAME "=" expr
ret: "return" expr ("," expr)*
lam: "lambda" NAME ":" expr
   | "lambda" NAME "," NAME ":" expr
carry: CARRY

?expr: term | infix

?infix: term "+" term -> add                          //@ binary(numeric)
?term: NAME
     | carry
     | "(" infix ")"
     | "jnp.sin" "(" expr ")" -> sin                  //@ unary(float)
     | "jax.shard_map(lambda a: lax.psum(a, 'i'), mesh=jax.make_mesh((4,), ('i',), (jax.sharding.AxisType.Auto,), devices=jax.devices()[:4]), in_specs=jax.P('i'), out_specs=jax.P('i'))" "(" expr ")" -> psum  //@ unary(float)

NAME.-1: /[a-z_][a-z0-9_]*/
CARRY: "c[0]" | "c[1]"
DOCSTRING: /\"\"\"[^"]*\"\"\"/
_WS: /\s+/

%ignore /[ \t\r\n]+/
"""


@pytest.mark.parametrize("backend, workers", [("local", 1), ("local", 2), ("ray", 1)],
                         ids=["inprocess", "workers-2", "ray"])
def test_programs_with_a_mesh_lower_in_every_executor(tmp_path, monkeypatch, backend, workers):
    """Worker processes and Ray tasks give themselves the fake devices: here
    they do not inherit them (XLA_FLAGS unset before any starts), yet every
    program with a shard_map over 4 devices lowers, to the same bytes as in
    this process, and each record lowers again to its text."""
    from jaxsynth.corpus.run.pipeline import Run
    from jaxsynth.corpus.run.executors import executor
    from jaxsynth.lowering import load_function, lower
    (tmp_path / "mesh.lark").write_text(MESH_GRAMMAR)
    grammar = load_grammar(tmp_path / "mesh.lark")
    recipe = Recipe("enumerate", grammar.path, grammar.text, (), Config(pools=Pools(dims=(8,))), "statements",
                    inputs=parse_signature("f32[8]"), max_size=2)
    monkeypatch.delenv("XLA_FLAGS", raising=False)
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    out = tmp_path / "c"
    m, status = Run(out, recipe, {}, 27, 5, 0, 27).execute(executor(workers, backend))
    assert not m["counts"]["failures"] and m["counts"]["records"] == 24
    records = list(read_records(out))
    meshed = [r for r in records if "sdy.mesh" in r["stablehlo"]]
    assert len(meshed) >= 10 and all("mhlo.num_partitions = 4" in r["stablehlo"] for r in meshed)
    assert all("mhlo.num_partitions = 1" in r["stablehlo"] for r in records if r not in meshed)
    for r in records:
        assert lower(load_function(r["python"]), [t.spec() for t in parse_signature(r["inputs"][0])]).text \
            == r["stablehlo"]


def test_no_more_processes_than_shards(tmp_path, monkeypatch):
    """A run of one shard starts no other process, whatever --workers says."""
    from jaxsynth.corpus.cli import jobs
    asked, real = [], jobs.executor
    monkeypatch.setattr(jobs, "executor", lambda workers, *rest: asked.append(workers) or real(workers, *rest))
    assert main(["sample", "-n", "5", "--workers", "4", "--out", str(tmp_path / "o")]) == 0
    assert asked == [1]


def test_this_process_makes_every_nth_shard():
    """--workers N: N - 1 spawned processes, and this one makes shards 0, N, 2N, ..."""
    from jaxsynth.corpus.run.executors import Deferred, Processes
    pool = Processes(3)
    try:
        assert pool.pool._max_workers == 2
        assert all(isinstance(pool.submit(None, n, 0, 0), Deferred) for n in (0, 3, 6))
    finally:
        pool.shutdown()


def _group_alive(pgid: int) -> bool:
    try:
        os.killpg(pgid, 0)
        return True
    except ProcessLookupError:
        return False


@pytest.mark.parametrize("moment", ["loading", "starting workers", "after a shard"])
def test_ctrl_c_at_any_moment_ends_the_run_with_one_line(tmp_path, moment):
    """Ctrl-C (SIGINT to the whole process group, as a terminal sends it)
    while the command loads, while its workers start, or mid-run: exit 130
    at once, no traceback from any process, no process left; once the run
    has a corpus, the line says that --resume finishes it."""
    out = tmp_path / "c"
    run = subprocess.Popen([sys.executable, "-m", "jaxsynth", "sample", "-n", "5000", "--workers", "2",
                            "--shard-size", "50", "--no-cache", "--out", str(out)],
                           stderr=subprocess.PIPE, text=True, start_new_session=True, cwd=tmp_path)
    if moment == "loading":
        time.sleep(0.3)
    elif moment == "starting workers":
        while not (out / "manifest.json").exists() and run.poll() is None:
            time.sleep(0.02)
    else:
        while run.poll() is None and not (out / "records-00001.jsonl").exists():
            time.sleep(0.05)
    os.killpg(run.pid, signal.SIGINT)
    err = run.communicate(timeout=60)[1]
    deadline = time.monotonic() + 10
    while _group_alive(run.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert run.returncode == 130, err
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err
    last = err.splitlines()[-1]
    assert [line for line in err.splitlines() if line.startswith("jaxsynth: interrupted")] == [last]
    if moment != "loading":
        assert last == f"jaxsynth: interrupted; {out} keeps the shards made so far: the same command with " \
                       f"--resume finishes the run"
    assert not _group_alive(run.pid), "a worker outlived the run"


def test_a_shard_no_longer_wanted_stops_between_chunks(monkeypatch, pinned):
    """A worker's running shard ends (Cancelled) at its next chunk once the
    pool says the run has its records, rather than being waited for; a
    shard not started yet does not even sample."""
    import threading

    from jaxsynth.corpus.run import shards
    grammar = load_grammar(pinned)
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=1, strategy="batched")
    stop, chunks, real = threading.Event(), [], shards.make_records
    monkeypatch.setattr(shards, "STOP", [stop])
    monkeypatch.setattr(shards, "CHUNK", 2)
    assert len(make_shard(recipe, 0, 0, 5).lines) == 5

    def make_records(items, *args, **kwargs):
        chunks.append(len(items))
        stop.set()          # the run got its records while this chunk was made
        return real(items, *args, **kwargs)
    monkeypatch.setattr(shards, "make_records", make_records)
    with pytest.raises(shards.Cancelled):
        make_shard(recipe, 0, 0, 5)
    assert chunks == [2]
    monkeypatch.setattr(shards, "programs", lambda *a: pytest.fail("a cancelled shard sampled"))
    with pytest.raises(shards.Cancelled):
        make_shard(recipe, 1, 5, 10)


def test_chunks_change_no_byte(reference, tmp_path, monkeypatch):
    """Shards are lowered a chunk at a time: chunks smaller than a shard give
    the same corpus and manifest."""
    from jaxsynth.corpus.run import shards
    monkeypatch.setattr(shards, "CHUNK", 3)
    _sample(tmp_path / "c", "--workers", "1")
    assert _bytes(tmp_path / "c") == _bytes(reference)


def test_a_pool_thread_that_never_ends_makes_the_command_exit_hard(monkeypatch):
    """A worker killed while it sent its result leaves the pool's thread
    waiting forever, which a normal exit would join: the run is marked
    ABANDONED, and main ends the process with os._exit (and only then)."""
    import threading

    from jaxsynth.corpus.cli import entry as cli
    from jaxsynth.corpus.run import executors
    hang = threading.Event()
    stuck = threading.Thread(target=hang.wait, daemon=True)
    stuck.start()
    pool = executors.Processes(2)
    real = pool.pool
    monkeypatch.setattr(executors, "ABANDON_AFTER", 0.1)
    monkeypatch.setattr(real, "_executor_manager_thread", stuck)
    try:
        pool.shutdown(now=True)
        assert executors.ABANDONED == [True]
        exits = []
        monkeypatch.setattr(os, "_exit", exits.append)
        monkeypatch.setattr(cli, "_command", lambda argv: (executors.ABANDONED.__setitem__(0, True), 130)[1])
        assert cli.main(["sample"]) == 130 and exits == [130]
        monkeypatch.setattr(cli, "_command", lambda argv: 0)
        assert cli.main(["sample"]) == 0 and exits == [130], "a new command starts not abandoned"
    finally:
        hang.set()
        executors.ABANDONED[0] = False


def test_an_abandoned_pool_leaves_no_warning_after_the_last_line():
    """The hard exit of an abandoned pool (`os._exit`) still releases the
    pool's semaphores: multiprocessing's tracker, which outlives the
    command, prints no warning of leaked ones after the command's last line."""
    code = ("import sys\n"
            "from jaxsynth.corpus.cli import entry\n"
            "from jaxsynth.corpus.run import executors\n"
            "def command(argv):\n"
            "    executors.Processes(2).call(1, sum, [1, 2]).result()\n"
            "    executors.ABANDONED[0] = True\n"
            "    print('jaxsynth: interrupted', file=sys.stderr)\n"
            "    return 130\n"
            "if __name__ == '__main__':\n"
            "    entry._command = command\n"
            "    sys.exit(entry.main(['x']))\n")
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert done.returncode == 130 and done.stderr == "jaxsynth: interrupted\n", done.stderr


def test_this_process_makes_its_next_shard_while_a_worker_is_busy():
    """Waiting for a worker's shard, this process makes its own next one
    (asked for later) rather than wait; an error of it is raised in its turn."""
    from jaxsynth.corpus.run.executors import Processes
    pool = Processes(2)
    made = []
    try:
        first = pool.call(0, made.append, 0)
        slow = pool.call(1, time.sleep, 2)
        second = pool.call(2, made.append, 2)
        failing = pool.call(4, lambda: 1 / 0)
        assert first.result() is None and made == [0]
        slow.result()
        assert made == [0, 2], "made while the worker slept"
        assert second.ran and failing.ran
        with pytest.raises(ZeroDivisionError):
            failing.result()
    finally:
        pool.shutdown()


def test_a_run_asks_for_no_more_programs_than_it_misses(tmp_path):
    """Shards in flight never hold more programs than records are missing:
    a run whose shards all give new records makes only the shards it keeps."""
    from jaxsynth.corpus.run.pipeline import Run
    from jaxsynth.corpus.run.executors import InProcess
    from jaxsynth.corpus.run.recipe import build
    grammar = load_grammar()
    recipe = Recipe("sample", grammar.path, grammar.text, (), Config(), "statements", seed=5)
    build(recipe)
    asked = []

    class Counting(InProcess):
        parallelism = 4     # four shards in flight at most, as two workers have

        def submit(self, recipe, number, *args):
            asked.append(number)
            return super().submit(recipe, number, *args)
    _, status = Run(tmp_path / "c", recipe, {}, 25, 10).execute(Counting())
    assert status.records == 25 and asked == [0, 1, 2]


def test_workers_start_before_the_grammar_loads(tmp_path, monkeypatch):
    """`sample` starts its workers first, so that they start while this
    process loads the grammar."""
    from jaxsynth.corpus.cli import commands, jobs
    order, grammar, real = [], commands.grammar_of, jobs.executor
    monkeypatch.setattr(jobs, "executor", lambda *args: order.append("workers") or real(*args))
    monkeypatch.setattr(commands, "grammar_of", lambda args: order.append("grammar") or grammar(args))
    assert main(["sample", "-n", "4", "--shard-size", "2", "--workers", "2", "--out", str(tmp_path / "o")]) == 0
    assert order == ["workers", "grammar"]


def test_workers_start_with_the_pool():
    from jaxsynth.corpus.run.executors import Processes
    pool = Processes(3)
    try:
        assert len(pool.pool._processes) == 2
    finally:
        pool.shutdown()


def _leave_a_mark(path):
    import atexit
    atexit.register(lambda: open(path, "w").close())


def test_a_worker_ends_after_its_exit_handlers(tmp_path):
    """A worker ends without taking its heap apart, but the exit handlers of
    what it ran (JAX's) still run."""
    from jaxsynth.corpus.run.executors import Processes
    pool = Processes(2)
    pool.call(1, _leave_a_mark, str(tmp_path / "mark")).result()
    pool.shutdown()
    assert (tmp_path / "mark").exists()


def test_setup_runs_in_each_worker_as_it_starts(tmp_path):
    """`executor`'s setup calls run in every spawned worker (through a file
    of the driver's, gone once the pool is)."""
    from jaxsynth.corpus.run.executors import Processes
    pool = Processes(3, tuple((_leave_a_mark, str(tmp_path / f"mark{k}")) for k in range(2)))
    setup = pool.setup
    assert os.path.exists(setup)
    for k in (1, 2):
        pool.call(k, time.sleep, 0).result()
    pool.shutdown()
    assert not os.path.exists(setup) and (tmp_path / "mark0").exists() and (tmp_path / "mark1").exists()


def test_the_driver_shares_its_counts(tmp_path):
    """What `enumerate` counted in this process is what its workers learn."""
    from jaxsynth.corpus.run.recipe import build, learn, shared
    grammar = load_grammar()
    recipe = Recipe("enumerate", grammar.path, grammar.text, (), Config(pools=Pools(dims=(2,))), "statements",
                    inputs=parse_signature("f32[2]"), max_size=2)
    build(recipe)[2].counts(2)
    (fn, shared_recipe, counted), = shared(recipe)
    assert fn is learn and shared_recipe == recipe and counted == build(recipe)[2].counted() and counted


def test_ctrl_c_during_the_end_of_a_run_still_stops_the_workers():
    """Ctrl-C while the pool waits for its workers to end (the normal end
    begun) stops them at once."""
    import multiprocessing
    from jaxsynth.corpus.run.executors import Processes
    before = set(multiprocessing.active_children())
    pool = Processes(2)
    pool.call(1, time.sleep, 60)
    pool.stop.set()             # as the normal end does first
    pool.shutdown(now=True)
    for worker in set(multiprocessing.active_children()) - before:
        worker.join(timeout=30)
        assert not worker.is_alive()


def test_ctrl_c_while_workers_start_stops_them(monkeypatch):
    import multiprocessing
    from jaxsynth.corpus.run.executors import Processes
    before = set(multiprocessing.active_children())
    real = Processes._submit

    def interrupted(self, fn, *args):
        real(self, fn, *args)
        raise KeyboardInterrupt
    monkeypatch.setattr(Processes, "_submit", interrupted)
    with pytest.raises(KeyboardInterrupt):
        Processes(2)
    for worker in set(multiprocessing.active_children()) - before:
        worker.join(timeout=30)
        assert not worker.is_alive()


def test_enumerate_workers_take_the_counts_and_write_the_same_bytes(grammar, tmp_path):
    """The driver's counts go to the workers (`shared`): any number of
    workers writes the same corpus."""
    base = ["enumerate", "--max-ops", "2", "--inputs", "f32[2]", "--dims", "2", "--shard", "3/40",
            "--shard-size", "50"]
    assert main(base + ["--out", str(tmp_path / "one"), "--workers", "1"]) == 0
    assert main(base + ["--out", str(tmp_path / "two"), "--workers", "2"]) == 0
    assert _bytes(tmp_path / "one") == _bytes(tmp_path / "two")


def test_an_enumeration_that_learns_counts_counts_nothing(grammar):
    """`learn` another's `counted`: the same counts and programs, and of the
    counting states only those a shard's indices need visited."""
    space = Space(grammar, Config(pools=Pools(dims=(2,))))
    inputs = parse_signature("f32[2]")
    counted = Enumeration(space, inputs)
    counts = counted.counts(2)
    fresh = Enumeration(space, inputs)
    fresh.learn(counted.counted())
    visited = []
    real = fresh._program_blocks
    fresh._program_blocks = lambda *args: visited.append(args) or real(*args)
    assert fresh.counts(2) == counts and not visited
    shard = range(counts[1] // 2, counts[1] // 2 + 50)      # a shard's indices are consecutive
    assert [fresh.program(2, i).tree for i in shard] == [counted.program(2, i).tree for i in shard]
    assert len(visited) < len(counted.counted()) / 10


def test_a_cancelled_shard_of_this_process_is_never_made():
    """A run that keeps its pool for the next cancels its own shards too:
    waiting on the next run's workers makes none of them."""
    from jaxsynth.corpus.run.shards import Cancelled
    from jaxsynth.corpus.run.executors import Processes
    pool = Processes(2)
    made = []
    try:
        mine = pool.call(0, made.append, 0)
        assert mine.cancel()
        assert not pool.ahead() and made == []
        with pytest.raises(Cancelled):
            mine.result()
    finally:
        pool.shutdown()
