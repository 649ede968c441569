"""What each process pays before its first article: the command's imports, the models a
worker loads in DoFn.setup(), the report's first and second render.

Reproduce (from the repository root; each figure from a fresh interpreter, median):

    .venv/bin/python benchmarks/bench_fixed_cost.py --repeats 5 [--report OUTPUT]

- import: `import newsbeam.pipeline.cli` in a subprocess: its wall time, and the process CPU
  after it (interpreter start included);
- places, langdetect, topics: each model loaded through `load_once` (as the DoFns do) in a
  subprocess that has Beam imported, as a worker has;
- report (with `--report OUTPUT`, a folder a run wrote): `write_run_report` of its run twice
  in a subprocess: the first render pays matplotlib's import and first use.

To compare with another checkout, run the same script with PYTHONPATH pointing at a folder
whose `newsbeam/{pipeline,transforms,schemas}` link to that checkout's folders.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys

IMPORT = """
import json, resource, time
start = time.perf_counter()
import newsbeam.pipeline.cli
wall = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({"import": wall, "import_cpu": usage.ru_utime + usage.ru_stime}))
"""

MODELS = """
import json, time
import apache_beam
from newsbeam.transforms.language import load_detector_factory
from newsbeam.transforms.places import PlaceFinder, PlacesConfig
from newsbeam.transforms.support.loaded import load_once
from newsbeam.transforms.topics import TopicsConfig, TopicTagger
seconds = {}
for name, load in [
    ("places", lambda: PlaceFinder(PlacesConfig())),
    ("langdetect", lambda: load_detector_factory(0)),
    ("topics", lambda: TopicTagger(TopicsConfig())),
]:
    start = time.perf_counter()
    load_once(name, 0, load)
    seconds[name] = time.perf_counter() - start
print(json.dumps(seconds))
"""

REPORT = """
import glob, json, os, sys, tempfile
from newsbeam.pipeline import report
base = sys.argv[1]
manifest = json.load(open(sorted(glob.glob(os.path.join(base, "_runs", "*.json")))[-1]))
target = os.path.join(tempfile.mkdtemp(), "report.html")
first = report.write_run_report(base, manifest, target)
second = report.write_run_report(base, manifest, target)
print(json.dumps({"report_first": first, "report_second": second}))
"""


def _figures(code: str, *args: str) -> dict[str, float]:
    done = subprocess.run(
        [sys.executable, "-c", code, *args], capture_output=True, text=True, check=True
    )
    figures: dict[str, float] = json.loads(done.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--report", help="an output folder a run wrote")
    args = parser.parse_args()
    runs: list[dict[str, float]] = []
    for _ in range(args.repeats):
        figures = {**_figures(IMPORT), **_figures(MODELS)}
        if args.report:
            figures.update(_figures(REPORT, args.report))
        runs.append(figures)
    medians = {name: round(statistics.median(r[name] for r in runs), 3) for name in runs[0]}
    print(json.dumps(medians))


if __name__ == "__main__":
    main()
