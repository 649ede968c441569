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
import urllib.parse
from collections.abc import Iterable

from newsbeam.transforms.support.authors import is_run, name_words

# A separator between a headline and what a site appends: |, -, –, —, ·, •, * between
# spaces, or |, ｜, :, ： (often without spaces, as Japanese sites write them).
_SEPARATOR = re.compile(r"\s+[|\-–—·•*]\s+|\s*[|｜:：]\s*")
_DATE = re.compile(r"\d{1,4}[./-]\d{1,2}[./-]\d{1,4}")
_BYLINE = re.compile(r"(?:by|von|par|por|di|door|av|af)\s+\S.*", re.IGNORECASE)
# A piece longer than this is part of the headline, whatever it says; a site name longer
# than this is a sentence (a copyright notice's), not a name.
_MAX_PIECE_WORDS = 8
_MAX_SITE_WORDS = 10


def site_names(organisations: Iterable[str], url: str | None) -> list[list[str]]:
    """The words of each name the page gives its site (`authors.organisation_names`), and
    its host: whole, as one word ("golem.de" is "golemde", so that neither "golem" nor
    "de" alone matches it), and without the top-level domain ("golem")."""
    names = [name_words(name) for name in organisations]
    host = (urllib.parse.urlsplit(url or "").hostname or "").removeprefix("www.")
    labels = [label for label in host.split(".") if label]
    if labels:
        names.append(["".join(name_words(host))])
        if len(labels) > 1:
            names.append(labels[:-1])
    return [name for name in names if name]


def _names_site(piece: str, sites: list[list[str]]) -> bool:
    """Whether `piece` is one of the site's names: its words (not only numbers) a run of
    one's words, the same letters run together ("golem.de" for the host "golemde"), or a
    name of two words or more with one word more around it ("The Times of India")."""
    words = name_words(piece)
    if not any(not word.isdigit() for word in words):
        return False
    joined = "".join(words)
    return any(
        is_run(words, site)
        or joined == "".join(site)
        or (len(site) >= 2 and len(words) == len(site) + 1 and is_run(site, words))
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
        elif not (_DATE.fullmatch(piece) or _BYLINE.fullmatch(piece)):
            break
        end = cut.start()
        if named:
            keep = end
    headline = title[:keep].strip()
    return headline if headline else title
