"""Input-side limits: peak memory against the number of input files, and gzip bombs.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_inputs.py                  # 1k and 10k files, bombs
    .venv/bin/python benchmarks/bench_inputs.py --counts 1000 10000 100000   # a few minutes
    .venv/bin/python benchmarks/bench_inputs.py --counts 1000 10000 --content article --bombs

Each run is `sys.executable -m newsbeam.pipeline --input DIR --output OUT` in its own
subprocess (as a user runs it), measured like `bench_pipeline.py`: wall time from start to
exit, the largest single process's maximum RSS (`os.wait4`), and the peak of the summed RSS
of the whole process tree sampled from /proc every 0.1 s.

Corpora, generated in a scratch folder (removed at the end):
- `files N`: N tiny `.txt` files (one short line each, distinct; `--content article` makes
  each a distinct ~60-word article that goes on through dedup and stories instead of being
  rejected as too short by the clean stage). Memory should not grow with N.
- `bomb 2MB` / `bomb 4MB`: one `.html.gz` of that compressed size made of zeros after an
  `<html>` tag (2 MB unpacks to ~2 GiB): must be rejected `too_large` in bounded memory.

Prints one row per run: inputs, wall s, docs/s, peak RSS of the largest process and of the
tree, and whether the manifest balanced (inputs = articles + duplicates + rejected).
Exit 1 when a run fails or does not balance.

Measured on the 2-core box (tree RSS; wall times drift 20-50% with the machine's load):
notes 1k / 10k / 100k: 354 / 374 / ~500 MB (the read stage's own share at 100k: ~60 MB,
its shuffle of (path, size) pairs); bombs of 2 and 4 MB: ~352 MB each, rejected `too_large`
(before bounded decompression: 4.1 GB for 2 MB, and 4 MB was killed). `--content article`
1k / 10k: 405 / 2,204 MB: that growth is the dedup and stories stages (read to language
detection alone: 268 MB at 10k), not reading.
"""

from __future__ import annotations

import argparse
import random
import sys
import zlib
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

WORDS = (
    "council budget school transport river bridge election minister harbour festival "
    "museum hospital railway farmers market weather storm league coach stadium"
).split()


def tiny_text(number: int, content: str) -> str:
    """A distinct small document: a one-line note, or a short article of its own words."""
    if content == "note":
        return f"Note {number}: nothing to report.\n"
    # Common words in an order of its own, and words of its own: no two are near copies.
    rng = random.Random(number)
    words = [rng.choice(WORDS) if i % 2 else f"{rng.choice(WORDS)}{number}" for i in range(60)]
    return f"Item {number}\n\n" + " ".join(words) + ".\n"


def write_tiny_files(folder: Path, count: int, content: str) -> None:
    """`count` files spread over sub-folders of 1,000 (as a crawl would leave them)."""
    for number in range(count):
        sub = folder / f"d{number // 1000:04d}"
        if number % 1000 == 0:
            sub.mkdir(parents=True)
        (sub / f"f{number:06d}.txt").write_text(tiny_text(number, content))


def write_bomb(path: Path, compressed_bytes: int) -> int:
    """A gzip file of about `compressed_bytes` that unpacks to ~1,030x as many bytes."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    unpacked = 0
    with path.open("wb") as handle:
        handle.write(compressor.compress(b"<html>"))
        chunk = b"\0" * (1 << 24)
        while handle.tell() < compressed_bytes:
            handle.write(compressor.compress(chunk))
            unpacked += len(chunk)
        handle.write(compressor.flush())
    return unpacked


def manifest_counts(output: Path) -> dict[str, int | bool]:
    manifest = _common.read_manifest(output)
    if manifest is None:
        raise SystemExit(f"error: no committed run in {output}")
    counts = manifest["counts"]
    return {key: counts[key] for key in ("inputs", "articles", "duplicates", "rejected")} | {
        "balanced": counts["balanced"]
    }


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--counts",
        type=int,
        nargs="*",
        default=[1000, 10000],
        help="numbers of tiny files, one run each (default: 1000 10000; 100000 takes minutes)",
    )
    parser.add_argument(
        "--content",
        choices=("note", "article"),
        default="note",
        help="note: one line each (rejected too_short); article: ~60 words each",
    )
    parser.add_argument(
        "--bombs",
        type=int,
        nargs="*",
        default=[2, 4],
        metavar="MB",
        help="compressed sizes of the gzip bombs, in MB (default: 2 4; none: no bombs)",
    )
    parser.add_argument(
        "--beam-args", metavar="ARGS", default="", help="extra flags for the pipeline"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    _common.stop_runs_on_sigterm()
    beam_args = _common.split_beam_args(args.beam_args)
    rows: list[list[object]] = []
    failed = False
    with _common.scratch_directory("bench-inputs") as scratch:
        cases: list[tuple[str, Path, str]] = []
        for count in args.counts:
            folder = scratch / f"files-{count}"
            write_tiny_files(folder, count, args.content)
            cases.append((f"files {count} ({args.content})", folder, f"files-{count}"))
        for megabytes in args.bombs:
            folder = scratch / f"bomb-{megabytes}"
            folder.mkdir()
            unpacked = write_bomb(folder / "bomb.html.gz", megabytes * 1_000_000)
            cases.append((f"bomb {megabytes} MB ({unpacked / 2**30:.1f} GiB)", folder, folder.name))
        for label, folder, name in cases:
            output = scratch / f"out-{name}"
            run = _common.run_pipeline([folder], output, scratch, beam_args, sample_tree=True)
            if run.returncode != 0:
                tail = run.stderr.splitlines()[-5:]
                print(f"error: {label} exited with {run.returncode}: {tail}")
                rows.append([label, "-", f"{run.wall_seconds:.1f}", "-", "-", "-", "failed"])
                failed = True
                continue
            counts = manifest_counts(output)
            failed |= not counts["balanced"]
            rows.append(
                [
                    label,
                    counts["inputs"],
                    f"{run.wall_seconds:.1f}",
                    f"{int(counts['inputs']) / run.wall_seconds:.1f}",
                    f"{run.peak_rss_mb:.0f}",
                    f"{run.tree_rss_mb:.0f}",
                    "yes" if counts["balanced"] else "NO",
                ]
            )
            print(
                f"  {label}: {run.wall_seconds:.1f} s, tree RSS {run.tree_rss_mb:.0f} MB, {counts}",
                flush=True,
            )
    print()
    _common.print_table(
        ["corpus", "inputs", "wall s", "docs/s", "peak RSS MB", "tree RSS MB", "balanced"],
        rows,
    )
    return _common.EXIT_FAIL if failed else 0


if __name__ == "__main__":
    sys.exit(main())
