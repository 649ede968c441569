"""The feed stage: RSS/Atom/RDF/JSON feeds, sitemaps, OPML lists and page URLs -> articles.

- stage.py     the Beam composite `ReadFeeds` and its DoFns
- config.py    `FeedsConfig`
- parse.py     sniffing and parsing feed documents, OPML and URL lists (pure)
- sitemaps.py  sitemaps (urlset, sitemapindex, gzip, Google News' news:) (pure)
- articles.py  a feed entry (and its page) -> an Article (pure)
- polling.py   when to poll, the state after a poll, seen entries (pure)
- fetch.py     the HTTP client (timeouts, retries, size cap, robots.txt, politeness)

Names load on first use, so `from newsbeam.transforms.feeds.parse import sniff_feed_kind`
(the read stage) does not import the Beam stage.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from newsbeam.transforms.feeds.config import FeedsConfig
    from newsbeam.transforms.feeds.parse import FeedParseError, parse_feed, sniff_feed_kind
    from newsbeam.transforms.feeds.stage import ReadFeeds

_HOMES = {
    "ReadFeeds": "stage",
    "FeedsConfig": "config",
    "FeedParseError": "parse",
    "parse_feed": "parse",
    "sniff_feed_kind": "parse",
}
__all__ = ["FeedParseError", "FeedsConfig", "ReadFeeds", "parse_feed", "sniff_feed_kind"]


def __getattr__(name: str) -> Any:
    if name not in _HOMES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(f"{__name__}.{_HOMES[name]}"), name)
