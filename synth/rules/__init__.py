"""The registry of type rules: one pure type transfer per kind of operation.

`framework` defines rules (`Rule`, `Operand`, the `rule` decorator) and the
registry (`REGISTRY`) the grammar's annotations name; `pools` the values
attributes are drawn from; `dtypes` the dtypes and domains rules name;
`shapes` and `syntax` the shape arithmetic and attribute spelling the
transfers share. The transfers themselves, one module per family, register
on import: elementwise, reductions, linalg, layout, indexing, windows,
creation, control (and transformations of sub-programs) and collectives.
"""
# importing a family registers its rules (in this order: the registry's)
from . import elementwise, reductions, linalg, layout, indexing, windows, creation, control, collectives  # noqa: F401
from .framework import REGISTRY, App, Body, Rule, fits
from .pools import SHAPES, Pools

__all__ = ["REGISTRY", "App", "Body", "Pools", "Rule", "SHAPES", "fits"]
