"""Entry point: `newsbeam --input PATH [--input PATH ...] --output DIR [Beam flags]`, and
`newsbeam report --output ROOT [--since DATE]` (pipeline/report.py).

Exit status: 0 when the run completed (bad documents are rows in `rejected`), 1 when the
run failed, 2 for a usage error. Prints a short summary at the end.
"""

from __future__ import annotations

import logging
import os
import sys
from collections.abc import Sequence
from typing import Any

log = logging.getLogger("newsbeam")


def format_summary(manifest: dict[str, Any], output: str, manifest_name: str) -> str:
    """The few lines printed at the end of a run."""
    counts = manifest["counts"]
    seconds = manifest["seconds"]
    rate = counts["inputs"] / seconds if seconds else 0.0
    lines = [f"NewsBeam: {counts['inputs']} inputs in {seconds:.1f} s ({rate:.1f} docs/s)"]
    for table in ("articles", "duplicates", "rejected"):
        share = counts[table] / counts["inputs"] if counts["inputs"] else 0.0
        lines.append(f"  {table:<10}  {counts[table]}  ({share:.1%})")
    for stage, reasons in counts["rejected_by"].items():
        detail = ", ".join(f"{reason} {n}" for reason, n in reasons.items())
        lines.append(f"    {stage}: {detail}")
    if not counts["balanced"]:
        lines.append("  WARNING: inputs != articles + duplicates + rejected (see manifest)")
    lines += [
        f"Tables:   {output}/articles/  {output}/duplicates/  {output}/rejected/",
        f"Manifest: {output}/{manifest_name}",
        f"DuckDB:   SELECT title, language FROM '{output}/articles/*.parquet'",
    ]
    return "\n".join(lines)


def main(argv: Sequence[str] | None = None) -> int:
    """Console entry point; returns the exit status."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if argv[:1] == ["report"]:  # a subcommand: no Beam needed
        from newsbeam.pipeline.report import main as report_main

        return report_main(argv[1:])
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    # Importing Beam logs warnings about Google Cloud clients NewsBeam does not use
    # ("apitools not found"); keep them off the user's terminal.
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)
    try:
        from newsbeam.pipeline import run as pipeline_run
        from newsbeam.pipeline.options import NewsBeamOptions
    finally:
        root.setLevel(level)

    if any(flag in argv for flag in ("-h", "--help")):
        NewsBeamOptions(["--help"])  # argparse prints the help and exits
    try:
        manifest = pipeline_run.run(argv)
    except pipeline_run.UsageError as error:
        print(f"newsbeam: {error}", file=sys.stderr)
        return 2
    except Exception:
        log.exception("the run failed; the previous output (if any) is unchanged")
        return 1
    try:
        print(format_summary(manifest, NewsBeamOptions(argv).output, pipeline_run.MANIFEST))
    except BrokenPipeError:  # `newsbeam ... | head`: the run itself succeeded
        # Point stdout at /dev/null so the interpreter's final flush does not fail again.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
    return 0
