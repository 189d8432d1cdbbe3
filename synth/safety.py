"""What a program's text may name, and running a program with nothing else.

Grammars and corpora are data, wherever they come from: a grammar's
literals are printed into programs, and programs run (traced, lowered,
executed by `validate --run`). So the language has a fixed vocabulary
(`vocabulary`), and text outside it never runs: `check_literals`
(`literals`) applies it to a grammar's literals when it loads;
`load_program` checks a whole program's syntax tree against it and
executes it in a namespace that holds only the `ROOTS` modules and, of the
builtins, an import of what is already imported. Names are ASCII: Python
folds lookalikes (`ｅval` is `eval`).

The grammar loader takes `check_literals` and `UnsafeProgram` from here
too: this module is the front of all three.
"""
from __future__ import annotations

import ast
import importlib
import sys

from .literals import check_literals
from .skeleton import FUNC_NAME
from .vocabulary import (ROOTS, STRING, UnsafeProgram, attribute_problem, attributes, imported_root, is_private,
                         number_problem, resolve)

# what the grammar loader, the corpus and the tests take from here
__all__ = ["MAX_SOURCE", "UnsafeProgram", "attributes", "check_literals", "load_program", "parse_program"]

MAX_SOURCE = 100_000        # characters of a program's text

_EXPRESSIONS = (ast.Call, ast.Attribute, ast.Name, ast.Subscript, ast.Slice, ast.Tuple, ast.List, ast.Constant,
                ast.BinOp, ast.UnaryOp, ast.Compare, ast.BoolOp, ast.IfExp, ast.Lambda, ast.keyword,
                ast.operator, ast.unaryop, ast.cmpop, ast.boolop, ast.expr_context, ast.arguments, ast.arg)


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
                    problem = attribute_problem(node.attr)
                if problem:
                    raise UnsafeProgram(f"{where}: {problem}")
            elif isinstance(node, ast.Name):
                if not isinstance(node.ctx, (ast.Load, ast.Store)) or is_private(node.id):
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
        return number_problem(repr(value))
    return f"constant {type(value).__name__}"


def parse_program(source: str, name: str = FUNC_NAME) -> ast.Module:
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
    roots = [imported_root(h) for h in header]
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


def load_program(source: str, name: str = FUNC_NAME, filename: str = "<program>"):
    """The function `name` of a program checked by `parse_program`, executed in
    a namespace holding only the `ROOTS` modules and, of the builtins, an
    import of what is already imported."""
    module = parse_program(source, name)
    namespace = {"__builtins__": {"__import__": _imported}, "__name__": "__jaxsynth_program__",
                 **{root: importlib.import_module(mod) for root, mod in ROOTS.items()}}
    exec(compile(module, filename, "exec"), namespace)      # noqa: S102 - checked above
    return namespace[name]
