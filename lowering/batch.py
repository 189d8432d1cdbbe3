"""Lower many functions in one module, and cut it back into standalone results.

Each function is wrapped in its own `jax.jit` and called from one outer jitted
function, so one lowering yields a module where every program is a private
`func.func` (about 3x cheaper per program than lowering each alone). For
each program, `lower_batch` rebuilds exactly the text and op counts that
`lower(fn, specs)` would give: its function becomes `@main` with JAX's
`jax.result_info` result attributes, and the helper functions it reaches
(JAX shares them across the batch) follow in call order, under the names a
standalone lowering gives them.

If the batch does not lower (one bad program fails the whole trace), or a
program's outputs are not a single array or a flat tuple, or its function
has no plain name, those programs are lowered one by one, so one bad program
costs only itself. One limit: a helper function whose own name ends in `_N`
is taken for a renamed one (JAX's and jnp's helpers have no such names).
"""
from __future__ import annotations

import re

from .lower import Lowered, LoweringError, count_ops, lower

_SYMBOL = re.compile(r"@([\w$.\-]+)")
_UNIQUIFIED = re.compile(r"^(.*)_\d+$")


def _signature(func_op):
    from jaxlib.mlir import ir
    return ir.FunctionType(ir.TypeAttr(func_op.attributes["function_type"]).value)


def _result_names(treedef, n) -> list[str] | None:
    """JAX's `jax.result_info` for a single array or a flat tuple, else None."""
    import jax
    if treedef == jax.tree.structure(0):
        return ["result"]
    if treedef == jax.tree.structure((0,) * n):
        return [f"result[{i}]" for i in range(n)]
    return None


def _split_functions(text: str) -> tuple[str, dict[str, list[str]]]:
    """Module text -> (header line, {function name: its lines})."""
    lines = text.rstrip("\n").split("\n")
    header, funcs, name = lines[0], {}, None
    for line in lines[1:-1]:
        if line.startswith("  func.func"):
            name = _SYMBOL.search(line).group(1)
            funcs[name] = []
        funcs[name].append(line)
    return header, funcs


def _calls(func_op) -> list[str]:
    """Callees of a function, in the order the calls appear (nested regions included)."""
    out, stack = [], [func_op]
    while stack:
        op = stack.pop().operation
        if op.name == "func.call":
            out.append(str(op.attributes["callee"])[1:])
        for region in reversed(op.regions):
            for block in reversed(region.blocks):
                stack.extend(reversed(list(block.operations)))
    return out


def _standalone(name, module_name, header, funcs, func_ops, calls, result_names):
    # helpers in pre-order of first call, as a standalone lowering creates them
    order, seen, stack = [], {name}, list(reversed(calls[name]))
    while stack:
        f = stack.pop()
        if f not in seen:
            seen.add(f)
            order.append(f)
            stack.extend(reversed(calls[f]))
    # standalone names, as MLIR's symbol table makes them: a name already
    # taken gets `_N`, N from one counter for the whole module
    rename, taken, counter = {name: "main"}, {"main"}, 0
    for f in order:
        m = _UNIQUIFIED.match(f)
        new = base = m.group(1) if m else f
        while new in taken:
            new, counter = f"{base}_{counter}", counter + 1
        taken.add(new)
        rename[f] = new

    def sub(line):
        return _SYMBOL.sub(lambda m: "@" + rename.get(m.group(1), m.group(1)), line)

    fn_type = _signature(func_ops[name])
    args = ", ".join(f"%arg{i}: {t}" for i, t in enumerate(fn_type.inputs))
    results = ", ".join(f'{t} {{jax.result_info = "{r}"}}' for t, r in zip(fn_type.results, result_names))
    main = [f"  func.func public @main({args}) -> ({results}) {{"] + [sub(x) for x in funcs[name][1:]]
    body = main + [sub(x) for f in order for x in funcs[f]]
    header = _SYMBOL.sub(f"@{module_name}", header, count=1)
    text = "\n".join([header, *body, "}"]) + "\n"
    counts: dict[str, int] = {}
    for f in [name, *order]:
        for op, c in count_ops(func_ops[f]).items():
            counts[op] = counts.get(op, 0) + c
    return Lowered(text, dict(sorted(counts.items())))


def lower_batch(items) -> list:
    """[(fn, specs)] -> [Lowered or LoweringError], each as `lower(fn, specs)` gives it."""
    import jax
    results: list = [None] * len(items)
    jitted = [jax.jit(fn) for fn, _ in items]
    treedefs: list = [None] * len(items)

    def outer(*flat):
        outs, i = [], 0
        for k, (f, (_, specs)) in enumerate(zip(jitted, items)):
            out = f(*flat[i:i + len(specs)])
            treedefs[k] = jax.tree.structure(out)
            outs.append(out)
            i += len(specs)
        return outs

    try:
        lowered = jax.jit(outer).lower(*[s for _, specs in items for s in specs])
        text, module = lowered.as_text(), lowered.compiler_ir("stablehlo")
        header, funcs = _split_functions(text)
        func_ops = {str(op.attributes["sym_name"]).strip('"'): op for op in module.body.operations
                    if op.operation.name == "func.func"}
        calls = {name: _calls(op) for name, op in func_ops.items()}
        callees = calls["main"]          # the outer function calls program k k-th
        assert len(callees) == len(items) and set(funcs) == set(func_ops)
    except Exception:                    # not one module to cut: lower each alone
        return [_alone(fn, specs) for fn, specs in items]
    for k, (fn, specs) in enumerate(items):
        name = getattr(fn, "__name__", "")
        names = _result_names(treedefs[k], len(_signature(func_ops[callees[k]]).results))
        if names is None or not name.isidentifier():
            results[k] = _alone(fn, specs)
            continue
        try:
            results[k] = _standalone(callees[k], f"jit_{name}", header, funcs, func_ops, calls, names)
        except Exception:
            results[k] = _alone(fn, specs)
    return results


def _alone(fn, specs):
    try:
        return lower(fn, specs)
    except LoweringError as e:
        return e
