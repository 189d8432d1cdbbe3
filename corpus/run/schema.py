"""What a corpus on disk is, and readers that never trust it.

A corpus directory holds `manifest.json` and the record shards it lists
(`records-NNNNN.jsonl`). Corpora travel, so everything read is checked
against one schema here before anything uses it: JSON types, ranges (counts
>= 0 and no larger than what they count), the shards the manifest lists and
nothing else, and completeness. A violation is a `CorpusError` that names
the file (and line) and what is wrong. Files that are not regular files (a
FIFO, a device) are never opened.
"""
from __future__ import annotations

import hashlib
import json
import math
import re
import sys
from pathlib import Path

from ..lowering import PLATFORMS, SYMBOLIC
from ..synth.types import SignatureError, parse_type
from .records import FORMAT, MANIFEST, PROGRAM, CorpusError, shard_name

MAX_MANIFEST = 64 << 20     # bytes: a manifest lists shards, not records
MAX_LINE = 64 << 20         # bytes of one record
MAX_COUNT = 10 ** 12        # any count in a manifest or record, far beyond a real corpus
HEX = re.compile(r"[0-9a-f]{64}")
DEFAULT_LOWERING = {"platform": "cpu", "symbolic": False, "shapes": "static"}   # corpora older than format 3


# ---------------------------------------------------------------- checkers: value -> problem or None

def _count(v, lo=0, hi=MAX_COUNT) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    return None if ok else f"not an integer in [{lo}, {hi}]"


def _text(v, most=1 << 26) -> str | None:
    if not (isinstance(v, str) and len(v) <= most):
        return "not a string"
    try:
        v.encode("utf-8")       # JSON may write a lone surrogate ("\ud800"), which no text holds
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate)"
    return None


def _types(v) -> str | None:
    if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
        return "not a list of types"
    for t in v:
        try:
            parse_type(t)
        except SignatureError as e:
            return str(e)
    return None


def _tally(v) -> str | None:
    """{reason: count}"""
    if not isinstance(v, dict) or not all(isinstance(k, str) and _count(n) is None for k, n in v.items()):
        return "not an object of counts"
    return None


def _lowering(v) -> str | None:
    ok = isinstance(v, dict) and v.get("platform") in PLATFORMS and isinstance(v.get("symbolic"), bool) \
        and v.get("shapes", "static") in (SYMBOLIC if v["symbolic"] else ("static",))
    return None if ok else "not {platform, symbolic, shapes} (shapes static unless symbolic)"


def _ops(v) -> str | None:
    ok = isinstance(v, list) and all(isinstance(o, dict) and isinstance(o.get("op"), str) and len(o["op"]) < 200
                                     and _count(o.get("count"), 1) is None for o in v)
    return None if ok else "not a list of {op, count >= 1}"


def _attribution(v) -> str | None:
    ok = isinstance(v, list) and all(isinstance(a, dict) and isinstance(a.get("alternative"), str)
                                     and len(a["alternative"]) < 200 and isinstance(a.get("op"), str)
                                     and len(a["op"]) < 200 and _count(a.get("count"), 1) is None for a in v)
    return None if ok else "not a list of {alternative, op, count >= 1}"


def _attributed(record: dict) -> str | None:
    """Whether a record's attribution shares out exactly its op counts among
    its own alternatives."""
    owners, ops = set(record["alternatives"]) | {PROGRAM}, {}
    for a in record["attribution"]:
        if a["alternative"] not in owners:
            return f"field 'attribution': {a['alternative']!r} is not one of the program's alternatives"
        ops[a["op"]] = ops.get(a["op"], 0) + a["count"]
    if ops != {o["op"]: o["count"] for o in record["ops"]}:
        return "field 'attribution' does not add up to field 'ops'"
    return None


RECORD = {          # every field a reader of records relies on
    "id": lambda v: _text(v, 200),
    "python": _text,
    "inputs": _types,
    "outputs": _types,
    "stablehlo": _text,
    "ops": _ops,
    "alternatives": lambda v: None if isinstance(v, list) and all(isinstance(a, str) for a in v)
    else "not a list of names",
    "size": lambda v: _count(v, 1),
    "depth": _count,
    "hash": lambda v: None if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) else "not a 32-digit hex hash",
}


# fields older corpora lack: `lowering` (format 3), `attribution` (format 4)
OPTIONAL = {"lowering": _lowering, "attribution": _attribution}


def _fields(obj, checks: dict) -> str | None:
    """The first field of a JSON object missing or failing its check; the
    OPTIONAL ones checked where present."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    for name, check in checks.items():
        if name not in obj:
            return f"field {name!r} missing"
        problem = check(obj[name])
        if problem:
            return f"field {name!r}: {problem}"
    for name, check in OPTIONAL.items():
        problem = check(obj[name]) if name in obj else None
        if problem:
            return f"field {name!r}: {problem}"
    return None


def check_record(record) -> str | None:
    """What is wrong with a record, or None."""
    problem = _fields(record, RECORD)
    if problem:
        return problem
    occurrences = sum(o["count"] for o in record["ops"])
    if occurrences > len(record["stablehlo"]):
        return f"field 'ops' counts {occurrences} ops in a text of {len(record['stablehlo'])} characters"
    return _attributed(record) if "attribution" in record else None


def lowering_of(record: dict) -> dict:
    """A record's lowering: {"platform": str, "symbolic": bool, "shapes": str}."""
    return {**DEFAULT_LOWERING, **record.get("lowering", {})}


def _shard(entry, n: int) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    for key, check in (("number", _count), ("start", _count), ("stop", _count), ("records", _count),
                       ("duplicates", _count), ("failures", _tally)):
        problem = check(entry.get(key))
        if problem:
            return f"{key!r}: {problem}"
    # programs spliced, verified, by JAX (format 5); of the records written (format 6)
    if "lowering" in entry and _tally(entry["lowering"]):
        return f"'lowering': {_tally(entry['lowering'])}"
    if entry["number"] != n:
        return f"'number' is {entry['number']}, expected {n} (shards are listed in order)"
    if entry.get("file") != shard_name(n):
        return f"'file' is not {shard_name(n)}"
    if not (isinstance(entry.get("sha256"), str) and HEX.fullmatch(entry["sha256"])):
        return "'sha256' is not a sha256"
    if entry["start"] > entry["stop"] or entry["records"] > entry["stop"] - entry["start"]:
        return "'records' does not fit in 'start'..'stop'"
    return None


def check_manifest(m) -> str | None:
    """What is wrong with a manifest, or None."""
    checks = {
        "format": lambda v: _count(v, 1, FORMAT),
        "command": lambda v: None if v in ("sample", "enumerate") else "not sample or enumerate",
        "complete": lambda v: None if isinstance(v, bool) else "not true or false",
        "shard_size": lambda v: _count(v, 1, 10 ** 6),
        "target": _count,
        "grammar": _text,
        "grammar_sha256": lambda v: None if isinstance(v, str) and HEX.fullmatch(v) else "not a sha256",
        "weights": lambda v: None if isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
            and w >= 0 for k, w in v.items()) else "not an object of finite weights >= 0",
        "counts": lambda v: None if isinstance(v, dict) and _count(v.get("records")) is None
        and _count(v.get("duplicates_skipped")) is None and _tally(v.get("failures")) is None
        and ("lowering" not in v or _tally(v["lowering"]) is None)
        else "not {records, duplicates_skipped, failures[, lowering]}",
        "shards": lambda v: None if isinstance(v, list) else "not a list",
        "config": lambda v: None if isinstance(v, dict) else "not an object",
    }
    problem = _fields(m, checks)
    if problem:
        return problem
    for n, entry in enumerate(m["shards"]):
        problem = _shard(entry, n)
        if problem:
            return f"shards[{n}]: {problem}"
    listed = sum(s["records"] for s in m["shards"])
    if m["counts"]["records"] != listed:
        return f"counts.records is {m['counts']['records']}, its shards hold {listed}"
    if m["complete"] and listed > m["target"]:
        return f"complete with {listed} records, more than its target {m['target']}"
    return None


def visible(text: str) -> str:
    """The text with every character but printable ASCII and newlines written
    as an escape: a record cannot drive the terminal or hide code behind lookalikes."""
    return "".join(c if c == "\n" or (c.isascii() and c.isprintable()) else c.encode("unicode_escape").decode("ascii")
                   for c in text)


# ---------------------------------------------------------------- reading

def is_regular(path: Path) -> bool:
    """An existing regular file (a FIFO would block the reader forever)."""
    try:
        return path.is_file()
    except OSError:
        return False


def read_manifest(directory) -> dict | None:
    """The checked manifest of a corpus directory; None if it has none."""
    path = Path(directory) / MANIFEST
    if not path.exists() and not path.is_symlink():
        return None
    if not is_regular(path):
        raise CorpusError(f"{path}: not a regular file")
    try:
        with open(path, "rb") as f:
            data = f.read(MAX_MANIFEST + 1)
    except OSError as e:
        raise CorpusError(f"{path}: cannot read: {e.strerror}") from None
    if len(data) > MAX_MANIFEST:
        raise CorpusError(f"{path}: larger than {MAX_MANIFEST >> 20} MB, not a manifest")
    try:
        m = json.loads(data.decode("utf-8"))
    except UnicodeDecodeError:
        raise CorpusError(f"{path}: not UTF-8 text") from None
    except (ValueError, RecursionError) as e:     # JSONDecodeError, and ints too long to convert
        raise CorpusError(f"{path}: not JSON ({getattr(e, 'msg', None) or _first(e)})") from None
    problem = check_manifest(m)
    if problem:
        raise CorpusError(f"{path}: not a jaxsynth manifest ({problem})")
    return m


def record_files(path, manifest: dict | None = None) -> list[Path]:
    """The record files to read: those a manifest lists (in order), else every
    regular `records-*.jsonl` of a directory, or the one file given."""
    path = Path(path)
    if not path.is_dir():
        if not is_regular(path):
            raise CorpusError(f"{path}: not a corpus directory or a regular file")
        return [path]
    if manifest is not None:
        files = [path / s["file"] for s in manifest["shards"]]
        for f in files:
            if not is_regular(f):
                raise CorpusError(f"{f}: listed in {MANIFEST} but {'missing' if not f.exists() else 'not a regular file'}")
        return files
    files = sorted(f for f in path.glob("records-*.jsonl") if is_regular(f))
    if not files:
        raise CorpusError(f"{path}: no records-*.jsonl here (not a corpus directory)")
    return files


def corpus_files(path, warn=True) -> tuple[dict | None, list[Path]]:
    """(manifest or None, record files) of a corpus; says on stderr when the
    manifest is of an unfinished run (only the shards it lists are read)."""
    path = Path(path)
    manifest = read_manifest(path) if path.is_dir() else None
    if manifest is not None and not manifest["complete"] and warn:
        print(f"jaxsynth: warning: {path}: unfinished run; reading the {len(manifest['shards'])} shards "
              f"its manifest lists", file=sys.stderr)
    return manifest, record_files(path, manifest)


def _first(e: Exception) -> str:
    if isinstance(e, RecursionError):
        return "nested too deeply"
    return (str(e).splitlines() or [type(e).__name__])[0][:120]


def _lines(f):
    """(line or None if longer than MAX_LINE) for each line of a binary file,
    never holding more than MAX_LINE bytes."""
    while True:
        raw = f.readline(MAX_LINE + 1)
        if not raw:
            return
        if len(raw) > MAX_LINE and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):     # the rest of the line, unread
                raw = f.readline(MAX_LINE)
            yield None
        else:
            yield raw


def iter_lines(files):
    """(file:line, parsed JSON or None, problem or None) for every line of the files."""
    for file in files:
        try:
            f = open(file, "rb")
        except OSError as e:
            raise CorpusError(f"{file}: cannot read: {e.strerror}") from None
        with f:
            for n, raw in enumerate(_lines(f), 1):
                where = f"{file}:{n}"
                if raw is None:
                    yield where, None, f"line longer than {MAX_LINE >> 20} MB"
                    continue
                try:
                    yield where, json.loads(raw.decode("utf-8")), None
                except UnicodeDecodeError:
                    yield where, None, "not UTF-8 text"
                except (ValueError, RecursionError) as e:     # JSONDecodeError, and ints too long to convert
                    yield where, None, f"not a JSON record ({getattr(e, 'msg', None) or _first(e)})"


def iter_records(files):
    """(file:line, record or None, problem or None): every line, checked."""
    for where, record, problem in iter_lines(files):
        problem = problem or check_record(record)
        yield where, (None if problem else record), problem


class DamagedShard(CorpusError):
    """A bad record in a shard that is not what its manifest's checksum says
    (a run cut short, a changed file): `--resume` makes it again."""

    def __init__(self, message: str, manifest: dict, directory: Path):
        super().__init__(message)
        self.manifest, self.directory = manifest, directory


def sha256_of(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _shard_entry(file: Path, manifests: dict) -> tuple[dict | None, dict | None]:
    """(the manifest of the corpus a record file is a shard of, the file's
    entry in it), or Nones; `manifests` keeps each directory's, read once."""
    if file.parent not in manifests:
        try:
            manifests[file.parent] = read_manifest(file.parent) if is_regular(file.parent / MANIFEST) else None
        except CorpusError:
            manifests[file.parent] = None
    manifest = manifests[file.parent]
    entry = next((e for e in manifest["shards"] if e["file"] == file.name), None) if manifest else None
    return manifest, entry


def _changed(file: Path, entry: dict) -> bool:
    try:
        return sha256_of(file) != entry["sha256"]
    except OSError:
        return True


def bad_record(file: Path, where: str, problem: str) -> CorpusError:
    """The error for a record that breaks the schema: a DamagedShard where
    its file is a corpus's shard whose checksum differs from the manifest's."""
    message = f"{where}: not a jaxsynth record ({problem})"
    manifest, entry = _shard_entry(file, {})
    if entry is None or not _changed(file, entry):
        return CorpusError(message)
    return DamagedShard(f"{message}; the shard is not what its manifest's checksum says (a run cut short, or a "
                        f"changed file)", manifest, file.parent)


def checked_records(files):
    """(file:line, record) of every record of these files; the first that
    breaks the schema is a CorpusError naming its line (`bad_record`), and
    a shard cut at a line's end (fewer records than its manifest lists, and
    not its checksum) a DamagedShard, once read. A shard edited into other
    valid records is read: `validate` is what judges records."""
    manifests: dict = {}
    for file in map(Path, files):
        n = 0
        for where, record, problem in iter_records([file]):
            if problem:
                raise bad_record(file, where, problem)
            n += 1
            yield where, record
        manifest, entry = _shard_entry(file, manifests)
        if entry is not None and n < entry["records"] and _changed(file, entry):
            raise DamagedShard(f"{file}: {n} of the {entry['records']} records its manifest lists (a run cut "
                               f"short, or a changed file)", manifest, file.parent)


def read_records(path):
    """Checked records of a corpus directory (the shards its manifest lists)
    or of a .jsonl file, one dict at a time; the first bad one is an error."""
    for _, record in checked_records(corpus_files(path, warn=False)[1]):
        yield record
