"""`jaxsynth validate`: check a corpus of unknown origin without trusting it.

Each record's `python` is parsed with the grammar first; a program the
grammar does not derive is rejected and never executed. Its derivation is
type checked with the rules (`synth.check`), which gives the program it
must be: the record's types, docstring, alternatives, size, depth and
structural hash must be that program's, and its text must be how jaxsynth
prints it. Only then is it executed (from its checked text, in a namespace
of the JAX modules alone: `safety.load_program`) and lowered as its
`lowering` field says; the StableHLO and op counts must be the record's.
`run=True` also executes each program on deterministic random inputs of its
types, eagerly and under `jax.jit`, and compares the results within the
tolerance of each dtype (`TOLERANCE`); a program whose comparison means
nothing here (it draws `NONDETERMINISTIC` numbers, or XLA for this machine
cannot execute it) is listed as not run, not failed.

Each record file is checked on its own (`check_file`, a pure function of
the file), in this process and spawned workers (`executors.executor`);
what a file holds is said when its turn comes, in file and record order, so
the output is the same for any number of workers.
"""
from __future__ import annotations

import hashlib
import re
from collections import Counter
from dataclasses import dataclass, field
from functools import lru_cache

from ...lowering import LoweringError
from ...synth.check import CheckError, check_source
from ...synth.grammar import Grammar, load_grammar
from ...synth.printer import STYLES, to_source
from ...synth.safety import MAX_SOURCE, load_program
from ...synth.space import Config, Space
from ...synth.types import DTYPES
from .executors import executor
from .readers import corpus_files, iter_records, visible
from .recipe import config_of
from .records import make_records
from .schema import lowering_of

MAX_NESTING = 64        # brackets open at once; generated programs stay far below
RUN_BYTES = 1 << 28     # inputs `--run` makes for one program, at most
# ops whose results the StableHLO spec leaves to the implementation: eager and
# jit may differ and both be right
NONDETERMINISTIC = frozenset({"stablehlo.rng"})
FIELDS = ("python", "inputs", "outputs", "alternatives", "size", "depth", "hash")   # what the derivation fixes
# (rtol, atol) of eager against jit, by dtype kind; atol scales with the result's magnitude
TOLERANCE = {"float": {"f32": (1e-4, 1e-5), "f16": (1e-2, 1e-2), "bf16": (5e-2, 5e-2)}, "complex": (1e-4, 1e-5)}


@dataclass
class Failure:
    where: str          # file:line
    id: str
    reason: str

    def __str__(self) -> str:
        return visible(f"{self.where} {self.id}: {self.reason}")

    @property
    def kind(self) -> str:
        return re.split(r"[:(]", self.reason)[0].strip()


def _nesting(text: str) -> int:
    depth = most = 0
    for ch in text:
        if ch in "([{":
            depth += 1
            most = max(most, depth)
        elif ch in ")]}":
            depth -= 1
    return most


def derive(record: dict, space: Space):
    """(program, style) that the record's Python is the printed form of, or
    the reason it is not one; nothing is executed."""
    python = record["python"]
    if len(python) > MAX_SOURCE:
        return f"python: longer than {MAX_SOURCE} characters"
    if not python.isascii() or any(not (c.isprintable() or c == "\n") for c in python):
        return "python: characters outside printable ASCII"
    if _nesting(python) > MAX_NESTING:
        return f"python: brackets nested deeper than {MAX_NESTING}"
    try:
        program = check_source(python, space)
    except CheckError as e:
        return str(e) if str(e).startswith("not derived") else f"not derived by the rules: {e}"
    style = next((s for s in STYLES if to_source(program.tree, space.grammar, s) == python), None)
    if style is None:
        return "python: not the printed form of its derivation"
    return program, style


def _mismatch(record: dict, made: dict, style: str, attribution: bool = True) -> str | None:
    if style == "nested":
        # the text fixes which values are inlined, not the order they were
        # made in: alternatives are a multiset
        made = {**made, "alternatives": sorted(made["alternatives"])}
        record = {**record, "alternatives": sorted(record["alternatives"])}
    for key in FIELDS + ("stablehlo", "ops"):
        if record[key] != made[key]:
            return f"{key} is not what {'the rules give' if key in FIELDS else 'lowering gives'}" + \
                (f" ({made[key]})" if key in ("inputs", "outputs") else "")
    if lowering_of(record) != made["lowering"]:
        return f"lowering: the program lowers as {made['lowering']}"
    if attribution and "attribution" in record and record["attribution"] != made["attribution"]:
        return "attribution is not what lowering gives"
    return None


def _inputs(types, seed: bytes):
    """Deterministic random arrays of these types."""
    import numpy as np
    rng = np.random.default_rng(int.from_bytes(hashlib.sha256(seed).digest()[:8], "little"))
    out = []
    for t in types:
        kind, name = DTYPES[t.dtype].kind, DTYPES[t.dtype].name
        if kind == "bool":
            a = rng.random(t.shape) < 0.5
        elif kind in ("int", "uint"):
            a = rng.integers(0 if kind == "uint" else -4, 5, t.shape)
        elif kind == "complex":
            a = rng.standard_normal(t.shape) + 1j * rng.standard_normal(t.shape)
        else:
            a = rng.standard_normal(t.shape)
        import jax.numpy as jnp
        out.append(jnp.asarray(a, dtype=jnp.dtype(name)))
    return out


def _tolerance(dtype) -> tuple[float, float] | None:
    """(rtol, atol) for an inexact dtype; None for one compared exactly."""
    import jax.numpy as jnp
    if jnp.issubdtype(dtype, jnp.complexfloating):
        return TOLERANCE["complex"]
    if not jnp.issubdtype(dtype, jnp.floating):      # numpy's own test misses bfloat16
        return None
    return TOLERANCE["float"][{"float32": "f32", "float16": "f16", "bfloat16": "bf16"}.get(str(dtype), "f32")]


class NotRun(Exception):
    """A program this machine cannot execute (it lowers, but XLA for this
    backend does not compile it: `lax.mulhi` on CPU), or too big to run."""


def _attempt(fn, args):
    """(leaves of the result, None) or (None, the error in one line)."""
    import jax
    try:
        return jax.tree.leaves(fn(*args)), None
    except Exception as e:      # JAX raises many types; the caller says which
        return None, f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0][:160]}"


def compare_run(python: str, types, seed: bytes, ops=()) -> str | None:
    """Eager against jit on the same random inputs: None if they agree, else
    why not; NotRun if they cannot be compared here."""
    import jax
    import numpy as np
    drawn = sorted(set(ops) & NONDETERMINISTIC)
    if drawn:
        raise NotRun(f"{', '.join(drawn)} draws numbers of the implementation's choosing")
    size = sum(t.size * DTYPES[t.dtype].bits // 8 for t in types)
    if size > RUN_BYTES:
        raise NotRun(f"inputs of {size >> 20} MB, more than a run makes ({RUN_BYTES >> 20} MB)")
    fn = load_program(python)
    args = _inputs(types, seed)
    (eager, eager_error), (jitted, jit_error) = _attempt(fn, args), _attempt(jax.jit(fn), args)
    if eager_error or jit_error:     # a program that lowers, for a backend that cannot run it here
        raise NotRun(f"{'eager' if eager_error else 'jit'}: {eager_error or jit_error}")
    for k, (a, b) in enumerate(zip(eager, jitted)):
        a, b = np.asarray(a), np.asarray(b)
        if a.shape != b.shape or a.dtype != b.dtype:
            return f"run: result {k}: eager {a.dtype}{list(a.shape)}, jit {b.dtype}{list(b.shape)}"
        tolerance = _tolerance(a.dtype)
        if tolerance is None:
            if not np.array_equal(a, b):
                return f"run: result {k} differs between eager and jit"
            continue
        rtol, atol = tolerance
        a64, b64 = a.astype(np.complex128), b.astype(np.complex128)
        finite = np.isfinite(b64)
        scale = max(1.0, float(np.max(np.abs(b64[finite])))) if finite.any() else 1.0
        if not np.allclose(a64, b64, rtol=rtol, atol=atol * scale, equal_nan=True):
            worst = float(np.nanmax(np.abs(a64 - b64)))
            return f"run: result {k} differs between eager and jit by up to {worst:.3g}"
    return None


@dataclass
class Report:
    checked: int = 0
    failures: list = field(default_factory=list)     # of Failure
    not_run: list = field(default_factory=list)      # of Failure: valid, but --run could not execute them here

    def summary(self) -> str:
        reasons = Counter(f.kind for f in self.failures)
        detail = "; ".join(f"{n}× {r}" for r, n in reasons.most_common(5))
        return f"validated {self.checked} records: {self.checked - len(self.failures)} pass, " \
               f"{len(self.failures)} fail" + (f" ({detail})" if self.failures else "") + \
               (f"; {len(self.not_run)} of those passing not run here" if self.not_run else "")


@dataclass(frozen=True)
class Checking:
    """What checking a record file needs; picklable, so workers rebuild it."""
    grammar_path: str
    grammar_text: str
    config: Config
    format: int | None        # the manifest's; None without one
    run: bool


@lru_cache(maxsize=2)
def _loaded(checking: Checking) -> tuple[Grammar, Space]:
    """The grammar and space of a check, once per process."""
    grammar = load_grammar(checking.grammar_path, checking.grammar_text)
    return grammar, Space(grammar, checking.config)


def check_file(checking: Checking, file) -> tuple[int, list[tuple[Failure, bool]]]:
    """(records checked, [(failure, whether it fails: else it passed and was
    not run)]) of one record file, in record order: a pure function of its
    arguments, so any process may check any file."""
    grammar, space = _loaded(checking)
    checked, found, pending = 0, [], []

    def fail(n, where, rid, reason, failed=True):
        found.append((n, Failure(where, rid, reason), failed))

    def flush():
        by_lowering = {}
        for item in pending:
            how = lowering_of(item[2])
            by_lowering.setdefault((how["platform"], how["symbolic"]), []).append(item)
        for (platform, symbolic), items in sorted(by_lowering.items()):
            for style in STYLES:
                batch = [i for i in items if i[4] == style]
                made = make_records([({"id": r["id"]}, p) for _, _, r, p, _ in batch], grammar, style,
                                    platform=platform, symbolic=symbolic)
                for (n, where, record, program, _), (_, result) in zip(batch, made):
                    if isinstance(result, LoweringError):
                        fail(n, where, record["id"], f"does not lower: {result}")
                        continue
                    # format 4 attributed some ops of a reused trace to an earlier call
                    problem = _mismatch(record, result, style, checking.format is None or checking.format >= 5)
                    if problem is None and checking.run:
                        try:
                            problem = compare_run(record["python"], program.inputs, record["hash"].encode(),
                                                  [o["op"] for o in record["ops"]])
                        except NotRun as e:
                            fail(n, where, record["id"], f"not run here: {e}", failed=False)
                    if problem:
                        fail(n, where, record["id"], problem)
        pending.clear()

    for n, (where, record, problem) in enumerate(iter_records([file])):
        checked += 1
        rid = record["id"] if record else "?"
        if problem:
            fail(n, where, rid, f"not a jaxsynth record ({problem})")
            continue
        if "attribution" not in record and checking.format is not None and checking.format >= 4:
            fail(n, where, rid, "attribution missing (its manifest is of format 4, whose records carry it)")
            continue
        derived = derive(record, space)
        if isinstance(derived, str):
            fail(n, where, rid, derived)
            continue
        pending.append((n, where, record, *derived))
        if len(pending) >= 200:
            flush()
    flush()
    # lowering batches records: what it finds comes later than what derivation finds
    return checked, [(failure, failed) for _, failure, failed in sorted(found, key=lambda f: f[0])]


def validate(path, grammar: Grammar, run: bool = False, say=print, workers: int = 1, progress=None) -> Report:
    """Check every record of a corpus, one record file at a time, in
    `workers` processes (this one among them: every workers-th file, as
    the pipeline shares out shards; never more processes than files). Files
    are taken in order, so each failure is said, and `progress(records
    checked)` called, the same whatever the number of workers."""
    manifest, files = corpus_files(path)
    checking = Checking(grammar.path, grammar.text, config_of(manifest, str(path)),
                        manifest["format"] if manifest else None, run)
    pool = executor(min(workers, len(files)))
    report, failed = Report(), True
    try:
        for result in [pool.call(k, check_file, checking, file) for k, file in enumerate(files)]:
            checked, found = result.result()
            report.checked += checked
            for failure, fails in found:
                (report.failures if fails else report.not_run).append(failure)
                say(str(failure))
            if progress:
                progress(report.checked)
        failed = False
    finally:
        pool.shutdown(now=failed)      # an error or Ctrl-C: the workers are stopped
    return report
