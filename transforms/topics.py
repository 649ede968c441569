"""TagTopics: Article -> Article with `topics` (IPTC Media Topics qcodes, the main subject
first), `topic_scores` and `topics_model`. English: the shipped linear model
(data/topics-model/) with our cue lexicon; German, Spanish, French, Portuguese: the IPTC
names plus our cue words (data/lexicons/topic_cues.json); Italian, Dutch: our cue words
alone (the IPTC taxonomy names nothing in them). Other languages get no topics.

Annotates, never filters; only an unexpected exception rejects (`internal_error`).
Counters: `topics_in`, `topics_tagged`, `topics_no_language_support`, `topics_no_language`.
"""

from __future__ import annotations

import dataclasses
import itertools
import math
import re
from collections import Counter
from collections.abc import Iterator
from importlib import resources
from pathlib import Path
from typing import Any, NamedTuple

import apache_beam as beam

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.support.built_cache import built, newsbeam_sources, package_file
from newsbeam.transforms.support.failures import apply_with_rejects, counter
from newsbeam.transforms.support.lexicons import load_lexicon
from newsbeam.transforms.support.loaded import load_once
from newsbeam.transforms.support.taxonomy import (
    SUPPORTED_LANGUAGES,
    Concept,
    level_ancestor,
    load_taxonomy,
)
from newsbeam.transforms.support.text import ngram_counts, words
from newsbeam.transforms.support.words import ascii_quotes

STAGE = "topics"
MODEL_NAME = "newsbeam-topics"
MODEL_VERSION = "1"
MODEL_FILE = "topics-model/topics-linear.npz"


@dataclasses.dataclass(frozen=True)
class TopicsConfig:
    """Thresholds chosen with benchmarks/eval_topics.py on bbc-dev (research-only data: tuned
    there, nothing trained on it)."""

    # A further top-level topic is kept when its score reaches this (seeds: the war topic
    # scores 0.43-0.51 beside politics; bbc-dev: 1.2 top-level topics per article at 0.4,
    # 1.1 at 0.45, 1.4 at 0.35).
    threshold: float = 0.4
    # The best top-level topic is kept only when its probability reaches this.
    min_first_score: float = 0.15
    # Second-level topics need this many cue hits (a hit in the title counts twice).
    min_child_hits: int = 2
    max_topics: int = 8
    # Characters of text read (title aside): long articles say what they are about early.
    max_chars: int = 20_000


# Our own cue words (data/lexicons/topic_cues.json): everyday news vocabulary that the IPTC
# names (often formal, multi-word) do not cover. A cue of `_MIN_STEM` letters or more is a
# stem matched as the start of a word (German compounds, plurals, verb forms; in English only
# with one of `_ENGLISH_ENDINGS` after it: "courts", not "Crimea"); a shorter one
# must be the whole word or its plural ("bill", "bills", not "billion"); words joined by "_"
# are a phrase.
TOPIC_CUES = "topic_cues"
_MIN_STEM = 5
_MAX_SEEN_WORDS = 200_000
_SPLIT_NAME = re.compile(r"\s*(?:,|;|/|\(|\))\s*|\s+(?:and|und|y|e|et|ou|or|o)\s+")


def _phrases(name: str) -> list[tuple[str, ...]]:
    """Word sequences to look for from one IPTC name ("arts, culture and media" -> three)."""
    result = []
    for part in _SPLIT_NAME.split(name):
        tokens = tuple(words(part))
        if tokens and (len(tokens) > 1 or len(tokens[0]) >= 4):
            result.append(tokens)
    return result


class CueIndex(NamedTuple):
    """Cues of one language: word sequences and word-start stems -> the topics they point to.

    One pass over an article's words counts the hits of every topic at once: single words
    are looked up once per distinct word, longer phrases only where their first word is."""

    words: dict[str, tuple[str, ...]]  # a word -> topics of the one-word cues it matches
    phrases: dict[tuple[str, ...], tuple[str, ...]]  # phrases of two words or more
    longest_phrase: dict[str, int]  # first word of a phrase -> the longest such phrase
    stems: dict[str, tuple[str, ...]]
    stem_lengths: tuple[int, ...]
    # What may follow a stem in a word of its family (None: anything, as in German compounds).
    endings: frozenset[str] | None
    # Word -> its topics, filled as words are met (words repeat across articles: Zipf).
    seen: dict[str, tuple[str, ...]]

    def word_topics(self, token: str) -> tuple[str, ...]:
        known = self.seen.get(token)
        if known is not None:
            return known
        found = list(self.words.get(token, ()))
        endings = self.endings
        for length in self.stem_lengths:
            if len(token) < length:
                break
            if endings is None or token[length:] in endings:
                found.extend(self.stems.get(token[:length], ()))
        if len(self.seen) < _MAX_SEEN_WORDS:
            self.seen[token] = tuple(found)
        return tuple(found)

    def hits(self, tokens: list[str]) -> Counter[str]:
        found: Counter[str] = Counter()
        seen = self.seen
        for token, count in Counter(tokens).items():
            # A word met before (most are): its topics without a method call.
            topics = seen.get(token)
            for qcode in self.word_topics(token) if topics is None else topics:
                found[qcode] += count
        # Phrases only where one can start (few words do): the same lookups in the same order.
        phrases, longest = self.phrases, self.longest_phrase
        for start in [start for start, token in enumerate(tokens) if token in longest]:
            for size in range(2, longest[tokens[start]] + 1):
                matched = phrases.get(tuple(tokens[start : start + size]))
                if matched:
                    found.update(matched)
        return found

    def distinct_cues(self, *token_lists: list[str]) -> Counter[str]:
        """How many different cue words and phrases of each topic occur in the token lists
        (a title's, a text's): a cue repeated, or in both, counts once."""
        found: Counter[str] = Counter()
        for token in {token for tokens in token_lists for token in tokens}:
            topics = self.word_topics(token)
            if topics:  # most words are no cue: no Counter.update of nothing
                found.update(set(topics))
        phrases, longest = self.phrases, self.longest_phrase
        seen: set[tuple[str, ...]] = set()
        for tokens in token_lists:
            for start in [start for start, token in enumerate(tokens) if token in longest]:
                for size in range(2, longest[tokens[start]] + 1):
                    phrase = tuple(tokens[start : start + size])
                    if phrase not in seen and phrase in phrases:
                        seen.add(phrase)
                        found.update(phrases[phrase])
        return found


# English words of a stem's family: the stem and one of these endings ("court", "courts";
# "election", "elections"; "diplomat", "diplomatic"). Any longer word was any word that
# starts alike: "Crimea" was crime, "Stockholm" business, "intelligence" technology,
# "authorities" and "operation" the arts, "finally" sport, "hospitality" health.
_ENDINGS = (
    {"", "s", "es", "d", "ed", "ing", "r", "rs", "er", "ers", "or", "ors", "al", "als", "ally"}
    | {"ic", "ics", "ical", "ist", "ists", "ism", "ment", "ments", "ship", "ships", "ial"}
    | {"ian", "ians", "ary", "n", "ns", "an", "ans"}
)
# Each also with a possessive ("Microsoft's", "president's": words() keeps the apostrophe).
_ENGLISH_ENDINGS = frozenset(_ENDINGS | {f"{ending}'s" for ending in _ENDINGS})


def _cue_index(
    phrases: dict[tuple[str, ...], set[str]],
    stems: dict[str, set[str]],
    endings: frozenset[str] | None = None,
) -> CueIndex:
    longest: dict[str, int] = {}
    for phrase in phrases:
        if len(phrase) > 1:
            longest[phrase[0]] = max(longest.get(phrase[0], 0), len(phrase))
    return CueIndex(
        words={p[0]: tuple(sorted(q)) for p, q in phrases.items() if len(p) == 1},
        phrases={p: tuple(sorted(q)) for p, q in phrases.items() if len(p) > 1},
        longest_phrase=longest,
        stems={s: tuple(sorted(q)) for s, q in stems.items()},
        stem_lengths=tuple(sorted({len(s) for s in stems})),
        endings=endings,
        seen={},
    )


def build_cue_indexes(
    taxonomy: dict[str, Concept], compounds: Compounds | None = None
) -> dict[str, CueIndex]:
    """language -> the cues of every top-level and second-level topic in that language:
    the IPTC names of the topic and of all its descendants, plus our own cue words."""
    own_cues = load_lexicon(TOPIC_CUES)
    senses = (compounds or build_compounds(taxonomy)).senses
    indexes = {}
    for language in SUPPORTED_LANGUAGES:
        phrases: dict[tuple[str, ...], set[str]] = {}
        stems: dict[str, set[str]] = {}
        for concept in taxonomy.values():
            name = concept.names.get(language)
            if not name:
                continue
            ancestors = {
                level_ancestor(concept.qcode, taxonomy, 1),
                level_ancestor(concept.qcode, taxonomy, 2),
            } - {None}
            for phrase in _phrases(name):
                phrases.setdefault(phrase, set()).update(q for q in ancestors if q)
            if language == "en":
                # "a shooting", "the forest": the singular of a plural IPTC name names the
                # second-level topic, counted once its parent is chosen, and never the
                # top-level topic itself: "student" and "teacher" made education the first
                # topic of school shootings, "river" environment of floods (review 54).
                # A word the IPTC definitions use in two topics or more ("river": sport,
                # weather; "mountain": disaster, sport) is no one concept's name.
                singular = _singular_name(name)
                second = level_ancestor(concept.qcode, taxonomy, 2)
                if (
                    singular
                    and singular not in phrases
                    and second is not None
                    and len(senses.get(singular[0], ())) < 2
                ):
                    phrases.setdefault(singular, set()).add(second)
        own = [(q, cues.get(language, ())) for q, cues in own_cues["top_level"].items()]
        own += [(q, child["cues"]) for q, child in own_cues["second_level"].items()]
        for qcode, cue_words in own:
            for cue in cue_words:
                # A cue of several words is a phrase, whether "_" or a hyphen joins them:
                # words() splits "cessez-le-feu", so as a stem it never met a word.
                if "_" in cue or len(cue) < _MIN_STEM or len(words(cue)) > 1:
                    # A short cue or a phrase also matches its plural ("firms", "tv shows").
                    for form in (cue, f"{cue}s"):
                        phrase = tuple(words(form.replace("_", " ")))
                        phrases.setdefault(phrase, set()).add(qcode)
                else:
                    stems.setdefault(cue, set()).add(qcode)
        # English words are not compounded: a stem ends its word or takes an ending.
        endings = _ENGLISH_ENDINGS if language == "en" else None
        indexes[language] = _cue_index(phrases, stems, endings)
    return indexes


def _singular_name(name: str) -> tuple[str, ...] | None:
    """The singular of a one-word plural English IPTC name ("shootings" -> "shooting",
    "casualties" -> "casualty"): news writes "a shooting" as often as "shootings". None for
    other names, short ones ("news", "arts": "new", "art") and fields ("economics")."""
    tokens = words(name)
    if len(tokens) != 1:
        return None
    word = tokens[0]
    if len(word) < 6 or not word.endswith("s") or word.endswith(("ss", "us", "is", "ics")):
        return None
    if word.endswith("ies"):
        return (word[:-3] + "y",)
    if word.endswith(("ches", "shes", "xes", "sses")):
        return (word[:-2],)
    return (word[:-1],)


class Compounds(NamedTuple):
    """English compounds whose first word names a topic and decides the second's sense:
    "basketball court" is a sport's court, not a law court; "labour market" is labour's."""

    modifiers: dict[str, str]  # one-word IPTC name -> its top-level topic ("basketball")
    senses: dict[str, frozenset[str]]  # word -> the top-level topics whose IPTC definitions
    # use it ("court": crime, law and justice; sport: "the opponent's side of the court")


def build_compounds(taxonomy: dict[str, Concept]) -> Compounds:
    """The one-word English IPTC names of concepts below the top level and the words of each
    top-level topic's English definitions, from the taxonomy alone."""
    modifiers: dict[str, str] = {}
    senses: dict[str, set[str]] = {}
    for concept in taxonomy.values():
        top = level_ancestor(concept.qcode, taxonomy, 1)
        if top is None:
            continue
        name = words(concept.names.get("en", ""))
        # A concept, not a field: "labour market" is the economy's market as much as labour's.
        if concept.level >= 2 and len(name) == 1 and len(name[0]) >= 4:
            modifiers.setdefault(name[0], top)
        for word in words(concept.definitions.get("en", "")):
            senses.setdefault(word, set()).add(top)
    return Compounds(modifiers, {word: frozenset(tops) for word, tops in senses.items()})


def resolve_compounds(tokens: list[str], compounds: Compounds, cues: CueIndex) -> list[str]:
    """`tokens` with the second word of each compound that names another topic's thing
    replaced by the first ("basketball court" -> "basketball basketball"): a cue of one topic
    ("court": crime) after the IPTC name of another topic's concept ("basketball": sport),
    when the IPTC definitions use the word in those two topics only (courts of law; courts
    in tennis, volleyball, floorball), is evidence of the first word's topic, for the lexicon
    and the model alike. A word the other topic never uses stays ("prison film" is a film)."""
    resolved = list(tokens)
    for index in range(1, len(tokens)):
        topic = compounds.modifiers.get(tokens[index - 1])
        if topic is None:
            continue
        word = tokens[index]
        other = {q for q in cues.word_topics(word) if q.endswith("000000") and q != topic}
        senses = compounds.senses.get(word, frozenset())
        # Two senses, the cue's and the first word's: the first word picks one. A word many
        # topics' definitions use ("economic", "government") is no compound's head.
        if len(senses) == 2 and topic in senses and other & senses:
            resolved[index] = tokens[index - 1]
    return resolved


class LinearModel(NamedTuple):
    """The shipped topic model: vocabulary -> column, idf, one weight row per topic."""

    columns: dict[str, int]
    idf: Any  # numpy float32 [n_features]
    weights_t: Any  # numpy float32 [n_features, n_topics]
    biases: Any  # numpy float32 [n_topics]
    classes: tuple[str, ...]
    stop_words: frozenset[str]


def load_model() -> LinearModel:
    """The linear model shipped in the package (numpy .npz, no pickled objects)."""
    import numpy as np

    with resources.files("newsbeam.transforms").joinpath("data", MODEL_FILE).open("rb") as fh:
        data = np.load(fh, allow_pickle=False)
        vocabulary = [str(term) for term in data["vocabulary"]]
        return LinearModel(
            columns={term: i for i, term in enumerate(vocabulary)},
            idf=data["idf"].astype(np.float32),
            weights_t=np.ascontiguousarray(data["weights"].T.astype(np.float32)),
            biases=data["biases"].astype(np.float32),
            classes=tuple(str(c) for c in data["classes"]),
            stop_words=frozenset(str(w) for w in data["stop_words"]),
        )


# Topics that dominate the event summaries the model learnt from (crime, disaster, war) come
# up as the second subject of many articles about something else: their scores are lowered
# by this much (in log-odds) when choosing the main topic. Chosen on bbc-dev (eval_topics.py,
# lexicon weight 0.5): 0 gave macro-F1 0.79, 1.5 0.89, 3 0.905, 4 0.913. 4 scored higher, but
# BBC has no crime section: 3 keeps plain crime and disaster stories first (tests).
_EVENT_TOPIC_OFFSET = 3.0
# Weight of the lexicon beside the model for English (bbc-dev: 0.15 -> 0.87, 0.5 -> 0.905,
# 0.6 -> 0.91; the same on either random half of the set).
_LEXICON_WEIGHT = 0.6
_EVENT_TOPICS = frozenset({"medtop:02000000", "medtop:03000000", "medtop:16000000"})
# A topic the English model has no row for (labour, society, weather) rests on the lexicon
# alone: one cue word, however often repeated, is one ambiguous word ("a lightning strike" is
# no labour dispute, "a storm of criticism" no weather). It needs this many different cue
# words. bbc-dev macro-F1 unchanged (0.912); Wikinews English articles (open-labelled, 570):
# top-1 accuracy 0.877 -> 0.879. Required of every topic, it cost Wikinews 0.02 (en) and
# 0.07 (fr) top-1 accuracy: short texts name their subject with one word the model knows.
_MIN_LEXICON_ONLY_CUES = 2


def model_logits(model: LinearModel, tokens: list[str]) -> dict[str, float]:
    """Log-odds of each top-level topic for an English text's words (`words(text)`), in one
    sparse dot product."""
    import numpy as np

    stop_words = model.stop_words
    counts = ngram_counts([token for token in tokens if token not in stop_words])
    # Each term's column (-1: not in the vocabulary), looked up by map in C, in order.
    found = np.fromiter(
        map(model.columns.get, counts, itertools.repeat(-1)), dtype=np.int64, count=len(counts)
    )
    known = found >= 0
    if not known.any():
        return {}
    index = found[known]
    tf = np.fromiter(counts.values(), dtype=np.int64, count=len(counts))[known].astype(np.float32)
    values = (1.0 + np.log(tf)) * model.idf[index]
    values /= max(float(np.linalg.norm(values)), 1e-12)
    logits = values @ model.weights_t[index] + model.biases
    return dict(zip(model.classes, logits.tolist(), strict=True))


def _sigmoid(logit: float) -> float:
    return 1.0 / (1.0 + math.exp(-logit))


def lexicon_scores(title_hits: Counter[str], body_hits: Counter[str]) -> dict[str, float]:
    """Score in [0, 1] per top-level topic from cue hits (a hit in the title counts three
    times): the topic's share of all hits, times a confidence that grows with the evidence
    (n / (n + 5) for n hits in all)."""
    hits = {
        q: 3 * title_hits.get(q, 0) + body_hits.get(q, 0)
        for q in set(title_hits) | set(body_hits)
        if q.endswith("000000")
    }
    total = sum(hits.values())
    if total == 0:
        return {}
    return {q: h / (total + 5.0) for q, h in hits.items() if h > 0}


def cached_tagger(config: TopicsConfig) -> TopicTagger:
    """The tagger for `config`, read back from the cache of built objects when an earlier run
    built it (support/built_cache.py): its indexes take ~0.1 s to build, ~0.02 s to read."""
    sources: list[str | Path] = [*newsbeam_sources(), package_file("numpy")]
    return built("topics", config, lambda: TopicTagger(config), sources)


class TopicTagger:
    """Everything the tagger needs, loaded once (DoFn.setup)."""

    def __init__(self, config: TopicsConfig | None = None) -> None:
        self.config = config or TopicsConfig()
        self.taxonomy = load_taxonomy()
        self.compounds = build_compounds(self.taxonomy)
        self.cues = build_cue_indexes(self.taxonomy, self.compounds)
        self.model = load_model()

    @property
    def model_label(self) -> str:
        return f"{MODEL_NAME}/{MODEL_VERSION}"

    def label(self, qcode: str) -> str:
        """The English IPTC name of a topic (the qcode itself if the taxonomy has none)."""
        concept = self.taxonomy.get(qcode)
        return concept.names.get("en", qcode) if concept is not None else qcode

    def tag(self, title: str | None, text: str, language: str | None) -> list[tuple[str, float]]:
        """(qcode, score) pairs, best first: top-level topics above the threshold and their
        second-level children found in the text. [] for unsupported languages."""
        if language not in SUPPORTED_LANGUAGES:
            return []
        title = title or ""
        text = text[: self.config.max_chars]
        cues = self.cues[language]
        title_tokens, body_tokens = words(title), words(text)
        if language == "en":
            stop_words = self.model.stop_words
            title_tokens = resolve_compounds(
                without_negated(title_tokens, stop_words), self.compounds, cues
            )
            body_tokens = resolve_compounds(
                without_negated(body_tokens, stop_words), self.compounds, cues
            )
        title_hits = cues.hits(title_tokens)
        body_hits = cues.hits(body_tokens)
        scores = lexicon_scores(title_hits, body_hits)
        # Which topic comes first (the article's main subject): the same scores, except that
        # event topics need a clearer lead (see _EVENT_TOPIC_OFFSET).
        primary_scores = scores
        if language == "en":
            # The title twice: it names the subject, and long articles bury it otherwise.
            logits = model_logits(self.model, title_tokens + title_tokens + body_tokens)
            evidence = cues.distinct_cues(title_tokens, body_tokens)
            lexicon = {
                q: v
                for q, v in scores.items()
                if q in self.model.classes or evidence[q] >= _MIN_LEXICON_ONLY_CUES
            }
            scores, primary_scores = (
                {
                    # Topics the model has no row for (too few training texts: labour,
                    # society, weather) are scored by the lexicon alone.
                    q: (1 - _LEXICON_WEIGHT) * _sigmoid(logits[q] - offset(q))
                    + _LEXICON_WEIGHT * lexicon.get(q, 0.0)
                    if q in logits
                    else lexicon[q]
                    for q in set(logits) | set(lexicon)
                }
                for offset in (lambda q: 0.0, _event_offset)
            )
        if not scores:
            return []
        primary, primary_score = min(primary_scores.items(), key=lambda item: (-item[1], item[0]))
        if primary_score < self.config.min_first_score:
            return []
        chosen = {primary: scores[primary]}
        chosen.update((q, v) for q, v in scores.items() if v >= self.config.threshold)
        others = [(q, v) for q, v in chosen.items() if q != primary]
        for qcode in set(title_hits) | set(body_hits):
            concept = self.taxonomy.get(qcode)
            if concept is None or concept.level != 2 or concept.parent not in chosen:
                continue
            hits = 2 * title_hits.get(qcode, 0) + body_hits.get(qcode, 0)
            if hits >= self.config.min_child_hits:
                others.append((qcode, chosen[concept.parent] * hits / (hits + 2.0)))
        others.sort(key=lambda item: (-item[1], item[0]))
        tagged = [(primary, chosen[primary]), *others][: self.config.max_topics]
        return [(q, round(v, 4)) for q, v in tagged]


# A negated noun phrase names what did not happen ("not a terrorist attack", "no injuries
# were reported", "there will be no war"): its words are no evidence of a topic. English
# only: the negators, the words that may stand between a negator and its noun, and how many
# words the phrase holds at most (a modifier or two and the noun).
_NEGATORS = frozenset({"not", "never"})
_NEGATED_DETERMINERS = frozenset({"a", "an"})
_NEGATED_WORDS = 3


def without_negated(tokens: list[str], stop_words: frozenset[str]) -> list[str]:
    """`tokens` without the noun phrases a negator governs: after "no", "not", "never", ...
    and an article ("a", "any"), the run of up to three content words (not `stop_words`)
    that follows. "not only the government" keeps "government": "only" is no article."""
    kept: list[str] = []
    index = 0
    while index < len(tokens):
        token = tokens[index]
        kept.append(token)
        index += 1
        if token not in _NEGATORS and not token.endswith("n't"):
            continue
        after = index
        while after < len(tokens) and tokens[after] in _NEGATED_DETERMINERS:
            after += 1
        if after == index:
            continue
        end = after
        while end < len(tokens) and end - after < _NEGATED_WORDS and tokens[end] not in stop_words:
            end += 1
        kept.extend(tokens[index:after])
        index = end
    return kept


def _event_offset(qcode: str) -> float:
    return _EVENT_TOPIC_OFFSET if qcode in _EVENT_TOPICS else 0.0


def tag_topics(article: Article, tagger: TopicTagger) -> Article:
    """The article with its topics set (possibly none)."""
    # Quotes read as ASCII, as the clean text had them before it kept the page's (review 70).
    title = ascii_quotes(article.title) if article.title else article.title
    tagged = tagger.tag(title, ascii_quotes(article.text), article.language)
    return article._replace(
        topics=[q for q, _ in tagged],
        topic_scores=[s for _, s in tagged],
        topic_labels=[tagger.label(q) for q, _ in tagged],
        topics_model=tagger.model_label,
    )


class _TagTopics(beam.DoFn):
    def __init__(self, config: TopicsConfig) -> None:
        self._config = config
        self._tagger: TopicTagger | None = None

    # The worker template (pipeline/worker_template.py) runs this before it has the
    # pipeline's DoFns: the default config's model, the run's unless its flags changed it.
    @classmethod
    def warm_ahead(cls) -> None:
        cls(TopicsConfig()).setup()

    # Forked workers start warm: pipeline/worker_template.py calls this in the process
    # they fork from (setup() here only loads read-only models into loaded.py's cache).
    def warm_up(self) -> None:
        self.setup()

    def setup(self) -> None:
        # Loaded once per process (follow mode runs a pipeline per batch): support/loaded.py.
        self._tagger = load_once("topics", self._config, lambda: cached_tagger(self._config))

    def process(self, article: Article) -> Iterator[Article]:
        assert self._tagger is not None
        counter("topics_in").inc()
        if article.language is None:  # never detected: DetectLanguage did not run before
            counter("topics_no_language").inc()
        elif article.language not in SUPPORTED_LANGUAGES:
            counter("topics_no_language_support").inc()
        tagged = tag_topics(article, self._tagger)
        if tagged.topics:
            counter("topics_tagged").inc()
        yield tagged


class TagTopics(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article] with topics set, PCollection[Rejected]).

    Annotates, never filters: an article in an unsupported language gets no topics, nor
    does one whose language was never detected (run DetectLanguage before; counted as
    `topics_no_language`). Only an unexpected exception turns its article into a rejected
    row (`internal_error`).
    """

    def __init__(self, config: TopicsConfig | None = None) -> None:
        super().__init__()
        self._config = config or TopicsConfig()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(
            articles, "Tag", _TagTopics(self._config), STAGE, lambda a: a.source, Article
        )
