"""Dates as news in other languages and scripts writes them, rewritten into the English
notation dateutil reads: "4. Dezember 2026", "4 de diciembre de 2026", "4 декабря 2026",
"٤ ديسمبر ٢٠٢٦", "2026年12月4日 14時30分", "2026년 12월 4일", "ngày 4 tháng 12 năm 2026".

dateutil knows English month names and ASCII digits only: every such date came out as no
date (a JSON record's `published`, a text's date line, a page's meta value), silently.
dateparser reads them but took 0.1-10 s a value (it guesses the language first), too slow
for a per-document step; its locale data (installed with htmldate) gives the words:
month and weekday names, and the words a date is written with ("de", "um", "Uhr", "в",
"ngày"), of the languages below. A name that means different months in two of them
("listopad": November in Polish and Czech, October in Croatian) is left out.

A year of 1300-1599 is of the Hijri calendars (no news is dated in those Gregorian
years; read as Gregorian, Persian "1405/09/13" was the year 1405). The Solar Hijri
calendar of Iran and Afghanistan, told by Persian digits ("۱۴۰۵/۰۹/۱۳") or a Persian
month name ("۱۳ آذر ۱۴۰۵"), is arithmetic and converted (4 December 2026); the lunar
Hijri calendar of Arabic digits and month names ("١٤ جمادى الآخرة ١٤٤٨ هـ") is not, since
the countries that use it start its months on sightings or tables of their own, a day
apart: no date rather than a wrong one, and so for a Hijri year in ASCII digits alone.
The calendars that count Gregorian years from another epoch are converted, since their
years map one to one: a date written in Thai with a year of 2400-2699 is of the Buddhist
era, as Thai news dates ("5 ธันวาคม 2569" is 5 December 2026; "ค.ศ." marks a Gregorian
year); a Japanese era year ("令和8年", "平成31年", "元年" its first) and Taiwan's Republic
era year ("民國115年", or "115年12月5日": no other date puts three digits before 年).
"""

from __future__ import annotations

import ast
import datetime as dt
import functools
import importlib.util
import logging
import re
import unicodedata
from pathlib import Path
from typing import Any

from newsbeam.transforms.support.built_cache import built, newsbeam_sources

log = logging.getLogger(__name__)

# The languages whose words are read: the newsroom's (European, Slavic, Turkish, Arabic,
# Persian, Hebrew, Hindi, Indonesian, Malay, Swahili, Vietnamese) and their neighbours.
_LANGUAGES = (
    "de fr es pt it nl pl ru uk tr ar fa he hi id ms sw vi ca ro cs da sv nb fi hu el th"
).split()
_MONTHS = (
    "january february march april may june july august september october november december"
).split()
_WEEKDAYS = "monday tuesday wednesday thursday friday saturday sunday".split()
# Unit words that frame a date ("ngày 4 tháng 12 năm 2026", "4 de dezembro de 2026"); one-
# and two-letter ones ("a", "d") are left: too many other words are spelt so.
_FRAME_KEYS = ("skip", "pertain", "day", "year")
_MIN_FRAME_LETTERS = 3

# Year, month, day (and hour, minute) as Chinese, Japanese and Korean write them.
_CJK_DATE = re.compile(r"(\d{4})\s*[年년]\s*(\d{1,2})\s*[月월]\s*(\d{1,2})\s*[日일]?")
_CJK_TIME = re.compile(r"(\d{1,2})\s*[時时시点點]\s*(\d{1,2})\s*[分분]?")
# Year, month and day with full stops, year first, as Korean writes them ("2026. 12. 5.").
_YEAR_FIRST_DOTS = re.compile(r"(?<![\d.])(\d{4})\.\s*(\d{1,2})\.\s*(\d{1,2})(?!\d)\.?")
# Morning and afternoon before the time ("오후 2:30", "下午3:30", "午後2:30"): dateutil
# reads AM and PM after it.
_HALF_DAY = re.compile(r"(오전|오후|上午|下午|午前|午後)\s*(\d{1,2}:\d{2})")
_HALF_DAYS = {"오전": "AM", "上午": "AM", "午前": "AM", "오후": "PM", "下午": "PM", "午後": "PM"}
# Era years: the year before the era's first (Japanese eras; Taiwan's Republic era).
_ERA_BEFORE_FIRST = {"令和": 2018, "平成": 1988, "昭和": 1925, "民國": 1911, "民国": 1911}
_ERA_YEAR = re.compile(r"(令和|平成|昭和|民國|民国)\s*(\d{1,3}|元)\s*年")
_REPUBLIC_YEAR = re.compile(r"(?<!\d)(1\d\d)(?=\s*年\s*\d{1,2}\s*月)")
_THAI = re.compile("[\u0e01-\u0e5b]")
_THAI_ABBREVIATION = re.compile("(?<=[\u0e01-\u0e2e])\\.")
_BUDDHIST_YEAR = re.compile(r"(?<!\d)2[4-6]\d\d(?!\d)")
_BUDDHIST_ERA_OFFSET = 543
# "18h05" (French, Portuguese), "14.30 Uhr" (German), "kl. 14.30" (Nordic) -> 14:30.
_H_TIME = re.compile(r"\b(\d{1,2})h(\d{2})\b|\b(\d{1,2})\.(\d{2})(?=\s*(?:uhr|h)\b)", re.I)
_ARABIC_SCRIPT_DIGITS = re.compile("[\u0660-\u0669\u06f0-\u06f9]")
_PERSIAN_DIGITS = re.compile("[\u06f0-\u06f9]")
_YEAR_OF_HIJRI = re.compile(r"(?<!\d)1[3-5]\d\d(?!\d)")
# A date of the Hijri years in numbers, year first ("1405/09/13"; with hyphens it is ISO
# 8601, Gregorian by definition), and the Solar Hijri month names (Persian and Dari: "آذر",
# not the Levantine Arabic "آذار", March).
_HIJRI_NUMBERS = re.compile(r"(?<!\d)(1[3-5]\d\d)\s*[/.]\s*(\d{1,2})\s*[/.]\s*(\d{1,2})(?!\d)")
_SOLAR_MONTHS = {
    name: number
    for number, names in enumerate(
        ("فروردین حمل", "اردیبهشت ثور", "خرداد جوزا", "تیر سرطان", "مرداد امرداد اسد",
         "شهریور سنبله", "مهر میزان", "آبان عقرب", "آذر قوس", "دی جدی", "بهمن دلو",
         "اسفند حوت"),
        start=1,
    )
    for name in names.split()
}  # fmt: skip
_CLOCK = re.compile(r"(?<!\d)\d{1,2}:\d{2}(?::\d{2})?(?!\d)")
_SOLAR_NAMED = re.compile(
    rf"(?<!\d)(\d{{1,2}})\s+({'|'.join(_SOLAR_MONTHS)})(?!\w)\s*(1[3-5]\d\d)(?!\d)"
)


def ascii_digits(value: str) -> str:
    """Every decimal digit (Arabic-Indic, Persian, Devanagari, full-width, ...) as 0-9."""
    if value.isascii():
        return value
    return "".join(str(unicodedata.decimal(char)) if char.isdecimal() else char for char in value)


def english_date(value: str) -> str | None:
    """`value` rewritten for dateutil (ASCII digits, English month and weekday names, the
    words around a date dropped), or None when it is a date of another calendar."""
    if of_hijri_years(value):
        return solar_hijri_date(value)
    text = ascii_digits(value).replace("\u060c", ",")  # the Arabic comma
    text = _ERA_YEAR.sub(_era_year, text)
    text = _REPUBLIC_YEAR.sub(lambda m: str(int(m[1]) + _ERA_BEFORE_FIRST["民國"]), text)
    text = _CJK_DATE.sub(r"\1-\2-\3 ", text)
    text = _CJK_TIME.sub(lambda m: f"{m[1]}:{int(m[2]):02d}", text)  # "9時5分": 9:05
    text = _YEAR_FIRST_DOTS.sub(r"\1-\2-\3 ", text)
    text = _HALF_DAY.sub(lambda m: f"{m[2]} {_HALF_DAYS[m[1]]}", text)
    if _THAI.search(text):
        text = _gregorian_of_thai(text)
    text = _H_TIME.sub(lambda m: f"{m[1] or m[3]}:{m[2] or m[4]}", text)
    if text.isascii() and not re.search(r"[^\W\d_]", text):
        return " ".join(text.split())  # no words left to translate (most values)
    return " ".join(_translated(text).split())


def of_hijri_years(value: str) -> bool:
    """Whether a date value is of the Hijri calendars: a year of 1300-1599 in Arabic-script
    digits, or in a year-first date of numbers ("1405/09/13") or beside a Solar Hijri month
    name in any digits."""
    digits = ascii_digits(value)
    if _YEAR_OF_HIJRI.search(digits) is None:
        return False
    if _ARABIC_SCRIPT_DIGITS.search(value) or _HIJRI_NUMBERS.search(digits):
        return True
    return _SOLAR_NAMED.search(digits) is not None


def solar_hijri_date(value: str) -> str | None:
    """A Hijri date value as a Gregorian "YYYY-MM-DD" (what follows it kept: a time) when
    it is Solar Hijri: Persian digits or a Solar month name say so. None for the lunar
    calendar, for a date of neither kind and for a day the month does not have."""
    digits = ascii_digits(value)
    named = _SOLAR_NAMED.search(digits)
    if named is not None:
        year, month, day = int(named[3]), _SOLAR_MONTHS[named[2]], int(named[1])
    else:
        numbers = _HIJRI_NUMBERS.search(digits)
        if numbers is None or _PERSIAN_DIGITS.search(value) is None:
            return None
        year, month, day = int(numbers[1]), int(numbers[2]), int(numbers[3])
        named = numbers
    if not 1 <= month <= 12 or not 1 <= day <= (31 if month <= 6 else 30):
        return None
    # The time after it, if any ("ساعت ۱۰:۳۰", "at 10:30"): the words around it are not read.
    time = _CLOCK.search(digits, named.end())
    gregorian = gregorian_of_solar_hijri(year, month, day).isoformat()
    return f"{gregorian} {time[0]}" if time else gregorian


def gregorian_of_solar_hijri(year: int, month: int, day: int) -> dt.date:
    """The Gregorian date of a Solar Hijri one: the 33-year arithmetic of the calendar's
    usual converters (jalaali, jdf), the same 1 Farvardin as jalaali's table of breaks for
    every year 1300-1599 (1403 and 1399 leap, as the official calendar had them)."""
    years = year + 1595
    days = -355668 + 365 * years + (years // 33) * 8 + ((years % 33) + 3) // 4 + day
    days += (month - 1) * 31 if month < 7 else (month - 7) * 30 + 186
    gregorian = 400 * (days // 146097)
    days %= 146097
    if days > 36524:
        days -= 1
        gregorian += 100 * (days // 36524)
        days %= 36524
        if days >= 365:
            days += 1
    gregorian += 4 * (days // 1461)
    days %= 1461
    if days > 365:
        gregorian += (days - 1) // 365
        days = (days - 1) % 365
    return dt.date(gregorian, 1, 1) + dt.timedelta(days=days)


def _era_year(match: re.Match[str]) -> str:
    """An era's year as the Gregorian year ("令和8年" -> "2026年"; "元年" is the first)."""
    year = 1 if match[2] == "元" else int(match[2])
    return f"{_ERA_BEFORE_FIRST[match[1]] + year}年"


def _gregorian_of_thai(text: str) -> str:
    """A date written in Thai with its abbreviations' full stops dropped ("ธ.ค." -> "ธค", as
    the locale data spells it) and a Buddhist era year as the Gregorian one, unless "ค.ศ."
    (the Christian era) says the year is Gregorian already."""
    text = _THAI_ABBREVIATION.sub("", text)
    if "คศ" in text:
        return text.replace("คศ", " ")
    text = text.replace("พศ", " ")  # the Buddhist era's own mark
    return _BUDDHIST_YEAR.sub(lambda m: str(int(m[0]) - _BUDDHIST_ERA_OFFSET), text)


# A word, and the word or one- or two-digit number after it: names of two words ("tháng 12",
# "יום שישי", "a las") are looked up as a pair first.
_PAIR = r"([\p{L}\p{M}\u05f3']+)(?:(\s+)([\p{L}\p{M}\u05f3']+|\d{1,2}(?!\d)))?"


def _translated(text: str) -> str:
    """Month and weekday names in English, frame words dropped; other words as they were
    ("CET" stays a zone dateutil knows)."""
    names, frames = _vocabulary()

    def word(found: str) -> str:
        key = found.casefold()
        if key in names:
            return f" {names[key]} "
        # A frame word in capitals is kept: "6:03 PM ET" is US Eastern time, not French "et".
        return " " if key in frames and not (len(found) > 1 and found.isupper()) else found

    def pair(match: Any) -> str:
        first, space, second = match.group(1, 2, 3)
        if second is None:
            return word(first)
        both = f"{first} {second}"
        if both.casefold() in names or both.casefold() in frames:
            return word(both)
        return word(first) + space + word(second)

    return _pair_pattern().sub(pair, text)


@functools.lru_cache(maxsize=1)
def _pair_pattern() -> Any:
    import regex

    return regex.compile(_PAIR)


@functools.lru_cache(maxsize=1)
def _vocabulary() -> tuple[dict[str, str], frozenset[str]]:
    """({local month or weekday name: its English name}, frame words), read once (~0.2 s)
    and then from the cache of built objects (support/built_cache.py)."""
    try:
        names, frames = built("local_dates", None, _read_words, [*newsbeam_sources(), _data()])
    except (OSError, SyntaxError, ValueError) as error:  # a broken install: English dates only
        log.warning("dates in other languages are not read: %s", error)
        return {}, frozenset()
    return names, frozenset(frames)


def _data() -> Path:
    """dateparser's folder of locale data, found without importing dateparser (its import
    costs ~0.2 s: the parser, time zones, the language detector)."""
    spec = importlib.util.find_spec("dateparser")
    if spec is None or spec.origin is None:
        raise FileNotFoundError("dateparser's locale data (installed with htmldate)")
    return Path(spec.origin).parent / "data" / "date_translation_data"


def _read_words() -> tuple[dict[str, str], list[str]]:
    """({local month or weekday name: its English name}, [frame words]) of `_LANGUAGES`."""
    import regex

    english: dict[str, set[str]] = {}
    frames: set[str] = set()
    for language in _LANGUAGES:
        source = (_data() / f"{language}.py").read_text(encoding="utf-8")
        info = ast.literal_eval(source.split("=", 1)[1])  # "info = {...}": plain data
        for key in (*_MONTHS, *_WEEKDAYS):
            # Weekday abbreviations ("di", "mit", "do") are everyday words: full names only.
            shortest = 1 if key in _MONTHS else 4
            for name in info.get(key, []):
                if len(name) >= shortest and regex.search(r"\p{L}", name):
                    english.setdefault(name.casefold(), set()).add(key)
        for key in _FRAME_KEYS:
            for word in info.get(key, []):
                letters = len(regex.findall(r"\p{L}", word))
                whole = regex.fullmatch(r"\p{L}+", word) is not None
                if letters >= _MIN_FRAME_LETTERS or key in ("skip", "pertain") and whole:
                    frames.add(word.casefold())
    names = {name: next(iter(keys)) for name, keys in english.items() if len(keys) == 1}
    return names, sorted(frames - set(names))
