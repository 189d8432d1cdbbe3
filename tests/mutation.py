"""Mutation testing of synth/ and lowering/ with mutmut: which small changes
to the code (operators, constants, conditions) the tests notice.

    python tests/mutation.py [MUTMUT ARGS...]        (default: run)

    python tests/mutation.py run --max-children 2
    python tests/mutation.py results                 mutants not killed, one a line
    python tests/mutation.py show NAME               the diff of one mutant
    python tests/mutation.py run NAME...             test these again (globs work)
    python tests/mutation.py browse

mutmut names a mutant by its file path (`synth/space.py`: `synth.space`),
the tests import the installed names (`jaxsynth.synth.space`), and this
repository has no `jaxsynth/` folder (pyproject maps the top-level folders
to the packages). So the packages, laid out as installed, and the tests are
copied to a staging directory, `.mutation/` at the top of the repository
(another with `--stage DIR` before the mutmut arguments), and mutmut runs
there with the repository's own pyproject.toml: its `[tool.mutmut]` section
is the whole configuration, paths in it relative to the staging directory.
The copies are refreshed on every call; the directory is kept between runs,
as mutmut keeps its results there (in `mutants/`) and then tests only the
mutants of changed functions. Delete `.mutation/` to measure afresh, e.g.
after the tests changed.
"""
import shutil
import subprocess
import sys
import tomllib
from fnmatch import fnmatch
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def _copy(src, target):
    """Copy file `src` (None: an empty file) to `target` unless it holds the same
    bytes already: mutmut tells changed sources by their modification times."""
    data = src.read_bytes() if src else b""
    if not target.is_file() or target.read_bytes() != data:
        target.parent.mkdir(parents=True, exist_ok=True)
        if src:
            shutil.copy2(src, target)
        else:
            target.write_bytes(data)


def _sync(files, dst):
    """Make directory `dst` hold exactly `files`, {relative path: source or None}."""
    for rel, src in files.items():
        _copy(src, dst / rel)
    for path in sorted(dst.rglob("*"), reverse=True):
        if path.is_file() and path.relative_to(dst).as_posix() not in files:
            path.unlink()
        elif path.is_dir() and not any(path.iterdir()):
            path.rmdir()


def stage(stage_dir, pyproject):
    """Copy the packages as installed (their .py files and package data), tests/
    and pyproject.toml to `stage_dir`; return the [tool.mutmut] section."""
    tools = tomllib.loads(pyproject.read_text())["tool"]
    if "mutmut" not in tools:
        sys.exit(f"{pyproject}: no [tool.mutmut] section")
    package_dir = tools["setuptools"]["package-dir"]
    data = tools["setuptools"].get("package-data", {})
    packages = {}
    for package, folder in package_dir.items():
        top, *rest = package.split(".")
        files = packages.setdefault(top, {})
        for i in range(len(rest)):          # parents not mapped are empty packages
            files.setdefault("/".join(rest[:i] + ["__init__.py"]), None)
        for src in sorted((ROOT / folder).iterdir()):
            if src.is_file() and any(fnmatch(src.name, p) for p in ["*.py", *data.get(package, [])]):
                files["/".join(rest + [src.name])] = src
    packages["tests"] = {p.relative_to(ROOT / "tests").as_posix(): p for p in (ROOT / "tests").rglob("*")
                         if p.is_file() and "__pycache__" not in p.parts}
    for name, files in packages.items():
        _sync(files, stage_dir / name)
    _copy(pyproject, stage_dir / "pyproject.toml")
    return tools["mutmut"]


def main(argv):
    stage_dir = ROOT / ".mutation"
    if argv[:1] == ["--stage"]:
        stage_dir, argv = Path(argv[1]).resolve(), argv[2:]
    mutmut = Path(sys.executable).parent / "mutmut"     # mutmut asks not to be run as `python -m mutmut`
    if not mutmut.exists():
        sys.exit(f"no {mutmut}: pip install -e '.[mutation]'")
    config = stage(stage_dir, ROOT / "pyproject.toml")
    args = argv or ["run"]
    if args[0] == "run":
        # mutmut copies these into mutants/ over what is there: remove old copies
        # so that deleted or renamed tests are gone there too
        for name in ["tests", *config.get("also_copy", [])]:
            if (stage_dir / "mutants" / name).is_dir():
                shutil.rmtree(stage_dir / "mutants" / name)
    return subprocess.call([str(mutmut), *args], cwd=stage_dir)


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
