"""A page's title without the site's name trailing it ("... | Börsen-Zeitung").

trafilatura's title comes from the page's metadata (og:title, the title tags), which most
sites end with their own name after a separator: "Steigende US-Zinsen setzen Dax zu |
Börsen-Zeitung", "... - golem.de", "... | DW | 28.04.2023". Measured on the fundus test
pages' labelled titles (`benchmarks/eval_titles.py`), that was half of the titles that
differ. `strip_site_suffix` drops, from the end, pieces after a separator that name the
site (as the page itself calls it: its site name, publisher, domain), a date, or a byline,
when at least one of them names the site: a headline's own colon or dash stays.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from newsbeam.transforms.support.authors import is_run, name_words
from newsbeam.transforms.support.urls import split_url
from newsbeam.transforms.support.words import without_marks

# A separator between a headline and what a site appends: |, -, –, —, ·, •, * between
# spaces, or |, ｜, :, ： (often without spaces, as Japanese sites write them), and _, ＿,
# －, -- as Chinese portals write them ("标题_财经频道_新闻网", "标题--人民网").
_SEPARATOR = re.compile(r"\s+[|\-–—·•*]\s+|\s*(?:[|｜:：_＿－]|--)\s*")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_BYLINE = re.compile(r"(?:by|von|par|por|di|door|av|af)\s+\S.*", re.IGNORECASE)
# A piece longer than this is part of the headline, whatever it says; a site name longer
# than this is a sentence (a copyright notice's), not a name.
_MAX_PIECE_WORDS = 8
_MAX_SITE_WORDS = 10
# A one-word site name ("ntv", "tageszeitung": a host's) names a piece this short that
# holds it among other capitalised words, as a name ("NTV Haber", "Die Neue Südtiroler
# Tageszeitung"; not "Tageszeitung-Chef tritt zurück").
_MAX_NAMED_PIECE_WORDS = 4
_MIN_SITE_WORD_LETTERS = 3
# Labels under a country's domain that name no site ("ntv.com.tr", "bbc.co.uk").
_SECOND_LEVEL_LABELS = frozenset({"ac", "co", "com", "edu", "gov", "ne", "net", "or", "org"})
# Letters a host name writes out (German and Nordic domains: "boersen-zeitung.de").
_WRITTEN_OUT = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "æ": "ae", "ø": "oe", "å": "aa"})


def site_names(organisations: Iterable[str], url: str | None) -> list[list[str]]:
    """The words of each name the page gives its site (`authors.organisation_names`), and
    its host: whole, as one word ("golem.de" is "golemde", so that neither "golem" nor
    "de" alone matches it), and without the top-level domain ("golem")."""
    names = [name_words(name) for name in organisations]
    parts = split_url(url or "")
    host = (parts.hostname or "").removeprefix("www.") if parts else ""
    labels = [label for label in host.split(".") if label]
    if labels:
        names.append(["".join(name_words(host))])
        labels = labels[:-1]  # the top-level domain, and a second level under it ("co.uk")
        if len(labels) > 1 and labels[-1] in _SECOND_LEVEL_LABELS:
            labels = labels[:-1]
        if labels:
            names.append(name_words(" ".join(labels)))  # "boersen-zeitung": two words
    return [name for name in names if name]


def _spellings(words: list[str]) -> list[list[str]]:
    """`words` as written and as a host name spells them: accents dropped ("é" is "e"), or
    umlauts and Nordic letters written out ("ö" is "oe")."""
    found = [words]
    for spelling in (
        [without_marks(word) for word in words],
        [without_marks(word.translate(_WRITTEN_OUT)) for word in words],
    ):
        if spelling not in found:
            found.append(spelling)
    return found


def _names_site(piece: str, sites: list[list[str]]) -> bool:
    """Whether `piece` is one of the site's names: its words (not only numbers) a run of
    one's words, the same letters run together ("golem.de" for the host "golemde"), a
    name of two words or more with one word more around it ("The Times of India"), or a
    short capitalised name holding a one-word name ("NTV Haber"); accents and umlauts as
    written or as a host spells them (`_spellings`)."""
    written = name_words(piece)
    if not any(not word.isdigit() for word in written):
        return False
    capitalised = all(word[:1].isupper() or not word[:1].isalpha() for word in piece.split())
    return any(
        is_run(words, site)
        or "".join(words) == "".join(site)
        or (len(site) >= 2 and len(words) == len(site) + 1 and is_run(site, words))
        or (
            capitalised
            and len(site) == 1
            and len(site[0]) >= _MIN_SITE_WORD_LETTERS
            and len(words) <= _MAX_NAMED_PIECE_WORDS
            and site[0] in words
        )
        for words in _spellings(written)
        for site in sites
    )


def strip_site_suffix(title: str | None, sites: list[list[str]]) -> str | None:
    """`title` without the pieces at its end, after separators, that name the site, give a
    date or a byline, as long as one of them names the site (`site_names`)."""
    if not title or not sites:
        return title
    # A page whose metadata calls its site by the title itself (seen: a publisher name that
    # was the headline) names nothing by it.
    headline_words = name_words(title)
    sites = [site for site in sites if site != headline_words and len(site) <= _MAX_SITE_WORDS]
    cuts = list(_SEPARATOR.finditer(title))
    keep = len(title)
    named = False
    end = len(title)
    for cut in reversed(cuts):
        piece = title[cut.end() : end].strip()
        if not piece or len(piece.split()) > _MAX_PIECE_WORDS:
            break
        if _names_site(piece, sites):
            named = True
        elif not (
            _DATE.fullmatch(piece)
            or _BYLINE.fullmatch(piece)
            # A portal's channel between the headline and its name ("_财经频道_新闻网"): no
            # headline writes "_" itself.
            or named
            and cut.group().strip() in ("_", "＿")
        ):
            break
        end = cut.start()
        if named:
            keep = end
    headline = title[:keep].strip()
    return headline if headline else title


# What separates a site's name from a tagline or a headline in what a page calls its site
# ("The Gateway Pundit - Where Hope Finally Made a Comeback", "<headline> - Tageblatt.lu").
_SITE_SEPARATOR = re.compile(r"\s+[|\-–—·•]\s+|\s*[|｜:：]\s*")
_URL_LIKE = re.compile(r"(?:https?:)?//|www\.", re.IGNORECASE)


def site_name(name: str | None, declared: str | None, url: str | None) -> str | None:
    """The name a page gives its site, as one outlet's pages share it. `name` is what the
    metadata gave (trafilatura's pick), `declared` the page's og:site_name. When separators
    cut `name` into pieces of which one alone names the site's host, that piece (a tagline,
    a company or a headline beside the name: "Freie Presse - Chemnitzer Verlag und Druck
    GmbH & Co. KG", "<headline> - Tageblatt.lu"); else `name`. Spaces trimmed; a URL (a
    social profile's, from twitter:site) is no name: `declared`, else none (the host)."""
    own, stated = (" ".join((text or "").split()) for text in (name, declared))
    if _URL_LIKE.match(stated):
        stated = ""
    if not own or _URL_LIKE.match(own):
        return stated or None
    hosts = site_names((), url)
    if not hosts or _names_site(own, hosts):
        return own
    pieces = [piece.strip() for piece in _SITE_SEPARATOR.split(own)]
    named = [piece for piece in pieces if piece and _names_site(piece, hosts)]
    return named[0] if len(pieces) > 1 and len(named) == 1 else own
