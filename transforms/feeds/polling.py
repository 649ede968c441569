"""Polling and seen entries: when a feed is due, its state after a poll (adaptive interval,
conditional-request headers, permanent moves), which entry ids were seen before, and the
feed state tables a run leaves behind. Pure functions; the files are read and written by
newsbeam.transforms.support.state."""

from __future__ import annotations

import dataclasses
import datetime as dt
import email.utils
import hashlib
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from newsbeam.schemas.feeds import FeedState, SeenEntry
from newsbeam.transforms.feeds.config import FeedsConfig
from newsbeam.transforms.feeds.fetch import FetchResult, permanent_redirect
from newsbeam.transforms.support.state import (
    FEED_STATE,
    SEEN_ENTRIES,
    StateContext,
    read_table,
)


def is_not_due(state: FeedState | None, now: dt.datetime) -> bool:
    """True when the state names a next poll time still in the future."""
    return state is not None and state.next_poll_at is not None and state.next_poll_at > now


def _within(seconds: int, config: FeedsConfig) -> int:
    """`seconds` within the configured bounds of a poll interval."""
    return max(config.min_poll_seconds, min(config.max_poll_seconds, seconds))


def backoff_seconds(interval: int, failures: int, config: FeedsConfig) -> int:
    """The wait after `failures` failed polls in a row of a feed polled every `interval`
    seconds: the interval doubled per failure, at most `max_backoff_seconds` (or the
    interval itself, when longer: a back-off never polls a feed sooner than its pace)."""
    longest = max(interval, config.max_backoff_seconds)
    return min(interval * 2 ** min(failures, 16), longest)


def jittered(seconds: float, feed_url: str, now: dt.datetime, share: float) -> float:
    """`seconds` moved by up to `share` of itself, either way, by a hash of the feed and
    the poll time: spread, not random, so a run over the same polls gives the same state.
    Feeds polled at one tick with one interval then fall due at different ticks."""
    if share <= 0 or seconds <= 0:
        return seconds
    digest = hashlib.sha256(f"{feed_url}\n{now.isoformat()}".encode()).digest()
    unit = int.from_bytes(digest[:8], "big") / 2**64  # in [0, 1)
    return seconds * (1 + share * (2 * unit - 1))


def next_moved_to(
    feed_url: str, previous_moved_to: str | None, result: FetchResult, is_feed: bool
) -> str | None:
    """Where the feed subscribed as `feed_url` is to be polled next (None: at `feed_url`).

    It moves when this poll followed permanent redirects only and got a feed (a 301 to an
    error or an HTML page moves nothing: a feed reader would lose the feed); a temporary
    redirect or a failed poll keeps the address it had. Moving back to `feed_url` is
    no move."""
    moved = previous_moved_to
    target = permanent_redirect(result) if is_feed else None
    if target is not None:
        moved = target
    return None if moved == feed_url else moved


# The statuses whose Retry-After says when to come back (RFC 9110 15.5.20, 15.6.4).
RETRY_AFTER_STATUSES = frozenset({429, 503})


def retry_after_seconds(value: str | None, now: dt.datetime) -> float | None:
    """A Retry-After header -> seconds to wait from `now` (delay-seconds or an HTTP date;
    0 for a date past); None when absent or unreadable."""
    if not value:
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        at = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if at.tzinfo is None:  # "-0000": UTC by RFC 5322
        at = at.replace(tzinfo=dt.timezone.utc)
    return max(0.0, (at - now).total_seconds())


def next_feed_state(
    previous: FeedState | None,
    feed_url: str,
    result: FetchResult,
    new_entries: int,
    parsed_hash: str | None,
    now: dt.datetime,
    config: FeedsConfig,
    unparseable: bool = False,
) -> FeedState:
    """The state after one poll. The interval (`poll_interval_seconds`, the feed's own
    pace) halves after new entries and grows by half when there were none; a failure (a
    fetch error, or a body that is no readable feed) keeps it and backs the next poll off
    instead (backoff_seconds). All within the configured bounds, the next poll time moved
    by `poll_jitter` (jittered); a failed 429/503 is next due no sooner than its
    Retry-After (within the longest interval). `moved_to`: see next_moved_to."""
    interval = previous.poll_interval_seconds if previous else config.initial_poll_seconds
    failures = previous.consecutive_failures if previous else 0
    failed = result.error is not None or unparseable
    if failed:
        # Backed off from the feed's own pace, which it keeps for when it answers again: a
        # back-off from --initial_poll_seconds sent a feed polled every 15 minutes to two
        # hours after one 503, and it then took hours of halving to return to its pace
        # (entries a busy feed listed meanwhile scrolled off it unread), while a feed
        # polled daily was polled every two hours while it failed (review 63).
        failures += 1
        wait = backoff_seconds(interval, failures, config)
    else:
        failures = 0
        interval = interval // 2 if new_entries else int(interval * 1.5)
        wait = interval
    interval = _within(interval, config)
    pause = jittered(_within(wait, config), feed_url, now, config.poll_jitter)
    # Jittered within the bounds, to the millisecond (whole seconds left short waits
    # unjittered).
    pause = max(config.min_poll_seconds, min(config.max_poll_seconds, pause))
    next_poll_at = now + dt.timedelta(milliseconds=round(pause * 1000))
    if failed and result.http_status in RETRY_AFTER_STATUSES:
        # The server said when to come back (longer than a fetch waits): not sooner, within
        # the longest interval.
        asked = retry_after_seconds(result.headers.get("retry-after"), now)
        if asked:
            asked = min(asked, config.max_poll_seconds)
            next_poll_at = max(next_poll_at, now + dt.timedelta(seconds=asked))
    headers = result.headers
    keep = previous if (failed or result.not_modified) and previous else None
    return FeedState(
        feed_url=feed_url,
        etag=keep.etag if keep else headers.get("etag"),
        last_modified=keep.last_modified if keep else headers.get("last-modified"),
        body_hash=parsed_hash or (previous.body_hash if previous else None),
        last_fetch_at=now,
        last_new_entry_at=now
        if new_entries
        else (previous.last_new_entry_at if previous else None),
        consecutive_failures=failures,
        poll_interval_seconds=interval,
        next_poll_at=next_poll_at,
        moved_to=next_moved_to(
            feed_url, previous.moved_to if previous else None, result, is_feed=not failed
        ),
    )


def merge_seen_entries(
    old: Iterable[SeenEntry], sightings: Iterable[SeenEntry], now: dt.datetime
) -> list[SeenEntry]:
    """The seen table after this run, sorted by (feed, id): the old rows, each id listed by
    this run's parse of its feed (`sightings`) last seen now with the sighting's
    `page_failures` and `version` (see SeenEntry), new ids first seen now.

    An old row without `last_seen_at` (a file written before the column) counts as seen
    now: nothing is forgotten on the evidence of its first sighting alone."""
    merged = {
        (row.feed_url, row.entry_id): row._replace(
            last_seen_at=row.last_seen_at or now, page_failures=row.page_failures or 0
        )
        for row in old
    }
    for sighting in sightings:
        key = (sighting.feed_url, sighting.entry_id)
        known = merged.get(key)
        failures = sighting.page_failures  # this run's count: 0 once the entry was used
        # The version this run listed (an update read now is seen in its new version).
        version = sighting.version or (known.version if known is not None else None)
        if failures and known is not None and known.version:
            # An update whose page failed for now keeps the version read before: listed in
            # its new one again, it is offered again as the update it is (retried_updates).
            version = known.version
        if known is None:
            merged[key] = SeenEntry(
                sighting.feed_url, sighting.entry_id, now, now, failures, version
            )
        else:
            merged[key] = known._replace(last_seen_at=now, page_failures=failures, version=version)
    return [merged[key] for key in sorted(merged)]


def prune_seen_entries(
    entries: Sequence[SeenEntry],
    now: dt.datetime,
    days: int,
    last_polled: Mapping[str, dt.datetime | None],
) -> list[SeenEntry]:
    """The seen rows worth keeping: those last seen within `days` (0: all), and those in
    their feed's latest parsed document while the feed is still polled (`last_polled`,
    its last fetch, within `days`).

    Every id a parse lists is last seen at that parse's time, so the ids with a feed's
    latest `last_seen_at` are its latest document: a feed answering 304 for months still
    lists them, and they must not come back as new when it changes. A feed no longer
    polled (dropped from the subscriptions) loses its ids after `days`."""
    if days <= 0:
        return list(entries)
    cutoff = now - dt.timedelta(days=days)
    latest: dict[str, dt.datetime] = {}
    for entry in entries:
        assert entry.last_seen_at is not None  # merge_seen_entries fills it
        if entry.feed_url not in latest or entry.last_seen_at > latest[entry.feed_url]:
            latest[entry.feed_url] = entry.last_seen_at

    def keep(entry: SeenEntry) -> bool:
        assert entry.last_seen_at is not None
        if entry.last_seen_at >= cutoff:
            return True
        polled = last_polled.get(entry.feed_url)
        in_latest = entry.last_seen_at == latest[entry.feed_url]
        return in_latest and polled is not None and polled >= cutoff

    return [entry for entry in entries if keep(entry)]


@dataclasses.dataclass(frozen=True)
class PreviousFeedState:
    feeds: dict[str, FeedState]
    seen: dict[str, frozenset[str]]
    # A feed's new URL -> the URL it was subscribed as, for feeds that moved: a
    # subscription changed to the new URL starts from the old URL's state and always
    # counts the old URL's seen ids as its own.
    moved_from: dict[str, str] = dataclasses.field(default_factory=dict)
    # Feed URL -> {entry id: runs in a row its page failed for now}: the entries to offer
    # again (not in `seen`; SeenEntry.page_failures).
    failures: dict[str, dict[str, int]] = dataclasses.field(default_factory=dict)
    # Feed URL -> {seen entry id: the version last listed} (SeenEntry.version; ids seen
    # before versions were kept have none): a listing in another version is an update.
    versions: dict[str, dict[str, str]] = dataclasses.field(default_factory=dict)

    def state_for(self, url: str) -> FeedState | None:
        state = self.feeds.get(url)
        if state is None and url in self.moved_from:
            state = self.feeds[self.moved_from[url]]
        return state

    def seen_for(self, url: str) -> frozenset[str]:
        seen = self.seen.get(url, frozenset())
        old = self.moved_from.get(url)
        return seen | self.seen.get(old, frozenset()) if old else seen

    def versions_for(self, url: str) -> dict[str, str]:
        old = self.moved_from.get(url)
        if old is None:
            return self.versions.get(url, {})
        return {**self.versions.get(old, {}), **self.versions.get(url, {})}

    def failures_for(self, url: str) -> dict[str, int]:
        old = self.moved_from.get(url)
        if old is None:
            return self.failures.get(url, {})
        return {**self.failures.get(old, {}), **self.failures.get(url, {})}


def moved_feeds(feeds: Mapping[str, FeedState]) -> dict[str, str]:
    """New URL -> old key for every feed that moved (the first old key in sorted order when
    two moved to one URL). Kept once the new URL has state of its own: that state may come
    from polls that parsed nothing (304), so the old URL's ids are still the feed's."""
    moved: dict[str, str] = {}
    for url in sorted(feeds):
        target = feeds[url].moved_to
        if target and target != url:
            moved.setdefault(target, url)
    return moved


def last_polled(feeds: Mapping[str, FeedState]) -> dict[str, dt.datetime | None]:
    """Each feed's last fetch; a feed that moved counts as polled when its new URL was
    (subscribed as such), so its ids live on while they are the new URL's too."""
    polled = {url: state.last_fetch_at for url, state in feeds.items()}
    for url, state in feeds.items():
        successor = feeds.get(state.moved_to) if state.moved_to else None
        if successor is not None and successor.last_fetch_at is not None:
            own = polled[url]
            polled[url] = max(own, successor.last_fetch_at) if own else successor.last_fetch_at
    return polled


def previous_feed_state(
    feed_rows: Iterable[dict[str, Any]], seen_rows: Iterable[dict[str, Any]]
) -> PreviousFeedState:
    """The earlier state's feed and seen-entry rows -> what a run polls and skips by."""
    feeds = {row["feed_url"]: FeedState(**row) for row in feed_rows}
    seen: dict[str, set[str]] = {}
    failures: dict[str, dict[str, int]] = {}
    versions: dict[str, dict[str, str]] = {}
    for row in seen_rows:
        if row.get("page_failures"):  # its page failed for now: offered again
            failures.setdefault(row["feed_url"], {})[row["entry_id"]] = row["page_failures"]
            if row.get("version"):  # an update's: the version read before it
                versions.setdefault(row["feed_url"], {})[row["entry_id"]] = row["version"]
        else:
            seen.setdefault(row["feed_url"], set()).add(row["entry_id"])
            if row.get("version"):
                versions.setdefault(row["feed_url"], {})[row["entry_id"]] = row["version"]
    return PreviousFeedState(
        feeds,
        {url: frozenset(ids) for url, ids in seen.items()},
        moved_feeds(feeds),
        failures,
        versions,
    )


def load_feed_state(state: StateContext) -> PreviousFeedState:
    """The feed state of the earlier run (empty without one), from its checked files."""
    return previous_feed_state(read_table(state, FEED_STATE), read_table(state, SEEN_ENTRIES))


def next_feed_tables(
    feed_rows: Iterable[dict[str, Any]],
    seen_rows: Iterable[dict[str, Any]],
    states: Iterable[FeedState],
    sightings: Iterable[SeenEntry],
    run_at: dt.datetime,
    seen_entries_days: int = 0,
    page_failures: Mapping[tuple[str, str], int] | None = None,
) -> tuple[list[FeedState], list[SeenEntry], int]:
    """The feed state tables after this run: every feed's latest state (this run's polls
    over the earlier rows), the seen ids merged and pruned (see prune_seen_entries), and
    how many seen ids were pruned. `page_failures`: (feed URL, entry id) -> the count of
    each entry whose page failed for now (offered again by the next run)."""
    merged = {row["feed_url"]: FeedState(**row) for row in feed_rows}
    merged.update({state.feed_url: state for state in states})
    failures = page_failures or {}
    sightings = [
        s._replace(page_failures=failures.get((s.feed_url, s.entry_id), 0)) for s in sightings
    ]
    old_seen = [SeenEntry(**row) for row in seen_rows]
    all_seen = merge_seen_entries(old_seen, sightings, run_at)
    kept = prune_seen_entries(all_seen, run_at, seen_entries_days, last_polled(merged))
    return [merged[url] for url in sorted(merged)], kept, len(all_seen) - len(kept)
