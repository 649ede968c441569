"""Versions of one feed entry: the source an update of an entry is read under, and whether
two sources are versions of one entry. Dedup uses the second so that an update is not
taken for a copy of its own earlier version (docs/feeds.md, "Updated entries")."""

from __future__ import annotations

import re

# An update's source: the entry's own (`<feed URL>#<entry id>`) and this mark with the
# version (parse.entry_version): distinct from the first version's, so each version is an
# input, an article or copy of its own, and the dedup state tells them apart.
VERSION_MARK = "#version="
_VERSIONED = re.compile(rf"^(?P<entry>.+){re.escape(VERSION_MARK)}[0-9a-f]{{8,40}}$")


def version_source(entry_source: str, version: str) -> str:
    """The source of the entry `entry_source` read again in `version`."""
    return f"{entry_source}{VERSION_MARK}{version}"


def entry_of(source: str) -> str:
    """The entry's own source of an update's source; any other source as it is."""
    match = _VERSIONED.match(source)
    return match.group("entry") if match else source


def is_update(source: str) -> bool:
    return _VERSIONED.match(source) is not None


def earlier_version(copy_source: str, canonical_source: str) -> bool:
    """True when `copy_source` is an update of an entry and `canonical_source` is the same
    entry (its first version or another update): the update replaces it, it does not copy
    it. A first version (no mark) is never anybody's update."""
    return is_update(copy_source) and entry_of(copy_source) == entry_of(canonical_source)
