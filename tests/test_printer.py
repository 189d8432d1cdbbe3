"""Printing: both styles parse back to the same tree, are Python, and run; the
printer says where each operation is as the parser does."""
import ast
import random
import re
from collections import Counter

import pytest
from hypothesis import given, settings, strategies as st

from jaxsynth.lowering import load_function
from jaxsynth.synth.printer import STYLES, nest, printed, to_source
from jaxsynth.synth.program import captures, reads


@pytest.mark.parametrize("style", STYLES)
def test_round_trip_500(grammar, space, style):
    for k in range(500):
        program = space.sample(random.Random(f"rt:{k}"))
        tree = nest(program.tree) if style == "nested" else program.tree
        source, spans = printed(program.tree, grammar, style)
        assert grammar.parse(source) == tree, source
        assert spans == grammar.spans(source), source
        ast.parse(source)
        if k % 25 == 0:
            assert callable(load_function(source))


@settings(max_examples=60, deadline=None)
@given(seed=st.integers(0, 2**32))
def test_round_trip_property(grammar, space, seed):
    program = space.sample(random.Random(seed))
    for style in STYLES:
        source, spans = printed(program.tree, grammar, style)
        assert grammar.parse(source) == (nest(program.tree) if style == "nested" else program.tree)
        assert spans == grammar.spans(source)


def test_nested_style_inlines_single_uses(grammar, space):
    shorter = 0
    for k in range(50):
        program = space.sample(random.Random(f"nest:{k}"))
        flat, nested = (to_source(program.tree, grammar, s) for s in STYLES)
        uses = Counter(u for s in program.steps for u in reads(s) + captures(s))
        shared = {program.name(u) for u, n in uses.items() if n > 1}
        # every value used once disappears as a statement; shared ones stay
        for name in shared:
            if name.startswith("v"):       # bound alone, or with the other results of its operation
                assert re.search(rf"^    (\w+, )*{name}(, \w+)* = ", nested, re.M)
        shorter += nested.count("\n") < flat.count("\n")
    assert shorter > 25


def test_readable_output(grammar, space):
    source = to_source(space.sample(random.Random(3)).tree, grammar)
    assert source.startswith("import jax\nimport jax.numpy as jnp\nfrom jax import lax\n")
    assert '    """' in source and " -> " in source     # docstring gives the input and output types


IMPORTS = '_IMPORTS: "import jax" _WS "import jax.numpy as jnp" _WS "from jax import lax"'


def test_the_printers_header_is_the_grammars(grammar, space, tmp_path):
    """Programs start with the imports the grammar's _IMPORTS terminal states,
    one a line: the packaged grammar's, and another grammar's (here in
    another order), with the printer's spans still the parser's."""
    from jaxsynth.synth.grammar import load_grammar
    program = space.sample(random.Random("header"))
    assert grammar.header == "import jax\nimport jax.numpy as jnp\nfrom jax import lax\n\n\n"
    assert to_source(program.tree, grammar).startswith(grammar.header)
    path = tmp_path / "reordered.lark"
    path.write_text(grammar.text.replace(
        IMPORTS, '_IMPORTS: "from jax import lax" _WS "import jax" _WS "import jax.numpy as jnp"'))
    other = load_grammar(path)
    assert other.header == "from jax import lax\nimport jax\nimport jax.numpy as jnp\n\n\n"
    for style in STYLES:
        source, spans = printed(program.tree, other, style)
        assert source == other.header + to_source(program.tree, grammar, style)[len(grammar.header):]
        assert other.parse(source) == (nest(program.tree) if style == "nested" else program.tree)
        assert spans == other.spans(source)
        assert callable(load_function(source))
