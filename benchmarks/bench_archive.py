"""A ten-year archive backfilled with --state, then run nightly: listing, passes, memory.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_archive.py --files 200000 --backfill-files 3000

Builds a synthetic archive under a scratch folder (`build_archive`, not committed data):
`--files` files in year/month/day folders (2016-2025), text files made of the seeds'
sentences (each one distinct: it names its item and day), one in 50 a saved page of
../shared (an AEB page with a paragraph of its own added), one in 500 empty, one in 400 a
copy of the file before it under a second path, a few odd names (spaces, a newline,
non-UTF-8 bytes, a path of ~1,000 characters) and one large file (20 MB of text). Then:

1. listing: `transforms/read.py list_inputs` over the archive, in a process of its own:
   CPU seconds and peak RSS;
2. backfill: the first `--backfill-files` files of the archive (a folder of their own)
   with `newsbeam --state S --max_files_per_run --pass-files`: each pass's seconds (its
   manifest), the command's CPU seconds and peak PSS of its process tree;
3. a state as after the whole archive's backfill: that state with the seen row of every
   archive file added (size, time, blake2b: what the read stage records), then nights:
   20 new files in a day folder, `newsbeam --input ARCHIVE --state S` in one run and, the
   next night, with `--max_files_per_run`: CPU seconds, wall seconds, peak PSS, the files
   read.
A real backfill of 200,000 files takes hours on two cores; step 3 puts the seen rows it
would leave into the state directly (what the nights then decide from).

Figures are CPU seconds (user + system of the command and its workers): on a shared host
wall time is noise. `--out DIR` (default out/bench-archive) gets summary.json. Worker
processes are fixed (`--direct_num_workers 2 --direct_running_mode multi_processing`).
"""

from __future__ import annotations

import argparse
import datetime as dt
import gzip
import json
import os
import random
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

WORKERS = ["--direct_num_workers", "2", "--direct_running_mode", "multi_processing"]
AEB_HTML_RELATIVE = Path("data/extraction/aeb/html")
FIRST_DAY = dt.date(2016, 1, 1)
DAYS = 3653  # ten years
HUGE_BYTES = 20 << 20


def seed_sentences(shared: Path) -> list[str]:
    """Sentences of the seed texts: the archive's text files are made of them."""
    sentences: list[str] = []
    for path in sorted((shared / "seeds").glob("*.txt")):
        text = path.read_text(encoding="utf-8")
        for paragraph in text.split("\n\n"):
            if paragraph.startswith(("#", "*", "!")) or len(paragraph) < 80:
                continue
            sentences += [s.strip() for s in re.split(r"(?<=[.!?])\s+", paragraph) if s.strip()]
    return sentences


def page_sources(shared: Path) -> list[bytes]:
    return [
        gzip.decompress(p.read_bytes()) for p in sorted((shared / AEB_HTML_RELATIVE).glob("*.gz"))
    ]


def day_folder(root: Path, number: int, count: int) -> Path:
    day = FIRST_DAY + dt.timedelta(days=number * DAYS // max(count, 1))
    return root / f"{day.year}" / f"{day.month:02d}" / f"{day.day:02d}"


def text_file(sentences: list[str], number: int, day: str) -> bytes:
    rng = random.Random(number)
    body = " ".join(rng.sample(sentences, min(len(sentences), rng.randint(6, 12))))
    title = f"Archive item {number}"
    return f"{title}\n\n{title}, filed {day}. {body}\n".encode()


def page_file(pages: list[bytes], number: int, day: str) -> bytes:
    page = pages[number % len(pages)]
    mark = f"<p>Archive item {number}, filed {day}, kept by the newsroom.</p>".encode()
    at = page.rfind(b"</body>")
    return page[:at] + mark + page[at:] if at >= 0 else page + mark


def build_archive(shared: Path, root: Path, count: int, start: int = 0) -> dict[str, int]:
    """`count` files numbered from `start` into `root`'s day folders (see the module's
    docstring); what was written, by kind. Deterministic."""
    sentences, pages = seed_sentences(shared), page_sources(shared)
    kinds: dict[str, int] = {}
    previous: tuple[Path, bytes] | None = None
    for number in range(start, start + count):
        folder = day_folder(root, number, max(count + start, 1))
        folder.mkdir(parents=True, exist_ok=True)
        day = "-".join(folder.parts[-3:])
        if number % 500 == 7:
            kind, path, content = "empty", folder / f"item-{number}.txt", b""
        elif number % 400 == 3 and previous is not None:
            kind, content = "second_path", previous[1]
            path = folder / f"copy of {previous[0].name}"
        elif number % 50 == 0:
            kind, path = "page", folder / f"item-{number}.html"
            content = page_file(pages, number, day)
        else:
            kind, path = "text", folder / f"item-{number}.txt"
            content = text_file(sentences, number, day)
        path.write_bytes(content)
        previous = (path, content)
        kinds[kind] = kinds.get(kind, 0) + 1
    if start == 0:
        kinds["odd_names"] = write_odd_names(root, sentences)
        huge = root / "2020" / "huge-export.txt"
        huge.parent.mkdir(parents=True, exist_ok=True)
        with open(huge, "wb") as handle:
            line = (" ".join(sentences[:40]) + "\n").encode()
            while handle.tell() < HUGE_BYTES:
                handle.write(line)
        kinds["huge"] = 1
    return kinds


def write_odd_names(root: Path, sentences: list[str]) -> int:
    """Files whose names are not plain: spaces, a newline, Latin-1 bytes, a long path."""
    folder = os.fsencode(root / "2019" / "odd")
    os.makedirs(folder, exist_ok=True)
    long_folder = os.path.join(folder, *[b"a-long-folder-name-" + b"x" * 200] * 4)
    os.makedirs(long_folder, exist_ok=True)
    names = [
        os.path.join(folder, b"saved page with spaces.txt"),
        os.path.join(folder, b"two\nlines.txt"),
        os.path.join(folder, b"caf\xe9 r\xe9sum\xe9.txt"),  # Latin-1, not UTF-8
        os.path.join(long_folder, b"y" * 200 + b".txt"),
    ]
    for number, name in enumerate(names):
        with open(name, "wb") as handle:
            handle.write(text_file(sentences, 10_000_000 + number, "2019-06-01"))
    return len(names)


# --- Measures (each in a process of its own: its peak RSS is its own) --------------------


def measure_listing(root: str) -> dict[str, Any]:
    from newsbeam.transforms.read import Problem, list_inputs

    before = resource.getrusage(resource.RUSAGE_SELF)
    started = time.perf_counter()
    files = problems = 0
    for item in list_inputs([root]):
        if isinstance(item, Problem):
            problems += 1
        else:
            files += 1
    after = resource.getrusage(resource.RUSAGE_SELF)
    cpu = after.ru_utime + after.ru_stime - before.ru_utime - before.ru_stime
    return {
        "files": files,
        "problems": problems,
        "cpu_seconds": round(cpu, 2),
        "wall_seconds": round(time.perf_counter() - started, 2),
        "peak_rss_mb": round(_common.process_memory_mb()[1]),
    }


def add_seen_rows(state_root: str, archive: str) -> int:
    """The seen rows of every archive file put into the state's current version, as the
    read stage records them (transforms/read.py `file_stamp`, `seen_row`), with the
    version's file record rewritten: a state as after the archive's backfill."""
    import pyarrow as pa

    from newsbeam.schemas.inputs_state import SEEN_FILE_SCHEMA, SEEN_FILES_PATH
    from newsbeam.transforms.read import Problem, file_stamp, list_inputs, readable_path
    from newsbeam.transforms.support import state as state_module

    current = json.loads(Path(state_root, "CURRENT.json").read_text())
    version_dir = Path(state_root, "versions", current["version"])
    marker = json.loads((version_dir / "state.json").read_text())
    run_at = dt.datetime.fromisoformat(marker["run_at"])
    rows = []
    for item in list_inputs([archive]):
        if isinstance(item, Problem):
            continue
        stamp, _ = file_stamp(item.path)
        rows.append(
            {
                "path": readable_path(item.path),
                "size": stamp.size,
                "modified_at": stamp.modified_at,
                "content_hash": stamp.content_hash,
                "first_seen_at": run_at,
                "last_seen_at": run_at,
            }
        )
    seen_path = version_dir / SEEN_FILES_PATH
    if seen_path.exists():
        import pyarrow.parquet as pq

        rows += pq.read_table(seen_path).to_pylist()
    rows.sort(key=lambda row: row["path"])
    table = pa.Table.from_pylist(rows, schema=state_module.stamped(SEEN_FILE_SCHEMA))
    seen_path.parent.mkdir(parents=True, exist_ok=True)
    import pyarrow.parquet as pq

    pq.write_table(table, seen_path, compression="zstd")
    marker["files"] = state_module.file_record(str(version_dir))
    (version_dir / "state.json").write_text(json.dumps(marker, indent=2, sort_keys=True))
    return len(rows)


def in_process(flag: str, *arguments: str) -> dict[str, Any]:
    run = subprocess.run(
        [sys.executable, __file__, flag, *arguments], capture_output=True, text=True, check=True
    )
    return json.loads(run.stdout.strip().splitlines()[-1])


def run_command(
    scratch: Path, inputs: list[Path], output: Path, extra: list[str], label: str
) -> dict[str, Any]:
    run = _common.run_pipeline(inputs, output, scratch, [*WORKERS, *extra], sample_tree=True)
    if run.returncode != 0:
        raise SystemExit(f"{label}: exit {run.returncode}\n{run.stderr[-3000:]}")
    from newsbeam.pipeline import dataset

    manifests = dataset.committed_runs(str(output))
    result = {
        "label": label,
        "cpu_seconds": round(run.cpu_seconds, 1),
        "wall_seconds": round(run.wall_seconds, 1),
        "peak_pss_mb": round(run.tree_pss_mb),
        "runs": len(manifests),
        "log": [line for line in run.stderr.splitlines() if "pass " in line or "listed" in line][
            -6:
        ],
    }
    print(
        f"  {label:<34} CPU {run.cpu_seconds:7.1f} s  wall {run.wall_seconds:7.1f} s  "
        f"peak PSS {run.tree_pss_mb:6.0f} MB",
        flush=True,
    )
    return result


def last_runs(output: Path, count: int) -> list[dict[str, Any]]:
    from newsbeam.pipeline import dataset

    manifests = dataset.committed_runs(str(output))[-count:]
    return [
        {
            "run_id": manifest["run_id"],
            "seconds": manifest["seconds"],
            "inputs": manifest["counts"]["inputs"],
            "articles": manifest["counts"]["articles"],
            "skipped_unchanged": manifest.get("counters", {}).get("read_skipped_unchanged", 0),
            "in_no_pass": (manifest.get("pass") or {}).get("unchanged", 0),
        }
        for manifest in manifests
    ]


def compare_tables(passes_root: Path, one_root: Path) -> dict[str, Any]:
    """The backfill in passes against one run over the same files: which files are
    articles, copies or rejected in each, and how stories group the articles both keep
    (the share of them whose story holds the same other articles)."""
    import duckdb

    def rows(root: Path, table: str, columns: str) -> dict[str, Any]:
        sql = f"SELECT source, {columns} FROM read_parquet('{root}/{table}/*/*.parquet')"
        return {row[0]: row[1:] for row in duckdb.sql(sql).fetchall()}

    result: dict[str, Any] = {}
    for table in ("articles", "duplicates", "rejected"):
        ours, theirs = set(rows(passes_root, table, "1")), set(rows(one_root, table, "1"))
        result[table] = {
            "passes": len(ours),
            "one_run": len(theirs),
            "only_passes": len(ours - theirs),
            "only_one_run": len(theirs - ours),
        }

    def members(root: Path) -> dict[str, frozenset[str]]:
        story = {source: row[0] for source, row in rows(root, "articles", "story_id").items()}
        groups: dict[str, set[str]] = {}
        for source, story_id in story.items():
            groups.setdefault(story_id, set()).add(source)
        return {source: frozenset(groups[story_id]) for source, story_id in story.items()}

    ours, theirs = members(passes_root), members(one_root)
    both = set(ours) & set(theirs)
    same = sum(1 for source in both if ours[source] & both == theirs[source] & both)
    result["stories"] = {
        "passes": len(set(ours.values())),
        "one_run": len(set(theirs.values())),
        "articles_in_both": len(both),
        "same_story_members": same,
    }
    return result


def main(argv: list[str] | None = None) -> int:
    if argv is None and len(sys.argv) == 3 and sys.argv[1] == "--measure-listing":
        print(json.dumps(measure_listing(sys.argv[2])))
        return 0
    if argv is None and len(sys.argv) == 4 and sys.argv[1] == "--add-seen-rows":
        print(json.dumps({"rows": add_seen_rows(sys.argv[2], sys.argv[3])}))
        return 0
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument("--files", type=int, default=200_000, help="files in the archive")
    parser.add_argument("--backfill-files", type=int, default=3000, help="files backfilled")
    parser.add_argument("--pass-files", type=int, default=1000, help="--max_files_per_run")
    parser.add_argument("--new-files", type=int, default=20, help="new files each night")
    parser.add_argument(
        "--repeat", type=int, default=3, help="nights of each kind (one run, passes): medians"
    )
    parser.add_argument(
        "--keep-tables",
        metavar="DIR",
        default=None,
        help="copy the backfill's datasets (in passes, in one run) here, for compare_tables.py",
    )
    parser.add_argument("--out", default="out/bench-archive", help="summary.json goes here")
    args = parser.parse_args(argv)
    shared = _common.locate_shared(args.shared, ["seeds", str(AEB_HTML_RELATIVE)])
    summary: dict[str, Any] = {"files": args.files}
    with _common.scratch_directory("bench-archive") as scratch:
        archive = scratch / "archive"
        clock = time.perf_counter()
        summary["archive"] = build_archive(shared, archive, args.files)
        print(f"archive: {summary['archive']} in {time.perf_counter() - clock:.0f} s", flush=True)
        summary["listing"] = in_process("--measure-listing", str(archive))
        print(f"listing: {summary['listing']}", flush=True)

        backfill = scratch / "backfill"
        build_archive(shared, backfill, args.backfill_files)
        state, output = scratch / "state", scratch / "dataset"
        passes = ["--state", str(state), "--max_files_per_run", str(args.pass_files)]
        summary["backfill"] = run_command(
            scratch, [backfill], output, passes, f"backfill {args.backfill_files} in passes"
        )
        summary["backfill"]["passes"] = last_runs(output, summary["backfill"]["runs"])
        for entry in summary["backfill"]["passes"]:
            print(f"    pass: {entry}", flush=True)

        one = scratch / "dataset-one-run"
        summary["backfill_one_run"] = run_command(
            scratch, [backfill], one, [], f"backfill {args.backfill_files} in one run"
        )
        summary["passes_against_one_run"] = compare_tables(output, one)
        print(f"    passes against one run: {summary['passes_against_one_run']}", flush=True)
        if args.keep_tables:  # for benchmarks/compare_tables.py against another version's
            kept = Path(args.keep_tables)
            shutil.rmtree(kept, ignore_errors=True)
            shutil.copytree(output, kept / "passes", symlinks=True)
            shutil.copytree(one, kept / "one-run", symlinks=True)
        shutil.rmtree(one, ignore_errors=True)

        summary["seen_rows"] = in_process("--add-seen-rows", str(state), str(archive))["rows"]
        print(f"state: {summary['seen_rows']} seen rows", flush=True)
        nights = []
        kinds = ([], ["--max_files_per_run", str(args.pass_files)])
        for night in range(1, 2 * args.repeat + 1):
            extra = kinds[(night - 1) % 2]
            build_archive(
                shared,
                archive / "2026" / f"night-{night}",
                args.new_files,
                start=args.files + night * args.new_files,
            )
            label = f"night {night}, {args.new_files} new" + (" in passes" if extra else "")
            result = run_command(scratch, [archive], output, ["--state", str(state), *extra], label)
            result["runs_committed"] = last_runs(output, 1)
            result["in_passes"] = bool(extra)
            print(f"    {result['runs_committed']}", flush=True)
            nights.append(result)
        summary["nights"] = nights
        summary["night_medians"] = {
            kind: {
                figure: statistics.median(n[figure] for n in nights if n["in_passes"] == passes)
                for figure in ("cpu_seconds", "wall_seconds", "peak_pss_mb")
            }
            for kind, passes in (("one_run", False), ("in_passes", True))
        }
        print(f"night medians: {summary['night_medians']}", flush=True)
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "summary.json").write_text(json.dumps(summary, indent=2, default=str) + "\n")
    print(f"summary: {out / 'summary.json'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
