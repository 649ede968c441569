"""Stage: language. Language detection, seeded and bounded."""

from __future__ import annotations

import json
from typing import Any

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
    with_declared,
    without_own_script,
)
from newsbeam.transforms.support.chinese import script_of
from newsbeam.transforms.support.detector import create_detector
from tests.helpers import counters_of, make_test_pipeline

FACTORY = load_detector_factory(seed=0)


def _stock_factory() -> Any:
    """langdetect's own loading of its profiles: every row built up front."""
    from langdetect.detector_factory import PROFILES_DIRECTORY, DetectorFactory

    factory = DetectorFactory()
    factory.load_profile(PROFILES_DIRECTORY)
    return factory


STOCK = _stock_factory()


def test_profile_rows_are_langdetects_to_the_bit() -> None:
    """read_profiles (support/detector.py) computes every n-gram's row with numpy: the same
    languages in the same order, the same n-grams, each row the same floats as langdetect's,
    and no other n-gram."""
    rows = FACTORY.word_lang_prob_map
    assert FACTORY.langlist == STOCK.langlist and len(STOCK.langlist) == 55
    assert "not an n-gram" not in rows and "" not in rows
    with pytest.raises(KeyError):
        rows["not an n-gram"]
    assert len(rows) == len(STOCK.word_lang_prob_map)
    for gram, row in STOCK.word_lang_prob_map.items():
        assert gram in rows
        assert [value.hex() for value in rows[gram]] == [value.hex() for value in row], gram
        assert [value.hex() for value in rows.array(gram).tolist()] == [v.hex() for v in row]


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


def test_a_declared_language_wins_where_langdetect_is_unsure() -> None:
    """A feed's declared language (set on the article before the stage) was overwritten by
    langdetect's guess on a short entry ("... im Test: Kamera, Akku und Display." came
    out English, 0.67). It wins now where langdetect is under declared_below or cannot
    tell; a sure guess (a feed that mislabels its items) stands."""
    config = LanguageConfig()
    assert with_declared(("en", 0.6667), "de", config) == ("de", None)
    assert with_declared(("und", 0.0), "de", config) == ("de", None)
    assert with_declared(("en", 1.0), "de", config) == ("en", 1.0)
    assert with_declared(("de", 0.6), "de", config) == ("de", 0.6)
    assert with_declared(("en", 0.5), None, config) == ("en", 0.5)
    short = "Apple iPhone 16 Pro im Test: Kamera, Akku und Display."
    articles = [
        new_article("declared.txt", text=short, language="de"),
        new_article("undeclared.txt", text=short),
        new_article("mislabelled.txt", text=SAMPLES["en"], language="de"),
    ]
    with make_test_pipeline() as pipeline:
        tagged, _ = pipeline | beam.Create(articles) | DetectLanguage()
        assert_that(
            tagged | beam.Map(lambda a: (a.source, a.language, a.language_score is None)),
            equal_to(
                [
                    ("declared.txt", "de", True),
                    ("undeclared.txt", "en", False),
                    ("mislabelled.txt", "en", False),
                ]
            ),
        )
    assert counters_of(pipeline)["language_declared"] == 1


# Scripts langdetect treats apart (Cyrillic, Greek, CJK, Arabic, Hangul) and a mixed text.
OTHER_SCRIPTS = [
    "Правительство объявило в среду, что повысит налоги на топливо в следующем году.",
    "Η κυβέρνηση ανακοίνωσε την Τετάρτη ότι θα αυξήσει τους φόρους στα καύσιμα.",
    "政府周三宣布，明年将提高燃油税。",
    "政府は水曜日、来年燃料税を引き上げると発表した。",
    "أعلنت الحكومة يوم الأربعاء أنها سترفع الضرائب على الوقود العام المقبل.",
    "정부는 수요일 내년에 연료세를 인상할 것이라고 발표했다.",
    "BREAKING: NASA and the ESA said that ЕКА 政府 would fly. https://x.example/a b@c.de",
]


@pytest.mark.parametrize("text", [*SAMPLES.values(), *OTHER_SCRIPTS])
@pytest.mark.parametrize("trials", [1, 3, 7])
def test_fast_detector_answers_exactly_as_langdetect(text: str, trials: int) -> None:
    """FastDetector (support/detector.py) on lazily loaded profiles is langdetect's Detector
    on its own: the same probabilities to the last bit, for any seed and number of trials."""
    for seed in (0, 1, 17):
        answers = []
        for detector in (STOCK.create(), create_detector(FACTORY)):
            detector.seed, detector.n_trial = seed, trials
            detector.append(text)
            answers.append([(found.lang, found.prob) for found in detector.get_probabilities()])
        assert answers[0] == answers[1] and answers[0]


# Characters of every kind langdetect's NGram treats apart: ASCII letters and the rest of
# Basic Latin, Latin-1 (some excluded), Romanian commas, Vietnamese marks, Cyrillic, Greek,
# Arabic (the Farsi yeh), kana, bopomofo, CJK, Hangul, punctuation, URLs and mail addresses.
_POOLS = [
    "abcdefXYZ  .,-'!?",
    "ÀÉßçñÜ×÷ºª",
    "șțȘȚ",
    "ẠẸỆỳ\u0300\u0301\u0303\u0309\u0323",
    "ЖжПриветМИР",
    "αβΓΔ",
    "یيعرب",
    "ひらがなカタカナ",
    "ㄅㄆㆠ",
    "政府周三宣布丂",
    "한국어",
    "\u2018\u2019\u201c\u2014",
    "0123456789\t\n",
    " http://x.example/a?b=c ",
    " a@b.cd ",
]


def _random_texts(count: int) -> list[str]:
    import random

    rng = random.Random(11)
    texts = []
    for _ in range(count):
        size = rng.randint(0, 120)
        texts.append("".join(rng.choice(rng.choice(_POOLS)) for _ in range(size)))
    return texts


def test_fast_ngrams_are_langdetects_on_random_texts() -> None:
    """FastDetector's append, cleaning and n-gram extraction (the text normalised at once,
    word by word, words met before looked up) give langdetect's own text and n-grams, in
    order; each text twice, so the second time its words come from the cache."""
    texts = [*SAMPLES.values(), *OTHER_SCRIPTS, "ABC DEF Ghi JKl mNO", *_random_texts(1500)]
    for text in texts + texts:
        stock, fast = STOCK.create(), create_detector(FACTORY)
        stock.append(text)
        fast.append(text)
        assert fast.text == stock.text, text
        stock.cleaning_text()
        fast.cleaning_text()
        assert fast.text == stock.text, text
        assert fast._extract_ngrams() == stock._extract_ngrams(), text


_GALICIAN = (
    "A Xunta aprobou onte a suba do salario mínimo, que beneficiará a dous millóns de "
    "traballadores galegos segundo os datos da consellería de Emprego."
)


def test_a_page_or_record_declares_its_language_as_a_feed_does() -> None:
    # Galician has no langdetect profile: a Galician page came out Spanish (0.58), though
    # its <html lang="gl"> said what it was; a JSON record's "language" was not read at all.
    # Declared languages now count as a feed's do: where langdetect is unsure or cannot
    # tell (review 71).
    from newsbeam.schemas import RawDocument
    from newsbeam.transforms.extract import ExtractConfig, extract_document

    body = "".join(f"<p>{_GALICIAN}</p>" for _ in range(3))
    page = f"<html lang='gl-ES'><head><title>Suba</title></head><body><article>{body}</article>"
    record = json.dumps({"text": _GALICIAN, "language": "gl"})
    docs = [
        RawDocument("gl.html", "html", page.encode()),
        RawDocument("gl.jsonl#L1", "jsonl", record.encode()),
        RawDocument("plain.jsonl#L1", "jsonl", json.dumps({"text": _GALICIAN}).encode()),
    ]
    articles = [extract_document(doc, ExtractConfig()) for doc in docs]
    assert [a.language for a in articles] == ["gl", "gl", None]
    # A language langdetect knows is left to it on pages: templates declare the site's
    # default whatever the article is in (the fundus Zulu pages declare English).
    english = page.replace("lang='gl-ES'", "lang='en'").encode()
    assert (
        extract_document(RawDocument("en.html", "html", english), ExtractConfig()).language is None
    )
    with make_test_pipeline() as pipeline:
        tagged, _ = pipeline | beam.Create(articles) | DetectLanguage()
        # Undeclared, it is still Spanish or Portuguese to langdetect, which knows no Galician.
        assert_that(
            tagged | beam.Map(lambda a: (a.source, a.language == "gl")),
            equal_to([("gl.html", True), ("gl.jsonl#L1", True), ("plain.jsonl#L1", False)]),
        )


# Traditional Chinese news: langdetect's Korean profile holds the Han characters of hanja,
# and its walk over these came out `ko` (review 93).
TRADITIONAL_CHINESE = [
    "台北市長選舉投票率創新高 開票結果今晚揭曉\n\n中央社記者台北5日電 台北市長選舉今天舉行投票，"
    "中央選舉委員會表示，截至下午四點投票截止，全市投票率預估超過百分之七十，創下歷年新高。"
    "各投票所將在投票結束後立即開票，預計晚間九點前可確定當選人。",
    "香港股市今日顯著反彈，恒生指數收市報20,150點，上漲405點，漲幅2%，全日成交額約1,350億港元。"
    "科技股普遍上揚，其中騰訊控股和阿里巴巴分別上漲3.2%及4.1%。分析師指出，內地央行降準消息提振"
    "市場情緒，資金重新流入港股。",
    "新華社北京12月5日電 中國人民銀行5日宣布，決定於12月15日下調金融機構存款準備金率0.5個百分點，"
    "預計將釋放長期流動性約1萬億元。央行有關負責人表示，此次降準是為了鞏固經濟回升向好的勢頭。",
]


@pytest.mark.parametrize("trials", [3, 7])
@pytest.mark.parametrize("text", TRADITIONAL_CHINESE)
def test_traditional_chinese_is_chinese_not_korean(text: str, trials: int) -> None:
    config = LanguageConfig(trials=trials)
    assert detect_language(text, config, FACTORY)[0] == "zh"
    assert detect_language(text, LanguageConfig(trials=trials, sample_chars=0), FACTORY)[0] == "zh"


@pytest.mark.parametrize(
    ("text", "language"),
    [
        ("한국은행 금융통화위원회는 5일 통화정책방향 회의를 열고 기준금리를 연 3.00%에서 2.75%로 "
         "0.25%포인트 내렸다고 밝혔다. 지난 10월에 이어 두 차례 연속 인하다.", "ko"),
        ("5日午前9時12分ごろ、石川県能登地方を震源とする地震があり、輪島市と珠洲市で震度6強の揺れを"
         "観測した。気象庁によると、震源の深さは約10キロと推定される。", "ja"),
        ("中国人民银行5日宣布，决定于12月15日下调金融机构存款准备金率0.5个百分点，预计将释放长期"
         "流动性约1万亿元。", "zh"),
    ],
)  # fmt: skip
def test_a_language_with_a_script_of_its_own_needs_it(text: str, language: str) -> None:
    assert detect_language(text, LanguageConfig(), FACTORY)[0] == language
    assert without_own_script(text) == {"ko", "ja"} - {language}


@pytest.mark.parametrize("text", TRADITIONAL_CHINESE)
def test_a_chinese_articles_script_is_told_by_its_characters(text: str) -> None:
    # Review 97: `language` is `zh` for both scripts, and a desk reading the mainland's,
    # Taiwan's and Hong Kong's outlets had no way to tell them apart in the tables.
    simplified = "中国人民银行5日宣布，决定于12月15日下调金融机构存款准备金率0.5个百分点。"
    assert script_of("zh", None, text) == "Hant"
    assert script_of("zh", "央行宣布降准", text) == "Hant"  # a simplified headline over it
    assert script_of("zh", None, simplified) == "Hans"
    assert script_of("zh", "中國", simplified) == "Hans"
    # Japanese kanji are mostly traditional forms, but Japanese has no such column value.
    assert script_of("ja", None, text) is None and script_of("en", None, "Fed") is None
    # "中国人民" vs "中國人民"; characters the two scripts share tell nothing.
    assert (
        script_of("zh", None, "中国人民") == "Hans" and script_of("zh", None, "中國人民") == "Hant"
    )
    assert script_of("zh", None, "中人大 100") is None
