"""Shared fixtures: the packaged grammar and its expansion space, loaded once.

Hypothesis runs derandomized in CI (the CI variable set, as CI sets it), so a
CI run is reproducible; elsewhere it explores new examples each run. What it
stores (example database, caches) lives in the user's cache, never in the
work tree."""
import os
import tempfile
from pathlib import Path

import pytest
from hypothesis import settings
from hypothesis.configuration import set_hypothesis_home_dir

from jaxsynth.lowering.devices import fake_devices
from jaxsynth.synth.grammar import load_grammar
from jaxsynth.synth.space import Space

fake_devices()        # as the lowering processes do: programs may shard over a mesh
# one fragment cache for the session, not the user's: what a test sees does not
# depend on what ran before it on this machine
os.environ["JAXSYNTH_FRAGMENTS"] = tempfile.mkdtemp(prefix="jaxsynth-fragments-")
set_hypothesis_home_dir(Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "jaxsynth" / "hypothesis")
settings.register_profile("ci", derandomize=True, database=None, print_blob=True)
settings.register_profile("dev")
settings.load_profile("ci" if os.environ.get("CI") else "dev")


@pytest.fixture(scope="session")
def pinned():
    """The frozen grammar of the pinned enumeration facts (see test_pinned.py)."""
    return Path(__file__).parent / "data" / "pinned.lark"


@pytest.fixture(scope="session")
def grammar():
    return load_grammar()


@pytest.fixture(scope="session")
def space(grammar):
    return Space(grammar)


@pytest.fixture(autouse=True)
def enough_cores(monkeypatch):
    """Runs cap --workers at the machine's cores; tests that compare worker
    counts mean the counts they ask for, on any machine."""
    from jaxsynth.corpus.cli import jobs
    monkeypatch.setattr(jobs, "cores", lambda: max(os.cpu_count() or 1, 4))
