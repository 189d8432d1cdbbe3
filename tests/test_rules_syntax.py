"""The attribute values rules declare are spelled as the grammar's terminals
write them: the grammar states the language, the rules which of its values
to draw, and neither repeats the other's text."""
import re

from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.rules.creation import IMPLS
from jaxsynth.synth.rules.syntax import literal
from jaxsynth.synth.rules.windows import LENGTH


def _terminal(name):
    found = next(t for t in load_grammar().lark.terminals if t.name == name)
    return re.compile(found.pattern.to_regexp())


def test_declared_values_are_tokens_of_their_terminals():
    for terminal, values in (("IMPL", IMPLS), ("PADDING", tuple(LENGTH)), ("BOOL", (True, False)),
                             ("TUPLE", ((2,), (2, 3), ((0, 0), (1, 1)))), ("PERM", ([(0, 1), (1, 0)],))):
        for value in values:
            assert _terminal(terminal).fullmatch(literal(value)), (terminal, value)
