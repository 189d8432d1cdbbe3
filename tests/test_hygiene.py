"""The suite itself: reproducible in CI, and nothing written into the work tree."""
import os
from pathlib import Path

from hypothesis import settings
from hypothesis.configuration import storage_directory

REPO = Path(__file__).resolve().parent.parent


def test_hypothesis_is_derandomized_exactly_in_ci():
    assert settings.default.derandomize == bool(os.environ.get("CI"))


def test_hypothesis_stores_nothing_in_the_work_tree():
    assert not storage_directory(intent_to_write=False).path.resolve().is_relative_to(REPO)
    db = settings.default.database
    assert db is None or not Path(db.path).resolve().is_relative_to(REPO)
