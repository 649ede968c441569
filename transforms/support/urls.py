"""URLs as pages, feeds and records give them, split once in one way: what `urlsplit`
refuses ("http://[::1", a port that is no number) names no host, site or page, and fails
nothing (each caller caught its ValueError on its own before)."""

from __future__ import annotations

import urllib.parse


def split_url(url: str) -> urllib.parse.SplitResult | None:
    """`url` split into its parts; None where `urlsplit` refuses it."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is no number)
    except ValueError:
        return None
    return parts
