"""A generated program: its steps, derivation tree and dataflow graph.

A program is a signature and a sequence of `Step`s, each one application of
an operation alternative to values in scope. From the steps come

- the derivation tree, a `lark.Tree` of exactly the form the grammar's parser
  returns for the printed program (one statement per step);
- the dataflow graph, a `networkx.DiGraph` whose nodes are values (inputs,
  intermediates; outputs marked) with dtype and shape, and whose edges are
  uses: operands, values a step's sub-programs capture, and shape-only uses
  (which do not keep a value from being returned); it defines depth and the
  structural hash (`depth_of_graph`, `structural_hash_of_graph`), which
  `Program` computes from the steps alone, the same numbers and strings
  without building the graph.

The structural hash ignores variable names, the order of independent
statements, the order of returned values, and whether a repeated
subexpression is bound once or written twice: it hashes what each value
computes from the numbered inputs.
"""
from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import cached_property, lru_cache
from typing import TYPE_CHECKING, NamedTuple

from lark import Token, Tree

from .grammar import Alt
from .rules import App, Body
from .skeleton import (CARRY, CARRY_TOKEN, DOCSTRING, FUNC_NAME, FUNCDEF, LAM, NAME, PARAMS, RET, START, STMT,
                       input_name, is_carry, is_slot, value_name)
from .types import Type, format_signature

if TYPE_CHECKING:     # imported where the graph is built: the CLI's start-up need not pay for it
    import networkx as nx

class Step(NamedTuple):
    """One operation: alternative, application, and a chain of body steps
    for each Body slot. Inside a body, operand indices point into
    `chain_scope(body)` followed by the current value of the chain."""
    alt: Alt
    app: App
    bodies: tuple[tuple["Step", ...], ...] = ()


def ref(name: str, tree=Tree, token=Token):
    """How a program writes a reference to a value or parameter: a NAME token,
    or a `carry` tree for a component of a tuple carry (`c[0]`)."""
    return tree(CARRY, [token(CARRY_TOKEN, name)]) if is_carry(name) else token(NAME, name)


def chain_start(body: Body) -> int:
    """The parameter a body's chain starts from: `body.start`, or the last of the result type."""
    if body.start >= 0:
        return body.start
    return max(i for i, (_, t) in enumerate(body.params) if t == body.result)


def needed(body: Body) -> set[int]:
    """Positions in `chain_scope(body)` of the parameters the chain must read."""
    return {q for q, (name, _) in enumerate(chain_scope(body)) if name in body.needs}


def chain_scope(body: Body) -> tuple[tuple[str, Type], ...]:
    """What a chain step sees besides the current value: the other parameters.
    (The start parameter is the first current value; listing it twice would
    make the same program twice.)"""
    start = chain_start(body)
    return tuple(p for i, p in enumerate(body.params) if i != start)


def op_tree(step: Step, refs, outer, tree=Tree, token=Token) -> Tree:
    """The tree of one step, given the trees (or name tokens) of the values in
    its scope (`refs`) and of the values its sub-programs may capture (`outer`).
    `tree` and `token` make the nodes: lark's by default, or their text
    (`tree_text`, `token_text`) to get the tree's repr without building it."""
    slots, attrs, chains = iter(step.app.slots), iter(step.app.attrs), iter(step.bodies)
    children = []
    for slotted, name in _children(step.alt):
        if slotted:
            slot = next(slots)
            if isinstance(slot, Body):
                body = body_tree(slot, next(chains), outer, tree, token)
                if name == LAM:
                    body = tree(LAM, [token(NAME, n) for n, _ in slot.params] + [body])
                children.append(body)
            else:
                children.append(refs[slot])
        else:
            children.append(token(name, next(attrs)))
    return tree(step.alt.name, children)


@lru_cache(maxsize=4096)
def _children(alt: Alt) -> tuple[tuple[bool, str], ...]:
    """(whether it is a slot, its name) for each symbol of the alternative
    that makes a child in its tree (`Alt.children`): rules (slots) and kept
    terminals (attributes)."""
    return tuple((is_slot(sym), sym.name) for sym in alt.children)


def body_tree(body: Body, chain, outer, tree=Tree, token=Token) -> Tree | Token:
    """A sub-program's expression: its chain applied to its start parameter.
    A chain step sees the body's other parameters, the current value, then
    the enclosing program's values (`outer`, captured by the lambda)."""
    scope = [ref(n, tree, token) for n, _ in chain_scope(body)]
    cur = ref(body.params[chain_start(body)][0], tree, token)
    for step in chain:
        cur = op_tree(step, scope + [cur] + list(outer), outer, tree, token)
    return cur


def tree_text(data: str, children: list[str]) -> str:
    """`repr(Tree(data, children))`, given the reprs of the children."""
    return f"Tree({data!r}, [{', '.join(children)}])"


def token_text(kind: str, value: str) -> str:
    """`repr(Token(kind, value))`."""
    return f"Token({kind!r}, {value!r})"


BLANK = Token(NAME, "_")


def label(step: Step, scope: int) -> str:
    """What the dataflow graph labels a step with, in a scope of `scope`
    values: the repr of its tree with every operand and captured value
    written `_`. Built as text: the same string, without the lark nodes."""
    blank = [repr(BLANK)] * scope
    return op_tree(step, blank, blank, tree_text, token_text)


def reads(step: Step) -> list[int]:
    """The operand indices whose values the step reads (not those it reads only the shape of)."""
    return [s for s in step.app.slots if isinstance(s, int)] if step.alt.reads else []


def captures(step: Step) -> list[int]:
    """The enclosing program's values that the step's sub-programs read, in chain order."""
    out = []
    for body, chain in zip((b for b in step.app.slots if isinstance(b, Body)), step.bodies):
        local = len(chain_scope(body)) + 1
        for s in chain:
            out += [j - local for j in reads(s) if j >= local]
            out += captures(s)          # nested sub-programs see the same enclosing values
    return out


def _body_ops(step: Step):
    for chain in step.bodies:
        for s in chain:
            yield s.alt.name
            yield from _body_ops(s)


@dataclass(frozen=True)
class Program:
    inputs: tuple[Type, ...]
    steps: tuple[Step, ...]

    @cached_property
    def types(self) -> tuple[Type, ...]:
        """Types of all values: inputs, then each step's results."""
        return self.inputs + tuple(t for s in self.steps for t in s.app.results)

    @cached_property
    def values(self) -> tuple[range, ...]:
        """The indices of each step's values (one per result)."""
        out, k = [], len(self.inputs)
        for s in self.steps:
            out.append(range(k, k + len(s.app.results)))
            k += len(s.app.results)
        return tuple(out)

    @cached_property
    def outputs(self) -> tuple[int, ...]:
        """Values nobody reads (the sinks): the program returns all of them.
        A capture by a sub-program is a read; a shape-only use is not."""
        used = {s for st in self.steps for s in reads(st) + captures(st)}
        return tuple(i for i in range(len(self.types)) if i not in used)

    def name(self, i: int) -> str:
        n = len(self.inputs)
        return input_name(i) if i < n else value_name(i - n)

    @property
    def output_types(self) -> tuple[Type, ...]:
        return tuple(self.types[i] for i in self.outputs)

    @property
    def alternatives(self) -> list[str]:
        """Every alternative used, in program order, bodies included."""
        out = []
        for s in self.steps:
            out.append(s.alt.name)
            out.extend(_body_ops(s))
        return out

    @property
    def size(self) -> int:
        return len(self.alternatives)

    def docstring(self) -> str:
        return f'"""{format_signature(self.inputs)} -> {format_signature(self.output_types)}"""'

    @cached_property
    def tree(self) -> Tree:
        """The derivation tree, one statement per step."""
        n = len(self.inputs)
        refs = [Token(NAME, self.name(i)) for i in range(len(self.types))]
        stmts = [Tree(STMT, [*(refs[i] for i in vs), op_tree(s, refs, refs[:vs.start])])
                 for s, vs in zip(self.steps, self.values)]
        params = Tree(PARAMS, refs[:n])
        ret = Tree(RET, [refs[i] for i in self.outputs])
        fn = Tree(FUNCDEF, [Token(NAME, FUNC_NAME), params, Token(DOCSTRING, self.docstring()), *stmts, ret])
        return Tree(START, [fn])

    @cached_property
    def graph(self) -> nx.DiGraph:
        import networkx as nx
        g = nx.DiGraph()
        for i, t in enumerate(self.inputs):
            g.add_node(self.name(i), kind="input", dtype=t.dtype, shape=t.shape, index=i)
        for s, vs in zip(self.steps, self.values):
            # operands and captured values print as `_`: the label is the op with
            # its attributes and bodies (and which of its results the value is);
            # edges say which value sits at which `_` (operands in slot order,
            # then captures in chain order)
            blank = [BLANK] * vs.start
            label = str(op_tree(s, blank, blank))
            for r, (i, t) in enumerate(zip(vs, s.app.results)):
                v = self.name(i)
                g.add_node(v, kind="op", alt=s.alt.name, dtype=t.dtype, shape=t.shape, body_ops=list(_body_ops(s)),
                           label=label if len(vs) == 1 else f"{label}#{r}")
                operands = [x for x in s.app.slots if isinstance(x, int)]
                for pos, u in enumerate(operands + captures(s)):
                    u, kind = self.name(u), "capture" if pos >= len(operands) else "operand" if s.alt.reads else "shape"
                    if g.has_edge(u, v):
                        g.edges[u, v]["pos"] += (pos,)
                        g.edges[u, v]["kinds"] += (kind,)
                    else:
                        g.add_edge(u, v, pos=(pos,), kinds=(kind,))
        for i in self.outputs:
            g.nodes[self.name(i)]["output"] = True
        return g

    @property
    def depth(self) -> int:
        """Most operations on one path through the dataflow graph, bodies
        excluded (`depth_of_graph`), computed from the steps."""
        depth = [0] * len(self.inputs)
        for s, vs in zip(self.steps, self.values):
            depth += [1 + max((depth[u] for u in uses(s)), default=0)] * len(vs)
        return max(depth, default=0)

    @cached_property
    def structural_hash(self) -> str:
        """The hash of the dataflow graph (`structural_hash_of_graph`, its
        definition), computed from the steps: a corpus run hashes every
        program it draws, and most never reach the graph."""
        memo = [_digest(_input_key(i, t)) for i, t in enumerate(self.inputs)]
        for s, vs in zip(self.steps, self.values):
            text, args = label(s, vs.start), ",".join(memo[u] for u in uses(s))
            memo += [_digest(f"{text}|{args}")] if len(vs) == 1 else \
                [_digest(f"{text}#{r}|{args}") for r in range(len(vs))]
        return _program_digest(self.inputs, [memo[i] for i in self.outputs])


def uses(step: Step) -> list[int]:
    """Every value a step uses, at its position among the graph's edges into
    the step's values: operands in slot order (shape-only ones included),
    then captured values in chain order."""
    return [s for s in step.app.slots if isinstance(s, int)] + captures(step)


def _digest(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _input_key(i: int, t: Type) -> str:
    return f"in{i}:{t}"


def _program_digest(inputs, outputs) -> str:
    """The hash of a program whose returned values have these digests, in any order."""
    return _digest(format_signature(inputs) + "|" + ",".join(sorted(outputs)))[:32]


def depth_of_graph(program: Program) -> int:
    """Most operations on one path through the program's dataflow graph."""
    import networkx as nx
    g, depth = program.graph, {}
    for v in nx.topological_sort(g):
        ops = [depth[u] for u in g.predecessors(v)]
        depth[v] = (g.nodes[v]["kind"] == "op") + max(ops, default=0)
    return max(depth.values(), default=0)


def structural_hash_of_graph(program: Program) -> str:
    """The structural hash, defined on the dataflow graph: each value's digest
    is that of its label and the digests of the values at its edges'
    positions (an input's: its number and type); the program's, that of its
    signature and its returned values' digests, sorted."""
    import networkx as nx
    g, memo = program.graph, {}
    for v in nx.topological_sort(g):
        node = g.nodes[v]
        if node["kind"] == "input":
            key = _input_key(node["index"], program.types[node["index"]])
        else:
            ops = sorted(((p, memo[u]) for u in g.predecessors(v) for p in g.edges[u, v]["pos"]))
            key = node["label"] + "|" + ",".join(h for _, h in ops)
        memo[v] = _digest(key)
    return _program_digest(program.inputs, [memo[program.name(i)] for i in program.outputs])
