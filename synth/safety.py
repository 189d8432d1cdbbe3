"""What a program's text may name, and running a program with nothing else.

Grammars and corpora are data, wherever they come from: a grammar's
literals are printed into programs, and programs run (traced, lowered,
executed by `validate --run`). So the language has a fixed vocabulary, and
text outside it never runs:

- the modules every program imports, by the names it uses (`ROOTS`), and
  what may be reached through them: dotted names resolved against the
  installed JAX, only in the namespaces of array computation
  (`NAMESPACES`, `TOP_LEVEL`), minus what touches the host (`DENIED`);
- Python's operators and punctuation (`OPERATORS`), the keywords of the
  program skeleton and of expressions (`KEYWORDS`), numbers, short plain
  strings (einsum specs, axis names), names the program binds;
- a module only as the start of a whole dotted name (`jnp.exp`; never `jnp`
  passed around, which would reach everything), and of any other value only
  an array's computing attributes (`attributes()`: `.T`, `.at`, `.astype`);
- never a private or dunder name, a builtin, a name outside ASCII (Python
  folds lookalikes: `ｅval` is `eval`).

`check_literals` applies this to a grammar's literals when it loads (the
loader turns a finding into a `file:line` error); `load_program` checks a
whole program's syntax tree against it and executes it in a namespace that
holds only the `ROOTS` modules and, of the builtins, an import of what is
already imported.
"""
from __future__ import annotations

import ast
import builtins
import enum
import importlib
import io
import keyword
import math
import re
import sys
import tokenize
import types
from functools import lru_cache

ROOTS = {"jax": "jax", "jnp": "jax.numpy", "lax": "jax.lax"}
# modules (and their submodules) whose public functions compute on arrays
NAMESPACES = ("jax.numpy", "jax.lax", "jax.nn", "jax.random", "jax.scipy", "jax.sharding")
# what programs may use from `jax` itself besides those modules
# (not `jit`, whose compiler options can make XLA write files)
TOP_LEVEL = frozenset({
    "vmap", "grad", "value_and_grad", "jvp", "vjp", "linearize", "hessian", "jacfwd", "jacrev",
    "checkpoint", "remat", "shard_map", "devices", "device_count", "make_mesh", "P"})
# in those namespaces, but reading or writing files, or changing global state
DENIED = frozenset({
    "jax.numpy.load", "jax.numpy.save", "jax.numpy.savez", "jax.numpy.fromfile", "jax.numpy.frompyfunc",
    "jax.numpy.set_printoptions", "jax.numpy.printoptions", "jax.numpy.get_printoptions"})
KEYWORDS = frozenset({"def", "return", "lambda", "True", "False", "None",
                      "and", "or", "not", "if", "else", "in", "is"})
OPERATORS = frozenset("( ) [ ] , : . = + - * / // % ** @ < > <= >= == != & | ^ ~ << >>".split())
STRING = re.compile(r'(["\'])[A-Za-z0-9_.,\->: ]{0,64}\1')
MAX_SOURCE = 100_000        # characters of a program's text
MAX_INT = 2 ** 31 - 1       # largest integer literal, in size (int32) (shapes and indices are int32 in XLA)


class UnsafeProgram(ValueError):
    """Text outside the language's vocabulary; the message says what (and
    `literal`, which grammar literal, if one)."""
    literal: str | None = None


def _private(name: str) -> bool:
    return name.startswith("_")


@lru_cache(maxsize=None)
def resolve(dotted: str) -> str | None:
    """Why a dotted name rooted at a `ROOTS` module may not be used (None: it may).
    Names are looked up in the installed JAX, so an unknown name is found when
    a grammar loads, not when its programs run."""
    root, *parts = dotted.split(".")
    obj, where = importlib.import_module(ROOTS[root]), ROOTS[root]
    for part in parts:
        if _private(part):
            return f"{dotted}: private or dunder name {part!r}"
        if isinstance(obj, type) and issubclass(obj, enum.Enum) and part in obj.__members__:
            obj, where = obj[part], f"{where}.{part}"       # an option's value: `jax.sharding.AxisType.Auto`
            continue
        if not isinstance(obj, types.ModuleType):
            # a member's own attributes (a class's, a primitive's) reach past the
            # namespaces: `jnp.character.tofile`, `lax.add_p.def_impl`
            return f"{dotted}: {part!r} is an attribute of {where}, not a member of a module"
        parent, where = obj, f"{where}.{part}"
        obj = getattr(obj, part, resolve)       # `resolve` itself marks a missing name
        if obj is resolve:
            return f"{dotted}: no {part!r} in {getattr(parent, '__name__', dotted)} (jax {_jax_version()})"
        if isinstance(obj, types.ModuleType):
            if not any(obj.__name__ == ns or obj.__name__.startswith(ns + ".") for ns in NAMESPACES):
                return f"{dotted}: module {obj.__name__} is not one programs may use ({', '.join(NAMESPACES)})"
        else:
            if parent.__name__ == "jax" and part not in TOP_LEVEL:
                return f"{dotted}: jax.{part} is not one programs may use"
            if where in DENIED or f"{parent.__name__}.{part}" in DENIED:
                return f"{dotted}: touches files or global state"
    if isinstance(obj, types.ModuleType):
        return f"{dotted}: a module is not a value programs compute with"
    return None


# attributes a program may take of a value (not of a module): an array's
# computing methods and properties, and those of `x.at[i]`; not those that
# reach the runtime (devices, shards, buffers)
RUNTIME = frozenset({"addressable_data", "addressable_shards", "global_shards", "device", "sharding", "committed",
                     "copy_to_host_async", "to_device", "is_fully_addressable", "is_fully_replicated", "flat"})
AT_METHODS = frozenset({"get", "set", "add", "subtract", "mul", "multiply", "divide", "power", "min", "max", "apply"})


@lru_cache(maxsize=1)
def attributes() -> frozenset[str]:
    import jax
    return frozenset(n for n in dir(jax.Array) if not _private(n)) - RUNTIME | AT_METHODS


def _attribute_problem(name: str) -> str | None:
    if _private(name):
        return f"private or dunder name {name!r}"
    if name not in attributes():
        return f"attribute {name!r} is not one of an array's (see safety.attributes())"
    return None


def _jax_version() -> str:
    import jax
    return jax.__version__


def _token_problem(tok: tokenize.TokenInfo) -> str | None:
    kind, text = tok.type, tok.string
    if kind == tokenize.OP:
        return None if text in OPERATORS else f"operator {text!r}"
    if kind == tokenize.NUMBER:
        return _number_problem(text)
    if kind == tokenize.STRING:
        return None if STRING.fullmatch(text) else f"string {text!r} (only short plain strings)"
    if kind == tokenize.NAME:
        if keyword.iskeyword(text) or keyword.issoftkeyword(text):
            return None if text in KEYWORDS else f"keyword {text!r}"
        if _private(text):
            return f"private or dunder name {text!r}"
        return None
    if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
        return None
    return f"{tokenize.tok_name[kind].lower()} {text!r}"


def _number_problem(text: str) -> str | None:
    try:
        value = ast.literal_eval(text)
    except (ValueError, SyntaxError):
        return f"number {text!r}"
    if isinstance(value, complex) or not math.isfinite(value) or (isinstance(value, int) and abs(value) > MAX_INT):
        return f"number {text!r} (finite, integers at most {MAX_INT} in size)"
    return None


def _tokens(literal: str) -> list[tokenize.TokenInfo]:
    """Python's tokens of a literal; brackets a literal leaves open are fine
    (`"("` is half of a call), anything the tokenizer cannot read is not."""
    if not literal.isascii() or not literal.isprintable():
        raise UnsafeProgram(f"literal {literal!r}: only printable ASCII")
    out = []
    try:
        for t in tokenize.generate_tokens(io.StringIO(literal).readline):
            if t.type not in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER):
                out.append(t)
    except tokenize.TokenError as e:
        if "multi-line statement" not in str(e.args[0]):
            raise UnsafeProgram(f"literal {literal!r}: not Python tokens ({e.args[0]})") from None
    except (SyntaxError, IndentationError) as e:
        raise UnsafeProgram(f"literal {literal!r}: not Python tokens ({e.args[0]})") from None
    return out


def check_literals(pieces) -> None:
    """Check one grammar alternative: `pieces` in order, each a literal's text
    or None where a slot or attribute goes. Dotted names are followed across
    literals (`"jnp" "." "load"` is `jnp.load`)."""
    stream, origin = [], []
    for piece in pieces:
        if piece is None:
            stream.append(None)
            origin.append(None)
            continue
        try:
            toks = _tokens(piece)
        except UnsafeProgram as e:
            e.literal = piece
            raise
        for tok in toks:
            problem = _token_problem(tok)
            if problem:
                _raise(f"literal {piece!r}: {problem}", piece)
            stream.append(tok.string if tok.type != tokenize.STRING else '""')
            origin.append(piece)
    i = 0
    while i < len(stream):
        tok = stream[i]
        if tok is None or not _is_name(tok) or tok in KEYWORDS:
            i += 1
            continue
        if i > 0 and stream[i - 1] == ".":      # an attribute of a value (a root's chain is taken whole below)
            problem = _attribute_problem(tok)
            if problem:
                _raise(f"literal {origin[i]!r}: {problem}", origin[i])
            i += 1
            continue
        chain = [tok]
        while i + 2 < len(stream) and stream[i + 1] == "." and _is_name(stream[i + 2]):
            chain.append(stream[i + 2])
            i += 2
        i += 1
        try:
            _check_name(chain, following=stream[i] if i < len(stream) else None)
        except UnsafeProgram as e:
            e.literal = origin[i - 1]
            raise


def _raise(message, literal):
    e = UnsafeProgram(message)
    e.literal = literal
    raise e


def _is_name(tok) -> bool:
    return isinstance(tok, str) and tok.isidentifier()


def _check_name(chain: list[str], following) -> None:
    """A name not after a dot, with the attributes that follow it: a module
    only as the start of a whole dotted name (`jnp.exp`, never `jnp` alone:
    a module passed around reaches everything)."""
    name = chain[0]
    if name in ROOTS:
        if len(chain) == 1 or following == ".":
            raise UnsafeProgram(f"{'.'.join(chain)}: a module only as the start of a whole dotted name")
        problem = resolve(".".join(chain))
        if problem:
            raise UnsafeProgram(problem)
    elif hasattr(builtins, name):
        raise UnsafeProgram(f"name {name!r} is Python's builtin")
    elif len(chain) > 1 or following == ".":
        raise UnsafeProgram(f"{'.'.join(chain)}: dotted names start at {', '.join(ROOTS)}")


# ---------------------------------------------------------------- whole programs

_EXPRESSIONS = (ast.Call, ast.Attribute, ast.Name, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Constant,
                ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Lambda, ast.keyword,
                ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context, ast.arguments, ast.arg)


def _header(node: ast.stmt) -> str | None:
    """The root a header statement binds (`import jax.numpy as jnp` -> jnp), or None."""
    if isinstance(node, ast.Import) and len(node.names) == 1:
        alias = node.names[0]
        bound = alias.asname or alias.name
        return bound if ROOTS.get(bound) == alias.name else None
    if isinstance(node, ast.ImportFrom) and node.level == 0 and len(node.names) == 1:
        alias = node.names[0]
        bound = alias.asname or alias.name
        return bound if ROOTS.get(bound) == f"{node.module}.{alias.name}" else None
    return None


def _check_function(fn: ast.FunctionDef) -> None:
    args = fn.args
    if fn.decorator_list or fn.returns or args.defaults or args.kw_defaults or args.vararg or args.kwarg \
            or args.posonlyargs or args.kwonlyargs or getattr(fn, "type_params", None):
        raise UnsafeProgram(f"line {fn.lineno}: only a plain `def {fn.name}(x0, ...)`")
    for stmt in _body(fn):
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and _plain_targets(stmt.targets[0]):
            continue
        if isinstance(stmt, ast.Return) and stmt.value is not None:
            continue
        raise UnsafeProgram(f"line {stmt.lineno}: only assignments and a return in the function")


def _body(fn: ast.FunctionDef) -> list:
    """The function's statements after its docstring."""
    return fn.body[1:] if fn.body and _is_docstring(fn.body[0]) else fn.body


def _is_docstring(stmt) -> bool:
    return isinstance(stmt, ast.Expr) and isinstance(stmt.value, ast.Constant) and isinstance(stmt.value.value, str)


def _plain_targets(target) -> bool:
    if isinstance(target, ast.Name):
        return True
    return isinstance(target, ast.Tuple) and all(isinstance(t, ast.Name) for t in target.elts)


def _bound(fn: ast.FunctionDef) -> set[str]:
    """Names the program binds: parameters, assignment targets, lambda parameters."""
    names = {a.arg for a in fn.args.args}
    for node in ast.walk(fn):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            names.add(node.id)
        elif isinstance(node, ast.Lambda):
            names.update(a.arg for a in node.args.args)
    return names


def _chain(node: ast.Attribute) -> list[str] | None:
    """`jnp.linalg.solve` -> ['jnp', 'linalg', 'solve'] if rooted at a name."""
    parts = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    return [node.id, *reversed(parts)] if isinstance(node, ast.Name) else None


def _check_expressions(fn: ast.FunctionDef) -> None:
    bound = _bound(fn)
    clash = bound & set(ROOTS)
    if clash:
        raise UnsafeProgram(f"the program rebinds {', '.join(sorted(clash))}")
    for stmt in _body(fn):
        # names and attributes that an attribute is taken of: the inner parts of a dotted name
        inner = {id(n.value) for n in ast.walk(stmt) if isinstance(n, ast.Attribute)}
        for node in ast.walk(stmt):
            where = f"line {getattr(node, 'lineno', fn.lineno)}"
            if isinstance(node, (ast.Assign, ast.Return)):
                continue
            if not isinstance(node, _EXPRESSIONS):
                raise UnsafeProgram(f"{where}: {type(node).__name__} is not part of the language")
            if isinstance(node, ast.Lambda):
                a = node.args
                if a.defaults or a.kw_defaults or a.vararg or a.kwarg or a.posonlyargs or a.kwonlyargs:
                    raise UnsafeProgram(f"{where}: only plain lambda parameters")
            elif isinstance(node, ast.Call) and any(k.arg is None for k in node.keywords):
                raise UnsafeProgram(f"{where}: no ** arguments")
            elif isinstance(node, ast.Constant):
                problem = _constant_problem(node.value)
                if problem:
                    raise UnsafeProgram(f"{where}: {problem}")
            elif isinstance(node, ast.Attribute):
                chain = _chain(node)
                if chain and chain[0] in ROOTS:         # judged whole, at its outermost attribute
                    problem = None if id(node) in inner else resolve(".".join(chain))
                else:
                    problem = _attribute_problem(node.attr)
                if problem:
                    raise UnsafeProgram(f"{where}: {problem}")
            elif isinstance(node, ast.Name):
                if not isinstance(node.ctx, (ast.Load, ast.Store)) or _private(node.id):
                    raise UnsafeProgram(f"{where}: name {node.id!r}")
                if node.id in ROOTS and id(node) not in inner:
                    raise UnsafeProgram(f"{where}: module {node.id} only as the start of a dotted name")
                if node.id not in bound and node.id not in ROOTS:
                    raise UnsafeProgram(f"{where}: name {node.id!r} is neither bound by the program nor "
                                        f"one of {', '.join(ROOTS)}")


def _constant_problem(value) -> str | None:
    if value is None or isinstance(value, bool):
        return None
    if isinstance(value, str):
        return None if STRING.fullmatch(f'"{value}"') else f"string {value[:40]!r} (only short plain strings)"
    if isinstance(value, (int, float)):
        return _number_problem(repr(value))
    return f"constant {type(value).__name__}"


def parse_program(source: str, name: str = "f") -> ast.Module:
    """The program's syntax tree, checked against the vocabulary: the header
    imports of `ROOTS`, then one function `name` of assignments and a return.
    Raises UnsafeProgram (nothing is executed)."""
    if not isinstance(source, str) or len(source) > MAX_SOURCE:
        raise UnsafeProgram(f"program text longer than {MAX_SOURCE} characters")
    if not source.isascii():
        raise UnsafeProgram("program text is not ASCII")
    try:
        module = ast.parse(source)
    except (SyntaxError, ValueError, RecursionError, MemoryError) as e:
        raise UnsafeProgram(f"not Python: {type(e).__name__}: {getattr(e, 'msg', None) or e}") from None
    *header, fn = module.body or [None]
    roots = [_header(h) for h in header]
    if None in roots or not isinstance(fn, ast.FunctionDef) or fn.name != name:
        raise UnsafeProgram(f"expected the imports of {', '.join(ROOTS)} then `def {name}(...)` and nothing else")
    try:
        _check_function(fn)
        _check_expressions(fn)
    except RecursionError:
        raise UnsafeProgram("program nested too deeply") from None
    module.body = [fn]          # the namespace holds the modules: no import runs
    return module


def _imported(name, globals=None, locals=None, fromlist=(), level=0):
    """`__import__` of modules already imported, and nothing else: what JAX's
    and NumPy's C code looks up in the frame of the function it is called
    from (numpy, ml_dtypes), never new code."""
    module = sys.modules.get(name)
    if module is None or level:
        raise ImportError(f"{name}: a program imports nothing")
    return module if fromlist else sys.modules[name.partition(".")[0]]


def load_program(source: str, name: str = "f", filename: str = "<program>"):
    """The function `name` of a program checked by `parse_program`, executed in
    a namespace holding only the `ROOTS` modules and, of the builtins, an
    import of what is already imported."""
    module = parse_program(source, name)
    namespace = {"__builtins__": {"__import__": _imported}, "__name__": "__jaxsynth_program__",
                 **{root: importlib.import_module(mod) for root, mod in ROOTS.items()}}
    exec(compile(module, filename, "exec"), namespace)      # noqa: S102 - checked above
    return namespace[name]
