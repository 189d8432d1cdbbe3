"""The grammar of generated programs: `jax.lark` is the single source of truth
for the operation set, each operation's type rule and its sampling weight."""
from pathlib import Path

GRAMMAR_PATH = Path(__file__).resolve().parent / "jax.lark"
