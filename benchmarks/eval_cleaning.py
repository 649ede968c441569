"""What the clean stage removes that was the article: false and true removals per rule.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_cleaning.py --gate-false 0

Each page or document is extracted as the pipeline's extract stage does
(`extract_document`), then cleaned (`clean_article`); the clean step's own removals (what it
appended to `removed`, each a paragraph with its reason: title, chrome reasons,
title_footer, repeated) are judged against the set's gold article text:
- a removal is FALSE (the gold keeps it: a paragraph of the article lost) when the gold
  holds the paragraph more times than the clean text still does: a short paragraph (under
  four words) as a line of its own, a longer one as a run of its words or, where the gold
  words it a little otherwise, with at least FALSE_SHARE of its word 4-grams;
- otherwise TRUE (the gold lacks it too: chrome, a title, a repeat the gold has once), as
  is a title copy whose words are all in the article's `title` (nothing of it is lost).

The tables and not the stage functions would mix extract's removals with clean's (both
name captions `caption`), so the script calls the two stages' functions in one process, as
the DoFns do; no Beam, no network.

Sets (../shared/data): `aeb` (181 pages; gold `articleBody`), `fundus` (258 pages; gold the
publisher JSON's body: summary, section headlines, paragraphs), `syndicated` (the
syndicated-dev originals, gold themselves, and their `rewrap` and `repeat_paragraphs`
variants, gold the original: chrome and repeats added to a clean body). The seeds have no
gold: their removals are listed per rule (the tests check them).

`--gate-false N` fails (exit 1) when more than N removals over the sets are false;
`--gate-false-chars N` when they hold more than N characters. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import csv
import gzip
import json
import re
import sys
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

AEB_RELATIVE = Path("data/extraction/aeb")
FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
SYNDICATED_RELATIVE = Path("data/dedup/syndicated-dev")
SEEDS = Path(__file__).resolve().parent.parent / "seeds"
# The syndicated variants whose gold is their original: chrome or repeats added, nothing
# of the article's own words changed (the other kinds edit, trim or rewrite it).
SYNDICATED_KINDS = ("rewrap", "repeat_paragraphs")
# A longer paragraph the gold holds worded a little otherwise (a quote mark, a space).
FALSE_SHARE = 0.8
SHORT_WORDS = 4
_TOKEN = re.compile(r"\w+")


@dataclass(frozen=True)
class Labelled:
    """One input to clean and the article text it should keep (None: no gold)."""

    key: str
    kind: str  # "html" or "text"
    content: bytes
    gold: str | None


@dataclass
class Tally:
    removals: int = 0
    false: int = 0
    false_chars: int = 0
    true_chars: int = 0
    examples: list[tuple[str, str]] = field(default_factory=list)  # (key, paragraph)


def tokens(text: str) -> list[str]:
    from newsbeam.transforms.clean import fold_words

    return fold_words(text)


class Gold:
    """A gold text's folded lines, its folded words as one string, and its word 4-grams."""

    def __init__(self, text: str) -> None:
        self.lines = Counter(" ".join(tokens(line)) for line in text.splitlines())
        self.joined = " " + " ".join(tokens(text)) + " "
        words = self.joined.split()
        self.grams = {tuple(words[i : i + 4]) for i in range(len(words) - 3)}

    def copies(self, paragraph: str) -> int:
        """How many times the gold holds the paragraph (0: not at all)."""
        words = tokens(paragraph)
        if not words:
            return 0
        folded = " ".join(words)
        if len(words) < SHORT_WORDS:
            return self.lines[folded]
        found = self.joined.count(f" {folded} ")
        if found:
            return found
        grams = [tuple(words[i : i + 4]) for i in range(len(words) - 3)]
        share = sum(gram in self.grams for gram in grams) / len(grams)
        return 1 if share >= FALSE_SHARE else 0


def kept_copies(paragraph: str, clean_text: str) -> int:
    folded = " ".join(tokens(paragraph))
    if not folded:
        return 0
    return sum(" ".join(tokens(kept)) == folded for kept in clean_text.split("\n\n")) or (
        f" {' '.join(tokens(clean_text))} ".count(f" {folded} ")
    )


def aeb_inputs(shared: Path) -> Iterator[Labelled]:
    aeb = shared / AEB_RELATIVE
    truth = json.loads((aeb / "ground-truth.json").read_text(encoding="utf-8"))
    for page, record in sorted(truth.items()):
        path = aeb / "html" / f"{page}.html.gz"
        yield Labelled(page, "html", gzip.decompress(path.read_bytes()), record["articleBody"])


def fundus_inputs(shared: Path) -> Iterator[Labelled]:
    for path, label in _common.fundus_labels(shared / FUNDUS_RELATIVE):
        body = label.get("body") or {}
        parts = list(body.get("summary") or [])
        for section in body.get("sections") or []:
            parts += list(section.get("headline") or []) + list(section.get("paragraphs") or [])
        key = _common.fundus_page_key(path)
        yield Labelled(key, "html", gzip.decompress(path.read_bytes()), "\n".join(parts))


def syndicated_inputs(shared: Path) -> Iterator[Labelled]:
    folder = shared / SYNDICATED_RELATIVE
    with (folder / "labels.csv").open(encoding="utf-8") as labels_file:
        labels = list(csv.DictReader(labels_file))
    originals = {
        row["cluster"]: (folder / "docs" / row["file"]).read_text(encoding="utf-8")
        for row in labels
        if row["kind"] == "original"
    }
    for row in labels:
        if row["kind"] != "original" and row["kind"] not in SYNDICATED_KINDS:
            continue
        original = originals.get(row["cluster"])
        if original is None:
            continue
        _, _, body = original.partition("\n\n")
        content = (folder / "docs" / row["file"]).read_bytes()
        yield Labelled(row["file"], "text", content, body)


def seed_inputs() -> Iterator[Labelled]:
    for path in sorted(SEEDS.glob("*.txt")):
        yield Labelled(path.name, "text", path.read_bytes(), None)


def clean_removals(item: Labelled) -> tuple[str, str, list[tuple[str, str]]] | None:
    """(clean text, title, the clean step's removals as (reason, paragraph)) or None where
    the extract stage rejects the input."""
    from newsbeam.schemas import RawDocument
    from newsbeam.transforms.clean import clean_article
    from newsbeam.transforms.extract import ExtractConfig, ExtractError, extract_document

    try:
        article = extract_document(RawDocument(item.key, item.kind, item.content), ExtractConfig())
    except ExtractError:
        return None
    cleaned = clean_article(article)
    added = cleaned.removed[len(article.removed) :]
    removals = [(removal.reason, removal.text) for removal in added]
    return cleaned.text, cleaned.title or "", removals


def held_by_title(reason: str, paragraph: str, title: str) -> bool:
    """Whether a title copy's words are all the article's `title`'s: a reader has them
    there (a text whose title was made from its first line, as syndicated-dev's were)."""
    title_words = set(tokens(title))
    return reason == "title" and set(tokens(paragraph)) <= title_words


def evaluate(items: Iterator[Labelled]) -> tuple[dict[str, Tally], int, int]:
    """Per rule: its removals judged against the gold -> (tallies, inputs, gold chars)."""
    tallies: dict[str, Tally] = {}
    count = gold_chars = 0
    for item in items:
        count += 1
        outcome = clean_removals(item)
        if outcome is None:
            continue
        text, title, removals = outcome
        gold = Gold(item.gold) if item.gold is not None else None
        gold_chars += len(item.gold or "")
        for reason, paragraph in removals:
            tally = tallies.setdefault(reason, Tally())
            tally.removals += 1
            if (
                gold is not None
                and gold.copies(paragraph) > kept_copies(paragraph, text)
                and not held_by_title(reason, paragraph, title)
            ):
                tally.false += 1
                tally.false_chars += len(paragraph)
                tally.examples.append((item.key, paragraph))
            else:
                tally.true_chars += len(paragraph)
    return tallies, count, gold_chars


def print_set(name: str, tallies: dict[str, Tally], count: int, show: int, gold: bool) -> None:
    print(f"\n{name}: {count} inputs")
    rows = [
        [reason, t.removals, t.false, t.false_chars, t.removals - t.false, t.true_chars]
        for reason, t in sorted(tallies.items())
    ]
    total = [sum(row[i] for row in rows) for i in range(1, 6)]
    headers = ["rule", "removals", "false", "false chars", "true", "true chars"]
    if not gold:
        headers, rows = headers[:2], [row[:2] for row in rows]
        total = total[:1]
    _common.print_table(headers, [*rows, ["all", *total]])
    examples = [(reason, key, text) for reason, t in tallies.items() for key, text in t.examples]
    for reason, key, text in sorted(examples)[:show]:
        print(f"  false {reason:14} {key[:34]:34} {text[:110]!r}")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    parser.add_argument(
        "--sets", default="aeb,fundus,syndicated,seeds", help="comma-separated sets to score"
    )
    parser.add_argument("--show", type=int, default=20, help="false removals to list per set")
    parser.add_argument(
        "--gate-false", type=int, default=None, metavar="N", help="most false removals"
    )
    parser.add_argument(
        "--gate-false-chars", type=int, default=None, metavar="N", help="most false characters"
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    names = [name.strip() for name in args.sets.split(",") if name.strip()]
    required = {
        "aeb": [str(AEB_RELATIVE / "ground-truth.json")],
        "fundus": [str(FUNDUS_RELATIVE)],
        "syndicated": [str(SYNDICATED_RELATIVE / "labels.csv")],
        "seeds": [],
    }
    shared = _common.locate_shared(args.shared, [r for n in names for r in required[n]])
    readers = {
        "aeb": lambda: aeb_inputs(shared),
        "fundus": lambda: fundus_inputs(shared),
        "syndicated": lambda: syndicated_inputs(shared),
        "seeds": seed_inputs,
    }
    false = false_chars = 0
    summary = []
    for name in names:
        tallies, count, gold_chars = evaluate(readers[name]())
        print_set(name, tallies, count, args.show, name != "seeds")
        set_false = sum(t.false for t in tallies.values())
        set_chars = sum(t.false_chars for t in tallies.values())
        false += set_false
        false_chars += set_chars
        if name != "seeds":
            summary.append(f"{name} {set_false} false ({set_chars} chars of {gold_chars} gold)")
    if args.gate_false is None and args.gate_false_chars is None:
        return 0
    passed = (args.gate_false is None or false <= args.gate_false) and (
        args.gate_false_chars is None or false_chars <= args.gate_false_chars
    )
    return _common.finish_gate(
        passed,
        f"{false} false removals, {false_chars} chars (gate {args.gate_false}, "
        f"{args.gate_false_chars}): " + "; ".join(summary),
    )


if __name__ == "__main__":
    sys.exit(main())
