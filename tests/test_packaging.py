"""What a user who `pip install`s NewsBeam gets (docs/releasing.md): dependencies in
pyproject.toml that are true of the code, and the sdist and wheel `python -m build` makes
from the checkout's tracked files, installed and run outside the checkout."""

from __future__ import annotations

import ast
import email
import json
import shutil
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

from newsbeam.transforms.support.main_text import COPIED_TRAFILATURA
from tests.helpers import SEEDS, wheel_environment
from tests.import_graph import CODE_FOLDERS

REPO = Path(__file__).resolve().parents[1]
# Libraries the code imports only for an optional feature, and the extra that brings them.
OPTIONAL_IMPORTS = {"boto3": "aws", "botocore": "aws", "pyiceberg": "iceberg"}
# The Pythons Beam 2.77 has wheels for (its classifiers); requires-python admits each.
PYTHONS = ("3.10", "3.11", "3.12", "3.13", "3.14")
# Tracked files the sdist leaves out: CI's own script and git's.
NOT_IN_SDIST = (".ci/", ".gitignore")


def _pyproject() -> dict[str, Any]:
    tomllib = pytest.importorskip("tomllib")  # not in Python 3.10's library
    with open(REPO / "pyproject.toml", "rb") as handle:
        return dict(tomllib.load(handle))


def imported_libraries(root: Path) -> dict[str, set[str]]:
    """Top-level modules outside the standard library that the code folders import (also
    through `importlib.import_module("name")`), each with the files that import it."""
    found: dict[str, set[str]] = {}
    for folder in CODE_FOLDERS.values():
        for path in sorted((root / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
                names: list[str] = []
                if isinstance(node, ast.Import):
                    names = [alias.name for alias in node.names]
                elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                    names = [node.module]
                elif (
                    isinstance(node, ast.Call)
                    and isinstance(node.func, ast.Attribute)
                    and node.func.attr == "import_module"
                    and node.args
                    and isinstance(node.args[0], ast.Constant)
                ):
                    names = [str(node.args[0].value)]
                for name in names:
                    top = name.split(".")[0]
                    if top not in sys.stdlib_module_names and top != "newsbeam":
                        found.setdefault(top, set()).add(path.relative_to(root).as_posix())
    return found


def test_every_library_the_code_imports_is_a_declared_dependency() -> None:
    """A library imported only because a dependency brings it today (lxml, htmldate, courlan
    and justext through trafilatura) goes when that dependency drops it, and no lower bound
    says which of its releases the code works with."""
    project = _pyproject()["project"]
    required = {canonicalize_name(Requirement(line).name) for line in project["dependencies"]}
    distributions = metadata.packages_distributions()
    imported = imported_libraries(REPO)
    assert {"apache_beam", "lxml", "trafilatura"} <= set(imported)  # the scan reads the code
    undeclared = []
    for module, files in sorted(imported.items()):
        if module in OPTIONAL_IMPORTS:
            assert OPTIONAL_IMPORTS[module] in project["optional-dependencies"], module
            continue
        names = {canonicalize_name(name) for name in distributions.get(module, [])}
        if not names & required:
            undeclared.append(f"{module} ({sorted(names)}; {sorted(files)[0]})")
    assert undeclared == []


def test_each_dependency_has_one_requirement_for_each_python() -> None:
    """A dependency whose oldest release has no wheel for a newer Python takes a lower bound
    per Python (environment markers): exactly one of its lines applies to each Python."""
    project = _pyproject()["project"]
    lines: dict[str, list[Requirement]] = {}
    for line in project["dependencies"]:
        requirement = Requirement(line)
        lines.setdefault(canonicalize_name(requirement.name), []).append(requirement)
    for python in PYTHONS:
        assert Version(python) in _specifier(project["requires-python"])
        for name, requirements in lines.items():
            applying = [
                requirement
                for requirement in requirements
                if requirement.marker is None
                or requirement.marker.evaluate({"python_version": python})
            ]
            assert len(applying) == 1, (name, python, [str(r) for r in applying])


def _specifier(text: str) -> Any:
    from packaging.specifiers import SpecifierSet

    return SpecifierSet(text)


def test_trafilaturas_floor_is_the_release_the_extract_stage_copies() -> None:
    """An older trafilatura (2.0 was allowed) runs trafilatura's own load_html, whose parser
    stops at 256 levels of nesting: a deep page is read in part, never too_complex."""
    (requirement,) = [
        Requirement(line)
        for line in _pyproject()["project"]["dependencies"]
        if Requirement(line).name == "trafilatura"
    ]
    floors = [s.version for s in requirement.specifier if s.operator in (">=", "==", "~=")]
    assert floors == [COPIED_TRAFILATURA]
    assert metadata.version("trafilatura") in requirement.specifier


def test_the_iceberg_extras_floor_is_the_pyiceberg_the_registration_checks_for() -> None:
    from newsbeam.pipeline.iceberg import MIN_PYICEBERG

    extras = _pyproject()["project"]["optional-dependencies"]
    for extra in ("iceberg", "dev"):
        (requirement,) = [
            Requirement(line) for line in extras[extra] if Requirement(line).name == "pyiceberg"
        ]
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert [floor.release[:2] for floor in floors] == [MIN_PYICEBERG], extra


def _tracked_files() -> list[str]:
    done = subprocess.run(
        ["git", "ls-files", "-z"], cwd=REPO, capture_output=True, text=True, check=False
    )
    if done.returncode != 0 or not done.stdout:
        pytest.skip("not a git checkout (an unpacked sdist): no tracked files to build from")
    return [name for name in done.stdout.split("\0") if name and (REPO / name).is_file()]


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """`python -m build` (the sdist, then the wheel from the sdist) on a copy of the
    checkout's tracked files, without build isolation (offline: setuptools and build come
    with the dev extra): what a release builds from a clean clone. ~4 s."""
    import setuptools

    if Version(setuptools.__version__) < Version("77"):
        pytest.skip(f"setuptools {setuptools.__version__} < 77: `make setup` installs it")
    base = tmp_path_factory.mktemp("release")
    source = base / "src"
    tracked = _tracked_files()
    for name in tracked:
        (source / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO / name, source / name)
    dist = base / "dist"
    done = subprocess.run(
        [sys.executable, "-m", "build", "--no-isolation", "--outdir", str(dist), str(source)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    # setuptools warns of data folders it may leave out ("Package would be ignored").
    assert "would be ignored" not in done.stdout + done.stderr
    (wheel,) = dist.glob("newsbeam-*.whl")
    (sdist,) = dist.glob("newsbeam-*.tar.gz")
    return {"wheel": wheel, "sdist": sdist, "base": base}


def test_the_wheel_holds_the_newsbeam_package_with_every_file_the_code_reads(
    built: dict[str, Path],
) -> None:
    with zipfile.ZipFile(built["wheel"]) as wheel:
        names = set(wheel.namelist())
        version = _pyproject()["project"]["version"]
        info = f"newsbeam-{version}.dist-info"
        # One import package: no bare pipeline/, transforms/ or schemas/ in site-packages.
        assert {name.split("/")[0] for name in names} == {"newsbeam", info}
        # Every tracked file of the code folders (code, lexicons, taxonomy, topic model and
        # their licences) is in the wheel, under newsbeam/.
        wanted = {
            f"{package.replace('.', '/')}/{name[len(folder) + 1 :]}"
            for package, folder in CODE_FOLDERS.items()
            for name in _tracked_files()
            if name.startswith(f"{folder}/")
        }
        assert wanted - names == set()
        assert any(name.endswith("topics-linear.npz") for name in wanted)
        meta = email.message_from_bytes(wheel.read(f"{info}/METADATA"))
        entry_points = wheel.read(f"{info}/entry_points.txt").decode()
        # The licence metadata covers the data the wheel ships too (PEP 639): the code's
        # licence, the taxonomy's (CC BY 4.0) and the topic model's (CC BY-SA 4.0), with
        # every licence and attribution file of the code folders as a License-File.
        folders = tuple(f"{folder}/" for folder in CODE_FOLDERS.values())
        licences = {f"{info}/licenses/LICENSE"} | {
            f"{info}/licenses/{name}"
            for name in _tracked_files()
            if name.startswith(folders) and ("LICENSE" in name or "/licences/" in name)
        }
        assert len(licences) > 2 and licences - names == set()
    assert meta["Version"] == version
    assert meta["License-Expression"] == "Apache-2.0 AND CC-BY-4.0 AND CC-BY-SA-4.0"
    assert meta["Requires-Python"] == _pyproject()["project"]["requires-python"]
    assert meta["Description-Content-Type"] == "text/markdown"
    assert meta.get_payload().strip() == (REPO / "README.md").read_text().strip()
    assert "newsbeam = newsbeam.pipeline.main:command" in entry_points


def test_the_sdist_holds_the_checkout_its_tests_read(built: dict[str, Path]) -> None:
    """Distributions build and test from the sdist: without tests/golden, the seeds, docs,
    deploy and benchmarks (the sdist had the test modules alone) the suite fails there."""
    import tarfile

    version = _pyproject()["project"]["version"]
    with tarfile.open(built["sdist"]) as sdist:
        names = {name.split("/", 1)[1] for name in sdist.getnames() if "/" in name}
    wanted = {name for name in _tracked_files() if not name.startswith(NOT_IN_SDIST)}
    assert wanted - names == set()
    assert not any("__pycache__" in name or name.endswith(".pyc") for name in names)
    assert built["sdist"].name == f"newsbeam-{version}.tar.gz"


@pytest.mark.slow
def test_the_installed_wheel_runs_outside_the_checkout(built: dict[str, Path]) -> None:
    """The wheel installed into an environment of its own (the libraries from this one),
    run from a folder outside the checkout: its version, the seeds, the report over them."""
    base = built["base"]
    python_path, site = wheel_environment(built["wheel"], base, "wheel")
    python = str(python_path)
    work = base / "elsewhere"
    work.mkdir()

    def run(*args: str) -> str:
        done = subprocess.run(
            [python, *args], cwd=work, capture_output=True, text=True, env={"TMPDIR": str(base)}
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    where = run("-c", "import newsbeam.pipeline.run as m, newsbeam.transforms as t; "
                "print(m.__file__); print(t.__path__[0])")  # fmt: skip
    assert all(Path(line).is_relative_to(site) for line in where.split()), where
    version = _pyproject()["project"]["version"]
    assert run("-m", "newsbeam.pipeline", "--version").startswith(f"newsbeam {version} ")
    run("-m", "newsbeam.pipeline", "--input", str(SEEDS), "--output", "OUT", "--run_id", "r1")
    (manifest,) = (work / "OUT" / "_runs").glob("r1.json")
    content = json.loads(manifest.read_text())
    assert content["versions"]["newsbeam"] == version
    assert content["counts"]["articles"] == len(list(SEEDS.iterdir()))
    run("-m", "newsbeam.pipeline", "report", "--output", "OUT")
    assert (work / "OUT" / "report.html").stat().st_size > 0
