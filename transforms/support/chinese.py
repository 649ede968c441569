"""Chinese in one script for comparing: the stories stage's terms of a Chinese article.

A report of one event is written in simplified characters on the mainland (Xinhua, the
portals) and in traditional ones in Taiwan and Hong Kong (CNA, the Hong Kong papers), and
about half of a news text's characters differ in form between them ("经济"/"經濟"), so
their pairs of characters, the stories stage's terms, did too: a Hong Kong paper's
traditional report of a rate cut and a simplified rewrite of it had TF-IDF cosine 0.11 and
were two stories (review 93's "Known, not mended"). Terms are now made of the simplified
form of both (OpenCC's t2s: its character table and the phrases whose characters map
otherwise than one by one), so a rewrite across scripts is as close as one within a script.

Only the terms: the text in the tables stays as published, and dedup compares the texts as
written, so the same text in the other script is not a copy (docs/copies-and-stories.md).
Regional wording ("軟體" in Taiwan, "软件" on the mainland) is not mapped: that is vocabulary,
not script (OpenCC's tw2sp would, from a table of Taiwan's usage only).
"""

from __future__ import annotations

import functools
from typing import Any

from newsbeam.transforms.support.loaded import load_once

# OpenCC's configuration: traditional characters (OpenCC's standard forms and the variants
# its tables list, Taiwan's and Hong Kong's among them) to simplified ones.
_TO_SIMPLIFIED = "t2s"


@functools.lru_cache(maxsize=1)
def _converter() -> Any:
    """OpenCC's converter, its tables (~0.1 MB for t2s) read once per process (load_once:
    follow mode's batches share it); a converter is read-only after loading, so the
    threads of a worker share it."""

    def load() -> Any:
        import opencc

        return opencc.OpenCC(_TO_SIMPLIFIED)

    return load_once("opencc", _TO_SIMPLIFIED, load)


def simplified(text: str) -> str:
    """The text with traditional Chinese characters in their simplified forms (OpenCC t2s);
    characters of other scripts, simplified ones and punctuation stay as they are."""
    return str(_converter().convert(text)) if text else text
