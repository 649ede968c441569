"""The docs a newcomer starts from stay true to the tree and the command: the module tree of
docs/architecture.md names every module (and no module that is gone), and every flag the
command and its subcommands take is documented in README.md or docs/."""

from __future__ import annotations

import argparse
import re
from pathlib import Path

import pytest

from newsbeam.pipeline import cli, report, warehouse
from newsbeam.pipeline import run as pipeline_run
from tests.helpers import as_regex, code_counters

REPO = Path(__file__).resolve().parents[1]
CODE_FOLDERS = ("pipeline", "transforms", "schemas")


def tree_block(text: str) -> str:
    """The code block under the "## The tree" heading of docs/architecture.md."""
    section = text.split("\n## The tree\n", 1)[1]
    return section.split("```", 2)[1]


def tree_paths(block: str) -> set[str]:
    """The files and folders a tree block names, as paths from the repository root.

    An entry is a line's first word(s) ending in `/` (a folder) or `.py`, several of them
    comma-separated ("main.py, __main__.py"); its indentation says which folder it is in.
    The deeper-indented lines that go on describing an entry name nothing."""
    paths: set[str] = set()
    folders: list[tuple[int, str]] = []  # (indentation, path) of the enclosing folders
    for line in block.splitlines():
        match = re.match(r"( *)((?:[\w.]+/?)(?:, [\w.]+/?)*)(?: |$)", line)
        if not match or not match.group(2).endswith(("/", ".py")):
            continue
        indent = len(match.group(1))
        while folders and folders[-1][0] >= indent:
            folders.pop()
        parent = folders[-1][1] if folders else ""
        for name in match.group(2).split(", "):
            path = parent + name
            paths.add(path.rstrip("/"))
            if name.endswith("/"):
                folders.append((indent, path))
    return paths


def code_modules() -> set[str]:
    """Every module of the code folders but the packages' `__init__.py`."""
    return {
        path.relative_to(REPO).as_posix()
        for folder in CODE_FOLDERS
        for path in (REPO / folder).rglob("*.py")
        if path.name != "__init__.py"
    }


def test_tree_paths_reads_nesting_and_continuation_lines() -> None:
    block = (
        "pipeline/                the command\n"
        "  main.py, __main__.py   the command\n"
        "transforms/              stages\n"
        "  read.py                ReadDocuments; WatchInputs,\n"
        "                         ReadPubSubDocuments (streaming sources)\n"
        "  support/               shared\n"
        "    words.py               words\n"
        "  clean.py               CleanText\n"
    )
    assert tree_paths(block) == {
        "pipeline",
        "pipeline/main.py",
        "pipeline/__main__.py",
        "transforms",
        "transforms/read.py",
        "transforms/support",
        "transforms/support/words.py",
        "transforms/clean.py",
    }


def test_the_architecture_tree_names_every_module_and_no_other() -> None:
    named = tree_paths(tree_block((REPO / "docs" / "architecture.md").read_text("utf-8")))
    named_modules = {path for path in named if path.endswith(".py")}
    in_code = code_modules()
    assert sorted(in_code - named_modules) == [], "modules missing from docs/architecture.md"
    gone = {path for path in named_modules - in_code if path.split("/")[0] in CODE_FOLDERS}
    assert sorted(gone) == [], "docs/architecture.md names modules that do not exist"


def documented_text() -> str:
    return "\n".join(
        path.read_text("utf-8") for path in [REPO / "README.md", *(REPO / "docs").glob("*.md")]
    )


def flags_of(parser: argparse.ArgumentParser) -> set[str]:
    return {
        option
        for action in parser._actions  # noqa: SLF001 (argparse keeps them only there)
        for option in action.option_strings
        if option.startswith("--") and option != "--help"
    }


@pytest.mark.parametrize(
    "name, parser",
    [
        ("newsbeam", cli.help_parser),
        ("newsbeam warehouse", warehouse.parser),
        ("newsbeam report", report.parser),
    ],
)
def test_every_flag_of_the_help_is_documented(name: str, parser: object) -> None:
    text = documented_text()
    flags = flags_of(parser())  # type: ignore[operator]
    assert flags
    undocumented = sorted(flag for flag in flags if not re.search(re.escape(flag) + r"\b", text))
    assert undocumented == [], f"{name}: flags in --help that README.md and docs/ never name"


def counters_section() -> str:
    text = (REPO / "docs" / "stages.md").read_text("utf-8")
    return text.split("\n## Counters\n", 1)[1].split("\n## ", 1)[0]


COUNTER_PREFIXES = tuple(
    f"{stage}_"
    for stage in (
        "<stage>", "read", "extract", "feeds", "clean", "language", "dedup", "stories",
        "topics", "places", "check", "stream",
    )
)  # fmt: skip


def documented_counters() -> tuple[set[str], set[str]]:
    """The counters docs/stages.md's "Counters" lists: names, and patterns
    (`clean_removed_<reason>`)."""
    quoted = set(re.findall(r"`([a-z<][a-z_<>]*)`", counters_section()))
    # Column and reason names are quoted too (`duplicate_count`, `internal_error`).
    counters = {name for name in quoted if name.startswith(COUNTER_PREFIXES)}
    return {n for n in counters if "<" not in n}, {n for n in counters if "<" in n}


def test_as_regex_reads_both_placeholders() -> None:
    assert as_regex("<stage>_dropped_<reason>").fullmatch("read_dropped_not_found")
    assert as_regex("dedup_{copy.method}").fullmatch("dedup_near")
    assert not as_regex("clean_removed_<reason>").fullmatch("clean_in")


def test_every_counter_is_in_the_counters_section_and_every_one_listed_is_counted() -> None:
    """docs/stages.md said every stage counts `<stage>_in` and `<stage>_out` (language,
    dedup, stories, topics and places count no `_out`), and its list lacked 22 counters the
    run's manifest can hold, 13 of them named on no page."""
    names, patterns = code_counters()
    listed, listed_patterns = documented_counters()
    assert "read_inputs" in names and "dedup_{method}" in patterns  # the scan reads the code
    listed_regexes = [as_regex(p) for p in listed_patterns]

    def is_listed(name: str) -> bool:
        return name in listed or any(regex.fullmatch(name) for regex in listed_regexes)

    assert sorted(n for n in names if not is_listed(n)) == [], "counted, not in the docs"
    # An f-string's counters are listed by name (`dedup_exact`) or by a pattern of the docs.
    samples = {p: re.sub(r"\{[^}]+\}", "x", p) for p in patterns}
    unlisted_patterns = [
        p
        for p, sample in samples.items()
        if not is_listed(sample) and not any(as_regex(p).fullmatch(n) for n in listed)
    ]
    assert sorted(unlisted_patterns) == [], "counted, not in the docs"
    code_regexes = [as_regex(p) for p in patterns]
    assert (
        sorted(
            n for n in listed if n not in names and not any(r.fullmatch(n) for r in code_regexes)
        )
        == []
    ), "in the docs, never counted"
    stand_ins = {as_regex(p).pattern for p in patterns}
    assert (
        sorted(
            p
            for p in listed_patterns
            if as_regex(p).pattern not in stand_ins
            and not any(as_regex(p).fullmatch(n) for n in names)
        )
        == []
    ), "a pattern in the docs that matches no counter"


def flags_whose_help_starts(parser: argparse.ArgumentParser, words: str) -> set[str]:
    return {
        action.option_strings[0]
        for action in parser._actions  # noqa: SLF001 (argparse keeps them only there)
        if action.option_strings and (action.help or "").startswith(words)
    }


def test_every_flag_whose_help_says_with_state_or_streaming_is_refused_without_it() -> None:
    """README.md says a flag of a mode the run is not in is a usage error, naming "the
    other 'With --state' flags"; four of them (--min_poll_seconds, --initial_poll_seconds,
    --max_backoff_seconds, --poll_jitter) ran without --state, exit 0, and set nothing."""
    parser = cli.help_parser()
    with_state = flags_whose_help_starts(parser, "With --state")
    with_streaming = flags_whose_help_starts(parser, "With --streaming")
    assert "--state_keep_days" in with_state and "--window_seconds" in with_streaming
    assert sorted(with_state - set(pipeline_run.STATE_ONLY)) == []
    assert sorted(with_streaming - set(pipeline_run.STREAMING_ONLY)) == []


def make_targets() -> set[str]:
    """The Makefile's targets a user runs: its .PHONY line's (the per-gate ones apart,
    which developing.md names through `make eval-stories (and the like)`)."""
    makefile = (REPO / "Makefile").read_text("utf-8")
    phony = re.search(r"^\.PHONY: (.*)$", makefile, re.M)
    assert phony
    return set(phony.group(1).split())


def test_every_make_target_is_in_the_developing_table() -> None:
    """docs/developing.md's table of make targets lacked `make test-airflow`, which CI runs
    beside `make test`."""
    text = (REPO / "docs" / "developing.md").read_text("utf-8")
    listed = set(re.findall(r"^\| `make ([\w-]+)`", text, re.M))
    assert "demo" in listed
    assert sorted(make_targets() - listed) == []
    assert sorted(listed - make_targets()) == []
