"""Secrets kept out of what a run writes for people to read: its manifest (options and
settings) and so its HTML report, which show every option given.

A run's options hold credentials when they are given as flags (`--s3_secret_access_key`,
`--s3_session_token`, an Azure connection string) and URLs may carry a `user:password@`;
the manifest is read by anyone who can read the dataset, and the report is opened in a
browser and passed around. Pure functions, no Beam.
"""

from __future__ import annotations

import re
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


def is_secret_name(name: str) -> bool:
    """Whether an option or setting named `name` holds a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_text(text: str) -> str:
    """`text` with the `user:password@` of every URL in it removed."""
    return _USERINFO_URL.sub(lambda match: without_userinfo(match.group(0)), text)


def redacted(value: Any, name: str = "") -> Any:
    """A JSON-like value (options, settings) with credentials hidden: the value of every
    key named like a credential (is_secret_name) replaced by REDACTED (None and empty
    values kept: they say none was given), and the user:password@ of URLs in strings
    removed. Returns a new value; the input is not changed."""
    if name and is_secret_name(name) and value not in (None, "", [], (), {}, False):
        return REDACTED
    if isinstance(value, dict):
        return {key: redacted(item, str(key)) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return type(value)(redacted(item) for item in value)
    if isinstance(value, str):
        return redact_text(value)
    return value
