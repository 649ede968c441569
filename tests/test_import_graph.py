"""The layering rules between the code folders (tests/import_graph.py): the project keeps
them, and the checker does catch a planted bad import."""

from __future__ import annotations

import ast
import collections
import io
import re
import shutil
import tokenize
from pathlib import Path

import pytest

from tests.import_graph import CODE_FOLDERS, REPO_ROOT, cycles, import_graph, main, violations


def test_the_project_keeps_the_layering_rules() -> None:
    graph = import_graph(REPO_ROOT)
    assert violations(graph) == []
    # The graph is real: the pipeline's assembly imports the stages and the records.
    assert "newsbeam.transforms.dedup" in graph["newsbeam.pipeline.build"]
    assert "newsbeam.schemas" in graph["newsbeam.transforms.clean"]


def test_the_entry_point_is_imported_by_no_module_but_its_runner() -> None:
    """`main` is the top of the graph: it dispatches to the run, follow mode and streaming.
    The run and follow mode imported the stop signals and the failure line from it inside
    functions, to dodge the cycle that import made (main -> run -> main); what both need
    lives below them now (pipeline/stops.py, pipeline/causes.py)."""
    graph = import_graph(REPO_ROOT)
    importers = sorted(
        module
        for module, targets in graph.items()
        if "newsbeam.pipeline.main" in targets and module != "newsbeam.pipeline.__main__"
    )
    assert importers == []


def test_the_stories_stage_does_not_import_the_dedup_stage() -> None:
    """docs/architecture.md says so, and it was not true: stories.py imported dedup.py for
    the canonical-copy rank of an article and the copies counted in a stream's pane. What
    both stages use lives in support/ (rank.py, copies.py)."""
    graph = import_graph(REPO_ROOT)
    assert "newsbeam.transforms.dedup" not in graph["newsbeam.transforms.stories"]


# The import cycles left, each a dispatcher and what it dispatches to, imported lazily on
# one side: a run with --max_files_per_run hands itself to its passes, each of which is a
# run (passes took `as_input` from follow mode, a third module in that cycle: it is the
# read stage's now); `newsbeam warehouse --iceberg` is warehouse's, and iceberg reuses its
# loading; a worker process starts in workers.py (`python -m newsbeam.pipeline.workers`)
# and hands itself to its template's client, and a stop ends the templates with the
# workers.
KNOWN_CYCLES = [
    ["newsbeam.pipeline.iceberg", "newsbeam.pipeline.warehouse"],
    ["newsbeam.pipeline.passes", "newsbeam.pipeline.run"],
    ["newsbeam.pipeline.worker_template", "newsbeam.pipeline.workers"],
]


def test_no_new_import_cycle() -> None:
    """A new cycle (say, the run importing the entry point again, as it did for the stop
    signals) fails here; one mended comes off the list."""
    assert cycles(import_graph(REPO_ROOT)) == KNOWN_CYCLES


def test_a_cycle_through_a_lazy_import_is_found(tree: Path) -> None:
    (tree / "pipeline" / "planted.py").write_text(
        "def f():\n    from newsbeam.pipeline import main\n    return main\n"
    )
    main_module = tree / "pipeline" / "main.py"
    planted = "\n\ndef _g():\n    from newsbeam.pipeline import planted\n"
    main_module.write_text(main_module.read_text("utf-8") + planted)
    found = cycles(import_graph(tree))
    assert ["newsbeam.pipeline.main", "newsbeam.pipeline.planted"] in found


def test_code_folders_are_those_pyproject_installs() -> None:
    tomllib = pytest.importorskip("tomllib")
    with open(REPO_ROOT / "pyproject.toml", "rb") as handle:
        package_dir = tomllib.load(handle)["tool"]["setuptools"]["package-dir"]
    assert package_dir == CODE_FOLDERS


@pytest.fixture
def tree(tmp_path: Path) -> Path:
    """A copy of the code folders to plant imports in."""
    for folder in CODE_FOLDERS.values():
        shutil.copytree(
            REPO_ROOT / folder, tmp_path / folder, ignore=shutil.ignore_patterns("data")
        )
    return tmp_path


def test_a_stage_importing_the_pipeline_is_caught(
    tree: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Lazy, inside a function: it counts all the same.
    (tree / "transforms" / "planted.py").write_text(
        "def f():\n    from newsbeam.pipeline.options import NewsBeamOptions\n"
        "    return NewsBeamOptions\n"
    )
    assert violations(import_graph(tree)) == [
        "newsbeam.transforms.planted -> newsbeam.pipeline.options: a stage imports the pipeline"
    ]
    assert main(["--root", str(tree), "--quiet"]) == 1
    assert "newsbeam.transforms.planted" in capsys.readouterr().err


def test_schemas_importing_outside_schemas_is_caught(tree: Path) -> None:
    (tree / "schemas" / "planted.py").write_text(
        "import newsbeam.transforms.clean\nfrom newsbeam import pipeline\nfrom . import records\n"
    )
    found = violations(import_graph(tree))
    assert found == [
        "newsbeam.schemas.planted -> newsbeam.pipeline: schemas import outside newsbeam.schemas",
        "newsbeam.schemas.planted -> newsbeam.transforms.clean: "
        "schemas import outside newsbeam.schemas",
    ]
    # A relative import inside schemas resolves, and is allowed.
    assert "newsbeam.schemas.records" in import_graph(tree)["newsbeam.schemas.planted"]


def _words_used(path: Path) -> list[str]:
    """The words of a file that can use a name: all of a page's, a Python file's but its
    comments (a comment naming a function is no call of it: support/hashing.py's remembered
    word hash lived on, uncalled, as the subject of one in support/facts.py)."""
    text = path.read_text("utf-8")
    if path.suffix != ".py":
        return re.findall(r"\w+", text)
    tokens = tokenize.generate_tokens(io.StringIO(text).readline)
    return [
        word
        for token in tokens
        if token.type != tokenize.COMMENT
        for word in re.findall(r"\w+", token.string)
    ]


def unused_top_level_names(repo: Path) -> list[str]:
    """Functions, classes and UPPER_CASE constants at the top of a code module whose name
    appears nowhere else: not in the code folders, the tests, benchmarks/, deploy/, nor in
    README.md or docs/ (where a name for library callers is documented). Read with `ast`
    and a word search, so a name used only in a string or a getattr still counts as used;
    one named only in comments does not."""
    modules = [path for folder in CODE_FOLDERS.values() for path in (repo / folder).rglob("*.py")]
    readers = [
        *modules,
        *(repo / "tests").glob("*.py"),
        *(repo / "benchmarks").glob("*.py"),
        *(repo / "deploy").rglob("*.py"),
        repo / "README.md",
        *(repo / "docs").glob("*.md"),
    ]
    words = collections.Counter(
        word for path in readers if path.exists() for word in _words_used(path)
    )
    unused = []
    for path in modules:
        for node in ast.parse(path.read_text("utf-8")).body:
            names: list[str] = []
            if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
                names = [node.name]
            elif isinstance(node, ast.Assign | ast.AnnAssign):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                names = [t.id for t in targets if isinstance(t, ast.Name) and t.id.isupper()]
            unused += [f"{path.relative_to(repo)}: {n}" for n in names if words[n] <= 1]
    return sorted(unused)


def test_no_top_level_name_of_the_code_is_unused() -> None:
    """Dead code a newcomer would read and maintain: a private helper nothing called
    (stories._days_apart), a report constant nothing read (TABLES_READ), and state file
    names in schemas/ that transforms/support/state.py spells out itself."""
    assert unused_top_level_names(REPO_ROOT) == []


@pytest.mark.parametrize("named_in_a_comment", [False, True])  # a comment is no use of it
def test_an_unused_helper_is_found(tree: Path, named_in_a_comment: bool) -> None:
    # The copy holds no tests: names only tests use are unused there already.
    before = set(unused_top_level_names(tree))
    stage = tree / "transforms" / "clean.py"
    planted = "\n\ndef _never_called_anywhere() -> None:\n    pass\n"
    if named_in_a_comment:
        planted += "\n\n# not `_never_called_anywhere`: why\n"
    stage.write_text(stage.read_text("utf-8") + planted)
    after = set(unused_top_level_names(tree))
    assert after - before == {"transforms/clean.py: _never_called_anywhere"}
