"""Event time for the streaming pipeline (`newsbeam --streaming`, docs/streaming.md).

AssignEventTime: Article -> the same Article, timestamped with its event time: its
`published_at` when known, else its arrival time (the timestamp the source gave it). A
`published_at` later than the arrival is a clock's error, not the future: the arrival
time is used then (a date in 2099 would hold its window open for ever).

RejectLate: timestamped Articles -> (on time, Rejected). Windows are fixed
(`window_seconds`); an article is late when the watermark has passed its window's end plus
`allowed_lateness_seconds`: it becomes a rejected row (stage `stream`, reason `late`), so
nothing is dropped silently, as Beam's own windowing would drop it. The stage learns how far
the watermark got from its event-time timers, one per window it saw an article of, set at
that window's end plus the lateness: a timer that fired closed its window. An article of a
window no earlier article opened, behind a watermark that no timer reported yet, goes on:
the committer (pipeline/streaming.py) then commits it as a late pane, never drops it.

Counters: `stream_in`, `stream_dropped_late`.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Iterable, Iterator
from typing import Any, Protocol, TypeVar

import apache_beam as beam
from apache_beam.coders import PickleCoder, VarIntCoder
from apache_beam.transforms.timeutil import TimeDomain
from apache_beam.transforms.userstate import ReadModifyWriteStateSpec, TimerSpec, on_timer
from apache_beam.transforms.window import TimestampedValue
from apache_beam.utils.timestamp import Timestamp

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.support.failures import REJECTED, counter, rejected_output
from newsbeam.transforms.support.times import datetime_of, micros_of

STAGE = "stream"
_MICROS = 1_000_000
# The one key of the streaming stateful steps (see docs/streaming.md: parallelism).
STREAM_KEY = "all"


@dataclasses.dataclass(frozen=True)
class WindowConfig:
    """Fixed event-time windows: `window_seconds` long (5 minutes: a warehouse current
    within minutes, a commit every 5 minutes); an article up to `allowed_lateness_seconds`
    behind the watermark still counts (a day: news is often published hours before a
    feed or an inbox delivers it, and its publication time is its event time); state
    entries live `ttl_days` of event time."""

    window_seconds: int = 300
    allowed_lateness_seconds: int = 86400
    ttl_days: float = 7.0

    @property
    def window_micros(self) -> int:
        return self.window_seconds * _MICROS

    @property
    def lateness_micros(self) -> int:
        return self.allowed_lateness_seconds * _MICROS

    @property
    def ttl_micros(self) -> int:
        return int(self.ttl_days * 86400 * _MICROS)


def event_micros(published_at: dt.datetime | None, arrival_micros: int) -> int:
    """The event time of an article: published_at when known and not after its arrival,
    else the arrival."""
    if published_at is None:
        return arrival_micros
    return min(micros_of(published_at), arrival_micros)


def window_start(micros: int, window_micros: int) -> int:
    """The start of the fixed window holding `micros` (windows start at the epoch)."""
    return micros - micros % window_micros


def window_end(micros: int, window_micros: int) -> int:
    """The (exclusive) end of the fixed window holding `micros`."""
    return window_start(micros, window_micros) + window_micros


def closing_time(micros: int, config: WindowConfig) -> int:
    """When the window of `micros` closes: its end plus the allowed lateness."""
    return window_end(micros, config.window_micros) + config.lateness_micros


def is_late(micros: int, closed_through: int | None, config: WindowConfig) -> bool:
    """Whether an article at `micros` is late: its window closed no later than
    `closed_through`, the latest closing time the watermark is known to have passed."""
    return closed_through is not None and closing_time(micros, config) <= closed_through


def late_detail(micros: int, closed_through: int, config: WindowConfig) -> str:
    return (
        f"event time {datetime_of(micros).isoformat()}: its window closed at "
        f"{datetime_of(closing_time(micros, config)).isoformat()} (window "
        f"{config.window_seconds} s + allowed lateness {config.allowed_lateness_seconds} s); "
        f"the watermark had passed {datetime_of(closed_through).isoformat()}"
    )


def _timestamped(article: Article, timestamp: Any = beam.DoFn.TimestampParam) -> Any:
    arrival = int(Timestamp.of(timestamp).micros)
    moment = event_micros(article.published_at, arrival)
    return TimestampedValue(article, Timestamp(micros=moment))


class AssignEventTime(beam.PTransform):
    """PCollection[Article] (timestamped by arrival) -> the same, timestamped by event time."""

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[Article]:
        return articles | "Timestamp" >> beam.Map(_timestamped).with_output_types(Article)


# The state and timers of _RejectLateFn (module level: a DoFn's parameters name them).
_GATE_CLOSED = ReadModifyWriteStateSpec("closed", VarIntCoder())
_GATE_OPEN = ReadModifyWriteStateSpec("open", PickleCoder())
_GATE_CLOSE = TimerSpec("close", TimeDomain.WATERMARK)
_GATE_CLOSED_PARAM = beam.DoFn.StateParam(_GATE_CLOSED)
_GATE_OPEN_PARAM = beam.DoFn.StateParam(_GATE_OPEN)
_GATE_CLOSE_PARAM = beam.DoFn.TimerParam(_GATE_CLOSE)
_TIMESTAMP_PARAM = beam.DoFn.TimestampParam


class _RejectLateFn(beam.DoFn):
    """(key, Article) -> Article on time, or a rejected row. State: the latest closing time
    the watermark passed (`closed`), the closing times of windows still open (`open`)."""

    def __init__(self, config: WindowConfig) -> None:
        self._config = config

    def process(
        self,
        keyed: tuple[str, Article],
        timestamp: Any = _TIMESTAMP_PARAM,
        closed: Any = _GATE_CLOSED_PARAM,
        pending: Any = _GATE_OPEN_PARAM,
        close: Any = _GATE_CLOSE_PARAM,
    ) -> Iterator[Any]:
        article = keyed[1]
        counter("stream_in").inc()
        micros = int(timestamp.micros)
        closed_through = closed.read()
        if is_late(micros, closed_through, self._config):
            assert closed_through is not None
            detail = late_detail(micros, closed_through, self._config)
            yield rejected_output(article.source, STAGE, "late", detail, article.text)
            return
        deadline = closing_time(micros, self._config)
        times = sorted(pending.read() or ())
        if deadline not in times:
            times = sorted([*times, deadline])
            pending.write(times)
            if times[0] == deadline:  # the earliest: the timer moves to it
                close.set(Timestamp(micros=deadline))
        yield article

    @on_timer(_GATE_CLOSE)
    def _closed(
        self,
        fired: Any = _TIMESTAMP_PARAM,
        closed: Any = _GATE_CLOSED_PARAM,
        pending: Any = _GATE_OPEN_PARAM,
        close: Any = _GATE_CLOSE_PARAM,
    ) -> None:
        now = int(fired.micros)
        closed.write(max(now, closed.read() or now))
        times = [time for time in pending.read() or () if time > now]
        pending.write(times)
        if times:
            close.set(Timestamp(micros=times[0]))


class RejectLate(beam.PTransform):
    """PCollection[Article] (timestamped by event time) -> (on time, Rejected): see the
    module docstring. One key: the stage is sequential (a few microseconds an article)."""

    def __init__(self, config: WindowConfig | None = None) -> None:
        super().__init__()
        self._config = config or WindowConfig()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        results = (
            articles
            | "Key" >> beam.Map(lambda article: (STREAM_KEY, article))
            | "Gate"
            >> beam.ParDo(_RejectLateFn(self._config))
            .with_output_types(Article, **{REJECTED: Rejected})
            .with_outputs(REJECTED, main="on_time")
        )
        return results.on_time, results[REJECTED]


# --- Panes: a window's rows, committed together ------------------------------------------


def due_time(micros: int, fired_through: int | None, window_micros: int) -> int:
    """When a row at `micros` is committed: its window's end, or, when that pane was
    committed already (the window ended no later than `fired_through`), the next window
    end after `fired_through` (a late pane)."""
    end = window_start(micros, window_micros) + window_micros
    if fired_through is None or end > fired_through:
        return end
    return window_start(fired_through, window_micros) + window_micros


def panes(
    items: Iterable[tuple[int, int, str, Any]], fired: int
) -> Iterator[tuple[int, dict[str, list[Any]]]]:
    """The rows due by `fired` ((window start, due, table, row) items), by window start."""
    by_window: dict[int, dict[str, list[Any]]] = {}
    for start, due, table, row in items:
        if due <= fired:
            by_window.setdefault(start, {}).setdefault(table, []).append(row)
    yield from sorted(by_window.items(), key=lambda item: item[0])


class _Expiring(Protocol):
    @property
    def expires_at(self) -> int: ...


_E = TypeVar("_E", bound=_Expiring)


def live(entries: Iterable[_E], now: int) -> tuple[list[_E], int]:
    """(the entries of a streaming driver's state that expire after `now` (event time,
    microseconds), how many expired)."""
    entries = list(entries)
    kept = [entry for entry in entries if entry.expires_at > now]
    return kept, len(entries) - len(kept)


def expire_at(entries: Iterable[_Expiring], next_expiry: Any, expire: Any) -> None:
    """Move a driver's expiry timer `expire` (and its record `next_expiry`) to the soonest
    expiry of `entries` when that is sooner than the one set."""
    entries = list(entries)
    if not entries:
        return
    # Up to the next millisecond: Beam keeps timers to the millisecond, and a timer set
    # for 12.345678 s fired at 12.345 s, before its entry expired, set itself again for the
    # same moment, for ever (an earlier job's article, ingested at 12.345678 s, seeded a
    # restarted job's dedup).
    soonest = -(-min(entry.expires_at for entry in entries) // 1000) * 1000
    current = next_expiry.read()
    if current is None or soonest < current:
        next_expiry.write(soonest)
        expire.set(Timestamp(micros=soonest))
