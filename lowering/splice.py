"""A module assembled from the lowerings of its steps, as `jit` would print it.

A program's StableHLO is, almost everywhere, its steps' StableHLO in order.
`cut` takes the lowering of one step alone (a function of the step's
operands, of which JAX keeps those its jaxpr uses) apart into a `Piece`; `splice`
joins pieces into one `@main`, renaming each piece's values apart and
wiring its parameters to the values that feed them, and lets MLIR parse
and print the module, which numbers values and names constants exactly as
JAX's own printing does. Private functions keep their pre-order of first
call and get the names MLIR's symbol table gives them (`standalone_names`).

Where JAX's whole-program passes see across steps, splicing would print
something else, and `splice` says so instead (`Whole`), for the caller to
lower that program with JAX:
- an input its jaxpr does not use is dropped from `main`
  (`keep_unused=False`); splicing keeps what some step's lowering kept of
  its operands, or what the program returns;
- a step's value that no later op reads and the program does not return
  (a value only fed to `zeros_like`) is removed with its computation;
- a private function two steps both make (`@relu` on the same types) is
  shared by JAX when both calls hit one cached trace, not when they do not;
- a weakly typed value (from Python scalars) crossing steps changes how the
  next step is traced, and so does a value a step over a mesh makes (or
  one made of it: its type carries the mesh) for a step with private
  functions, which JAX shares between calls only when their operands'
  meshes agree;
- a piece whose module-level state is not the same in every module: a
  mesh other than the others' (`sdy.mesh` is declared once per module, for
  every step over it), a collective's channel other than 1, arguments or
  results with attributes; a program over a mesh with a scalar input or
  output (JAX gives it a sharding on an empty mesh).
A piece over a device mesh splices with the others: the module takes its
header (`mhlo.num_partitions`) and its mesh, declared once.
"""
from __future__ import annotations

import re
from functools import lru_cache
from typing import NamedTuple

from .lower import reprint

SYMBOL = re.compile(r"@([\w$.\-]+)")
_VALUE = re.compile(r"%([\w$.\-]+)")
_UNIQUIFIED = re.compile(r"^(.*)_\d+$")
_ARG = re.compile(r"arg(\d+)$")


class Whole(Exception):
    """A program whose module is not the splice of its steps' (see the module)."""


class Piece(NamedTuple):
    """One step's lowering, cut for splicing; plain data (a cache stores it as JSON)."""
    header: str                     # the module's first line
    args: tuple[str, ...]           # MLIR types of main's arguments
    params: tuple[int, ...]         # the step's parameter each argument is (JAX drops those its jaxpr does not use)
    body: tuple[str, ...]           # main's lines between its signature and its return
    returns: tuple[str, ...]        # the values main returns
    results: tuple[str, ...]        # their MLIR types
    helpers: tuple[tuple[str, tuple[str, ...]], ...]    # (name, lines) of each private function, in module order
    weak: tuple[bool, ...]          # whether each returned value is weakly typed
    whole: str = ""                 # why the step cannot be spliced ("": it can)
    others: tuple[str, ...] = ()    # the module's top-level lines that are not functions (`sdy.mesh`)


def split_functions(text: str) -> tuple[str, dict[str, list[str]], list[str]]:
    """Module text -> (header line, {function name: its lines}, the module's other
    top-level lines, e.g. `sdy.mesh`)."""
    lines = text.rstrip("\n").split("\n")
    header, funcs, others, name = lines[0], {}, [], None
    for line in lines[1:-1]:
        if line.startswith("  func.func"):
            name = SYMBOL.search(line).group(1)
            funcs[name] = []
        elif not line.startswith("   ") and line != "  }":     # another top-level op
            name = None
        (funcs[name] if name is not None else others).append(line)
    return header, funcs, others


def standalone_names(names, taken) -> list[str]:
    """The names MLIR's symbol table gives functions named `names` inserted in
    turn into a module that holds `taken`: a name already taken gets `_N`, N
    from one counter for the whole module (a name given `_N` by another
    module is taken back to its base first)."""
    out, taken, counter = [], set(taken), 0
    for f in names:
        m = _UNIQUIFIED.match(f)
        new = base = m.group(1) if m else f
        while new in taken:
            new, counter = f"{base}_{counter}", counter + 1
        taken.add(new)
        out.append(new)
    return out


def cut(lowered) -> Piece:
    """The Piece of a one-step function's `lowering.Lowered`."""
    header, funcs, others = split_functions(lowered.text)
    main, *helpers = funcs.items() if "main" in funcs else [("", [""])]
    signature, *lines = main[1]
    lines = lines[:-1] if lines and lines[-1] == "  }" else lines
    whole = ""
    if main[0] != "main" or not lines or not lines[-1].strip().startswith("return"):
        whole = "no plain main function"
    elif not all(line.startswith("  sdy.mesh @") for line in others) or \
            len(_CHANNEL.findall(lowered.text)) != lowered.text.count("channel_handle<"):
        whole = "a step with module-level state other than a mesh"
    elif bool(others) == ("mhlo.num_partitions = 1 " in header):
        whole = "a step over a mesh that is not declared, or one declared and not used"
    args, results = _signature(signature)
    if args is None or lowered.kept is None or len(lowered.kept) != len(args):
        whole = whole or "arguments or results with attributes, or not known"
        args, results = (), ()
    ret = lines[-1].strip()[len("return"):].split(" : ")[0].strip() if lines else ""
    returns = tuple(r.strip() for r in ret.split(",")) if ret else ()
    body = tuple(lines[:-1])
    if _returns_literal(body, returns):
        whole = whole or "a step whose value is a literal constant"
    return Piece(header, args, tuple(lowered.kept or ()), body, returns, results,
                 tuple((name, tuple(ls)) for name, ls in helpers), tuple(lowered.weak), whole, tuple(others))


# every collective of a program lowered with shardy has channel 1, whatever
# the module holds: a piece with another one is not spliced
_CHANNEL = re.compile(r"channel_handle = #stablehlo\.channel_handle<handle = 1, type = \d+>")
_PARTITIONS = re.compile(r"mhlo\.num_partitions = \d+ ")
_SCALAR = re.compile(r"tensor<[^\d?]")     # a rank-0 tensor type: no dimension first


def _returns_literal(body, returns) -> bool:
    """Whether a step returns a constant: a literal, which JAX prints where
    each later step uses it, not where the step is."""
    constants = {line.split(" = ")[0].strip() for line in body if " = stablehlo.constant " in line}
    return any(r in constants for r in returns)


_MAIN = re.compile(r"^  func\.func public @main\((.*)\) -> \((.*)\) \{$")
_TYPE = re.compile(r"(?:tensor|complex|tuple)<[^<>]*(?:<[^<>]*>[^<>]*)*>|[a-z]\w*")


def _signature(line: str):
    """(argument types, result types) of main's signature line, or (None, None)
    where an argument or result carries attributes other than its result name."""
    m = _MAIN.match(line)
    if m is None:
        return None, None
    args = re.findall(r"%arg\d+: (" + _TYPE.pattern + r")(,|$)", m.group(1))
    if len(args) != m.group(1).count("%arg"):
        return None, None
    results = re.findall(r"(" + _TYPE.pattern + r") \{jax\.result_info = \"[^\"]*\"\}(?:, |$)", m.group(2))
    if len(results) != m.group(2).count("jax.result_info") or "{" in m.group(2).replace(
            "{jax.result_info", ""):
        return None, None
    return tuple(t for t, _ in args), tuple(results)


class Step(NamedTuple):
    piece: Piece
    operands: tuple[int, ...]           # the program's value at each of the step's parameters
    results: tuple[int | None, ...]     # the program's value each returned value is (None: not the step's)


def splice(steps: list[Step], n_inputs: int, outputs: tuple[int, ...]):
    """(text, ops) of the module `jit` makes of a program whose inputs are
    values 0..n_inputs-1, whose steps are `steps` in order and which returns
    the values `outputs`; raises Whole where JAX's lowering would differ."""
    if not steps:
        raise Whole("a program of no step")
    for s in steps:
        if s.piece.whole:
            raise Whole(s.piece.whole)
    header, others = module_state([s.piece for s in steps])
    types, reads, helpers = _dataflow(steps, outputs)
    inputs = [v for v in range(n_inputs) if v in reads or v in outputs]
    if others and any(_SCALAR.match(types[v]) for v in [*inputs, *outputs]):
        # JAX gives a scalar of a module over a mesh a sharding on an empty mesh of its own
        raise Whole("a scalar input or output of a program over a mesh")
    return _reprint(_joined(steps, header, others, types, helpers, inputs, outputs))


def _dataflow(steps: list[Step], outputs) -> tuple[dict[int, str], set[int], list]:
    """(type of each value, values read, private functions (step, name, lines))
    of the program, before any text; raises Whole where a value is weak or
    made over a mesh where JAX would lower the program otherwise."""
    weak: set[int] = set()
    meshed: set[int] = set()
    reads: set[int] = set()
    types: dict[int, str] = {}
    helpers, seen = [], set()
    for k, s in enumerate(steps):
        p = s.piece
        args = [s.operands[q] for q in p.params]        # the program's value at each argument
        if weak.intersection(args):
            raise Whole("a weakly typed value crosses steps")
        crossing = bool(meshed.intersection(args))
        if crossing and p.helpers:
            # its type carries the mesh, and the step that reads it traces its private functions
            # otherwise (JAX shares one between two calls only when their operands' meshes agree)
            raise Whole("a value made over a mesh crosses to a step with private functions")
        reads.update(args)      # what JAX keeps of a step's operands, its jaxpr uses
        for a, v in enumerate(args):
            types.setdefault(v, p.args[a])
        for r, v, t, w in zip(p.returns, s.results, p.results, p.weak):
            if v is not None:
                types[v] = t
                if w:
                    weak.add(v)
                if p.others or crossing:        # what is made of it carries the mesh too
                    meshed.add(v)
        for name, lines in p.helpers:
            key = _helper_key(lines)    # JAX shares a function two calls traced once
            if key in seen:
                raise Whole(f"the private function @{name} is made twice (JAX may share it)")
            seen.add(key)
            helpers.append((k, name, lines))
    made = {v for s in steps for v in s.results if v is not None}
    if made - reads - set(outputs):
        raise Whole("a value no op reads and no output returns")
    if any(o not in types for o in outputs):
        raise Whole("an output no step types")
    return types, reads, helpers


def _joined(steps: list[Step], header, others, types, helpers, inputs, outputs) -> str:
    """The module's text: the steps' bodies one after another in @main, their
    SSA names and private functions renamed apart, as JAX would name them."""
    names = {v: f"%arg{i}" for i, v in enumerate(inputs)}     # program value -> its SSA name
    symbols = dict(zip([(k, name) for k, name, _ in helpers],
                       standalone_names([name for _, name, _ in helpers], {"main"})))
    functions = [{name: symbols[k, name] for name, _ in s.piece.helpers} for k, s in enumerate(steps)]
    body = []
    for k, s in enumerate(steps):
        p = s.piece
        args = [names[s.operands[q]] for q in p.params]
        body.append(_fill(_template(p.body, len(args)), args, f"%s{k}_", functions[k]))
        for r, v in zip(p.returns, s.results):
            if v is not None:
                names[v] = _fill(_template((r,), len(args)), args, f"%s{k}_", functions[k])
    result_names = ["result"] if len(outputs) == 1 else [f"result[{i}]" for i in range(len(outputs))]
    return "\n".join([
        header,
        *others,
        f"  func.func public @main({', '.join(f'%arg{i}: {types[v]}' for i, v in enumerate(inputs))}) -> ("
        + ", ".join(f'{types[o]} {{jax.result_info = "{r}"}}' for o, r in zip(outputs, result_names)) + ") {",
        *body,
        f"    return {', '.join(names[o] for o in outputs)} : {', '.join(types[o] for o in outputs)}",
        "  }",
        *(_symbols(line, functions[k]) for k, _, lines in helpers for line in lines),
        "}"])


def module_state(pieces) -> tuple[str, tuple[str, ...]]:
    """(header, top-level lines) of the module that joins these pieces: a
    mesh's, if a piece is over one (one mesh for all), else theirs; raises
    Whole where pieces differ otherwise."""
    meshes = {(p.header, p.others) for p in pieces if p.others}
    plain = {p.header for p in pieces if not p.others}
    if len(meshes) > 1 or len(plain) > 1:
        raise Whole("steps lowered in modules of different kinds")
    if not meshes:
        return plain.pop(), ()
    header, others = meshes.pop()
    if plain and _PARTITIONS.sub("", plain.pop()) != _PARTITIONS.sub("", header):
        raise Whole("steps lowered in modules of different kinds")
    return header, others


@lru_cache(maxsize=1 << 13)
def _helper_key(lines: tuple[str, ...]) -> tuple[str, ...]:
    """A function's text with the functions it names taken back to their base names."""
    return tuple(SYMBOL.sub(lambda m: "@" + _UNIQUIFIED.sub(r"\1", m.group(1)), line) for line in lines)


@lru_cache(maxsize=1 << 13)
def _template(lines: tuple[str, ...], n_args: int) -> tuple:
    """Lines cut at their values: (text, value, text, value, ..., text); a
    value is an int (the argument it is) or its name in the piece."""
    parts = _VALUE.split("\n".join(lines))
    for i in range(1, len(parts), 2):
        a = _ARG.match(parts[i])
        if a and int(a.group(1)) < n_args:
            parts[i] = int(a.group(1))
    return tuple(parts)


def _fill(template, args: list[str], prefix: str, functions: dict[str, str]) -> str:
    """A template with its arguments replaced by the values that feed them,
    its other values renamed apart with `prefix`, its functions renamed."""
    out = [template[0]]
    for i in range(1, len(template), 2):
        v = template[i]
        out.append(args[v] if isinstance(v, int) else prefix + v)
        out.append(template[i + 1])
    text = "".join(out)
    return _symbols(text, functions) if functions else text


def _symbols(line: str, rename: dict[str, str]) -> str:
    return SYMBOL.sub(lambda m: "@" + rename.get(m.group(1), m.group(1)), line)


def _reprint(text: str):
    """(text, ops) of a module as MLIR parses and prints it, as `as_text()` does."""
    from jaxlib.mlir import ir
    try:
        return reprint(text)
    except ir.MLIRError as e:       # a splice MLIR refuses is no module JAX would print
        raise Whole(f"MLIR does not parse the splice ({str(e).splitlines()[-1].strip()})") from None
