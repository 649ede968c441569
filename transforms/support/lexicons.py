"""Word lists shipped in the package (`data/lexicons/*.json`, described in the README there),
read once per process: taggers call `load_lexicon` from their DoFn's `setup()`."""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from importlib import resources
from types import MappingProxyType
from typing import Any


@functools.cache
def load_lexicon(name: str) -> Mapping[str, Any]:
    """The lexicon `data/lexicons/<name>.json`, read-only (objects as mappings, lists as
    tuples): one copy is shared by every caller in the process."""
    text = (
        resources.files("newsbeam.transforms")
        .joinpath("data", "lexicons", f"{name}.json")
        .read_text(encoding="utf-8")
    )
    frozen: Mapping[str, Any] = _frozen(json.loads(text))
    return frozen


def _frozen(value: Any) -> Any:
    if isinstance(value, dict):
        return MappingProxyType({key: _frozen(item) for key, item in value.items()})
    if isinstance(value, list):
        return tuple(_frozen(item) for item in value)
    return value
