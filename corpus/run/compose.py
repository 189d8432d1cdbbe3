"""Compositional lowering: each distinct step lowered once, programs spliced from them.

A program's steps are cut into one-step programs (`synth.fragments`); each
distinct one (`fragment_key`) is lowered once, by JAX, many in one
function (`lowering.lower_flat`), and
cut into a `lowering.splice.Piece`, with which ops of it each alternative
made (`records.attribution`). A program is then its pieces spliced
(`lowering.splice.splice`), without JAX. The text is the one
`jax.jit(f).lower(...).as_text()` prints; where JAX's whole-program passes
would print something else, `splice` says so and the program is lowered
by JAX (`Composed.whole`). Pieces live in memory for the process and, with
a `FragmentCache`, on disk across runs.
"""
from __future__ import annotations

import hashlib
import itertools
import json
import os
import sqlite3
import sys
import time
from collections import Counter
from functools import lru_cache
from pathlib import Path
from typing import NamedTuple

from ...lowering import LoweringError, lower_flat
from ...lowering.splice import Piece, Step, Whole, cut, splice
from ...synth.fragments import evaluation_order, fragment
from ...synth.printer import printed
from ...synth.program import Program, op_tree, token_text, tree_text
from ...synth.skeleton import NAME
from ...synth.types import format_signature
from .records import PROGRAM, by_jax_attributed


def fragment_key(program: Program) -> str:
    """What fixes a one-step program's printed text, without printing it:
    its signature and the repr of its step's tree."""
    refs = [token_text(NAME, program.name(i)) for i in range(len(program.inputs))]
    return format_signature(program.inputs) + "|" + op_tree(program.steps[0], refs, refs, tree_text, token_text)


class Stored(NamedTuple):
    """What is kept of a lowered fragment: its piece and attribution, or why it did not lower."""
    piece: Piece | None
    attribution: tuple[tuple[str, str, int], ...]   # (alternative, op, count)
    error: str = ""


def _encode(stored: Stored) -> str:
    return json.dumps([stored.piece and list(stored.piece), stored.attribution, stored.error])


def _decode(text: str) -> Stored:
    piece, attributed, error = json.loads(text)
    if piece is not None:
        header, args, params, body, returns, results, helpers, weak, whole, others = piece
        piece = Piece(header, tuple(args), tuple(params), tuple(body), tuple(returns),
                      tuple(results), tuple((n, tuple(ls)) for n, ls in helpers), tuple(weak), whole, tuple(others))
    return Stored(piece, tuple(tuple(a) for a in attributed), error)


def code_files() -> list[Path]:
    """The files of the code that makes pieces, prints programs and says where
    their operations are: the packages' own folders, not their parent (installed
    editable, that is the checkout, whose .venv holds all of JAX: a second to
    read, and changed by any pip install)."""
    from ... import lowering, synth
    folders = [Path(m.__file__).resolve().parent for m in (synth, lowering, sys.modules[__package__])]
    return sorted(f for folder in folders for f in folder.rglob("*.py"))     # the rules are a package


@lru_cache(maxsize=1)
def code_version() -> str:
    """A hash of `code_files`: a cache never serves pieces of other code."""
    return hashlib.sha256(b"".join(f.read_bytes() for f in code_files())).hexdigest()[:12]


def default_cache_root() -> Path:
    """$JAXSYNTH_FRAGMENTS, else the user's cache directory."""
    if os.environ.get("JAXSYNTH_FRAGMENTS"):
        return Path(os.environ["JAXSYNTH_FRAGMENTS"])
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxsynth" / "fragments"


class FragmentCache:
    """Lowered fragments on disk, so that runs start warm: one SQLite file per
    jax and jaxlib version, platform and grammar (pieces name the grammar's
    alternatives), which concurrent processes share; past `max_bytes` the
    oldest quarter of its entries is deleted (the file keeps its size and
    reuses the space). Keys are the fragments' sha256."""

    def __init__(self, root, grammar_sha256: str, platform: str, max_bytes: int = 1 << 30):
        import jax
        import jaxlib
        self.path = Path(root) / (f"jax{jax.__version__}-jaxlib{jaxlib.__version__}-{platform}-"
                                  f"{grammar_sha256[:12]}-{code_version()}.sqlite")
        self.max_bytes, self._db, self._puts, self.broken = max_bytes, None, 0, False

    def _connect(self) -> sqlite3.Connection:
        if self._db is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            db = sqlite3.connect(self.path, timeout=120, isolation_level=None)
            db.execute("PRAGMA journal_mode=WAL")
            db.execute("PRAGMA synchronous=NORMAL")
            db.execute("CREATE TABLE IF NOT EXISTS pieces (key TEXT PRIMARY KEY, value TEXT NOT NULL)")
            self._db = db
        return self._db

    def _failed(self, e: Exception) -> None:
        """A cache that cannot be used is no reason to stop a run: say so once, go on without it."""
        print(f"jaxsynth: warning: fragment cache {self.path}: {type(e).__name__}: {e}; going on without it",
              file=sys.stderr, flush=True)
        self.broken = True

    @staticmethod
    def key(fragment: str) -> str:
        return hashlib.sha256(fragment.encode()).hexdigest()

    def get(self, fragments: list[str]) -> dict[str, Stored]:
        out: dict[str, Stored] = {}
        if self.broken:
            return out
        keys = {self.key(s): s for s in fragments}
        items = list(keys)
        try:
            db = self._connect()
            for i in range(0, len(items), 500):
                chunk = items[i:i + 500]
                rows = db.execute(f"SELECT key, value FROM pieces WHERE key IN ({','.join('?' * len(chunk))})",
                                  chunk).fetchall()
                for key, value in rows:
                    try:
                        out[keys[key]] = _decode(value)
                    except (ValueError, TypeError):     # a damaged entry is lowered again
                        pass
        except (sqlite3.Error, OSError) as e:
            self._failed(e)
        return out

    def put(self, items: dict[str, Stored]) -> None:
        if not items or self.broken:
            return
        try:
            db = self._connect()
            with db:
                db.execute("BEGIN IMMEDIATE")
                db.executemany("INSERT OR REPLACE INTO pieces VALUES (?, ?)",
                               [(self.key(s), _encode(st)) for s, st in items.items()])
            self._puts += len(items)
            if self._puts >= 1000:
                self._puts = 0
                self._bound(db)
        except (sqlite3.Error, OSError) as e:
            self._failed(e)

    def _bound(self, db) -> None:
        pages, size = (db.execute(f"PRAGMA {p}").fetchone()[0] for p in ("page_count", "page_size"))
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        if (pages - free) * size > self.max_bytes:
            with db:
                db.execute("BEGIN IMMEDIATE")
                n = db.execute("SELECT count(*) FROM pieces").fetchone()[0]
                db.execute("DELETE FROM pieces WHERE rowid IN (SELECT rowid FROM pieces ORDER BY rowid LIMIT ?)",
                           (n // 4 + 1,))


class Composed(NamedTuple):
    """A program's lowering from its pieces: text, ops, attribution; or
    `whole`, why JAX lowers it (text etc. empty)."""
    text: str = ""
    ops: dict | None = None
    attribution: list | None = None
    whole: str = ""


class Composer:
    """Lowers programs of one grammar for one platform by splicing (see the module)."""

    def __init__(self, grammar, platform: str = "cpu", cache: FragmentCache | None = None, batch: int = 200,
                 memory: int = 20_000):
        self.grammar, self.platform, self.cache, self.batch, self.memory = grammar, platform, cache, batch, memory
        self.pieces: dict[str, Stored] = {}
        self.stats: Counter = Counter()     # steps: hit (memory), disk, lowered; programs: spliced, whole
        self.times: Counter = Counter()     # seconds spent in each stage

    def lower(self, programs: list[Program], style: str = "statements") -> list[Composed]:
        """Each program's Composed, as printed in `style` (which orders its steps)."""
        t0 = time.perf_counter()
        plans = [[fragment(p, k) for k in range(len(p.steps))] for p in programs]
        keys = [[fragment_key(f.program) for f in plan] for plan in plans]
        t1 = time.perf_counter()
        pieces = self._ensure([(key, f.program) for plan, ks in zip(plans, keys) for f, key in zip(plan, ks)])
        t2 = time.perf_counter()
        out = []
        for p, plan, ks in zip(programs, plans, keys):
            order = evaluation_order(p, style)
            if order is None:
                self.stats["whole"] += 1
                out.append(Composed(whole="a value written inside a lambda"))
            else:
                out.append(self._splice(p, [plan[k] for k in order], [pieces[ks[k]] for k in order]))
        self.times["steps cut"] += t1 - t0
        self.times["steps found or lowered"] += t2 - t1
        self.times["spliced and printed by MLIR"] += time.perf_counter() - t2
        return out

    def _ensure(self, fragments: list[tuple[str, Program]]) -> dict[str, Stored]:
        """The Stored of each fragment (`fragment_key`, one-step program): from
        memory, the disk cache, or lowered now."""
        missing: dict[str, Program] = {}
        pieces: dict[str, Stored] = {}
        for s, p in fragments:
            if s in pieces or s in missing:
                self.stats["hit"] += 1
            elif s in self.pieces:
                self.stats["hit"] += 1
                pieces[s] = self.pieces[s]
            else:
                missing[s] = p
        if self.cache is not None and missing:
            found = self.cache.get(list(missing))
            self.stats["disk"] += len(found)
            for s, stored in found.items():
                self._keep(s, stored)
                pieces[s] = stored
                del missing[s]
        self.stats["lowered"] += len(missing)
        new: dict[str, Stored] = {}
        todo = list(missing.items())
        for i in range(0, len(todo), self.batch):
            chunk = [s for s, _ in todo[i:i + self.batch]]
            texts = [printed(missing[s].tree, self.grammar) for s in chunk]
            done = by_jax_attributed(texts, [missing[s] for s in chunk],    # MLIR prints them once spliced
                                     lambda jobs: lower_flat(jobs, self.platform, canonical=False))
            for s, low in zip(chunk, done):
                if isinstance(low, LoweringError):
                    stored = Stored(None, (), str(low))
                else:
                    low, attributed = low
                    stored = Stored(cut(low),
                                    tuple((a["alternative"], a["op"], a["count"]) for a in attributed))
                self._keep(s, stored)
                new[s] = pieces[s] = stored
        if self.cache is not None:
            self.cache.put(new)
        return pieces

    def _keep(self, key: str, stored: Stored) -> None:
        if len(self.pieces) >= self.memory:     # memory stays flat: the oldest go (the disk keeps them)
            for s in list(itertools.islice(self.pieces, len(self.pieces) // 4)):
                del self.pieces[s]
        self.pieces[key] = stored

    def _splice(self, program: Program, plan, stored: list[Stored]) -> Composed:
        failed = next((st.error for st in stored if st.piece is None), None)
        if failed is not None:
            self.stats["whole"] += 1
            return Composed(whole=f"a step does not lower alone ({failed})")
        steps = []
        for f, st in zip(plan, stored):
            inner = f.program
            # the piece returns its program's outputs: the step's results, and
            # parameters only their shape was read of
            n = len(f.params)
            steps.append(Step(st.piece, f.params, tuple(f.results[v - n] if v >= n else None for v in inner.outputs)))
        try:
            text, ops = splice(steps, len(program.inputs), program.outputs)
        except Whole as e:
            self.stats["whole"] += 1
            return Composed(whole=str(e))
        self.stats["spliced"] += 1
        counts: Counter = Counter()
        for st in stored:
            for alt, op, n in st.attribution:
                counts[alt, op] += n
        # one main and its return, not one per step; one declaration of the mesh
        counts[PROGRAM, "func.func"] -= len(stored) - 1
        counts[PROGRAM, "func.return"] -= len(stored) - 1
        meshed = [st.piece for st in stored if st.piece.others]
        for line in meshed[0].others if meshed else ():
            counts[PROGRAM, line.split()[0]] -= len(meshed) - 1
        attributed = [{"alternative": a, "op": o, "count": n} for (a, o), n in sorted(counts.items()) if n]
        return Composed(text, ops, attributed)

