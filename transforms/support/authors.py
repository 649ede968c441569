"""A page's authors, tidied after trafilatura's metadata step (extract.html_metadata).

trafilatura reads authors from meta tags and JSON-LD and normalises each value
(`normalize_authors`): it splits on commas, replaces punctuation by spaces and title-cases
a name that starts in lower case. Measured on the fundus test pages' labelled authors
(`benchmarks/eval_authors.py`), that loses what a few conventions say plainly:
- Dublin Core and citation tags write a person surname first ("Castelvecchi, Davide"):
  split on the comma, one person became two names ("Castelvecchi", "Davide");
- a site credited by its domain ("nieuwsblad.be") came out "Nieuwsblad Be", an initial
  ("Miguel A. Herguedas") lost its full stop;
- the same person in two tags, once as a URL slug ("emma-mackenzie"), counted twice;
- a URL in an author tag left pieces of itself ("Www Washingtontimes Com").
`tidy_authors` mends these from the page's own meta tag values, and splits names joined
by "and" in a few more languages than English.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Sequence
from typing import Any

from lxml import etree

from newsbeam.transforms.support.urls import split_url

# Meta tags whose content trafilatura reads as authors (its METANAME_AUTHOR, PROPERTY_AUTHOR
# and itemprop="author"); of them, those whose convention is "Surname, Given names".
_SURNAME_FIRST_TAGS = frozenset(
    {
        "dc.creator",
        "dc:creator",
        "dcterms.creator",
        "dc.creator.aut",
        "dcterms.creator.aut",
        "citation_author",
    }
)
# One person surname first: two comma-separated parts of one to three words each, letters
# (with hyphens, apostrophes and initials' full stops), no digits.
_NAME_PART = r"[^\W\d_][\w'’.\-]*(?:\s+[^\W\d_][\w'’.\-]*){0,2}"
_SURNAME_FIRST = re.compile(rf"\s*({_NAME_PART})\s*,\s*({_NAME_PART})\s*")
# "and" between two names, in the languages of the pages measured (English is split by
# trafilatura already): German, Danish/Norwegian, Swedish, Dutch, French.
_AND = re.compile(r"\s+(?:und|og|och|en|et)\s+", re.IGNORECASE)
_URL_WORDS = frozenset({"http", "https", "www"})
# What trafilatura's respelling loses and the tag's own spelling keeps: an initial's full
# stop ("Miguel A. Herguedas"), or a site credited by its domain ("nieuwsblad.be"). Not a
# handle ("sauli.giliard"), which trafilatura's "Sauli Giliard" reads better as.
_INITIAL = re.compile(r"(?:^|\s)[^\W\d_]\.(?:\s|$)")
_DOMAIN = re.compile(r"[\w-]+(?:\.[\w-]+)*\.[^\W\d_]{2,3}")


# "By" as bylines in other languages write it: "Von" (not "von der Leyen"), "Par", "Por",
# "di" (lower case: "Di Maio" is a surname), "Door", "Av", "Af", "Oleh", "Автор", "بقلم",
# "מאת", Persian "نوشته" and "به قلم", Thai "โดย"; a colon after it allowed ("Por: Ana Souza").
_BYLINE = re.compile(
    r"^(?:(?i:by|par|por|door|av|af|oleh|автор|від|بقلم|به قلم|نوشته|מאת|โดย)|Von(?! de[mnr]? )"
    r"|von(?= [A-Z])(?! de[mnr]? )|di)\s*:?\s+(?=\S)"
)
# A reporter's title beside a Chinese, Japanese or Korean name: "记者 李华", "本報記者 陳大文"
# (the paper's own reporter), "中央社記者 王小明", "新华社记者 李华" (an agency's: a few
# characters before the title), "作者：李华", "文/李华", "홍길동 기자", "김민수 특파원" (a
# correspondent).
_REPORTER = re.compile(
    r"^(?:[^\s记記]{0,6}(?:记者|記者)|기자)\s*(?=\S)"
    r"|^(?:作者|撰文)\s*[:：]\s*(?=\S)|^文\s*[/／|｜]\s*(?=\S)"
    r"|(?<=\S)\s*(?:记者|記者|기자|특파원)$"
)


# A byline standing alone on a line or paragraph at the top of a text, as sites without
# author metadata show it: a byline word, one to four names joined by "and" in the byline's
# languages, and perhaps a place or an agency after a comma, "|" or a dash ("Por Ana
# García", "di Mario Rossi e Giulia Bianchi", "Door Jan de Vries", "Von Anna Sleegers,
# Frankfurt"). A name is two to four capitalised words, particles between them ("de",
# "van", "dos"): a sentence ("Por la mañana, ...", "Di Maio ha detto ...") has lower-case
# words, and "By AP" one word.
_NAME_WORD = r"[^\W\d_a-zß-ÿ][\w'’.\-]*"
_PARTICLE = r"(?:de|da|do|dos|das|del|della|di|van|von|der|den|ter|la|le|du|y|e|bin|al)"
_PERSON = rf"{_NAME_WORD}(?:\s+(?:{_PARTICLE}\s+)*{_NAME_WORD}){{1,3}}"
_NAMES_JOIN = re.compile(r"\s+(?:and|y|e|et|en|und|&)\s+")
_STANDALONE_BYLINE = re.compile(
    r"^(?:By|BY|Por|POR|Par|PAR|Di|di|DI|Door|DOOR|Von|von|VON|Av|Af|Oleh)\s*:?\s+"
    rf"(?P<names>{_PERSON}(?:{_NAMES_JOIN.pattern}{_PERSON}){{0,3}})"
    r"(?:\s*(?:,|\||\u2013|\u2014|-)\s*[^\W\d_][\w .'’\-]{0,40})?\.?$"
)


def byline_names(line: str) -> list[str] | None:
    """The names a byline line states ("Por Ana García" -> ["Ana García"]), or None when
    the line is no byline standing alone."""
    match = _STANDALONE_BYLINE.match(" ".join(line.split()))
    if match is None:
        return None
    names = [name.strip() for name in _NAMES_JOIN.split(match.group("names"))]
    particles = re.compile(_PARTICLE)
    # The pattern's capitals are Latin-1's; a name's words start with a capital in any script.
    if not all(
        word[0].isupper()
        for name in names
        for word in name.split()
        if not particles.fullmatch(word)
    ):
        return None
    return names


# "y", "e" and "i" (Spanish, Portuguese, Italian, Catalan) join two people as "and" does,
# and a double surname too ("José Ortega y Gasset", "Santiago Ramón y Cajal"): split only
# where every side is a whole name, two words or more starting with a capital.
_AND_OR_SURNAMES = re.compile(r"\s+(?:y|e|i)\s+")


def split_people(name: str) -> list[str]:
    """One name, or the people "y"/"e"/"i" join in it ("Ana García y Luis Pérez")."""
    parts = _AND_OR_SURNAMES.split(name)
    if len(parts) > 1 and all(len(part.split()) >= 2 and part[:1].isupper() for part in parts):
        return parts
    return [name]


def without_byline(name: str) -> str:
    """A name without the byline word before it ("By", "Por", "Von", "بقلم", ...) or the
    reporter's title beside it ("记者 李华")."""
    return _REPORTER.sub("", _BYLINE.sub("", name))


def head_metas(tree: Any) -> list[Any]:
    """The `<meta content=...>` elements of the page's `<head>` (a child of the root, as the
    parser places it): what the functions below read, found once per page."""
    return [
        element
        for head in tree.iterchildren("head")
        for element in head.iterchildren("meta")
        if element.get("content")
    ]


@functools.cache
def _author_tags() -> tuple[frozenset[str], frozenset[str]]:
    from trafilatura import metadata as meta

    names = frozenset(name.lower() for name in meta.METANAME_AUTHOR)
    return names, frozenset(name.lower() for name in meta.PROPERTY_AUTHOR)


def meta_author_values(metas: Iterable[Any]) -> list[tuple[str, str]]:
    """(tag name, content) of the author tags among a page's `head_metas`, in page order:
    the raw values trafilatura normalised (its METANAME_AUTHOR and PROPERTY_AUTHOR names,
    and itemprop="author")."""
    names, properties = _author_tags()
    found = []
    for element in metas:
        content = element.get("content").strip()
        if "property" in element.attrib:
            tag = element.get("property", "").lower()
            keep = tag in properties
        elif "name" in element.attrib:
            tag = element.get("name", "").lower()
            keep = tag in names
        else:
            tag = "itemprop" if element.get("itemprop", "").lower() == "author" else ""
            keep = bool(tag)
        if keep and content:
            found.append((tag, content))
    return found


# The "Written by" line Yoast SEO (WordPress) writes for Twitter cards: the label in the
# site's language in twitter:labelN and the name in twitter:dataN, or a twitter:misc:Written
# by tag. Pages whose author tags hold only an e-mail address name the author there.
_WRITTEN_BY = re.compile(
    r"written by|verfasst von|geschrieben von|escrito por|écrit par|scritto da|"
    r"geschreven door|skrevet av|skrevet af|skriven av|napisane przez",
    re.IGNORECASE,
)


def written_by(metas: Iterable[Any]) -> list[str]:
    """The names of the page's Twitter-card "Written by" line (`_WRITTEN_BY`) among its
    `head_metas`, in page order, each once."""
    labels: dict[str, str] = {}
    data: dict[str, str] = {}
    found: list[str] = []
    for element in metas:
        tag = (element.get("name") or element.get("property") or "").lower()
        content = " ".join(element.get("content").split())
        if tag.startswith("twitter:misc:") and _WRITTEN_BY.fullmatch(tag[len("twitter:misc:") :]):
            found.append(content)
        elif tag.startswith("twitter:label"):
            labels[tag[len("twitter:label") :]] = content
        elif tag.startswith("twitter:data"):
            data[tag[len("twitter:data") :]] = content
    found += [
        data[key] for key, label in labels.items() if key in data and _WRITTEN_BY.fullmatch(label)
    ]
    return list(dict.fromkeys(name for name in found if name and "@" not in name))


# A link to an author's page: a path segment that says so ("/author/jane-doe",
# "/autoren/name/max-kolter") or rel="author".
_AUTHOR_PAGE = re.compile(
    r"/(?:authors?|autor(?:en|in)?|auteurs?|autore|autori|journalists?|redakteur(?:in)?|writers?)/",
    re.IGNORECASE,
)
# The links `_AUTHOR_PAGE` may match, found by lxml (a page has hundreds of links).
_AUTHOR_LINKS = etree.XPath(
    '//a[@rel="author" or contains(@href, "/author") or contains(@href, "/Author")'
    ' or contains(@href, "/autor") or contains(@href, "/auteur")'
    ' or contains(@href, "/journalist") or contains(@href, "/redakteur")'
    ' or contains(@href, "/writer")]'
)
# What a linked byline looks like: two to four words, the first capitalised, no digits.
_LINKED_NAME = re.compile(r"[^\W\d_][^\s\d]*(?:\s+[^\s\d]+){1,3}")
_COMPANY = re.compile(r"\b(?:inc|ltd|llc|gmbh|ag|corp|plc)\b\.?", re.IGNORECASE)


def linked_author(tree: Any) -> list[str]:
    """The one person the page links to an author page for (`_AUTHOR_PAGE`), [] where it
    links none or several (a sidebar of columnists, a related story's byline beside the
    article's): a byline of a page whose tags name nobody."""
    found: set[str] = set()
    for link in _AUTHOR_LINKS(tree):
        parts = split_url(link.get("href") or "")  # None: rel="author" may still say so
        path = parts.path if parts else ""
        if not (_AUTHOR_PAGE.search(path + "/") or (link.get("rel") or "").lower() == "author"):
            continue
        name = " ".join(link.text_content().split())
        if _LINKED_NAME.fullmatch(name) and name[0].isupper() and not _COMPANY.search(name):
            found.add(name)
            if len(found) > 1:
                return []
    return sorted(found)


# Meta tags that name the site or the company behind it (with og:site_name's property).
_ORGANISATION_TAGS = frozenset(
    {"og:site_name", "publisher", "dc.publisher", "application-name", "copyright"}
)
# A JSON-LD publisher's name, read without parsing the script again (json_ld_metadata parses
# it for trafilatura, whose Document keeps no publisher).
_LD_PUBLISHER = re.compile(r'"publisher"\s*:\s*\{[^{}]*?"name"\s*:\s*"((?:[^"\\]|\\.)*)"')


def organisation_names(
    metas: Iterable[Any], json_ld: Iterable[str] = (), site: str | None = None
) -> list[str]:
    """What the page calls its site and publisher: og:site_name, the publisher and
    application-name tags and the copyright notice among its `head_metas`, the publisher
    names in its JSON-LD scripts' texts, and `site`."""
    found = [site] if site else []
    for element in metas:
        tag = (element.get("property") or element.get("name") or "").lower()
        if tag in _ORGANISATION_TAGS:
            found.append(element.get("content"))
    for text in json_ld:
        found += _LD_PUBLISHER.findall(text)
    return [name for name in found if name.strip()]


def name_words(text: str) -> list[str]:
    """A name's words, case folded, punctuation dropped: how names are compared here and
    in support/titles.py ("Börsen-Zeitung" is "börsen", "zeitung")."""
    return [word for word in re.split(r"[\W_]+", text.casefold()) if word]


def is_run(short: Sequence[str], long: Sequence[str]) -> bool:
    """Whether `short` occurs in `long` as consecutive items."""
    size = len(short)
    return any(list(short) == list(long[i : i + size]) for i in range(len(long) - size + 1))


def _within(name: str, organisations: Sequence[list[str]]) -> bool:
    """Whether `name`'s words are a run of the words of one of the organisation names."""
    words = name_words(name)
    return bool(words) and any(is_run(words, organisation) for organisation in organisations)


def _key(name: str) -> str:
    """A name's letters and digits, case aside: "Emma Mackenzie" and "emma-mackenzie" are
    the same person; "nieuwsblad.be" and "Nieuwsblad Be" the same spelling."""
    return re.sub(r"[\W_]+", "", name).casefold()


def surname_first(value: str) -> str | None:
    """ "Castelvecchi, Davide" -> "Davide Castelvecchi"; None when `value` is not one name
    written surname first."""
    match = _SURNAME_FIRST.fullmatch(value)
    if match is None:
        return None
    return f"{match.group(2)} {match.group(1)}"


def tidy_authors(
    authors: Sequence[str],
    meta_values: Iterable[tuple[str, str]],
    organisations: Iterable[str] = (),
) -> list[str]:
    """trafilatura's authors of a page (split into a list), mended from the page's author
    meta tags (`meta_author_values`): names written surname first in a Dublin Core or
    citation tag joined again and turned round; a name trafilatura respelt given back as
    the tag wrote it (an initial's full stop, a domain: only punctuation and case differ);
    names joined by "and" split; a byline's "By" in any language dropped (`without_byline`);
    URL pieces dropped; one name per person (a slug and the written name: the written one);
    the site or publisher (`organisation_names`) dropped
    when people are named beside it."""
    names = list(authors)
    spelt: dict[str, str] = {}
    for tag, value in meta_values:
        turned = surname_first(value) if tag in _SURNAME_FIRST_TAGS else None
        if turned is not None:
            # trafilatura split it in two: the two halves give way to the one person.
            halves = {_key(half) for half in value.split(",")}
            at = next((i for i, name in enumerate(names) if _key(name) in halves), len(names))
            names = [name for name in names if _key(name) not in halves]
            names.insert(min(at, len(names)), turned)
            continue
        for piece in re.split(r"[;,]", value):
            piece = " ".join(piece.split())
            if _INITIAL.search(piece) or _DOMAIN.fullmatch(piece):
                spelt.setdefault(_key(piece), piece)
    tidied: list[str] = []
    seen: dict[str, int] = {}
    for name in names:
        people = [
            person
            for joined in _AND.split(spelt.get(_key(name), name))
            for person in split_people(without_byline(joined.strip()))
        ]
        for part in people:
            if not part or _URL_WORDS & set(re.split(r"\W+", part.casefold())):
                continue
            key = _key(part)
            if key in seen:
                # The same person twice: keep the form written with spaces ("Emma
                # Mackenzie" rather than the slug "emma-mackenzie").
                if " " in part and " " not in tidied[seen[key]]:
                    tidied[seen[key]] = part
                continue
            seen[key] = len(tidied)
            tidied.append(part)
    # The site or its publisher named beside the people who wrote the article ("Condé Nast"
    # in an author tag): not one of them. Alone, it is the page's only credit and stays.
    companies = [name_words(name) for name in organisations]
    people = [name for name in tidied if not _within(name, companies)]
    return people or tidied
