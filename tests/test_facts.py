"""support/facts.py: the names and numbers that tell two templated briefs apart (no Beam)."""

from __future__ import annotations

import os
import subprocess
import sys

import numpy as np

from newsbeam.transforms.dedup import DedupConfig, near_copy_similarity, shingle_hashes
from newsbeam.transforms.support.facts import (
    NO_FACTS,
    conflicting_share,
    fact_conflicts,
    fact_windows,
)

ADVISORY = (
    "The Met Office advises residents to check the latest forecast before travelling, to "
    "allow extra time for journeys, and to follow the advice of local authorities and "
    "emergency services. Further updates will be issued as the situation develops "
    "throughout the day and evening."
)
WEATHER = (
    "Weather warning for {town}: heavy rain is expected on {day}, with up to {rain} "
    "millimetres falling in some places and temperatures reaching {heat} degrees. " + ADVISORY
)
TICKER = (
    "{company} shares rose {change} per cent to {price} pounds in London trading on {day}, "
    "after the company reported quarterly revenue of {revenue} million pounds and said it "
    "expected full-year profit to be in line with market expectations. About the company: "
    "founded more than thirty years ago, the group serves customers in over forty countries "
    "and employs thousands of people worldwide. Its shares are listed on the main market."
)
STORY = (
    "Firefighters in Leeds spent the night tackling a blaze at a warehouse on Kirkstall Road, "
    "West Yorkshire Fire and Rescue Service said on Tuesday. Six crews attended and nobody "
    "was hurt, but the building's roof collapsed. Residents of nearby streets were told to "
    "keep their windows closed because of the smoke, and the road stayed shut until the "
    "afternoon. The cause of the fire is being investigated, a spokesman for the service "
    "said, and an update will follow once the site is safe to enter."
)


def _pair(first: str, second: str) -> float | None:
    config = DedupConfig()
    return near_copy_similarity(
        shingle_hashes(first, 5),
        shingle_hashes(second, 5),
        config,
        fact_windows(first),
        fact_windows(second),
    )


def test_templated_briefs_of_other_towns_and_companies_conflict() -> None:
    leeds = WEATHER.format(town="Leeds", day="Friday 4 June", rain=16, heat=9)
    york = WEATHER.format(town="York", day="Monday 7 June", rain=40, heat=14)
    acme = TICKER.format(
        company="Acme Group", change="2.1", price="45.10", day="Friday", revenue=606
    )
    globex = TICKER.format(
        company="Globex Corp", change="0.4", price="12.80", day="Monday", revenue=95
    )
    for first, second in ((leeds, york), (acme, globex)):
        # Without their facts compared, they were near copies (review 60).
        assert near_copy_similarity(
            shingle_hashes(first, 5), shingle_hashes(second, 5), DedupConfig()
        )
        assert conflicting_share(fact_windows(first), fact_windows(second)) >= 0.34
        assert _pair(first, second) is None


def test_copies_keep_their_facts() -> None:
    trimmed = STORY.rsplit(" The cause", 1)[0]
    edited = STORY.replace("said on", "says on").replace("nobody", "no one")
    rewrapped = "Advertisement\n\nLocal news\n\n" + STORY + "\n\nRead more: Yorkshire news"
    for copy in (trimmed, edited, rewrapped):
        conflicts, shared = fact_conflicts(fact_windows(copy), fact_windows(STORY))
        assert shared > 0 and conflicts == 0
        assert _pair(copy, STORY) is not None


def test_one_updated_fact_leaves_a_copy() -> None:
    # A republished story that corrected a weekday stays a copy of it: one slot of many.
    updated = STORY.replace("Tuesday", "Wednesday")
    assert 0 < conflicting_share(fact_windows(updated), fact_windows(STORY)) < 0.25
    assert _pair(updated, STORY) is not None


def test_texts_without_fact_windows_are_not_compared() -> None:
    plain = "the quick brown fox jumps over the lazy dog " * 5
    assert len(fact_windows(plain)) == 0
    assert fact_conflicts(fact_windows(STORY), NO_FACTS) == (0, 0)
    assert conflicting_share(NO_FACTS, NO_FACTS) == 0.0


def test_fact_windows_are_stable_and_sorted() -> None:
    windows = fact_windows(STORY)
    assert windows.dtype == np.uint64 and len(windows) > 0
    assert np.all(windows[:-1] < windows[1:])  # sorted, one value a distinct window
    # The state keeps them: the same values in every process (blake2b, fixed multipliers).
    script = (
        "from newsbeam.transforms.support.facts import fact_windows; import sys; "
        "sys.stdout.write(fact_windows(sys.stdin.read()).tobytes().hex())"
    )
    other = subprocess.run(
        [sys.executable, "-c", script],
        input=STORY,
        capture_output=True,
        text=True,
        check=True,
        env={**os.environ, "PYTHONHASHSEED": "123"},
    )
    assert other.stdout == windows.tobytes().hex()


# Texts whose words casefold in every way words.py knows: Latin, German "ß", Turkish "İ"
# (folds with a mark), Greek with U+0345 written apart (a mark that folds to a letter),
# full-width digits, Arabic, Hindi, Chinese, superscripts and fractions.
TRICKY = [
    STORY,
    TICKER.format(company="Acme", change="2.1", price="45.10", day="Friday", revenue="310"),
    "Die Straße in İstanbul: {n} kamen STRASSE und Straße zusammen, sagte Ǆemal Über.",
    "Ο Γιώργος είπε στην Αθήνα \u1f00\u0345 ᾳ α\u0345β ότι τα {n} πλοία έφτασαν την Τρίτη.",
    "Toyota sold ３４５ cars in Ｔｏｋｙｏ on day {n}, up ２．５％ from last year, it said.",
    "قال الرئيس في بغداد إن {n} وزراء إسرائيل وصلوا يوم الاثنين إلى العاصمة الأردنية عمّان.",
    "प्रधानमंत्री नरेंद्र मोदी ने {n} अगस्त को दिल्ली में कहा कि देश आगे बढ़ रहा है।",
    "央行宣布降准{n}个百分点，北京时间周一起生效，市场反应积极。",
    "The area is {n} km² and ½ of it, 3rd Street to A1 road, is owned by O'Neill_2 Ltd.",
]
# Long enough to be bucketed (dedup computes the facts of those only): the sentence eight
# times, each with its own number.
TRICKY = TRICKY[:2] + [" ".join(sentence.format(n=n) for n in range(8)) for sentence in TRICKY[2:]]


def test_one_tokenisation_gives_the_shingles_and_facts_of_two() -> None:
    """dedup tokenises and hashes a text once for its shingles and its fact windows
    (`text_words`): the values are those of the two apart, which the state keeps; where
    casefolding word by word would split otherwise (U+0345), the shingles' own words."""
    from newsbeam.transforms.dedup import _text_prints, minhash_signature
    from newsbeam.transforms.support.facts import text_words

    config = DedupConfig()
    for text in TRICKY:
        signature, shingles, facts = _text_prints(text, config)
        alone = shingle_hashes(text, config.shingle_words)
        assert shingles.tolist() == alone.tolist(), text
        assert signature.tolist() == minhash_signature(alone, config.bands * config.rows).tolist()
        assert len(shingles) >= config.min_shared_shingles, text  # bucketed
        assert facts.tolist() == fact_windows(text, config.shingle_words).tolist(), text
    # "α\u0345β" is one casefolded word ("αιβ") but two words in its own case.
    assert text_words("Και α\u0345β ήρθε")[1] is False
    assert text_words("Die Straße in Köln")[1] is True


def test_casefolding_keeps_word_characters_but_where_text_words_says() -> None:
    """text_words' condition, checked on every code point: casefolding a character gives
    word characters exactly when it was one (`\\w` is isalnum or "_"), but where the folded
    form has a mark (needs_script_words) and U+0345."""
    from newsbeam.transforms.support.words import needs_script_words

    def word(char: str) -> bool:
        return char.isalnum() or char == "_"

    exceptions = []
    for point in range(sys.maxunicode + 1):
        char = chr(point)
        folded = char.casefold()
        if folded and all(word(c) == word(char) for c in folded):
            continue
        if not needs_script_words(folded):
            exceptions.append(char)
    assert exceptions == ["\u0345"]


def test_word_kinds_and_hashes_remembered_are_those_computed() -> None:
    from newsbeam.transforms.support.facts import word_kind
    from newsbeam.transforms.support.hashing import Remembered, word_hash, word_hashes

    for text in TRICKY:
        for word in text.split():
            number = any(c.isdigit() for c in word)
            expected = 1 if number else 2 if word[:1].isupper() else 0
            assert word_kind(word) == expected, word
    words = ["b", "a", "b", "Straße", "straße", "٣", "½"]
    assert word_hashes(words).tolist() == [word_hash(w) for w in words]
    computed: list[str] = []
    remembered = Remembered(lambda w: computed.append(w) or len(w), most=2)
    assert [remembered[w] for w in ["ab", "ab", "c", "ab", "def"]] == [2, 2, 1, 2, 3]
    # Full after "ab" and "c": it starts again for "def" (a long-running process's bound).
    assert computed == ["ab", "c", "def"] and list(remembered) == ["def"]


def test_remembered_values_computes_each_new_word_once_in_order() -> None:
    """`Remembered.values_of` (review 79: the words a text brings new computed in one loop,
    not one `__missing__` call each) gives what a lookup per word gives, computes each new
    word once even when a text repeats it, and starts the table again when it is full."""
    from newsbeam.transforms.support.facts import fact_windows, folded_hashes
    from newsbeam.transforms.support.hashing import Remembered, word_hash

    computed: list[str] = []
    remembered = Remembered(lambda w: computed.append(w) or len(w), most=3)
    assert list(remembered.values_of(["ab", "ab", "c", "ab"])) == [2, 2, 1, 2]
    assert computed == ["ab", "c"]
    assert list(remembered.values_of(iter(["c", "def", "gh", "def"]))) == [1, 3, 2, 3]
    # "def" filled the table (3 words): "gh" started it again, which dropped "def" and "c"
    # of the same text; each is computed again, to the same value.
    assert computed == ["ab", "c", "def", "gh", "def", "c"]
    assert list(remembered.values_of([])) == []
    words = ["The", "the", "Straße", "STRASSE", "٣", "½", "The"]
    assert folded_hashes(words).tolist() == [word_hash(w.casefold()) for w in words]
    text = "Acme Group shares rose 2.1 per cent to 45.10 pounds on Friday in London trading."
    assert fact_windows(text).tolist() == fact_windows(text).tolist() != []
