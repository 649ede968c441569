"""Times as microseconds since the Unix epoch (UTC), the unit of Beam's event time and of
the state's `first_seen_at` comparisons."""

from __future__ import annotations

import datetime as dt

EPOCH = dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)


def micros_of(when: dt.datetime) -> int:
    """A datetime (naive: UTC) -> microseconds since the epoch."""
    if when.tzinfo is None:
        when = when.replace(tzinfo=dt.timezone.utc)
    return (when - EPOCH) // dt.timedelta(microseconds=1)


def datetime_of(micros: int) -> dt.datetime:
    """Microseconds since the epoch -> a UTC datetime."""
    return EPOCH + dt.timedelta(microseconds=micros)
