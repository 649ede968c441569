"""URLs as pages, feeds and records give them, split once in one way: what `urlsplit`
refuses ("http://[::1", a port that is no number) names no host, site or page, and fails
nothing (each caller caught its ValueError on its own before)."""

from __future__ import annotations

import functools
import urllib.parse


def split_url(url: str) -> urllib.parse.SplitResult | None:
    """`url` split into its parts; None where `urlsplit` refuses it."""
    try:
        parts = urllib.parse.urlsplit(url)
        parts.port  # noqa: B018  (raises for a port that is no number)
    except ValueError:
        return None
    return parts


# Host prefixes of one site's other renderings of a page: the desktop host with or without
# `www.`, its mobile host and its AMP host.
_RENDERING_HOSTS = ("www.", "m.", "mobile.", "amp.")


def site_host(host: str) -> str:
    """A host as the site it belongs to: without a `www.`, `m.`, `mobile.` or `amp.` prefix
    (the mobile and AMP hosts of a site are the same outlet)."""
    for prefix in _RENDERING_HOSTS:
        if host.startswith(prefix) and "." in host[len(prefix) :]:
            return host[len(prefix) :]
    return host


def outlet_of(url: str | None) -> str | None:
    """The outlet a URL belongs to, a key to count by: its host's registrable domain under
    the public suffix list (`bbc.co.uk` for www.bbc.co.uk and sport.bbc.co.uk, `apnews.com`,
    `someone.github.io`), else the host as `site_host` has it (an IP address, `localhost`).
    Sites name themselves in many ways ("AP News", "Associated Press"; "BBC News", "BBC
    Sport"); the domain they publish under is one. None when the URL names no host."""
    parts = split_url(url or "")
    host = (parts.hostname or "").rstrip(".") if parts else ""
    return registrable_domain(host) if host else None


@functools.lru_cache(maxsize=65536)
def registrable_domain(host: str) -> str:
    """`host`'s registrable domain (the public suffix and one label before it), else the
    host itself. The suffix list is the snapshot bundled with the `tld` package (read
    once, never fetched: a run makes no request to learn it)."""
    from tld import get_fld

    found = get_fld(host, fix_protocol=True, fail_silently=True)
    return found.lower() if isinstance(found, str) and found else site_host(host.lower())


def page_key(canonical_url: str | None) -> str | None:
    """What dedup's same-page pass compares: a canonical URL (extract's canonicalize_url)
    without what tells one rendering of a page from another. The scheme, a `www.`, `m.`,
    `mobile.` or `amp.` host prefix, a trailing slash and the AMP path conventions (a last
    `/amp` segment, a first `/amp/` segment, `.amp` before the extension) go; the query
    stays. `http://www.site/a/` and `https://m.site/a/amp` are one page, updated or not;
    the canonical URL itself, and the article id made from it, keep their form."""
    if not canonical_url:
        return None
    parts = split_url(canonical_url)
    if parts is None or not parts.hostname:
        return canonical_url
    host = site_host(parts.hostname)
    if parts.port is not None:
        host = f"{host}:{parts.port}"
    path = parts.path.rstrip("/")
    if path.endswith("/amp") and len(path) > len("/amp"):
        path = path.removesuffix("/amp")
    if path.startswith("/amp/"):
        path = path[len("/amp") :]
    head, dot, extension = path.rpartition(".")
    if head.endswith(".amp"):
        path = head.removesuffix(".amp") + dot + extension
    elif extension == "amp" and dot:
        path = head
    return urllib.parse.urlunsplit(("", host, path.rstrip("/"), parts.query, ""))


def without_userinfo(url: str) -> str:
    """`url` without the `user:password@` before its host. A fetch never sends it (urllib3
    reads no credentials from a URL), and it is a secret wherever the URL is written: the
    tables, the feed state, the manifest, the report, the logs."""
    parts = split_url(url)
    if parts is None or "@" not in parts.netloc:
        return url
    return urllib.parse.urlunsplit(parts._replace(netloc=parts.netloc.rsplit("@", 1)[1]))


def web_url(url: str | None) -> str | None:
    """`url` as an article's address: an absolute http(s) URL with a host, its
    `user:password@` removed; None for anything else. A record's or page's `javascript:`,
    `data:` or `file:` URL names no page, and a browser or BI tool that makes the `url`
    column a link would run or open it."""
    if not url:
        return None
    url = url.strip()
    parts = split_url(url)
    if parts is None:  # "http://[::1": an http URL that identifies nothing, kept as given
        return url if url.lower().startswith(("http://", "https://")) else None
    if parts.scheme.lower() not in ("http", "https") or not names_a_host(parts):
        return None
    return without_userinfo(url)


def names_a_host(parts: urllib.parse.SplitResult) -> bool:
    """Whether a split URL names a host: one without spaces. "http:// #top" had the
    canonical URL "http:// " (its host a space, a page no one can open), and "http://a
    b.example/x" was an article's `url` and its site "a b.example": an address that names
    nothing, which a BI tool made a link of and outlets counted as one."""
    host = parts.hostname or ""
    return bool(host) and not any(char.isspace() for char in host)
