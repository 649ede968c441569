"""The layering rules between the code folders (tests/import_graph.py): the project keeps
them, and the checker does catch a planted bad import."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tests.import_graph import CODE_FOLDERS, REPO_ROOT, import_graph, main, violations


def test_the_project_keeps_the_layering_rules() -> None:
    graph = import_graph(REPO_ROOT)
    assert violations(graph) == []
    # The graph is real: the pipeline's assembly imports the stages and the records.
    assert "newsbeam.transforms.dedup" in graph["newsbeam.pipeline.build"]
    assert "newsbeam.schemas" in graph["newsbeam.transforms.clean"]


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
