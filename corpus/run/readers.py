"""Readers of a corpus on disk that never trust it: the manifest and the
shards it lists are checked against the schema (`schema`) before anything
uses them, a shard that changed since its manifest is refused at its first
bad line (`DamagedShard`), and files that are not regular files (a FIFO, a
device) are never opened.
"""
from __future__ import annotations

import hashlib
import json
import sys
from pathlib import Path

from .files import MANIFEST, CorpusError
from .schema import MAX_LINE, MAX_MANIFEST, check_manifest, check_record


def visible(text: str) -> str:
    """The text with every character but printable ASCII and newlines written
    as an escape: a record cannot drive the terminal or hide code behind lookalikes."""
    return "".join(c if c == "\n" or (c.isascii() and c.isprintable()) else c.encode("unicode_escape").decode("ascii")
                   for c in text)


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
