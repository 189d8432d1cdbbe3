"""Fake CPU devices for lowering collectives (`shard_map` over a mesh).

XLA reads `--xla_force_host_platform_device_count` once, when JAX's CPU
backend starts; a process that lowers programs calls `fake_devices()` before
its first lowering. Lowering needs the devices to exist, not to be real.
"""
from __future__ import annotations

import os

DEVICES = 8          # the largest mesh a program may name
_FLAG = "--xla_force_host_platform_device_count"


def fake_devices(n: int = DEVICES) -> None:
    """Ask XLA for n host devices, unless the process already set a count.
    Effective only before JAX's backend starts (a no-op after)."""
    flags = os.environ.get("XLA_FLAGS", "")
    if _FLAG not in flags:
        os.environ["XLA_FLAGS"] = f"{flags} {_FLAG}={n}".strip()
