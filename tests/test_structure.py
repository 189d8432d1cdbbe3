"""The shape of the code, as rules a change cannot break unseen: no import
cycle between the package's modules (imports inside functions count too), no
private name imported from another module, no module over 400 lines and no
function over 60, data tables aside.

A data table is a module-level assignment whose value is a literal (a string,
a number, or a dict, list, tuple or set of them): reference text and tables
are data, not code to read. So is a module of reference data named in
`DATA_MODULES`, with the reason. `python tests/test_structure.py` prints the
offenders.
"""
import ast
from pathlib import Path

import networkx as nx

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("grammar", "synth", "lowering", "corpus")
MODULE_LINES = 400
FUNCTION_LINES = 60
DATA_MODULES = {
    "corpus/analysis/reference.py": "real JAX code as people write it, the reference distribution's programs",
}


def modules() -> dict[str, Path]:
    """Dotted name -> file, for the package's own modules."""
    found = {"jaxsynth": ROOT / "__init__.py", "jaxsynth.__main__": ROOT / "__main__.py"}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = path.relative_to(ROOT).with_suffix("").parts
            if parts[-1] == "__init__":
                parts = parts[:-1]
            found[".".join(("jaxsynth", *parts))] = path
    return found


def _absolute(name: str, path: Path, node: ast.ImportFrom) -> str:
    if not node.level:
        return node.module or ""
    base = name.split(".")
    if path.name != "__init__.py":      # a module's package, not the module, is what `.` names
        base = base[:-1]
    base = base[: len(base) - (node.level - 1)]
    return ".".join(base + ([node.module] if node.module else []))


def imports(name: str, path: Path, known: dict) -> list[tuple[str, str]]:
    """(module imported, name taken from it or '') for every import in the file."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found += [(alias.name, "") for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            source = _absolute(name, path, node)
            for alias in node.names:
                submodule = f"{source}.{alias.name}"
                found.append((submodule, "") if submodule in known else (source, alias.name))
    return [(module, taken) for module, taken in found if module.startswith("jaxsynth")]


def import_graph() -> nx.DiGraph:
    known = modules()
    graph = nx.DiGraph()
    graph.add_nodes_from(known)
    for name, path in known.items():
        for module, _ in imports(name, path, known):
            if module in known and module != name:
                graph.add_edge(name, module)
    return graph


def cycles() -> list[list[str]]:
    return [sorted(c) for c in nx.strongly_connected_components(import_graph()) if len(c) > 1]


def private_imports() -> list[str]:
    known = modules()
    return [f"{name} imports {taken} from {module}"
            for name, path in known.items() for module, taken in imports(name, path, known)
            if taken.startswith("_") and not taken.startswith("__")]


def _is_literal(node: ast.AST) -> bool:
    try:
        ast.literal_eval(node)
        return True
    except (ValueError, TypeError, SyntaxError, MemoryError, RecursionError):
        return False


def _table_lines(tree: ast.Module) -> int:
    return sum(node.end_lineno - node.lineno + 1 for node in tree.body
               if isinstance(node, (ast.Assign, ast.AnnAssign)) and node.value is not None
               and _is_literal(node.value))


def long_modules() -> list[str]:
    found = []
    for name, path in modules().items():
        if str(path.relative_to(ROOT)) in DATA_MODULES:
            continue
        text = path.read_text()
        lines = len(text.splitlines()) - _table_lines(ast.parse(text))
        if lines > MODULE_LINES:
            found.append(f"{path.relative_to(ROOT)}: {lines} lines")
    return found


def long_functions() -> list[str]:
    found = []
    for path in modules().values():
        if str(path.relative_to(ROOT)) in DATA_MODULES:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                lines = node.end_lineno - node.lineno + 1
                if lines > FUNCTION_LINES:
                    found.append(f"{path.relative_to(ROOT)}:{node.lineno} {node.name}: {lines} lines")
    return found


def test_no_import_cycle():
    assert cycles() == []


def test_no_private_name_is_imported_from_another_module():
    assert private_imports() == []


def test_no_module_over_400_lines():
    assert long_modules() == []


def test_no_function_over_60_lines():
    assert long_functions() == []


def test_data_modules_exist():
    assert all((ROOT / path).is_file() for path in DATA_MODULES)


def test_the_checks_see_what_they_check():
    """The checker finds the package's modules and their imports (a checker that saw
    nothing would pass everything)."""
    graph = import_graph()
    assert len(graph) > 20 and graph.number_of_edges() > 40
    assert graph.has_edge("jaxsynth.__main__", next(n for n in graph if n.endswith(".cli") or ".cli." in n))


if __name__ == "__main__":
    for title, found in (("cycles", cycles()), ("private imports", private_imports()),
                         ("long modules", long_modules()), ("long functions", long_functions())):
        print(f"## {title}: {len(found)}")
        for line in found:
            print("  ", line)
