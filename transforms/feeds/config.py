"""The feed stage's settings (`--feed`, `--feeds`, `--input URL`, polling bounds, fetching)."""

from __future__ import annotations

import dataclasses

from newsbeam.transforms.feeds.fetch import FetchConfig


@dataclasses.dataclass(frozen=True)
class FeedsConfig:
    """Where feeds come from and how they are polled."""

    feed_urls: tuple[str, ...] = ()  # --feed URL
    feed_lists: tuple[str, ...] = ()  # --feeds FILE: one URL a line, or OPML
    page_urls: tuple[str, ...] = ()  # --input http(s)://...: a page (or a feed) to fetch
    fetch_pages: bool = True
    # Whether the pages of entries of a feed read from a file (a crawler's saved feeds) are
    # fetched (--fetch_file_pages). Off: the entry's own text is the article, and a run on
    # saved feeds contacts no host: on a machine without network a resolver that timed
    # out held the 200 saved feeds of the benchmark 164 s (review 117). Feeds fetched by
    # URL have their pages fetched (fetch_pages).
    fetch_file_pages: bool = False
    # Page fetches per run and per feed (0: no cap). Entries over the caps are left for the
    # next run: not inputs now, not marked seen, their feed re-read in full next time. At
    # the default 1 s between two requests to a host, 1000 pages take about 17 minutes.
    max_pages_per_run: int = 1000
    max_pages_per_feed: int = 200
    # Skip feeds whose next poll time (from the state) is still to come.
    poll_due_only: bool = False
    # The adaptive poll interval stays within these bounds (seconds).
    min_poll_seconds: int = 15 * 60
    initial_poll_seconds: int = 60 * 60
    max_poll_seconds: int = 24 * 60 * 60
    # The longest back-off of a failing feed (or its own interval, when longer). Uncapped
    # below a day, a feed polled every 15 minutes that failed for four hours was next
    # polled hours after it came back, and a busy feed's entries scrolled off it unread
    # (review 68). An hour: 24 polls a day of a dead feed, a cheap request each.
    max_backoff_seconds: int = 60 * 60
    # Each next poll time moves by up to this share of its wait, either way (poll_jitter):
    # feeds started together (a follow process's first batch) otherwise stay in lock-step
    # and hit the hosts they share in bursts, batch after batch.
    poll_jitter: float = 0.1
    # Whether a feed skipped as not due (--poll_due_only, follow mode) has a health row
    # (status not_due). Off: follow mode wrote a row per not-due feed per batch (about
    # 430,000 a day for 300 feeds every 60 s) that said nothing the feed state did not.
    not_due_health: bool = False
    # Seen entry ids not listed by their feed for this many days are forgotten (0: never).
    # 90 days: far longer than news feeds list an item (days to weeks), short enough that
    # the table stops growing with every entry ever ingested.
    seen_entries_days: int = 90
    # With --state: how many later runs offer again an entry with no text of its own whose
    # page failed in a way that may pass (timeout, connection, 5xx, 429); 0: none (the entry
    # is rejected and seen at once, as any other).
    page_retry_runs: int = 3
    # Sitemaps (sitemaps.py). The URLs read from one sitemap source in a poll (an index's
    # sitemaps together), the newest kept: a site's plain sitemap lists every page it ever
    # had (up to 50,000 a file); 1000 is five runs of --max_pages_per_feed's 200, far more
    # than a news sitemap holds (Google News: the last two days, at most 1000).
    sitemap_max_urls: int = 1000
    # Index levels followed: 1 reads an index's sitemaps, 2 (the protocol allows none, but
    # sites nest them) also an index named by an index. Bounds a loop of indexes too.
    sitemap_max_depth: int = 2
    # The sitemaps fetched for one index in a poll, all levels together, newest lastmod
    # first: an index lists a site's monthly sitemaps back for years.
    sitemap_max_sitemaps: int = 20
    # A sitemap of an index whose <lastmod> there has not moved since the last poll is not
    # fetched, for at most this long after its last fetch: then it is asked for again
    # (conditionally), in case the index's lastmod lags behind its sitemaps. 6 hours: an
    # index polled every 10 minutes costs one request a poll, not one per sitemap.
    sitemap_recheck_seconds: int = 6 * 60 * 60
    # Whether a sitemap file among the inputs (a folder of saved pages, a mirrored site) is
    # read as a feed, its pages fetched from the web (--read_sitemap_files). Off: a batch
    # run over saved files does not start crawling by surprise; the file is a rejected row.
    read_sitemap_files: bool = False
    fetch: FetchConfig = FetchConfig()
