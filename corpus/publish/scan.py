"""What the report shows of one corpus, read in one pass, and the lines of a
record's StableHLO where each op is written (for the page's examples).

Nothing here draws or writes HTML: a scan is plain counts and the records
chosen as examples.
"""
from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from ..analysis.coverage import Coverage
from ..analysis.diversity import MAX_NESTING, nesting
from ..analysis.quality import Quality
from ..run.files import CorpusError
from ..run.readers import checked_records, corpus_files


@dataclass
class Example:
    """A program shown for an op: (size, length of its Python, order read) decides which is smallest."""
    key: tuple
    id: str
    where: str
    python: str
    stablehlo: str

    @property
    def size(self) -> int:
        return self.key[0]


@dataclass
class Scan:
    """What the page shows of one corpus, read in one pass."""
    path: Path
    manifest: dict | None
    coverage: Coverage
    sizes: Counter = field(default_factory=Counter)
    depths: Counter = field(default_factory=Counter)
    arities: Counter = field(default_factory=Counter)
    examples: dict = field(default_factory=dict)      # op -> Example: the smallest program containing it
    made: dict = field(default_factory=dict)          # (op, alternative) -> Example: the smallest where it made the op

    def add(self, where: str, record: dict) -> None:
        self.coverage.add(record)
        self.sizes[record["size"]] += 1
        self.depths[record["depth"]] += 1
        self.arities[len(record["inputs"])] += 1
        key = (record["size"], len(record["python"]), self.coverage.programs)
        example = None

        def keep(table: dict, k) -> None:
            nonlocal example
            best = table.get(k)
            if best is None or key < best.key:
                example = example or Example(key, record["id"], where, record["python"], record["stablehlo"])
                table[k] = example
        for item in record["ops"]:
            keep(self.examples, item["op"])
        for a in record.get("attribution", ()):     # which alternative made the op: the typical one is chosen later
            keep(self.made, (a["op"], a["alternative"]))

    @property
    def programs(self) -> int:
        return self.coverage.programs

    def report(self) -> dict:
        return self.coverage.report(self.manifest["weights"] if self.manifest else {})


def scan(path, grammar_of) -> Scan:
    """Read a corpus through the schema's readers; `grammar_of(manifest)` is
    the grammar whose flags the quality scan reads."""
    manifest, files = corpus_files(path)
    s = Scan(Path(path), manifest, Coverage(Quality(grammar_of(manifest))))
    for where, record in checked_records(files):
        s.add(where, record)
    if not s.programs:
        raise CorpusError(f"{path}: no records")
    return s


def op_lines(stablehlo: str) -> dict[str, list[int]] | None:
    """op -> the 1-based lines of the text where it is written, from the
    locations MLIR gives each op as it parses (an op in the compact form of a
    region, `applies stablehlo.add`, is on its parent's line); None if the
    text does not parse here."""
    from jax._src.interpreters import mlir      # a context with the stablehlo, chlo, sdy dialects
    from jaxlib.mlir import ir
    if nesting(stablehlo) > MAX_NESTING:        # MLIR's parser recurses: a deep text would crash the process
        return None
    lines: dict[str, list[int]] = {}

    def visit(op):
        line = getattr(op.location, "start_line", None)     # only a file:line:col location has one
        if isinstance(line, int):
            lines.setdefault(op.operation.name, []).append(line)
        return ir.WalkResult.ADVANCE

    with mlir.make_ir_context():
        try:
            module = ir.Module.parse(stablehlo)
        except Exception:       # MLIRError, and whatever a text of unknown origin makes the parser raise
            return None
        module.operation.walk(visit)
    return {op: sorted(set(ls)) for op, ls in lines.items()}
