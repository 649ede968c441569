"""The IPTC Media Topics taxonomy the topics stage tags with (data/iptc-mediatopic.csv):
its current concepts, their names in the languages NewsBeam tags, their places in the tree.

Pure and free of Beam, so that the run report (pipeline/report.py) names topics without
importing the pipeline's stages."""

from __future__ import annotations

import csv
import io
from importlib import resources
from typing import NamedTuple

TAXONOMY_FILE = "iptc-mediatopic.csv"
# The languages the topics stage tags (transforms/topics.py).
SUPPORTED_LANGUAGES = ("en", "de", "es", "fr", "pt", "it", "nl")
# The taxonomy's name columns for each supported language (first found wins).
_NAME_COLUMNS = {
    "en": ("en-GB", "en-US"),
    "de": ("de",),
    "es": ("es",),
    "fr": ("fr",),
    "pt": ("pt-PT", "pt-BR"),
}


class Concept(NamedTuple):
    qcode: str
    level: int
    parent: str | None
    names: dict[str, str]  # language -> name
    definitions: dict[str, str]


def load_taxonomy(csv_text: str | None = None) -> dict[str, Concept]:
    """The IPTC Media Topics that are current (retired ones skipped), by qcode."""
    if csv_text is None:
        csv_text = (
            resources.files("newsbeam.transforms")
            .joinpath("data", TAXONOMY_FILE)
            .read_text(encoding="utf-8")
        )
    concepts: dict[str, Concept] = {}
    for row in csv.DictReader(io.StringIO(csv_text)):
        if (row.get("RetiredDate") or "").strip():
            continue
        names: dict[str, str] = {}
        definitions: dict[str, str] = {}
        for language, columns in _NAME_COLUMNS.items():
            for column in columns:
                name = (row.get(f"Name ({column})") or "").strip()
                if name:
                    names[language] = name
                    definitions[language] = (row.get(f"Definition ({column})") or "").strip()
                    break
        concepts[row["qcode"]] = Concept(
            qcode=row["qcode"],
            level=int(row["level"]),
            parent=row["parent"].strip() or None,
            names=names,
            definitions=definitions,
        )
    return concepts


def level_ancestor(qcode: str, taxonomy: dict[str, Concept], level: int) -> str | None:
    """The ancestor of `qcode` at `level` (itself if it is at that level)."""
    concept = taxonomy.get(qcode)
    seen = 0
    while concept is not None and concept.level > level and seen < 10:
        concept = taxonomy.get(concept.parent or "")
        seen += 1
    return concept.qcode if concept is not None and concept.level == level else None
