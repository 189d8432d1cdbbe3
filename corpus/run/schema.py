"""What a corpus on disk is: the schema of its records and its manifest.

A corpus directory holds `manifest.json` and the record shards it lists
(`records-NNNNN.jsonl`). Corpora travel, so everything read is checked
against this schema (by `readers`) before anything uses it: JSON types,
ranges (counts >= 0 and no larger than what they count), the shards the
manifest lists and nothing else, and completeness. A check gives the
problem in words, or None; the reader makes it a `CorpusError` that names
the file (and line).
"""
from __future__ import annotations

import math
import re

from . import checks
from .fields import FIELDS
from .files import FORMAT, shard_name
from .records import PROGRAM

MAX_MANIFEST = 64 << 20     # bytes: a manifest lists shards, not records
MAX_LINE = 64 << 20         # bytes of one record
HEX = re.compile(r"[0-9a-f]{64}")
DEFAULT_LOWERING = {"platform": "cpu", "symbolic": False, "shapes": "static"}   # corpora older than format 3


def _attributed(record: dict) -> str | None:
    """Whether a record's attribution shares out exactly its op counts among
    its own alternatives."""
    owners, ops = set(record["alternatives"]) | {PROGRAM}, {}
    for a in record["attribution"]:
        if a["alternative"] not in owners:
            return f"field 'attribution': {a['alternative']!r} is not one of the program's alternatives"
        ops[a["op"]] = ops.get(a["op"], 0) + a["count"]
    if ops != {o["op"]: o["count"] for o in record["ops"]}:
        return "field 'attribution' does not add up to field 'ops'"
    return None


RECORD = {f.name: f.check for f in FIELDS if f.check and not f.optional}   # every field a reader relies on
OPTIONAL = {f.name: f.check for f in FIELDS if f.check and f.optional}     # checked where present


def _fields(obj, checks: dict) -> str | None:
    """The first field of a JSON object missing or failing its check; the
    OPTIONAL ones checked where present."""
    if not isinstance(obj, dict):
        return "not a JSON object"
    for name, check in checks.items():
        if name not in obj:
            return f"field {name!r} missing"
        problem = check(obj[name])
        if problem:
            return f"field {name!r}: {problem}"
    for name, check in OPTIONAL.items():
        problem = check(obj[name]) if name in obj else None
        if problem:
            return f"field {name!r}: {problem}"
    return None


def check_record(record) -> str | None:
    """What is wrong with a record, or None."""
    problem = _fields(record, RECORD)
    if problem:
        return problem
    occurrences = sum(o["count"] for o in record["ops"])
    if occurrences > len(record["stablehlo"]):
        return f"field 'ops' counts {occurrences} ops in a text of {len(record['stablehlo'])} characters"
    return _attributed(record) if "attribution" in record else None


def lowering_of(record: dict) -> dict:
    """A record's lowering: {"platform": str, "symbolic": bool, "shapes": str}."""
    return {**DEFAULT_LOWERING, **record.get("lowering", {})}


def _shard(entry, n: int) -> str | None:
    if not isinstance(entry, dict):
        return "not an object"
    for key, check in (("number", checks.count), ("start", checks.count), ("stop", checks.count),
                       ("records", checks.count), ("duplicates", checks.count), ("failures", checks.tally)):
        problem = check(entry.get(key))
        if problem:
            return f"{key!r}: {problem}"
    # programs spliced, verified, by JAX (format 5); of the records written (format 6)
    if "lowering" in entry and checks.tally(entry["lowering"]):
        return f"'lowering': {checks.tally(entry['lowering'])}"
    if entry["number"] != n:
        return f"'number' is {entry['number']}, expected {n} (shards are listed in order)"
    if entry.get("file") != shard_name(n):
        return f"'file' is not {shard_name(n)}"
    if not (isinstance(entry.get("sha256"), str) and HEX.fullmatch(entry["sha256"])):
        return "'sha256' is not a sha256"
    if entry["start"] > entry["stop"] or entry["records"] > entry["stop"] - entry["start"]:
        return "'records' does not fit in 'start'..'stop'"
    return None


def check_manifest(m) -> str | None:
    """What is wrong with a manifest, or None."""
    fields = {
        "format": lambda v: checks.count(v, 1, FORMAT),
        "command": lambda v: None if v in ("sample", "enumerate") else "not sample or enumerate",
        "complete": lambda v: None if isinstance(v, bool) else "not true or false",
        "shard_size": lambda v: checks.count(v, 1, 10 ** 6),
        "target": checks.count,
        "grammar": checks.text,
        "grammar_sha256": lambda v: None if isinstance(v, str) and HEX.fullmatch(v) else "not a sha256",
        "weights": lambda v: None if isinstance(v, dict) and all(
            isinstance(k, str) and isinstance(w, (int, float)) and not isinstance(w, bool) and math.isfinite(w)
            and w >= 0 for k, w in v.items()) else "not an object of finite weights >= 0",
        "counts": lambda v: None if isinstance(v, dict) and checks.count(v.get("records")) is None
        and checks.count(v.get("duplicates_skipped")) is None and checks.tally(v.get("failures")) is None
        and ("lowering" not in v or checks.tally(v["lowering"]) is None)
        else "not {records, duplicates_skipped, failures[, lowering]}",
        "shards": lambda v: None if isinstance(v, list) else "not a list",
        "config": lambda v: None if isinstance(v, dict) else "not an object",
    }
    problem = _fields(m, fields)
    if problem:
        return problem
    for n, entry in enumerate(m["shards"]):
        problem = _shard(entry, n)
        if problem:
            return f"shards[{n}]: {problem}"
    listed = sum(s["records"] for s in m["shards"])
    if m["counts"]["records"] != listed:
        return f"counts.records is {m['counts']['records']}, its shards hold {listed}"
    if m["complete"] and listed > m["target"]:
        return f"complete with {listed} records, more than its target {m['target']}"
    return None
