"""NewsBeam's command-line options, as a Beam `PipelineOptions` subclass.

Every Beam flag (`--runner`, `--direct_num_workers`, `--temp_location`, ...) keeps working
beside these. No option is `required=True` (that breaks every other pipeline in the same
process); `main()` validates instead. Options turn into the frozen per-stage config
dataclasses here, so stages never read options.
"""

from __future__ import annotations

import argparse
import dataclasses
import datetime as dt
import math
import zoneinfo
from typing import Any

from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.transforms.clean import CleanConfig
from newsbeam.transforms.dedup import DedupConfig
from newsbeam.transforms.event_time import WindowConfig
from newsbeam.transforms.extract import ExtractConfig
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import FetchConfig
from newsbeam.transforms.language import LanguageConfig
from newsbeam.transforms.places import PlacesConfig
from newsbeam.transforms.read import ReadConfig
from newsbeam.transforms.stories import StoryConfig
from newsbeam.transforms.support.files import STORE_RETRY_SECONDS
from newsbeam.transforms.support.redact import url_param_names
from newsbeam.transforms.support.state import KEEP_IDS_DAYS, StateContext
from newsbeam.transforms.support.urls import without_userinfo
from newsbeam.transforms.topics import TopicsConfig

# Seconds between two follow-mode batches when --interval is not given: the warehouse a
# minute behind its inbox, at a batch's fixed cost (benchmarks/README.md) well under it.
DEFAULT_FOLLOW_INTERVAL = 60.0


# Seconds a stopped follow process waits for its batch in flight (--stop_wait_seconds):
# under the service managers' own limits (systemd's TimeoutStopSec 90 s by default,
# Kubernetes' terminationGracePeriodSeconds 30 s by default, 120 s in deploy/kubernetes),
# so that the process ends itself cleanly (staging removed, the stop recorded) rather than
# being killed with its staging left. A batch of a minute's news commits in seconds.
DEFAULT_STOP_WAIT_SECONDS = 60.0


def finite_float(text: str) -> float:
    """A number flag's value: "nan" and "inf" parse as floats, and pass every range check
    (`--interval nan` spun an idle follow loop at 100% CPU)."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid float value: {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{text!r} is not a finite number")
    return value


def as_of_value(text: str) -> str:
    """`--as_of`'s value: an ISO 8601 time (without an offset: UTC) -> the same moment as
    ISO 8601 in UTC."""
    try:
        at = dt.datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"{text!r} is no ISO 8601 time (2026-12-05T02:18:54+00:00)"
        ) from None
    if at.tzinfo is None:
        at = at.replace(tzinfo=dt.timezone.utc)
    return at.astimezone(dt.timezone.utc).isoformat()


def source_timezone_value(text: str) -> str:
    """`--source_timezone`'s value: HOST=ZONE, an IANA zone ("nhk.or.jp=Asia/Tokyo") ->
    "host=Zone" with the host in lower case; a zone the tz database lacks is refused here,
    not on the workers."""
    host, sep, zone = text.partition("=")
    host, zone = host.strip().lower().strip("."), zone.strip()
    if not sep or not host or not zone or "/" in host:
        raise argparse.ArgumentTypeError(f"{text!r} is not HOST=ZONE (nhk.or.jp=Asia/Tokyo)")
    try:
        zoneinfo.ZoneInfo(zone)
    except (ValueError, zoneinfo.ZoneInfoNotFoundError):
        raise argparse.ArgumentTypeError(
            f"{zone!r} is no IANA time zone (Asia/Tokyo, Europe/Berlin, America/New_York)"
        ) from None
    return f"{host}={zone}"


def source_timezones(values: list[str] | None) -> tuple[tuple[str, str], ...]:
    """--source_timezone values -> ExtractConfig.source_timezones: sorted (host, zone)
    pairs, the last value given for a host kept."""
    pairs = dict(value.split("=", 1) for value in values or ())
    return tuple(sorted(pairs.items()))


class NewsBeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # noqa: ANN001 (Beam's signature)
        inputs = parser.add_argument_group("inputs")
        output = parser.add_argument_group("output and state")
        stages = parser.add_argument_group("stages")
        feeds = parser.add_argument_group("feeds and HTTP")
        run = parser.add_argument_group("the run")
        follow = parser.add_argument_group("follow mode (pipeline/follow.py)")
        inputs.add_argument(
            "--input",
            dest="inputs",
            action="append",
            metavar="PATH",
            default=None,
            help="A file, a directory (read recursively) or a glob; repeatable. "
            ".txt/.md raw text, .html/.htm HTML (also .gz), .jsonl one record a line; "
            "RSS/Atom/RDF/JSON feeds and OPML lists by content. An http(s) URL is fetched: "
            "a feed is read as a feed, anything else as an article page.",
        )
        inputs.add_argument(
            "--feed",
            dest="feed_urls",
            action="append",
            metavar="URL",
            default=None,
            help="A feed URL (RSS, Atom, RDF or JSON Feed); repeatable.",
        )
        inputs.add_argument(
            "--feeds",
            dest="feed_lists",
            action="append",
            metavar="FILE",
            default=None,
            help="A file listing feed URLs, one a line (# comments), or an OPML list.",
        )
        feeds.add_argument(
            "--allow_private_hosts",
            dest="allow_private_hosts",
            action="store_true",
            default=False,
            help="Let fetches go to private ranges (10/8, 172.16/12, 192.168/16, fc00::/7) "
            "and loopback; never to link-local addresses (169.254/16, fe80::/10, where cloud "
            "metadata answers) nor known metadata addresses: name those in --allow_hosts.",
        )
        feeds.add_argument(
            "--allow_hosts",
            dest="allow_hosts",
            action="append",
            metavar="HOSTS",
            default=None,
            help="Hosts, addresses or CIDRs fetches may reach although not public, comma-"
            "separated or repeated, e.g. --allow_hosts 127.0.0.1,::1 (exactly these; "
            "everything else non-public stays refused).",
        )
        feeds.add_argument(
            "--redact_url_params",
            dest="redact_url_params",
            action="append",
            metavar="NAMES",
            default=None,
            help="Query parameters whose values are secrets, besides the documented ones "
            "(api_key, token, signatures of signed URLs, session ids: docs/security.md), "
            "comma-separated or repeated: written *** in the tables, manifest, report "
            "and log (fetches use them as given; ids are made from the URL as given).",
        )
        feeds.add_argument(
            "--max_pages_per_run",
            dest="max_pages_per_run",
            type=int,
            default=1000,
            metavar="N",
            help="At most N article pages fetched in a run, all feeds together (0: no cap); "
            "the entries over it are left for the next run (not marked seen; counter "
            "feeds_pages_deferred).",
        )
        feeds.add_argument(
            "--max_pages_per_feed",
            dest="max_pages_per_feed",
            type=int,
            default=200,
            metavar="N",
            help="At most N article pages fetched for one feed in a run (0: no cap); the "
            "rest are left for the next run, as for --max_pages_per_run.",
        )
        feeds.add_argument(
            "--page_retry_runs",
            dest="page_retry_runs",
            type=int,
            default=3,
            metavar="N",
            help="With --state: an entry with no text of its own whose page failed in a way "
            "that may pass (timeout, no connection, HTTP 408/429/5xx) is rejected and "
            "offered again by up to N later runs, until its page is read (0: not again).",
        )
        feeds.add_argument(
            "--sitemap_max_urls",
            dest="sitemap_max_urls",
            type=int,
            default=1000,
            metavar="N",
            help="At most N new URLs read from one sitemap source in a poll (an index's "
            "sitemaps together), the newest by publication date, else lastmod; the others "
            "wait for the next polls (0: no cap; counter feeds_sitemap_urls_deferred).",
        )
        feeds.add_argument(
            "--sitemap_max_depth",
            dest="sitemap_max_depth",
            type=int,
            default=2,
            metavar="N",
            help="Sitemap index levels followed: 1 reads an index's sitemaps, 2 also the "
            "sitemaps of an index named by an index.",
        )
        feeds.add_argument(
            "--sitemap_max_sitemaps",
            dest="sitemap_max_sitemaps",
            type=int,
            default=20,
            metavar="N",
            help="At most N sitemaps fetched for one sitemap index in a poll, all levels "
            "together, the newest lastmod first (0: no cap; counter feeds_sitemaps_skipped).",
        )
        feeds.add_argument(
            "--read_sitemap_files",
            dest="read_sitemap_files",
            action="store_true",
            default=False,
            help="Read sitemap files found among the inputs as feeds, fetching the pages they "
            "list from the web (off: such a file is a rejected row, sitemap_file).",
        )
        feeds.add_argument(
            "--no_fetch_pages",
            dest="fetch_pages",
            action="store_false",
            default=True,
            help="Do not fetch feed entries' pages: the entry's content or summary is the article.",
        )
        feeds.add_argument(
            "--fetch_file_pages",
            dest="fetch_file_pages",
            action="store_true",
            default=False,
            help="Fetch the pages of the entries of feed files among the inputs (saved "
            "feeds), as a feed's fetched by URL are (off: the entry's own content or summary "
            "is the article, and no host is contacted for them).",
        )
        feeds.add_argument(
            "--poll_due_only",
            action="store_true",
            default=False,
            help="With --state: skip feeds whose adaptive next poll time has not come yet "
            "(counter feeds_not_due; a health row only with --not_due_health), and --input "
            "URLs read before, as a feed or a page; an --input URL never read (its fetch "
            "failed) is always fetched.",
        )
        feeds.add_argument(
            "--not_due_health",
            action="store_true",
            default=False,
            help="Write a feed_health row (status not_due) for each feed skipped as not due "
            "(--poll_due_only, --follow); by default only polls have rows.",
        )
        feeds.add_argument(
            "--seen_entries_days",
            type=int,
            default=FeedsConfig.seen_entries_days,
            help="With --state: forget seen feed entry ids not listed by their feed for this "
            "many days (ids still in a feed's latest document are kept); 0 keeps them forever.",
        )
        fetch, real = FetchConfig(), finite_float
        for flag, kind, default, text in (
            ("--fetch_connect_timeout", real, fetch.connect_timeout, "Connect timeout, s."),
            ("--fetch_read_timeout", real, fetch.read_timeout, "Read timeout per read, s."),
            ("--fetch_total_timeout", real, fetch.total_timeout, "Deadline per response, s."),
            ("--fetch_retries", int, fetch.max_retries, "Retries on errors, 429 and 5xx."),
            ("--fetch_retry_window", real, fetch.retry_window_seconds,
             "No retry after an error (timeout, no connection) starts later than this after "
             "the request's first attempt, s."),
            ("--fetch_backoff", real, fetch.backoff_seconds, "Backoff factor between retries, s."),
            ("--fetch_max_retry_after", real, fetch.max_retry_after_seconds,
             "Longest Retry-After waited for, s; longer fails the fetch."),
            ("--fetch_max_redirects", int, fetch.max_redirects, "Redirects followed."),
            ("--fetch_max_bytes", int, fetch.max_bytes, "Largest body (after decompression)."),
            ("--fetch_concurrency", int, fetch.concurrency, "Requests in flight per worker."),
            ("--per_host_concurrency", int, fetch.per_host_concurrency,
             "Requests in flight to one host."),
            ("--per_host_interval", real, fetch.per_host_interval_seconds,
             "Seconds between request starts to one host (robots.txt Crawl-delay if longer)."),
        ):  # fmt: skip
            feeds.add_argument(flag, type=kind, default=default, help=text)
        feeds.add_argument(
            "--fetch_user_agent", default=fetch.user_agent, help="User-Agent of every request."
        )
        output.add_argument(
            "--output",
            default=None,
            metavar="ROOT",
            help="The output dataset, a local path or an object store (s3://, gs://): one "
            "Hive-partitioned Parquet dataset per table (articles, duplicates, rejected, "
            "feed_health) under ROOT/<table>/ingest_date=YYYY-MM-DD/, each run adding its "
            "files; a run is committed by its manifest ROOT/_runs/<run id>.json, written last.",
        )
        output.add_argument(
            "--run_id",
            default=None,
            metavar="ID",
            help="Names this run's files and manifest (letters, digits, _ . + -); running an "
            "id again replaces that run's rows (a scheduler's date, say). Default: the start "
            "time, YYYYMMDDTHHMMSSffffffZ.",
        )
        output.add_argument(
            "--state",
            default=None,
            metavar="DIR",
            help="State kept across runs (dedup index, stories, feed state, files seen), a "
            "local path or an object store: read at the start, a new version published when "
            "the run commits. Missing: starts empty.",
        )
        output.add_argument(
            "--local_paths_shared",
            action="store_true",
            default=False,
            help="On a runner whose workers run elsewhere (Dataflow, a Flink or Spark "
            "cluster, DOCKER workers): the local paths named are on a filesystem every "
            "worker mounts at the same path (NFS), so they are not refused.",
        )
        output.add_argument(
            "--store_retry_seconds",
            type=finite_float,
            default=STORE_RETRY_SECONDS,
            help="How long a run keeps calling an object store (s3://) that stopped "
            "answering mid-run before it fails, with that message and nothing committed.",
        )
        output.add_argument(
            "--state_keep_days",
            type=finite_float,
            default=0,
            help="With --state: earlier articles first seen more than this many days before "
            "the run take no part in dedup and stories and are dropped from the state "
            "(story_terms' document frequencies are kept); 0 keeps them forever; fractions "
            "are fine (0.25: six hours).",
        )
        output.add_argument(
            "--state_keep_ids_days",
            type=finite_float,
            default=KEEP_IDS_DAYS,
            help="With --state and --state_keep_days: how many days a forgotten article's thin "
            "row (its ids, text hash and URL) stays, so an exact or same-URL copy of it is "
            "still its duplicate and its article_id is not kept twice; 0 keeps them forever "
            "(the state then grows with every article). Never less than --state_keep_days.",
        )
        inputs.add_argument(
            "--follow_outside_links",
            dest="follow_outside_links",
            action="store_true",
            default=False,
            help="Read what symbolic links in an input folder lead to outside it (by "
            "default each is a rejected row, link_outside: whoever can write in the folder "
            "could link any file this process can read into the tables).",
        )
        inputs.add_argument(
            "--max_document_bytes",
            type=int,
            default=ReadConfig.max_document_bytes,
            help="Inputs larger than this (after decompression) are rejected as too_large.",
        )
        stages.add_argument(
            "--max_html_tags",
            type=int,
            default=ExtractConfig.max_html_tags,
            help="HTML pages with more tags than this (or 2.5 times as many attributes) are "
            "rejected as too_complex: their extraction time grows faster than their size.",
        )
        stages.add_argument(
            "--max_page_seconds",
            type=finite_float,
            default=ExtractConfig.max_page_seconds,
            help="A document whose extraction (an HTML page, a text, a JSON record) or "
            "cleaning takes longer than this, each stage on its own, is stopped and rejected "
            "as time_limit (a real page takes milliseconds); 0: no limit.",
        )
        stages.add_argument(
            "--min_words",
            type=int,
            default=CleanConfig.min_words,
            help="Clean texts with fewer words are rejected as too_short (in Chinese, "
            "Japanese, Thai, ... a character counts as a word).",
        )
        stages.add_argument(
            "--language_sample_chars",
            type=int,
            default=LanguageConfig.sample_chars,
            help="Characters of text language detection reads (0: all).",
        )
        stages.add_argument(
            "--language_trials",
            type=int,
            default=LanguageConfig.trials,
            help="langdetect's random trials per text (its own default: 7).",
        )
        stages.add_argument(
            "--near_duplicate_threshold",
            type=finite_float,
            default=DedupConfig.near_threshold,
            help="Least shingle containment (0-1) for a near-duplicate (verified copy).",
        )
        stages.add_argument(
            "--near_duplicate_min_shared",
            type=int,
            default=DedupConfig.min_shared_shingles,
            help="Least number of 5-word shingles a near-duplicate shares with its canonical "
            "(keeps short templated items, such as feed listings, apart).",
        )
        stages.add_argument(
            "--no_near_duplicates",
            dest="near_duplicates",
            action="store_false",
            default=True,
            help="Drop only exact and same-URL copies; keep near copies as articles.",
        )
        stages.add_argument(
            "--as_of",
            type=as_of_value,
            default=None,
            help="The moment publication times are checked against: a date later than a day "
            "past it is no publication time (an event's, a scheduled post's). Default: the "
            "run's start (its first attempt's, for a run id run again with --state), which "
            "the manifest records as config.extract.as_of; give that value to read the same "
            "input again on another day with the same dates.",
        )
        stages.add_argument(
            "--source_timezone",
            dest="source_timezones",
            action="append",
            type=source_timezone_value,
            metavar="HOST=ZONE",
            default=None,
            help="The IANA zone a source writes its clock times in where it writes no "
            "offset (nhk.or.jp=Asia/Tokyo: the host and the hosts under it); repeatable. "
            "Such a time is otherwise placed by an offset the same document states beside "
            "another of its times, else stored as if UTC.",
        )
        stages.add_argument(
            "--story_threshold",
            type=finite_float,
            default=StoryConfig.threshold,
            help="Least text similarity (0-1) for two articles to share a story_id.",
        )
        stages.add_argument(
            "--story_days",
            type=finite_float,
            default=StoryConfig.max_days,
            help="Articles whose dates (both known) are further apart than this many days "
            "never share a story.",
        )
        stages.add_argument(
            "--topic_threshold",
            type=finite_float,
            default=TopicsConfig.threshold,
            help="Score (0-1) a further top-level topic needs besides the best one.",
        )
        streaming = parser.add_argument_group("streaming (--streaming, docs/streaming.md)")
        streaming.add_argument(
            "--window_seconds",
            type=int,
            default=WindowConfig.window_seconds,
            help="With --streaming: event-time window, s; each window's rows are committed "
            "into ROOT as one run (stream-<window start>) once the watermark passes its end.",
        )
        streaming.add_argument(
            "--allowed_lateness_seconds",
            type=int,
            default=WindowConfig.allowed_lateness_seconds,
            help="With --streaming: how far behind the watermark an article may come and "
            "still count (committed as a late pane); later ones are rejected rows (late).",
        )
        streaming.add_argument(
            "--stream_ttl_days",
            type=finite_float,
            default=WindowConfig.ttl_days,
            help="With --streaming: days of event time an article stays in the dedup and "
            "stories state (an event-time timer then frees it).",
        )
        streaming.add_argument(
            "--poll_seconds",
            type=finite_float,
            default=300.0,
            help="With --streaming: seconds between polls of the feeds and matches of the "
            "watched --input folders.",
        )
        streaming.add_argument(
            "--pubsub_subscription",
            default=None,
            metavar="SUBSCRIPTION",
            help="With --streaming: read JSON records (one a message, as a .jsonl line) from "
            "this Pub/Sub subscription, projects/P/subscriptions/S (needs apache-beam[gcp]).",
        )
        follow.add_argument(
            "--follow",
            action="store_true",
            default=False,
            help="Keep running: one micro-batch every --interval seconds, each a committed "
            "run of the files new or changed in the --input folders (once their size is "
            "stable) and the feeds due; needs --state. SIGINT/SIGTERM or --max_runtime end "
            "it after the batch in flight commits (exit 0).",
        )
        follow.add_argument(
            "--interval",
            type=finite_float,
            default=None,
            metavar="SECONDS",
            help=f"With --follow: seconds between two batches' starts (default "
            f"{DEFAULT_FOLLOW_INTERVAL:g}); a batch with no new file and no feed due "
            "commits nothing.",
        )
        follow.add_argument(
            "--max_runtime",
            type=finite_float,
            default=None,
            metavar="SECONDS",
            help="With --follow: start no batch after this many seconds, and exit 0 once the "
            "batch in flight has committed (default: run until stopped).",
        )
        follow.add_argument(
            "--stop_wait_seconds",
            type=finite_float,
            default=None,
            metavar="SECONDS",
            help=f"With --follow: after SIGTERM/SIGINT, how long the batch in flight may take "
            f"to commit (default {DEFAULT_STOP_WAIT_SECONDS:g}); past it the batch is "
            "abandoned, nothing of it committed, and the process exits 143/130 as on a "
            "second signal (0: wait however long the batch takes).",
        )
        follow.add_argument(
            "--metrics_address",
            default=None,
            metavar="[HOST:]PORT",
            help="With --follow: serve the metrics at http://HOST:PORT/metrics for "
            "Prometheus to scrape (host 127.0.0.1 unless given; 0.0.0.0 for every "
            "interface), kept live: the last batch's figures, counters since the start, "
            "seconds since the last committed batch.",
        )
        feeds.add_argument(
            "--min_poll_seconds",
            type=int,
            default=FeedsConfig.min_poll_seconds,
            help="With --state: the shortest adaptive interval between two polls of a feed.",
        )
        feeds.add_argument(
            "--initial_poll_seconds",
            type=int,
            default=FeedsConfig.initial_poll_seconds,
            help="With --state: the interval a feed starts from (each poll, the first too, "
            "halves it after new entries and grows it by half without), within "
            "--min_poll_seconds and a day.",
        )
        feeds.add_argument(
            "--max_backoff_seconds",
            type=int,
            default=FeedsConfig.max_backoff_seconds,
            help="With --state: the longest wait after failed polls of a feed (each failure "
            "in a row doubles its interval up to this, or up to its own interval when "
            "longer); a 429/503 Retry-After may ask for longer.",
        )
        feeds.add_argument(
            "--poll_jitter",
            type=finite_float,
            default=FeedsConfig.poll_jitter,
            metavar="SHARE",
            help="With --state: move each feed's next poll time by up to this share of its "
            "wait, either way (0 to 0.5; 0: none), so feeds polled together fall due apart.",
        )
        run.add_argument(
            "--max_files_per_run",
            type=int,
            default=0,
            metavar="N",
            help="Read the --input files in successive committed runs of at most N files each "
            "(in path order; feeds and URLs go in the first), each run's dedup and stories "
            "seeing the runs before through --state (a temporary one without it): the "
            "memory of a local run then grows with N, not with the input "
            "(pipeline/passes.py). 0 (default): one run.",
        )
        run.add_argument(
            "--fail_on_rejected",
            type=finite_float,
            default=None,
            metavar="FRACTION",
            help="Exit 3 (after writing the tables) when more than this share (0-1) of the "
            "inputs was rejected; unset: never.",
        )
        run.add_argument(
            "--metrics_file",
            default=None,
            metavar="PATH",
            help="Write the run's metrics in Prometheus' text format to this local file "
            "(name it *.prom in node_exporter's textfile directory), atomically, at the end "
            "of every run, committed or failed; with --follow after every tick "
            "(docs/deploying.md: Monitoring with Prometheus).",
        )
        run.add_argument(
            "--progress_seconds",
            type=finite_float,
            default=30.0,
            help="Off a terminal, seconds between progress lines in the log (INFO).",
        )
        run.add_argument(
            "--log_level",
            default="INFO",
            choices=("DEBUG", "INFO", "WARNING", "ERROR"),
            type=str.upper,
            help="NewsBeam's logging on stderr: INFO says when the run starts and ends and, "
            "off a terminal, how far it got every 30 s (on a terminal a progress bar shows "
            "it); WARNING only problems; DEBUG adds every library's log and tracebacks.",
        )


class RunOptions(PipelineOptions):
    """A run's options (all of Beam's and NewsBeam's), each view built once.

    Beam builds a new view at every `view_as(cls)` (an argparse parser of cls's flags over
    the command line, ~0.2 ms) and asks ~500 times while it applies and translates the
    graph (a type check or inference of each step asks for TypeOptions): ~0.15 s of the
    launching process's CPU before the first bundle. Every view reads and writes the one
    dict of values its options share (Beam's design: views are windows on it) and the
    flags never change, so a kept view answers as a new one would. Copies and pickles
    leave the kept views behind (the copy builds its own)."""

    def view_as(self, cls: type[Any]) -> Any:
        views = self.__dict__.setdefault("_views", {})  # not setattr: Beam allows options only
        if cls not in views:
            views[cls] = super().view_as(cls)
        return views[cls]

    def __getstate__(self) -> dict[str, Any]:
        state = dict(super().__getstate__())
        state.pop("_views", None)
        return state


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything `build()` needs, in one typed value."""

    inputs: tuple[str, ...]
    # Where this run writes its tables: its staging folder in the dataset (any filesystem),
    # each table under `<table>/<partition>/<file_prefix>-SSSSS-of-NNNNN.parquet`.
    output_dir: str
    partition: str = "ingest_date=1970-01-01"
    file_prefix: str = "part"
    # The checked earlier state, where the new one goes and the run's start (taken once in
    # run.py): what the stateful stages get. See newsbeam.transforms.support.state.
    state: StateContext = dataclasses.field(default_factory=StateContext)
    # --state_keep_days: earlier dedup/stories state rows older than this are pruned (0: never).
    state_keep_days: float = 0
    # A local folder the pipeline's progress taps write to (None: no taps; remote runners).
    progress_dir: str | None = None
    read: ReadConfig = ReadConfig()
    extract: ExtractConfig = ExtractConfig()
    clean: CleanConfig = CleanConfig()
    language: LanguageConfig = LanguageConfig()
    dedup: DedupConfig = DedupConfig()
    stories: StoryConfig = StoryConfig()
    topics: TopicsConfig = TopicsConfig()
    places: PlacesConfig = PlacesConfig()
    feeds: FeedsConfig = FeedsConfig()
    # --redact_url_params: query parameters redacted where URLs are written, besides the
    # documented ones (support/redact.py).
    url_params: tuple[str, ...] = ()
    # The tables that get an empty file when the run has no row of them (None: all). A
    # follow-mode batch after its process's first gives () (transforms/write.WriteTables).
    empty_files: tuple[str, ...] | None = None


def config_from_options(
    options: NewsBeamOptions,
    output_dir: str,
    state: StateContext | None = None,
    progress_dir: str | None = None,
    partition: str = "ingest_date=1970-01-01",
    file_prefix: str = "part",
    as_of: dt.datetime | None = None,
) -> PipelineConfig:
    """Options -> config; `output_dir` is where this run writes (a staging folder), `state`
    the checked state context (none: no --state, the run starting now), `as_of` the moment
    a batch run reads its input as of (its start; --as_of overrides; None: the clock, as a
    stream reads)."""
    inputs = tuple(options.inputs or ())
    as_of_text = options.as_of or (as_of.astimezone(dt.timezone.utc).isoformat() if as_of else None)
    # A URL's user:password@ is never sent (urllib3 reads no credentials from a URL) and
    # would be written into every table, the state and the report: dropped here.
    page_urls = tuple(without_userinfo(i) for i in inputs if is_url(i))
    fetch = FetchConfig(
        user_agent=options.fetch_user_agent,
        connect_timeout=options.fetch_connect_timeout,
        read_timeout=options.fetch_read_timeout,
        total_timeout=options.fetch_total_timeout,
        max_retries=options.fetch_retries,
        retry_window_seconds=options.fetch_retry_window,
        backoff_seconds=options.fetch_backoff,
        max_retry_after_seconds=options.fetch_max_retry_after,
        max_redirects=options.fetch_max_redirects,
        max_bytes=options.fetch_max_bytes,
        allow_private_hosts=options.allow_private_hosts,
        allow_hosts=tuple(options.allow_hosts or ()),
        concurrency=options.fetch_concurrency,
        per_host_concurrency=options.per_host_concurrency,
        per_host_interval_seconds=options.per_host_interval,
    )
    return PipelineConfig(
        inputs=tuple(i for i in inputs if not is_url(i)),
        output_dir=output_dir,
        partition=partition,
        file_prefix=file_prefix,
        state=state
        or StateContext(
            keep_days=options.state_keep_days, keep_ids_days=options.state_keep_ids_days
        ),
        state_keep_days=options.state_keep_days,
        progress_dir=progress_dir,
        read=ReadConfig(
            max_document_bytes=options.max_document_bytes,
            outside_links=options.follow_outside_links,
        ),
        extract=ExtractConfig(
            max_html_tags=options.max_html_tags,
            max_page_seconds=options.max_page_seconds,
            as_of=as_of_text,
            source_timezones=source_timezones(options.source_timezones),
        ),
        clean=CleanConfig(min_words=options.min_words, max_seconds=options.max_page_seconds),
        language=LanguageConfig(
            sample_chars=options.language_sample_chars, trials=options.language_trials
        ),
        dedup=DedupConfig(
            near_threshold=options.near_duplicate_threshold,
            min_shared_shingles=options.near_duplicate_min_shared,
            near=options.near_duplicates,
        ),
        stories=StoryConfig(threshold=options.story_threshold, max_days=options.story_days),
        topics=TopicsConfig(threshold=options.topic_threshold),
        feeds=FeedsConfig(
            feed_urls=tuple(without_userinfo(url) for url in options.feed_urls or ()),
            feed_lists=tuple(options.feed_lists or ()),
            page_urls=page_urls,
            fetch_pages=options.fetch_pages,
            fetch_file_pages=options.fetch_file_pages,
            max_pages_per_run=options.max_pages_per_run,
            max_pages_per_feed=options.max_pages_per_feed,
            poll_due_only=options.poll_due_only,
            min_poll_seconds=options.min_poll_seconds,
            initial_poll_seconds=max(options.initial_poll_seconds, options.min_poll_seconds),
            max_backoff_seconds=options.max_backoff_seconds,
            poll_jitter=options.poll_jitter,
            not_due_health=options.not_due_health,
            seen_entries_days=options.seen_entries_days,
            page_retry_runs=options.page_retry_runs,
            sitemap_max_urls=options.sitemap_max_urls,
            sitemap_max_depth=options.sitemap_max_depth,
            sitemap_max_sitemaps=options.sitemap_max_sitemaps,
            read_sitemap_files=options.read_sitemap_files,
            fetch=fetch,
        ),
        url_params=url_param_names(options.redact_url_params or ()),
    )


def is_url(value: str) -> bool:
    """An http(s) URL (fetched), as opposed to a path or a glob (read)."""
    return value.lower().startswith(("http://", "https://"))
