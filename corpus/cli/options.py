"""The command line's grammar: every command, its options and their
checks. A bad option is a UsageError of one line that names it (`Parser`);
`--help` and `--version` answer without importing JAX.
"""
from __future__ import annotations

import argparse
import os
from pathlib import Path

from ...lowering import PLATFORMS
from ...synth.grammar import profiles
from ...synth.printer import STYLES
from ...synth.rules import SHAPES
from ...synth.space import SWARM_SUBSETS, Config
from ...synth.types import SignatureError, check_dims
from ..analysis.coverage import MEASURES
from ..analysis.tune import SOLVERS
from ..run.compose import default_cache_root
from ..run.recipe import POOL_BOUNDS
from .bench import ENUMERATE, SHARD

DEFAULT_OUT = Path("corpus") / "out"


SHARD_SIZE = 250        # programs per shard, at most, unless --shard-size says otherwise


TIME_LIMIT = 120.0      # seconds counting one size may be estimated to take, by default


class UsageError(Exception):
    """A bad option or argument; the message names it."""


class Parser(argparse.ArgumentParser):
    def error(self, message):   # one line, exit 2, like every other bad input
        raise UsageError(message)


def _dims(text: str) -> tuple[int, ...]:
    try:
        dims = tuple(int(d) for d in text.split(","))
    except ValueError:
        dims = ()
    if not dims or min(dims) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a comma-separated list of positive ints")
    try:
        check_dims(dims)
    except SignatureError as e:
        raise argparse.ArgumentTypeError(str(e)) from None
    if len(dims) > POOL_BOUNDS["dims"]:     # else the corpus is one its own readers refuse
        raise argparse.ArgumentTypeError(f"{len(dims)} values; at most {POOL_BOUNDS['dims']}")
    return dims


def _positive(text: str) -> int:
    if not text.isdigit() or int(text) < 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a positive integer")
    return int(text)


def _seconds(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value < float("inf"):
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds >= 0")
    return value


def _natural(text: str) -> int:
    if not text.isdigit():
        raise argparse.ArgumentTypeError(f"{text!r} is not an integer >= 0")
    return int(text)


def _shard(text: str) -> tuple[int, int]:
    i, slash, n = text.partition("/")
    if not (slash and i.isdigit() and n.isdigit() and int(i) < int(n)):
        raise argparse.ArgumentTypeError(f"{text!r} is not I/N with 0 <= I < N")
    return int(i), int(n)


def _lowering_options(s, sampled: bool = True):
    s.add_argument("--platform", choices=PLATFORMS, default="cpu",
                   help="lower for this platform, without its hardware (default cpu)")
    s.add_argument("--symbolic", action="store_true",
                   help="lower through jax.export with symbolic dimensions (the dynamic_* ops)"
                        + ("; programs are made of operations JAX can batch" if sampled else ""))


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 <= value <= 1:
        raise argparse.ArgumentTypeError(f"{text!r} is not a fraction in [0, 1]")
    return value


def _strategy_options(s):
    s.add_argument("--lowering", choices=("compose", "batched"), default="compose",
                   help="compose (default): each distinct step lowered once by JAX and programs spliced from "
                        "them, the text JAX prints (programs JAX's whole-program passes change are lowered by "
                        "JAX); batched: every program lowered by JAX, many to a module")
    s.add_argument("--verify", type=_fraction, default=0.01, metavar="P",
                   help="compose: lower this fraction of spliced programs (chosen by hash) by JAX as well; a "
                        "difference stops the run before the program is written (default 0.01)")
    s.add_argument("--cache", type=Path, default=default_cache_root(),
                   help="compose: directory of the fragment cache, shared by runs and workers "
                        f"(default {default_cache_root()})")
    s.add_argument("--no-cache", action="store_true", help="compose: no fragment cache on disk")


def _weights_options(s):
    s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
    s.add_argument("--profile", choices=profiles(),
                   help="a named weights file shipped with the grammar (grammar/profiles/); "
                        "--weights and --weight apply over it")
    s.add_argument("--weights", type=Path, help="file of NAME = WEIGHT lines")
    s.add_argument("--weight", action="append", default=[], metavar="ALT=W", help="override a weight")


def _version() -> str:
    """jaxsynth's version and the JAX it lowers with, without importing JAX."""
    from importlib import metadata

    def of(name):
        try:
            return metadata.version(name)
        except metadata.PackageNotFoundError:
            return "not installed"
    return f"jaxsynth {of('jaxsynth')} (jax {of('jax')}, jaxlib {of('jaxlib')})"


def _generation_options(s):
    """What sample and enumerate share: the grammar, the signature, the shapes, the run."""
    _weights_options(s)
    s.add_argument("--inputs", help='input signature, e.g. "f32[4,8], f32[8]"')
    s.add_argument("--shapes", choices=SHAPES, default="tiny",
                   help="shape profile: tiny dims (default) or realistic model shapes (batch, features, images)")
    s.add_argument("--dims", type=_dims, help="dimension pool (default: the profile's; tiny: 1,2,3,4,8)")
    s.add_argument("--style", choices=STYLES, default="statements", help="how programs are printed")
    s.add_argument("--out", type=Path, help="corpus directory to write")
    s.add_argument("--time-limit", type=_seconds, default=TIME_LIMIT, metavar="SECONDS",
                   help="enumerate, sample --uniform: stop before counting a size estimated to take longer "
                        f"(default {TIME_LIMIT:g}; 0: no limit)")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes that make shards, this one included (default: one per core, at most one "
                        "per shard); the corpus is the same for any number")
    s.add_argument("--shard-size", type=_positive,
                   help=f"programs per shard (default: {SHARD_SIZE}, fewer for few or big programs)")
    s.add_argument("--resume", action="store_true", help="finish an interrupted run in --out")
    s.add_argument("--backend", choices=("local", "ray"), default="local",
                   help="local: processes on this machine (default); ray: tasks on a Ray cluster "
                        "(the ray extra), the same corpus")
    s.add_argument("--address", help="Ray cluster address (auto, HOST:PORT; default: start a local Ray)")
    _lowering_options(s)
    _strategy_options(s)


def _sample_options(s):
    s.add_argument("-n", type=_positive, default=2000, help="number of records (default 2000)")
    s.add_argument("--seed", type=_natural, default=0, help="fixes every program, whatever the workers (default 0)")
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops,
                   help=f"largest program, in top-level operations (default {Config().max_ops})")
    s.add_argument("--uniform", action="store_true",
                   help="every program of size 1..--max-ops with the --inputs signature equally likely (as "
                        "enumerate counts them: each draw is a uniform index into that enumeration); -n beyond "
                        "their number is refused before anything is written")
    s.add_argument("--swarm", type=_positive, metavar="K",
                   help="swarm testing: each program samples only from its own random K of the alternatives "
                        f"of weight > 0 (none always kept), drawn again up to {SWARM_SUBSETS} times if they make "
                        "no program, then counted as a failure")
    _generation_options(s)


def _enumerate_options(s):
    s.add_argument("--max-ops", type=_positive, required=True,
                   help="the largest programs, in top-level operations: sizes 1..MAX_OPS")
    s.add_argument("--count", action="store_true", help="print the number of programs of each size")
    s.add_argument("--index", type=_natural, help="print the program with this index")
    s.add_argument("--shard", type=_shard, help="I/N: only the I-th of N equal parts of the index space")
    _generation_options(s)


def _bench_options(s):
    s.add_argument("-n", type=_positive, default=1000, help="sampled programs (default 1000)")
    s.add_argument("--seed", type=_natural, default=0, help="of the sampled programs (default 0)")
    s.add_argument("--shard", type=_shard, default=SHARD, metavar="I/N",
                   help="the part of the enumerate workload (--max-ops {max_ops} --inputs \"{inputs}\" --dims 2) "
                        "to run (default {0}/{1})".format(*SHARD, **ENUMERATE))
    s.add_argument("--cold", action="store_true",
                   help="compose only from an empty fragment cache, as a first run (default: that, then warm "
                        "from the cache it filled)")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes of the pipeline runs, this one included (default: one per core)")
    s.add_argument("--shard-size", type=_positive, default=SHARD_SIZE,
                   help=f"programs per shard of the pipeline runs (default {SHARD_SIZE})")
    s.add_argument("--grammar", type=Path, help="grammar file (default: the packaged grammar/jax.lark)")
    s.add_argument("--json", action="store_true",
                   help="print only the measurements, as JSON, on stdout (the report goes to stderr)")


def _export_options(s):
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--parquet", type=Path, required=True, metavar="OUT",
                   help="directory to write (new, empty, or a previous export)")
    s.add_argument("--splits", default="0.8,0.1,0.1", metavar="TRAIN,VALIDATION,TEST",
                   help="fractions of the records, by structural hash (default 0.8,0.1,0.1)")


def _coverage_options(s):
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    form = s.add_mutually_exclusive_group()
    form.add_argument("--json", action="store_true", help="print plain data as JSON")
    form.add_argument("--csv", action="store_true",
                      help="print the per-op table (with --compare, the side-by-side one; with --by-alt, "
                           "the alternative -> op table) as CSV")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality scan reads "
                                                "(default: the corpus's own if unchanged, else the packaged one)")
    s.add_argument("--compare", type=Path, metavar="DIR2",
                   help="compare the op distributions of DIR and DIR2: shares side by side, ops gained and lost, "
                        "total-variation and Jensen-Shannon distances, entropies")
    s.add_argument("--by-alt", action="store_true",
                   help="the ops each grammar alternative produced, with the share of its uses that produced each")


def _show_options(s):
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("-n", type=_positive, default=3, help="records to show (default 3)")
    s.add_argument("--id", help="only the record with this id")
    s.add_argument("--stablehlo", action="store_true", help="print each record's StableHLO too")
    s.add_argument("--grammar", type=Path, help="grammar that should derive the programs (default: the packaged one)")


def _validate_options(s):
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--grammar", type=Path, help="grammar the corpus was made with (default: the packaged one)")
    s.add_argument("--run", action="store_true",
                   help="also execute each program on random inputs, eagerly and under jit, and compare")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes that check record files, this one included (default: one per core, at most "
                        "one per file); the output is the same for any number")


def _report_options(s):
    s.add_argument("dir", type=Path, help="a corpus: its directory, or one records-*.jsonl file")
    s.add_argument("--compare", type=Path, metavar="DIR2", help="a second corpus, compared and overlaid")
    s.add_argument("--html", type=Path, required=True, metavar="OUT", help="the page to write")
    s.add_argument("--grammar", type=Path, help="grammar whose `distinct` flags the quality numbers read "
                                                "(default: each corpus's own if unchanged, else the packaged one)")


def _tune_options(s):
    s.add_argument("--target", default="uniform", metavar="uniform|realistic|FILE.json",
                   help="uniform over the ops the grammar reaches (default); the ops of the real JAX code of "
                        "corpus/analysis/reference.py (jaxsynth reference); or a JSON object {op: share} (share "
                        "of programs containing the op, or with --measure occurrences of occurrences)")
    s.add_argument("--target-corpus", type=Path, metavar="DIR", help="the op distribution of another corpus")
    s.add_argument("--measure", choices=MEASURES, default="programs",
                   help="programs: share of programs containing each op (default); occurrences: share of op "
                        "occurrences")
    s.add_argument("--out", type=Path, required=True, help="the weights file to write (use it with --weights)")
    s.add_argument("-n", type=_positive, default=2000, help="programs per pilot corpus (default 2000)")
    s.add_argument("--verify", type=_positive, default=5000,
                   help="programs of the verification corpus, of a seed no pilot used (default 5000)")
    s.add_argument("--iterations", type=_natural, default=6, help="solves at most (default 6)")
    s.add_argument("--tolerance", type=float, default=0.02, help="stop at this distance (default 0.02)")
    s.add_argument("--solver", choices=SOLVERS, default="model",
                   help="model (default): minimise a model of the measure as a function of the weights, fitted "
                        "to the pilot, by gradient descent; ipf: scale each weight by the geometric mean of "
                        "target/measured over the ops it makes")
    s.add_argument("--work", type=Path, help="keep the pilot corpora here (default: a temporary directory); "
                                             "a second run with the same options reuses them")
    s.add_argument("--seed", type=_natural, default=0, help="the first pilot's; pilot i has seed + i")
    s.add_argument("--max-ops", type=_positive, default=Config().max_ops,
                   help=f"largest program of the pilots, in top-level operations (default {Config().max_ops})")
    s.add_argument("--workers", type=_positive, default=os.cpu_count() or 1,
                   help="processes that make each pilot corpus, this one included (default: one per core)")
    _weights_options(s)
    s.add_argument("--shapes", choices=SHAPES, default="tiny", help="shape profile of the pilots (default tiny)")
    s.add_argument("--dims", type=_dims, help="dimension pool of the pilots (default: the profile's)")


def _extract_options(s):
    s.add_argument("target", metavar="FILE.py:FUNC", help="the function FUNC of the Python file FILE.py")
    s.add_argument("--inputs", required=True, help='the function\'s input types, e.g. "f32[4,8], f32[8]"')
    _lowering_options(s, sampled=False)


def _reference_options(s):
    s.add_argument("--measure", choices=MEASURES, default="programs",
                   help="share of functions containing each op (default) or of op occurrences")
    s.add_argument("--platform", choices=PLATFORMS, default="cpu", help="lower for this platform (default cpu)")
    s.add_argument("--json", action="store_true", help="print the lowered functions as JSON lines instead")


# command -> (what it does, in the command list; its options)
SUBCOMMANDS = {
    "sample": ("write a corpus of random programs", _sample_options),
    "enumerate": ("count, index or list every program up to a size", _enumerate_options),
    "bench": ("lowering strategies against a naive loop, on the same programs", _bench_options),
    "export": ("write a corpus as Parquet train/validation/test splits with a dataset card", _export_options),
    "coverage": ("op coverage, program quality and diversity of a corpus", _coverage_options),
    "show": ("print records as they are (control characters made visible)", _show_options),
    "validate": ("check a corpus of unknown origin: derivations, types, StableHLO", _validate_options),
    "report": ("one self-contained HTML page of a corpus's coverage, growth and programs", _report_options),
    "tune": ("solve weights whose sampled corpus has a target op distribution", _tune_options),
    "extract": ("lower FILE.py:FUNC and count its ops", _extract_options),
    "reference": ("the StableHLO ops real JAX code reaches: the reference of tune --target realistic",
                  _reference_options),
}


def build_parser() -> Parser:
    p = Parser(prog="jaxsynth", description="Grammar-driven JAX program synthesis, lowered to StableHLO.",
               epilog="jaxsynth COMMAND --help says more of each; start with: jaxsynth sample -n 2000")
    p.add_argument("--version", action="version", version=_version())
    sub = p.add_subparsers(dest="command", required=True, parser_class=Parser, metavar="COMMAND")

    for command, (summary, options) in SUBCOMMANDS.items():
        options(sub.add_parser(command, help=summary))
    return p
