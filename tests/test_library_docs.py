"""docs/library.md: every `python` block runs as written (the stages in a pipeline of the
reader's own), in a folder holding the sample texts."""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest

DOC = Path(__file__).resolve().parents[1] / "docs" / "library.md"
_BLOCK = re.compile(r"```python\n(.*?)```", re.DOTALL)


def python_blocks(markdown: str) -> list[str]:
    """The code of each fenced `python` block, in order."""
    return _BLOCK.findall(markdown)


def test_the_page_has_its_examples() -> None:
    assert len(python_blocks(DOC.read_text())) == 3


@pytest.mark.parametrize("index", range(3))
def test_library_example_runs(
    index: int, seeds_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    shutil.copytree(seeds_dir, tmp_path / "seeds")
    monkeypatch.chdir(tmp_path)
    code = python_blocks(DOC.read_text())[index]
    exec(compile(code, f"{DOC.name} block {index + 1}", "exec"), {"__name__": "__main__"})
