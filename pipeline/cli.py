"""The command line around a run: strict flags, one spelling, `--help`, `--version`.

Beam accepts any flag and only warns about those no options class knows; a cron job then
runs with a default in place of a mistyped value. Here every flag must belong to NewsBeam
or to one of Beam's options classes, or the command is a usage error naming the flag.
"""

from __future__ import annotations

import argparse
import difflib
import platform
from collections.abc import Sequence
from importlib import metadata

from apache_beam.options.pipeline_options import PipelineOptions, _BeamArgumentParser

from newsbeam.pipeline.options import NewsBeamOptions

EXIT_CODES = (
    (
        0,
        "the run completed (bad documents are rows in the rejected table); --follow: "
        "stopped by a signal or --max_runtime after its last batch committed",
    ),
    (
        1,
        "the run failed; nothing of it committed, the state as it was, the failure recorded "
        "in ROOT/_failed_runs/ (--max_files_per_run: the passes before it stay committed; "
        "--follow: five batches in a row failed, the batches before them committed, or it "
        "could not start)",
    ),
    (
        2,
        "usage error: a flag, a path, the dataset or the state (nested, damaged, not "
        "NewsBeam's); nothing was run",
    ),
    (3, "the run completed but rejected more than --fail_on_rejected of its inputs"),
    (
        75,
        "another run holds the lock of --output or --state (its holder named); nothing was "
        "run: run it again once that run ends",
    ),
    (130, "interrupted (SIGINT); staging removed, nothing committed, state as it was, recorded"),
    (
        137,
        "killed (SIGKILL: the out-of-memory killer, a scheduler's kill; the number is the "
        "shell's or scheduler's): no word from the run; nothing committed, and the next run "
        "cleans up and records it in ROOT/_failed_runs/",
    ),
    (143, "terminated (SIGTERM); staging removed, nothing committed, state as it was, recorded"),
)

EXAMPLES = """\
examples:
  newsbeam --input seeds --output out/seeds
  newsbeam --input inbox/ --output dataset/ --state state/ --run_id 2026-12-01
  newsbeam --follow --interval 60 --input inbox/ --feeds feeds.txt --output dataset/ \\
      --state state/
  newsbeam --feeds feeds.txt --output s3://bucket/news --state s3://bucket/state \\
      --s3_region_name eu-west-1
  newsbeam warehouse --output dataset/ --db news.duckdb
"""

BEAM_FLAGS_NOTE = (
    "Every Apache Beam pipeline flag works as well: --runner (default FnApiRunner), "
    "--direct_num_workers, --direct_running_mode, --job_endpoint, --environment_type, "
    "--temp_location, --sdk_container_image, --extra_package and the rest; "
    "`newsbeam --help_beam` lists them all."
)


# The Beam flags users reach for first, with a line each; `--help_beam` lists all of them.
RUNNER_FLAGS = {
    "--runner": "Where the pipeline runs: FnApiRunner (NewsBeam's default, local), "
    "PortableRunner, DataflowRunner, FlinkRunner, SparkRunner.",
    "--direct_num_workers": "Worker processes of a local run. Default: one per core available "
    "(taskset and a container's CPU quota count), as many as fit in the memory available "
    "(1 GB each; page cache counts as available), when the --input paths hold "
    "50 files or more, the run is not --follow and other jobs leave a core free (load "
    "average below cores + 1); otherwise the run stays in this process. "
    "A count above 1 alone means multi_processing.",
    "--direct_running_mode": "in_memory (one process), multi_threading or multi_processing; "
    "naming it overrides the default above (multi_processing: one worker per core).",
    "--job_endpoint": "Job service of a portable runner, host:port (or 'embed').",
    "--environment_type": "How workers run the Python code: DOCKER, PROCESS, EXTERNAL, LOOPBACK.",
    "--environment_config": "The image, command or worker-pool address for --environment_type.",
    "--temp_location": "Scratch space of a distributed runner (gs://, s3://, ...).",
    "--sdk_container_image": "Worker image with NewsBeam installed (see deploy/).",
    # The checkout has no setup.py; what reaches remote workers is the image above or a
    # wheel (docs/deploying.md, "NewsBeam on the workers").
    "--extra_package": "A NewsBeam wheel staged with the job, installed on each worker as it "
    "starts (docs/deploying.md).",
}


class UnknownFlagsError(Exception):
    """A command line NewsBeam cannot run: flags that neither NewsBeam nor Beam knows (named
    with suggestions), a flag's value of the wrong type, words that are no flag's value."""


def _beam_parser() -> _BeamArgumentParser:
    """A parser with every flag of every options class loaded (Beam's and NewsBeam's),
    made as Beam makes its own (its parser type handles value-provider flags). A value it
    cannot take raises argparse.ArgumentError (Beam's own parser prints its whole usage)."""
    parser = _BeamArgumentParser(
        prog="newsbeam", allow_abbrev=False, add_help=False, exit_on_error=False
    )
    seen: dict[str, type[PipelineOptions]] = {}
    for cls in PipelineOptions.__subclasses__():
        seen.setdefault(f"{cls.__module__}.{cls.__qualname__}", cls)
    for cls in seen.values():
        try:
            cls._add_argparse_args(parser)  # noqa: SLF001 (Beam's own protocol)
        except argparse.ArgumentError:  # a class registered twice under another name
            continue
    return parser


def known_flags() -> set[str]:
    """Every `--flag` spelling NewsBeam and Beam accept."""
    return {
        option
        for action in _beam_parser()._actions  # noqa: SLF001
        for option in action.option_strings
        if option.startswith("--")
    }


def normalise_spelling(argv: Sequence[str], flags: set[str]) -> list[str]:
    """`--state-keep-days 3` -> `--state_keep_days 3` when only the underscore form exists
    (and the reverse), so either spelling of any flag means the same thing."""
    normalised = []
    for arg in argv:
        if arg.startswith("--") and "=" not in arg and arg not in flags:
            for other in (arg[:2] + arg[2:].replace("-", "_"), arg[:2] + arg[2:].replace("_", "-")):
                if other in flags:
                    arg = other
                    break
        elif arg.startswith("--") and "=" in arg:
            name, value = arg.split("=", 1)
            if name not in flags:
                alias = normalise_spelling([name], flags)[0]
                arg = f"{alias}={value}"
        normalised.append(arg)
    return normalised


def unknown_flags(argv: Sequence[str]) -> list[str]:
    """The flags in `argv` that no options class defines (values are not flags)."""
    return [arg.split("=", 1)[0] for arg in _unparsed(argv) if arg.startswith("-")]


def _unparsed(argv: Sequence[str]) -> list[str]:
    """What of `argv` no options class takes: unknown flags and words no flag takes as its
    value. Raises UnknownFlagsError for a value a flag cannot take."""
    try:
        _, unparsed = _beam_parser().parse_known_args(list(argv))
    except argparse.ArgumentError as error:
        raise UnknownFlagsError(f"{error}; see newsbeam --help") from None
    return unparsed


def set_filesystem_flags(argv: Sequence[str]) -> None:
    """Hand Beam's flags (an object store's endpoint and credentials: `--s3_*`, a GCP
    project, ...) to Beam's FileSystems, for a subcommand that reads a dataset outside a
    pipeline (`warehouse`, `report`); UnknownFlagsError for anything that is no Beam flag."""
    if not argv:
        return
    from apache_beam.io.filesystems import FileSystems

    unknown = unknown_flags(argv)
    if unknown or any(not arg.startswith("-") and "=" not in arg for arg in argv[:1]):
        raise UnknownFlagsError(
            f"unknown argument{'s' if len(unknown) > 1 else ''}: {' '.join(argv)}"
        )
    FileSystems.set_options(PipelineOptions(list(argv)))


# What the command's first word may be besides a flag (pipeline/main.py).
_SUBCOMMANDS = ("report", "warehouse", "schema")


def check_flags(argv: Sequence[str]) -> list[str]:
    """`argv` with spellings normalised; raises UnknownFlagsError for unknown flags, a value
    a flag cannot take, or words that are no flag's value (an unquoted glob the shell
    expanded: `--input dir/*.html` gives --input its first file only)."""
    flags = known_flags()
    argv = normalise_spelling(argv, flags)
    unparsed = _unparsed(argv)
    unknown = [arg.split("=", 1)[0] for arg in unparsed if arg.startswith("-")]
    stray = [arg for arg in unparsed if not arg.startswith("-")]
    if stray and not unknown:
        shown = " ".join(stray[:3]) + (f" (and {len(stray) - 3} more)" if len(stray) > 3 else "")
        close = difflib.get_close_matches(stray[0], _SUBCOMMANDS, n=1, cutoff=0.6)
        hint = (
            f"did you mean newsbeam {close[0]}?"
            if close and argv and argv[0] == stray[0]
            else "a flag takes one value: quote a glob for NewsBeam to expand "
            "(--input 'inbox/*.html'), or give --input once per path"
        )
        raise UnknownFlagsError(
            f"unexpected argument{'s' if len(stray) > 1 else ''} {shown}: {hint}"
        )
    if unknown:
        problems = []
        for flag in unknown:
            close = difflib.get_close_matches(flag, sorted(flags), n=1, cutoff=0.75)
            problems.append(f"{flag} (did you mean {close[0]}?)" if close else flag)
        raise UnknownFlagsError(
            "unknown flag"
            + ("s" if len(problems) > 1 else "")
            + ": "
            + ", ".join(problems)
            + "; see newsbeam --help"  # fmt: skip
        )
    return argv


def version_text() -> str:
    """`newsbeam --version`: NewsBeam, Beam and Python."""

    def version(package: str) -> str:
        try:
            return metadata.version(package)
        except metadata.PackageNotFoundError:
            return "unknown"

    return (
        f"newsbeam {version('newsbeam')} (Apache Beam {version('apache-beam')}, "
        f"Python {platform.python_version()})"
    )


def help_parser() -> _BeamArgumentParser:
    """NewsBeam's flags grouped as `NewsBeamOptions` declares them, with defaults, examples,
    exit codes and a pointer to Beam's flags."""
    exit_codes = "\n".join(f"  {code:<4} {meaning}" for code, meaning in EXIT_CODES)
    parser = _BeamArgumentParser(
        prog="newsbeam",
        usage="newsbeam (--input PATH | --feed URL | --feeds FILE)... --output ROOT "
        "[--run_id ID] [--state DIR] [options] [Beam flags]\n"
        "       newsbeam --follow [--interval SECONDS] [--max_runtime SECONDS] "
        "(--input DIR | --feeds FILE)... --output ROOT --state DIR [options]\n"
        "       newsbeam report --output ROOT [--since DATE] [--report FILE] "
        "[--fail_on_failed[=unrecovered]]\n"
        "       newsbeam warehouse --output ROOT (--db FILE | --iceberg URI) ...\n"
        "       newsbeam schema --format bigquery [--table NAME] [--with_run_columns]",
        description="News ingestion on Apache Beam: raw text, HTML and feeds in; clean, "
        "deduplicated, tagged Parquet tables (articles, duplicates, rejected, feed_health) "
        "out, each run added to one Hive-partitioned dataset on a local path or object store.",
        epilog=f"{EXAMPLES}\nexit codes:\n{exit_codes}\n\n{BEAM_FLAGS_NOTE}",
        formatter_class=_HelpFormatter,
        allow_abbrev=False,
    )
    parser.add_argument("--version", action="store_true", help="Print versions and exit.")
    parser.add_argument(
        "--help_beam", action="store_true", help="List every Apache Beam flag and exit."
    )
    NewsBeamOptions._add_argparse_args(parser)  # noqa: SLF001
    runner = parser.add_argument_group(
        "runner (Apache Beam's flags; the most used, see --help_beam for all)"
    )
    for flag, text in RUNNER_FLAGS.items():
        runner.add_argument(flag, help=text, default=None)
    return parser


def beam_help() -> str:
    """Every Beam flag, for `--help_beam`."""
    parser = _beam_parser()
    parser.prog = "newsbeam"
    parser.formatter_class = argparse.ArgumentDefaultsHelpFormatter
    return parser.format_help()


class _HelpFormatter(argparse.ArgumentDefaultsHelpFormatter, argparse.RawDescriptionHelpFormatter):
    """Defaults after each flag's help; the epilog's examples keep their line breaks."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        # Flags without a meaningful default (repeatable lists, switches) show none.
        if action.default is None or isinstance(action.default, bool):
            return action.help
        return super()._get_help_string(action)
