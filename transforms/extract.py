"""ExtractArticles: RawDocument -> Article with its raw body and metadata (title, authors,
date, URLs, site), from HTML (trafilatura), raw text (the seed formats' header lines) or
JSON lines. `article_id` and `content_hash` stay empty until the clean stage.

When the fast path's text is much shorter than the page's paragraphs or JSON-LD
`articleBody` (a live blog), the full extraction runs and the longer text is kept, or the
reason it was not is recorded in `removed` (see `choose_text`).

Rejected (stage `extract`): `encoding`, `no_text`, `bad_json`, `missing_text`.
Counters: `extract_in`, `extract_out`, `extract_dropped_<reason>`, `extract_full_checked`,
`extract_kept_full`, `extract_kept_json_ld`, `extract_short_fast_path`, `extract_fragment`
(HTML that is not a whole page, parsed as a page's body: `parse_fragment`).
"""

from __future__ import annotations

import codecs
import contextlib
import contextvars
import dataclasses
import datetime as dt
import functools
import json
import logging
import re
import urllib.parse
import warnings
import zoneinfo
from collections.abc import Callable, Iterable, Iterator
from typing import Any, NamedTuple

import apache_beam as beam
import charset_normalizer
from dateutil import parser as date_parser
from lxml import etree

from newsbeam.schemas import Article, RawDocument, Rejected, Removal
from newsbeam.transforms.support import quiet_logs
from newsbeam.transforms.support.authors import (
    byline_names,
    head_metas,
    linked_author,
    meta_author_values,
    organisation_names,
    split_people,
    tidy_authors,
    without_byline,
    written_by,
)
from newsbeam.transforms.support.failures import apply_with_rejects, counter, rejected_output
from newsbeam.transforms.support.loaded import load_once
from newsbeam.transforms.support.local_dates import english_date, of_hijri_years
from newsbeam.transforms.support.main_text import (
    PreparedPage,
    TooDeep,
    copy_matches_trafilatura,
    keep_text_characters,
    load_justext_stoplist,
    main_text,
    parse_html,
    prepare_page,
)
from newsbeam.transforms.support.markup import html_to_text, unescape_references
from newsbeam.transforms.support.text import valid_text
from newsbeam.transforms.support.time_limit import (
    TimeLimitExceeded,
    can_fork,
    in_child,
    time_limit,
)
from newsbeam.transforms.support.titles import site_name, site_names, strip_site_suffix
from newsbeam.transforms.support.urls import (
    names_a_host,
    outlet_of,
    site_host,
    split_url,
    web_url,
    without_userinfo,
)

STAGE = "extract"
log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ExtractConfig:
    """Options of trafilatura's extraction that NewsBeam exposes. max_html_tags: a page with
    more tags ("<") than this, or more than 2.5 times as many attributes ("="), is rejected
    as too_complex before it is parsed: extraction time grows faster than the page (40,000
    `<span>`s in one paragraph took 2 minutes, 100,000 attributes on one element 2.5), and
    no time limit can stop lxml's parser once it runs. Real pages stay far below (the 439
    of the benchmarks: at most 8,100 tags and 22,000 attributes). max_page_seconds: the time
    one page's extraction may take (0: no limit), past which it is rejected as time_limit:
    pages under max_html_tags still took 10-15 s (20,000 inline elements in one paragraph),
    more on a loaded machine or with the flag raised; a real page takes milliseconds."""

    include_tables: bool = True
    favor_precision: bool = False
    max_html_tags: int = 40_000
    max_page_seconds: float = 30.0
    # The moment publication times are checked against ("not after tomorrow"), ISO 8601 with
    # its offset: a run's --as_of, else its start (pipeline/options.py); None: the clock at
    # each document (a stream). A time the clock read would make a later run of the same
    # input keep dates the first one dropped.
    as_of: str | None = None
    # (host, IANA zone) pairs, --source_timezone: the zone a source's clock times written
    # without an offset are in (`placed_in_zone`).
    source_timezones: tuple[tuple[str, str], ...] = ()


class ExtractError(ValueError):
    """An expected extraction failure; `reason` is the rejected table's reason code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason = reason

    def __reduce__(self) -> tuple[Any, ...]:  # from a child process (support/time_limit.py)
        return (ExtractError, (self.reason, str(self)))


# ---------------------------------------------------------------------------------------
# Pure helpers
# ---------------------------------------------------------------------------------------


# A UTF-8 encoded character of two to four bytes (RFC 3629's well-formed sequences).
_UTF8_SEQUENCE = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|\xe0[\xa0-\xbf][\x80-\xbf]|[\xe1-\xec\xee\xef][\x80-\xbf]{2}"
    rb"|\xed[\x80-\x9f][\x80-\xbf]|\xf0[\x90-\xbf][\x80-\xbf]{2}|[\xf1-\xf3][\x80-\xbf]{3}"
    rb"|\xf4[\x80-\x8f][\x80-\xbf]{2}"
)


def decode_text(data: bytes) -> str:
    """Bytes of a text document -> str: UTF-8 (with or without BOM), else detected.

    Text that holds UTF-8 characters and bytes that are not UTF-8 (a crawler's
    concatenation of two sources, a UTF-8 text with one cp1252 dash pasted in) is decoded
    as UTF-8 where it is, and its other bytes in the single-byte encoding detected on them
    alone: detected on the whole, one such byte turned every accented letter of the text
    into two ("Gespräche" read "GesprÃĊche")."""
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError:
        pass
    punctuated = _typographic_cp1252(data)
    if punctuated is not None:
        return punctuated
    legacy = _UTF8_SEQUENCE.sub(b" ", data)  # what is not UTF-8 decides its encoding
    whole: str | None = None
    try:
        whole = _detected(data)
    except ExtractError:
        if legacy == data:
            raise
    if whole is not None and (legacy == data or not _single_byte(whole)):
        return _decoded_as(data, whole)  # no UTF-8 in it, or a multi-byte one (Shift-JIS, GBK)
    try:
        best = _detected(legacy, prefer_cp1252=True)
    except ExtractError:
        if whole is None:
            raise
        best = whole
    if not _single_byte(best):
        return _decoded_as(data, whole or best)
    codec = f"newsbeam-utf8-then-{best}"
    if codec not in _MIXED_HANDLERS:
        _MIXED_HANDLERS.add(codec)
        codecs.register_error(codec, _legacy_bytes(best))
    return data.decode("utf-8-sig", errors=codec)


def _decoded_as(data: bytes, encoding: str) -> str:
    """`data` decoded in the multi-byte `encoding` detection chose, or an `encoding`
    rejection where the bytes do not decode in it. Detected on the bytes outside UTF-8
    alone (each UTF-8 character made one space), an odd number of bytes came out UTF-16,
    which the whole does not fit: 9 bytes with one UTF-8 character and no NUL (past the
    read stage's binary check) failed with a UnicodeDecodeError, an internal_error row
    with a traceback for a reason (tests/test_extract.py holds the bytes)."""
    try:
        return data.decode(encoding)
    except UnicodeDecodeError as error:
        raise ExtractError(
            "encoding",
            f"not UTF-8, and not {encoding} either, the encoding detection came closest to "
            f"(byte {error.start}: {error.reason})",
        ) from None


_NOT_ASCII = re.compile("[^\x00-\x7f]")


def _typographic_cp1252(data: bytes) -> str | None:
    """`data` read as cp1252 when every byte past ASCII is punctuation or a symbol there
    (“ ” ‘ ’ – — … • € £ ©), never a letter; else None. Such a text is ASCII words with
    Windows' typographic punctuation (review 70: a Word export's quotes and dashes), and
    any letter another code page reads in those few bytes is a guess: charset-normalizer
    found cp852 the most coherent, and "we won’t give up" came out "we wonĺt give up".
    A text in a language of its own has letters past ASCII (cp1250's "č", cp1251's "д",
    UTF-8's "Ã©" read as cp1252), which leaves the choice to detection."""
    try:
        text = data.decode("cp1252")
    except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, ...)
        return None
    beyond = _NOT_ASCII.findall(text)
    if not beyond or any(char.isalpha() for char in beyond):
        return None
    return text


def _detected(data: bytes, prefer_cp1252: bool = False) -> str:
    """The text encoding charset_normalizer finds most likely for `data`. `prefer_cp1252`:
    cp1252 whenever it reads `data` with no more mess than the best match, listed or not (a
    few bytes cannot tell encodings apart: one cp1252 dash in a UTF-8 text came out cp850)."""
    from charset_normalizer.md import mess_ratio

    matches = list(charset_normalizer.from_bytes(data))
    if not matches:
        raise ExtractError("encoding", "not UTF-8 and no other text encoding fits")
    # Western text decodes equally well as cp1250 and cp1252 ("è" or "č"); on a tie prefer
    # cp1252, the most common legacy encoding of news sites (and the web's default).
    best = min(matches, key=lambda m: (m.chaos, -m.coherence, m.encoding != "cp1252"))
    if prefer_cp1252 and best.encoding != "cp1252":
        try:
            as_cp1252 = data.decode("cp1252")
        except UnicodeDecodeError:  # bytes cp1252 leaves undefined (0x81, 0x8d, ...)
            return str(best.encoding)
        if mess_ratio(as_cp1252) <= best.chaos:
            return "cp1252"
    return str(best.encoding)


def _single_byte(encoding: str) -> bool:
    """Whether every byte is one character in `encoding` (cp1252, latin-1, koi8-r, ...):
    then a byte that is not UTF-8 can be decoded alone."""
    try:
        return len(bytes(range(256)).decode(encoding, errors="replace")) == 256
    except LookupError:
        return False


# The names of the error handlers registered by decode_text (one per legacy encoding).
_MIXED_HANDLERS: set[str] = set()


def _legacy_bytes(encoding: str) -> Any:
    """A codecs error handler that decodes the bytes UTF-8 refused in `encoding`."""

    def handler(error: UnicodeError) -> tuple[str, int]:
        if not isinstance(error, UnicodeDecodeError):
            raise error
        bad = error.object[error.start : error.end]
        return bad.decode(encoding, errors="replace"), error.end

    return handler


class Published(NamedTuple):
    """When an article was published, and how precisely that is known: "second", "minute"
    or "day" (a date alone is stored as midnight UTC; this says it is not a real midnight),
    or "month"/"year" for the rare date that names no day."""

    at: dt.datetime
    precision: str


class Zoneless(Published):
    """A clock time its text wrote without a zone or offset ("2026-12-05 10:30", "Sat, Dec
    16 2023 02:02:33 PM"), stored as if UTC until something places it (`placed_in_zone`):
    a Tokyo wire's 10:30 taken as UTC is 9 hours late. Equal to the Published of the same
    time and precision; the class alone says the offset is not known."""

    __slots__ = ()


class PlacedBySource(Published):
    """A zoneless clock time placed in the zone --source_timezone names for its host."""

    __slots__ = ()


class PlacedByDocument(Published):
    """A zoneless clock time placed at the offset its document writes beside another time
    of it (`stated_offset_near`)."""

    __slots__ = ()


# The values of the articles' `published_zone` column, by the class of a Published: how
# its zone was known. A plain Published is one whose time stated its offset (or "Z", or is
# a Unix time, or counted back from a fetch time).
_ZONE_OF_CLASS: dict[type, str] = {
    Published: "stated",
    PlacedBySource: "source_timezone",
    PlacedByDocument: "document",
    Zoneless: "assumed_utc",
}
_CLASS_OF_ZONE = {zone: kind for kind, zone in _ZONE_OF_CLASS.items()}
PUBLISHED_ZONES = tuple(_ZONE_OF_CLASS.values())


def published_zone(published: Published | None) -> str | None:
    """How `published`'s zone was known (the `published_zone` column): one of
    PUBLISHED_ZONES; None without a clock time (no date, or a date alone: a calendar day,
    stored as midnight UTC, is in no zone)."""
    if published is None or published.precision not in ("minute", "second"):
        return None
    return _ZONE_OF_CLASS.get(type(published), "stated")


def published_as(at: dt.datetime, precision: str, zone: str | None) -> Published:
    """The Published of a record's published_at, published_precision and published_zone
    (`published_zone`'s inverse: a feed entry's or a page's time compared again)."""
    return _CLASS_OF_ZONE.get(zone or "stated", Published)(at, precision)


def _read_time(parsed: dt.datetime, precision: str) -> Published:
    """A parsed value as Published, Zoneless when it had a clock time but no zone."""
    at = _utc(parsed)
    if parsed.tzinfo is None and precision in ("minute", "second"):
        return Zoneless(at, precision)
    return Published(at, precision)


# Two far-apart defaults: a date or time component the text does not give comes out
# different in the two parses, which is how the precision of any notation is found.
_DEFAULTS = (dt.datetime(1904, 1, 1, 0, 0, 0), dt.datetime(1951, 12, 28, 13, 47, 31))


# Zone abbreviations news sites write after a time ("4:15 PM EDT", "16:15 MESZ"), as UTC
# offsets in hours: dateutil knows only UTC/GMT (and the machine's own zone) and read the
# others as UTC, hours off. An abbreviation several zones use is read as the one news
# mostly means: CST as US Central, IST as India's, BST as British summer time.
_ZONE_HOURS = {
    "EST": -5, "EDT": -4, "CST": -6, "CDT": -5, "MST": -7, "MDT": -6, "PST": -8, "PDT": -7,
    "AKST": -9, "AKDT": -8, "HST": -10, "AST": -4, "ADT": -3, "NST": -3.5, "NDT": -2.5,
    "WET": 0, "WEST": 1, "BST": 1, "IST": 5.5, "CET": 1, "CEST": 2, "MEZ": 1, "MESZ": 2,
    "EET": 2, "EEST": 3, "MSK": 3, "PKT": 5, "JST": 9, "KST": 9, "HKT": 8, "SGT": 8,
    "AWST": 8, "ACST": 9.5, "ACDT": 10.5, "AEST": 10, "AEDT": 11, "NZST": 12, "NZDT": 13,
}  # fmt: skip
_ZONES: dict[str, Any] = {name: int(hours * 3600) for name, hours in _ZONE_HOURS.items()}
# "ET", "CT", "MT", "PT" (US bylines: "6:03 PM ET") are standard or daylight time by the
# date: the zone's rules give the offset, where a fixed one is an hour off half the year.
_ZONES.update(
    {
        name: zoneinfo.ZoneInfo(zone)
        for name, zone in (
            ("ET", "America/New_York"), ("CT", "America/Chicago"),
            ("MT", "America/Denver"), ("PT", "America/Los_Angeles"),
        )
    }
)  # fmt: skip


def _zone(name: str | None, offset: int | None) -> Any:
    """dateutil's `tzinfos`: a known abbreviation's zone (`_ZONES`), a written offset as it
    is, and no zone (UTC) for any other name. A callable, not the table itself: with a
    table, dateutil read a name the table lacks in the machine's own zone when the machine
    had that name ("WIB" on a machine in Jakarta, +7; UTC elsewhere), so one page had
    another time on another machine."""
    if name in _ZONES:
        return _ZONES[name]
    return offset  # None: a naive time, read as UTC like every zoneless time


# A date written with full stops puts the day first wherever it is written so ("01.08.2019":
# 1 August in German, Russian, Turkish, ...); dateutil read it month first.
_DOTTED_DATE = re.compile(r"\D*\d{1,2}\.\d{1,2}\.\d{2,4}\b")


def _parse_date(value: str, default: dt.datetime, fuzzy: bool = False) -> Any:
    """dateutil's parse with the zone abbreviations above (an unknown one, a warning from
    dateutil, leaves the time as UTC) and dotted dates day first; a date in another
    language or script is read in English (support/local_dates.py: "4. Dezember 2026",
    "2026年12月4日"). Raises ValueError for what is no date, an offset of a day or more
    ("+25:00") included: dateutil keeps one, and it raised only later, where the time was
    turned to UTC."""
    if not value.isascii() or of_hijri_years(value):  # "1405/09/13" too
        local = english_date(value)
        if local is None:  # "١٤٤٨/٠٦/١٤": read as Gregorian it was 1448
            raise ValueError(f"a date of another calendar: {value!r}")
        value = local
    try:
        return _dateutil_date(value, default, fuzzy)
    except (ValueError, OverflowError):
        local = english_date(value)  # "4 dicembre 2026": ASCII, but no English month
        if local is None or local == value:
            raise
        return _dateutil_date(local, default, fuzzy)


def _dateutil_date(value: str, default: dt.datetime, fuzzy: bool) -> Any:
    dayfirst = bool(_DOTTED_DATE.match(value))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", date_parser.UnknownTimezoneWarning)
        if fuzzy:
            parsed = date_parser.parse(
                value, default=default, tzinfos=_zone, dayfirst=dayfirst, fuzzy_with_tokens=True
            )
            parsed[0].utcoffset()  # raises ValueError for an offset no place has
            return parsed
        found = date_parser.parse(value, default=default, tzinfos=_zone, dayfirst=dayfirst)
        found.utcoffset()
        return found


def _utc(value: dt.datetime) -> dt.datetime:
    if value.tzinfo is None:
        value = value.replace(tzinfo=dt.timezone.utc)
    return value.astimezone(dt.timezone.utc)


def precision_between(first: dt.datetime, second: dt.datetime) -> str | None:
    """The precision of a value parsed twice with the two `_DEFAULTS` (None: no year)."""
    if first.year != second.year:
        return None
    if first.month != second.month:
        return "year"
    if first.day != second.day:
        return "month"
    if first.hour != second.hour or first.minute != second.minute:
        return "day"
    return "minute" if first.second != second.second else "second"


def parse_published(value: Any, reference: dt.datetime | None = None) -> Published | None:
    """A date or date-time in any common notation -> Published (aware UTC; naive = UTC).
    A datetime object counts as precise to the second. A relative date ("hace 2 horas") or
    one without its year ("5 de marzo") is no date, unless the document has a `reference`
    time, the moment it was fetched (or its feed's date): then it is read against that
    (`relative_published`). Never against the clock: the tables would change by the day."""
    found = _absolute_published(value)
    if found is None and reference is not None and isinstance(value, str):
        found = relative_published(value, reference)
        return found if found is not None and plausible_publication(found.at) else None
    return found


def _absolute_published(value: Any) -> Published | None:
    if value is None or value == "":
        return None
    if isinstance(value, dt.datetime):
        return Published(_utc(value), "second")
    epoch = unix_time(value)
    if epoch is not None:
        return epoch
    parsed = []
    for default in _DEFAULTS:
        try:
            parsed.append(_parse_date(str(value), default))
        except (ValueError, OverflowError):
            return None
    precision = precision_between(*parsed)
    if precision is None:
        return None
    found = _read_time(parsed[0], precision)
    return found if plausible_publication(found.at) else None


# Seconds (10 digits) or milliseconds (13) since 1970, as JSON exports and APIs write times;
# dateutil reads neither. Fewer digits are no such time ("20240305" is a date).
_UNIX_TIME = re.compile(r"^\s*(?P<digits>\d{10}|\d{13})(\.\d+)?\s*$")
_MILLISECONDS_FROM = 10**11


def unix_time(value: Any) -> Published | None:
    """A Unix time (seconds or milliseconds, a number or a string of digits) -> Published."""
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    if isinstance(value, str):
        if not _UNIX_TIME.match(value):
            return None
        value = float(value)
    if value >= _MILLISECONDS_FROM:
        value /= 1000
    try:
        at = dt.datetime.fromtimestamp(value, dt.timezone.utc)
    except (ValueError, OverflowError, OSError):
        return None
    return Published(at, "second") if plausible_publication(at) else None


# Years no publication is dated in: placeholders ("0001-01-01", .NET's empty DateTime;
# "9999-12-31") that a record or feed gives for "no date".
_FIRST_YEAR, _LAST_YEAR = 1000, 9000


# A publication is read after it appeared: a time later than this past the moment it is read
# is an event's date, a scheduled post's or a wrong zone's (a day covers every zone's offset).
_FUTURE_SLACK = dt.timedelta(days=1)


def plausible_publication(at: dt.datetime) -> bool:
    """Whether `at` can be a publication time, not a placeholder for none nor a time still
    to come (a JSON record's, a feed entry's or a text's "2031-03-05" was kept: a researcher's
    count by day had days after the run)."""
    return _FIRST_YEAR <= at.year < _LAST_YEAR and at <= latest_publication()


# The moment documents are read "as of" (`publications_as_of`), set around each document's
# extraction from its config; unset, the clock. A context variable, not a parameter: the
# dates are checked deep inside the readers of every format (feeds' too), and it stays with
# the thread that reads the document.
_AS_OF: contextvars.ContextVar[dt.datetime | None] = contextvars.ContextVar(
    "newsbeam_as_of", default=None
)


def as_of_time(value: str | None) -> dt.datetime | None:
    """An `as_of` setting (ISO 8601; without an offset, UTC) -> an aware UTC time."""
    if not value:
        return None
    at = dt.datetime.fromisoformat(value.replace("Z", "+00:00"))
    return _utc(at)


# The zones of the sources a user named (`publications_as_of`): (host, IANA zone) pairs.
_SOURCE_ZONES: contextvars.ContextVar[tuple[tuple[str, str], ...]] = contextvars.ContextVar(
    "newsbeam_source_zones", default=()
)


@contextlib.contextmanager
def publications_as_of(
    value: str | None, source_zones: tuple[tuple[str, str], ...] = ()
) -> Iterator[None]:
    """Publication times checked in this block against `value` (ExtractConfig.as_of), not
    the clock: the same input read on another day keeps the same dates. `source_zones`
    (ExtractConfig.source_timezones) place the zoneless clock times of those hosts."""
    token = _AS_OF.set(as_of_time(value))
    zones_token = _SOURCE_ZONES.set(tuple(source_zones))
    try:
        yield
    finally:
        _SOURCE_ZONES.reset(zones_token)
        _AS_OF.reset(token)


def latest_publication() -> dt.datetime:
    """The latest time a publication read now can have (`_FUTURE_SLACK` past the moment it
    is read as of: `publications_as_of`, else the clock)."""
    return (_AS_OF.get() or dt.datetime.now(dt.timezone.utc)) + _FUTURE_SLACK


def htmldate_latest() -> dt.datetime:
    """htmldate's `max_date`: the end of the day of `latest_publication` (UTC, naive as
    htmldate compares). Its own default, the end of today on the machine's clock in its
    local zone, dropped a page dated today (UTC) on a machine in New York before 05:00 UTC
    and kept one dated tomorrow in Auckland: another date on another machine or day. A
    whole day, as htmldate's own, keeps its caches valid from one page to the next; the
    exact bound is `plausible_publication`'s."""
    return latest_publication().replace(
        tzinfo=None, hour=23, minute=59, second=59, microsecond=999999
    )


# htmldate's answer as `html_metadata` asks for it (`%Y-%m-%dT%H:%M:%S%z`: the offset only
# where the page gave one).
_HTMLDATE_ANSWER = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:([+-])(\d{2})(\d{2}))?", re.ASCII
)


def _htmldate_time(found: str) -> Published | None:
    """htmldate's answer in its own format, read from its parts: what `parse_published`
    gives for it (dateutil, twice: 0.14 ms a page, as much as htmldate's `find_date` took
    to find it), else None (any other text, or parts no time has: left to dateutil)."""
    match = _HTMLDATE_ANSWER.fullmatch(found)
    if match is None:
        return None
    year, month, day, hour, minute, second, sign, hours, minutes = match.groups()
    try:
        zone = None
        if sign:
            offset = dt.timedelta(hours=int(hours), minutes=int(minutes))
            zone = dt.timezone(-offset if sign == "-" else offset)  # a day or more: ValueError
        at = dt.datetime(
            int(year), int(month), int(day), int(hour), int(minute), int(second), tzinfo=zone
        )
    except ValueError:
        return None
    if at.year < _FIRST_YEAR:  # dateutil reads a year before 1000 its own way
        return None
    published = _read_time(at, "second")
    return published if plausible_publication(published.at) else None


def htmldate_published(found: str | None) -> Published | None:
    """htmldate's answer (`%Y-%m-%dT%H:%M:%S%z`) -> Published. htmldate writes a time for
    every date; only a time it found carries a UTC offset, so an unzoned midnight is a date
    alone."""
    published = (found and _htmldate_time(found)) or parse_published(found)
    if published is None or found is None:
        return None
    zoned = bool(re.search(r"[+-]\d{4}$", found))
    if not zoned and published.at.time() == dt.time(0, 0):
        return Published(published.at, "day")
    # _replace keeps a Zoneless time so (htmldate's answer without its offset).
    return published._replace(precision="second" if published.at.second else "minute")


# A timestamp as pages write one in their metadata with its UTC offset: an ISO date, "T" or
# a space, hh:mm[:ss[.fraction]], then "Z" or +hh[:]mm (a space before it allowed).
_ZONED_TIMESTAMP = re.compile(
    r"(\d{4}-\d{2}-\d{2})[T ](\d{2}):(\d{2})(?::(\d{2}))?(?:[.,]\d+)?\s?(Z|[+-]\d{2}:?\d{2})"
)


# A timestamp as RFC 2822 writes one (feeds, and JSON-LD of some CMSs: "datePublished": "Mon,
# 18 Nov 2019 16:07:38 -0600"): its offset was never found, the time read as UTC, 6 hours off.
_RFC_TIMESTAMP = re.compile(
    r"\b(?:(?:Mon|Tue|Wed|Thu|Fri|Sat|Sun), )?"
    r"(\d{1,2}) (Jan|Feb|Mar|Apr|May|Jun|Jul|Aug|Sep|Oct|Nov|Dec) ((?:19|20)\d\d) "
    r"(\d{2}:\d{2}(?::\d{2})?) ?([+-]\d{4}|GMT|UTC|Z)\b"
)


def rfc_as_iso(text: str) -> str:
    """`text` with its RFC 2822 timestamps written as ISO 8601 ones, which the offset and
    stated-time readers read ("18 Nov 2019 16:07:38 -0600" -> "2019-11-18T16:07:38-0600")."""
    if " 19" not in text and " 20" not in text:  # no year: most meta values
        return text

    def iso(match: Any) -> str:
        day, month, year, clock, zone = match.groups()
        number = _MONTH_ABBREVIATIONS.index(month.lower()) + 1
        zone = "Z" if zone in ("GMT", "UTC", "Z") else zone
        return f"{year}-{number:02d}-{int(day):02d}T{clock}{zone}"

    return _RFC_TIMESTAMP.sub(iso, text)


def with_page_offset(published: Published | None, texts: Iterable[str]) -> Published | None:
    """A time htmldate gave without its UTC offset, with the offset the page writes beside
    that same local time.

    htmldate reads "2025-06-05T14:46:12+02:00" from a page's metadata and answers
    "2025-06-05T14:46:12" (or with "+0000"): the clock reading without its offset, which,
    taken as UTC, is wrong by the offset (on the fundus pages, 10 of 257 by one or two
    hours). The first of `texts` (the page's JSON-LD, then its meta tags' contents) that
    writes the same date, hour and minute (and second, when ours is known to the second)
    with an offset gives it. A date alone (precision "day") has no time to place."""
    if published is None or published.precision not in ("minute", "second"):
        return published
    local = published.at
    reading = (local.date().isoformat(), local.hour, local.minute)
    # How an RFC 2822 timestamp of that day writes its month and year ("Jun 2025"). Only a
    # text holding it has one to rewrite that can give the time: `rfc_as_iso` writes each
    # timestamp's own date, and what it rewrites holds no ISO timestamp. Others are not
    # rewritten (a regular expression over each JSON-LD script, most of this function's CPU).
    rfc_month = f"{_MONTH_ABBREVIATIONS[local.month - 1].title()} {local.year}"
    for text in texts:
        if rfc_month in text:
            text = rfc_as_iso(text)
        if reading[0] not in text:  # most texts: one look in C, no regular expression
            continue
        for match in _ZONED_TIMESTAMP.finditer(text):
            day, hour, minute, second, zone = match.groups()
            if (day, int(hour), int(minute)) != reading:
                continue
            if published.precision == "second" and int(second or 0) != local.second:
                continue
            if zone == "Z":  # stated as UTC: no longer a zoneless time
                return Published(published.at, published.precision)
            offset = _offset(zone)
            if offset is None:
                continue
            return Published(
                local.replace(tzinfo=offset).astimezone(dt.timezone.utc), published.precision
            )
    return published


# How far from a zoneless clock time another timestamp of the same document may be for its
# offset to be taken: a week. A zone's offset changes at most twice a year (daylight
# saving), so an offset stated within a week is the same period's, but in the week around
# a change (an hour off then; a --source_timezone's rules know the change).
_NEARBY_OFFSET = dt.timedelta(days=7)
# A date value short enough to be one date alone (a feed's "Sun, 17 Dec 2023 00:58:40 EST"),
# read by dateutil for its zone where no ISO or RFC 2822 offset is written.
_DATE_VALUE_CHARS = 64


def stated_offsets(texts: Iterable[str | None]) -> list[tuple[dt.datetime, dt.tzinfo]]:
    """(local clock reading, its offset) of every timestamp `texts` write with an offset:
    ISO 8601 and RFC 2822 ones anywhere in a text, and a short text that is one date with
    a zone dateutil reads ("... EST", "... +09:00")."""
    found: list[tuple[dt.datetime, dt.tzinfo]] = []
    for text in texts:
        if not text:
            continue
        iso = rfc_as_iso(text)
        matched = False
        for match in _ZONED_TIMESTAMP.finditer(iso):
            reading = _zoned_reading(match)
            if reading is not None and reading[1] is not None:
                found.append((reading[0], reading[1]))
                matched = True
        if not matched and len(text) <= _DATE_VALUE_CHARS and any(c.isdigit() for c in text):
            try:
                parsed = _parse_date(text.strip(), _DEFAULTS[0])
            except (ValueError, OverflowError):
                continue
            offset = parsed.utcoffset()
            if offset is not None:
                found.append((parsed.replace(tzinfo=None), dt.timezone(offset)))
    return found


def stated_offset_near(local: dt.datetime, texts: Iterable[str | None]) -> dt.tzinfo | None:
    """The offset of the timestamp of `texts` nearest the clock reading `local` (naive),
    within `_NEARBY_OFFSET`; the first of equals. None when none is that near."""
    best: tuple[dt.timedelta, dt.tzinfo] | None = None
    for reading, offset in stated_offsets(texts):
        apart = abs(reading - local)
        if apart <= _NEARBY_OFFSET and (best is None or apart < best[0]):
            best = (apart, offset)
    return best[1] if best else None


def source_zone(*urls: str | None) -> dt.tzinfo | None:
    """The zone --source_timezone names for the host of the first of `urls` it names (the
    host itself or a domain above it: "nhk.or.jp" for www3.nhk.or.jp; the longest wins)."""
    zones = _SOURCE_ZONES.get()
    if not zones:
        return None
    for url in urls:
        try:
            host = (urllib.parse.urlsplit(url).hostname or "") if url else ""
        except ValueError:
            continue
        named = [(len(name), zone) for name, zone in zones
                 if host == name or host.endswith("." + name)]  # fmt: skip
        if named:
            return zoneinfo.ZoneInfo(max(named)[1])
    return None


def placed_in_zone(
    published: Published | None, urls: Iterable[str | None] = (), texts: Iterable[str | None] = ()
) -> Published | None:
    """A zoneless clock time (`Zoneless`) placed in its zone: the one --source_timezone
    names for the document's host (an IANA zone: its daylight saving rules by the date;
    a clock reading the change repeats is its first), else the offset of the timestamp the
    same document states nearest it (`stated_offset_near`: its other dates, a feed's own).
    Neither: it stays as if UTC (Zoneless: `published_zone` "assumed_utc"). Placed, it is
    a PlacedBySource or PlacedByDocument (`published_zone`). Anything else is returned as
    it is."""
    if not isinstance(published, Zoneless):
        return published
    local = published.at.replace(tzinfo=None)
    placed: type[Published] = PlacedBySource
    zone = source_zone(*urls)
    if zone is None:
        zone, placed = stated_offset_near(local, texts), PlacedByDocument
    if zone is not None:
        at = local.replace(tzinfo=zone).astimezone(dt.timezone.utc)
        if plausible_publication(at):
            return placed(at, published.precision)
    return published


def count_published_zone(article: Article) -> None:
    """Count an article leaving extraction by its `published_zone`
    (`extract_published_zone_<zone>`; none for a null one): the counters are the column's
    counts over the articles extracted, copies and later rejections included."""
    if article.published_zone is not None:
        counter(f"extract_published_zone_{article.published_zone}").inc()


# Where a page writes its publication time in its body: the element schema.org marks, then
# the first <time datetime> (a byline's; those of comments and related stories come later)
# that is not the update's (WordPress themes: `<time class="updated">`).
_BODY_TIMESTAMPS = (
    "//*[@itemprop='datePublished']/@content|//*[@itemprop='datePublished']/@datetime",
    "(//time[@datetime][contains(@class, 'publish') or not(contains(@class, 'updated')"
    " or contains(@class, 'modified'))])[1]/@datetime",
)


def with_body_time(published: Published | None, tree: Any) -> Published | None:
    """A date htmldate found to the day only, with the time the page's body gives for that
    same day: htmldate reads a byline's `<time datetime="2024-03-05T14:30:00+01:00">` (and
    an `itemprop="datePublished"`) as the day alone, and a researcher counting by hour then
    has midnight. Only a full timestamp with its UTC offset, on the local day found."""
    if published is None or published.precision != "day":
        return published
    for query in _BODY_TIMESTAMPS:
        for value in tree.xpath(query):
            match = _ZONED_TIMESTAMP.fullmatch(str(value).strip())
            if match is None or match.group(1) != published.at.date().isoformat():
                continue
            if (reading := _zoned_reading(match)) is None:
                continue
            local, offset = reading
            second = match.group(4)
            # A local midnight is how CMSs write a date alone (FreiePresse: "T00:00:00+01:00").
            if offset is not None and local.time() != dt.time(0, 0):
                at = local.replace(tzinfo=offset).astimezone(dt.timezone.utc)
                return Published(at, "second" if second and int(second) else "minute")
    return published


def _offset(zone: str) -> dt.timezone | None:
    """ "Z", "+02:00" or "-0500" (a _ZONED_TIMESTAMP's last group) -> its timezone; None
    for an offset of a day or more ("+25:00"), which no place has."""
    if zone == "Z":
        return dt.timezone.utc
    sign = -1 if zone[0] == "-" else 1
    try:
        return dt.timezone(sign * dt.timedelta(hours=int(zone[1:3]), minutes=int(zone[-2:])))
    except ValueError:
        return None


def _zoned_reading(match: re.Match[str]) -> tuple[dt.datetime, dt.timezone | None] | None:
    """A _ZONED_TIMESTAMP match -> (its clock reading, naive; its offset, None for one
    no place has); None for a date or time that does not exist ("2024-13-45", "25:00")."""
    day, hour, minute, second, zone = match.groups()
    try:
        local = dt.datetime.fromisoformat(day).replace(
            hour=int(hour), minute=int(minute), second=int(second or 0)
        )
    except ValueError:
        return None
    return local, _offset(zone)


_LD_DATE_PUBLISHED = re.compile(r'"datePublished"\s*:\s*"([^"]+)"')


# What a stated publication time may be: not a placeholder ("0001-01-01T00:00:00Z") nor
# after the run (htmldate's own bounds for a page's date start in 1995).
_EARLIEST_PUBLICATION = dt.datetime(1995, 1, 1, tzinfo=dt.timezone.utc)


def stated_publication(metas: list[Any], json_ld: list[str]) -> Published | None:
    """The page's explicit publication time: the first JSON-LD datePublished, else
    OpenGraph's article:published_time (the order `with_page_offset` reads them in), when
    it is a full time with its UTC offset, and a plausible one."""
    values = [match.group(1) for text in json_ld if (match := _LD_DATE_PUBLISHED.search(text))]
    values += [
        element.get("content")
        for element in metas
        if (element.get("property") or element.get("name") or "").lower()
        == "article:published_time"
    ]
    latest = latest_publication()
    for value in values:
        # Read from the pattern's parts, not by dateutil (~0.1 ms a value, on every page).
        match = _ZONED_TIMESTAMP.fullmatch(rfc_as_iso(value).strip()) if value else None
        if match is None or (reading := _zoned_reading(match)) is None or reading[1] is None:
            continue
        local, offset = reading
        second = match.group(4)
        at = local.replace(tzinfo=offset).astimezone(dt.timezone.utc)
        if _EARLIEST_PUBLICATION <= at <= latest:
            return Published(at, "second" if second else "minute")
    return None


def earliest_stated(found: Published | None, stated: Published | None) -> Published | None:
    """htmldate's date, or the page's stated publication time (`stated_publication`) where
    that is earlier, or the same day told to the minute.

    htmldate reads generic tags before the explicit ones (`<meta name="date">`,
    DC.date.issued, "pubdate"), which many sites fill with the last modification: on the
    fundus pages El País, ABC and Stuttgarter Zeitung got their update time, hours after
    the `article:published_time` / `datePublished` they state. A publication is never
    later than itself; a stated time is kept only when no earlier date was found."""
    if stated is None:
        return found
    if found is None or stated.at < found.at:
        return stated
    if found.precision == "day" and stated.at - found.at < dt.timedelta(days=1):
        return stated
    return found


# A date in a URL's path as CMSs write one: /2024/03/05/, /2024/mar/05/ (The Guardian),
# 2024-03-05 or 2024_03_05, and 20240305 between separators ("story-20240305.html",
# "/20240305/"). htmldate reads the first two forms of a page's own URL only; a text's
# `**URL**` line and a JSON record's `url` were never read.
_MONTH_ABBREVIATIONS = "jan feb mar apr may jun jul aug sep oct nov dec".split()
_URL_DATES = (
    re.compile(r"/((?:19|20)\d\d)/(\d{1,2})/(\d{1,2})(?=/|$)"),
    re.compile(
        rf"/((?:19|20)\d\d)/({'|'.join(_MONTH_ABBREVIATIONS)})[a-z]*/(\d{{1,2}})(?=/|$)", re.I
    ),
    re.compile(r"(?<![\d])((?:19|20)\d\d)[-_](\d{2})[-_](\d{2})(?!\d)"),
    re.compile(r"(?<=[/_.-])((?:19|20)\d\d)(\d{2})(\d{2})(?=[/_.-]|$)"),
)


def url_date(url: str | None) -> Published | None:
    """The publication day a URL's path states (`_URL_DATES`), when it is a real, plausible
    day (from 1995, as htmldate, and not after tomorrow); the host and query are not read
    ("?v=20240305" is often a cache key)."""
    if not url:
        return None
    try:
        path = urllib.parse.urlsplit(url).path
    except ValueError:  # "http://[bad": a record's field that breaks its format
        return None
    latest = latest_publication().date()
    for pattern in _URL_DATES:
        for match in pattern.finditer(path):
            year, month, day = match.groups()
            number = (
                _MONTH_ABBREVIATIONS.index(month[:3].lower()) + 1 if month.isalpha() else int(month)
            )
            try:
                found = dt.date(int(year), number, int(day))
            except ValueError:  # "20241399": an id, not a date
                continue
            if _EARLIEST_PUBLICATION.date() <= found <= latest:
                return Published(
                    dt.datetime(found.year, found.month, found.day, tzinfo=dt.timezone.utc), "day"
                )
    return None


_PRECISION_RANK = {"year": 0, "month": 1, "day": 2, "minute": 3, "second": 4}


def most_precise(*candidates: Published | None) -> Published | None:
    """The most precise of several sources' dates (the first among equals): a date read
    from a URL never overrides a full timestamp from the page's metadata."""
    best: Published | None = None
    for candidate in candidates:
        if candidate is None:
            continue
        if best is None or _PRECISION_RANK[candidate.precision] > _PRECISION_RANK[best.precision]:
            best = candidate
    return best


def published_fields(published: Published | None) -> dict[str, Any]:
    """The Article fields of a publication date."""
    if published is None:
        return {"published_at": None, "published_precision": None, "published_zone": None}
    return {
        "published_at": published.at,
        "published_precision": published.precision,
        "published_zone": published_zone(published),
    }


# ---------------------------------------------------------------------------------------
# Dates relative to a reference time (a fetched page's fetch time, a feed's own date)
# ---------------------------------------------------------------------------------------

# "2 hours ago" and its kin, unit words by the unit they count (German and Dutch plurals,
# Romance ones, abbreviations). A relative date needs a moment it is relative to: only a
# document fetched at a known time has one (a file's or a record's would be the run's
# clock, another date on another day).
_UNIT_WORDS = {
    "seconds": "s sec secs second seconds segundo segundos sekunde sekunden seconde secondes "
    "secondo secondi seconde seconden",
    "minutes": "m min mins minute minutes minuto minutos minuten minuti minuut",
    "hours": "h hr hrs hour hours hora horas std stunde stunden heure heures ora ore uur",
    "days": "day days día dias días dia tag tage tagen jour jours giorno giorni dag dagen",
    "weeks": "week weeks semana semanas woche wochen semaine semaines settimana settimane weken",
}
_UNIT_OF = {word: unit for unit, words in _UNIT_WORDS.items() for word in words.split()}
_ONE = "a an one un una uno ein eine einer einem einen une um uma een".split()
_UNIT = "|".join(sorted(map(re.escape, _UNIT_OF), key=len, reverse=True))
_COUNT = rf"(?P<count>\d{{1,3}}|{'|'.join(_ONE)})"
_AGO = (
    # Spanish, German, French, Portuguese and Italian ("ha"), word first: "hace 2 horas".
    re.compile(rf"\b(?:hace|vor|il y a|há|ha)\s+{_COUNT}\s+(?P<unit>{_UNIT})\b", re.I),
    # English, Italian, Dutch, Portuguese, word last: "2 hours ago", "2 ore fa".
    re.compile(rf"\b{_COUNT}\s*(?P<unit>{_UNIT})\.?\s+(?:ago|fa|geleden|atrás)\b", re.I),
)
# Days named relative to today, in the languages above; "hier" is French only where the
# whole value is a date ("hier, 14:30"), as are all of these (`_NAMED_DAY`).
_DAYS_BACK = {
    "today": 0, "hoy": 0, "heute": 0, "aujourd'hui": 0, "oggi": 0, "hoje": 0, "vandaag": 0,
    "yesterday": 1, "ayer": 1, "gestern": 1, "hier": 1, "ieri": 1, "ontem": 1,
    "gisteren": 1, "anteayer": 2, "vorgestern": 2, "avant-hier": 2, "anteontem": 2,
    "eergisteren": 2, "l'altro ieri": 2,
}  # fmt: skip
_LABEL = (
    r"(?:(?:published|posted|updated|publicado|actualizado|ver[öo]ffentlicht|aktualisiert|"
    r"publi[ée]|mis à jour|pubblicato|aggiornato|gepubliceerd|atualizado)\s*:?\s*)?"
)
_NAMED_DAY = re.compile(
    rf"^\W*{_LABEL}(?P<day>{'|'.join(sorted(map(re.escape, _DAYS_BACK), key=len, reverse=True))})"
    r"(?:\s*,?\s*(?:at|um|a las|à|alle|às|om)?\s*(?P<hour>\d{1,2})[:.h](?P<minute>\d{2})"
    r"(?:\s*(?:uhr|h))?)?\W*$",
    re.I,
)
# A date more than this after the reference, read without its year, is last year's: a page
# fetched on 2 January dated "30 de diciembre" was written days before, not in 11 months.
_YEARLESS_SLACK = dt.timedelta(days=3)
_LEAP_YEARS = (1904, 1952)


def relative_published(value: str, reference: dt.datetime) -> Published | None:
    """A relative date ("hace 2 horas", "vor 3 Tagen", "yesterday", "gestern, 14:30 Uhr")
    or a date without its year ("5 de marzo", "12. März", "March 5") -> Published, read
    against `reference` (aware): the moment the document was fetched, or its feed's date.

    A count of seconds, minutes or hours is a time (precision "minute": the page rounded
    it, but to less than the day); of days or weeks, or a named day, a day (a named day
    with its clock time, that minute, read as UTC as every zoneless time). A year-less date
    is the reference's year, the previous one where that would be more than
    `_YEARLESS_SLACK` after the reference. None for anything else, a date with its year
    included (parse_published reads those)."""
    text = " ".join(value.split())
    if not text or len(text) > 80:
        return None
    reference = _utc(reference)
    for pattern in _AGO:
        match = pattern.search(text)
        if match is None:
            continue
        count = match.group("count").lower()
        number = 1 if count in _ONE else int(count)
        unit = _UNIT_OF[match.group("unit").lower()]
        at = reference - dt.timedelta(**{unit: number})
        if unit in ("days", "weeks"):
            return Published(_midnight(at), "day")
        return Published(at.replace(second=0, microsecond=0), "minute")
    named = _NAMED_DAY.match(text)
    if named is not None:
        day = _midnight(reference) - dt.timedelta(days=_DAYS_BACK[named.group("day").lower()])
        if named.group("hour") is None:
            return Published(day, "day")
        hour, minute = int(named.group("hour")), int(named.group("minute"))
        if hour > 23 or minute > 59:
            return None
        return Zoneless(day.replace(hour=hour, minute=minute), "minute")
    return yearless_published(text, reference)


def _midnight(at: dt.datetime) -> dt.datetime:
    return at.replace(hour=0, minute=0, second=0, microsecond=0)


def yearless_published(value: str, reference: dt.datetime) -> Published | None:
    """A day and month without a year ("5 de marzo", "12. März, 14:30") in the year of
    `reference` (aware UTC), or the one before when that is over `_YEARLESS_SLACK` after it.
    None when the value has a year, no day or month, or is no date."""
    # Both defaults in leap years: with 1951's, "29. Februar" raised and was no date.
    try:
        parsed = [_parse_date(value, default.replace(year=_LEAP_YEARS[i]))
                  for i, default in enumerate(_DEFAULTS)]  # fmt: skip
    except (ValueError, OverflowError):
        return None
    if parsed[0].year == parsed[1].year:  # the year is written: not ours to place
        return None
    within = [day.replace(year=2000) for day in parsed]
    precision = precision_between(*within)
    if precision not in ("day", "minute", "second"):  # "March", "14:30": no day and month
        return None
    day = within[0]
    for year in (reference.year, reference.year - 1):
        try:
            found = _read_time(day.replace(year=year), precision)
        except ValueError:  # 29 February in a common year
            continue
        if found.at <= reference + _YEARLESS_SLACK:
            return found
    return None


# Query parameters that say how a reader came to a page, never which page it is: share and
# campaign tags courlan's tracker pattern misses, and the AMP switches of one article's
# AMP rendering. Compared case-folded; `at_`/`ns_`/`_ga`/`_gl` name families.
_SHARE_PARAMS = frozenset(
    "amp outputtype cmp cmpid smid smtyp ito ocid icid mbid share sh sr_share taid "
    "tpcc guccounter __twitter_impression iref ncid ftag dmcid wt.mc_id wt_mc".split()
)
_SHARE_PREFIXES = ("at_", "ns_", "_ga", "_gl")


def _identity_query(query: str) -> str:
    """A URL's query as identity keeps it: sorted, without tracking parameters (courlan's
    pattern: utm_*, fbclid, ref, ...), share and AMP parameters, or nameless ones.

    Read here, not by courlan, which unescapes the whole URL first: "&amp=1" (the AMP
    switch) became "&=1". Only the full reference "&amp;" (a URL copied from HTML) is a
    separator."""
    from courlan.clean import TRACKERS_RE

    kept = []
    for name, value in urllib.parse.parse_qsl(query.replace("&amp;", "&"), keep_blank_values=True):
        folded = name.casefold()
        if not folded or folded in _SHARE_PARAMS or folded.startswith(_SHARE_PREFIXES):
            continue
        if not TRACKERS_RE.search(folded):
            kept.append((name, value))
    return urllib.parse.urlencode(sorted(kept))


def canonicalize_url(url: str | None) -> str | None:
    """A URL in the form used for identity: lower-case scheme and host, no fragment,
    no default port, no tracking or share parameters (utm_*, fbclid, amp, ...).

    Every other parameter stays: it may be the one that names the article
    (`articleView.html?idxno=1234`, `view.php?sid=7`). courlan's strict mode kept only a
    dozen names it knows (`id`, `page`, ...), and two articles of such a site had one
    canonical URL, one `article_id`, and the second went to `duplicates` as a `url` copy
    of the first."""
    if not url:
        return None
    url = without_userinfo(url.strip())  # credentials are no part of a page's identity
    parts = split_url(url)
    if parts is None or parts.scheme not in ("http", "https") or not names_a_host(parts):
        return None
    from courlan import normalize_url  # trafilatura's own URL library

    bare = urllib.parse.urlunsplit(parts._replace(query="", fragment=""))
    try:
        normalized = urllib.parse.urlsplit(normalize_url(bare, strict=True))
    except ValueError:
        normalized = urllib.parse.urlsplit(bare)
    query = _identity_query(parts.query)
    path = normalized.path or ("/" if query else "")
    return urllib.parse.urlunsplit(normalized._replace(path=path, query=query, fragment=""))


def site_of(url: str | None) -> str | None:
    """The host of a URL without a leading `www.`, `m.`, `mobile.` or `amp.`: an outlet's
    mobile page and its desktop page are one site when outlets are counted."""
    if not url:
        return None
    parts = split_url(url)
    if parts is None or not names_a_host(parts):
        return None
    return site_host(parts.hostname or "") or None


# What separates names in a string: ";", "," and the list commas of Chinese and Japanese
# ("、", "，") and Arabic script ("،", "؛"), which "李华、王明" and "محمد حسن، منى سعيد" use.
_NAME_SEPARATOR = re.compile(r"[;,、，،؛]|\band\b")


def split_authors(value: Any) -> list[str]:
    """Authors as a list, from a list or a string separated by `;`, `,` (in Latin, CJK or
    Arabic script) or ` and `."""
    if not value:
        return []
    items = value if isinstance(value, list) else _NAME_SEPARATOR.split(str(value))
    seen: list[str] = []
    for item in items:
        name = str(item).strip()
        if name and name not in seen:
            seen.append(name)
    return seen


# The title's closing #s ("# Title ##") are cut by md_title_text, not by a lazy `.+?` before
# `\s*#*$`: that tried the rest of the line at every character (a 20,000-character line of
# #s took 2.3 s, a 10 MiB one days).
_MD_TITLE = re.compile(r"^#\s+(?P<value>.+)$")
_BOLD_LINE = re.compile(r"^\*\*(?P<value>[^*]+)\*\*$")
_LEADING_DATE = re.compile(r"^\s*date\s+(?P<value>\d{4}-\d{2}-\d{2})\b\s*")
# URLs may hold balanced parentheses ("filters:quality(80)").
_MD_URL = r"\((?:[^()\s]|\([^()\s]*\))*\)"
_MD_IMAGE = re.compile(r"^!\[[^\]]*\]" + _MD_URL + "$")
# The anchor holds no "[": from each "[" `[^\]]+` ran to the text's end when no "]" came, so
# 8,000 "[" took 0.4 s and 300,000 over a minute. A "[" before a link stays text, as
# Markdown renders "[x [y](url)": "[x y".
_MD_LINK = re.compile(r"(?<!!)\[([^\[\]]+)\]" + _MD_URL)
_URL = re.compile(r"^https?://\S+$")
_DATEISH = re.compile(r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2})?)?")
# A caption ends in a photo credit: "REUTERS/Name", "REUTERS TV via REUTERS", "(AFP)", ...
_PHOTO_CREDIT = re.compile(
    r"(\b(REUTERS|AFP|AP Photo|EPA|Getty Images|Xinhua|ANADOLU)\b[^.]{0,60}|Photo:[^.]{0,80})$"
)
_TITLE_MAX_WORDS = 25
# Header dates: a line of at most this many words among the first `_DATE_LINES` non-blank
# lines after the title, holding a full date (year, month and day) and nothing else but
# labels like "Updated" ("July 08,2012", "Updated 5 / 5 / 2010 1:41 PM", " date 2019-03-04").
_DATE_LINE_MAX_WORDS = 9
_DATE_LINES = 4
# Further down, to the `_STAMP_LINES`th non-blank line, only a time stamp: a date line with a
# clock time. Pages copied as text put a headline twice and a summary of bullet points
# before it ("UPDATED: 19:14 GMT, 12 April 2013" on the 7th line: syndicated-dev, 28 texts
# undated); a date alone that far down may be an event's in a timeline.
_STAMP_LINES = 8
# The labels of bylines in other languages (the dates' own words are translated by
# support/local_dates.py): "Stand: 05.03.2024 14:30 Uhr", "Publié le 5 mars 2024 à 14h30",
# "Actualizado el ... a las ...", "Publicado em ... às ...", "Pubblicato il ... alle ore
# ...", "Gepubliceerd op ... om ... uur". All these languages write a date day first.
_DAY_FIRST_LABELS = frozenset(
    (
        "stand veröffentlicht aktualisiert zuletzt erstellt am um uhr "
        "publié mis à jour le modifié mise "
        "publicado actualizado el a las hora h atualizado em às "
        "pubblicato aggiornato il alle ore gepubliceerd bijgewerkt laatst op om uur"
    ).split()
)
_ENGLISH_LABELS = frozenset(
    "date dated updated published posted last modified created on at hrs hours time local "
    "first originally story article publication for immediate release am pm".split()
)
_DATE_LABELS = _DAY_FIRST_LABELS | _ENGLISH_LABELS
_SLASHED_DATE = re.compile(r"\b(\d{1,2})/(\d{1,2})/(\d{2,4})\b")
_YEAR = re.compile(r"\b(19|20)\d\d\b")


def reads_both_ways(value: str) -> bool:
    """Whether a value holds a slashed date whose day and month could swap ("05/03/2025";
    not "13/03/2025", "05/05/2025")."""
    match = _SLASHED_DATE.search(value)
    if match is None:
        return False
    first, second = int(match.group(1)), int(match.group(2))
    return first != second and max(first, second) <= 12


def writes_day_first(text: str) -> bool:
    """Whether a document writes a numeric date day first ("05/03/2025": 5 March): its text
    is in a language other than English. American English puts the month first, and
    English stays read so (British English cannot be told from it); the news of every
    other language in Latin script, Spanish, Portuguese, Italian, French, German, Dutch,
    ..., puts the day first. Asked only of a date that reads both ways (langdetect on the
    text's start: ~1.5 ms, the detector the language stage loads, loaded once a process)."""
    from newsbeam.transforms.language import (
        UNDETERMINED,
        LanguageConfig,
        detect_language,
        load_detector_factory,
    )

    config = LanguageConfig()
    factory = load_once("langdetect", config.seed, lambda: load_detector_factory(config.seed))
    language, _ = detect_language(text, config, factory)
    return language not in ("en", UNDETERMINED)


def record_published(value: Any, text: str) -> Published | None:
    """A JSON record's `published`: any notation parse_published reads, else a date line's
    (labels such as "Actualizado:" or "Pubblicato il" around it); a date that reads both
    ways day first when the record's text is not English (`writes_day_first`)."""
    if not isinstance(value, str):
        return parse_published(value)
    if reads_both_ways(value) and writes_day_first(text):
        value = _SLASHED_DATE.sub(r"\1.\2.\3", value)
    return parse_published(value) or header_date(value)


# A label that starts a second date on a header line: "Posted: Nov 27, 2005 8:20 AM ET Last
# Updated: ...", "PUBLISHED: 02:31 GMT, 12 March 2013 | UPDATED: 22:19 GMT, ...", "on April
# 30, 2008 at 4:31 AM, updated ..."; and " | ", or " / " before a word (not "05 / 03 / 2013").
_UPDATED = (
    r"(?:last\s+)?(?:updated|modified|aktualisiert|actualizado|atualizado|aggiornato|bijgewerkt"
    r"|mis\s+à\s+jour|modifié)\b"
)
_SECOND_DATE = re.compile(rf"\s*\|\s*|\s+/\s+(?=[^\W\d_])|(?<=\S)\s+(?={_UPDATED})", re.IGNORECASE)
# How text copied from pages writes a time, as dateutil does not read it: "9: 29 PM" (a
# space after the colon), "05 / 03 / 2013", "8:41 p. m.", "6: 11p", "02.16PM IST", "22.34
# BST" (a full stop; never in a dotted date: "08.07.2012"), "August 8,2012-4:43 pm" (a dash
# before the time).
_TIME_FIXES = (
    (re.compile(r"\b(\d{1,2}):\s+(\d{2})(?!\d)"), r"\1:\2"),
    (re.compile(r"\b(\d{1,2})\s+/\s+(\d{1,2})\s+/\s+(\d{2,4})\b"), r"\1/\2/\3"),
    (re.compile(r"\b([ap])\.\s?m\b\.?", re.IGNORECASE), r"\1m"),
    (re.compile(r"\b(\d{1,2}:\d{2})\s*([ap])\b(?!\.)", re.IGNORECASE), r"\1 \2m"),
    (
        re.compile(r"(?<![\d.])(\d{1,2})\.(\d{2})(?![.\d])(?=\s*(?:[ap]m\b|[A-Z]{2,5}\b|$))", re.I),
        r"\1:\2",
    ),
    (re.compile(r"\b((?:19|20)\d\d)\s*[-\u2013\u2014]\s*(?=\d{1,2}:\d{2})"), r"\1 "),
)


def tidy_date_line(line: str) -> str:
    """A header line with its time written the way dateutil reads it (`_TIME_FIXES`), and
    without the marks around it ("**...**", "(March 20, 2007) - -")."""
    value = line.strip().strip("*()[]|-\u2013\u2014 \t").strip()
    for pattern, replacement in _TIME_FIXES:
        value = pattern.sub(replacement, value)
    return value


# "WASHINGTON, March 3, 2019 (Reuters) - ..." / "PARIS, 3 March 2019 - ...": a dateline.
_DATELINE = re.compile(
    r"^[A-Z][A-Za-z .'\-]{1,40},\s*(?P<date>[^()\-\u2013\u2014]{6,40}?)\s*[(\-\u2013\u2014]"
)


def header_date(line: str, day_first: Callable[[], bool] | None = None) -> Published | None:
    """The date a header line states, or None: the line must be a full date (year, month,
    day; time optional) in any common notation, besides labels such as "Updated" or
    "date" (in English, German, French, Spanish, Portuguese, Italian or Dutch) and
    punctuation. A sentence that mentions a date is not a header line. A line of two dates
    ("Published: ... | Updated: ...") gives the earlier: a publication precedes its
    updates. `day_first`, asked only for a date such as "05/03/2025" that reads both ways,
    says whether the document writes the day first (`writes_day_first`)."""
    # In English, ASCII digits: the year and word tests read "2026年12月4日" and "٢٠٢٦" too.
    value = english_date(tidy_date_line(line))
    if not value or not _YEAR.search(value):
        return None
    words = {word for word in re.findall(r"[^\W\d_]+", line.casefold()) if len(word) > 2}
    if words & (_DAY_FIRST_LABELS - _ENGLISH_LABELS) or (
        day_first is not None and reads_both_ways(value) and day_first()
    ):
        # "Actualizado: 05/03/2024" is 5 March: written with full stops, read day first.
        value = _SLASHED_DATE.sub(r"\1.\2.\3", value)
    value = re.sub(r",(?=\d)", ", ", value)  # "March 11,2013" reads as day 11 of 2026
    if "|" in value and not re.search(_UPDATED, value, re.IGNORECASE):
        # "AUGUST 2,2013 | 08:06AM PT": one date and its time, not two dates.
        whole = _segment_date(re.sub(r"\s*\|\s*", " ", value))
        if isinstance(whole, Published) and whole.precision != "day":
            return whole
    found: list[Published] = []
    for segment in _SECOND_DATE.split(value):
        if not segment.strip(" ,;:"):
            continue
        date = _segment_date(segment.strip(" ,;:"))
        if date is None:
            return None
        if isinstance(date, Published):
            found.append(date)
    return min(found, key=lambda date: date.at) if found else None


def _segment_date(value: str) -> Published | bool | None:
    """One date statement of a header line: its date; True for labels, zones and a time
    without a full date ("UPDATED AT 12:48 PM", "08:06AM PT": the line's other date is the
    one); None for words that are no labels or too many of them (a sentence)."""
    if len(value.split()) > _DATE_LINE_MAX_WORDS:
        return None
    labels_only = all(
        word.casefold() in _DATE_LABELS or word.upper() in _ZONES or word.upper() in ("GMT", "UTC")
        for word in re.findall(r"[^\W\d_]+", value)
    )
    parsed = []
    for default in _DEFAULTS:
        try:
            date, skipped = _parse_date(value, default, fuzzy=True)
        except (ValueError, OverflowError):
            return labels_only or None
        words = re.findall(r"[^\W\d_]+", " ".join(skipped).casefold())
        if any(word not in _DATE_LABELS for word in words):
            return None
        parsed.append(date)
    precision = precision_between(*parsed)
    if precision not in ("day", "minute", "second"):
        return labels_only or None  # year, month or day missing
    found = _read_time(parsed[0], precision)
    return found if plausible_publication(found.at) else None


def dateline_date(paragraph: str, day_first: Callable[[], bool] | None = None) -> Published | None:
    """The date of a dateline opening the first paragraph ("PARIS, 3 March 2019 - ...")."""
    match = _DATELINE.match(paragraph.strip())
    return header_date(match.group("date"), day_first) if match else None


def take_header_date(
    lines: list[str], day_first: Callable[[], bool] | None = None
) -> tuple[Published | None, list[str]]:
    """The date stated in the first `_DATE_LINES` non-blank lines (a date line, a leading
    ` date YYYY-MM-DD` before the text, or a dateline) or, to the `_STAMP_LINES`th, a date
    line with a clock time, and the lines without a date line or prefix (a dateline stays:
    it is part of the text)."""
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        if seen == _STAMP_LINES:
            break
        seen += 1
        if seen > _DATE_LINES:
            found = header_date(line, day_first)
            if found is not None and found.precision in ("minute", "second"):
                return found, lines[:index] + lines[index + 1 :]
            continue
        leading = _LEADING_DATE.match(line)
        if leading:
            rest = line[leading.end() :]
            kept = [*lines[:index], rest] if rest.strip() else lines[:index]
            return parse_published(leading.group("value")), kept + lines[index + 1 :]
        found = header_date(line, day_first)
        if found is not None:
            return found, lines[:index] + lines[index + 1 :]
        found = dateline_date(line, day_first)
        if found is not None:
            return found, lines
    return None, lines


# Where a byline stands: among the first lines of a text, the first paragraphs of a page.
_BYLINE_LINES = 3


def take_byline(lines: list[str]) -> tuple[list[str], list[str], str | None]:
    """(the names, the lines without it, the line) of a byline standing alone among the
    first `_BYLINE_LINES` non-blank lines (`byline_names`); ([], lines, None) if none."""
    seen = 0
    for index, line in enumerate(lines):
        if not line.strip():
            continue
        names = byline_names(line)
        if names:
            return names, lines[:index] + lines[index + 1 :], line.strip()
        seen += 1
        if seen == _BYLINE_LINES:
            break
    return [], lines, None


@dataclasses.dataclass
class TextHeader:
    """What the header lines of a raw text document said about it."""

    title: str | None = None
    url: str | None = None
    published: Published | None = None
    site: str | None = None
    authors: list[str] = dataclasses.field(default_factory=list)  # a byline line's
    # The words the date was read from, cut from the text: a JSON record, whose own field
    # says when it was published, lists them in `removed` rather than lose them silently.
    date_text: str | None = None


# Every line break of text files: CRLF and CR, NEL, vertical tab, form feed (a page break)
# and Unicode's line separator; a paragraph separator (U+2029) ends a paragraph.
_LINE_BREAK = re.compile("\r\n?|[\x0b\x0c\x85\u2028]")


def split_lines(text: str) -> list[str]:
    """The lines of a text, whatever breaks them (a paragraph separator: a blank line)."""
    return _LINE_BREAK.sub("\n", text.replace("\u2029", "\n\n")).split("\n")


def parse_text_document(
    text: str, take_title: bool = True
) -> tuple[TextHeader, str, list[Removal]]:
    """Raw text -> (header metadata, body with paragraphs split by blank lines, removals).

    Recognises the header conventions of the seeds: a Markdown `# title`, bold lines for
    source, date and URL, a leading ` date YYYY-MM-DD`, a short first line standing alone
    as the title, a date line or dateline among the first lines (see take_header_date);
    Markdown image lines and the caption paragraph after them are removed, Markdown links
    keep their anchor text.
    """
    header = TextHeader()
    removed: list[Removal] = []
    lines = split_lines(text)

    # Header lines come first; blank lines between them do not end the header.
    index = 0
    while index < len(lines):
        line = lines[index].strip()
        md_title, bold = _MD_TITLE.match(line), _BOLD_LINE.match(line)
        if not line:
            pass
        elif md_title and header.title is None and not any(x.strip() for x in lines[:index]):
            header.title = md_title_text(md_title.group("value"))
        elif bold:
            _take_bold_header(header, bold.group("value").strip())
        else:
            break
        index += 1
    body_lines = lines[index:]

    # ` date 2023-10-09 Body starts here...` (seed 001): the date prefixes the first line.
    if body_lines and header.published is None:
        leading = _LEADING_DATE.match(body_lines[0])
        if leading:
            header.published = parse_published(leading.group("value"))
            header.date_text = leading.group().strip()
            body_lines[0] = body_lines[0][leading.end() :]

    # A short first line followed by a blank line, not ending like a sentence: a title;
    # unless it states a date and nothing else ("Updated: November 11,2011 20:09 IST"): a
    # date line, which the date rule below takes.
    if take_title and header.title is None and len(body_lines) > 2:
        first = body_lines[0].strip()
        if (
            first
            and not body_lines[1].strip()
            and len(first.split()) <= _TITLE_MAX_WORDS
            and not first.endswith((".", ",", ";", ":"))
            and header_date(first) is None
            and byline_names(first) is None  # "Di Mario Rossi": the byline, not a title
        ):
            header.title = first
            body_lines = body_lines[2:]

    # A date line under the title or among the first lines, or a dateline.
    if header.published is None:
        before = body_lines
        # Which way "05/03/2025" reads: asked of the text only when such a date is met.
        day_first = functools.cache(lambda: writes_day_first(text))
        header.published, body_lines = take_header_date(body_lines, day_first)
        header.date_text = cut_text(before, body_lines)

    # A byline on a line of its own among the first lines ("Por Ana García").
    header.authors, body_lines, byline = take_byline(body_lines)
    if byline:
        removed.append(Removal(byline, "byline"))

    paragraphs: list[str] = []
    after_image = False
    for paragraph in _paragraphs(body_lines):
        if _MD_IMAGE.match(paragraph):
            removed.append(Removal(paragraph, "image"))
            after_image = True
            continue
        if after_image and _PHOTO_CREDIT.search(paragraph) and len(paragraph.split()) <= 80:
            removed.append(Removal(paragraph, "caption"))
            after_image = False
            continue
        after_image = False
        # Most paragraphs hold no link: a `sub` with its template costs ~4 us even so.
        paragraphs.append(_MD_LINK.sub(r"\1", paragraph) if "[" in paragraph else paragraph)
    return header, "\n\n".join(paragraphs), removed


def md_title_text(value: str) -> str:
    """The text of a Markdown title line after its "# ": without its closing #s and spaces
    ("Title ##" -> "Title"), and never empty ("###" -> "#", as the pattern read it)."""
    return value.rstrip("#").strip() or value[0]


def cut_text(before: list[str], after: list[str]) -> str | None:
    """What take_header_date cut from the lines: a date line, or a line's date prefix."""
    for index, line in enumerate(before):
        if index >= len(after) or after[index] != line:
            kept = after[index] if index < len(after) and line.endswith(after[index]) else ""
            return line[: len(line) - len(kept)].strip() or None
    return None


def _take_bold_header(header: TextHeader, value: str) -> None:
    if _URL.match(value):
        header.url = header.url or value
    elif _DATEISH.match(value) and header.published is None:
        header.published = parse_published(value)
        header.date_text = value
    elif header.site is None:
        header.site = value


# A Markdown or plain-text list item ("- ", "* ", "• ", "1. ", "2) ") or table row ("| a |"):
# lines that are not a hard-wrapped paragraph's, whose re-joining ran items and cells into one.
_ITEM_OR_ROW = re.compile(r"^([-*\u2022]\s|\d{1,3}[.)]\s|\|)")


def _paragraphs(lines: list[str]) -> Iterator[str]:
    """Blocks separated by blank lines; a text with no blank line at all has one paragraph
    per line (seed 001), otherwise a block's lines are re-joined (hard-wrapped text), but
    for list items and table rows, one paragraph each."""
    if not any(not line.strip() for line in lines):
        yield from (line.strip() for line in lines if line.strip())
        return
    block: list[str] = []
    for line in [*lines, ""]:
        line = line.strip()
        # A list item or table row starts a paragraph of its own; a table row also ends it.
        if block and (not line or _ITEM_OR_ROW.match(line) or block[0].startswith("|")):
            yield " ".join(block)
            block = []
        if line:
            block.append(line)


_LANGUAGE_TAG = re.compile(r"([A-Za-z]{2,3})(?:[-_][A-Za-z0-9]{1,8})*")

# Declared codes that are not the code langdetect gives the language: a declared code the
# detector never says could only disagree with it (with_declared), and one language would
# hold two codes in the column. Withdrawn ISO 639-1 codes (Hebrew, Indonesian, Yiddish:
# Java's, Google News's and old feeds' own), Norwegian Bokmål and Nynorsk (langdetect:
# "no"), Filipino (its "tl"). Feeds, pages, JSON records and news sitemaps alike.
DETECTOR_CODES = {"iw": "he", "in": "id", "ji": "yi", "nb": "no", "nn": "no", "fil": "tl"}


def declared_language(value: Any) -> str | None:
    """A declared language (RSS <language>, xml:lang, JSON Feed `language`, a page's <html
    lang>, a JSON record's `language`, a news sitemap's news:language: BCP 47 tags such as
    "en-us", "de_DE", "FR", "nb-NO", "fil") as the ISO 639-1 code the `language` column
    holds, langdetect's where it names the language otherwise (`DETECTOR_CODES`); None for
    anything else (a language name, another three-letter code, an empty value)."""
    if not isinstance(value, str):
        return None
    match = _LANGUAGE_TAG.fullmatch(value.strip())
    if not match:
        return None
    primary = match.group(1).lower()
    code = DETECTOR_CODES.get(primary, primary)
    return code if len(code) == 2 else None


# Where a page declares its language: the root's lang (xml:lang in XHTML), else the
# Content-Language and og:locale meta tags, in document order. The root's first: they come
# before any meta tag in that order, and most pages have one, so the whole page is searched
# for meta tags only when they declare nothing (one search for both kinds: a union of two
# `//meta` walked the page twice; 0.11 ms a page before).
_ROOT_LANGUAGE = etree.XPath("/*/@lang | /*/@xml:lang")
_META_LANGUAGE = etree.XPath(
    "//meta[translate(@http-equiv, 'CONTENT-LANGUAGE', 'content-language') = 'content-language'"
    " or @property = 'og:locale']/@content"
)


def page_language(tree: Any) -> str | None:
    """The language a page declares (`declared_language`) when langdetect has no profile
    for it (Galician, Basque, Luxembourgish, ...), else None. Like a feed's, it is then the
    language stage's evidence where langdetect is unsure (`with_declared`): a Galician page
    came out Spanish (0.58). A language langdetect knows is left to it: page templates
    declare the site's default whatever the article (the fundus Zulu pages declare
    English), where a feed's declared language agreed with the text 99.2%."""
    for declared in (_ROOT_LANGUAGE, _META_LANGUAGE):
        for value in declared(tree):
            language = declared_language(str(value))
            if language:
                return None if language in detector_languages() else language
    return None


@functools.cache
def detector_languages() -> frozenset[str]:
    """The languages langdetect has a profile for, as ISO 639-1 codes ("zh-cn" -> "zh")."""
    import os

    from langdetect.detector_factory import PROFILES_DIRECTORY

    return frozenset(name.split("-")[0] for name in os.listdir(PROFILES_DIRECTORY))


def new_article(source: str, **fields: Any) -> Article:
    """An Article with the extract stage's fields set and the later stages' left empty;
    `canonical_url` and `site` are derived from `url` when not given."""
    defaults: dict[str, Any] = {
        "article_id": "",
        "url": None,
        "canonical_url": None,
        "site": None,
        "outlet": None,
        "title": None,
        "authors": [],
        "published_at": None,
        "published_precision": None,
        "published_zone": None,
        "ingested_at": dt.datetime.now(dt.timezone.utc),
        "language": None,
        "language_score": None,
        "script": None,
        "word_count": 0,
        "content_hash": "",
        "removed": [],
        "topics": [],
        "topic_scores": [],
        "topic_labels": [],
        "topics_model": None,
        "places": [],
        "story_id": None,
        "duplicate_count": 0,
        "duplicate_sources": [],
        "text_origin": "document",
        "feed_url": None,
        "entry_id": None,
        "feed_categories": [],
    }
    defaults.update(fields)
    # Text a document decoded into lone surrogates failed the whole run at the write.
    for name, value in defaults.items():
        if isinstance(value, str):
            defaults[name] = valid_text(value)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            defaults[name] = [valid_text(v) for v in value]
    # Only web addresses, without credentials: the url columns are shown as links.
    defaults["url"] = web_url(defaults["url"])
    if defaults["feed_url"]:
        defaults["feed_url"] = without_userinfo(defaults["feed_url"])
    # Identity and site follow from the URL unless the document said otherwise.
    if defaults["canonical_url"] is None:
        defaults["canonical_url"] = canonicalize_url(defaults["url"])
    # The site a page did not name is its own URL's (a syndicated copy's canonical names
    # the original's outlet), else its canonical's.
    defaults["site"] = defaults["site"] or site_of(defaults["url"] or defaults["canonical_url"])
    # The outlet is the page's own (its URL's), whatever its canonical names.
    defaults["outlet"] = outlet_of(defaults["url"] or defaults["canonical_url"])
    return Article(source=source, **defaults)


def with_url(article: Article, url: str) -> Article:
    """The article with the URL the page was fetched from (its own metadata named none)."""
    fields = article._asdict()
    source = fields.pop("source")
    fields.update(url=url, canonical_url=None)
    return new_article(source, **fields)


def with_fetched_url(article: Article, fetched_url: str) -> Article:
    """A fetched page's article with the URL it was fetched from where its metadata names
    none, or names another outlet's page: a syndicated copy whose rel=canonical credits the
    original. It ran on this outlet: its `url`, `site` (unless the page names itself) and
    `outlet` are this page's, its canonical URL stays the original's (a same-URL copy of
    it, when both are read). A canonical on the same outlet (a redirect, a tracking
    host) is the page's own URL, as it was."""
    if article.url is None:
        return with_url(article, fetched_url)
    if outlet_of(article.url) == outlet_of(fetched_url):
        return article
    fields = article._asdict()
    source = fields.pop("source")
    # A site new_article read off the other outlet's URL is that outlet's, not a name the
    # page gave itself.
    named = article.site if article.site != site_of(article.canonical_url) else None
    fields.update(url=fetched_url, site=named)
    return new_article(source, **fields)


def extract_text_document(doc: RawDocument) -> Article:
    """A raw text document -> Article."""
    text = decode_text(doc.content)
    header, body, removed = parse_text_document(text)
    # A date line's zoneless time: the zone named for its URL's host, else an offset the
    # text writes beside another time of it ("Updated 2026-12-05T11:00+09:00").
    published = placed_in_zone(header.published, (header.url, doc.source), (text,))
    return new_article(
        doc.source,
        url=header.url,
        site=header.site,
        title=header.title,
        authors=header.authors,
        **published_fields(published or url_date(header.url)),
        text=body,
        removed=removed,
    )


def extract_json_record(doc: RawDocument) -> Article:
    """One JSON-lines record -> Article."""
    try:
        record = json.loads(doc.content)
    except ValueError as error:
        raise ExtractError("bad_json", f"not valid JSON: {error}") from None
    except RecursionError:
        raise ExtractError("bad_json", "JSON nested too deep to read") from None
    if not isinstance(record, dict):
        raise ExtractError("bad_json", f"a JSON {type(record).__name__}, not an object")
    text = record.get("text")
    if not isinstance(text, str) or not text.strip():
        raise ExtractError("missing_text", "no non-empty string field 'text'")
    # Optional fields of another type than the format's are left out, not the record.
    url, site, title = (
        value.strip() if isinstance(value, str) and value.strip() else None
        for value in (record.get("url"), record.get("site"), record.get("title"))
    )
    published = record.get("published") or record.get("published_at")
    readable = isinstance(published, str | int | float) and not isinstance(published, bool)
    stated = record_published(published, text) if readable else None
    # A record's own title is its title: the text's short first line then stays text (a
    # kicker, "Key points"). Without one, the text's title line, URL and site lines fill
    # in what the record lacks, as in a text file: they were cut from the text.
    header, body, removed = parse_text_document(text, take_title=title is None)
    # A zoneless `published`: the zone named for the record's host, else the offset its
    # other fields write ("modified": "2026-12-05T11:00:00+09:00"); its text is not read.
    fields = [value for key, value in record.items() if key != "text" and isinstance(value, str)]
    stated = placed_in_zone(stated, (url, header.url, doc.source), fields)
    # The text's date line is not the record's date: filling a missing `published` with it
    # split ECB+ reports of one event into stories by date (benchmarks/eval_stories.py).
    if header.date_text:
        removed = [Removal(header.date_text, "date_line"), *removed]
    return new_article(
        doc.source,
        url=url or header.url,
        site=site or header.site,
        title=title or header.title,
        language=declared_language(record.get("language")),  # the language stage's evidence
        # The record's own authors, else its text's byline line.
        authors=json_authors(record.get("authors") or record.get("author")) or header.authors,
        # A record without its own date: the day its URL states, if any.
        **published_fields(stated or url_date(url or header.url)),
        text=body,
        removed=removed,
    )


# "and" between two names: English, German, French, Dutch, Nordic, Turkish, Indonesian,
# Vietnamese, Russian, Ukrainian, Korean "및" and Arabic or Persian "و" standing alone
# ("y", "e", "i" are left: "Ortega y Gasset"; so is "و" written onto the next name,
# "ومنى", which cannot be told from a name that starts with it, "وليد"); the list comma
# of Chinese and Japanese, "、".
_JOINED_NAMES = re.compile(r";|&|、|\b(?:and|und|et|en|og|och|ve|dan|và|и|і|및|و)\b")


def json_authors(value: Any) -> list[str]:
    """A record's authors: a string ("Jane Doe and John Roe", "By Jane Doe", "Por Ana Souza y
    ..."), an object with a `name` (schema.org's Person), or a list of either; other values
    are no author. A list item is split at "and" (`_JOINED_NAMES`), ";" and "&" only: its
    commas may be "Surname, Given". A byline's "By" goes (`without_byline`)."""
    # A string may also be split at its commas; then each part as a list item.
    items = split_authors(value) if isinstance(value, str) else value
    items = items if isinstance(items, list) else [items]
    names: list[str] = []
    for item in items:
        if isinstance(item, dict):
            item = item.get("name")
        if isinstance(item, str):
            for part in _JOINED_NAMES.split(item):
                names.extend(split_people(without_byline(part.strip())))
    return split_authors([name for name in names if name])


@dataclasses.dataclass
class HtmlMetadata:
    title: str | None = None
    authors: list[str] = dataclasses.field(default_factory=list)
    url: str | None = None
    site: str | None = None
    published: Published | None = None


def html_metadata(
    tree: Any, fetched_at: dt.datetime | None = None, fetched_url: str | None = None
) -> HtmlMetadata:
    """Title, authors, canonical URL, site name and publication time of a parsed page.

    trafilatura's own metadata steps in trafilatura's order (meta tags, then JSON-LD, then
    the page's elements), minus categories, tags and licence (45% of `extract_metadata`'s
    time on the AEB pages; NewsBeam stores none of them). Authors come from the structured
    metadata only: trafilatura's search of the page body for bylines cost 7 ms a page, and
    on the 55 AEB pages where it was the only source about half of what it found was not a
    person ("Reuters; Washington; Nov", "Admin", "Phil Helsel is a reporter").
    """
    import htmldate
    from trafilatura import metadata as meta

    found = meta.examine_meta(tree)
    if found.author and " " not in found.author:
        found.author = None  # a single token is a handle or a site name, not a person
    scripts = json_scripts(tree)
    try:
        found = json_ld_metadata(tree, found, scripts)
    except Exception as error:  # trafilatura guards this call the same way
        log.debug("JSON-LD metadata unreadable: %s", error)
    metas = head_metas(tree)
    json_ld = [s.text for s in scripts if s.text and s.get("type") == _JSON_LD_TYPE]
    url = found.url or meta.extract_url(tree)
    try:
        published = htmldate.find_date(
            tree,
            url=url,
            original_date=True,
            extensive_search=False,  # dates guessed from free text were the wrong ones
            outputformat="%Y-%m-%dT%H:%M:%S%z",
            # A date in the URL only when the page states none: it would override the page's
            # full timestamp with a bare day.
            deferred_url_extractor=True,
            max_date=htmldate_latest(),
        )
    except (ValueError, OverflowError) as error:  # "+25:00": a bad date loses the date only
        log.debug("publication date unreadable: %s", error)
        published = None
    organisations = organisation_names(metas, json_ld, found.sitename)
    dated = htmldate_published(published)
    if published and not re.search(r"[+-](?!0000)\d{4}$", published):
        # htmldate dropped the offset (or wrote +0000 for it): the page's own one, if any.
        texts = [*json_ld, *(element.get("content") for element in metas)]
        dated = with_page_offset(dated, texts)
    dated = earliest_stated(with_body_time(dated, tree), stated_publication(metas, json_ld))
    # No date in the page: its URL's in a form htmldate does not read ("-20240305.html").
    dated = dated or url_date(url)
    # Nor there: a fetched page's byline written relative to its fetch ("vor 3 Stunden").
    dated = dated or byline_relative_date(tree, fetched_at)
    if isinstance(dated, Zoneless):  # rare: most pages' times carry their offset
        # What the page says of itself: its JSON-LD, its meta tags (in the body too:
        # `<meta itemprop="datePublished">`) and its byline's time; not every `<time>`,
        # which holds related stories' (Washington Examiner: -05:00 two days later beside
        # its own "2019-11-18T17:01:27.893Z").
        stated = [*json_ld, *(str(value) for value in tree.xpath("//meta/@content"))]
        stated += [str(value) for query in _BODY_TIMESTAMPS for value in tree.xpath(query)]
        dated = placed_in_zone(dated, (url, fetched_url), stated)
    # Names and titles read from JSON-LD may hold character references (unescape_references).
    organisations = [unescape_references(name) for name in organisations]
    # No author in the tags trafilatura reads (an e-mail address there, seen): the Twitter
    # card's "Written by".
    bylines = split_authors(found.author) or written_by(metas) or linked_author(tree)
    return HtmlMetadata(
        title=strip_site_suffix(
            _unescaped(found.title or meta.extract_title(tree)), site_names(organisations, url)
        ),
        authors=tidy_authors(
            [unescape_references(author) for author in bylines],
            meta_author_values(metas),
            organisations,
        ),
        url=url,
        site=site_name(
            _unescaped((found.sitename or meta.extract_sitename(tree) or "").lstrip("@") or None),
            _unescaped(_meta_content(metas, "og:site_name")),
            url,
        ),
        published=dated,
    )


# Where a page shows its date to readers: `<time>` elements and those whose class names a
# date (English, Spanish, German). Their text only; a relative one is no metadata.
_SHOWN_DATES = (
    "//time|//*[contains(@class, 'date') or contains(@class, 'fecha')"
    " or contains(@class, 'datum') or contains(@class, 'publish')]"
)
_SHOWN_DATES_READ = 12


def byline_relative_date(tree: Any, fetched_at: dt.datetime | None) -> Published | None:
    """The date a fetched page shows relative to its fetch ("vor 3 Stunden", "ayer, 14:30")
    or without its year ("12. März"), read against `fetched_at` (`relative_published`),
    from the first `_SHOWN_DATES_READ` elements `_SHOWN_DATES` finds. None without a fetch
    time (a page read from a file): its clock is no reference."""
    if fetched_at is None:
        return None
    for element in tree.xpath(_SHOWN_DATES)[:_SHOWN_DATES_READ]:
        text = " ".join("".join(element.itertext()).split())
        found = relative_published(text, fetched_at) if 0 < len(text) <= 80 else None
        if found is not None and plausible_publication(found.at):
            return found
    return None


# The scripts trafilatura reads metadata from: `.//script[@type="application/ld+json" or
# @type="application/settings+json"]`.
_JSON_SCRIPT_TYPES = frozenset({"application/ld+json", "application/settings+json"})


def json_scripts(tree: Any) -> list[Any]:
    """The scripts below `tree` that trafilatura reads metadata from (`_JSON_SCRIPT_TYPES`),
    in document order. lxml's walk over the script elements in C, their type tested here:
    the XPath's walk over every node of the page took 0.23 ms a page."""
    return [s for s in tree.iterdescendants("script") if s.get("type") in _JSON_SCRIPT_TYPES]


def json_ld_metadata(tree: Any, found: Any, scripts: list[Any] | None = None) -> Any:
    """trafilatura's `extract_meta_json` (the page's JSON-LD into its metadata `Document`),
    with a linear search for authors in a script that is not valid JSON.

    trafilatura's fallback for such a script (`extract_json_parse_error`) searches the
    whole text again from its start after each author found: quadratic, 1.2 s on one live
    blog of the fundus pages (an 800 KB script, 190 authors' entries), as much as the
    other 438 pages' metadata together. The fields NewsBeam keeps (title, author, site
    name) come out the same (`json_ld_author`). Minifying and normalising the scripts'
    text: `minify_json`, `normalize_json`. `scripts`: the page's such scripts, when the
    caller found them already."""
    from trafilatura import json_metadata as jm

    for element in json_scripts(tree) if scripts is None else scripts:
        if not element.text:
            continue
        text = normalize_json(minify_json(element.text))
        try:
            found = jm.extract_json(schema_blocks(json.loads(text, strict=False)), found)
        except json.JSONDecodeError:
            found = _json_ld_parse_error(text, found)
        except RecursionError:  # nested thousands deep: no metadata of ours in it
            continue
    return found


_SCHEMA_ORG = re.compile(r"https?://schema\.org", re.IGNORECASE)


def schema_blocks(data: Any) -> list[Any]:
    """A JSON-LD script's blocks as trafilatura's `extract_json` reads them, with two forms
    it skips: an `@context` given as a list (`["http://schema.org", {...}]`, National Post)
    as its schema.org entry, and the article a page block holds as its `mainEntity`
    (`{"@type": "WebPage", "mainEntity": {"@type": "NewsArticle", ...}}`, Merkur) also as a
    block of its own, beside the page."""
    blocks: list[Any] = []
    for block in data if isinstance(data, list) else [data]:
        if not isinstance(block, dict):
            continue
        context = block.get("@context")
        if isinstance(context, list):
            named = [c for c in context if isinstance(c, str) and _SCHEMA_ORG.match(c)]
            block = {**block, "@context": named[0]} if named else block
        blocks.append(block)
        entities = block.get("mainEntity")
        for entity in entities if isinstance(entities, list) else [entities]:
            if isinstance(entity, dict) and entity.get("@type") and "@context" not in entity:
                blocks.append({"@context": block.get("@context"), **entity})
    return blocks


# A JSON string, a run of anything but whitespace and quotes, or a quote opening no string.
_JSON_PIECES = re.compile(r'"(?:\\.|[^"\\])*"|[^\s"]+|"')
_SURROGATES = re.compile("[\ud800-\udfff]")


def minify_json(text: str) -> str:
    """trafilatura's `JSON_MINIFY.sub(r"\\1", text)` (whitespace outside JSON strings
    removed), by joining what it keeps: no replacement template to expand per string,
    half the time on the pages' JSON-LD (which can reach 800 KB)."""
    return "".join(_JSON_PIECES.findall(text))


def normalize_json(text: str) -> str:
    """trafilatura's `json_metadata.normalize_json`, with its per-character surrogate
    filter done by one regular expression (the same characters go)."""
    from html import unescape

    from trafilatura import json_metadata as jm
    from trafilatura.utils import trim

    if "\\" in text:
        text = text.replace("\\n", "").replace("\\r", "").replace("\\t", "")
        text = jm.JSON_UNICODE_REPLACE.sub(lambda match: chr(int(match[1], 16)), text)
        text = _SURROGATES.sub("", text)
        text = unescape(text)
    return trim(jm.HTML_STRIP_TAGS.sub("", text))


def _json_ld_parse_error(text: str, found: Any) -> Any:
    """trafilatura's `extract_json_parse_error` for the fields NewsBeam keeps: author,
    publisher (site name) and title read by regular expressions from a broken script."""
    from trafilatura import json_metadata as jm

    without = jm.JSON_AUTHOR_REMOVE.sub("", text)
    author = json_ld_author(without, jm.JSON_AUTHOR_1) or json_ld_author(without, jm.JSON_AUTHOR_2)
    if author:
        found.author = author
    if '"publisher"' in text:
        match = jm.JSON_PUBLISHER.search(text)
        if match and "," not in match[1]:
            candidate = jm.normalize_json(match[1])
            if jm.is_plausible_sitename(found, candidate):
                found.sitename = candidate
    for key, pattern in jm.JSON_SEQ:
        if key in text and not found.title:
            match = pattern.search(text)
            if match:
                found.title = jm.normalize_json(match[1])
                break
    return found


def json_ld_author(text: str, pattern: re.Pattern[str]) -> str | None:
    """trafilatura's `extract_json_author` in linear time: the authors of successive
    matches of `pattern` (`; `-joined by trafilatura's `normalize_authors`) until one
    names no author with a space in it.

    trafilatura deletes each match and searches the text again from its start. A match
    beginning before the deleted one would have to run into the gap (one ending before it
    was there already, and the search found none), and one whose `"author"`/`"Person"`
    scan ran into the deleted match would have matched there before, with its `"name"`: so
    the next match is the first one after the deleted match's end. Checked against
    trafilatura's function on every JSON-LD script of the 439 distinct pages (4,128
    searches, the same authors) and in the tests. A name met before adds nothing (its
    forms are in the authors already, or dropped as part of a longer name still there), so
    it is not normalised again: a live blog's 1,700 entries of a few names took 80 ms."""
    from trafilatura.json_metadata import normalize_authors

    authors = None
    names_met: set[str] = set()
    match = pattern.search(text)
    while match:
        name = next(filter(None, match.groups()), None)
        if not name or " " not in name:
            break
        if name not in names_met:
            names_met.add(name)
            authors = normalize_authors(authors, name)
        match = pattern.search(text, match.end())
    return authors or None


_MENU_MIN_LINES = 10
_MENU_SHORT_WORDS = 3
_MENU_SHORT_SHARE = 0.5


def looks_like_menu(text: str) -> bool:
    """True when most lines of an extraction are one-to-three-word items: a site menu."""
    lines = [line for line in text.split("\n") if line.strip()]
    if len(lines) < _MENU_MIN_LINES:
        return False
    short = sum(len(line.split()) <= _MENU_SHORT_WORDS for line in lines)
    return short > _MENU_SHORT_SHARE * len(lines)


# When the fast path's text may have lost part of the article. Cheap signals, read from the
# parsed page (about 1 ms): the words of its paragraphs outside navigation, footers and
# asides, and a JSON-LD `articleBody`. Fast text under half of either (and the page holding
# at least `_SIGNAL_MIN_WORDS` of such text) runs trafilatura's full extraction, which
# compares its result with its fallback extractors. On the AEB and fundus pages 10% of the
# pages were checked this way; the full extraction was at least twice as long on 9 of them
# (live blogs and pages whose first block fooled the fast path: recall 0.04 -> 0.97).
_LOSS_RATIO = 0.5
_SIGNAL_MIN_WORDS = 100
_PARAGRAPHS = "//body//p[not(ancestor::nav or ancestor::footer or ancestor::aside)]"


@dataclasses.dataclass(frozen=True)
class PageSignals:
    """What a page holds besides the main-text extraction: the words of its paragraphs
    and the JSON-LD `articleBody` (its longest one, "" when none)."""

    paragraph_words: int = 0
    json_ld_body: str = ""


def page_signals(tree: Any) -> PageSignals:
    """The cheap signals of a parsed page (see PageSignals)."""
    words = sum(len(element.text_content().split()) for element in tree.xpath(_PARAGRAPHS))
    bodies = [""]
    # `//script[@type="application/ld+json"]`, walked by lxml in C (see json_scripts): the
    # whole document's, also where the parser gave the caller a part of it (parse_html)
    for script in tree.getroottree().getroot().iter("script"):
        if script.get("type") != _JSON_LD_TYPE:
            continue
        try:
            data = json.loads(script.text or "")
            bodies.extend(_json_ld_bodies(data))
        except (ValueError, RecursionError):  # not JSON, or nested thousands deep
            continue
    return PageSignals(words, max(bodies, key=lambda body: len(body.split())))


def _json_ld_bodies(data: Any) -> Iterator[str]:
    """Every `articleBody` string in a JSON-LD value (nested objects, lists, @graph)."""
    if isinstance(data, dict):
        for key, value in data.items():
            if key == "articleBody" and isinstance(value, str):
                yield json_ld_text(value)
            else:
                yield from _json_ld_bodies(value)
    elif isinstance(data, list):
        for item in data:
            yield from _json_ld_bodies(item)


def _unescaped(value: str | None) -> str | None:
    return unescape_references(value) if value else value


def _meta_content(metas: list[Any], tag: str) -> str | None:
    """The content of the first of `metas` (`head_metas`) whose property or name is `tag`."""
    for element in metas:
        if (element.get("property") or element.get("name") or "").lower() == tag:
            return str(element.get("content"))
    return None


def json_ld_text(body: str) -> str:
    """A JSON-LD articleBody as plain text, one paragraph a line (some sites put HTML in it,
    some escaped as character references: decoded first, so the markup is parsed). HTML is
    read by html_to_text: reading each block's text whole glued the words on either side
    of a `<br>` or a nested block ("One line.Two line.")."""
    body = unescape_references(body)
    if "<" in body and ">" in body:
        return "\n".join(html_to_text(body).split("\n\n"))
    lines = (" ".join(line.split()) for line in body.split("\n"))
    return "\n".join(line for line in lines if line)


# Elements that hold code, never prose, written out as text in an extraction: a chart's or
# video's embed code inside a JSON-LD articleBody (which trafilatura's JSON reading renders
# as text unless it holds a tag it knows), or a page that escaped its embed code. Whole
# elements with their content, then any of their tags left alone.
_EMBEDDED_MARKUP = re.compile(
    r"<(script|style|noscript|iframe|object)\b[^<>]*>.*?</\1\s*>"
    r"|</?(?:script|style|noscript|iframe|object|embed)\b[^<>]*>",
    re.IGNORECASE | re.DOTALL,
)


def strip_embedded_markup(text: str) -> tuple[str, list[Removal]]:
    """An HTML page's text without embed code (`_EMBEDDED_MARKUP`), and what was removed
    (reason `markup`). Other tags stay: an article may quote "<b>" or write "a < b"."""
    if "<" not in text:
        return text, []
    removed = [Removal(match.group(), "markup") for match in _EMBEDDED_MARKUP.finditer(text)]
    if not removed:
        return text, []
    return _EMBEDDED_MARKUP.sub(" ", text), removed


def needs_full_extraction(fast_text: str, signals: PageSignals) -> bool:
    """True when the page holds much more text than the fast path kept (see _LOSS_RATIO)."""
    found = max(signals.paragraph_words, len(signals.json_ld_body.split()))
    return found >= _SIGNAL_MIN_WORDS and len(fast_text.split()) < _LOSS_RATIO * found


@dataclasses.dataclass(frozen=True)
class ExtractionChoice:
    """The text kept, where it came from ("fast", "full", "json_ld") and what was not kept
    although it was at least twice as long (with the reason)."""

    text: str
    origin: str
    removed: tuple[Removal, ...] = ()


def choose_text(fast: str, full: str | None, json_ld_body: str) -> ExtractionChoice:
    """Which extraction of a page to keep. The fast text unless a longer one holds at least
    twice its words: the full extraction first (its paragraphs come from the page), then
    the JSON-LD articleBody. Losing most of an article silently is worse than keeping some
    chrome (cleaning removes repeated and boilerplate lines later), so the longer text wins
    unless it is mostly one-to-three-word lines (a menu); one not kept is recorded in
    `removed` (reason `longer_<origin>_menu`)."""
    # Each text's words counted once (a split of a whole text each time: five or six a page)
    chosen, origin, words = fast, "fast", len(fast.split())
    passed: list[tuple[Removal, int]] = []
    for candidate, name in ((full or "", "full"), (json_ld_body, "json_ld")):
        candidate_words = len(candidate.split())
        if words >= _LOSS_RATIO * candidate_words:
            continue
        if looks_like_menu(candidate):
            passed.append((Removal(candidate, f"longer_{name}_menu"), candidate_words))
        else:
            chosen, origin, words = candidate, name, candidate_words
    removed = tuple(removal for removal, longer in passed if words < _LOSS_RATIO * longer)
    return ExtractionChoice(chosen, origin, removed)


# A page's own start tag (parse_fragment reads from it); else the text is wrapped in one.
_PAGE_START = re.compile(r"<html[\s>/]", re.IGNORECASE)
_PAGE_AROUND = "<html><body>{}</body></html>"


def parse_fragment(content: bytes) -> Any:
    """HTML that trafilatura's `load_html` refuses as not a page, parsed as one; None when
    even that gives no tree.

    load_html refuses a text that names no `html` in its first 50 characters and parses to
    fewer than two children: a saved article body (`<div>...</div>`, `<p>...</p>`; its own
    advice is to wrap a fragment before handing it over), or a page with no `<head>` after a
    long preamble (comments, an XML declaration, a DOCTYPE). Refused, such a file would be
    lost although its text is there. A page is read from its `<html>` tag (trafilatura
    reads nothing before it; a DOCTYPE's entity definitions are dropped with the rest), a
    fragment inside `<html><body>`. Decoded as load_html decodes (trafilatura's guess)."""
    from trafilatura import utils as tu

    text = tu.decode_file(content)
    if not isinstance(text, str) or not text.strip():
        return None
    start = _PAGE_START.search(text)
    return tu.load_html(text[start.start() :] if start else _PAGE_AROUND.format(text))


def check_complexity(content: bytes, max_tags: int) -> int:
    """The page's tags; raise ExtractError too_complex for a page with more markup than
    `max_tags` allows (ExtractConfig). A count of bytes in C, ~0.1 ms for a large page."""
    tags, attributes = content.count(b"<"), content.count(b"=")
    if tags > max_tags or attributes > 2.5 * max_tags:
        found = f"{tags:,} tags" if tags > max_tags else f"{attributes:,} attributes"
        raise ExtractError(
            "too_complex",
            f"{found}, over what --max_html_tags {max_tags} allows: extraction time grows "
            "faster than such a page (raise the flag to read it)",
        )
    return tags


# A page with more tags than this is extracted in a child process that is killed at the
# time limit (support/time_limit.py's in_child): on such a page a single call into libxml2
# can run for seconds, where the exception of `time_limit` waits for it to return (20,000
# `<em>`s in one paragraph: 11 s in one XPath call). Real pages stay below (the 878 of the
# benchmarks: at most 8,093 tags, 99% under 5,600), so they never pay for the fork; the
# pages under it took at most 0.5 s (10,000 tags of the same markup).
ISOLATE_TAGS = 10_000


def extract_html_document(
    doc: RawDocument, config: ExtractConfig, fetched_at: dt.datetime | None = None
) -> Article:
    """An HTML page -> Article: the page is parsed once, for metadata and main text, within
    `config.max_page_seconds` (else ExtractError time_limit, counter `extract_time_limit`).
    trafilatura's and htmldate's log lines about it are dropped (support/quiet_logs.py: a
    page they cannot use becomes a rejected row); their loggers are left as they were.

    Counters: `extract_full_checked` (cheap signals said the fast path may have lost text,
    so the full extraction ran), `extract_kept_<origin>` for a text other than the fast
    one, `extract_short_fast_path` (the text kept is under half of a longer one found)."""
    tags = check_complexity(doc.content, config.max_html_tags)
    keep_text_characters()  # joiners, direction marks, newer emoji: as a text file keeps them
    seconds = config.max_page_seconds
    try:
        with quiet_logs.quiet(), publications_as_of(config.as_of, config.source_timezones):
            if seconds > 0 and tags > ISOLATE_TAGS and can_fork():
                counter("extract_isolated").inc()
                return in_child(lambda page: _extract_html(page, config, fetched_at), doc, seconds)
            with time_limit(seconds):
                return _extract_html(doc, config, fetched_at)
    except TimeLimitExceeded:
        raise _time_limit_error(config, "such markup takes far longer than a real page's") from None


def _time_limit_error(config: ExtractConfig, why: str) -> ExtractError:
    counter("extract_time_limit").inc()
    return ExtractError(
        "time_limit",
        f"extraction stopped at the time limit, {config.max_page_seconds:g} s a page "
        f"(--max_page_seconds): {why} milliseconds (raise the flag to read it)",
    )


def _extract_html(
    doc: RawDocument, config: ExtractConfig, fetched_at: dt.datetime | None = None
) -> Article:
    try:
        tree = parse_html(doc.content)  # decodes by the page's declared or detected charset
    except TooDeep as error:
        raise ExtractError(
            "too_complex", f"{error}: the parser stops there, so the rest of the page is unread"
        ) from None
    if tree is None:
        tree = parse_fragment(doc.content)
        if tree is not None:
            counter("extract_fragment").inc()
    if tree is None:
        raise ExtractError("no_text", "not parseable as HTML")
    if may_hold_ruby(doc.content) and drop_ruby_annotations(tree):
        counter("extract_ruby_annotations").inc()
    page = html_metadata(tree, fetched_at, doc.url or None)
    language = page_language(tree)
    signals = page_signals(tree)
    drop_unread_elements(tree)  # metadata and signals have read them: less to prune
    layout_tables = unwrap_layout_tables(tree)
    if layout_tables:
        counter("extract_layout_tables").inc(layout_tables)
    prepared = prepare_page(tree, config.include_tables, config.favor_precision)
    text = _main_text(prepared, config, fast=True)
    full = None
    menu = looks_like_menu(text)
    if menu or needs_full_extraction(text, signals):
        # The fast path took a menu for the article, or kept much less than the page
        # holds: let trafilatura compare its result with its fallback extractors, as it
        # does by default (costly, so only here).
        counter("extract_full_checked").inc()
        full = _main_text(prepared, config, fast=False)
        if menu:
            text = full
    choice = choose_text(text, full, signals.json_ld_body)
    if choice.origin != "fast":
        counter(f"extract_kept_{choice.origin}").inc()
    if choice.removed:
        counter("extract_short_fast_path").inc()
    if not choice.text.strip():
        raise ExtractError("no_text", "no article text found in the page")
    text, markup = strip_embedded_markup(choice.text)
    lines = [line.strip() for line in text.split("\n")]
    # A byline paragraph is no story text; its names are the authors when the metadata
    # names none (sites without author tags show only it).
    names, lines, byline = take_byline(lines)
    if byline:
        markup = [*markup, Removal(byline, "byline")]
    return new_article(
        doc.source,
        url=page.url,
        site=page.site,
        title=page.title,
        authors=page.authors or names,
        language=language,  # declared: the language stage's evidence
        **published_fields(page.published),
        text="\n\n".join(line for line in lines if line),
        removed=[*choice.removed, *markup],
    )


# What trafilatura reads of a page's scripts: its JSON-LD (the forum check and the baseline
# extractor, by this exact attribute test).
_JSON_LD_TYPE = "application/ld+json"


def drop_unread_elements(tree: Any) -> None:
    """Remove from a parsed page, in place, what trafilatura's extraction removes before it
    reads any text and never looks into: `<script>` (but JSON-LD) and `<style>` elements
    anywhere, and everything else in `<head>` (meta tags, links, the title), tail text
    kept. To run after `html_metadata` and `page_signals`, which read them.

    Every step of the extraction drops scripts and styles, tail kept, first
    (`tree_cleaning`, `basic_cleaning` in its page-length check and baseline, readability's
    `summary`, justext's cleaner), and the parser gives them no child elements; the head
    goes whole in `tree_cleaning`, the page-length check and the last-resort baseline read
    the body only, and readability and justext never look there. What is read of scripts,
    JSON-LD (the forum check, the baseline), stays. Removed once here, none of it is copied
    with the page up to four times per extraction (scripts and styles are half the bytes
    of a news page). On the 439 distinct pages, the fast and full extractions' texts and
    body trees came out the same as without this step."""
    for head in tree.iterchildren("head"):
        for element in list(head):
            if not _is_json_ld(element):
                element.drop_tree()
    for element in list(tree.iter("script", "style")):
        if not _is_json_ld(element) and element.getparent() is not None:
            element.drop_tree()


# The tags of ruby annotations, as they open in a page's bytes or text: a search for them
# (~0.08 ms a page) spares the other pages a walk of every element (~0.17 ms a page).
_RUBY_TAG = re.compile(rb"<r[tp]", re.IGNORECASE)
_RUBY_TAG_TEXT = re.compile(r"<r[tp]", re.IGNORECASE)


def may_hold_ruby(content: bytes | str) -> bool:
    """Whether a page may hold ruby annotations (`drop_ruby_annotations`): False only when
    no `<rt`/`<rp` tag opens in it; a page in UTF-16 or UTF-32 (a NUL byte) always may."""
    if isinstance(content, str):
        return _RUBY_TAG_TEXT.search(content) is not None
    return b"\x00" in content or _RUBY_TAG.search(content) is not None


def drop_ruby_annotations(tree: Any) -> bool:
    """Remove, in place, the annotations of ruby text (`<rt>`, `<rtc>`, and the `<rp>`
    parentheses around them), keeping what they annotate and the text after them; whether
    there were any. Japanese pages give kanji their readings so (furigana: NHK's easy news,
    school and learners' pages), Chinese ones pinyin or zhuyin: read as text they were
    inlined after each word ("石川県いしかわけんの能登のと地方ちほうで"), a text no other copy
    of the article has, and a reading for every term of the stories stage."""
    from lxml import etree

    annotations = list(tree.iter("rt", "rtc", "rp"))
    for element in annotations:
        if element.getparent() is not None:
            element.drop_tree()
    if annotations:
        # The ruby elements' own text stays inline in its paragraph (trafilatura, which
        # knows no <ruby>, made each annotated word a paragraph of its own).
        etree.strip_tags(tree, "ruby", "rb")
    return bool(annotations)


# A table cell that holds this many paragraphs or headings of text is a page's layout, not
# data: a data table's cell holds a value or a sentence.
_LAYOUT_CELL_PARAGRAPHS = 2
_CELL_BLOCKS = ("p", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote")
_TABLE_PARTS = frozenset({"tbody", "thead", "tfoot", "tr", "td", "th", "caption"})


def _own_parts(table: Any) -> Iterator[Any]:
    """A table's rows, cells and sections, and what they hold, but not a nested table's.
    With a stack, not recursion: parse_html admits markup 2,048 levels deep, and a
    recursive walk met Python's recursion limit at about 1,000."""
    stack = [iter(table)]
    while stack:
        child = next(stack[-1], None)
        if child is None:
            stack.pop()
        elif isinstance(child.tag, str) and child.tag != "table":
            yield child
            stack.append(iter(child))


def unwrap_layout_tables(tree: Any) -> int:
    """Make the tables that lay out a page into divisions, in place; how many there were. A
    table is layout when one of its own cells holds two paragraphs or headings of text
    (`_LAYOUT_CELL_PARAGRAPHS`). trafilatura writes a table cell's text on one line, its
    paragraphs joined by spaces: a page set in a table (older sites, e-mail-like pages)
    came out as one paragraph of thousands of words starting "| |" and ending with the
    page's footer links ("Home | |"). A nested table is judged on its own."""
    layout = []
    for table in tree.iter("table"):
        parts = list(_own_parts(table))
        cells = (part for part in parts if part.tag in ("td", "th"))
        if any(_cell_paragraphs(cell) >= _LAYOUT_CELL_PARAGRAPHS for cell in cells):
            layout.append((table, parts))
    for table, parts in layout:
        table.tag = "div"
        for part in parts:
            if part.tag in _TABLE_PARTS:
                part.tag = "div"
    return len(layout)


def _cell_paragraphs(cell: Any) -> int:
    """The paragraphs and headings holding text in a cell, outside its nested tables."""
    count = 0
    for part in _own_parts(cell):
        if part.tag in _CELL_BLOCKS and part.text_content().strip():
            count += 1
            if count >= _LAYOUT_CELL_PARAGRAPHS:
                break
    return count


def _is_json_ld(element: Any) -> bool:
    return element.tag == "script" and element.get("type") == _JSON_LD_TYPE


def _main_text(page: PreparedPage, config: ExtractConfig, fast: bool) -> str:
    """trafilatura's main text of a prepared page, one paragraph a line ("" when none)."""
    return main_text(page, fast, config.include_tables, config.favor_precision)


# Kinds a caller's own RawDocuments may name that this stage does not read: a feed or an
# OPML list became an "article" whose text was its XML (the command sends them to ReadFeeds).
_FEED_KINDS = frozenset({"feed", "opml"})
DOCUMENT_KINDS = ("text", "html", "jsonl")


def extract_document(doc: RawDocument, config: ExtractConfig) -> Article:
    """Any RawDocument -> Article; raises ExtractError for expected failures (a feed, or a
    kind this stage does not read, among them)."""
    if isinstance(doc.content, str):  # a caller's own text: what a file's bytes decode to
        doc = doc._replace(content=doc.content.encode("utf-8", errors="surrogatepass"))
    if doc.kind in _FEED_KINDS:
        raise ExtractError("not_a_document", "a feed or OPML list: ReadFeeds reads it")
    if doc.kind not in DOCUMENT_KINDS:
        kinds = ", ".join(DOCUMENT_KINDS)
        raise ExtractError("not_a_document", f"kind {doc.kind!r} is none of {kinds}")
    with publications_as_of(config.as_of, config.source_timezones):
        if doc.kind == "html":
            article = extract_html_document(doc, config, doc.fetched_at)
            if doc.url:  # a fetched page (a WARC record): its URL as a fetched page's
                article = with_fetched_url(article, doc.url)
            return article
        # A text or a JSON record has the page's time limit too: decoding and the Markdown
        # and header patterns are linear now, but a pattern's worst case is found on some
        # input.
        try:
            with time_limit(config.max_page_seconds):
                if doc.kind == "jsonl":
                    return extract_json_record(doc)
                return extract_text_document(doc)
        except TimeLimitExceeded:
            raise _time_limit_error(config, "a real text or record takes") from None


# ---------------------------------------------------------------------------------------
# Beam
# ---------------------------------------------------------------------------------------


class _Extract(beam.DoFn):
    def __init__(self, config: ExtractConfig) -> None:
        self._config = config

    # The worker template (pipeline/worker_template.py) runs this before it has the
    # pipeline's DoFns: the library, and what trafilatura builds on the first page that needs
    # its justext fallback and keeps (~28 MB), which no config changes: built once, shared by
    # the forked workers (not in setup(): a run on a few pages in one process may never need it).
    @classmethod
    def warm_ahead(cls) -> None:
        import trafilatura  # noqa: F401

        load_justext_stoplist()

    # Forked workers start warm: pipeline/worker_template.py calls this in the process
    # they fork from (setup() here only loads read-only models into loaded.py's cache).
    def warm_up(self) -> None:
        self.setup()
        self.warm_ahead()  # a no-op after the template's own warm_ahead (the stoplist is kept)

    def setup(self) -> None:
        import trafilatura  # noqa: F401  (import cost paid once per worker, not per page)

        # Their per-page log lines are dropped while NewsBeam extracts, and only then
        # (support/quiet_logs.py); their loggers' levels stay what the user set.
        quiet_logs.install()
        # Whether support/main_text.py's copy of trafilatura's code fits the installed one
        # (else its warning): checked here once, not on the first page.
        copy_matches_trafilatura()

    def process(self, doc: RawDocument) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        counter("extract_in").inc()
        try:
            article = extract_document(doc, self._config)
        except ExtractError as error:
            yield rejected_output(doc.source, STAGE, error.reason, str(error), doc.content)
            return
        if doc.truncated:  # the read stage kept a cut-off file: say so on its article
            article = article._replace(
                removed=[*article.removed, Removal(doc.truncated, "truncated")]
            )
        counter("extract_out").inc()
        count_published_zone(article)
        yield article


class ExtractArticles(beam.PTransform):
    """PCollection[RawDocument] -> (PCollection[Article], PCollection[Rejected])."""

    def __init__(self, config: ExtractConfig | None = None) -> None:
        super().__init__()
        self._config = config or ExtractConfig()

    def expand(
        self, documents: beam.PCollection[RawDocument]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(
            documents, "Extract", _Extract(self._config), STAGE, lambda d: d.source, Article
        )
