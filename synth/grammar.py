"""Load `grammar/jax.lark`: Lark's own loader gives the rules and alternatives,
the `//@` annotations on the operation alternatives give type rule, weight
and flags (`FLAGS`).

The result, `Grammar`, is plain data: the operation alternatives in file
order (`Alt`), a parser for printed programs, the literal text of every
anonymous token and the import header (for the printer; what the skeleton
spells is `skeleton`'s). Every problem is a `GrammarError` that names
file:line.
"""
from __future__ import annotations

import dataclasses
import hashlib
import re
from dataclasses import dataclass, field
from functools import cached_property, lru_cache
from pathlib import Path

import lark

from .rules import REGISTRY, Rule
from .safety import UnsafeProgram, check_literals
from .skeleton import OP_RULES, SLOT_KINDS, SkeletonError, child_symbols, is_slot, makes_child, read_skeleton
from .types import DOMAINS, DTYPES

from ..grammar import GRAMMAR_PATH as DEFAULT_GRAMMAR

_ALIAS = re.compile(r"->\s*(\w+)")
_ANNOT = re.compile(r"//@\s*(.*?)\s*$")
_SPEC = re.compile(r"^(\w+)\s*(?:\(([^)]*)\))?((?:\s+[\w=.+\-]+)*)\s*$")

# flags an annotation may carry after its rule, and what each means
FLAGS = {
    "distinct": "equal operands make the result trivial (x - x, x < x): operands are distinct "
                "values, and sub-programs are not all the same",
    "shape": "reads only its operand's shape (zeros_like): not a use of the operand's value",
    "same": "its operands are one value, read once and measured once (jnp.pad(x, (0, x.shape[0])))",
    "nodiff": "has no reverse-mode derivative (while_loop): never inside a sub-program that is differentiated",
}


class GrammarError(ValueError):
    """A grammar or annotation problem, located as `file:line: message`."""


@dataclass(frozen=True, eq=False)
class Alt:
    """One operation alternative: its alias, typing and weight."""
    name: str
    rule: Rule
    args: tuple[str, ...]
    weight: float
    origin: str                 # 'term' or 'infix'
    expansion: tuple            # Lark symbols, in order
    line: int
    flags: frozenset = frozenset()     # of FLAGS

    @property
    def distinct(self) -> bool:
        return "distinct" in self.flags

    @property
    def same(self) -> bool:
        return "same" in self.flags

    @property
    def reads(self) -> bool:
        """Whether the operation reads its operands' values (not only their shapes)."""
        return "shape" not in self.flags

    @cached_property
    def children(self) -> tuple:
        """The symbols that make its tree's children (`skeleton.child_symbols`)."""
        return child_symbols(self.expansion)

    @property
    def has_bodies(self) -> bool:
        return self.rule.has_bodies

    def apps(self, types, pools, context=()):
        return self.rule.apps(types, pools, self.args, context)


@dataclass
class Grammar:
    path: str
    text: str
    alts: tuple[Alt, ...]
    literals: dict = field(repr=False)        # terminal name -> literal text
    header: str = field(repr=False)           # the imports printed programs start with (its _IMPORTS)
    dtypes: tuple[str, ...] = tuple(DTYPES)   # the dtypes its DTYPE terminal can write
    overrides: dict = field(default_factory=dict)   # weights changed from the file's

    @cached_property
    def by_name(self) -> dict[str, Alt]:
        return {a.name: a for a in self.alts}

    @cached_property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode()).hexdigest()

    @property
    def lark(self) -> lark.Lark:
        """The LALR parser of printed programs (built on first use: processes
        that only print, as a run's workers, never pay for it)."""
        return _lark(self.text)

    def parse(self, source: str) -> lark.Tree:
        return self.lark.parse(source)

    def spans(self, source: str) -> list[tuple[tuple[int, int], tuple[int, int], str]]:
        """Where each operation of a program's text is: ((line, column),
        (end line, end column), alternative), columns 0-based with the end
        exclusive as Python's own positions are, outermost first."""
        return [((t.meta.line, t.meta.column - 1), (t.meta.end_line, t.meta.end_column - 1), t.data)
                for t in self.parse(source).iter_subtrees_topdown() if t.data in self.by_name]

    def weights(self) -> dict[str, float]:
        return {a.name: a.weight for a in self.alts}

    def with_weights(self, overrides: dict[str, float]) -> "Grammar":
        """A copy with some weights replaced; names must be alternatives."""
        alts = tuple(dataclasses.replace(a, weight=overrides.get(a.name, a.weight)) for a in self.alts)
        return Grammar(self.path, self.text, alts, self.literals, self.header, self.dtypes,
                       {**self.overrides, **overrides})


def _fail(path, line, msg):
    raise GrammarError(f"{path}:{line}: {msg}")


_CODE = re.compile(r'(?:"(?:[^"\\]|\\.)*"|/(?:[^/\\\n]|\\.)+/[a-z]*|[^"/]|/(?!/))*')


def _split_comment(line: str) -> tuple[str, str]:
    """(code, comment) of a grammar line; `//` inside a "literal" or /regexp/ is code."""
    code = _CODE.match(line).group(0)
    return code, line[len(code) + 2:] if line[len(code):].startswith("//") else ""


def _annotations(path, text):
    """alias -> (line, annotation text), for lines with `-> alias //@ ...`."""
    found = {}
    for n, line in enumerate(text.splitlines(), 1):
        code, comment = _split_comment(line)
        if not code.strip():
            continue
        annot = _ANNOT.search("//" + comment) if comment else None
        alias = _ALIAS.search(code)
        if annot and not alias:
            _fail(path, n, "annotation on an alternative without an alias (`-> name`)")
        if alias:
            name = alias.group(1)
            if name in found:
                _fail(path, n, f"alternative {name!r} is defined twice (first at line {found[name][0]})")
            found[name] = (n, annot.group(1) if annot else None)
    return found


def _parse_spec(path, line, name, spec):
    m = _SPEC.match(spec)
    if not m:
        _fail(path, line, f"alternative {name!r}: malformed annotation {spec!r} "
                          "(expected RULE or RULE(ARGS), then optional w=NUMBER and flags)")
    rule_name, args, rest = m.groups()
    weight, flags = None, set()
    for word in re.sub(r"\s*=\s*", "=", rest).split():
        if word.startswith("w="):
            weight = word[2:]
        elif word in FLAGS:
            flags.add(word)
        else:
            _fail(path, line, f"alternative {name!r}: unknown flag {word!r} (one of {', '.join(FLAGS)}, or w=NUMBER)")
    if rule_name not in REGISTRY:
        _fail(path, line, f"alternative {name!r}: unknown type rule {rule_name!r}")
    rule = REGISTRY[rule_name]
    args = tuple(a.strip() for a in args.split(",") if a.strip()) if args else ()
    if len(args) != len(rule.args):
        _fail(path, line, f"alternative {name!r}: rule {rule_name!r} takes "
                          f"{len(rule.args)} argument(s) ({', '.join(rule.args) or 'none'}), got {len(args)}")
    for a, kind in zip(args, rule.args):
        if kind == "domain" and a not in DOMAINS:
            _fail(path, line, f"alternative {name!r}: unknown domain {a!r} (one of {', '.join(DOMAINS)})")
        if kind == "dtype" and a not in DTYPES:
            _fail(path, line, f"alternative {name!r}: unknown dtype {a!r} (one of {', '.join(DTYPES)})")
    try:
        w = float(weight) if weight is not None else 1.0
    except ValueError:
        w = -1.0
    if not (w > 0) or w == float("inf"):
        _fail(path, line, f"alternative {name!r}: weight must be a positive number, got {weight!r}")
    return rule, args, w, frozenset(flags)


def _lark_error_line(e, text) -> int:
    """Where Lark's error is: its own line, a line it mentions, or the first
    line that uses the symbol it names."""
    if isinstance(getattr(e, "line", None), int) and e.line > 0:
        return e.line
    m = re.search(r"\bline (\d+)", str(e))
    if m:
        return int(m.group(1))
    m = re.search(r"(?:Rule|Terminal|Symbol) '?(\w+)'?", str(e))
    if m:
        for n, line in enumerate(text.splitlines(), 1):
            code = line.split("//", 1)[0]
            if re.search(rf"(?<![\w\"]){re.escape(m.group(1))}(?![\w\"])", code):
                return n
    return 1


@lru_cache(maxsize=8)
def _lark(text: str) -> lark.Lark:
    """Lark's LALR parser of a grammar text, with positions (`Grammar.spans`),
    built once per process (building takes most of a second; Lark's own cache on disk would unpickle files
    anyone can write)."""
    return lark.Lark(text, start="start", parser="lalr", propagate_positions=True)


@lru_cache(maxsize=8)
def _rules(text: str) -> lark.Lark:
    """Lark's analysis of a grammar text, without a parser: its rules and
    terminals, as the LALR parser has them (a tenth of the time)."""
    return lark.Lark(text, start="start", parser=None, lexer="basic")


def load_grammar(path=None, text: str | None = None, parser: bool = True) -> Grammar:
    """Load a grammar file (default: the packaged one); `text`, if given, is
    used instead of reading `path` (workers get the text the run started with).
    With `parser`, its LALR parser is built now, so that a grammar Lark cannot
    parse with is an error here; a run's workers, given a text the run
    already loaded, build it only if they parse."""
    path = Path(path or DEFAULT_GRAMMAR)
    try:
        text = path.read_text(encoding="utf-8") if text is None else text
    except (OSError, UnicodeDecodeError) as e:
        raise GrammarError(f"{path}: cannot read grammar: {getattr(e, 'strerror', None) or e}") from None
    try:
        if parser:
            _lark(text)
        rules = _rules(text)
    except lark.exceptions.LarkError as e:
        raise GrammarError(f"{path}:{_lark_error_line(e, text)}: {' '.join(str(e).split())}") from None
    except RecursionError:
        raise GrammarError(f"{path}:1: nested too deeply for Lark") from None
    annotations = _annotations(path, text)
    literals = {t.name: t.pattern.value for t in rules.terminals if t.pattern.type == "str"}
    try:
        skeleton = read_skeleton(rules)
    except SkeletonError as e:
        raise GrammarError(f"{path}:{e.line}: {e}") from None
    _check_vocabulary(path, text, rules, literals, annotations, skeleton.roots)
    alts = []
    for r in rules.rules:
        origin = r.origin.name
        if r.alias is None:
            continue
        line, spec = annotations.get(r.alias, (1, None))
        if origin not in OP_RULES:
            _fail(path, line, f"alternative {r.alias!r} of rule {origin!r}: operations belong to {' or '.join(OP_RULES)}")
        if spec is None:
            _fail(path, line, f"alternative {r.alias!r} has no //@ annotation")
        rule, args, weight, flags = _parse_spec(path, line, r.alias, spec)
        hidden = [s.name for s in r.expansion if not makes_child(s) and s.name not in literals]
        if hidden:
            _fail(path, line, f"alternative {r.alias!r}: terminal {hidden[0]} is filtered out but not a plain "
                              "string, so it cannot be printed (name it without _ to make it an attribute)")
        slots = "".join(SLOT_KINDS.get(s.name, "?") for s in r.expansion if is_slot(s))
        attrs = sum(1 for s in child_symbols(r.expansion) if not is_slot(s))
        if slots != rule.slots.replace("b", "e") or attrs != rule.attrs:
            _fail(path, line, f"alternative {r.alias!r} has slots {slots or 'none'!r} and {attrs} attribute(s); "
                              f"rule {rule.name!r} needs slots {rule.slots or 'none'!r} and {rule.attrs}")
        alts.append(Alt(r.alias, rule, args, weight, origin, tuple(r.expansion), line, flags))
    if not alts:
        _fail(path, 1, "no operation alternatives (aliased alternatives of term/infix)")
    alts.sort(key=lambda a: a.line)
    return Grammar(str(path), text, tuple(alts), literals, skeleton.header, _dtypes(path, text, rules))


def _check_vocabulary(path, text, parser, literals, annotations, roots):
    """Every literal the printer writes is in the language's vocabulary
    (`safety`), its dotted names rooted at what the header imports (`roots`):
    a grammar is data, and its programs run."""
    for r in parser.rules:
        pieces = [None if makes_child(s) else literals.get(s.name) for s in r.expansion]
        try:
            check_literals(pieces, roots)
        except UnsafeProgram as e:
            line = annotations[r.alias][0] if r.alias in annotations else _literal_line(text, e.literal)
            where = f"alternative {r.alias!r}" if r.alias else f"rule {str(r.origin.name)!r}"
            _fail(path, line, f"{where}: {e}")


def _literal_line(text, literal) -> int:
    """The first line whose code holds `literal` as a quoted string."""
    quoted = '"' + (literal or "").replace("\\", "\\\\").replace('"', '\\"') + '"'
    for n, line in enumerate(text.splitlines(), 1):
        if quoted in _split_comment(line)[0]:
            return n
    return 1


def _dtypes(path, text, parser) -> tuple[str, ...]:
    """The entries of the dtype table (`types.DTYPES`) whose spelling the
    grammar's DTYPE terminal matches (at least one); every entry if the
    grammar has no DTYPE terminal. With a terminal as general as
    `/jnp\\.[a-z0-9_]+/`, a new dtype is one entry in the table."""
    terminal = next((t for t in parser.terminals if t.name == "DTYPE"), None)
    if terminal is None:
        return tuple(DTYPES)
    pattern = re.compile(terminal.pattern.to_regexp())
    found = tuple(d for d, t in DTYPES.items() if pattern.fullmatch(t.spelling))
    line = next((n for n, l in enumerate(text.splitlines(), 1) if l.lstrip().startswith("DTYPE")), 1)
    if not found:
        _fail(path, line, f"terminal DTYPE matches no dtype of the table ({', '.join(t.spelling for t in DTYPES.values())})")
    return found


def profiles() -> list[str]:
    """Names of the weights files shipped with the grammar (grammar/profiles/NAME.weights)."""
    return sorted(p.stem for p in _profiles_dir().glob("*.weights"))


def profile_path(name: str) -> Path:
    return _profiles_dir() / f"{name}.weights"


def _profiles_dir() -> Path:
    from .. import grammar as package
    return Path(package.__file__).resolve().parent / "profiles"


def read_weights_file(path) -> list[tuple[str, str, str]]:
    """`NAME = WEIGHT` lines (`#` comments) -> [(file:line, name, weight text)]."""
    try:
        lines = Path(path).read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise GrammarError(f"{path}: cannot read weights: {getattr(e, 'strerror', None) or e}") from None
    items = []
    for n, line in enumerate(lines, 1):
        line = line.split("#", 1)[0].strip()
        if not line:
            continue
        name, eq, value = (s.strip() for s in line.partition("="))
        if not eq or not name:
            raise GrammarError(f"{path}:{n}: expected NAME = WEIGHT, got {line!r}")
        items.append((f"{path}:{n}", name, value))
    return items


def override_weights(grammar: Grammar, items) -> Grammar:
    """Apply [(where, alternative, weight text)]; a weight of 0 turns an alternative off."""
    overrides = {}
    for where, name, value in items:
        if name not in grammar.by_name:
            raise GrammarError(f"{where}: unknown alternative {name!r} (see the aliases in {grammar.path})")
        try:
            w = float(value)
        except ValueError:
            w = -1.0
        if not 0 <= w < float("inf"):
            raise GrammarError(f"{where}: weight of {name!r} must be a number >= 0, got {value!r}")
        overrides[name] = w
    result = grammar.with_weights(overrides)
    if not any(a.weight > 0 for a in result.alts):
        raise GrammarError(f"{items[-1][0]}: every alternative has weight 0")
    return result
