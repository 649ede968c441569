"""DetectLanguage: Article -> Article with `language` (ISO 639-1; `und` when the text is too
short) and `language_score`: langdetect, seeded, on a bounded sample of the text. A language
the article comes with (a feed's declared one) is taken where langdetect is unsure
(with_declared), with no score. A Chinese article's `script` (Hans or Hant) is counted
from its characters (support/chinese.py).

Annotates, never filters. Counters: `language_in`, `language_und`, `language_declared`.
"""

from __future__ import annotations

import dataclasses
import functools
import re
from collections.abc import Callable, Iterator
from typing import Any

import apache_beam as beam

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.support.built_cache import built, newsbeam_sources, package_file
from newsbeam.transforms.support.chinese import chinese_script, script_of
from newsbeam.transforms.support.detector import create_detector, factory_of, read_profiles
from newsbeam.transforms.support.failures import apply_with_rejects, counter
from newsbeam.transforms.support.loaded import load_once

STAGE = "language"
UNDETERMINED = "und"
_REPEATS_REMEMBERED = 4096  # samples of at most `sample_chars` characters
# Languages that always write a script of their own beside one they share with others:
# Korean news writes Hangul (its profile also holds hanja, the Han characters of Chinese),
# Japanese writes kana beside its kanji. langdetect's random walk over a traditional Chinese
# text's Han n-grams, which both profiles hold, came out Korean (a Taipei election report:
# ko 0.71, zh-tw 0.29; a Hong Kong market report ko at 1.0 with 3 trials): a sample
# without the script is not in the language, whatever the n-grams say.
_OWN_SCRIPT = {
    "ko": re.compile("[\u1100-\u11ff\u3131-\u318e\uac00-\ud7a3]"),  # Hangul
    "ja": re.compile("[\u3041-\u3096\u30a1-\u30fa]"),  # hiragana, katakana letters
}


@dataclasses.dataclass(frozen=True)
class LanguageConfig:
    """Chosen with benchmarks/eval_language.py on 257 real pages in 25 languages: the first
    200 characters with 3 trials already named all 251 pages in languages langdetect knows,
    as the whole text with its default 7 trials did (150 characters missed one); the
    default takes twice that. Cost per article: whole text 7 ms, this sample 1.5 ms."""

    sample_chars: int = 400  # 0 = whole text
    trials: int = 3
    min_letters: int = 20
    seed: int = 0
    # A language declared with the article (a feed's <language> or xml:lang) wins over a
    # langdetect guess less probable than this, or none. Measured on the 1,449 entries of
    # ../shared feeds that declare a language and have 600+ letters (truth: langdetect on
    # the whole text; the declared language agrees 99.2%), their text cut to 30 / 60 /
    # 100 / 200 characters: langdetect alone 0.924 / 0.985 / 0.993 / 0.995, with this
    # rule 0.954 / 0.992 / 0.994 / 0.997 (0.5: 0.928 / 0.986 / 0.993 / 0.996; the
    # declared language alone 0.992: wrong in the feeds that mislabel, where a sure
    # langdetect is right).
    declared_below: float = 0.8


def load_detector_factory(seed: int) -> Any:
    """langdetect's model (55 language profiles), seeded; the profiles read back from the
    cache of built objects when an earlier run read them (support/built_cache.py: ~0.03 s
    instead of ~0.13 s for the JSON files and the rows)."""
    from langdetect.detector_factory import PROFILES_DIRECTORY

    sources = [PROFILES_DIRECTORY, *newsbeam_sources(), package_file("numpy")]
    profiles = built("langdetect", None, lambda: read_profiles(PROFILES_DIRECTORY), sources)
    factory = factory_of(profiles)
    factory.set_seed(seed)
    return factory


def language_sample(text: str, sample_chars: int) -> str:
    """The first `sample_chars` characters of the text, cut back to a word boundary."""
    if sample_chars <= 0 or len(text) <= sample_chars:
        return text
    cut = text[:sample_chars]
    space = cut.rfind(" ")
    # No space in the window: a script written without spaces (Chinese, Japanese, Thai).
    return cut[:space] if space > sample_chars // 2 else cut


def detect_language(text: str, config: LanguageConfig, factory: Any) -> tuple[str, float]:
    """(ISO 639-1 code, probability) for a text, or ("und", 0.0) when it cannot tell."""
    return detect_sample(language_sample(text, config.sample_chars), config, factory)


def detect_sample(sample: str, config: LanguageConfig, factory: Any) -> tuple[str, float]:
    """detect_language on an already cut sample (the same sample always gets the same
    answer: the factory is seeded)."""
    from langdetect.lang_detect_exception import LangDetectException

    if sum(map(str.isalpha, sample)) < config.min_letters:
        return UNDETERMINED, 0.0
    try:
        best = _most_probable(sample, config, factory, None)
        # Asked only of a Korean or Japanese answer: two regex scans spared every other one.
        ruled_out = without_own_script(sample) if best.lang in _OWN_SCRIPT else set()
        if best.lang in ruled_out:
            # Again without the languages whose script the sample lacks (a prior of 0): the
            # seeded walk is as deterministic as the first. Only where the first answer was
            # one of them, so every other sample's answer stays langdetect's.
            prior = {lang: 0.0 if lang in ruled_out else 1.0 for lang in factory.langlist}
            best = _most_probable(sample, config, factory, prior)
    except (LangDetectException, IndexError):
        return UNDETERMINED, 0.0
    # langdetect says zh-cn / zh-tw; the column holds ISO 639-1 codes (and `script` the
    # characters, counted rather than guessed: script_of).
    return best.lang.split("-")[0], round(float(best.prob), 4)


def without_own_script(sample: str) -> set[str]:
    """The languages of `_OWN_SCRIPT` whose own script the sample does not hold."""
    return {lang for lang, script in _OWN_SCRIPT.items() if script.search(sample) is None}


def _most_probable(
    sample: str, config: LanguageConfig, factory: Any, prior: dict[str, float] | None
) -> Any:
    """langdetect's most probable language of the sample (a `Language`: lang, prob), its
    walk started from `prior` (None: every language alike, langdetect's default)."""
    detector = create_detector(factory)  # langdetect's, its loops cheaper: support/detector.py
    # Each trial is a random walk over the sample's n-grams and costs the same whatever
    # the text's length; langdetect's default of 7 mostly buys agreement on easy texts.
    detector.n_trial = config.trials
    if prior is not None:
        detector.set_prior_map(prior)
    detector.append(sample)
    return detector.get_probabilities()[0]


def with_declared(
    detected: tuple[str, float], declared: str | None, config: LanguageConfig
) -> tuple[str, float | None]:
    """(language, score) with the `declared` language (ISO 639-1, or None) as evidence:
    it is taken where langdetect could not tell (`und`) or is less sure than
    `config.declared_below` of another language (short texts: a headline and a line),
    with no score (langdetect's was for its own guess)."""
    language, score = detected
    if declared is None or language == declared:
        return detected
    if language == UNDETERMINED or score < config.declared_below:
        return declared, None
    return detected


class _DetectLanguage(beam.DoFn):
    def __init__(self, config: LanguageConfig) -> None:
        self._config = config
        self._detect: Callable[[str], tuple[str, float]] | None = None

    # The worker template (pipeline/worker_template.py) runs this before it has the
    # pipeline's DoFns: the default config's model, the run's unless its flags changed it.
    @classmethod
    def warm_ahead(cls) -> None:
        cls(LanguageConfig()).setup()

    # Forked workers start warm: pipeline/worker_template.py calls this in the process
    # they fork from (setup() here only loads read-only models into loaded.py's cache).
    def warm_up(self) -> None:
        self.setup()

    def setup(self) -> None:
        # Profiles load once per worker, up front (langdetect's lazy loading is not
        # thread-safe), into this DoFn's own factory rather than langdetect's global one.
        # Once per process (follow mode runs a pipeline per batch): support/loaded.py.
        seed = self._config.seed
        factory = load_once("langdetect", seed, lambda: load_detector_factory(seed))
        # The same wire story arrives many times word for word: a seeded detector gives
        # the same sample the same answer, so repeats are looked up, not detected again.
        self._detect = functools.lru_cache(maxsize=_REPEATS_REMEMBERED)(
            functools.partial(detect_sample, config=self._config, factory=factory)
        )
        chinese_script("中文")  # OpenCC's tables, loaded now rather than by the first article

    def process(self, article: Article) -> Iterator[Article]:
        counter("language_in").inc()
        assert self._detect is not None, "setup() loads the detector"
        detected = self._detect(language_sample(article.text, self._config.sample_chars))
        # A language set before this stage was declared with the article (a feed's).
        language, score = with_declared(detected, article.language, self._config)
        if language == UNDETERMINED:
            counter("language_und").inc()
        if language != detected[0]:
            counter("language_declared").inc()
        script = script_of(language, article.title, article.text)
        yield article._replace(language=language, language_score=score, script=script)


class DetectLanguage(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article] with language set, PCollection[Rejected]).

    Expected problems never reject (too little text is `und`); only an unexpected
    exception turns its article into a rejected row (`internal_error`).
    """

    def __init__(self, config: LanguageConfig | None = None) -> None:
        super().__init__()
        self._config = config or LanguageConfig()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(
            articles, "Detect", _DetectLanguage(self._config), STAGE, lambda a: a.source, Article
        )
