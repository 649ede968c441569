"""Chinese in one script for comparing (the stories stage's terms of a Chinese article), and
which of the two scripts a Chinese text is written in (the `script` column).

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

import collections
import functools
import re
from typing import Any

from newsbeam.transforms.support.loaded import load_once

# OpenCC's configurations: traditional characters (OpenCC's standard forms and the variants
# its tables list, Taiwan's and Hong Kong's among them) to simplified ones, and back.
_TO_SIMPLIFIED = "t2s"
_TO_TRADITIONAL = "s2t"
# The `language` whose articles have a `script` (script_of).
CHINESE = "zh"
# ISO 15924 codes, as BCP 47 tags write them after the language ("zh-Hant").
SIMPLIFIED = "Hans"
TRADITIONAL = "Hant"
# The CJK ideographs (the unified block, extension A and the compatibility ones): the
# characters that can be one script's and not the other's.
_HAN = re.compile("[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")


@functools.lru_cache(maxsize=2)
def _converter(config: str) -> Any:
    """OpenCC's converter, its tables (~0.1 MB each) read once per process (load_once:
    follow mode's batches share it); a converter is read-only after loading, so the
    threads of a worker share it."""

    def load() -> Any:
        import opencc

        return opencc.OpenCC(config)

    return load_once(f"opencc {config}", config, load)


def simplified(text: str) -> str:
    """The text with traditional Chinese characters in their simplified forms (OpenCC t2s);
    characters of other scripts, simplified ones and punctuation stay as they are."""
    return str(_converter(_TO_SIMPLIFIED).convert(text)) if text else text


def chinese_script(text: str) -> str | None:
    """`Hant` when more of the text's characters are traditional forms (OpenCC's t2s changes
    them) than simplified ones (its s2t changes them), `Hans` when fewer, None when as
    many: most characters ("中", "人", "大") are both, so a short text may have none of
    either. Counted character by character, not langdetect's `zh-cn`/`zh-tw` guess: that
    is a random walk over a 400-character sample's n-grams, this looks at every character."""
    counts = collections.Counter(_HAN.findall(text))
    if not counts:
        return None
    # Each distinct character converted once, alone: a character's form is its script
    # whatever the words around it (phrases only choose among several simplified forms).
    distinct = "".join(counts)
    to_simplified = str(_converter(_TO_SIMPLIFIED).convert(distinct))
    to_traditional = str(_converter(_TO_TRADITIONAL).convert(distinct))
    if not len(distinct) == len(to_simplified) == len(to_traditional):
        # One-character entries map to one character; be safe if a table ever did not.
        to_simplified = "".join(str(_converter(_TO_SIMPLIFIED).convert(c)) for c in distinct)
        to_traditional = "".join(str(_converter(_TO_TRADITIONAL).convert(c)) for c in distinct)
    traditional = simplified_forms = 0
    for character, as_simplified, as_traditional in zip(
        distinct, to_simplified, to_traditional, strict=False
    ):
        traditional += counts[character] * (as_simplified != character)
        simplified_forms += counts[character] * (as_traditional != character)
    if traditional == simplified_forms:
        return None
    return TRADITIONAL if traditional > simplified_forms else SIMPLIFIED


def script_of(language: str | None, title: str | None, text: str | None) -> str | None:
    """The `script` column (the language stage's; the warehouse loader's for rows written
    before it): a Chinese article's (chinese_script of its title and text), else None
    (other languages are written in one script each, or their script is not asked)."""
    if language != CHINESE:
        return None
    return chinese_script(f"{title or ''}\n{text or ''}")
