"""The `jaxsynth` command: its parser, its commands and their progress lines."""
from .entry import main

__all__ = ["main"]
