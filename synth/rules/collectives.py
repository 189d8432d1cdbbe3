"""Type transfers of collectives: operations over the mesh axis of a
shard_map's sub-program (declared `within="mesh"`, they get the mesh size)."""
from __future__ import annotations

from .elementwise import unop
from .framework import Operand, arg, rule
from .syntax import literal

unop("collective", within="mesh")           # keeps x's type: psum, pmax, ...


@rule(arg(1), attrs=2, args=("domain",), within="mesh")
def collective_blocks(x, pools, domain, mesh):
    """A collective that splits an axis into one block per device and joins
    them back on that axis (all_to_all; psum_scatter then all_gather)."""
    for ax, d in enumerate(x.shape):
        if d % mesh == 0:
            yield (str(ax), str(ax)), x


@rule(Operand("numeric"), attrs=1, within="mesh")
def ppermute(x, pools, mesh):
    """Send each device's value to the next one around the ring."""
    yield (literal([(j, (j + 1) % mesh) for j in range(mesh)]),), x


@rule(Operand("index_sum"), within="mesh")
def axis_offset(x, pools, mesh):
    """x plus the device's index along the mesh axis (the sum keeps x's dtype)."""
    yield (), x
