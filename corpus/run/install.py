"""What is installed: the versions a manifest records, and how to install
an optional extra the way jaxsynth itself was installed.
"""
from __future__ import annotations

import json
import platform
import sys


def versions() -> dict:
    from importlib import metadata

    import jax
    import jaxlib
    import lark
    import networkx
    import numpy
    try:
        ours = metadata.version("jaxsynth")
    except metadata.PackageNotFoundError:       # run from a source tree, not installed
        ours = "not installed"
    return {"jaxsynth": ours, "jax": jax.__version__, "jaxlib": jaxlib.__version__,
            "numpy": numpy.__version__, "lark": lark.__version__, "networkx": networkx.__version__,
            "python": platform.python_version()}


def install_hint(extra: str) -> str:
    """How to install an optional extra, as jaxsynth was installed: from a
    checkout (editable) by its folder, else by name from the index."""
    from importlib import metadata
    from urllib.parse import unquote, urlparse
    pip = f"{sys.executable} -m pip"       # this environment's, which need not be the one on PATH
    for dist in metadata.distributions(name="jaxsynth"):    # a checkout's egg-info has no install record
        try:
            url = json.loads(dist.read_text("direct_url.json") or "{}")
        except ValueError:
            continue
        where = urlparse(url.get("url", ""))
        if url.get("dir_info", {}).get("editable") and where.scheme == "file":
            return f'{pip} install -e "{unquote(where.path)}[{extra}]"'
    return f'{pip} install "jaxsynth[{extra}]"'
