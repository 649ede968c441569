"""Time and peak memory of the default command on a flood of templated items (synthetic).

Reproduce (from the repository root):

    .venv/bin/python benchmarks/bench_templated.py                  # 5,000 and 10,000 records
    .venv/bin/python benchmarks/bench_templated.py --sizes 20000 --limit-gb 8
    .venv/bin/python benchmarks/bench_templated.py --kind briefs --sizes 2000,10000

Price tickers, weather and results tables are short texts from one template that differ in
a number or a name: near enough that every LSH band's bucket holds all of them, not copies
of each other. Each size writes that many JSON-lines records, runs `newsbeam --input DIR
--output OUT` in a subprocess under an address-space limit of `--limit-gb` (a run that
would need more fails instead of swapping the machine), and prints its wall seconds,
docs/s, the peak RSS of its largest process (ru_maxrss of the children) and its counts.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def write_records(folder: Path, count: int) -> None:
    """`count` templated records, one JSON line each."""
    with (folder / "templated.jsonl").open("w") as handle:
        for n in range(count):
            text = (
                f"Port report {n}: the port authority in harbour number {n} reported record "
                f"container traffic for the month of March and expects further growth next year."
            )
            handle.write(json.dumps({"text": text}) + "\n")


_TOWNS = "Leeds York Bristol Cardiff Dundee Exeter Hull Derby Bath Perth Truro Lincoln".split()
_COMPANIES = [f"{name} {kind}" for name in "Acme Globex Initech Umbrella Stark Wayne".split()
              for kind in ("Group", "Corp", "Holdings", "plc")]  # fmt: skip
_JUDGES = "Smith Jones Patel Brown Taylor Wilson Evans Thomas".split()
_DAYS = "Monday Tuesday Wednesday Thursday Friday Saturday Sunday".split()
# One boilerplate paragraph a template: what makes its briefs share most of their shingles.
_BOILERPLATE = {
    "stock": "Market data is delayed by at least fifteen minutes and is provided for "
    "information only. It does not constitute investment advice, and readers should consult "
    "a regulated adviser before making any decision to buy or sell shares.",
    "weather": "Residents are advised to check the latest forecast before travelling, to allow "
    "extra time for journeys, and to follow the advice of local authorities and emergency "
    "services. Further updates will be issued as the situation develops through the day.",
    "quake": "The survey publishes automatic solutions within minutes of an event; magnitudes "
    "and locations may be revised as more stations report. No tsunami warning has been "
    "issued for the region at this time, the agency added.",
    "court": "Listings are provided by the court service and may change at short notice. "
    "Members of the public and the press are welcome to attend hearings unless reporting "
    "restrictions apply to the case being heard.",
}


def brief(rng: random.Random) -> str:
    """One templated wire brief: its facts drawn, its template's boilerplate after them."""
    kind, day, town = rng.choice(sorted(_BOILERPLATE)), rng.choice(_DAYS), rng.choice(_TOWNS)
    lead = {
        "stock": f"{rng.choice(_COMPANIES)} shares rose {rng.randint(1, 99) / 10} per cent to "
        f"{rng.randint(100, 9999) / 100} pounds on {day} after quarterly revenue of "
        f"{rng.randint(10, 999)} million pounds.",
        "weather": f"Weather warning for {town}: heavy rain is expected on {day} "
        f"{rng.randint(1, 28)} June, with up to {rng.randint(5, 90)} millimetres falling.",
        "quake": f"An earthquake of magnitude {rng.randint(20, 79) / 10} struck "
        f"{rng.randint(5, 300)} kilometres north of {town} at a depth of {rng.randint(1, 70)} "
        f"kilometres on {day}, the geological survey said.",
        "court": f"Case {rng.randint(1000, 99999)}: Judge {rng.choice(_JUDGES)} will hear the "
        f"application of {rng.choice(_COMPANIES)} against {town} Council in court "
        f"{rng.randint(1, 12)} on {day} at {rng.randint(9, 16)}:00, the listing said.",
    }[kind]
    return f"{lead} {_BOILERPLATE[kind]}"


def write_briefs(folder: Path, count: int, seed: int = 67) -> None:
    """`count` templated briefs, one JSON line each; 5% are true republished copies of an
    earlier one (a local line added, another site)."""
    rng = random.Random(seed)
    records: list[dict[str, str]] = []
    for n in range(count):
        if records and rng.random() < 0.05:
            original = rng.choice(records)["text"]
            url, text = f"https://local{n % 7}.example/{n}", f"{original} By the local desk."
        else:
            url, text = f"https://wire.example/{n}", brief(rng)
        records.append({"url": url, "text": text})
    with (folder / "templated.jsonl").open("w") as handle:
        handle.writelines(json.dumps(record) + "\n" for record in records)


def run(count: int, limit_gb: float, kind: str = "ports") -> None:
    with tempfile.TemporaryDirectory(prefix="bench-templated-") as scratch:
        folder, output = Path(scratch) / "in", Path(scratch) / "out"
        folder.mkdir()
        (write_briefs if kind == "briefs" else write_records)(folder, count)
        limit = int(limit_gb * 2**30)

        def bounded() -> None:
            resource.setrlimit(resource.RLIMIT_AS, (limit, limit))

        started = time.perf_counter()
        completed = subprocess.run(
            [sys.executable, "-m", "newsbeam.pipeline", "--input", str(folder),
             "--output", str(output)],
            capture_output=True, text=True, preexec_fn=bounded, check=False,
        )  # fmt: skip
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        counts = [line.strip() for line in completed.stdout.splitlines() if "  (" in line]
        status = "ok" if completed.returncode == 0 else f"exit {completed.returncode}"
        print(
            f"{count:>7} records  {seconds:6.1f} s  {count / seconds:7.1f} docs/s  "
            f"peak RSS {peak_mb:7.0f} MB  {status}  {'; '.join(counts[:3])}"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", default="5000,10000")
    parser.add_argument("--limit-gb", type=float, default=8.0)
    parser.add_argument(
        "--kind", choices=("ports", "briefs"), default="ports",
        help="ports: one template, a number apart; briefs: four templates, their facts "
        "drawn, a boilerplate paragraph each, 5%% true copies (review 67)",
    )  # fmt: skip
    parser.add_argument("--one", type=int, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.one is not None:  # one size in a process of its own: peaks do not carry over
        run(args.one, args.limit_gb, args.kind)
        return
    print(f"command: {' '.join(sys.argv)}")
    for size in (int(value) for value in args.sizes.split(",")):
        subprocess.run(
            [
                sys.executable,
                __file__,
                "--one",
                str(size),
                "--limit-gb",
                str(args.limit_gb),
                "--kind",
                args.kind,
            ],
            check=False,
        )


if __name__ == "__main__":
    main()
