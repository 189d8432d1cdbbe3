"""How transfers spell attribute values: as the Python literals printed
programs hold (`(2, 3)`, `True`, `"SAME"`, `[(0, 1), (1, 0)]`), so no
transfer writes a terminal's quotes or brackets itself."""
from __future__ import annotations


def literal(value) -> str:
    """The Python source of a value: a string in double quotes (as the
    grammar's string terminals have it), a tuple or list of literals, or a
    number or bool as str writes it (an int of any integer type alike)."""
    if isinstance(value, str):
        return '"' + value + '"'
    if isinstance(value, list):
        return "[" + ", ".join(map(literal, value)) + "]"
    if isinstance(value, tuple):
        return "(" + ", ".join(map(literal, value)) + ("," if len(value) == 1 else "") + ")"
    return str(value)
