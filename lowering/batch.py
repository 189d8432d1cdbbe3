"""Lower many functions in one module, and cut it back into standalone results.

Each function is wrapped in its own `jax.jit` and called from one outer jitted
function, so one lowering yields a module where every program is a private
`func.func` (about 3x cheaper per program than lowering each alone). For
each program, `lower_batch` rebuilds exactly the text and op counts that
`lower(fn, specs, platform, symbolic)` would give: its function becomes
`@main` with JAX's `jax.result_info` result attributes, and the helper
functions it reaches (JAX shares them across the batch) follow in call order,
under the names a standalone lowering gives them. The platform changes
nothing here. Symbolic lowerings go through `jax.export`, one program at a
time (`lower_symbolic`).

Programs that cannot be cut from a batch are lowered alone, and the others
of their batch are batched again (each jitted function keeps its trace: a
new batch costs about its lowering):
- a program that does not trace, found by tracing each program of a batch
  whose trace failed;
- every program of a batch that traces but does not lower (no program
  generated today does so for cpu, tpu or cuda);
- a program that shards over a device mesh (`shard_map`), seen in its jaxpr
  before lowering: its module's header (`mhlo.num_partitions`), its
  `sdy.mesh` symbols and its collectives' channel numbers belong to the
  whole batch, and would carry over to the others.
Programs whose outputs are not a single array or a flat tuple, or whose
function has no plain name, are lowered alone too; so one bad program costs
only itself. One limit: a helper function whose own name ends in `_N` is
taken for a renamed one (JAX's and jnp's helpers have no such names).
"""
from __future__ import annotations

import re
from typing import NamedTuple

from .lower import (Lowered, LoweringError, check_platform, count_ops, lower_prepared, lower_symbolic,
                    module_functions, op_sites, prepare, source_file)
from .splice import SYMBOL, split_functions, standalone_names



def _signature(func_op):
    from jaxlib.mlir import ir
    return ir.FunctionType(ir.TypeAttr(func_op.attributes["function_type"]).value)


def result_names(treedef, n) -> list[str] | None:
    """JAX's `jax.result_info` for a single array or a flat tuple, else None."""
    import jax
    if treedef == jax.tree.structure(0):
        return ["result"]
    if treedef == jax.tree.structure((0,) * n):
        return [f"result[{i}]" for i in range(n)]
    return None


def _calls(lines: list[str], functions) -> list[str]:
    """Functions a function's text names, in the order they appear (nested
    regions included): the callees of calls, and functions named otherwise
    (a composite's `decomposition`), which JAX creates where the op is lowered."""
    return [m.group(1) for line in lines[1:] for m in SYMBOL.finditer(line) if m.group(1) in functions]


def helper_order(calls, roots) -> list[str]:
    """The functions reached from the callees `roots` (in call order), in
    pre-order of first call, as a standalone lowering creates them."""
    order, seen, stack = [], set(), list(reversed(roots))
    while stack:
        f = stack.pop()
        if f not in seen:
            seen.add(f)
            order.append(f)
            stack.extend(reversed(calls[f]))
    return order


def module_text(header, module_name, main: list[str], order, funcs) -> str:
    """A module of `main` (its lines, signature first, "  }" last) and the
    helper functions `order`, under the names MLIR's symbol table gives
    them in a module of their own (a name already taken gets `_N`, N from
    one counter for the whole module)."""
    rename = dict(zip(order, standalone_names(order, {"main"})))

    def sub(line):
        return SYMBOL.sub(lambda m: "@" + rename.get(m.group(1), m.group(1)), line)

    header = SYMBOL.sub(f"@{module_name}", header, count=1)
    return "\n".join([header, *map(sub, main), *(sub(x) for f in order for x in funcs[f]), "}"]) + "\n"


def result_info(types, names) -> str:
    """Main's results, typed and named as JAX names them."""
    return ", ".join(f'{t} {{jax.result_info = "{r}"}}' for t, r in zip(types, names))


def _standalone(name, module_name, header, funcs, func_ops, calls, result_names, filename, weak, kept):
    order = [f for f in helper_order(calls, calls[name]) if f != name]
    fn_type = _signature(func_ops[name])
    # argument attributes as the callee has them (main has the same)
    attrs = list(func_ops[name].attributes["arg_attrs"]) if "arg_attrs" in func_ops[name].attributes else []
    attrs = [str(a) for a in attrs] + ["{}"] * (len(fn_type.inputs) - len(attrs))
    args = ", ".join(f"%arg{i}: {t}" + (f" {a}" if a != "{}" else "")
                     for i, (t, a) in enumerate(zip(fn_type.inputs, attrs)))
    main = [f"  func.func public @main({args}) -> ({result_info(fn_type.results, result_names)}) {{",
            *funcs[name][1:]]
    text = module_text(header, module_name, [SYMBOL.sub(lambda m: "@main" if m.group(1) == name else m.group(0), x)
                                             for x in main], order, funcs)
    counts: dict[str, int] = {}
    for f in [name, *order]:
        for op, c in count_ops(func_ops[f]).items():
            counts[op] = counts.get(op, 0) + c
    sites = op_sites({f: func_ops[f] for f in [name, *order]}, name, filename)
    return Lowered(text, dict(sorted(counts.items())), sites=sites, weak=weak, kept=kept)


class _Program(NamedTuple):
    fn: object          # as given: its name names the module
    jitted: object      # what is lowered, jitted: it keeps its traces for a lowering alone
    specs: list


def lower_batch(items, platform: str = "cpu", symbolic: bool = False) -> list:
    """[(fn, specs)] -> [Lowered or LoweringError], each as
    `lower(fn, specs, platform, symbolic)` gives it."""
    check_platform(platform)
    if symbolic:
        return [_symbolic_alone(fn, specs, platform) for fn, specs in items]
    return _lower([_Program(fn, *prepare(fn, specs)) for fn, specs in items], platform, _TRIES)


def _symbolic_alone(fn, specs, platform):
    try:
        return lower_symbolic(fn, specs, platform)
    except LoweringError as e:
        return e


_TRIES = 8       # batches a group may be lowered in, in turn, before its programs go alone


def _lower(programs, platform, tries) -> list:
    if len(programs) < 2 or tries == 0:
        return [_alone(p, platform) for p in programs]
    outcome = _batch(programs, platform)
    if isinstance(outcome, list):
        return [r if r is not None else _alone(p, platform) for r, p in zip(outcome, programs)]
    # these alone, the others as a batch again (their traces are cached)
    rest = iter(_lower([p for k, p in enumerate(programs) if k not in outcome], platform, tries - 1))
    return [_alone(p, platform) if k in outcome else next(rest) for k, p in enumerate(programs)]


def single_device(module) -> bool:
    """Whether a module is what one program without a mesh lowers to: one
    partition, one replica, nothing at the top level but functions."""
    attrs = module.operation.attributes
    return all(str(attrs[a]).startswith("1 ") for a in ("mhlo.num_partitions", "mhlo.num_replicas")
               if a in attrs) and all(op.operation.name == "func.func" for op in module.body.operations)


def _batch(programs, platform):
    """Lower programs as one module and cut it. Returns a list (per program its
    result, or None: lower it alone), or a non-empty set of positions: programs
    to lower alone (they fail, or have a mesh), the others to batch again."""
    import jax
    treedefs: list = [None] * len(programs)
    weak: list = [()] * len(programs)

    def outer(*flat):
        outs, i = [], 0
        for k, p in enumerate(programs):
            out = p.jitted(*flat[i:i + len(p.specs)])
            treedefs[k] = jax.tree.structure(out)
            weak[k] = tuple(x.aval.weak_type for x in jax.tree.leaves(out))
            outs.append(out)
            i += len(p.specs)
        # every input also returned, so that main keeps them all in order and
        # a call's operands say which of its program's inputs it keeps
        # (`keep_unused` would keep dead code in the programs too)
        return outs, flat

    everyone_alone = [None] * len(programs)
    try:
        traced = jax.jit(outer).trace(*[s for p in programs for s in p.specs])
    except Exception:
        return {k for k, p in enumerate(programs) if not _traces(p)} or everyone_alone
    # a mesh makes the module multi-device: lowering it would be lost work
    meshed = _meshed(traced.jaxpr, len(programs))
    if meshed:
        return meshed
    try:
        lowered = traced.lower(lowering_platforms=(platform,))
    except Exception:
        return everyone_alone
    try:
        text, module = lowered.as_text(), lowered.compiler_ir("stablehlo")
        header, funcs, others = split_functions(text)
        func_ops = module_functions(module)
        calls = {name: _calls(lines, func_ops) for name, lines in funcs.items()}
        callees = calls["main"]          # the outer function calls program k k-th
        assert len(callees) == len(programs) and set(funcs) == set(func_ops)
    except Exception:
        return everyone_alone
    module_symbols = {m.group(1) for line in others for m in [SYMBOL.search(line)] if m}
    shared = {k for k, name in enumerate(callees) if _shares_module_state(name, funcs, calls, module_symbols)}
    if not single_device(module):       # a mesh the check above missed
        return shared or everyone_alone
    results: list = [None] * len(programs)
    kept = _kept(funcs["main"], [len(p.specs) for p in programs])
    for k, p in enumerate(programs):
        name = getattr(p.fn, "__name__", "")
        names = result_names(treedefs[k], len(_signature(func_ops[callees[k]]).results))
        if names is None or not name.isidentifier() or k in shared:
            continue
        try:
            results[k] = _standalone(callees[k], f"jit_{name}", header, funcs, func_ops, calls, names,
                                     source_file(p.fn), weak[k], kept[k])
        except Exception:
            pass
    return results


_CALL = re.compile(r"\bcall @[\w$.\-]+\(([^)]*)\)")


def _kept(main: list[str], arity: list[int]) -> list:
    """The inputs each program's function keeps, from the outer main's k-th
    call (its operands are the outer arguments, all kept, program after
    program); None where a call is not so plain."""
    operands = [m.group(1) for line in main[1:] for m in [_CALL.search(line)] if m]
    out, offset = [], 0
    for k, n in enumerate(arity):
        args = [a.strip() for a in operands[k].split(",") if a.strip()] if k < len(operands) else None
        if args is None or not all(a.startswith("%arg") and a[4:].isdigit() for a in args):
            out.append(None)
        else:
            out.append(tuple(int(a[4:]) - offset for a in args))
        offset += n
    return out


def _traces(p: _Program) -> bool:
    try:
        p.jitted.trace(*p.specs)
        return True
    except Exception:
        return False


def _meshed(jaxpr, n) -> set[int]:
    """Programs (the outer jaxpr's k-th equation is program k's call) whose
    jaxpr, sub-jaxprs included, names a mesh of more than one device, as a
    `shard_map` or a sharding does."""
    if len(jaxpr.eqns) != n:
        return set()
    return {k for k, eqn in enumerate(jaxpr.eqns) if names_a_mesh(eqn)}


def names_a_mesh(eqn) -> bool:
    """Whether an equation, or one of its sub-jaxprs, names a mesh of more
    than one device, as a `shard_map` or a sharding does."""
    from jax.extend.core import jaxprs_in_params
    from jax.sharding import AbstractMesh, Mesh, Sharding

    def mesh_in(params) -> bool:
        for value in params.values():
            for x in value if isinstance(value, tuple) else (value,):
                mesh = x if isinstance(x, (Mesh, AbstractMesh)) else \
                    getattr(x, "mesh", None) if isinstance(x, Sharding) else None
                if isinstance(mesh, (Mesh, AbstractMesh)) and mesh.size > 1:
                    return True
        return False

    stack = [eqn.params]
    while stack:
        params = stack.pop()
        if mesh_in(params):
            return True
        for sub in jaxprs_in_params(params):
            stack.extend(e.params for e in getattr(sub, "jaxpr", sub).eqns)
    return False


def _shares_module_state(name, funcs, calls, module_symbols) -> bool:
    """Whether a function (or a helper it reaches) uses what the whole module
    declares or numbers: its top-level symbols (`sdy.mesh`), collectives'
    channels. (Other `sdy` attributes, e.g. a LAPACK call's sharding rule, are
    the op's own.)"""
    seen, stack = set(), [name]
    while stack:
        f = stack.pop()
        if f in seen:
            continue
        seen.add(f)
        for line in funcs[f]:
            if "channel_handle" in line or any(m.group(1) in module_symbols for m in SYMBOL.finditer(line)):
                return True
        stack.extend(calls[f])
    return False


def _alone(p: _Program, platform):
    try:
        return lower_prepared(p.jitted, p.specs, platform)
    except LoweringError as e:
        return e
