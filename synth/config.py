"""What an expansion space is configured with (`Config`), and what sampling
says when a signature or configuration admits no program (`NoProgram`).

Both are re-exported by `space`, where the command line and the corpus
take them from; they sit here so that the modules `space` is made of can
use them without importing it.
"""
from __future__ import annotations

from dataclasses import dataclass, field

from .rules import Pools


class NoProgram(ValueError):
    """The signature admits no program under this grammar and configuration."""


@dataclass(frozen=True)
class Config:
    pools: Pools = field(default_factory=Pools)
    max_ops: int = 8            # sampled programs have 1..max_ops top-level operations
    max_body_ops: int = 2       # longest sampled sub-program
    max_depth: int = 2          # how deeply sub-programs nest
    max_inputs: int = 3         # sampled signatures have 1..max_inputs inputs
    batched: bool = False       # programs may run under vmap (symbolic lowering): no op without a batching rule
