"""A corpus's files: their names, the format number, the error a corpus
on disk gives, and the one way this package writes a file (atomically).
"""
from __future__ import annotations

import os
from pathlib import Path

MANIFEST = "manifest.json"
CARD = "README.md"      # the dataset card, beside the records
# of the manifest; 3: records say how they were lowered ("lowering"); 4: "attribution";
# 5: attribution skips the frames JAX reuses from another call's trace (`lowering.op_sites`);
# 6: a shard's "lowering" counts the records written, not every program it made
FORMAT = 6


class CorpusError(ValueError):
    """A corpus on disk that cannot be read or written as asked."""


def shard_name(number: int) -> str:
    return f"records-{number:05d}.jsonl"


def atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".partial")
    try:
        if tmp.is_symlink() or (tmp.exists() and not tmp.is_dir()):
            tmp.unlink()        # left by a crash, or not a file at all (a FIFO would block the write)
        # a new file, never through a link a corpus from elsewhere may hold
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o644)
        with open(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
        fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
    except OSError as e:
        raise CorpusError(f"{path}: cannot write: {e.strerror}") from None
