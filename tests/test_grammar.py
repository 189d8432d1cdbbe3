"""The grammar file is the single source of truth for operations, rules and weights."""
import random
import re

from jaxsynth.grammar import GRAMMAR_PATH
from jaxsynth.lowering import load_function, lower
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.printer import to_source
from jaxsynth.synth.rules import REGISTRY
from jaxsynth.synth.space import Space


def test_operations_come_from_the_file(grammar):
    text = GRAMMAR_PATH.read_text()
    aliases = [m.group(1) for line in text.splitlines() if not line.lstrip().startswith("//")
               for m in [re.search(r"->\s*(\w+)", line)] if m]
    assert [a.name for a in grammar.alts] == aliases
    exp = grammar.by_name["exp"]
    assert (exp.rule.name, exp.args, exp.weight) == ("unary", ("float",), 2.0)
    assert all(a.rule is REGISTRY[a.rule.name] for a in grammar.alts)


def test_adding_an_op_is_one_grammar_line(tmp_path):
    text = GRAMMAR_PATH.read_text()
    line = '     | "jnp.exp2" "(" expr ")" -> exp2                //@ unary(float) w=1000\n'
    anchor = '     | "jnp.log" "(" expr ")"'
    path = tmp_path / "more.lark"
    path.write_text(text.replace(anchor, line + anchor, 1))
    g = load_grammar(path)
    assert "exp2" in g.by_name and "exp2" not in load_grammar().by_name
    space = Space(g)
    programs = [space.sample(random.Random(k)) for k in range(10)]
    used = [p for p in programs if "exp2" in p.alternatives]
    assert used, "a heavily weighted new op must appear"
    source = to_source(used[0].tree, g)
    assert "jnp.exp2(" in source and g.parse(source) == used[0].tree
    lowered = lower(load_function(source), [t.spec() for t in used[0].inputs])
    assert "stablehlo.exponential" in lowered.ops   # exp2 lowers to exp(x * log 2)


def test_weight_overrides(grammar):
    from jaxsynth.synth.grammar import override_weights
    g = override_weights(grammar, [("--weight", "exp", "7.5"), ("--weight", "sin", "0")])
    assert g.by_name["exp"].weight == 7.5 and g.by_name["sin"].weight == 0
    assert grammar.by_name["exp"].weight == 2.0
    assert "sin" not in [a.name for a in Space(g).alts]


def test_a_grammar_loaded_without_its_parser_is_the_same(grammar, space):
    """A run's workers load the grammar without building its LALR parser; they
    get the same alternatives, and a parser on first use."""
    light = load_grammar(parser=False)

    def described(g):
        return [(a.name, a.rule.name, a.args, a.weight, a.flags, a.line, [s.name for s in a.expansion])
                for a in g.alts]
    assert described(light) == described(grammar)
    assert (light.literals, light.dtypes) == (grammar.literals, grammar.dtypes)
    source = to_source(space.sample(random.Random(1)).tree, grammar)
    assert light.parse(source) == grammar.parse(source)
