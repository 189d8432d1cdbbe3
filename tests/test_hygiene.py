"""The suite itself: reproducible in CI, and nothing written into the work tree."""
import os
from pathlib import Path

from hypothesis import settings

REPO = Path(__file__).resolve().parent.parent


def test_hypothesis_is_derandomized_exactly_in_ci():
    assert settings.default.derandomize == bool(os.environ.get("CI"))


def test_hypothesis_keeps_its_database_outside_the_work_tree():
    db = settings.default.database
    assert db is None or not Path(db.path).resolve().is_relative_to(REPO)
