"""Lowering and the op walk (see the package docstring)."""
from __future__ import annotations

import inspect
import re
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache


class LoweringError(Exception):
    """A function that does not trace or lower; the message says why."""


@dataclass(frozen=True)
class Lowered:
    text: str                 # StableHLO, as `Lowered.as_text()` prints it
    ops: dict[str, int]       # op name -> occurrences, sorted by name
    symbolic: str | None = None   # how a symbolic lowering went (one of SYMBOLIC); None: static
    # where each op came from: ((line, column, end line, end column) in the
    # function's own source file, or None; op, occurrences), see `op_sites`
    sites: tuple = ()
    weak: tuple = ()          # whether each output (flattened) is weakly typed, as JAX traced it
    kept: tuple | None = None     # the inputs `main` keeps (JAX drops those nothing reads); None: unknown


def count_ops(module) -> dict[str, int]:
    """Occurrences of each operation in an MLIR module, all regions included."""
    counts: Counter[str] = Counter()
    stack = [module.operation]
    while stack:
        op = stack.pop().operation     # an OpView's .name may be an attribute (func.func's)
        counts[op.name] += 1
        for region in op.regions:
            for block in region.blocks:
                stack.extend(block.operations)
    del counts["builtin.module"]
    return dict(sorted(counts.items()))


def source_file(fn) -> str | None:
    """The file a (possibly wrapped: jit, vmap) Python function was compiled from."""
    code = getattr(inspect.unwrap(fn), "__code__", None)
    return code.co_filename if code is not None else None


# JAX's locations name each frame `"file":line:column to [end_line]:end_column`
# (columns 0-based, the end exclusive), innermost frame first
# (a frame prints as `"function"("file":...)`)
_POSITION = re.compile(r'"([^"]*)"\("([^"]*)":(\d+):(\d+)(?: to (\d+)?:(\d+))?')
_SYMBOL_ATTRS = ("callee", "decomposition")     # func.call's callee, a composite's decomposition


def op_sites(funcs: dict, root: str, filename: str | None, others=()) -> tuple:
    """Where in `filename` each op of `root` and of the functions it reaches
    was written: ((line, col, end_line, end_col) or None, op, occurrences),
    sorted. An op's position is the innermost frame of its location in that
    file. An op of a called function is at the call that first reaches the
    function (the body of a helper JAX shares, `@relu`, `@_where`), unless
    its own position lies within that call's (the ops of a loop body JAX
    outlines, `@closed_call`, written in the loop's lambda): what a function
    JAX traced once and cached says of itself depends on which call traced
    it first, this rule does not. What no frame of the file made
    (func.return, a constant JAX hoists), and `others` (a module's
    top-level ops that are not functions: `sdy.mesh`), are at None. Over
    `funcs` (name -> func.func op, each counted once) and `others` the
    occurrences add up to `count_ops`."""
    return sites_of([funcs[root]], {f: op for f, op in funcs.items() if f != root}, filename, others)


def sites_of(ops, funcs: dict, filename: str | None, others=(), main_ops=()) -> tuple:
    """`op_sites` of these ops (and the functions of `funcs` they reach),
    with `main_ops` (names of ops, one each) at None: the sites of a
    function whose body is `ops`, without its func.func and return."""
    sites: Counter = Counter((None, name) for name in main_ops)
    seen: set = set()
    stack = [(op, None) for op in reversed(ops)]      # (op, the position of the call that reached its function)
    while stack:
        op, call = stack.pop()
        op = op.operation
        span = _span(filename, op) if filename else None
        if call is not None and (span is None or not call[:2] <= span[:2] <= span[2:] <= call[2:]):
            # a helper's own position is where some call first traced it, maybe
            # another one than this (JAX caches the trace): this call's instead
            span = call
        sites[span, op.name] += 1
        for attr in _SYMBOL_ATTRS:
            if attr in op.attributes:
                callee = str(op.attributes[attr]).lstrip("@").strip('"')
                if callee in funcs and callee not in seen:
                    seen.add(callee)
                    stack.append((funcs[callee], span))
        for region in reversed(op.regions):
            for block in reversed(list(region.blocks)):
                stack.extend((o, call) for o in reversed(list(block.operations)))
    unreached = [func for name, func in funcs.items() if name not in seen]    # by no call this walk knows
    for op in [*unreached, *others]:
        for name, n in count_ops(op).items():
            sites[None, name] += n
    return tuple(sorted(((s, op, n) for (s, op), n in sites.items()), key=lambda x: (x[0] or (), x[1])))


def _span(filename, op):
    """The op's position in the file: its innermost frame there, going in
    from the outermost only through frames that lie within the ones outside
    them and are not of the outermost frame's function again. Such a frame
    is stale: JAX reuses the trace of a lowering rule (`lax.logistic`'s)
    made at the first call with the same types, that call's frames
    included, under the frames of the current one."""
    span = top = None
    # one pattern for every file (a pattern per program's file would be compiled per program)
    for m in reversed(list(_POSITION.finditer(str(op.location)))):    # outermost first
        name, file, line, col, end_line, end_col = m.groups()
        if file != filename:
            continue
        inner = (int(line), int(col), int(line), int(col)) if end_col is None else \
            (int(line), int(col), int(end_line or line), int(end_col))
        if span is not None and (name == top or not span[:2] <= inner[:2] <= inner[2:] <= span[2:]):
            break
        span, top = inner, top or name
    return span


def module_functions(module) -> dict:
    """name -> func.func op of a module's top level."""
    return {str(op.attributes["sym_name"]).strip('"'): op for op in module.body.operations
            if op.operation.name == "func.func"}


def module_sites(module, filename: str | None) -> tuple:
    """`op_sites` of a whole module lowered from a function of `filename`."""
    others = [op for op in module.body.operations if op.operation.name != "func.func"]
    return op_sites(module_functions(module), "main", filename, others)


PLATFORMS = ("cpu", "cuda", "tpu")     # lowered for without the hardware


def check_platform(platform: str) -> None:
    if platform not in PLATFORMS:
        raise ValueError(f"platform {platform!r}: expected one of {', '.join(PLATFORMS)}")


def prepare(fn, specs):
    """(`jax.jit` of fn, its specs). The jitted function caches its traces:
    traced in a batch, it lowers alone without being traced again."""
    import jax
    return jax.jit(fn), list(specs)


def lower_prepared(jitted, specs, platform: str) -> Lowered:
    """A prepared function traced at its specs and lowered for `platform`,
    whatever hardware this machine has."""
    try:
        traced = jitted.trace(*specs)
        lowered = traced.lower(lowering_platforms=(platform,))
        module = lowered.compiler_ir("stablehlo")
        return Lowered(lowered.as_text(), count_ops(module), sites=module_sites(module, source_file(jitted)),
                       weak=tuple(a.weak_type for a in traced.jaxpr.out_avals), kept=_kept(lowered, module, specs))
    except Exception as e:  # JAX raises many types; the caller records the reason
        raise _error(e) from e


def _kept(lowered, module, specs) -> tuple | None:
    """The inputs `main` kept: all where it has as many, else as JAX's
    lowering says (not public API: None where it does not say)."""
    if len(module_functions(module)["main"].arguments) == len(specs):
        return tuple(range(len(specs)))
    try:
        return tuple(sorted(lowered._lowering.compile_args["kept_var_idx"]))
    except (AttributeError, KeyError, TypeError):
        return None


def _error(e: Exception) -> LoweringError:
    first = (str(e).strip().splitlines() or [""])[0]
    return LoweringError(f"{type(e).__name__}: {first}")


# How a symbolic lowering goes, in the order tried: the first that JAX accepts
# is the program's. `dims`: every input dimension > 1 is a symbol, one per
# size (`d4`; equal sizes stay equal, so the program's shape relations hold),
# which a program whose Python fixes a size (`jnp.broadcast_to(x, (2, 4, 8))`) refuses;
# `batch`: the program is vmapped over a symbolic batch `b` of its first
# input, as a model exported with a polymorphic batch size; `static`: no
# symbol (what JAX cannot batch, a convolution whose kernel is batched too).
SYMBOLIC = ("dims", "batch", "static")


def _symbolic(fn, specs, how):
    """(function, specs) of one way of SYMBOLIC."""
    import jax
    from jax import export
    scope = export.SymbolicScope()

    def shaped(dims, dtype):
        return jax.ShapeDtypeStruct(export.symbolic_shape(", ".join(dims), scope=scope) if dims else (), dtype)
    if how == "dims":
        return fn, [shaped([f"d{d}" if d > 1 else "1" for d in s.shape], s.dtype) for s in specs]
    if how == "batch" and specs:
        first, *rest = specs
        return (jax.vmap(fn, in_axes=(0,) + (None,) * len(rest)),
                [shaped(["b", *map(str, first.shape)], first.dtype), *rest])
    return fn, list(specs)


def lower_exported(exported, symbolic: str | None = None, filename: str | None = None) -> Lowered:
    """The StableHLO of a `jax.export.Exported`, printed as `Lowered.as_text()`
    prints a lowering, its ops, and where in `filename` they came from."""
    from jax._src.interpreters import mlir      # the dialects of an exported module, to parse and print it
    from jaxlib.mlir import ir
    with mlir.make_ir_context():
        module = ir.Module.parse(exported.mlir_module())
        return Lowered(mlir.module_to_string(module, enable_debug_info=False), count_ops(module), symbolic,
                       module_sites(module, filename))


def lower_symbolic(fn, specs, platform: str = "cpu") -> Lowered:
    """Lower through `jax.export` with symbolic dimensions, the first way of
    SYMBOLIC that JAX accepts: StableHLO as `Lowered.as_text()` prints it, the
    ops, and which way it was."""
    import jax
    for how in SYMBOLIC:
        f, s = _symbolic(fn, specs, how)
        try:
            exported = jax.export.export(jax.jit(f), platforms=(platform,))(*s)
        except Exception as e:
            if how == SYMBOLIC[-1]:     # static fails too: the program's own error
                raise _error(e) from e
            continue
        try:
            return lower_exported(exported, how, source_file(fn))
        except Exception as e:
            raise _error(e) from e


def lower(fn, specs, platform: str = "cpu", symbolic: bool = False) -> Lowered:
    """StableHLO text and op counts of `jax.jit(fn)` at these (static) input
    specs, lowered for `platform`; with `symbolic`, exported with symbolic
    dimensions (`lower_symbolic`)."""
    check_platform(platform)
    if symbolic:
        return lower_symbolic(fn, specs, platform)
    return lower_prepared(*prepare(fn, specs), platform)


_CONTEXT = [None, 0]     # an MLIR context with JAX's dialects, and how many modules it parsed
_CONTEXT_MODULES = 2000  # modules parsed in one context before a fresh one (what it interns grows)


def reprint(text: str) -> tuple[str, dict[str, int]]:
    """(text, ops) of a module as MLIR parses and prints it, as `as_text()`
    does (numbering values and naming constants as JAX's own printing does);
    raises jaxlib's MLIRError where MLIR does not parse it."""
    from jax._src.interpreters import mlir
    from jaxlib.mlir import ir
    if _CONTEXT[0] is None or _CONTEXT[1] >= _CONTEXT_MODULES:
        _CONTEXT[:] = [mlir.make_ir_context(), 0]
    _CONTEXT[1] += 1
    with _CONTEXT[0]:
        module = ir.Module.parse(text)
        return mlir.module_to_string(module, enable_debug_info=False), count_ops(module)


def load_function(source: str, name: str = "f", filename: str = "<program>"):
    """Execute Python source in a fresh namespace and return its function `name`."""
    namespace: dict = {"__name__": "__jaxsynth_program__"}
    exec(compile(source, filename, "exec"), namespace)
    if not callable(namespace.get(name)):
        raise LoweringError(f"{filename}: no function named {name!r}")
    return namespace[name]


@lru_cache(maxsize=1)
def universe() -> frozenset[str]:
    """Every op class registered in the installed jaxlib's stablehlo and chlo dialects."""
    from jaxlib.mlir.dialects import chlo, stablehlo
    return frozenset(cls.OPERATION_NAME for mod in (stablehlo, chlo) for cls in vars(mod).values()
                     if isinstance(cls, type) and hasattr(cls, "OPERATION_NAME"))

