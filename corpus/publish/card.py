"""A corpus directory's dataset card, and what every card is made of.

Every completed corpus carries `README.md`, a Hugging Face dataset card:
YAML front matter that names the record shards as the `train` split and
types every record field (`run.fields.FEATURES`), then what the corpus is, the command
that makes it again, the versions and grammar it was made with (the
packaged grammar, or another by file name, and its sha256: a card names no
path of the machine that made it), and its record and op counts. So
`datasets.load_dataset(DIR)` reads exactly the records, and nothing else
of the directory (not `manifest.json`). The card
is a function of the manifest and the records, never of how many workers
made them: a resumed run rewrites it byte for byte. The card of a Parquet
export (`export`) is made of the same sections.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import shlex
import sys
from dataclasses import dataclass, field
from pathlib import Path

from ...synth.grammar import GrammarError, load_grammar
from ...synth.rules import SHAPES
from ...synth.space import Config
from ...synth.types import SignatureError, parse_signature
from ..analysis.tally import Tally
from ..run.fields import FEATURES, multiset
from ..run.files import CARD, MANIFEST, atomic_write
from ..run.readers import checked_records, corpus_files, is_regular, visible
from ..run.recipe import CHOSEN, NOT_COMPARED, Recipe

MARK = "<!-- jaxsynth dataset card: made from the corpus and rewritten with it -->"
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


# ---------------------------------------------------------------- what the records hold

@dataclass
class Summary:
    """What the card says of a corpus's records: summed as the run writes
    them (`add`, the run's `each`), or read back from the shards (`summarize`)."""
    tally: Tally = field(default_factory=Tally)     # ops: occurrences, records containing each
    fields: set = field(default_factory=set)
    attributed: int = 0                             # records that carry `attribution`

    @property
    def records(self) -> int:
        return self.tally.programs

    def add(self, fields, ops) -> None:
        """One record: its fields, its (op, count) pairs."""
        self.tally.add(ops)
        self.fields.update(fields)
        self.attributed += "attribution" in fields

    def columns(self) -> list[str]:
        """The fields the records carry, in record order."""
        return [name for name in FEATURES if name in self.fields]

    def unknown(self) -> list[str]:
        return sorted(self.fields - set(FEATURES))


def summarize(files) -> Summary:
    summary = Summary()
    for _, record in checked_records(files):
        summary.add(record, multiset(record))
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
    name = "jaxsynth's packaged grammar" if grammar_weights(m)[1] else f"`{safe(grammar_file(m))}`"
    return f"{name} (sha256 `{safe(m['grammar_sha256'])}`)"


def short_number(w: float) -> str:
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
    kind, config = m["command"], m["config"]
    pools = config["pools"]     # as written, not as `config_of` bounds a corpus of unknown origin
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
                words += ["--weight", f"{name}={short_number(w)}"]
    if recipe.platform != "cpu":
        words += ["--platform", recipe.platform]
    if recipe.symbolic:
        words += ["--symbolic"]
    words += ["--shard-size", str(m["shard_size"]), "--out", out]
    return " ".join(shlex.quote(w) for w in words), exact


# ---------------------------------------------------------------- the card

def safe(value) -> str:
    """A value of a manifest or record as one line of Markdown: it cannot end
    a code span, a table cell or the front matter."""
    return visible(str(value)).replace("\n", "\\n").replace("`", "\\x60").replace("|", "\\x7c")


SIZES = ("n<1K", "1K<n<10K", "10K<n<100K", "100K<n<1M", "1M<n<10M", "10M<n<100M", "100M<n<1B", "1B<n<10B",
         "10B<n<100B", "100B<n<1T", "n>1T")       # the Hub's size categories, by powers of ten from 10^3


def _size_category(n: int) -> str:
    return SIZES[min(max(len(str(n)) - 3, 0), len(SIZES) - 1)]


def front_matter(data_files: list[tuple[str, str]], columns: list[str], records: int) -> list[str]:
    lines = ["---", "configs:", "- config_name: default", "  data_files:"]
    for split, path in data_files:
        lines += [f"  - split: {split}", f"    path: {json.dumps(path)}"]
    lines += ["dataset_info:", "  features:"]
    lines += ["  " + line for name in columns for line in _yaml_feature(name, FEATURES[name])]
    lines += ["size_categories:", f"- {json.dumps(_size_category(records))}",
              "tags:", "- jax", "- stablehlo", "- synthetic", "---"]
    return lines


def origin_section(m: dict | None) -> list[str]:
    """What the corpus is and how it was made, from its manifest (the
    directory written DIR: a card says nothing of where it lies)."""
    if m is None:
        return ["These records come without a manifest: how they were made is not known.", ""]
    lowering = m.get("lowering") or {"platform": "cpu", "symbolic": False}
    how = "enumerated exhaustively up to a size" if m["command"] == "enumerate" else "sampled"
    shapes = "symbolic dimensions (`jax.export`)" if lowering["symbolic"] else "static shapes"
    lines = [f"JAX programs {how} by [jaxsynth](https://pypi.org/project/jaxsynth/) from a grammar of JAX "
             f"operations, each with the StableHLO that JAX lowers it to ({safe(lowering['platform'])}, "
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
              "- versions: " + (", ".join(f"{safe(k)} {safe(v)}" for k, v in versions.items()) or "not recorded"),
              f"- records: {counts['records']}; duplicates skipped: {counts['duplicates_skipped']}; "
              f"programs that failed (none found, or not lowered): {failures}"
              + (" (reasons in `manifest.json`)" if failures else ""),
              ""]
    return lines


def ops_section(summary: Summary) -> list[str]:
    occurrences = summary.tally.occurrences
    total = sum(occurrences.values())
    lines = ["## Ops", "", f"{len(occurrences)} distinct ops, {total} occurrences in "
             f"{summary.records} records (`func.*` included).", ""]
    if occurrences:
        lines += ["| op | occurrences | records |", "|---|---:|---:|"]
        for op, n in sorted(occurrences.items(), key=lambda kv: (-kv[1], kv[0])):
            lines.append(f"| `{safe(op)}` | {n} | {summary.tally.containing[op]} |")
        lines.append("")
    return lines


def fields_section(summary: Summary) -> list[str]:
    lines = ["## Fields", "", "| field | type |", "|---|---|"]
    lines += [f"| `{name}` | {_spelled(FEATURES[name])} |" for name in summary.columns()]
    lines.append("")
    if summary.attributed < summary.records:
        lines += [f"{'Some' if summary.attributed else 'These'} {ATTRIBUTION_MISSING}.", ""]
    return lines


def card(m: dict | None, summary: Summary) -> str:
    """The card of a corpus directory: its shards are the train split."""
    lines = front_matter([("train", "records-*.jsonl")], summary.columns(), summary.records)
    lines += [MARK, "", f"# A jaxsynth corpus: {summary.records} JAX programs and their StableHLO", ""]
    lines += origin_section(m) + ops_section(summary) + fields_section(summary)
    lines += ["## Reading it", "", "With DIR this directory:", "", "```python",
              "import datasets", 'records = datasets.load_dataset("DIR", split="train")',
              "```", "",
              "or `duckdb`: `select * from read_json('DIR/records-*.jsonl')`. The shards are those "
              f"`{MANIFEST}` lists, with their sha256; `jaxsynth validate DIR` checks every record "
              "(derivation, types, StableHLO) without trusting it, and `jaxsynth export DIR --parquet OUT` "
              "writes train, validation and test splits as Parquet.", ""]
    return "\n".join(lines)


def is_card(path: Path) -> bool:
    """A card jaxsynth wrote (its mark after the front matter)."""
    if not is_regular(path) or path.is_symlink():
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(1 << 16)
    except OSError:
        return False
    return ("\n" + MARK + "\n").encode() in head


def write_card(directory, summary: Summary | None = None) -> None:
    """Write the card of a completed corpus, atomically, from the `summary`
    of its records the run made as it wrote them, or else read back; a
    README.md that is not a jaxsynth card is the user's, and stays."""
    directory = Path(directory)
    path = directory / CARD
    if (path.exists() or path.is_symlink()) and not is_card(path):
        print(f"jaxsynth: warning: {path}: not a jaxsynth dataset card; left as it is", file=sys.stderr)
        return
    manifest, files = corpus_files(directory, warn=False)
    atomic_write(path, card(manifest, summary if summary is not None else summarize(files)).encode())
