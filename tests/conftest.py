"""Shared fixtures: the seeds folder, bad input files. Helpers tests import are in
tests/helpers.py."""

from __future__ import annotations

import gzip
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import apache_beam as beam
import pytest
from hypothesis import HealthCheck, settings

from newsbeam.pipeline.runners import remove_scratch
from newsbeam.transforms.support.built_cache import CACHE_ENV
from tests.helpers import ARTICLE_HTML, ARTICLE_TEXT, SEEDS
from tests.offline import sitecustomize as offline_guard

# The property tests (tests/test_properties.py): in CI a fixed, fast set of examples (the
# same each run: derandomized, no example database written into the checkout); locally
# `HYPOTHESIS_PROFILE=long` draws many more, new ones each run (docs/developing.md).
settings.register_profile(
    "ci",
    derandomize=True,
    database=None,
    max_examples=40,
    deadline=None,  # a loaded 2-core machine: time is the suite's budget, not one example's
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile(
    "long", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

_OWN_FOLDERS: list[str] = []
# The suite's temporary folder ($TMPDIR for it and every run it starts), once made.
_SUITE_TMPDIR = "NEWSBEAM_TESTS_TMPDIR"


def pytest_configure(config: pytest.Config) -> None:
    """Objects built from installed data are cached between processes
    (support/built_cache.py): the tests and the pipelines they start use a folder of their
    own, not the user's cache (unless $NEWSBEAM_CACHE_DIR names one).

    And a temporary folder of their own ($TMPDIR, inherited by every run they start): what
    a run a test kills on purpose leaves (Beam's scratch folder, the worker template's, the
    progress taps: nothing can remove them after SIGKILL) goes with it at the end, not into
    the machine's /tmp. pytest's own folders (tmp_path) stay where they were."""
    os.environ.setdefault("PYTEST_DEBUG_TEMPROOT", tempfile.gettempdir())
    if _SUITE_TMPDIR not in os.environ:  # xdist's workers share the controller's folder:
        # one level only, as socket paths in it have at most 107 bytes (Chromium's
        # SingletonSocket under two made a path too long)
        _OWN_FOLDERS.append(tempfile.mkdtemp(prefix="newsbeam-tests-"))
        os.environ[_SUITE_TMPDIR] = os.environ["TMPDIR"] = _OWN_FOLDERS[-1]
        tempfile.tempdir = None  # read $TMPDIR again
    if CACHE_ENV not in os.environ:
        _OWN_FOLDERS.append(tempfile.mkdtemp(prefix="newsbeam-test-cache-"))
        os.environ[CACHE_ENV] = _OWN_FOLDERS[-1]
    _guard_network()


_OFFLINE = Path(__file__).parent / "offline"


def _guard_network() -> None:
    """No test contacts an address but the loopback one (tests/offline/sitecustomize.py):
    this process and every Python process the suite starts (PYTHONPATH, inherited) refuse
    any other at once and log it; pytest_sessionfinish fails the suite on a log."""
    if offline_guard.LOG_ENV not in os.environ:
        log = tempfile.mkdtemp(prefix="newsbeam-offline-")
        _OWN_FOLDERS.append(log)
        os.environ[offline_guard.LOG_ENV] = log
        paths = [str(_OFFLINE), *filter(None, os.environ.get("PYTHONPATH", "").split(":"))]
        os.environ["PYTHONPATH"] = ":".join(paths)
    offline_guard.install()


def offline_violations() -> list[str]:
    """What any process of the suite tried to contact off the machine (one line each)."""
    folder = Path(os.environ[offline_guard.LOG_ENV])
    return [line for log in sorted(folder.glob("*.log")) for line in log.read_text().splitlines()]


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    if hasattr(session.config, "workerinput"):
        return  # an xdist worker: the controller reads every process's log
    violations = offline_violations()
    if violations:
        shown = "\n  ".join(sorted(set(violations))[:50])
        print(f"\nA test contacted an address off this machine ({len(violations)}):\n  {shown}")
        session.exitstatus = pytest.ExitCode.TESTS_FAILED


def pytest_unconfigure(config: pytest.Config) -> None:
    for folder in _OWN_FOLDERS:
        shutil.rmtree(folder, ignore_errors=True)


@pytest.fixture
def unrun_pipeline() -> Iterator[Callable[..., beam.Pipeline]]:
    """Makes Pipelines a test builds to inspect and never runs; their scratch folders (Beam
    removes one only in `run()`) are removed when the test ends."""
    made: list[beam.Pipeline] = []

    def make(**kwargs: Any) -> beam.Pipeline:
        made.append(beam.Pipeline(**kwargs))
        return made[-1]

    yield make
    for pipeline in made:
        remove_scratch(pipeline)


@pytest.fixture
def seeds_dir() -> Path:
    return SEEDS


@pytest.fixture
def bad_inputs(tmp_path: Path) -> dict[str, Path]:
    """One file per kind of bad input, plus one good article; name -> path."""
    folder = tmp_path / "bad"
    folder.mkdir()
    files = {
        "empty": folder / "empty.txt",
        "blank": folder / "blank.txt",
        "binary": folder / "binary.txt",
        "latin1": folder / "latin1.txt",
        "huge": folder / "huge.txt",
        "no_article_html": folder / "nav-only.html",
        "gzip_bomb": folder / "bomb.html.gz",
        "unsupported": folder / "picture.png",
        "short": folder / "short.txt",
        "good_html": folder / "good.html",
        "jsonl": folder / "records.jsonl",
        "fifo": folder / "pipe.txt",
    }
    os.mkfifo(files["fifo"])  # reading it would block forever
    files["empty"].write_bytes(b"")
    files["blank"].write_text(" \n\n \t\n")
    files["binary"].write_bytes(bytes(range(256)) * 64)
    files["latin1"].write_bytes(
        (
            "Ligue 1\n\nLe club a annoncé mercredi l'arrivée d'un nouvel entraîneur, "
            "après une saison décevante où l'équipe a terminé à la treizième place du "
            "championnat. Les supporters espèrent un été plus calme et des résultats "
            "meilleurs dès la rentrée, selon le président du club, très ému."
        ).encode("latin-1")
    )
    with files["huge"].open("wb") as handle:  # 50 MB, written sparsely but read for real
        handle.write(b"word " * 10_485_760)
    files["no_article_html"].write_text(
        "<html><body><nav><a href='/a'>A</a><a href='/b'>B</a></nav></body></html>"
    )
    # 20 MB of zeros compress to ~20 KB: over a 10 MB limit only after decompression.
    files["gzip_bomb"].write_bytes(gzip.compress(b"<html>" + b" " * 20_000_000, 9))
    files["unsupported"].write_bytes(b"\x89PNG\r\n\x1a\n" + b"\x00" * 64)
    files["short"].write_text("Breaking news.\n")
    files["good_html"].write_text(ARTICLE_HTML)
    good_record = {
        "id": "r1",
        "title": "Budget approved",
        "url": "https://news.example.com/r1",
        "published": "2024-05-14T10:00:00Z",
        "author": "Jane Reporter",
        "text": ARTICLE_TEXT.replace("city council", "county board"),
    }
    files["jsonl"].write_text(
        json.dumps(good_record)
        + "\nthis is not json\n\n"
        + json.dumps({"title": "no text field"})
        + "\n"
        + json.dumps(["an", "array"])
        + "\n"
    )
    return files
