"""Clients Beam imports with itself, imported on first use (pipeline/deferred_imports.py).

Each case runs in a fresh interpreter: the test process has imported these modules long
before, and a stand-in is only put where a module is not imported yet."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path


def _fresh(code: str, *, path: Path | None = None) -> dict:
    """Run `code` in a new interpreter (with `path` first on sys.path); what it printed last
    as JSON."""
    prelude = f"import sys; sys.path.insert(0, {str(path)!r})\n" if path else ""
    run = subprocess.run(
        [sys.executable, "-c", prelude + textwrap.dedent(code)],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert run.returncode == 0, run.stderr
    return json.loads(run.stdout.strip().splitlines()[-1])


def _package(root: Path) -> Path:
    """A package `slowpkg` whose import leaves a mark in `sys.modules` (`slowpkg_loaded`),
    with a submodule and a function."""
    package = root / "slowpkg"
    package.mkdir()
    (package / "__init__.py").write_text(
        "import sys, types\n"
        "sys.modules['slowpkg_loaded'] = types.ModuleType('slowpkg_loaded')\n"
        "VALUE = 42\n"
        "def twice(x):\n    return 2 * x\n"
    )
    (package / "part.py").write_text("import slowpkg\nFROM_PARENT = slowpkg.VALUE + 1\n")
    return root


def test_a_deferred_module_is_imported_at_its_first_use(tmp_path: Path) -> None:
    found = _fresh(
        """
        import json, sys
        from newsbeam.pipeline import deferred_imports as d
        deferred = d.defer("slowpkg")
        import slowpkg  # what Beam's module-level `import boto3` does
        before = "slowpkg_loaded" in sys.modules
        stand_in = slowpkg
        value = slowpkg.twice(21)  # the first use
        after = "slowpkg_loaded" in sys.modules
        real = sys.modules["slowpkg"]
        print(json.dumps({
            "deferred": deferred, "before": before, "after": after, "value": value,
            "replaced": real is not stand_in and type(real).__name__ == "module",
            "through_stand_in": stand_in.VALUE, "again": d.defer("slowpkg"),
        }))
        """,
        path=_package(tmp_path),
    )
    assert found == {
        "deferred": True,
        "before": False,
        "after": True,
        "value": 42,
        "replaced": True,
        "through_stand_in": 42,
        "again": False,  # imported now: nothing to defer
    }


def test_from_imports_and_submodules_load_the_real_package(tmp_path: Path) -> None:
    found = _fresh(
        """
        import json, sys
        from newsbeam.pipeline import deferred_imports as d
        d.defer("slowpkg")
        from slowpkg.part import FROM_PARENT
        from slowpkg import VALUE
        print(json.dumps({"part": FROM_PARENT, "value": VALUE,
                          "loaded": "slowpkg_loaded" in sys.modules,
                          "is_real": type(sys.modules["slowpkg"]).__name__ == "module"}))
        """,
        path=_package(tmp_path),
    )
    assert found == {"part": 43, "value": 42, "loaded": True, "is_real": True}


def test_a_module_not_installed_is_not_deferred() -> None:
    found = _fresh(
        """
        import json, sys
        from newsbeam.pipeline import deferred_imports as d
        deferred = d.defer("no_such_module_newsbeam")
        try:
            import no_such_module_newsbeam
            raised = False
        except ImportError:
            raised = True
        print(json.dumps({"deferred": deferred, "raised": raised}))
        """
    )
    assert found == {"deferred": False, "raised": True}


def test_a_broken_module_raises_its_error_at_use_and_stays_deferred(tmp_path: Path) -> None:
    (tmp_path / "brokenpkg.py").write_text("raise ImportError('a broken install')\n")
    found = _fresh(
        """
        import json, sys
        from newsbeam.pipeline import deferred_imports as d
        d.defer("brokenpkg")
        import brokenpkg
        errors = []
        for _ in range(2):
            try:
                brokenpkg.anything
            except ImportError as error:
                errors.append(str(error))
        print(json.dumps({"errors": errors,
                          "stand_in": type(sys.modules["brokenpkg"]).__name__}))
        """,
        path=tmp_path,
    )
    assert found == {"errors": ["a broken install"] * 2, "stand_in": "DeferredModule"}


def test_beams_import_leaves_the_clients_unloaded_until_s3_is_used() -> None:
    """The command's first step (`settle_process`): importing Beam loads none of boto3,
    botocore, httplib2 or requests; Beam's S3 client, made as a run on s3:// makes it, then
    loads boto3 and works with it."""
    found = _fresh(
        """
        import json, sys
        from newsbeam.pipeline.workers import settle_process
        settle_process()
        import apache_beam
        from apache_beam.io.filesystems import FileSystems
        from newsbeam.pipeline.deferred_imports import DeferredModule
        real = lambda name: (name in sys.modules
                             and not isinstance(sys.modules[name], DeferredModule))
        with_beam = {n: real(n) for n in ("boto3", "botocore", "httplib2", "requests")}
        from apache_beam.io.aws.clients.s3 import boto3_client
        client = boto3_client.Client({"s3_endpoint_url": "http://127.0.0.1:9",
                                      "s3_access_key_id": "k", "s3_secret_access_key": "s",
                                      "s3_region_name": "us-east-1"})
        print(json.dumps({"with_beam": with_beam, "s3": type(FileSystems.get_filesystem(
            "s3://bucket/key")).__name__, "boto3_after": real("boto3"),
            "client": type(client.client).__name__}))
        """
    )
    assert found["with_beam"] == dict.fromkeys(("boto3", "botocore", "httplib2", "requests"), False)
    assert found["s3"] == "S3FileSystem"
    assert found["boto3_after"] is True
    assert found["client"] == "S3"
