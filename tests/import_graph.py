"""The import graph between NewsBeam's own modules, and the two layering rules it must keep.

    python -m tests.import_graph            # print module -> the newsbeam modules it imports
    python -m tests.import_graph --quiet    # only the violations (exit 1 when there are any)

Read from the source with `ast` (nothing is imported, so a broken module or a missing
dependency cannot hide an edge); every import counts, also those inside functions (lazy)
and under `if TYPE_CHECKING:`. The code folders and the package each installs as are those
of pyproject.toml's `[tool.setuptools.package-dir]` (a test keeps the two in step);
subpackages are found by walking the folders.

The rules (data flows one way: pipeline -> transforms -> schemas):
- a stage never reaches for the pipeline: no `newsbeam.transforms.*` module imports
  `newsbeam.pipeline.*` (stages get config dataclasses, never options);
- records stand alone: no `newsbeam.schemas.*` module imports a newsbeam module outside
  `newsbeam.schemas`.
Run by `make imports` and by tests/test_import_graph.py (so CI rejects a violation).
"""

from __future__ import annotations

import argparse
import ast
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[1]
PACKAGE = "newsbeam"
# pyproject.toml [tool.setuptools.package-dir] (tomllib is not in Python 3.10's library).
CODE_FOLDERS = {
    "newsbeam.pipeline": "pipeline",
    "newsbeam.schemas": "schemas",
    "newsbeam.transforms": "transforms",
}
# (importing package, imported package, why): an import from the first into the second
# breaks the layering.
FORBIDDEN = (
    ("newsbeam.transforms", "newsbeam.pipeline", "a stage imports the pipeline"),
    ("newsbeam.schemas", "newsbeam.pipeline", "schemas import outside newsbeam.schemas"),
    ("newsbeam.schemas", "newsbeam.transforms", "schemas import outside newsbeam.schemas"),
)


def code_folders(root: Path) -> dict[str, Path]:
    """Installed package name -> its folder under `root`."""
    return {package: root / folder for package, folder in CODE_FOLDERS.items()}


def module_files(root: Path) -> dict[str, Path]:
    """Module name -> source file, for every .py file under the code folders."""
    modules: dict[str, Path] = {}
    for package, folder in code_folders(root).items():
        for path in sorted(folder.rglob("*.py")):
            parts = list(path.relative_to(folder).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _imported_names(module: str, path: Path) -> set[str]:
    """Every dotted name `module`'s source imports (`from a import b` gives a.b; relative
    imports resolved)."""
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=str(path))
    is_package = path.name == "__init__.py"
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = module.split(".")
                anchor = anchor[: len(anchor) - node.level + (1 if is_package else 0)]
                base = ".".join([*anchor, base] if base else anchor)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _project_module(name: str, modules: dict[str, Path]) -> str | None:
    """The project module a dotted name refers to (the longest known prefix), if any."""
    parts = name.split(".")
    for size in range(len(parts), 0, -1):
        candidate = ".".join(parts[:size])
        if candidate in modules:
            return candidate
    return None


def import_graph(root: Path = REPO_ROOT) -> dict[str, set[str]]:
    """Module -> the project modules it imports (itself excluded)."""
    modules = module_files(root)
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets = set()
        for name in _imported_names(module, path):
            if name == PACKAGE or name.startswith(f"{PACKAGE}."):
                # `from newsbeam.schemas import Article`: the package; `from
                # newsbeam.pipeline import run`: the module newsbeam.pipeline.run.
                target = _project_module(name, modules)
                if target is not None and target != module:
                    targets.add(target)
        graph[module] = targets
    return graph


def _inside(module: str, package: str) -> bool:
    return module == package or module.startswith(f"{package}.")


def violations(graph: dict[str, set[str]]) -> list[str]:
    """One line per forbidden import: `importer -> imported: why`."""
    found = []
    for module, targets in sorted(graph.items()):
        for target in sorted(targets):
            for importer, imported, why in FORBIDDEN:
                if _inside(module, importer) and _inside(target, imported):
                    found.append(f"{module} -> {target}: {why}")
    return found


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """The strongly connected groups of more than one module (each sorted, in order): sets
    of modules that import each other, directly or around a loop. Lazy imports count: a
    cycle dodged by importing inside a function is a cycle all the same."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(module: str) -> None:  # Tarjan's algorithm
        index[module] = low[module] = len(index)
        stack.append(module)
        on_stack.add(module)
        for target in sorted(graph.get(module, ())):
            if target not in index:
                visit(target)
                low[module] = min(low[module], low[target])
            elif target in on_stack:
                low[module] = min(low[module], index[target])
        if low[module] == index[module]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == module:
                    break
            if len(group) > 1:
                found.append(sorted(group))

    for module in sorted(graph):
        if module not in index:
            visit(module)
    return sorted(found)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--root", type=Path, default=REPO_ROOT, help="repository root")
    parser.add_argument("--quiet", action="store_true", help="print only the violations")
    args = parser.parse_args(argv)
    graph = import_graph(args.root)
    if not args.quiet:
        for module, targets in sorted(graph.items()):
            print(f"{module} -> {', '.join(sorted(targets)) or '(none)'}")
    found = violations(graph)
    for line in found:
        print(f"violation: {line}", file=sys.stderr)
    if not args.quiet:
        print(f"{len(graph)} modules, {len(found)} violation(s)")
    return 1 if found else 0


if __name__ == "__main__":
    sys.exit(main())
