"""Stage: language. Language detection, seeded and bounded."""

from __future__ import annotations

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.extract import new_article
from newsbeam.transforms.language import (
    DetectLanguage,
    LanguageConfig,
    detect_language,
    language_sample,
    load_detector_factory,
)
from tests.helpers import counters_of, make_test_pipeline

FACTORY = load_detector_factory(seed=0)

SAMPLES = {
    "en": "The government announced on Wednesday that it would raise taxes on fuel next year.",
    "de": "Die Regierung kündigte am Mittwoch an, die Steuern auf Kraftstoff zu erhöhen.",
    "fr": "Le gouvernement a annoncé mercredi qu'il augmenterait les taxes sur le carburant.",
    "es": "El gobierno anunció el miércoles que subirá los impuestos al combustible.",
    "pt": "O governo anunciou na quarta-feira que vai aumentar os impostos sobre combustíveis.",
    "it": "Il governo ha annunciato mercoledì che aumenterà le tasse sul carburante.",
}


@pytest.mark.parametrize("language", sorted(SAMPLES))
def test_detects_language(language: str) -> None:
    code, score = detect_language(SAMPLES[language], LanguageConfig(), FACTORY)
    assert code == language and 0.5 < score <= 1.0


@pytest.mark.parametrize("text", ["", "Reuters", "12 345 678 -- !!", "AFP 2024"])
def test_too_little_text_is_und(text: str) -> None:
    assert detect_language(text, LanguageConfig(), FACTORY) == ("und", 0.0)


def test_deterministic() -> None:
    mixed = SAMPLES["en"] + " " + SAMPLES["de"]
    # A fresh factory each time: the same answer does not depend on what ran before.
    config = LanguageConfig()
    results = {detect_language(mixed, config, load_detector_factory(0)) for _ in range(3)}
    results.add(detect_language(mixed, config, FACTORY))
    assert len(results) == 1


def test_language_sample_is_bounded_and_cut_at_a_word() -> None:
    text = "Short title.\n\n" + "word " * 300
    sample = language_sample(text, 500)
    assert 490 <= len(sample) <= 500 and text.startswith(sample) and sample.endswith("word")
    assert language_sample(text, 0) == text
    assert language_sample("x" * 5000, 100) == "x" * 100  # no spaces: cut where it falls


def test_detect_language_composite_never_drops() -> None:
    articles = [
        new_article("en.txt", text=SAMPLES["en"]),
        new_article("de.txt", text=SAMPLES["de"]),
        new_article("short.txt", text="Reuters"),
    ]
    with make_test_pipeline() as pipeline:
        tagged, rejected = pipeline | beam.Create(articles) | DetectLanguage()
        assert_that(
            tagged | beam.Map(lambda a: (a.source, a.language)),
            equal_to([("en.txt", "en"), ("de.txt", "de"), ("short.txt", "und")]),
            label="CheckTagged",
        )
        assert_that(rejected, equal_to([]), label="CheckRejected")
    counters = counters_of(pipeline)
    assert counters["language_in"] == 3 and counters["language_und"] == 1
