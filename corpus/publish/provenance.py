"""How a corpus was made, as the report page's first section: the command
that makes it again, its seed, the weights it sets apart from its grammar's
(or from a shipped profile's), the grammar's name and sha256, and versions."""
from __future__ import annotations

from ...synth.grammar import GrammarError, load_grammar, override_weights, profile_path, profiles, read_weights_file
from ...synth.types import SignatureError
from .card import command_line, grammar_file, grammar_weights
from .markup import esc, table
from .scan import Scan

MAX_WEIGHTS = 12          # weights listed before "and N more"


def _apart(weights: dict, base: dict) -> dict:
    return {name: w for name, w in weights.items() if base.get(name) != w}


def weights_apart(m: dict) -> tuple[dict | None, str | None]:
    """(the weights a manifest sets apart from those its grammar's file
    gives, the shipped profile they start from if one leaves fewer apart);
    (None, None) if that grammar is not at hand to compare with."""
    defaults, packaged = grammar_weights(m)
    if defaults is None:
        return None, None
    apart, profile = _apart(m["weights"], defaults), None
    for name in profiles() if packaged else ():     # profiles are weights of the packaged grammar
        try:
            base = override_weights(load_grammar(), read_weights_file(profile_path(name))).weights()
        except GrammarError:
            continue
        if len(_apart(m["weights"], base)) < len(apart):
            apart, profile = _apart(m["weights"], base), name
    return apart, profile


def _weights(m: dict) -> str:
    apart, profile = weights_apart(m)
    if apart is None:
        return ("not compared: the grammar it was made with is not at hand (its file is gone or changed); "
                "<code>manifest.json</code> holds them all")
    listed = ", ".join(f"<code>{esc(name)}={w:g}</code>" for name, w in list(apart.items())[:MAX_WEIGHTS])
    more = f" and {len(apart) - MAX_WEIGHTS} more" if len(apart) > MAX_WEIGHTS else ""
    start = f"those of profile <code>{esc(profile)}</code>" if profile else "the grammar's own"
    if not apart:
        return start
    return f"{start}, {len(apart)} set apart: {listed}{more}" if profile else \
        f"{len(apart)} set apart from the grammar's: {listed}{more}"


def _grammar(m: dict) -> str:
    """The packaged grammar as such, another by its file name: as the dataset card names it, no directory of
    the machine that made the corpus."""
    return "jaxsynth's packaged grammar" if grammar_weights(m)[1] else f"<code>{esc(grammar_file(m))}</code>"


def _versions(m: dict) -> str:
    versions = m.get("versions") if isinstance(m.get("versions"), dict) else {}
    shown = [f"{esc(k)} {esc(v)}" for k, v in versions.items()]
    if "jaxsynth" not in versions:
        shown.append("jaxsynth: not recorded in the manifest")
    return " · ".join(shown)


def provenance(s: Scan, name: str | None) -> str:
    """How a corpus was made, from its manifest: the page's first section."""
    title = f"How {esc(name)} was made" if name else "How this corpus was made"
    ident = f' id="provenance{"-b" if name and name.startswith("B:") else ""}"'
    m = s.manifest
    if m is None:
        return (f'<section class="provenance"{ident}><h2>{title}</h2><p class="note">No '
                "<code>manifest.json</code>: how these records were made is not known.</p></section>")
    try:
        command, exact = command_line(m, "DIR")
    except (KeyError, TypeError, ValueError, AttributeError, SignatureError):     # a manifest of unknown origin
        command, exact = None, False
    how = ("makes these records again in <code>DIR</code>, byte for byte, with any number of workers."
           if exact else "is the nearest command; <code>manifest.json</code> holds options no flag sets.")
    counts = m["counts"]
    failures = sum(counts["failures"].values())
    facts = [("seed", esc(m.get("seed")) if m["command"] == "sample" else "none: an enumeration"),
             ("weights", _weights(m)),
             ("grammar", f"{_grammar(m)}, sha256 <code>{esc(m['grammar_sha256'])}</code>"),
             ("versions", _versions(m)),
             ("records", f"{counts['records']:,}; duplicates skipped: {counts['duplicates_skipped']:,}; "
                         f"programs that failed: {failures:,}" + ("" if m["complete"] else
                                                                  "; the run is not complete"))]
    out = [f'<section class="provenance"{ident}><h2>{title}</h2>']
    if command is not None:
        out.append(f'<pre class="command">{esc(command)}</pre><p class="note">{how}</p>')
    out.append(table(None, [[f"<td>{k}</td>", f"<td>{v}</td>"] for k, v in facts], "facts"))
    out.append("</section>")
    return "\n".join(out)
