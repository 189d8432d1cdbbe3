"""Shared fixtures: the packaged grammar and its expansion space, loaded once."""
import pytest

from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.space import Space


@pytest.fixture(scope="session")
def grammar():
    return load_grammar()


@pytest.fixture(scope="session")
def space(grammar):
    return Space(grammar)
