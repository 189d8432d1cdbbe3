"""Checks of one JSON value each, for the schema of records and manifests:
a check gives what is wrong with the value in words, or None.
"""
from __future__ import annotations

import re

from ...lowering import PLATFORMS, SYMBOLIC
from ...synth.types import SignatureError, parse_type

MAX_COUNT = 10 ** 12        # any count in a manifest or record, far beyond a real corpus


def count(v, lo=0, hi=MAX_COUNT) -> str | None:
    ok = isinstance(v, int) and not isinstance(v, bool) and lo <= v <= hi
    return None if ok else f"not an integer in [{lo}, {hi}]"


def text(v, most=1 << 26) -> str | None:
    if not (isinstance(v, str) and len(v) <= most):
        return "not a string"
    try:
        v.encode("utf-8")       # JSON may write a lone surrogate ("\ud800"), which no text holds
    except UnicodeEncodeError:
        return "not valid Unicode text (a lone surrogate)"
    return None


def types(v) -> str | None:
    if not isinstance(v, list) or not all(isinstance(t, str) for t in v):
        return "not a list of types"
    for t in v:
        try:
            parse_type(t)
        except SignatureError as e:
            return str(e)
    return None


def tally(v) -> str | None:
    """{reason: count}"""
    if not isinstance(v, dict) or not all(isinstance(k, str) and count(n) is None for k, n in v.items()):
        return "not an object of counts"
    return None


def lowering(v) -> str | None:
    ok = isinstance(v, dict) and v.get("platform") in PLATFORMS and isinstance(v.get("symbolic"), bool) \
        and v.get("shapes", "static") in (SYMBOLIC if v["symbolic"] else ("static",))
    return None if ok else "not {platform, symbolic, shapes} (shapes static unless symbolic)"


def ops(v) -> str | None:
    ok = isinstance(v, list) and all(isinstance(o, dict) and isinstance(o.get("op"), str) and len(o["op"]) < 200
                                     and count(o.get("count"), 1) is None for o in v)
    return None if ok else "not a list of {op, count >= 1}"


def attribution(v) -> str | None:
    ok = isinstance(v, list) and all(isinstance(a, dict) and isinstance(a.get("alternative"), str)
                                     and len(a["alternative"]) < 200 and isinstance(a.get("op"), str)
                                     and len(a["op"]) < 200 and count(a.get("count"), 1) is None for a in v)
    return None if ok else "not a list of {alternative, op, count >= 1}"


def names(v) -> str | None:
    return None if isinstance(v, list) and all(isinstance(a, str) for a in v) else "not a list of names"


def structural_hash(v) -> str | None:
    return None if isinstance(v, str) and re.fullmatch(r"[0-9a-f]{32}", v) else "not a 32-digit hex hash"
