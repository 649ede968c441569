"""Saved feed files read on a host without network (review 117): the 200 raw feeds of
../shared/data/feeds/fastfeedparser-benchmark-feeds as a folder of files, read by the
`newsbeam` command as a user runs it, under the tests' network guard
(tests/offline/sitecustomize.py): every name lookup off the machine waits
`--resolver-delay` seconds (the air-gapped host's resolver timed out in ~5 s) and fails,
every connection off the machine is refused; nothing leaves 127.0.0.1.

    .venv/bin/python benchmarks/bench_offline_feeds.py --shared ../shared [--fetch-file-pages]

Prints the run's wall time, the feeds stage's seconds (the manifest's stage_seconds), the
lookups the run tried off the machine, and the tables' counts (inputs = articles +
duplicates + rejected). `--fetch-file-pages`: the saved feeds' entry pages fetched, as
every run did by default before review 117.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

import _common

FEEDS_RELATIVE = Path("data/feeds/fastfeedparser-benchmark-feeds")
GUARD = Path(__file__).resolve().parent.parent / "tests" / "offline"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--resolver-delay", type=float, default=5.0, metavar="S")
    parser.add_argument("--fetch-file-pages", action="store_true")
    parser.add_argument("--gate-seconds", type=float, default=None, metavar="S",
                        help="fail when the feeds stage takes longer")  # fmt: skip
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, [str(FEEDS_RELATIVE)])
    with _common.scratch_directory("offline-feeds") as scratch:
        log = scratch / "offline-log"
        os.environ["NEWSBEAM_TEST_OFFLINE_LOG"] = str(log)
        os.environ["NEWSBEAM_TEST_RESOLVER_DELAY"] = str(args.resolver_delay)
        os.environ["PYTHONPATH"] = os.pathsep.join(
            filter(None, [str(GUARD), os.environ.get("PYTHONPATH", "")])
        )
        extra = ["--fetch_file_pages"] if args.fetch_file_pages else []
        output = scratch / "out"
        run = _common.run_pipeline([shared / FEEDS_RELATIVE], output, scratch, extra)
        _common.require_success(run)
        manifest = _common.read_manifest(output) or {}
        lines = [line for path in log.glob("*.log") for line in path.read_text().splitlines()]
    lookups = sum(line.startswith("lookup") for line in lines)
    connects = len(lines) - lookups
    stages = manifest.get("stage_seconds", {})
    feeds_seconds = sum(seconds for name, seconds in stages.items() if "Feeds" in name)
    counts = manifest.get("counts", {})
    print(f"feed files: {FEEDS_RELATIVE} ({'pages fetched' if extra else 'default'})")
    print(f"wall {run.wall_seconds:.1f} s; feeds stage {feeds_seconds:.1f} s (stage_seconds)")
    slowest = sorted(stages.items(), key=lambda item: -item[1])[:5]
    print("slowest steps: " + ", ".join(f"{name} {seconds:.1f} s" for name, seconds in slowest))
    print(f"off-machine lookups tried {lookups} (each {args.resolver_delay} s), connections "
          f"tried {connects}")  # fmt: skip
    print("counts: " + json.dumps({k: counts.get(k) for k in (
        "inputs", "articles", "duplicates", "rejected", "balanced")}))  # fmt: skip
    if args.gate_seconds is None:
        return 0
    return _common.finish_gate(
        feeds_seconds <= args.gate_seconds and counts.get("balanced") is True,
        f"feeds stage {feeds_seconds:.1f} s (gate {args.gate_seconds} s), balanced "
        f"{counts.get('balanced')}",
    )


if __name__ == "__main__":
    sys.exit(main())
