"""Lower many independent functions as one, and cut it back into each one's own module.

`lower_batch` wraps each function in its own `jax.jit`, which costs JAX a
traced and lowered function per program: for one-step programs (a
compositional run's steps) that overhead is most of the work. `lower_flat`
calls each function directly from one outer function, under a name scope of
its own (`jaxsynth_step{k}`), so that one trace and one lowering serve them
all, and every op of the outer `main` says in its location which function
made it. Function k's module is then its ops in order, over the arguments
they read, returning its values, with the helper functions they reach under
the names a standalone lowering gives them; MLIR parses and prints it, as
`as_text()` would. A literal JAX makes into a constant outside any scope
(an operand `x * -1.0`, a result `jnp.zeros_like` of a scalar) belongs to
the one function that uses or returns it. The result is what `lower(fn,
specs, platform)` gives, text, op counts, sites, weak types and kept inputs
alike (tests/test_flat.py compares them).

What it cannot cut goes to `lower_batch`, which lowers anything: a function
over a device mesh (its module's header and shardings belong to the whole
module), a function that does not trace or lower (found by lowering the
failing batch in halves), an op without a scope it can place, results that
are not an array or a flat tuple.
"""
from __future__ import annotations

import inspect
import re
import types
from collections import Counter

from .batch import (SYMBOL, result_names, single_device, helper_order, lower_batch, module_text, names_a_mesh,
                    result_info)
from .lower import Lowered, check_platform, module_functions, reprint, sites_of, source_file
from .splice import split_functions

SCOPE = "jaxsynth_step"
_SCOPED = re.compile(r'^loc\("[^"]*?/' + SCOPE + r'(\d+)(?:/|")')
_ARG = re.compile(r"%arg(\d+)\b")
_VALUE = re.compile(r"%[\w$.\-]+")


def lower_flat(items, platform: str = "cpu", canonical: bool = True) -> list:
    """[(fn, specs)] -> [Lowered or LoweringError], each as `lower(fn, specs,
    platform)` gives it. Functions are told apart by their source files
    (sites are positions in them): with two from one file, `lower_batch`
    lowers them all. Not `canonical`, a function's text is what MLIR
    parses as that module, its values named as the outer module names
    them, not as MLIR prints them (a third of the cost of cutting: for who
    will splice and print it again)."""
    check_platform(platform)
    items = list(items)
    out = [None] * len(items)
    # a function over a mesh makes the whole module another (`_flat` would trace
    # the rest again without it): one whose code makes a mesh goes to lower_batch
    flat = [k for k, (fn, _) in enumerate(items) if not _makes_a_mesh(fn)]
    for k, low in zip(flat, _flat([items[k] for k in flat], platform, canonical)):
        out[k] = low
    rest = [k for k, low in enumerate(out) if low is None]
    for k, low in zip(rest, lower_batch([items[k] for k in rest], platform)):
        out[k] = low
    return out


MESHES = frozenset({"Mesh", "make_mesh", "AbstractMesh"})     # what a function over a mesh calls to make one


def _makes_a_mesh(fn) -> bool:
    """Whether a function's code (its nested functions' too) names a maker
    of meshes: a hint only, `_flat` sees meshes in the jaxpr."""
    stack = [getattr(inspect.unwrap(fn), "__code__", None)]
    while stack:
        code = stack.pop()
        if code is not None:
            if MESHES.intersection(code.co_names):
                return True
            stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    return False


def _flat(items, platform, canonical=True) -> list:
    """Each function's Lowered, or None where `lower_batch` must lower it."""
    import jax
    if len(items) < 2 or len({source_file(fn) for fn, _ in items}) < len(items):
        return [None] * len(items)
    treedefs, weak = [None] * len(items), [()] * len(items)

    def outer(*flat):
        outs, i = [], 0
        for k, (fn, specs) in enumerate(items):
            with jax.named_scope(f"{SCOPE}{k}"):
                out = fn(*flat[i:i + len(specs)])
            treedefs[k] = jax.tree.structure(out)
            weak[k] = tuple(x.aval.weak_type for x in jax.tree.leaves(out))
            outs.append(out)
            i += len(specs)
        return outs, flat          # every input returned: main keeps them all, in order

    try:
        traced = jax.jit(outer).trace(*[s for _, specs in items for s in specs])
    except Exception:
        return _halves(items, platform, canonical)
    meshed = {_step(str(eqn.source_info.name_stack)) for eqn in traced.jaxpr.eqns if names_a_mesh(eqn)}
    if meshed:
        # a mesh changes the whole module (header, shardings of scalars): lower the others again
        keep = [k for k in range(len(items)) if k not in meshed]
        again = _flat([items[k] for k in keep], platform, canonical) if None not in meshed else [None] * len(keep)
        out = [None] * len(items)
        for k, low in zip(keep, again):
            out[k] = low
        return out
    try:
        lowered = traced.lower(lowering_platforms=(platform,))
        text, module = lowered.as_text(), lowered.compiler_ir("stablehlo")
    except Exception:
        return _halves(items, platform, canonical)
    try:
        return _cut(items, text, module, treedefs, weak, canonical)
    except Exception:
        return [None] * len(items)


def _halves(items, platform, canonical) -> list:
    """A batch that does not trace or lower, as two: a function that fails
    costs the lowering of the halves it is in, not each of its batch alone."""
    half = len(items) // 2
    return _flat(items[:half], platform, canonical) + _flat(items[half:], platform, canonical) if half \
        else [None] * len(items)


def _step(location: str) -> int | None:
    m = _SCOPED.match(location) if location.startswith("loc(") else re.match(SCOPE + r"(\d+)(?:/|$)", location)
    return int(m.group(1)) if m else None


def _chunks(body: list[str]) -> list[list[str]]:
    """Main's body lines grouped by top-level op: an op's regions are within
    its braces, and a `while` prints `cond {` at its own indentation."""
    chunks: list[list[str]] = []
    depth = 0
    for line in body:
        if depth == 0 and not line.lstrip().startswith(("}", "cond ")):
            chunks.append([])
        chunks[-1].append(line)
        depth += line.count("{") - line.count("}")
    return chunks


class _Module:
    """The outer module, taken apart: main's ops (with the step that made
    each, None for none), their lines, what they define, what it returns."""

    def __init__(self, text, module):
        self.header, self.funcs, others = split_functions(text)
        self.func_ops = module_functions(module)
        if others or not single_device(module) or set(self.funcs) != set(self.func_ops):
            raise ValueError("not a single-device module of functions")
        main = self.func_ops["main"]
        body = self.funcs["main"][1:-1]
        ret = body.pop().strip()
        self.ops = list(main.regions[0].blocks[0].operations)[:-1]
        self.chunks = _chunks(body)
        if len(self.chunks) != len(self.ops) or not ret.startswith("return "):
            raise ValueError("main's lines are not its ops")
        self.owner = [_step(str(op.location)) for op in self.ops]
        if any(o is None and " = stablehlo.constant " not in chunk[0] for o, chunk in zip(self.owner, self.chunks)):
            raise ValueError("an op no step made")     # only a literal a function returns is made outside
        self.arg_types = [str(t) for t in main.type.inputs]
        self.result_types = [str(t) for t in main.type.results]
        self.returned = [r.strip() for r in ret[len("return "):].split(" : ")[0].split(",")]
        self.defined = {}
        for c, chunk in enumerate(self.chunks):
            if " = " in chunk[0]:
                name = chunk[0].split(" = ", 1)[0].strip().split(":")[0]
                self.defined[name] = c
        # a literal operand is a constant JAX makes without the step's scope, where
        # it is first used: the step's, if one step alone uses it
        users: dict[int, set] = {c: set() for c, o in enumerate(self.owner) if o is None}
        for c, chunk in enumerate(self.chunks):
            for name in _VALUE.findall(" ".join(chunk)):
                d = self.defined.get(name)
                if d in users and d != c:
                    users[d].add(self.owner[c])
        for c, steps in users.items():
            if len(steps) == 1 and None not in steps:
                self.owner[c] = steps.pop()
        self.calls = {name: [m.group(1) for line in lines[1:] for m in SYMBOL.finditer(line) if m.group(1) in self.funcs]
                      for name, lines in self.funcs.items()}

    def function(self, k, fn, offset, arity, first, n_out, treedef, weak, canonical=True) -> Lowered | None:
        """Function k's Lowered, whose inputs are main's arguments offset..offset+arity-1
        and whose results are main's first..first+n_out-1; None where it cannot be cut."""
        mine = self.returned[first:first + n_out]
        result_types = self.result_types[first:first + n_out]
        owned = [c for c, o in enumerate(self.owner) if o == k]
        for v in mine:      # a literal JAX makes where the function returns it
            c = self.defined.get(v.split("#")[0])
            if c is not None and self.owner[c] is None and c not in owned:
                owned.append(c)
        lines = [line for c in owned for line in self.chunks[c]]
        n_args = len(self.arg_types)
        # the inputs JAX keeps are those its ops read (every one is, in tests/test_flat.py)
        read = {int(a) for line in lines + mine for a in _ARG.findall(line) if int(a) < n_args}
        names = result_names(treedef, n_out)
        if not read <= set(range(offset, offset + arity)) or names is None or not fn.__name__.isidentifier() or \
                any(not v.startswith("%arg") and self.defined.get(v.split("#")[0]) not in owned for v in mine):
            return None
        kept = sorted(a - offset for a in read)
        rename = {offset + q: f"%arg{i}" for i, q in enumerate(kept)}

        def local(line: str) -> str:
            # inputs by their place among those kept; a region's block arguments
            # (numbered after main's) by names of their own
            return _ARG.sub(lambda m: rename.get(int(m.group(1)), f"%region{m.group(1)}"), line)

        args = ", ".join(f"%arg{i}: {self.arg_types[offset + q]}" for i, q in enumerate(kept))
        main = [f"  func.func public @main({args}) -> ({result_info(result_types, names)}) {{",
                *map(local, lines),
                f"    return {', '.join(map(local, mine))} : {', '.join(result_types)}" if mine else "    return",
                "  }"]
        order = helper_order(self.calls, [m.group(1) for line in lines for m in SYMBOL.finditer(line)
                                          if m.group(1) in self.funcs])
        text = module_text(self.header, f"jit_{fn.__name__}", main, order, self.funcs)
        sites = sites_of([self.ops[c] for c in owned], {f: self.func_ops[f] for f in order}, source_file(fn),
                         main_ops=("func.func", "func.return"))
        ops: Counter = Counter()
        for _, op, n in sites:      # sites add up to the module's op counts
            ops[op] += n
        return Lowered(reprint(text)[0] if canonical else text, dict(sorted(ops.items())), sites=sites, weak=weak,
                       kept=tuple(kept))


def _cut(items, text, module, treedefs, weak, canonical) -> list:
    whole = _Module(text, module)
    out, offset, first = [], 0, 0
    for k, (fn, specs) in enumerate(items):
        n_out = treedefs[k].num_leaves
        try:
            out.append(whole.function(k, fn, offset, len(specs), first, n_out, treedefs[k], weak[k], canonical))
        except Exception:       # this one alone, by lower_batch
            out.append(None)
        offset += len(specs)
        first += n_out
    return out
