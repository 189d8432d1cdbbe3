"""Corpora pinned byte for byte: a fixed `sample` and a fixed `enumerate`
command write exactly these records, card and manifest. A refactoring that
changes any byte of a corpus fails here; a deliberate change of the language
or of the record format updates the digests in the same commit.

The records are JAX's text, so the digests hold for the JAX this package pins
(0.10.2); the manifest and card are compared without what names the machine
(versions, the grammar's path).
"""
import hashlib
import json
from pathlib import Path

import jax
import pytest

from jaxsynth.corpus.cli import main

COMMANDS = {
    "sample": ["sample", "-n", "120", "--seed", "5", "--shard-size", "40"],
    "enumerate": ["enumerate", "--max-ops", "2", "--inputs", "f32[2]", "--dims", "2", "--shard", "3/40"],
}
DIGESTS = {
    "sample": {
        "records-00000.jsonl": "f42bbc725c6e069a8d97a34179fe616f5a8e5dc39d9f9f3103d33468f0c39b5e",
        "records-00001.jsonl": "f6588a7f493665d6e7fbe9d3eb6a82932af7409617749d600f063d222c21e1dc",
        "records-00002.jsonl": "bc0048381b0bf15343cf64dae13abc1dc4b50c83796c1047212f9ca6f1e6945f",
        "manifest.json": "9e3b5dc0ed6fee03f2dc5aebb8dc6ddda51fb1a46fc345a543d9df4be5beb5fe",
        "README.md": "8a25ad4ed846fb30ae520072b30c2adb3cf1b4443cc40a2f076b57f67f0f2c22",
    },
    "enumerate": {
        "records-00000.jsonl": "266d8951725790292445f0f33e2b0fb31452a13bf0d72da48564074897230d77",
        "records-00001.jsonl": "c517be8e63057345ad1518df8d3ee4c0eb2f88fd6a769c43bd883a3aa5878703",
        "records-00002.jsonl": "03a88efe0da6b5d070bf7d05c48b15985a08d0e22e5da0611cea16115234e22b",
        "records-00003.jsonl": "c73713309144c1fc17bc499320becf6109f302780f929b8a85975d1138599be9",
        "manifest.json": "300bbf7cc8dc2555db31e0f3710a83fe98554cbdfffa25a6bb96df1e9cc129c7",
        "README.md": "a1faef4b46285c1db2517538bd2d0e4712331604c08149c65935ffa6d5eab509",
    },
}


def _digest(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def digests(out: Path) -> dict:
    """Each file's sha256; the manifest's and the card's without the machine's names."""
    found = {p.name: _digest(p.read_bytes()) for p in sorted(out.glob("records-*.jsonl"))}
    manifest = json.loads((out / "manifest.json").read_text())
    for machine in ("versions", "grammar"):
        manifest.pop(machine)
    found["manifest.json"] = _digest(json.dumps(manifest, sort_keys=True).encode())
    card = [line for line in (out / "README.md").read_text().splitlines() if not line.startswith("- versions:")]
    found["README.md"] = _digest("\n".join(card).encode())
    return found


@pytest.mark.skipif(jax.__version__ != "0.10.2", reason="the records are the text of JAX 0.10.2")
@pytest.mark.parametrize("command", COMMANDS)
def test_a_fixed_command_writes_the_pinned_corpus(command, tmp_path, monkeypatch, capsys):
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "cache"))
    out = tmp_path / "out"
    assert main([*COMMANDS[command], "--workers", "1", "--out", str(out)]) == 0
    assert digests(out) == DIGESTS[command]
