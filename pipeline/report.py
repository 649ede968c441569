"""The run report: one self-contained HTML page a person opens in a browser.

Not a Beam stage: plain functions over committed runs. Data in (the manifest, the run's
tables read with pyarrow from the files the manifest lists, feed health included) -> summaries
(pure functions, unit-tested) -> charts (matplotlib, static SVG inlined) -> one HTML string
with its CSS inlined and no script: nothing is fetched when it is opened (a
Content-Security-Policy meta tag forbids it, so a stray reference would show as an error).

- `write_run_report(base, manifest, target)`: called by pipeline/run.py before the commit,
  over the run's staged files; the commit puts the page at `ROOT/_runs/<run id>.html`.
- `newsbeam report --output ROOT [--since DATE] [--report FILE]`: the same page over every
  committed run of the dataset ROOT (default `ROOT/report.html`), plus time lines across
  runs (counts per day, rejection rate, feed health). Runs are found by `find_runs` only.

Charts: matplotlib's Agg/SVG backends, imported lazily (about 0.3 s), texts kept as text
(`svg.fonttype: none`: small files, readable and searchable). Each chart has a table of its
numbers beside it. matplotlib draws no world map without shape files to download, so places
are bars. A run's charts are sized from their labels' measured widths (no tight-bbox pass);
bars and the flow are drawn on a bare figure, in points (no Axes: their counts are written).
"""

from __future__ import annotations

import argparse
import collections
import contextlib
import dataclasses
import datetime as dt
import functools
import html
import io
import json
import logging
import os
import re
import statistics
import sys
import time
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Any, NamedTuple

import pyarrow as pa

from newsbeam.pipeline import dataset
from newsbeam.schemas import FEED_HEALTH_TABLE, FEED_HEALTH_TABLE_SCHEMA
from newsbeam.transforms.support import files
from newsbeam.transforms.support.redact import redact_text, redacted

log = logging.getLogger("newsbeam")

REPORT = "report.html"
# Pipeline order of the stages that can reject (pipeline/build.py); others go before dedup.
STAGE_ORDER: tuple[str, ...] = ("read", "feeds", "extract", "clean", "language", "dedup")
STAGE_ORDER += ("stories", "topics", "places", "write")
COLOURS = {
    "articles": "#2f6db5",
    "duplicates": "#e39a2d",
    "rejected": "#c43c35",
    "flow": "#b8cbe4",
    "bar": "#4a7fc1",
    "ok": "#3a8f4b",
    "not_modified": "#8fb8de",
    "error": "#c43c35",
    "other": "#9a9a9a",
}
ARTICLE_COLUMNS = (
    "article_id",
    "source",
    "site",
    "outlet",
    "title",
    "published_at",
    "language",
    "topics",
    "places",
    "story_id",
    "duplicate_count",
)
DUPLICATE_COLUMNS = ("article_id", "source", "canonical_id", "method", "similarity", "outlet")
REJECTED_COLUMNS = ("source", "stage", "reason", "detail")
TOP = 15  # bars per chart
EXAMPLES = 3  # example sources per rejection reason
LARGEST = 10  # rows in the stories and copies tables


# ---------------------------------------------------------------------------------------
# Loading
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass
class Run:
    """One run: its folder, its manifest, its tables (selected columns) and feed health."""

    path: str  # where the run's files are: ROOT, or its staging folder before the commit
    manifest: dict[str, Any]
    articles: pa.Table
    duplicates: pa.Table
    rejected: pa.Table
    feed_health: list[dict[str, Any]]


def parse_since(text: str) -> dt.datetime:
    """`--since`: a date (midnight UTC) or an ISO date-time (UTC when it names no zone)."""
    text = text.strip()
    # Python 3.10's fromisoformat (NewsBeam supports 3.10) refuses the "Z" of UTC times,
    # the form most tools print (`date -u +%FT%TZ`); 3.11 reads it.
    if text[-1:] in ("Z", "z"):
        text = text[:-1] + "+00:00"
    moment = dt.datetime.fromisoformat(text)
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def started_at(manifest: dict[str, Any]) -> dt.datetime:
    moment = dt.datetime.fromisoformat(manifest["started_at"])
    return moment if moment.tzinfo else moment.replace(tzinfo=dt.timezone.utc)


def find_runs(root: str, since: dt.datetime | None = None) -> list[tuple[str, dict[str, Any]]]:
    """The committed runs of the dataset ROOT as (ROOT, manifest), oldest first; runs
    started before `since` are left out (pipeline/dataset.py says what a run is)."""
    found = []
    for manifest in dataset.committed_runs(root):
        if "started_at" not in manifest:
            continue
        if since is not None and started_at(manifest) < since:
            continue
        found.append((root, manifest))
    return sorted(found, key=lambda run: (started_at(run[1]), str(run[1].get("run_id"))))


def _read_table(paths: Sequence[str], columns: Sequence[str]) -> pa.Table:
    tables = []
    for path in paths:
        table = files.read_parquet(path)
        tables.append(table.select([c for c in columns if c in table.column_names]))
    if not tables:
        return pa.table({c: pa.array([], pa.null()) for c in columns})
    table = pa.concat_tables(tables, promote_options="default")
    for column in columns:  # a column an older schema lacked: all null
        if column not in table.column_names:
            table = table.append_column(column, pa.nulls(len(table)))
    return table.select(list(columns))


def load_run(base: str, manifest: dict[str, Any]) -> Run:
    """A run's tables (the report's columns only) and its feed health rows, from the files
    its manifest lists, under `base` (ROOT, or the run's staging folder)."""

    def paths(name: str) -> list[str]:
        return dataset.data_files(base, manifest, name) if name in manifest["tables"] else []

    health = _read_table(paths(FEED_HEALTH_TABLE), FEED_HEALTH_TABLE_SCHEMA.names)
    return Run(
        path=base,
        manifest=manifest,
        articles=_read_table(paths("articles"), ARTICLE_COLUMNS),
        duplicates=_read_table(paths("duplicates"), DUPLICATE_COLUMNS),
        rejected=_read_table(paths("rejected"), REJECTED_COLUMNS),
        feed_health=health.to_pylist(),
    )


# ---------------------------------------------------------------------------------------
# Summaries (pure)
# ---------------------------------------------------------------------------------------


@dataclasses.dataclass(frozen=True)
class FlowStep:
    """Documents reaching a stage, and what left the flow there."""

    stage: str
    entering: int
    rejected: int
    duplicates: int

    @property
    def leaving(self) -> int:
        return self.entering - self.rejected - self.duplicates


def stage_key(stage: str) -> tuple[int, str]:
    """Pipeline order; a stage this report does not know sorts just before dedup."""
    if stage in STAGE_ORDER:
        return (STAGE_ORDER.index(stage) * 2, stage)
    return (STAGE_ORDER.index("dedup") * 2 - 1, stage)


# Always shown in the flow; other stages only when they rejected something.
FLOW_STAGES = ("read", "extract", "clean", "language", "dedup")


def flow_steps(counts: dict[str, Any]) -> list[FlowStep]:
    """inputs -> read, extract, clean, language, dedup and any other stage that rejected
    something -> articles, from the manifest's counts. The last step's `leaving` is what
    is left when no record was lost."""
    rejected_by = {stage: sum(r.values()) for stage, r in counts.get("rejected_by", {}).items()}
    stages = sorted(set(rejected_by) | set(FLOW_STAGES), key=stage_key)
    steps, remaining = [], int(counts.get("inputs", 0))
    for stage in stages:
        dropped = rejected_by.get(stage, 0)
        copies = int(counts.get("duplicates", 0)) if stage == "dedup" else 0
        steps.append(FlowStep(stage, remaining, dropped, copies))
        remaining -= dropped + copies
    return steps


def conservation(counts: dict[str, Any]) -> tuple[bool, str]:
    """Whether inputs = articles + duplicates + rejected, as a sentence."""
    inputs, articles = int(counts.get("inputs", 0)), int(counts.get("articles", 0))
    duplicates, rejected = int(counts.get("duplicates", 0)), int(counts.get("rejected", 0))
    total = articles + duplicates + rejected
    sentence = f"inputs {inputs:,} = articles {articles:,} + duplicates {duplicates:,} + "
    sentence += f"rejected {rejected:,}"
    if inputs == total:
        return True, sentence + ": every input is accounted for."
    return False, sentence.replace(" = ", " != ") + f" ({total:,}): {inputs - total:+,} missing."


def add_counts(manifests: Iterable[dict[str, Any]]) -> dict[str, Any]:
    """The counts of several runs added up (one run's counts as they are)."""
    total: dict[str, Any] = {"inputs": 0, "articles": 0, "duplicates": 0, "rejected": 0}
    by: dict[str, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for manifest in manifests:
        counts = manifest["counts"]
        for key in ("inputs", "articles", "duplicates", "rejected"):
            total[key] += int(counts.get(key, 0))
        for stage, reasons in counts.get("rejected_by", {}).items():
            by[stage].update(reasons)
    total["rejected_by"] = {s: dict(sorted(r.items())) for s, r in sorted(by.items())}
    return total


@dataclasses.dataclass(frozen=True)
class Rejection:
    stage: str
    reason: str
    count: int
    examples: tuple[str, ...]  # a few sources, with the first one's detail
    detail: str


def short_source(source: str | None) -> str:
    """A source as a person reads it: a URL as it is, a path's last two parts."""
    if not source:
        return ""
    if "://" in source:
        return source
    parts = source.replace("\\", "/").rstrip("/").split("/")
    return "/".join(parts[-2:])


def rejections(rejected: pa.Table, examples: int = EXAMPLES) -> list[Rejection]:
    """Rejected rows by (stage, reason), most first, with a few example sources each."""
    groups: dict[tuple[str, str], list[tuple[str, str]]] = collections.defaultdict(list)
    for row in rejected.select(["source", "stage", "reason", "detail"]).to_pylist():
        groups[(row["stage"], row["reason"])].append((row["source"] or "", row["detail"] or ""))
    out = []
    for (stage, reason), rows in groups.items():
        rows.sort()
        out.append(
            Rejection(
                stage,
                reason,
                len(rows),
                tuple(short_source(s) for s, _ in rows[:examples]),
                rows[0][1],
            )
        )
    return sorted(out, key=lambda r: (-r.count, stage_key(r.stage), r.reason))


def value_counts(values: Iterable[Any]) -> list[tuple[str, int]]:
    """Counts of the values (lists are flattened, each value once per row), most first."""
    counter: collections.Counter[str] = collections.Counter()
    for value in values:
        if isinstance(value, list):
            counter.update({v for v in value if v})
        else:
            counter[value if value else "unknown"] += 1
    return sorted(counter.items(), key=lambda kv: (-kv[1], kv[0]))


NO_OUTLET = "(no URL)"


def outlets(articles: pa.Table, duplicates: pa.Table) -> list[tuple[str, int, int]]:
    """(outlet, articles, copies) by the rows' `outlet` (the registrable domain of their own
    URL, the key stages.md says to count outlets by; `site` names one outlet in many ways),
    most rows first (then most articles). Copies count for the outlet that ran them; rows
    without a URL are one line, NO_OUTLET."""
    kept = collections.Counter(o or NO_OUTLET for o in articles.column("outlet").to_pylist())
    copies = collections.Counter(o or NO_OUTLET for o in duplicates.column("outlet").to_pylist())
    rows = [(name, kept[name], copies[name]) for name in set(kept) | set(copies)]
    return sorted(rows, key=lambda row: (-(row[1] + row[2]), -row[1], row[0]))


def topic_label(qcode: str, taxonomy: dict[str, Any]) -> str:
    concept = taxonomy.get(qcode)
    name = concept.names.get("en") if concept is not None else None
    return name or qcode


def place_label(code: str) -> str:
    import pycountry  # a runtime dependency already (places stage)

    country = pycountry.countries.get(alpha_2=code)
    return getattr(country, "name", code) if country is not None else code


def per_day(published: Iterable[dt.datetime | None]) -> tuple[list[tuple[dt.date, int]], int]:
    """Articles per publication day (UTC), in date order, and how many have no date."""
    counter: collections.Counter[dt.date] = collections.Counter()
    unknown = 0
    for moment in published:
        if moment is None:
            unknown += 1
        else:
            counter[moment.astimezone(dt.timezone.utc).date()] += 1
    return sorted(counter.items()), unknown


@dataclasses.dataclass(frozen=True)
class Story:
    story_id: str
    headline: str
    articles: int
    sources: tuple[str, ...]


def _name(row: dict[str, Any]) -> str:
    return row.get("site") or short_source(row.get("source"))


def largest_stories(articles: pa.Table, top: int = LARGEST) -> list[Story]:
    """Stories with the most articles (at least two); the headline is the earliest
    member's title (the story id is the earliest member's article id)."""
    groups: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in articles.to_pylist():
        if row["story_id"]:
            groups[row["story_id"]].append(row)
    stories = []
    for story_id, rows in groups.items():
        if len(rows) < 2:
            continue
        rows.sort(key=lambda r: (r["article_id"] != story_id, r["article_id"]))
        headline = next((r["title"] for r in rows if r["title"]), "") or "(no title)"
        sources = tuple(sorted({_name(r) for r in rows}))
        stories.append(Story(story_id, headline, len(rows), sources))
    return sorted(stories, key=lambda s: (-s.articles, s.story_id))[:top]


@dataclasses.dataclass(frozen=True)
class CopySet:
    canonical_id: str
    headline: str
    canonical_source: str
    copies: int
    methods: tuple[str, ...]
    sources: tuple[str, ...]


def largest_copy_sets(
    articles: pa.Table, duplicates: pa.Table, top: int = LARGEST
) -> list[CopySet]:
    """Canonical articles with the most copies in the duplicates table."""
    kept = {row["article_id"]: row for row in articles.to_pylist()}
    groups: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    for row in duplicates.to_pylist():
        groups[row["canonical_id"]].append(row)
    sets = []
    for canonical_id, rows in groups.items():
        article = kept.get(canonical_id, {})
        # A canonical of an earlier run: its id where its headline would be (to look it up);
        # the source column was that id, under a header that said "source" (review 83).
        earlier = f"(an earlier run's article {canonical_id})"
        sets.append(
            CopySet(
                canonical_id,
                article.get("title") or ("" if article else earlier),
                _name(article) if article else "",
                len(rows),
                tuple(sorted({r["method"] for r in rows})),
                tuple(sorted({short_source(r["source"]) for r in rows})),
            )
        )
    return sorted(sets, key=lambda s: (-s.copies, s.canonical_id))[:top]


FAILING = ("error", "partial")


def feed_rows(health: Iterable[dict[str, Any]]) -> list[dict[str, Any]]:
    """Feed health rows, failing feeds first (then partial, then by URL)."""
    order = {"error": 0, "partial": 1}
    return sorted(health, key=lambda r: (order.get(r["status"], 2), r["feed_url"]))


def feed_polls(health: Iterable[dict[str, Any]]) -> dict[str, tuple[int, int]]:
    """Per feed, its polls in the rows and how many failed (status error): a dataset's
    table shows each feed's latest poll, and a feed that failed every morning but today
    looked like one that never failed (review 83)."""
    polls: dict[str, list[int]] = collections.defaultdict(lambda: [0, 0])
    for row in health:
        polls[row["feed_url"]][0] += 1
        polls[row["feed_url"]][1] += row["status"] == "error"
    return {url: (n, failed) for url, (n, failed) in polls.items()}


def _status_group(status: str) -> str:
    if status in ("ok", "partial"):
        return "ok"
    if status in ("not_modified", "unchanged"):
        return "not_modified"
    return "error" if status == "error" else "other"


def run_problems(manifest: dict[str, Any], health: Iterable[dict[str, Any]]) -> list[str]:
    """What a reader of a committed run must not miss, as sentences (none: a clean run):
    more rejected than --fail_on_rejected (the run exited 3, its tables written), feeds
    that failed or parsed in part, inputs unaccounted for. A failed run commits nothing:
    its record (pipeline/failed_runs.py) is shown by the next run's report (`_header`) and
    by `newsbeam report` (`_failed_section`)."""
    problems = []
    counts = manifest.get("counts", {})
    limit = (manifest.get("options") or {}).get("fail_on_rejected")
    share = dataset.rejected_over_limit(counts, limit)
    if share is not None:
        problems.append(
            f"{share:.1%} of the inputs were rejected, more than --fail_on_rejected "
            f"{limit:g}: the run exited 3 (its tables were written)"
        )
    statuses = collections.Counter(row["status"] for row in health)
    polled = sum(statuses.values())
    if statuses["error"]:
        problems.append(f"{statuses['error']:,} of {polled:,} feeds failed")
    if statuses["partial"]:
        problems.append(f"{statuses['partial']:,} of {polled:,} feeds were read in part")
    if counts and not conservation(counts)[0]:
        problems.append("not every input is accounted for (see Flow)")
    return problems


def daily_counts(manifests: Iterable[dict[str, Any]]) -> list[tuple[dt.date, dict[str, int]]]:
    """Per day the runs started (UTC): articles, duplicates, rejected and inputs added up."""
    days: dict[dt.date, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for manifest in manifests:
        day = started_at(manifest).astimezone(dt.timezone.utc).date()
        for key in ("inputs", "articles", "duplicates", "rejected"):
            days[day][key] += int(manifest["counts"].get(key, 0))
    return [(day, dict(days[day])) for day in sorted(days)]


# ---------------------------------------------------------------------------------------
# Charts (matplotlib -> SVG)
# ---------------------------------------------------------------------------------------


def _figure(width: float, height: float) -> Any:
    import matplotlib

    matplotlib.use("Agg", force=False)  # no display: never a GUI backend
    _import_figure()
    from matplotlib.figure import Figure

    return Figure(figsize=(width, height), dpi=72)


def preload() -> None:
    """Import and warm up what the report needs (matplotlib, its SVG backend, the font
    cache, the IPTC names, pycountry) by drawing tiny charts: the report process
    (pipeline/report_process.py) as it starts, or run.py's thread where there is none. A
    failure here is left to the report itself to say."""
    with contextlib.suppress(Exception):
        bars_svg("preload", [("preload", 1)], "")
        flow_svg(flow_steps({"inputs": 1, "articles": 1}), {"inputs": 1, "articles": 1})
        timeline_svg("preload", [(dt.date(2026, 1, 1), 1)], "")
        _taxonomy()
        place_label("US")  # pycountry: imported by the places stage in the workers only


def _import_figure() -> None:
    """Import matplotlib.figure without the property lists it writes into the docstring of
    each Artist class's set() (matplotlib.artist.kwdoc: 0.07 s of its 0.35 s, for text a
    report never shows); the charts are the same."""
    if "matplotlib.figure" in sys.modules:
        return
    import matplotlib.artist

    kwdoc = matplotlib.artist.kwdoc
    matplotlib.artist.kwdoc = lambda artist: ""
    try:
        import matplotlib.figure  # noqa: F401
    finally:
        matplotlib.artist.kwdoc = kwdoc


_RC: Any = {  # matplotlib types rc keys as literals: a plain dict here
    "svg.fonttype": "none",  # text as text: small, sharp, searchable
    "font.family": "sans-serif",
    "font.sans-serif": ["DejaVu Sans", "Arial", "Helvetica"],
    "font.size": 10,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.edgecolor": "#777777",
    "xtick.color": "#444444",
    "ytick.color": "#444444",
}


def _svg(figure: Any, name: str, label: str, tight: bool = False) -> str:
    """The figure as an inline SVG element that scales with its box. The run report's charts
    are sized to fit their labels (`_fit`); `tight` crops to what was drawn instead."""
    import matplotlib

    # Clip-path ids are hashes salted per chart, so several SVGs in one page never share an
    # id (url(#id) would resolve to the first); fixed salts keep the output deterministic.
    with matplotlib.rc_context({**_RC, "svg.hashsalt": f"newsbeam-{name}"}):
        buffer = io.StringIO()
        figure.savefig(
            buffer,
            format="svg",
            bbox_inches=_tight_box(figure) if tight else None,  # long labels widen, never cut
            metadata={"Date": None, "Creator": None},
        )
    svg = buffer.getvalue()
    svg = svg[svg.index("<svg") :]
    # Natural size (points), shrunk to fit a narrow screen by the CSS (max-width: 100%).
    svg = svg.replace(
        "<svg ", f'<svg role="img" aria-label="{html.escape(label)}" class="chart" ', 1
    )
    svg = re.sub(r"<metadata>.*?</metadata>\s*", "", svg, flags=re.S)
    for reference in ('id="', 'href="#', "url(#"):  # ids unique in the page, refs kept
        svg = svg.replace(reference, f"{reference}{name}-")
    return svg


def _tight_box(figure: Any, pad_inches: float = 0.05) -> Any:
    """The box around everything drawn, as `bbox_inches="tight"` finds it, measured with
    the SVG renderer's own text metrics but without the full draw that "tight" makes
    savefig do first."""
    from matplotlib.backends.backend_svg import RendererSVG

    width, height = figure.get_size_inches() * figure.dpi
    renderer = RendererSVG(width, height, io.StringIO(), image_dpi=figure.dpi)
    return figure.get_tightbbox(renderer).padded(pad_inches)


# The run report's charts are laid out in points (1/72 in, the figures' dpi) from their
# labels' measured sizes: no tight-bbox pass (a layout of every artist before the draw,
# measuring each text twice), and no label cut off.
EDGE = 4.0  # white around a chart's contents
GAP = 4.0  # between a bar's end and its count, a row's name and its bar
TICK_SPACE = 7.0  # a tick and its label's pad (rc xtick/ytick.major.size + pad: 3.5 + 3.5)
LABEL_PAD = 4.0  # between the tick labels and the axis label (rc axes.labelpad)
TICK_FONT = 10.0  # rc font.size: tick labels, axis labels
SMALL_FONT = 9.0  # counts on bars, bar names, the flow's stage names
LEGEND_FONT = 8.0


class Margins(NamedTuple):
    """Room around a chart's plot area, in points."""

    left: float
    right: float
    top: float
    bottom: float


@functools.lru_cache(maxsize=4096)
def _text_size(text: str, size: float) -> tuple[float, float]:
    """Width and height (points) of one line of text in the charts' font, measured as the
    SVG renderer measures it (matplotlib's text-to-path metrics); the height is at least
    a full line's ("lp": ascender to descender), as matplotlib lays a line out."""
    from matplotlib.font_manager import FontProperties
    from matplotlib.textpath import text_to_path

    font = FontProperties(family=_RC["font.family"], size=size)
    width, height, _ = text_to_path.get_text_width_height_descent(text, font, ismath=False)
    if text == "lp":
        return width, height
    return width, max(height, _text_size("lp", size)[1])


def _widest(texts: Iterable[str], size: float) -> float:
    return max((_text_size(text, size)[0] for text in texts), default=0.0)


def _line(size: float) -> float:
    return _text_size("lp", size)[1]


def _chart(plot_width: float, plot_height: float) -> tuple[Any, Any]:
    """A figure and its one axes; `_fit` puts the margins around the plot area later."""
    figure = _figure(plot_width / 72, plot_height / 72)
    return figure, figure.add_axes((0.0, 0.0, 1.0, 1.0))


def _fit(figure: Any, axes: Any, plot: tuple[float, float], margins: Margins) -> None:
    """Size the figure to the plot area (points) and its margins."""
    width = margins.left + plot[0] + margins.right
    height = margins.bottom + plot[1] + margins.top
    figure.set_size_inches(width / 72, height / 72)
    axes.set_position(
        (margins.left / width, margins.bottom / height, plot[0] / width, plot[1] / height)
    )


def _boxes(
    centres: Sequence[float], bottoms: Sequence[float], heights: Sequence[float], width: float
) -> list[list[tuple[float, float]]]:
    """Upright rectangles (columns) as polygons, one per centre."""
    half = width / 2
    return [
        [(x - half, y), (x + half, y), (x + half, y + h), (x - half, y + h)]
        for x, y, h in zip(centres, bottoms, heights, strict=True)
    ]


def _columns(axes: Any, boxes: Sequence[Any], colour: str | Sequence[str], label: str = "") -> Any:
    """Bars as one collection of polygons: one artist for all of them, not a Rectangle
    each (axes.bar), which cost about a third of a chart."""
    from matplotlib.collections import PolyCollection

    columns = PolyCollection(boxes, facecolors=colour, linewidths=0, label=label)
    axes.add_collection(columns, autolim=False)
    return columns


def _count_axis(axes: Any, top: float, label: str) -> float:
    """A y axis of counts from 0 to `top`: a few whole-number ticks (no 0.25 articles) with
    thousands separators; returns the room (points) it takes left of the plot."""
    from matplotlib.ticker import MaxNLocator

    ticks = [t for t in MaxNLocator(nbins=5, integer=True).tick_values(0, top) if 0 <= t <= top]
    texts = [f"{int(t):,}" for t in ticks]
    axes.set_ylim(0, top)
    axes.set_yticks(ticks, texts)
    axes.set_ylabel(label)
    return EDGE + _line(TICK_FONT) + LABEL_PAD + _widest(texts, TICK_FONT) + TICK_SPACE


def _x_overhang(axes: Any, plot_width: float, size: float) -> tuple[float, float]:
    """How far (points) the x tick labels, centred on their ticks, reach past the plot's
    left and right ends; the axis's own locator and formatter say which labels."""
    low, high = axes.get_xlim()
    ticks = [t for t in axes.xaxis.get_major_locator()() if low <= t <= high]
    texts = axes.xaxis.get_major_formatter().format_ticks(ticks)
    left = right = 0.0
    for tick, text in zip(ticks, texts, strict=True):
        at = (tick - low) / (high - low) * plot_width
        half = _text_size(text, size)[0] / 2
        left, right = max(left, half - at), max(right, at + half - plot_width)
    return left, right


def _with_rc(draw: Any) -> Any:
    def wrapped(*args: Any, **kwargs: Any) -> Any:
        import matplotlib

        with matplotlib.rc_context(_RC):
            return draw(*args, **kwargs)

    return wrapped


def flow_svg(steps: Sequence[FlowStep], counts: dict[str, Any]) -> str:
    """Stacked bars joined by bands: what reaches each stage, what leaves the flow there;
    the last bar is the outcome, the three tables."""
    figure = flow_figure(steps, counts)
    return _svg(figure, "flow", "documents reaching each stage, and where they left")


@_with_rc
def flow_figure(steps: Sequence[FlowStep], counts: dict[str, Any]) -> Any:
    """The flow's columns on a bare figure, in points, each with its total on top: no axes
    (their count ticks would repeat the totals; an Axes and its ticks cost more than the
    rest of the chart)."""
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.transforms import IdentityTransform

    names = ["inputs"] + [_clip(s.stage, 16) for s in steps] + ["tables"]
    inputs = int(counts.get("inputs", 0))
    kept = [inputs] + [s.leaving for s in steps] + [int(counts.get("articles", 0))]
    dropped = [0] + [s.rejected for s in steps] + [int(counts.get("rejected", 0))]
    copies = [0] + [s.duplicates for s in steps] + [int(counts.get("duplicates", 0))]
    series = [
        ("going on / articles", COLOURS["articles"], kept),
        ("duplicates", COLOURS["duplicates"], copies),
        ("rejected", COLOURS["rejected"], dropped),
    ]
    # A place per stage, wide enough for its name: names never overlap nor stick out.
    pitch = max(45.0, _widest(names, SMALL_FONT) + 6)
    legend_width = sum(_text_size(text, LEGEND_FONT)[0] + 2.8 * LEGEND_FONT for text, *_ in series)
    legend_width += (2 * 2.0 + 2 * 0.4) * LEGEND_FONT  # column spacing, border padding (rc)
    legend_height = _line(LEGEND_FONT) + (2 * 0.4 + 0.5) * LEGEND_FONT  # rc border pads
    width = 2 * EDGE + max(pitch * len(names), legend_width)
    base = EDGE + legend_height + 2 + _line(SMALL_FONT) + GAP  # the columns' foot
    height = base + FLOW_HEIGHT + 2 + _line(SMALL_FONT) + EDGE
    figure = _figure(width / 72, height / 72)
    points = IdentityTransform()  # the figures' dpi is 72: a pixel is a point
    first = (width - pitch * (len(names) - 1)) / 2  # the first column's centre
    centres = [first + pitch * i for i in range(len(names))]
    totals = [k + c + d for k, c, d in zip(kept, copies, dropped, strict=True)]
    scale = FLOW_HEIGHT / max(totals + [1])
    half = 12.5  # half a column
    bands = [  # what goes on to the next stage
        [(x + half, base), (x + pitch - half, base), (x + pitch - half, y), (x + half, y)]
        for x, y in zip(centres[:-1], [base + k * scale for k in kept[:-1]], strict=True)
    ]
    figure.add_artist(PolyCollection(bands, facecolors=COLOURS["flow"], transform=points))
    bottoms = [base] * len(names)
    handles = []
    for label, colour, counted in series:
        tops = [b + n * scale for b, n in zip(bottoms, counted, strict=True)]
        boxes = [
            [(x - half, b), (x + half, b), (x + half, t), (x - half, t)]
            for x, b, t in zip(centres, bottoms, tops, strict=True)
        ]
        handles.append(PolyCollection(boxes, facecolors=colour, label=label, transform=points))
        figure.add_artist(handles[-1])
        bottoms = tops
    figure.add_artist(  # the line the columns stand on
        Line2D(
            [EDGE, width - EDGE],
            [base, base],
            transform=points,
            color=_RC["axes.edgecolor"],
            linewidth=0.8,
        )
    )
    for x, name, top, total in zip(centres, names, bottoms, totals, strict=True):
        figure.text(
            x, base - GAP, name, ha="center", va="top", fontsize=SMALL_FONT, transform=points
        )
        figure.text(
            x,
            top + 2,
            f"{total:,}",
            ha="center",
            va="bottom",
            fontsize=SMALL_FONT,
            transform=points,
        )
    figure.legend(  # in a row below the stage names
        handles=handles,
        loc="lower center",
        bbox_to_anchor=(0.5, 0),
        frameon=False,
        fontsize=LEGEND_FONT,
        ncols=3,
    )
    return figure


FLOW_HEIGHT = 140.0  # points: the tallest column


def bars_svg(
    name: str, items: Sequence[tuple[str, int]], label: str, colour: str | Sequence[str] = ""
) -> str:
    """Horizontal bars, the largest on top, counts at their ends ("" for no items)."""
    items = list(items)[:TOP]
    return _svg(bars_figure(items, colour), name, label) if items else ""


@_with_rc
def bars_figure(items: Sequence[tuple[str, int]], colour: str | Sequence[str] = "") -> Any:
    """The first TOP items' bars. No axes: no scale to read (the counts are written), and
    an Axes, its spines and ticks cost more than the bars, names and counts drawn straight
    on the figure, in points."""
    from matplotlib.collections import PolyCollection
    from matplotlib.lines import Line2D
    from matplotlib.transforms import IdentityTransform

    items = list(items)[:TOP]
    names = [_clip(text, 30) for text, _ in items]
    numbers = [f"{value:,}" for _, value in items]
    colours = [colour] * len(items) if isinstance(colour, str) else list(colour)[: len(items)]
    colours = [c or COLOURS["bar"] for c in colours]
    start = EDGE + _widest(names, SMALL_FONT) + GAP  # where the bars start
    width = start + BAR_LENGTH + GAP / 2 + _widest(numbers, SMALL_FONT) + EDGE
    height = 2 * EDGE + BAR_ROW * (len(items) + 0.2)
    figure = _figure(width / 72, height / 72)
    points = IdentityTransform()  # the figures' dpi is 72: a pixel is a point
    most = max([value for _, value in items] + [1])
    lengths = [BAR_LENGTH * value / most for _, value in items]
    middles = [height - EDGE - BAR_ROW * (row + 0.6) for row in range(len(items))]
    half = BAR_ROW * 0.35
    boxes = [
        [(start, y - half), (start + n, y - half), (start + n, y + half), (start, y + half)]
        for y, n in zip(middles, lengths, strict=True)
    ]
    figure.add_artist(PolyCollection(boxes, facecolors=colours, linewidths=0, transform=points))
    figure.add_artist(  # the axis line the bars stand on
        Line2D(
            [start, start],
            [EDGE, height - EDGE],
            transform=points,
            color=_RC["axes.edgecolor"],
            linewidth=0.8,  # rc axes.linewidth, as the other charts' axes
        )
    )
    for y, n, text, number in zip(middles, lengths, names, numbers, strict=True):
        figure.text(
            start - GAP, y, text, ha="right", va="center", fontsize=SMALL_FONT, transform=points
        )
        figure.text(
            start + n + GAP / 2, y, number, va="center", fontsize=SMALL_FONT, transform=points
        )
    return figure


BAR_LENGTH = 170.0  # points: the longest bar
BAR_ROW = 18.7  # points per bar


def by_month(days: Sequence[tuple[dt.date, int]]) -> list[tuple[dt.date, int]]:
    """Day counts added up per month (dated on the 1st)."""
    months: collections.Counter[dt.date] = collections.Counter()
    for day, n in days:
        months[day.replace(day=1)] += n
    return sorted(months.items())


MAX_DAILY_SPAN = 92  # days; a longer time line is drawn per month


def timeline_svg(name: str, days: Sequence[tuple[dt.date, int]], label: str) -> str:
    """Articles per publication day (per month over a long span) over a date axis ("" for
    no dates). Days matplotlib cannot place (a placeholder's year 1 or 9999, kept by an
    older NewsBeam) are left out of the chart; the table beside it lists them."""
    drawable = [(day, n) for day, n in days if 1 < day.year < 9999]
    return _svg(timeline_figure(drawable), name, label) if drawable else ""


@_with_rc
def timeline_figure(days: Sequence[tuple[dt.date, int]]) -> Any:
    import matplotlib.dates as mdates

    plot = (330.0, 120.0)
    figure, axes = _chart(*plot)
    first, last = days[0][0], days[-1][0]
    span = (last - first).days + 1
    width = 0.8
    if span > MAX_DAILY_SPAN:
        days, width = by_month(days), 25.0
    axes.xaxis_date()
    at = mdates.date2num([d for d, _ in days])
    counts = [n for _, n in days]
    _columns(axes, _boxes(at, [0] * len(days), counts, width), COLOURS["articles"])
    if span < 14:  # a few days: a fortnight's axis, so a bar looks like a day
        pad = (14 - span) // 2 + 1  # in days, as numbers: year 1 or 9999 has no date beyond
        axes.set_xlim(at[0] - pad, at[-1] + pad)
    else:  # matplotlib's default margins: 5 % of the span on each side
        low, high = at[0] - width / 2, at[-1] + width / 2
        axes.set_xlim(low - (high - low) * 0.05, high + (high - low) * 0.05)
    locator = mdates.AutoDateLocator(minticks=3, maxticks=7)
    formatter = mdates.ConciseDateFormatter(locator)
    axes.xaxis.set_major_locator(locator)
    axes.xaxis.set_major_formatter(formatter)
    left = _count_axis(axes, max(counts) * 1.05, "articles")
    reach_left, reach_right = _x_overhang(axes, plot[0], TICK_FONT)
    bottom = EDGE + TICK_SPACE + _line(TICK_FONT)
    if formatter.get_offset():  # the year (and month) under the last tick label
        bottom += 3 + _line(TICK_FONT)
    margins = Margins(max(left, EDGE + reach_left), EDGE + reach_right, EDGE + 6, bottom)
    _fit(figure, axes, plot, margins)
    return figure


@_with_rc
def stacked_svg(
    name: str,
    labels: Sequence[str],
    series: Sequence[tuple[str, Sequence[float], str]],
    label: str,
    ylabel: str,
) -> str:
    """Stacked columns, one per label (a day, a run), one colour per series."""
    figure = _figure(5.2, 2.5)
    axes = figure.add_axes((0.09, 0.24, 0.89, 0.64))
    x = list(range(len(labels)))
    bottom = [0.0] * len(labels)
    for series_name, values, colour in series:
        axes.bar(x, values, 0.6, bottom=bottom, color=colour, label=series_name)
        bottom = [b + v for b, v in zip(bottom, values, strict=True)]
    axes.set_xlim(-0.7, max(len(labels), 6) - 0.3)  # a few columns stay column-wide
    step = max(1, len(labels) // 8)
    axes.set_xticks(x[::step], [labels[i] for i in x[::step]], fontsize=8, rotation=30, ha="right")
    _whole_numbers(axes)
    axes.set_ylabel(ylabel)
    axes.legend(loc="upper left", bbox_to_anchor=(0, 1.18), frameon=False, ncols=4, fontsize=8)
    return _svg(figure, name, label, tight=True)  # a dataset report's: not a run's tail


@_with_rc
def line_svg(name: str, labels: Sequence[str], values: Sequence[float], label: str) -> str:
    """A share over runs, in percent."""
    figure = _figure(5.2, 2.3)
    axes = figure.add_axes((0.09, 0.2, 0.89, 0.72))
    x = list(range(len(labels)))
    axes.plot(x, [v * 100 for v in values], marker="o", color=COLOURS["rejected"])
    axes.set_xlim(-0.5, max(len(labels), 2) - 0.5)
    step = max(1, len(labels) // 8)
    axes.set_xticks(x[::step], [labels[i] for i in x[::step]], fontsize=8, rotation=30, ha="right")
    axes.set_ylim(0, max([v * 100 for v in values] + [1]) * 1.2)
    axes.set_ylabel("% rejected")
    return _svg(figure, name, label, tight=True)


def _whole_numbers(axes: Any) -> None:
    from matplotlib.ticker import MaxNLocator

    axes.yaxis.set_major_locator(MaxNLocator(integer=True))  # counts: no 0.25 articles


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "\u2026"


# ---------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------

CSS = """
:root{--ink:#1d2330;--muted:#5b6475;--line:#dde1e8;--bg:#fff;--soft:#f5f7fa}
*{box-sizing:border-box}
body{margin:0;font:15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;
color:var(--ink);background:var(--bg)}
main{max-width:1100px;margin:0 auto;padding:1rem}
h1{font-size:1.5rem;margin:.2rem 0}
h2{font-size:1.2rem;margin:2rem 0 .5rem;border-bottom:2px solid var(--line);padding-bottom:.2rem}
h3{font-size:1rem;margin:1rem 0 .3rem}
.meta{color:var(--muted);margin:0 0 1rem}
.tiles{display:grid;grid-template-columns:repeat(auto-fit,minmax(9rem,1fr));gap:.6rem}
.tile{background:var(--soft);border-radius:6px;padding:.6rem .8rem;border-left:5px solid #999}
.tile b{display:block;font-size:1.5rem}
.tile.articles{border-color:#2f6db5}.tile.duplicates{border-color:#e39a2d}
.tile.rejected{border-color:#c43c35}.tile.inputs{border-color:#555}
.check{padding:.5rem .8rem;border-radius:6px;margin:.8rem 0}
.check.ok{background:#e6f4ea}.check.bad{background:#fde8e7;font-weight:bold}
.pair{display:grid;grid-template-columns:minmax(0,3fr) minmax(0,2fr);gap:1rem;align-items:start}
@media (max-width:760px){.pair{grid-template-columns:minmax(0,1fr)}}
svg.chart{max-width:100%;height:auto;display:block}
figure{margin:0}
figure.alone{max-width:720px}
figcaption{color:var(--muted);font-size:.85rem}
.scroll{overflow-x:auto}
table{border-collapse:collapse;width:100%;font-size:.85rem}
th,td{text-align:left;padding:.25rem .4rem;border-bottom:1px solid var(--line);vertical-align:top}
td.n,th.n{text-align:right;font-variant-numeric:tabular-nums;white-space:nowrap}
td{overflow-wrap:anywhere}td.src{word-break:break-all}
tr.failing td{background:#fde8e7}
details{margin:.6rem 0}
summary{cursor:pointer;font-weight:600}
pre{background:var(--soft);padding:.6rem;overflow-x:auto;font-size:.8rem}
.note{color:var(--muted);font-size:.85rem}
"""

# Nothing may be fetched: no script, no network; inline styles and data: images only.
# default-src does not cover where links resolve, where forms post or the page's own
# framing: a <base> or <form> slipped into a report is inert too (defence in depth: every
# value from input is escaped).
CSP = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src data:; base-uri 'none'; "
    "form-action 'none'"
)
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="Content-Security-Policy" content="{csp}">
<meta name="generator" content="NewsBeam {version}">
<title>{title}</title>
<style>{css}</style>
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""


def _e(value: Any) -> str:
    # A URL's user:password@ is dropped wherever the page shows one: rows and manifests
    # written before review 65 kept them (NewsBeam drops them where URLs come in now).
    return html.escape(redact_text(str(value)), quote=True)


def _n(value: int | float) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.2f}"


def html_table(
    table_id: str,
    header: Sequence[str],
    rows: Iterable[Sequence[Any]],
    numeric: Sequence[int] = (),
    row_class: Sequence[str] | None = None,
    source_columns: Sequence[int] = (),
    numeric_text: Sequence[int] = (),
) -> str:
    """A plain table; `numeric` columns are right-aligned and formatted with separators,
    `numeric_text` ones (figures already written out: "12.5%") right-aligned as they are."""
    head = "".join(
        f'<th scope="col"{" class=n" if i in numeric or i in numeric_text else ""}>{_e(h)}</th>'
        for i, h in enumerate(header)
    )
    body = []
    for r, row in enumerate(rows):
        cells = []
        for i, value in enumerate(row):
            if i in numeric:
                cells.append(f'<td class="n">{_n(value)}</td>')
            elif i in numeric_text:
                cells.append(f'<td class="n">{_e(value)}</td>')
            elif i in source_columns:
                cells.append(f'<td class="src">{_e(value)}</td>')
            else:
                cells.append(f"<td>{_e(value)}</td>")
        css = f' class="{row_class[r]}"' if row_class and row_class[r] else ""
        body.append(f"<tr{css}>{''.join(cells)}</tr>")
    if not body:
        body.append(f'<tr><td colspan="{len(header)}">none</td></tr>')
    return (
        f'<div class="scroll"><table id="{table_id}"><thead><tr>{head}</tr></thead>'
        f"<tbody>{''.join(body)}</tbody></table></div>"
    )


def top_table(
    table_id: str, header: Sequence[str], rows: Sequence[Sequence[Any]], numeric: Sequence[int]
) -> str:
    """The first TOP rows (as charted), and all of them folded when there are more."""
    table = html_table(table_id, header, rows[:TOP], numeric)
    if len(rows) > TOP:
        table += (
            f"<details><summary>All {len(rows):,}</summary>"
            f"{html_table(table_id + '-all', header, rows, numeric)}</details>"
        )
    return table


def _pair(svg: str, caption: str, table: str, note: str = "") -> str:
    """A chart beside its table, or the caption and "None." without a chart; `note` after
    either (what the chart cannot show)."""
    if not svg:
        return f'<p class="note">{_e(caption)} None.{_e(note)}</p>'
    caption += note
    if not table:
        return f'<figure class="alone">{svg}<figcaption>{_e(caption)}</figcaption></figure>'
    return (
        f'<div class="pair"><figure>{svg}<figcaption>{_e(caption)}</figcaption></figure>'
        f"<div>{table}</div></div>"
    )


def not_read_note(languages: list[tuple[str, int]], what: str) -> str:
    """What a topics or places chart says nothing about: the articles in languages their
    stages do not read (transforms/support/taxonomy.py; places match names as written in
    the same languages). A desk reading Chinese or Arabic saw "None." and took it for a
    finding. "" when every article is in one of them."""
    from newsbeam.transforms.support.taxonomy import SUPPORTED_LANGUAGES

    unread = [(language, n) for language, n in languages if language not in SUPPORTED_LANGUAGES]
    if not unread:
        return ""
    total = sum(n for _, n in unread)
    listed = ", ".join(f"{language} {n:,}" for language, n in unread[:TOP])
    more = f", {len(unread) - TOP:,} more" if len(unread) > TOP else ""
    verb = "are" if total != 1 else "is"
    return (
        f" {total:,} article{'s' if total != 1 else ''} ({listed}{more}) {verb} in languages"
        f" whose {what} (read: {', '.join(SUPPORTED_LANGUAGES)}): none there is no finding."
    )


def render_report(
    runs: Sequence[Run],
    title: str = "NewsBeam run report",
    failed: Sequence[dict[str, Any]] = (),
) -> str:
    """The whole page for one run, or for several runs of a dataset; `failed`: the failed
    runs recorded in the dataset's window (pipeline/failed_runs.py), which committed no
    row and so are no `Run`."""
    manifests = [run.manifest for run in runs]
    counts = add_counts(manifests) if len(runs) != 1 else manifests[0]["counts"]
    articles = _concat([run.articles for run in runs], ARTICLE_COLUMNS)
    duplicates = _concat([run.duplicates for run in runs], DUPLICATE_COLUMNS)
    rejected = _concat([run.rejected for run in runs], REJECTED_COLUMNS)
    health = [row for run in runs for row in run.feed_health]
    parts = [_header(runs, counts)]
    if failed:
        parts.append(_failed_section(failed, [run.manifest for run in runs]))
    if len(runs) == 1:
        parts.append(_compare_section(runs[0].manifest))
    parts.append(_flow_section(counts))
    if len(runs) > 1:
        parts.append(_runs_section(runs))
    parts.append(_rejected_section(rejected))
    parts.append(_content_section(articles, duplicates, _taxonomy()))
    parts.append(_stories_section(articles, duplicates))
    parts.append(_feeds_section(health, manifests))
    parts.append(_time_section(manifests))
    parts.append(_details_section(manifests))
    version = manifests[-1].get("versions", {}).get("newsbeam", "") if manifests else ""
    return PAGE.format(
        title=_e(title), csp=CSP, css=CSS, body="\n".join(parts), version=_e(version)
    )


@functools.cache
def _taxonomy() -> dict[str, Any]:
    """IPTC names, as the topics stage loads them (transforms/support/taxonomy.py, free of
    Beam). Read once a process (the package's file): `preload` reads it ahead of the report."""
    from newsbeam.transforms.support.taxonomy import load_taxonomy

    return load_taxonomy()


def _concat(tables: Sequence[pa.Table], columns: Sequence[str]) -> pa.Table:
    tables = [t for t in tables if len(t)]
    if not tables:
        return pa.table({c: pa.array([], pa.null()) for c in columns})
    return pa.concat_tables(tables, promote_options="default")


def _header(runs: Sequence[Run], counts: dict[str, Any]) -> str:
    if len(runs) == 1:
        manifest = runs[0].manifest
        start = manifest.get("started_at", "")[:19].replace("T", " ")
        heading = "NewsBeam run report"
        meta = f"Run started {start} UTC, {manifest.get('seconds', 0):,.1f} s"
    else:
        first = runs[0].manifest.get("started_at", "")[:10] if runs else ""
        last = runs[-1].manifest.get("started_at", "")[:10] if runs else ""
        heading = "NewsBeam dataset report"
        meta = f"{len(runs)} runs, {first} to {last}"
    tiles = "".join(
        f'<div class="tile {key}"><b>{int(counts.get(key, 0)):,}</b>{key}</div>'
        for key in ("inputs", "articles", "duplicates", "rejected")
    )
    unread = [note for run in runs for note in dataset.unread_notes(run.manifest)]
    if len(runs) == 1 and (unread or not int(counts.get("inputs", 0))):
        # A run with no inputs is committed too (a scheduled night's record): say why.
        said = "Nothing new was read" if not int(counts.get("inputs", 0)) else "Not read"
        meta += f". {said}: {'; '.join(unread) or 'no input files listed'}."
    status = ""
    if len(runs) == 1:
        problems = run_problems(runs[0].manifest, runs[0].feed_health)
        said = "Completed with problems: " + "; ".join(problems) + "." if problems else ""
        status = (
            f'<p class="check {"bad" if problems else "ok"}" id="status">'
            f"{_e(said or 'Completed (exit status 0).')}</p>"
        )
    before = runs[0].manifest.get("failed_before") or [] if len(runs) == 1 else []
    if before:  # a run after failed ones: their inputs were its to read again
        from newsbeam.pipeline.failed_runs import describe

        said = (
            f"After {len(before)} failed run{'s' if len(before) != 1 else ''} since the last "
            f"committed one (nothing of {'them' if len(before) != 1 else 'it'} committed; "
            f"the inputs read again by this run). The latest: {describe(before[-1])}"
        )
        status += f'<p class="check bad" id="failed-before">{_e(said)}</p>'
    return (
        f'<h1>{heading}</h1><p class="meta">{_e(meta)}</p>{status}<div class="tiles">{tiles}</div>'
    )


def _failed_section(failed: Sequence[dict[str, Any]], manifests: Sequence[dict[str, Any]]) -> str:
    """The failed runs of the window, each with its cause and what came after it: a run
    that committed later (which read its inputs again), or none yet."""
    from newsbeam.pipeline.failed_runs import recovered_at

    finished = [str(m.get("finished_at", "")) for m in manifests]
    rows = []
    for record in failed:
        after = recovered_at(record, finished)
        rows.append(
            (
                str(record.get("started_at") or "")[:19].replace("T", " "),
                str(record.get("ended_at") or "")[:19].replace("T", " ") or "not recorded",
                str(record.get("run_id")),
                "" if record.get("exit_status") is None else str(record["exit_status"]),
                str(record.get("stage") or ""),
                str(record.get("cause") or ""),
                f"yes, {after[:19].replace('T', ' ')}" if after else "NO (not yet)",
            )
        )
    table = html_table(
        "failed-table",
        ["started (UTC)", "ended (UTC)", "run id", "exit", "stage", "cause"]
        + ["a later run committed"],
        rows,
        source_columns=(2,),
        row_class=["failing"] * len(rows),
    )
    many = len(failed) != 1
    return (
        f"<section><h2>Failed runs</h2><p>{len(failed):,} run{'s' if many else ''} failed "
        f"in this window: nothing of {'them' if many else 'it'} was committed, and the next "
        f"run to commit reads {'their' if many else 'its'} inputs again (the last column: "
        "whether one has).</p>" + table + "</section>"
    )


def comparison_rows(
    manifest: dict[str, Any], earlier: Sequence[dict[str, Any]]
) -> list[tuple[str, ...]]:
    """This run's figures beside the previous run's and the median of the earlier ones,
    and the change from the previous run: inputs, the three tables, the share rejected,
    feeds failed of those polled, seconds. Cells as shown (texts)."""

    def figures(run: dict[str, Any]) -> list[float]:
        counts, counters = run.get("counts") or {}, run.get("counters") or {}
        inputs = int(counts.get("inputs", 0))
        share = int(counts.get("rejected", 0)) / inputs if inputs else 0.0
        values = [float(counts.get(key, 0)) for key in ("inputs", "articles", "duplicates")]
        values += [float(counts.get("rejected", 0)), share * 100]
        values += [float(counters.get("feeds_errors", 0)), float(counters.get("feeds_fetched", 0))]
        return [*values, float(run.get("seconds") or 0.0)]

    def shown(values: Sequence[float], signed: bool = False) -> list[str]:
        sign = "+" if signed else ""
        cells = [f"{v:{sign},.0f}" for v in values[:4]] + [f"{values[4]:{sign}.1f}%"]
        cells.append(f"{values[5]:{sign},.0f} of {values[6]:,.0f}" if values[6] else "-")
        return [*cells, f"{values[7]:{sign},.1f}"]

    this = figures(manifest)
    rows = [("this run", str(manifest.get("run_id", "")), *shown(this))]
    if not earlier:
        return rows
    previous = figures(earlier[-1])
    rows.append(("previous run", str(earlier[-1].get("run_id", "")), *shown(previous)))
    if len(earlier) > 1:
        columns = zip(*(figures(run) for run in earlier), strict=True)
        median = [statistics.median(column) for column in columns]
        rows.append((f"median of {len(earlier)} earlier", "", *shown(median)))
    change = [now - then for now, then in zip(this, previous, strict=True)]
    changed = shown(change, signed=True)
    changed[4] = f"{change[4]:+.1f} points"  # of a share: percentage points
    changed[5] = f"{change[5]:+,.0f}" if this[6] or previous[6] else "-"  # failed feeds
    rows.append(("change from previous", "", *changed))
    return rows


def _compare_section(manifest: dict[str, Any]) -> str:
    earlier = manifest.get(dataset.EARLIER_RUNS)
    if earlier is None:  # a page drawn again from a committed run: nothing to compare with
        return ""
    header = ["", "run id", "inputs", "articles", "duplicates", "rejected", "rejected %"]
    header += ["feeds failed", "seconds"]
    table = html_table(
        "compare-table",
        header,
        comparison_rows(manifest, earlier),
        numeric=(),
        numeric_text=(2, 3, 4, 5, 6, 7, 8),
    )
    note = (
        "The first run of this dataset: nothing to compare with."
        if not earlier
        else "The committed runs that started before this one (the latest by run id)."
    )
    return (
        f'<section><h2>Compared with earlier runs</h2><p class="note">{note}</p>{table}</section>'
    )


def _flow_section(counts: dict[str, Any]) -> str:
    steps = flow_steps(counts)
    balanced, sentence = conservation(counts)
    check = f'<p class="check {"ok" if balanced else "bad"}" id="conservation">'
    check += f"{'&#10003;' if balanced else '&#10007;'} {_e(sentence)}</p>"
    rows = [("inputs", int(counts.get("inputs", 0)), 0, 0, int(counts.get("inputs", 0)))]
    rows += [(s.stage, s.entering, s.rejected, s.duplicates, s.leaving) for s in steps]
    table = html_table(
        "flow-table",
        ["stage", "in", "rejected", "duplicates", "out"],
        rows,
        numeric=(1, 2, 3, 4),
    )
    totals = html_table(
        "totals-table",
        ["table", "rows"],
        [(k, int(counts.get(k, 0))) for k in ("inputs", "articles", "duplicates", "rejected")],
        numeric=(1,),
    )
    svg = flow_svg(steps, counts)
    caption = "Documents reaching each stage and leaving the flow there; the last bar: the tables."
    return (
        f"<section><h2>Flow</h2>{check}"
        f"{_pair(svg, caption, totals + '<h3>By stage</h3>' + table)}</section>"
    )


def _runs_section(runs: Sequence[Run]) -> str:
    manifests = [run.manifest for run in runs]
    days = daily_counts(manifests)
    labels = [day.isoformat() for day, _ in days]
    series = [
        (key, [float(c.get(key, 0)) for _, c in days], COLOURS[key])
        for key in ("articles", "duplicates", "rejected")
    ]
    per_day_svg = stacked_svg("days", labels, series, "rows per day of runs", "rows")
    day_table = html_table(
        "days-table",
        ["day", "inputs", "articles", "duplicates", "rejected"],
        [
            (d.isoformat(), c["inputs"], c["articles"], c["duplicates"], c["rejected"])
            for d, c in days
        ],
        numeric=(1, 2, 3, 4),
    )
    run_labels = [m["started_at"][5:19].replace("T", " ") for m in manifests]
    rates = [
        m["counts"]["rejected"] / m["counts"]["inputs"] if m["counts"]["inputs"] else 0.0
        for m in manifests
    ]
    rate_svg = line_svg("rate", run_labels, rates, "share of inputs rejected, per run")
    run_rows = []
    for run, manifest in zip(runs, manifests, strict=True):
        c = manifest["counts"]
        run_rows.append(
            (
                manifest["started_at"][:19].replace("T", " "),
                str(run.manifest.get("run_id") or short_source(run.path)),
                c["inputs"],
                c["articles"],
                c["duplicates"],
                c["rejected"],
                "yes" if c.get("balanced") else "NO",
                float(manifest.get("seconds", 0.0)),
                "; ".join(run_problems(manifest, run.feed_health)) or "none",
            )
        )
    run_table = html_table(
        "runs-table",
        ["started (UTC)", "run id", "inputs", "articles", "duplicates", "rejected", "balanced"]
        + ["seconds", "problems"],
        run_rows,
        numeric=(2, 3, 4, 5, 7),
        source_columns=(1,),
        row_class=["failing" if row[-1] != "none" else "" for row in run_rows],
    )
    return (
        "<section><h2>Runs</h2>"
        + _pair(per_day_svg, "Rows written per day (UTC start of the runs).", day_table)
        + _pair(rate_svg, "Share of inputs rejected, run by run.", "")
        + run_table
        + "</section>"
    )


def _rejected_section(rejected: pa.Table) -> str:
    groups = rejections(rejected)
    if not groups:
        return "<section><h2>Rejected</h2><p>Nothing was rejected.</p></section>"
    svg = bars_svg(
        "rejected",
        [(f"{g.stage}: {g.reason}", g.count) for g in groups],
        "rejected inputs by stage and reason",
        COLOURS["rejected"],
    )
    table = html_table(
        "rejected-table",
        ["stage", "reason", "rows", "examples", "first detail"],
        [(g.stage, g.reason, g.count, ", ".join(g.examples), g.detail) for g in groups],
        numeric=(2,),
        source_columns=(3,),
    )
    chart = _pair(svg, "Rejected rows by stage and reason.", "")
    return f"<section><h2>Rejected</h2>{chart}{table}</section>"


def _content_section(articles: pa.Table, duplicates: pa.Table, taxonomy: dict[str, Any]) -> str:
    languages = value_counts(articles.column("language").to_pylist())
    topics = value_counts(articles.column("topics").to_pylist())
    places = value_counts(articles.column("places").to_pylist())
    days, unknown = per_day(articles.column("published_at").to_pylist())
    topic_items = [(f"{topic_label(q, taxonomy)}", n) for q, n in topics]
    place_items = [(place_label(code), n) for code, n in places]
    parts = ["<section><h2>Articles</h2>"]
    parts.append(
        _pair(
            bars_svg("languages", languages, "articles by language"),
            "Articles by language (und: too little text to tell).",
            top_table("languages-table", ["language", "articles"], languages, numeric=(1,)),
        )
    )
    by_outlet = outlets(articles, duplicates)
    parts.append(
        _pair(
            bars_svg("outlets", [(name, n) for name, n, _ in by_outlet if n], "articles by outlet"),
            "Articles by outlet (the domain of their URL); copies: its pages that were copies "
            "of a kept article.",
            top_table("outlets-table", ["outlet", "articles", "copies"], by_outlet, numeric=(1, 2)),
        )
    )
    parts.append(
        _pair(
            bars_svg("topics", topic_items, "articles by IPTC Media Topic"),
            "Articles tagged with each IPTC Media Topic (an article can have several).",
            top_table(
                "topics-table",
                ["qcode", "topic", "articles"],
                [(q, topic_label(q, taxonomy), n) for q, n in topics],
                numeric=(2,),
            ),
            not_read_note(languages, "topics are not tagged"),
        )
    )
    parts.append(
        _pair(
            bars_svg("places", place_items, "articles by country"),
            "Articles about each country (an article can name several).",
            top_table(
                "places-table",
                ["code", "country", "articles"],
                [
                    (code, label, n)
                    for (code, n), (label, _) in zip(places, place_items, strict=True)
                ],
                numeric=(2,),
            ),
            not_read_note(languages, "place names are not matched"),
        )
    )
    span = (days[-1][0] - days[0][0]).days + 1 if days else 0
    unit = "month" if span > MAX_DAILY_SPAN else "day"
    caption = f"Articles per publication {unit} (UTC); {unknown:,} without a date."
    day_rows = [(d.isoformat(), n) for d, n in days]
    parts.append(
        _pair(
            timeline_svg("published", days, "articles per publication day"),
            caption,
            "<details><summary>Per day</summary>"
            + html_table("published-table", ["day", "articles"], day_rows, numeric=(1,))
            + "</details>",
        )
    )
    parts.append("</section>")
    return "".join(parts)


def _stories_section(articles: pa.Table, duplicates: pa.Table) -> str:
    stories = largest_stories(articles)
    copies = largest_copy_sets(articles, duplicates)
    story_table = html_table(
        "stories-table",
        ["headline", "articles", "sources"],
        [(s.headline, s.articles, ", ".join(s.sources)) for s in stories],
        numeric=(1,),
        source_columns=(2,),
    )
    copy_table = html_table(
        "copies-table",
        ["canonical", "source", "copies", "method", "copies' sources"],
        [
            (c.headline, c.canonical_source, c.copies, ", ".join(c.methods), ", ".join(c.sources))
            for c in copies
        ],
        numeric=(2,),
        source_columns=(1, 4),
    )
    return (
        "<section><h2>Stories and copies</h2>"
        "<h3>Largest stories</h3><p class=note>Stories with two articles or more among the "
        "articles of the runs this page covers (a story's articles of other runs are not "
        "counted; newsbeam report over all the runs counts them all).</p>"
        f"{story_table}<h3>Largest copy sets</h3>{copy_table}</section>"
    )


def _feeds_section(health: list[dict[str, Any]], manifests: Sequence[dict[str, Any]]) -> str:
    counters: collections.Counter[str] = collections.Counter()
    for manifest in manifests:
        counters.update(
            {k: v for k, v in manifest.get("counters", {}).items() if k.startswith("feeds_")}
        )
    if not health and not counters:
        return "<section><h2>Feeds</h2><p>No feeds in this run.</p></section>"
    parts = ["<section><h2>Feeds</h2>"]
    if health:
        latest: dict[str, dict[str, Any]] = {}
        for row in sorted(health, key=lambda r: r["run_at"]):
            latest[row["feed_url"]] = row  # a dataset shows each feed's latest poll
        rows = feed_rows(latest.values())
        groups = collections.Counter(_status_group(r["status"]) for r in rows)
        statuses = sorted(groups.items(), key=lambda kv: (-kv[1], kv[0]))
        colours = [COLOURS[status] for status, _ in statuses]
        svg = bars_svg("feeds", statuses, "feeds by status", colours)
        polls = feed_polls(health)
        table = html_table(
            "feeds-table",
            ["feed", "status", "HTTP", "error", "latency ms", "entries", "new", "polls"]
            + ["failed polls"],
            [
                (
                    r["feed_url"],
                    r["status"],
                    "" if r["http_status"] is None else str(r["http_status"]),
                    r["error"] or "",
                    int(r["latency_ms"]),
                    int(r["entries"]),
                    int(r["new_entries"]),
                    *polls[r["feed_url"]],
                )
                for r in rows
            ],
            numeric=(4, 5, 6, 7, 8),
            row_class=["failing" if r["status"] in FAILING else "" for r in rows],
            source_columns=(0,),
        )
        caption = "Feeds by status (their latest poll; polls and failed polls: of all the runs)."
        parts.append(_pair(svg, caption, ""))
        parts.append(table)
        by_run = feed_status_by_run_rows(health)
        if len(by_run) > 1:
            labels = [label for label, _ in by_run]
            series = [
                (key, [float(c.get(key, 0)) for _, c in by_run], COLOURS[key])
                for key in ("ok", "not_modified", "error", "other")
            ]
            parts.append(
                _pair(
                    stacked_svg("feedruns", labels, series, "feed status per run", "feeds"),
                    "Feed health run by run.",
                    "",
                )
            )
    else:
        parts.append(
            "<p class=note>No per-feed health rows in the feed_health table here; "
            "the feed counters:</p>"
        )
    parts.append(
        html_table("feed-counters-table", ["counter", "value"], sorted(counters.items()), (1,))
    )
    parts.append("</section>")
    return "".join(parts)


def feed_status_by_run_rows(health: Iterable[dict[str, Any]]) -> list[tuple[str, dict[str, int]]]:
    """Feed status groups per poll time (one entry per run that polled feeds)."""
    runs: dict[dt.datetime, collections.Counter[str]] = collections.defaultdict(collections.Counter)
    for row in health:
        runs[row["run_at"]][_status_group(row["status"])] += 1
    return [(at.strftime("%m-%d %H:%M:%S"), dict(runs[at])) for at in sorted(runs)]


def stage_label(step: str) -> str:
    """A runner's step label as words: "WriteDedupIndex" -> "write dedup index" (it read
    "writededupindex", and "FeedsApart" "feedsapart")."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", " ", step).lower()


def workers_line(manifest: dict[str, Any]) -> str | None:
    """Where the run's stages ran and why (the manifest's `config.workers`, review 85):
    None for a run that did not plan local workers (another runner, an older run)."""
    plan = (manifest.get("config") or {}).get("workers")
    if not isinstance(plan, dict):
        return None
    count = plan.get("workers")
    # The words of the run's log line (`workers planned`), for one search over both.
    return f"Workers planned: {'as given' if count is None else count} ({plan.get('rule')})."


def _time_section(manifests: Sequence[dict[str, Any]]) -> str:
    seconds = sum(float(m.get("seconds", 0.0)) for m in manifests)
    inputs = sum(int(m["counts"].get("inputs", 0)) for m in manifests)
    stage: collections.Counter[str] = collections.Counter()
    for manifest in manifests:
        stage.update(manifest.get("stage_seconds", {}))
    rate = inputs / seconds if seconds else 0.0
    parts = [
        "<section><h2>Time</h2>",
        f'<p id="throughput">{inputs:,} inputs in {seconds:,.1f} s: '
        f"<b>{rate:,.1f} documents/s</b>.</p>",
    ]
    if line := workers_line(manifests[-1] if manifests else {}):
        parts.append(f'<p id="workers">{_e(line)}</p>')
    if stage:
        items = sorted(
            ((stage_label(name), round(seconds * 1000)) for name, seconds in stage.items()),
            key=lambda kv: (-kv[1], kv[0]),
        )
        svg = bars_svg("stages", items, "milliseconds per stage")
        table = html_table("stage-table", ["stage", "ms"], items, numeric=(1,))
        note = (
            "Milliseconds spent in each stage's steps as the runner measured them; "
            "Beam's start-up, model loading and waiting are in no stage."
        )
        parts.append(_pair(svg, note, table))
    else:
        parts.append("<p class=note>The runner reported no time per stage.</p>")
    parts.append("</section>")
    return "".join(parts)


def _details_section(manifests: Sequence[dict[str, Any]]) -> str:
    latest = manifests[-1] if manifests else {}
    # Redacted again: a manifest written before review 65 holds credential flags as given.
    shown = {k: redacted(latest.get(k)) for k in ("options", "config", "versions") if k in latest}
    return (
        "<section><h2>Options and versions</h2>"
        + "".join(
            f"<details><summary>{_e(key)}</summary><pre>"
            f"{_e(json.dumps(value, indent=2, sort_keys=True, default=str))}</pre></details>"
            for key, value in shown.items()
        )
        + (
            f"<p class=note>Of the latest of {len(manifests)} runs.</p>"
            if len(manifests) > 1
            else ""
        )
        + "</section>"
    )


# ---------------------------------------------------------------------------------------
# Entry points
# ---------------------------------------------------------------------------------------


def write_run_report(base: str, manifest: dict[str, Any], target: str) -> float:
    """Write one run's report to `target` (a local file); returns the seconds it took."""
    clock = time.perf_counter()
    run = load_run(base, manifest)
    Path(target).write_text(render_report([run]), encoding="utf-8")
    return time.perf_counter() - clock


def build_dataset_report(
    root: str, since: dt.datetime | None = None, failed: Sequence[dict[str, Any]] = ()
) -> tuple[str, list[dict[str, Any]]]:
    """The page over every committed run of `root` (find_runs) and the `failed` runs
    (`failed_in_window`); the page and the runs' manifests, oldest first."""
    found = find_runs(root, since)
    runs = [load_run(base, manifest) for base, manifest in found]
    title = "NewsBeam run report" if len(runs) == 1 else "NewsBeam dataset report"
    return render_report(runs, title, failed), [manifest for _, manifest in found]


def failed_in_window(root: str, since: dt.datetime | None) -> list[dict[str, Any]]:
    """The failed runs recorded in ROOT (pipeline/failed_runs.py) that ended on or after
    `since` (a run killed outright, its end unknown: started), and those killed outright
    that no later run has recorded yet (`killed_unrecorded`), whatever their start: ROOT's
    present state, not its history. Oldest first.

    By their end, not their start (as committed runs are): a failure is seen when the run
    ends, so a night that started before a daily check's `--since` and failed after it was
    in no check's window (the day before, it was still running)."""
    from newsbeam.pipeline.failed_runs import moment, read_records

    # Compared as UTC texts: `--since` may name another zone.
    cut = since.astimezone(dt.timezone.utc).isoformat() if since is not None else ""
    found = [record for record in read_records(root) if _record_moment(record) >= cut]
    return sorted(found + killed_unrecorded(root), key=moment)


def killed_unrecorded(root: str) -> list[dict[str, Any]]:
    """Runs killed outright (the OOM killer) whose record the next run's clean-up has not
    written yet: their start records staged in a local ROOT whose lock no live run holds
    (with the lock held, a staged run may be the one in progress). An object store's ROOT
    has no lock to ask (pipeline/run.py's `locked`): none shown there."""
    from pathlib import Path

    from newsbeam.pipeline import lock
    from newsbeam.pipeline.failed_runs import unrecorded_kill

    if not files.is_local(root):
        return []
    if lock.held(Path(files.local_path(root))):
        return []
    return [unrecorded_kill(started) for started in dataset.staged_starts(root)]


def _record_moment(record: dict[str, Any]) -> str:
    """A record's end (killed: its start) in UTC, as `--since` is compared; "" unreadable."""
    from newsbeam.pipeline.failed_runs import moment

    try:
        return started_at({"started_at": moment(record)}).astimezone(dt.timezone.utc).isoformat()
    except (KeyError, TypeError, ValueError):
        return ""


# `newsbeam report --fail_on_failed`'s status when the window holds a failed run: a run's 3
# is "written, but fail the task" (--fail_on_rejected) too; 1 and 2 stay the report's own
# failures, so a check can tell "the nights failed" from "the check could not run".
FAILED_STATUS = 3
# `--fail_on_failed`'s values: `any` failed run in the window (the flag alone), or only the
# `unrecovered` ones, after which no run has committed: an on-call rotation is paged for
# what is still broken, not for a night the next run recovered from.
FAIL_ON = ("any", "unrecovered")


def parser() -> argparse.ArgumentParser:
    """`newsbeam report`'s flags (its --help)."""
    report_parser = argparse.ArgumentParser(
        prog="newsbeam report",
        description="Write one HTML report over the committed runs of the dataset ROOT.",
    )
    report_parser.add_argument("--output", required=True, metavar="ROOT", help="the dataset")
    report_parser.add_argument(
        "--since",
        metavar="DATE",
        help="only runs started on or after DATE (UTC; ISO 8601); failed runs: those that "
        "ended on or after it",
    )
    report_parser.add_argument(
        "--report", metavar="FILE", help=f"where to write (default ROOT/{REPORT})"
    )
    report_parser.add_argument(
        "--fail_on_failed",
        nargs="?",
        const="any",
        choices=FAIL_ON,
        metavar="{any,unrecovered}",
        help=f"exit {FAILED_STATUS} (after writing the page) when the window holds a failed "
        "run: a morning check (cron, an Airflow task, a Kubernetes Job) alerts on the "
        "status instead of grepping the printed line. `unrecovered` "
        "(--fail_on_failed=unrecovered): only for a failed run no run has committed after "
        "(its page says `a later run committed: NO`); one a later run recovered from (it "
        "read the failed run's inputs again) is shown, not alerted on. Alone: `any`",
    )
    report_parser.epilog = (
        "exit codes: 0 the page was written; 1 it could not be written; 2 usage error (a "
        "flag, no dataset, no run in the window); "
        f"{FAILED_STATUS} --fail_on_failed and the window holds a failed run (with "
        "=unrecovered: one no run committed after; the page was written, the failed runs "
        "printed). "
        "Beam's filesystem flags (--s3_endpoint_url, ...) reach a ROOT on an object store."
    )
    return report_parser


def main(argv: Sequence[str]) -> int:
    """`newsbeam report --output ROOT [--since DATE] [--report FILE]
    [--fail_on_failed[=unrecovered]]`."""
    args, rest = parser().parse_known_args([_own_spelling(arg) for arg in argv])
    if rest:  # an object store's endpoint and credentials, as a run takes them
        # Importing Beam logs "apitools not found, and bigquery client libraries are not
        # available" (as pipeline/warehouse.py says): nothing a report uses.
        root_logger = logging.getLogger()
        level = root_logger.level
        root_logger.setLevel(logging.ERROR)
        try:
            from newsbeam.pipeline import cli
        finally:
            root_logger.setLevel(level)
        try:
            cli.set_filesystem_flags(rest)
        except cli.UnknownFlagsError as error:
            return _usage(str(error))
    root = files.normalise(args.output)
    try:
        since = parse_since(args.since) if args.since else None
    except ValueError:
        return _usage(f"--since {args.since!r} is not a date (YYYY-MM-DD) nor an ISO time")
    try:
        dataset.check_root(root, for_writing=False)
        failed = failed_in_window(root, since)
        page, manifests = build_dataset_report(root, since, failed)
    except dataset.DatasetError as error:
        return _usage(str(error))
    count = len(manifests)
    if not count and not failed:
        return _usage(f"no committed NewsBeam run in {root}" + (f" since {since}" if since else ""))
    target = args.report or files.join(root, REPORT)
    if files.is_local(target) and os.path.isdir(files.local_path(target)):
        return _usage(f"--report {target} is a folder: give the report's file name")
    try:
        files.write_bytes(target, page.encode("utf-8"))
    except OSError as error:
        elsewhere = "" if args.report else " (--report FILE writes it elsewhere)"
        print(
            f"newsbeam report: cannot write {target}: {error.strerror or error}{elsewhere}",
            file=sys.stderr,
        )
        return 1
    print(f"NewsBeam report over {count} run{'s' if count != 1 else ''}: {target}")
    if failed:  # said where a scheduler's log shows it, not only in the page
        from newsbeam.pipeline.failed_runs import describe, unrecovered

        print(
            f"  {len(failed)} failed run{'s' if len(failed) != 1 else ''} in the window "
            f"(nothing of {'them' if len(failed) != 1 else 'it'} committed); the latest: "
            f"{describe(failed[-1])}"
        )
        pending = unrecovered(failed, (str(m.get("finished_at", "")) for m in manifests))
        print(f"  {recovery_line(len(failed), pending)}")
        alerted = pending if args.fail_on_failed == "unrecovered" else failed
        if args.fail_on_failed and alerted:
            return FAILED_STATUS
    return 0


def recovery_line(failed: int, pending: Sequence[dict[str, Any]]) -> str:
    """Whether the window's `failed` runs were recovered from (`pending`: those no run has
    committed after), as `newsbeam report` prints it under its failed-runs line."""
    if not pending:
        each = "each" if failed != 1 else "it"
        return f"recovered: a run committed after {each} (--fail_on_failed=unrecovered: no alert)"
    if failed == 1:
        return "not recovered: no run committed since"
    from newsbeam.pipeline.failed_runs import describe

    return (
        f"{len(pending)} of them not recovered (no run committed since); the latest: "
        f"{describe(pending[-1])}"
    )


def _own_spelling(arg: str) -> str:
    """`--fail-on-failed` as `--fail_on_failed`: the run's and `newsbeam warehouse`'s flags
    may be spelt either way, and a check spelt with dashes must not fail as a usage error
    (exit 2, an alert of the wrong kind). Beam's flags are left as given."""
    name, equals, value = arg.partition("=")
    own = "--" + name[2:].replace("-", "_") if name.startswith("--") else name
    return own + equals + value if own in _OWN_FLAGS else arg


_OWN_FLAGS = frozenset({"--output", "--since", "--report", "--fail_on_failed"})


def _usage(message: str) -> int:
    print(f"newsbeam report: {message}", file=sys.stderr)
    return 2
