"""Checking a grammar's literals against the vocabulary (`vocabulary`).

A grammar's literals are printed into programs, so each operation
alternative's literals are checked when the grammar loads
(`check_literals`; the loader turns a finding into a `file:line` error):
Python tokens of the vocabulary only, and dotted names followed across
literals (`"jnp" "." "load"` is `jnp.load`). A module is named only as the
start of a whole dotted name (`jnp.exp`; never `jnp` passed around, which
would reach everything).
"""
from __future__ import annotations

import builtins
import io
import keyword
import tokenize

from .vocabulary import (KEYWORDS, OPERATORS, ROOTS, STRING, UnsafeProgram, attribute_problem, is_private,
                         number_problem, resolve)


def _token_problem(tok: tokenize.TokenInfo) -> str | None:
    """Why a token of a literal is outside the vocabulary (None: it is in)."""
    kind, text = tok.type, tok.string
    if kind == tokenize.OP:
        return None if text in OPERATORS else f"operator {text!r}"
    if kind == tokenize.NUMBER:
        return number_problem(text)
    if kind == tokenize.STRING:
        return None if STRING.fullmatch(text) else f"string {text!r} (only short plain strings)"
    if kind == tokenize.NAME:
        if keyword.iskeyword(text) or keyword.issoftkeyword(text):
            return None if text in KEYWORDS else f"keyword {text!r}"
        if is_private(text):
            return f"private or dunder name {text!r}"
        return None
    if kind in (tokenize.NEWLINE, tokenize.NL, tokenize.ENDMARKER, tokenize.INDENT, tokenize.DEDENT):
        return None
    return f"{tokenize.tok_name[kind].lower()} {text!r}"


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


def check_literals(pieces, roots=tuple(ROOTS)) -> None:
    """Check one grammar alternative: `pieces` in order, each a literal's text
    or None where a slot or attribute goes. Dotted names are followed across
    literals (`"jnp" "." "load"` is `jnp.load`) and start at one of `roots`
    (the modules the grammar's header imports, of `ROOTS`)."""
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
            problem = attribute_problem(tok)
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
            _check_name(chain, stream[i] if i < len(stream) else None, roots)
        except UnsafeProgram as e:
            e.literal = origin[i - 1]
            raise


def _raise(message, literal):
    e = UnsafeProgram(message)
    e.literal = literal
    raise e


def _is_name(tok) -> bool:
    return isinstance(tok, str) and tok.isidentifier()


def _check_name(chain: list[str], following, roots) -> None:
    """A name not after a dot, with the attributes that follow it: a module
    only as the start of a whole dotted name (`jnp.exp`, never `jnp` alone:
    a module passed around reaches everything), and one the header imports."""
    name = chain[0]
    if name in ROOTS:
        if name not in roots:
            raise UnsafeProgram(f"{'.'.join(chain)}: the grammar's header does not import {name} "
                                f"(it imports {', '.join(roots)})")
        if len(chain) == 1 or following == ".":
            raise UnsafeProgram(f"{'.'.join(chain)}: a module only as the start of a whole dotted name")
        problem = resolve(".".join(chain))
        if problem:
            raise UnsafeProgram(problem)
    elif hasattr(builtins, name):
        raise UnsafeProgram(f"name {name!r} is Python's builtin")
    elif len(chain) > 1 or following == ".":
        raise UnsafeProgram(f"{'.'.join(chain)}: dotted names start at {', '.join(roots)}")
