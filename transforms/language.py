"""Stage 4, language: Article -> Article with `language` (ISO 639-1) and `language_score`.

langdetect, seeded so the same text always gets the same answer. It reads a bounded sample
of the text (whole paragraphs from the start, up to `sample_chars`): its cost grows with
length (about 10 ms for a whole article, 2 ms for 500 characters) while its accuracy on
news text stops improving well before that (benchmarks/eval_language.py measures both).
Text with fewer than `min_letters` letters is `und`: langdetect guesses wildly on short
strings ("Reuters" came out `de`).

Never rejects: a tagger annotates. Counters: `language_in`, `language_und`.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator

import apache_beam as beam

from newsbeam.schemas import Article
from newsbeam.transforms.failures import counter

UNDETERMINED = "und"
LANGUAGE_MODEL = "langdetect-1.0.9"


@dataclasses.dataclass(frozen=True)
class LanguageConfig:
    sample_chars: int = 1000  # 0 = whole text
    min_letters: int = 20
    seed: int = 0


def language_sample(text: str, sample_chars: int) -> str:
    """Whole paragraphs from the start of the text, up to about `sample_chars` characters
    (the first paragraph is cut when it alone is longer)."""
    if sample_chars <= 0 or len(text) <= sample_chars:
        return text
    taken: list[str] = []
    size = 0
    for paragraph in text.split("\n\n"):
        if size and size + len(paragraph) > sample_chars:
            break
        taken.append(paragraph[:sample_chars])
        size += len(paragraph) + 2
    return "\n\n".join(taken)


def detect_language(text: str, config: LanguageConfig) -> tuple[str, float]:
    """(ISO 639-1 code, probability) for a text, or ("und", 0.0) when it cannot tell."""
    from langdetect import DetectorFactory, detect_langs
    from langdetect.lang_detect_exception import LangDetectException

    sample = language_sample(text, config.sample_chars)
    if sum(ch.isalpha() for ch in sample) < config.min_letters:
        return UNDETERMINED, 0.0
    DetectorFactory.seed = config.seed  # each detection draws from a seeded generator
    try:
        best = detect_langs(sample)[0]
    except (LangDetectException, IndexError):
        return UNDETERMINED, 0.0
    # langdetect says zh-cn / zh-tw; the column holds ISO 639-1 codes.
    return best.lang.split("-")[0], round(float(best.prob), 4)


class _DetectLanguage(beam.DoFn):
    def __init__(self, config: LanguageConfig) -> None:
        self._config = config

    def setup(self) -> None:
        # Load all language profiles up front: their lazy loading is not thread-safe.
        from langdetect.detector_factory import init_factory

        init_factory()

    def process(self, article: Article) -> Iterator[Article]:
        counter("language_in").inc()
        language, score = detect_language(article.text, self._config)
        if language == UNDETERMINED:
            counter("language_und").inc()
        yield article._replace(language=language, language_score=score)


class DetectLanguage(beam.PTransform):
    """PCollection[Article] -> PCollection[Article] with language set. Never drops a row."""

    def __init__(self, config: LanguageConfig | None = None) -> None:
        super().__init__()
        self._config = config or LanguageConfig()

    def expand(self, articles: beam.PCollection[Article]) -> beam.PCollection[Article]:
        return articles | "Detect" >> beam.ParDo(_DetectLanguage(self._config)).with_output_types(
            Article
        )
