"""A corpus directory as a dataset: its card, and a Parquet export with splits.

Every completed corpus carries `README.md`, a Hugging Face dataset card:
YAML front matter that names the record shards as the `train` split and
types every record field (`FIELDS`), then what the corpus is, the command
that makes it again, the versions and grammar it was made with (the
packaged grammar, or another by file name, and its sha256: a card names no
path of the machine that made it), and its record and op counts. So
`datasets.load_dataset(DIR)` reads exactly the records, and nothing else
of the directory (not `manifest.json`). The card
is a function of the manifest and the records, never of how many workers
made them: a resumed run rewrites it byte for byte.

`export` writes the records as `train.parquet`, `validation.parquet` and
`test.parquet` with a card of their own. A record's split is decided by its
structural hash alone (`split_of`): stable across runs, machines, file order
and shard sizes, and programs with one hash never straddle two splits.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import os
import shlex
import sys
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..synth.grammar import GrammarError, load_grammar
from ..synth.rules import SHAPES
from ..synth.space import Config
from ..synth.types import SignatureError, parse_signature
from .records import MANIFEST, CorpusError, install_hint
from .schema import checked_records, corpus_files, is_regular, visible

CARD = "README.md"
MARK = "<!-- jaxsynth dataset card: made from the corpus and rewritten with it -->"
SPLITS = ("train", "validation", "test")
PARQUET = tuple(f"{s}.parquet" for s in SPLITS)
ROWS = 1000             # records per Parquet row group: memory stays flat on any corpus

STRING, INT, BOOL = "string", "int64", "bool"
# Every field a record may carry, in record order (`records._record`), typed
# as Hugging Face features: a list is `[type]`, an object `{name: type}`. The
# card's features and the Parquet schema are both read from here.
FIELDS = {
    "id": STRING,
    "python": STRING,
    "inputs": [STRING],
    "outputs": [STRING],
    "lowering": {"platform": STRING, "symbolic": BOOL, "shapes": STRING},
    "stablehlo": STRING,
    "ops": [{"op": STRING, "count": INT}],
    "attribution": [{"alternative": STRING, "op": STRING, "count": INT}],
    "alternatives": [STRING],
    "size": INT,
    "depth": INT,
    "seed": INT,
    "index": INT,
    "hash": STRING,
}
ATTRIBUTION_MISSING = "records carry no attribution (made before jaxsynth recorded it)"


# ---------------------------------------------------------------- field types

def _yaml_feature(name: str, t) -> list[str]:
    """One feature as the YAML lines `datasets` writes for it."""
    if isinstance(t, str):
        return [f"- name: {name}", f"  dtype: {t}"]
    if isinstance(t, list) and isinstance(t[0], str):
        return [f"- name: {name}", f"  list: {t[0]}"]
    inner, key = (t[0], "list") if isinstance(t, list) else (t, "struct")
    return [f"- name: {name}", f"  {key}:"] + ["  " + line for k, v in inner.items() for line in _yaml_feature(k, v)]


def _spelled(t) -> str:
    """A field's type as the card's table says it: list[{op: string, count: int64}]."""
    if isinstance(t, str):
        return t
    if isinstance(t, list):
        return f"list[{_spelled(t[0])}]"
    return "{" + ", ".join(f"{k}: {_spelled(v)}" for k, v in t.items()) + "}"


def arrow_schema(fields):
    """The Parquet schema of the given fields (names of FIELDS, in its order)."""
    pa = _pyarrow()[0]
    scalars = {STRING: pa.string(), INT: pa.int64(), BOOL: pa.bool_()}

    def arrow(t):
        if isinstance(t, str):
            return scalars[t]
        if isinstance(t, list):
            return pa.list_(arrow(t[0]))
        return pa.struct([(k, arrow(v)) for k, v in t.items()])
    return pa.schema([(name, arrow(FIELDS[name])) for name in fields])


def _pyarrow():
    try:
        import pyarrow
        import pyarrow.parquet
    except ImportError:
        raise CorpusError(f"--parquet: needs pyarrow: {install_hint('export')}") from None
    return pyarrow, pyarrow.parquet


# ---------------------------------------------------------------- splits

def parse_fractions(text: str) -> tuple[float, float, float]:
    """'0.8,0.1,0.1' -> the train, validation and test fractions; ValueError
    unless three finite numbers >= 0 that sum to 1."""
    try:
        fractions = tuple(float(x) for x in text.split(","))
    except ValueError:
        fractions = ()
    if len(fractions) != 3 or not all(math.isfinite(f) and f >= 0 for f in fractions) \
            or abs(sum(fractions) - 1) > 1e-9:
        raise ValueError("expected three fractions >= 0 (train,validation,test) that sum to 1")
    return fractions


def thresholds(fractions) -> tuple[int, int]:
    """The cumulative fractions as bounds in [0, 2^32], integers so that no
    machine's rounding moves a record."""
    train, validation, _ = fractions
    return min(round(train * 2 ** 32), 2 ** 32), min(round((train + validation) * 2 ** 32), 2 ** 32)


def split_of(structural_hash: str, bounds: tuple[int, int]) -> int:
    """0 (train), 1 (validation) or 2 (test): int(sha256(hash)) mod 2^32
    against the cumulative fractions."""
    v = int.from_bytes(hashlib.sha256(structural_hash.encode()).digest(), "big") % 2 ** 32
    return 0 if v < bounds[0] else 1 if v < bounds[1] else 2


# ---------------------------------------------------------------- what the records hold

@dataclass
class Summary:
    records: int = 0
    fields: set = field(default_factory=set)
    occurrences: Counter = field(default_factory=Counter)     # op -> occurrences in all records
    programs: Counter = field(default_factory=Counter)        # op -> records that contain it
    attributed: int = 0                                       # records that carry `attribution`

    def add(self, record: dict) -> None:
        self.records += 1
        self.fields.update(record)
        self.attributed += "attribution" in record
        for o in record["ops"]:
            self.occurrences[o["op"]] += o["count"]
            self.programs[o["op"]] += 1

    def columns(self) -> list[str]:
        """The fields of FIELDS the records carry, in record order."""
        return [name for name in FIELDS if name in self.fields]

    def unknown(self) -> list[str]:
        return sorted(self.fields - set(FIELDS))


def summarize(files) -> Summary:
    summary = Summary()
    for _, record in checked_records(files):
        summary.add(record)
    return summary


# ---------------------------------------------------------------- the command line that makes a corpus

def grammar_weights(m: dict) -> tuple[dict | None, bool]:
    """(the weights of the grammar a corpus was made with, as its file sets
    them, or None if that grammar is not at hand; whether it is the packaged
    grammar). The manifest's own file counts only if its content is unchanged."""
    try:
        grammar = load_grammar()
        if grammar.sha256 == m["grammar_sha256"]:
            return grammar.weights(), True
        path = Path(m["grammar"])
        if is_regular(path) and path.stat().st_size < (1 << 20):
            data = path.read_bytes()        # compared before anything parses it: the manifest may lie
            if hashlib.sha256(data).hexdigest() == m["grammar_sha256"]:
                return load_grammar(path, data.decode("utf-8")).weights(), False
    except (GrammarError, OSError, UnicodeDecodeError):
        pass
    return None, False


def grammar_file(m: dict) -> str:
    """The file name of a corpus's grammar: a card names no directory of the
    machine that made the corpus."""
    return Path(m["grammar"]).name


def _grammar_named(m: dict) -> str:
    """A corpus's grammar as its card names it: the packaged one as such,
    another by its file name; either with its sha256."""
    name = "jaxsynth's packaged grammar" if grammar_weights(m)[1] else f"`{_safe(grammar_file(m))}`"
    return f"{name} (sha256 `{_safe(m['grammar_sha256'])}`)"


def _weight(w: float) -> str:
    text = repr(float(w))
    return text[:-2] if text.endswith(".0") else text


def _as_json(value):
    return json.loads(json.dumps(value))


def command_line(m: dict, out: str, here: bool = False) -> tuple[str, bool]:
    """(the `jaxsynth` command that makes the corpus of manifest `m` in `out`,
    whether it gives exactly the manifest's options). Worker counts,
    backends and the lowering strategy are left out: they change no byte.
    A grammar other than the packaged one is named by its file name, or
    `here` (on the machine that made the corpus) by its path."""
    from .pipeline import CHOSEN, NOT_COMPARED, Recipe    # the pipeline writes cards: imported when one is made
    kind, config = m["command"], m["config"]
    pools = config["pools"]
    profile = next((name for name, p in SHAPES.items()
                    if _as_json({**dataclasses.asdict(p), "dims": pools["dims"]}) == pools), "tiny")
    dims = tuple(pools["dims"])
    lowering = m.get("lowering") or {"platform": "cpu", "symbolic": False}
    inputs = parse_signature(", ".join(m["inputs"])) if m.get("inputs") else None
    max_ops = config.get("max_ops", Config().max_ops) if kind == "sample" else Config().max_ops
    chosen = {k: m[k] for k in CHOSEN if m.get(k)}
    recipe = Recipe(kind, m["grammar"], "", (), Config(pools=dataclasses.replace(SHAPES[profile], dims=dims),
                                                       max_ops=max_ops, batched=lowering["symbolic"]),
                    config.get("style", "statements"), seed=m.get("seed") or 0, inputs=inputs,
                    max_size=m.get("max_size") or 0, platform=lowering["platform"], symbolic=lowering["symbolic"],
                    **chosen)
    # how programs were lowered changes no byte: like workers, left out
    described = {k: v for k, v in recipe.describe().items() if k not in NOT_COMPARED}
    exact = _as_json({k: m.get(k) for k in described}) == described

    words = ["jaxsynth", kind]
    if kind == "sample":
        words += ["-n", str(m["target"]), "--seed", str(recipe.seed)]
        if max_ops != Config().max_ops:
            words += ["--max-ops", str(max_ops)]
        for key, value in chosen.items():
            words += [f"--{key}"] + ([] if value is True else [str(value)])
    else:
        words += ["--max-ops", str(recipe.max_size)]
        part, parts = m.get("shard") or (0, 1)
        if parts != 1:
            words += ["--shard", f"{part}/{parts}"]
    if inputs:
        words += ["--inputs", ", ".join(m["inputs"])]
    if profile != "tiny":
        words += ["--shapes", profile]
    if dims != SHAPES[profile].dims:
        words += ["--dims", ",".join(map(str, dims))]
    if recipe.style != "statements":
        words += ["--style", recipe.style]
    defaults, packaged = grammar_weights(m)
    if not packaged:
        words += ["--grammar", m["grammar"] if here else grammar_file(m)]
    if defaults is None:
        exact = False
    else:
        for name, w in m["weights"].items():
            if defaults.get(name) != w:
                words += ["--weight", f"{name}={_weight(w)}"]
    if recipe.platform != "cpu":
        words += ["--platform", recipe.platform]
    if recipe.symbolic:
        words += ["--symbolic"]
    words += ["--shard-size", str(m["shard_size"]), "--out", out]
    return " ".join(shlex.quote(w) for w in words), exact


# ---------------------------------------------------------------- the card

def _safe(value) -> str:
    """A value of a manifest or record as one line of Markdown: it cannot end
    a code span, a table cell or the front matter."""
    return visible(str(value)).replace("\n", "\\n").replace("`", "\\x60").replace("|", "\\x7c")


SIZES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B", "1B<n<10B",
         "10B<n<100B", "100B<n<1T", "n>1T")       # the Hub's size categories, by powers of ten from 10^3


def _size_category(n: int) -> str:
    return SIZES[min(max(len(str(n)) - 3, 0), len(SIZES) - 1)]


def _front_matter(data_files: list[tuple[str, str]], columns: list[str], records: int) -> list[str]:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, path in data_files:
        lines += [f"  - split: {split}", f"    path: {json.dumps(path)}"]
    lines += ["dataset_info:", "  features:"]
    lines += ["  " + line for name in columns for line in _yaml_feature(name, FIELDS[name])]
    lines += ["size_categories:", f"- {json.dumps(_size_category(records))}",
              "tags:", "- jax", "- stablehlo", "- synthetic", "---"]
    return lines


def _origin(m: dict | None) -> list[str]:
    """What the corpus is and how it was made, from its manifest (the
    directory written DIR: a card says nothing of where it lies)."""
    if m is None:
        return ["These records come without a manifest: how they were made is not known.", ""]
    lowering = m.get("lowering") or {"platform": "cpu", "symbolic": False}
    how = "enumerated exhaustively up to a size" if m["command"] == "enumerate" else "sampled"
    shapes = "symbolic dimensions (`jax.export`)" if lowering["symbolic"] else "static shapes"
    lines = [f"JAX programs {how} by [jaxsynth](https://pypi.org/project/jaxsynth/) from a grammar of JAX "
             f"operations, each with the StableHLO that JAX lowers it to ({_safe(lowering['platform'])}, "
             f"{shapes}) and the count of every op in it. No two programs share a structural hash.", "",
             "## How it was made", ""]
    try:
        command, exact = command_line(m, "DIR")
    except (KeyError, TypeError, ValueError, AttributeError, SignatureError):
        command, exact = None, False
    if command is not None:
        lines += ["```bash", visible(command).replace("\n", "\\n"), "```", "",
                  "makes these records again, byte for byte, with any number of workers or on Ray."
                  if exact else "is the nearest command; `manifest.json` holds options no flag sets.", ""]
    versions = m.get("versions") if isinstance(m.get("versions"), dict) else {}
    counts = m["counts"]
    failures = sum(counts["failures"].values())
    lines += [f"- grammar: {_grammar_named(m)}",
              "- versions: " + (", ".join(f"{_safe(k)} {_safe(v)}" for k, v in versions.items()) or "not recorded"),
              f"- records: {counts['records']}; duplicates skipped: {counts['duplicates_skipped']}; "
              f"programs that failed (none found, or not lowered): {failures}"
              + (" (reasons in `manifest.json`)" if failures else ""),
              ""]
    return lines


def _ops(summary: Summary) -> list[str]:
    total = sum(summary.occurrences.values())
    lines = ["## Ops", "", f"{len(summary.occurrences)} distinct ops, {total} occurrences in "
             f"{summary.records} records (`func.*` included).", ""]
    if summary.occurrences:
        lines += ["| op | occurrences | records |", "|---|---:|---:|"]
        for op, n in sorted(summary.occurrences.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"| `{_safe(op)}` | {n} | {summary.programs[op]} |")
        lines.append("")
    return lines


def _fields(summary: Summary) -> list[str]:
    lines = ["## Fields", "", "| field | type |", "|---|---|"]
    lines += [f"| `{name}` | {_spelled(FIELDS[name])} |" for name in summary.columns()]
    lines.append("")
    if summary.attributed < summary.records:
        lines += [f"{'Some' if summary.attributed else 'These'} {ATTRIBUTION_MISSING}.", ""]
    return lines


def card(m: dict | None, summary: Summary) -> str:
    """The card of a corpus directory: its shards are the train split."""
    lines = _front_matter([("train", "records-*.jsonl")], summary.columns(), summary.records)
    lines += [MARK, "", f"# A jaxsynth corpus: {summary.records} JAX programs and their StableHLO", ""]
    lines += _origin(m) + _ops(summary) + _fields(summary)
    lines += ["## Reading it", "", "With DIR this directory:", "", "```python",
              "import datasets", 'records = datasets.load_dataset("DIR", split="train")',
              "```", "",
              "or `duckdb`: `select * from read_json('DIR/records-*.jsonl')`. The shards are those "
              f"`{MANIFEST}` lists, with their sha256; `jaxsynth validate DIR` checks every record "
              "(derivation, types, StableHLO) without trusting it, and `jaxsynth export DIR --parquet OUT` "
              "writes train, validation and test splits as Parquet.", ""]
    return "\n".join(lines)


def export_card(m: dict | None, summary: Summary, fractions, counts) -> str:
    """The card of a Parquet export (OUT) of corpus DIR: three splits, decided
    by hash. A split without records is left out of the configuration
    (`datasets` refuses an empty one), though its file is written."""
    files = [(s, f) for s, f, n in zip(SPLITS, PARQUET, counts) if n] or [(SPLITS[0], PARQUET[0])]
    lines = _front_matter(files, summary.columns(), summary.records)
    lines += [MARK, "", f"# A jaxsynth corpus as Parquet: {summary.records} JAX programs and their StableHLO", "",
              "The records of a jaxsynth corpus DIR, in three splits. Nested fields keep their structure.", "",
              "## Splits", "", "```bash",
              f"jaxsynth export DIR --parquet OUT --splits {','.join(map(_weight, fractions))}", "```", "",
              "A record goes by its structural hash `h`: with `v = int(sha256(h)) mod 2^32`, to train if "
              "`v < round(train * 2^32)`, else to validation if `v < round((train + validation) * 2^32)`, else to "
              "test. Exporting again, on any machine, from the records in any order, gives the same splits.", "",
              "| split | fraction | records |", "|---|---:|---:|"]
    lines += [f"| {s} | {_weight(f)} | {n} |" for s, f, n in zip(SPLITS, fractions, counts)]
    lines += ["", "## The corpus", ""] + _origin(m) + _ops(summary) + _fields(summary)
    lines += ["## Reading it", "", "With OUT this directory:", "", "```python",
              "import datasets", 'splits = datasets.load_dataset("OUT")',
              "```", "", "or `duckdb`: `select * from read_parquet('OUT/train.parquet')`.", ""]
    return "\n".join(lines)


def _ours(path: Path) -> bool:
    """A card jaxsynth wrote (its mark after the front matter)."""
    if not is_regular(path) or path.is_symlink():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return ("\n" + MARK + "\n").encode() in head


def write_card(directory) -> None:
    """Write the card of a completed corpus, atomically; a README.md that is
    not a jaxsynth card is the user's, and stays."""
    from .pipeline import _atomic_write
    directory = Path(directory)
    path = directory / CARD
    if (path.exists() or path.is_symlink()) and not _ours(path):
        print(f"jaxsynth: warning: {path}: not a jaxsynth dataset card; left as it is", file=sys.stderr)
        return
    manifest, files = corpus_files(directory, warn=False)
    _atomic_write(path, card(manifest, summarize(files)).encode())


# ---------------------------------------------------------------- Parquet

def _check_out(out: Path) -> None:
    """OUT may be new, empty, or a previous export (its own card, split files,
    and what an export cut short leaves); never anything else."""
    if not out.exists() and not out.is_symlink():
        return
    if not out.is_dir():
        raise CorpusError(f"--parquet {out}: not a directory")
    ours = {CARD, *PARQUET, *(f + ".partial" for f in PARQUET)}
    try:
        names = {p.name for p in out.iterdir()}
    except OSError as e:
        raise CorpusError(f"--parquet {out}: cannot read: {e.strerror}") from None
    finished = names - {n for n in names if n.endswith(".partial")}
    if names - ours or (finished and not _ours(out / CARD)) \
            or not all(is_regular(out / n) and not (out / n).is_symlink() for n in names):
        raise CorpusError(f"--parquet {out}: not empty and not a jaxsynth export; choose another directory")


def _table(pa, batch, schema):
    """The Arrow table of [(file:line, record)]; a record that does not fit
    the schema (an integer beyond int64) is an error that names it."""
    bad = (pa.ArrowException, OverflowError, TypeError, ValueError)
    try:
        return pa.Table.from_pylist([record for _, record in batch], schema=schema)
    except bad:
        for where, record in batch:
            try:
                pa.Table.from_pylist([record], schema=schema)
            except bad as e:
                raise CorpusError(f"{where}: does not fit the Parquet schema ({_safe(e)[:200]})") from None
        raise


def _synced(path: Path, final: Path | None) -> None:
    """fsync a file (or directory), then move it to `final`, if given."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
    if final is not None:
        os.replace(path, final)


def export(directory, out, fractions=(0.8, 0.1, 0.1)) -> tuple[int, int, int]:
    """Write the records of a corpus (directory or .jsonl file) to OUT as
    train/validation/test Parquet files and a card; the records per split."""
    from .pipeline import _atomic_write
    pa, pq = _pyarrow()
    directory, out = Path(directory), Path(out)
    manifest, files = corpus_files(directory)
    _check_out(out)
    summary = summarize(files)          # first pass: which fields the records carry
    if summary.unknown():
        print(f"jaxsynth: warning: {directory}: fields not exported (not jaxsynth record fields): "
              f"{', '.join(_safe(f) for f in summary.unknown())}", file=sys.stderr)
    if summary.attributed < summary.records:
        print(f"jaxsynth: warning: {directory}: {'some ' if summary.attributed else ''}{ATTRIBUTION_MISSING}",
              file=sys.stderr)
    schema = arrow_schema(summary.columns())
    bounds = thresholds(fractions)
    fresh = not out.exists()
    partials = [out / (f + ".partial") for f in PARQUET]
    try:
        out.mkdir(parents=True, exist_ok=True)
        counts = _write_splits(pa, pq, files, schema, partials, bounds)
        if sum(counts) != summary.records:
            raise CorpusError(f"{directory}: changed while it was exported; export it again")
        # the card first: if a crash follows, OUT is still recognised as an export
        _atomic_write(out / CARD, export_card(manifest, summary, fractions, counts).encode())
        for partial, name in zip(partials, PARQUET):
            _synced(partial, out / name)
        _synced(out, None)
    except BaseException as e:
        for partial in partials:        # what this export began; a previous export's files stay
            if partial.is_file() and not partial.is_symlink():
                partial.unlink()
        if fresh and out.is_dir() and not any(out.iterdir()):
            out.rmdir()
        if isinstance(e, OSError):
            raise CorpusError(f"--parquet {out}: cannot write: {e.strerror or e}") from None
        raise
    return counts


def _write_splits(pa, pq, files, schema, partials, bounds) -> tuple[int, int, int]:
    """Stream the checked records into one Parquet file per split, ROWS at a time."""
    writers = []
    try:
        for p in partials:
            if p.is_symlink() or p.exists():
                p.unlink()      # left by a crash; never written through
            writers.append(pq.ParquetWriter(p, schema, compression="zstd"))
        counts, pending = [0, 0, 0], [[], [], []]
        for where, record in checked_records(files):
            s = split_of(record["hash"], bounds)
            pending[s].append((where, record))
            counts[s] += 1
            if len(pending[s]) >= ROWS:
                writers[s].write_table(_table(pa, pending[s], schema))
                pending[s] = []
        for s, writer in enumerate(writers):
            if pending[s]:
                writer.write_table(_table(pa, pending[s], schema))
    finally:
        for writer in writers:
            writer.close()
    return tuple(counts)
