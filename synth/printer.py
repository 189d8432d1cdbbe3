"""Print derivation trees as Python/JAX source, in two styles.

- `statements`: one statement per operation, as the tree was generated;
- `nested`: a value used exactly once is written where it is used
  (`nest(tree)` makes that tree; printing it is the same printer).

Operations print by walking their grammar alternative: literal tokens as
written in the grammar, children in their slots, so a new alternative needs
no printer change. An infix child in a `term` slot gets parentheses, exactly
as the grammar requires. A program starts with the grammar's import header
(`Grammar.header`, read by `skeleton`). For both styles
`grammar.parse(print(t)) == t`.
"""
from __future__ import annotations

from collections import Counter

from lark import Token, Tree

from .grammar import Grammar
from .skeleton import CARRY, FUNCDEF, INFIX, LAM, NAME, RET, START, STMT, TERM, makes_child

STYLES = ("statements", "nested")
_OP_CHARS = set("+-*/@<>=!&|^%")


def _spaced(a: str, b: str) -> bool:
    """Whether a space goes between two printed pieces."""
    if a.endswith(",") or a == ":":
        return True
    if (set(a) <= _OP_CHARS and a != "=") or (set(b) <= _OP_CHARS and b != "="):
        return True
    if b in (")", "]", ",", ":", "=") or b[0] in "([." or a in ("(", "[", "="):
        return False
    return (a[-1].isalnum() or a[-1] == "_") and (b[0].isalnum() or b[0] == "_")


def _join(pieces: list[str]) -> tuple[str, list[int]]:
    """The pieces joined, and where each starts."""
    out, starts = pieces[0], [0]
    for a, b in zip(pieces, pieces[1:]):
        out += " " if _spaced(a, b) else ""
        starts.append(len(out))
        out += b
    return out, starts


def _shifted(spans, by: int) -> list:
    return [(start + by, end + by, alt) for start, end, alt in spans]


class Printer:
    """Prints trees, and says where each operation's text is: the spans the
    grammar's parser gives the printed text (`Grammar.spans`), without parsing it."""

    def __init__(self, grammar: Grammar):
        self.grammar = grammar

    def expr(self, node) -> str:
        return self.expr_spans(node)[0]

    def expr_spans(self, node) -> tuple[str, list[tuple[int, int, str]]]:
        """The expression's text, and (start, end, alternative) of each
        operation in it, columns from the text's start, outermost first."""
        if isinstance(node, Token):
            return str(node), []
        if node.data == CARRY:
            return str(node.children[0]), []
        if node.data == LAM:
            *params, body = node.children
            head = f"lambda {', '.join(params)}: "
            text, spans = self.expr_spans(body)
            return head + text, _shifted(spans, len(head))
        alt = self.grammar.by_name[node.data]
        children, pieces, inner = iter(node.children), [], []
        for sym in alt.expansion:
            if not makes_child(sym):
                pieces.append(self.grammar.literals[sym.name])
                continue
            child = next(children)
            text, spans = self.expr_spans(child)
            if sym.name == TERM and self._is_infix(child):
                # the parentheses are the enclosing term's, not the infix operation's
                text, spans = f"({text})", _shifted(spans, 1)
            inner.append((len(pieces), spans))
            pieces.append(text)
        text, starts = _join(pieces)
        out = [(0, len(text), node.data)]
        for i, spans in inner:
            out += _shifted(spans, starts[i])
        return text, out

    def _is_infix(self, node) -> bool:
        return isinstance(node, Tree) and node.data in self.grammar.by_name \
            and self.grammar.by_name[node.data].origin == INFIX

    def source_spans(self, tree: Tree):
        """The program's text, and its `Grammar.spans`."""
        fn = tree.children[0]
        name, params, doc, *stmts, ret = fn.children
        lines = [f"def {name}({', '.join(params.children)}):", f"    {doc}"]
        spans, header = [], self.grammar.header

        def line(head: str, exprs) -> None:
            number = header.count("\n") + len(lines) + 1
            for k, e in enumerate(exprs):
                text, inner = self.expr_spans(e)
                spans.extend(((number, len(head) + a), (number, len(head) + b), alt) for a, b, alt in inner)
                head += text + (", " if k + 1 < len(exprs) else "")
            lines.append(head)

        for s in stmts:
            line(f"    {', '.join(s.children[:-1])} = ", s.children[-1:])
        line("    return ", ret.children)
        return header + "\n".join(lines) + "\n", spans


def _tokens(node):
    return [node] if isinstance(node, Token) else list(node.scan_values(lambda v: isinstance(v, Token)))


def inlined(stmts, ret) -> set[str]:
    """The values `nest` writes in place: single results used exactly once."""
    uses = Counter(t for s in stmts for t in _tokens(s.children[-1]))
    uses.update(t for e in ret.children for t in _tokens(e))
    return {str(s.children[0]) for s in stmts if len(s.children) == 2 and uses[str(s.children[0])] == 1}


def nest(tree: Tree) -> Tree:
    """The same program with every value used exactly once written in place."""
    fn = tree.children[0]
    name, params, doc, *stmts, ret = fn.children
    written_in_place = inlined(stmts, ret)
    inline, kept = {}, []

    def subst(node):
        if isinstance(node, Token):
            return inline.get(str(node), node) if node.type == NAME else node
        return Tree(node.data, [subst(c) for c in node.children])

    for s in stmts:
        *targets, expr = s.children
        expr = subst(expr)
        if str(targets[0]) in written_in_place:
            inline[str(targets[0])] = expr
        else:                   # used twice or more, or one of several results: keep the name
            kept.append(Tree(STMT, [*targets, expr]))
    ret = Tree(RET, [subst(e) for e in ret.children])
    return Tree(START, [Tree(FUNCDEF, [name, params, doc, *kept, ret])])


def to_source(tree: Tree, grammar: Grammar, style: str = "statements") -> str:
    return printed(tree, grammar, style)[0]


def printed(tree: Tree, grammar: Grammar, style: str = "statements"):
    """(source, spans): the program's text in `style`, and where each
    operation is in it, as `grammar.spans(source)` would say."""
    if style not in STYLES:
        raise ValueError(f"unknown style {style!r} (one of {', '.join(STYLES)})")
    return Printer(grammar).source_spans(nest(tree) if style == "nested" else tree)
