"""Secrets kept out of what a run writes for people to read: its tables, its manifest
(options and settings), its HTML report, which shows every option given, and its log.

A run's options hold credentials when they are given as flags (`--s3_secret_access_key`,
`--s3_session_token`, an Azure connection string) and URLs may carry a `user:password@`
or a key in their query (`?api_key=`, a signed S3 or GCS URL's `X-Amz-Signature`, a
session id): the manifest and the tables are read by anyone who can read the dataset,
and the report is opened in a browser and passed around. Pure functions, no Beam.

Query parameters are redacted where they are written, not where URLs come in: a feed or
page is fetched with its key, and an article's identity (`canonical_url`, `article_id`,
dedup's same-page key, the feed state's keys) is made from the URL as given, so ids and
dedup by URL are what they were. The shown value is `***`, the name stays (a reader sees
that the address needed a key).
"""

from __future__ import annotations

import functools
import logging
import re
from collections.abc import Iterable
from typing import Any

from newsbeam.transforms.support.urls import without_userinfo

REDACTED = "***"

# Option names whose values are credentials: Beam's own (s3_access_key_id,
# s3_secret_access_key, s3_session_token, azure_connection_string, ...) and any a runner
# or a later flag adds under the usual words. A name, not a list of flags: a new flag named
# like a credential is hidden without anyone remembering to add it here.
_SECRET_NAME = re.compile(
    r"secret|password|passwd|token|credential|connection_string|api_?key|access_key|"
    r"private_key|authorization",
    re.IGNORECASE,
)
# A URL with a user (and maybe a password) before its host, anywhere in a text.
_USERINFO_URL = re.compile(r"\b[A-Za-z][A-Za-z0-9+.-]*://[^\s/?#@]+@[^\s]*")


# Query (and `;` path) parameters whose values are secrets, matched whole and in any case:
# API keys and tokens, OAuth's, the signatures and credentials of signed S3 (v2 and v4),
# GCS (v2 and v4), Azure SAS and CloudFront URLs, and the usual session ids. Names a site
# also uses for content are left out (`key`, `sid`, `id`, `code`): `--redact_url_params`
# adds names. docs/security.md lists these.
URL_SECRET_PARAMS: tuple[str, ...] = (
    "access_token",
    "api-key",
    "api_key",
    "apikey",
    "auth",
    "auth_token",
    "authtoken",
    "awsaccesskeyid",
    "client_secret",
    "googleaccessid",
    "id_token",
    "jsessionid",
    "password",
    "passwd",
    "phpsessid",
    "private_token",
    "refresh_token",
    "secret",
    "session_id",
    "sessionid",
    "sig",
    "signature",
    "token",
    "x-amz-credential",
    "x-amz-security-token",
    "x-amz-signature",
    "x-goog-credential",
    "x-goog-signature",
)


def url_param_names(extra: Iterable[str] = ()) -> tuple[str, ...]:
    """The documented names and `extra` (`--redact_url_params`, comma-separated lists
    too), case-folded, sorted, each once."""
    names = {name.casefold() for name in URL_SECRET_PARAMS}
    for item in extra:
        names.update(part.strip().casefold() for part in item.split(",") if part.strip())
    return tuple(sorted(names))


_DEFAULT_NAMES = url_param_names()


@functools.lru_cache(maxsize=64)
def _param_pattern(names: tuple[str, ...]) -> re.Pattern[str]:
    # After `?`, `&` or `;` (a `;jsessionid=` path parameter; `&amp;` in markup), up to the
    # next separator, query, fragment, space, quote or bracket: in URLs and in messages
    # naming one (where punctuation closing a sentence follows: kept, `_keep_punctuation`).
    alternatives = "|".join(re.escape(name) for name in sorted(names, key=len, reverse=True))
    return re.compile(rf"(?<=[?&;])({alternatives})=([^&#;?\s\"'<>]+)", re.IGNORECASE)


def _redact_match(match: re.Match[str]) -> str:
    value = match.group(2)
    trailing = value[len(value.rstrip(".,:)]")) :]  # "GET ...?token=abc: 404"
    return f"{match.group(1)}={REDACTED}{trailing}" if trailing != value else match.group(0)


def redact_url_params(text: str, extra: Iterable[str] = ()) -> str:
    """`text` (a URL, or a message naming URLs) with the value of every secret query
    parameter (URL_SECRET_PARAMS and `extra`) written `***`; the rest as it was."""
    if "=" not in text:
        return text
    names = url_param_names(extra) if extra else _DEFAULT_NAMES
    return _param_pattern(names).sub(_redact_match, text)


def is_secret_name(name: str) -> bool:
    """Whether an option or setting named `name` holds a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str, extra: Iterable[str] = ()) -> str:
    """`text` with the `user:password@` of every URL in it removed and the values of
    secret query parameters (`redact_url_params`) written `***`."""
    text = _USERINFO_URL.sub(lambda match: without_userinfo(match.group(0)), text)
    return redact_url_params(text, extra)


def redacted(value: Any, name: str = "", extra: tuple[str, ...] = ()) -> Any:
    """A JSON-like value (options, settings) with credentials hidden: the value of every
    key named like a credential (is_secret_name) replaced by REDACTED (None and empty
    values kept: they say none was given), and in strings the user:password@ of URLs
    removed and secret query parameters (the documented ones and `extra`) redacted.
    Returns a new value; the input is not changed."""
    if name and is_secret_name(name) and value not in (None, "", [], (), {}, False):
        return REDACTED
    if isinstance(value, dict):
        return {key: redacted(item, str(key), extra) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redacted(item, "", extra) for item in value)
    if isinstance(value, str):
        return redact_text(value, extra)
    return value


class RedactLogs(logging.Filter):
    """A handler's filter: each record's message with URLs' `user:password@` removed and
    secret query parameters redacted (a fetch's warning names the URL it failed on)."""

    def __init__(self, extra: Iterable[str] = ()) -> None:
        super().__init__()
        self.extra = tuple(extra)

    @classmethod
    def install(cls, handler: logging.Handler, extra: Iterable[str] = ()) -> None:
        """Give `handler` the filter, once (a later command in the process, as a library
        or a test calls `main` again, sets its names)."""
        for found in handler.filters:
            if isinstance(found, cls):
                found.extra = tuple(extra)
                return
        handler.addFilter(cls(extra))

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        clean = redact_text(message, self.extra)
        if clean != message:
            record.msg, record.args = clean, None
        return True
