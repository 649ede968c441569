"""Accuracy of the pipeline's `language` column on the fundus test pages.

Reproduce (from the repository root):

    .venv/bin/python benchmarks/eval_language.py --gate 0.95
    .venv/bin/python benchmarks/eval_language.py --sample-chars 0     # whole text
    .venv/bin/python benchmarks/eval_language.py --sample-chars 300   # short samples

Data: ../shared/data/pages/fundus-test-pages/<cc>/<Publisher>_<YYYY_MM_DD>.html.gz (~258
real pages, 41 countries). Each folder's `<Publisher>.json` holds the expected title, body
and so on per page version but no language: the expected language follows the country
folder and the publisher, written out by hand below (EXPECTED_LANGUAGE_BY_COUNTRY and
EXPECTED_LANGUAGE_BY_PUBLISHER). A page file belongs to the publisher whose name precedes
its date.

Runs the pipeline once over all the pages (one glob input) and prints overall accuracy,
accuracy per expected language and the list of misses. Pages without an article (rejected,
or absent from every table) are counted separately, not as misses; a page marked as a
duplicate takes its canonical article's language. Codes compare on their primary subtag
(`de-AT` = `de`), with `nb`/`nn` = `no` as langdetect labels Norwegian.

`--sample-chars N` is passed to the pipeline as `--language_sample_chars N` (0 = whole
text); without it the pipeline's default applies. `--gate X` fails (exit 1) when accuracy
< X. Missing data exits 2.
"""

from __future__ import annotations

import argparse
import re
import sys
from dataclasses import dataclass
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import _common  # noqa: E402  (benchmarks is not a package: see the sys.path line above)

FUNDUS_RELATIVE = Path("data/pages/fundus-test-pages")
PAGE_SUFFIX = ".html.gz"
# "<Publisher>_<YYYY>_<MM>_<DD>[_<n>].html.gz": the publisher's name is its JSON file's stem.
PAGE_NAME = re.compile(r"^(?P<publisher>.+?)_\d{4}_\d{2}_\d{2}(?:_\d+)?\.html\.gz$")

# Expected language (ISO 639-1) of the press of countries with one dominant press language
# in this set. Countries whose publishers here write in different languages (be, ca, ch, il,
# ind, lb, lu, my, tz, za) have no entry: every one of their publishers is listed below, so a
# publisher added to such a folder shows up as "unmapped" instead of being guessed.
# Built from the folder names, checked against each page's <html lang> and og:locale and
# against langdetect on the expected body in <Publisher>.json.
EXPECTED_LANGUAGE_BY_COUNTRY: dict[str, str] = {
    "at": "de",
    "au": "en",
    "cn": "zh",
    "cz": "cs",
    "de": "de",
    "dk": "da",
    "es": "es",
    "fr": "fr",
    "gl": "da",  # Sermitsiaq publishes in Danish (and Greenlandic, not in this set)
    "id": "id",
    "isl": "is",  # Icelandic: not among langdetect's 55 labels
    "it": "it",
    "jp": "ja",
    "kr": "ko",
    "li": "de",
    "ls": "en",
    "lt": "lt",
    "mx": "es",
    "na": "en",
    "no": "no",
    "pl": "pl",
    "pt": "pt",
    "py": "es",
    "ru": "ru",
    "se": "sv",
    "tr": "tr",
    "tw": "zh",
    "ua": "uk",
    "uk": "en",
    "us": "en",
    "vn": "vi",
}

# Publishers whose language differs from their country's entry above, and every publisher
# of the multi-language countries. Keyed "<cc>/<Publisher>".
EXPECTED_LANGUAGE_BY_PUBLISHER: dict[str, str] = {
    # Belgium: Dutch-language daily; Politico Europe (Brussels) is English.
    "be/Nieuwsblad": "nl",
    "be/PoliticoEu": "en",
    # Canada: all English-language outlets here (no French-language publisher in the set).
    "ca/CBCNews": "en",
    "ca/CanadaCom": "en",
    "ca/FinancialPost": "en",
    "ca/GlobalNews": "en",
    "ca/NationalPost": "en",
    "ca/OttawaCitizen": "en",
    "ca/TheGlobeAndMail": "en",
    "ca/TheProvince": "en",
    # Switzerland: all German-language outlets here.
    "ch/NZZ": "de",
    "ch/SRF": "de",
    "ch/TagesAnzeiger": "de",
    "ch/ZwanzigMinuten": "de",
    # Israel: a German-language outlet (its <html> has no lang; og:locale de_DE).
    "il/IsraelNachrichten": "de",
    # India: Dainik Bhaskar is Hindi; Times of India English.
    "ind/Bhaskar": "hi",
    "ind/TimesOfIndia": "en",
    # Lebanon: LBC's Arabic site.
    "lb/LBCGroup": "ar",
    # Luxembourg: both German-language here (they also publish French and Luxembourgish).
    "lu/LuxemburgerWort": "de",
    "lu/Tageblatt": "de",
    # Malaysia: Malay Mail's English edition.
    "my/MalayMail": "en",
    # Tanzania: Daily News is English; HabariLeo is Swahili (its <html lang> wrongly says en).
    "tz/DailyNewsTZ": "en",
    "tz/HabariLeo": "sw",
    # South Africa: English outlets, and isiZulu / isiXhosa ones whose <html lang> says en.
    # zu and xh are not among langdetect's labels, so those pages cannot be matched by it.
    "za/DailyMaverick": "en",
    "za/DurbanLocal": "en",
    "za/TheCitizen": "en",
    "za/TimesLive": "en",
    "za/Dizindaba": "xh",
    "za/IsolezweLesiXhosa": "xh",
    "za/EyethuNews": "zu",
    "za/Ilanga": "zu",
    "za/Isolezwe": "zu",
    # Outlets in another language than their country's press.
    "es/MallorcaMagazin": "de",  # German-language papers for Mallorca
    "es/MallorcaZeitung": "de",
    "it/Tageszeitung": "de",  # South Tyrol
    "jp/TheJapanNews": "en",  # Yomiuri's English edition
    "mx/MexicoNewsDaily": "en",
    "pt/ThePortugalNews": "en",
    "py/Wochenblatt": "de",  # German-language weekly in Paraguay
    "tw/TaipeiTimes": "en",
    "ua/Pravda": "ru",  # the page is from Ukrainska Pravda's Russian edition
}

# Other spellings of the same language: langdetect labels Norwegian "no".
LANGUAGE_ALIASES = {"nb": "no", "nn": "no", "iw": "he", "in": "id", "ji": "yi"}


@dataclass(frozen=True)
class Page:
    key: str  # "<cc>/<file name>"
    publisher: str  # "<cc>/<Publisher>"
    expected_language: str | None


def normalise_language(code: str | None) -> str | None:
    """Primary subtag, lowercased, aliases folded: "de-AT" -> "de", "nb_NO" -> "no"."""
    if not code:
        return None
    primary = code.strip().lower().replace("_", "-").split("-")[0]
    return LANGUAGE_ALIASES.get(primary, primary)


def expected_language(publisher: str) -> str | None:
    if publisher in EXPECTED_LANGUAGE_BY_PUBLISHER:
        return EXPECTED_LANGUAGE_BY_PUBLISHER[publisher]
    return EXPECTED_LANGUAGE_BY_COUNTRY.get(publisher.split("/")[0])


def page_key(path: Path) -> str:
    """ "<cc>/<file name>": the country folder and the file, however the path was written."""
    return f"{path.parent.name}/{path.name}"


def find_pages(fundus_dir: Path) -> list[Page]:
    pages: list[Page] = []
    for path in sorted(fundus_dir.glob(f"*/*{PAGE_SUFFIX}")):
        match = PAGE_NAME.match(path.name)
        publisher_name = match.group("publisher") if match else path.name[: -len(PAGE_SUFFIX)]
        publisher = f"{path.parent.name}/{publisher_name}"
        pages.append(Page(page_key(path), publisher, expected_language(publisher)))
    return pages


def detector_labels() -> set[str] | None:
    """Languages langdetect can output (its profile names), or None when not installed."""
    try:
        import langdetect
    except ImportError:
        return None
    profiles = Path(langdetect.__file__).resolve().parent / "profiles"
    return {normalise_language(path.name) or path.name for path in profiles.iterdir()}


def accuracy(correct: int, total: int) -> float:
    return correct / total if total else 0.0


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    _common.add_shared_argument(parser)
    _common.add_pipeline_arguments(parser)
    parser.add_argument(
        "--sample-chars",
        type=int,
        default=None,
        metavar="N",
        help="pass --language_sample_chars N to the pipeline (0 = whole text)",
    )
    parser.add_argument(
        "--gate",
        type=float,
        default=None,
        metavar="X",
        help="exit 1 when accuracy (over pages with an article) is below X",
    )
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.sample_chars is not None and args.sample_chars < 0:
        raise SystemExit("error: --sample-chars must be >= 0")
    shared_dir = _common.locate_shared(args.shared, [str(FUNDUS_RELATIVE)])
    fundus_dir = shared_dir / FUNDUS_RELATIVE
    pages = find_pages(fundus_dir)
    if not pages:
        _common.exit_missing(f"no *{PAGE_SUFFIX} pages under {fundus_dir}")
    unmapped = [page for page in pages if page.expected_language is None]
    if unmapped:
        print(
            f"warning: {len(unmapped)} page(s) of publishers with no expected language, "
            f"left out: {sorted({page.publisher for page in unmapped})}"
        )
    scored_pages = [page for page in pages if page.expected_language is not None]
    print(f"fundus: {len(pages)} pages in {fundus_dir}")

    extra_args = _common.split_beam_args(args.beam_args)
    if args.sample_chars is not None:
        extra_args += ["--language_sample_chars", str(args.sample_chars)]
    page_glob = fundus_dir / "*" / f"*{PAGE_SUFFIX}"
    with _common.pipeline_output(args, [page_glob], extra_args) as output_dir:
        outcomes = _common.collect_outcomes(
            output_dir,
            [page.key for page in pages],
            page_key,
            ["language", "language_score", "text"],
        )
    _common.report_outcomes(outcomes)

    labels = detector_labels()
    per_language: dict[str, list[int]] = {}  # expected -> [correct, total]
    misses: list[list[object]] = []
    without_article = 0
    correct = 0
    correct_detectable = total_detectable = 0
    for page in scored_pages:
        article = outcomes.by_page[page.key].article
        if article is None:
            without_article += 1
            continue
        expected = normalise_language(page.expected_language)
        got = normalise_language(article.get("language"))
        is_correct = got == expected
        assert expected is not None  # scored pages all have one
        tally = per_language.setdefault(expected, [0, 0])
        tally[0] += is_correct
        tally[1] += 1
        correct += is_correct
        if labels is not None and expected in labels:
            total_detectable += 1
            correct_detectable += is_correct
        if not is_correct:
            score = article.get("language_score")
            misses.append([page.key, expected, got or "-", score, len(article.get("text") or "")])

    with_article = len(scored_pages) - without_article
    overall = accuracy(correct, with_article)
    sample = "pipeline default" if args.sample_chars is None else str(args.sample_chars)
    print(f"\nlanguage_sample_chars: {sample}")
    summary = [
        ["pages with an article", with_article, correct, overall],
    ]
    if labels is not None:
        summary.append(
            [
                "  of which in langdetect's labels",
                total_detectable,
                correct_detectable,
                accuracy(correct_detectable, total_detectable),
            ]
        )
    _common.print_table(["", "pages", "correct", "accuracy"], summary)
    print(f"pages without an article (not scored): {without_article}")

    print("\nper expected language:")
    _common.print_table(
        ["language", "pages", "correct", "accuracy"],
        [
            [language, total, right, accuracy(right, total)]
            for language, (right, total) in sorted(per_language.items())
        ],
    )
    if misses:
        print(f"\nmisses ({len(misses)}):")
        _common.print_table(["page", "expected", "got", "score", "text chars"], misses)

    if args.gate is None:
        return 0
    return _common.finish_gate(
        overall >= args.gate,
        f"language accuracy {overall:.4f} ({correct}/{with_article}) vs gate {args.gate}",
    )


if __name__ == "__main__":
    sys.exit(main())
