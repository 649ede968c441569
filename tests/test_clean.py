"""Stage: clean. Unicode, site chrome, repeated paragraphs, identity."""

from __future__ import annotations

from pathlib import Path

import apache_beam as beam
import pytest
from apache_beam.testing.util import assert_that

from newsbeam.schemas import RawDocument, Removal
from newsbeam.transforms.clean import (
    CleanConfig,
    CleanText,
    article_id_for,
    chrome_reason,
    clean_article,
    clean_text,
    content_hash,
    count_words,
    normalize_unicode,
    remove_chrome,
    remove_repeated,
    with_identity,
)
from newsbeam.transforms.extract import extract_text_document, new_article
from tests.helpers import counters_of, make_test_pipeline


def _cleaned_seed(seeds_dir: Path, prefix: str):
    path = next(seeds_dir.glob(f"{prefix}_*.txt"))
    return clean_article(extract_text_document(RawDocument(str(path), "text", path.read_bytes())))


def test_normalize_unicode() -> None:
    raw = "Cafe\u0301 \u201cquoted\u201d \u2018it\u2019s\u2019\u00a0a\u200b soft\u00adhyphen\x07"
    # Quotes and apostrophes stay as written (review 70): the text is the page's words.
    assert normalize_unicode(raw) == "Café \u201cquoted\u201d \u2018it\u2019s\u2019 a softhyphen"
    assert normalize_unicode("a\r\nb\rc\td") == "a\nb\nc d"
    # A terminal's colour codes go whole (ESC alone left "[31m"); bidi overrides go.
    assert normalize_unicode("Red \x1b[31malert\x1b[0m now") == "Red alert now"
    assert normalize_unicode("file \u202egnp.exe\u202c, \u2067isolated\u2069") == (
        "file gnp.exe, isolated"
    )


def test_joiners_inside_a_word_survive() -> None:
    # Persian writes "می‌خواهد" with a zero-width non-joiner, Hindi's half forms and emoji
    # families need the joiner: they were dropped as invisible characters, changing the
    # spelling. Joiners beside a space (newsletter padding "&zwnj;&nbsp;") still go.
    persian = "دولت می\u200cخواهد هزینه\u200cها را کاهش دهد"
    assert normalize_unicode(persian) == persian
    hindi = "क्\u200dष \U0001f468\u200d\U0001f469\u200d\U0001f467"
    assert normalize_unicode(hindi) == hindi
    assert normalize_unicode("Hello\u200c\u00a0\u200c\u00a0world \u200c") == "Hello  world "
    # Compared without them: a copy typed without joiners is the same text, one word.
    assert content_hash(persian) == content_hash(persian.replace("\u200c", ""))
    cleaned = clean_article(new_article("fa.txt", text=f"{persian}. {persian}."))
    assert "\u200c" in cleaned.text and cleaned.word_count == 12


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        # Found by tests/test_properties.py (normalize_unicode twice changed its answer).
        ("a\u200c\x00 b", "a b"),  # the joiner beside a space once the NUL is gone
        ("caf\u200de\x07 b", "caf\u200de b"),  # beside a letter still: kept
        ("cafe\u200b\u0301", "caf\u00e9"),  # NFC again: "e" and its accent, apart, were not "é"
        ("cafe\x00\u0301 \ufeffe\u0308", "caf\u00e9 \u00eb"),
    ],
)
def test_normalize_unicode_is_idempotent_nfc(raw: str, expected: str) -> None:
    assert normalize_unicode(raw) == expected
    assert normalize_unicode(expected) == expected


def test_a_text_with_an_invisible_character_inside_a_letter_is_the_same_text() -> None:
    plain = "Le caf\u00e9 du village a rouvert ses portes apr\u00e8s trois ans de travaux."
    marked = plain.replace("\u00e9", "e\u200b\u0301")  # an invisible space before the accent
    assert clean_article(new_article("b.txt", text=marked)).text == plain
    assert content_hash(normalize_unicode(marked)) == content_hash(plain)


@pytest.mark.parametrize(
    ("paragraph", "reason"),
    [
        ("SEE MORE:", "related_links"),
        ("Read more: Why markets fell", "related_links"),
        ("Would you like to comment on this article?", "comment_prompt"),
        ("Please read our Comment Policy before commenting.", "comment_prompt"),
        ("Sign up (it's quick and free) or sign in now.", "signup_prompt"),
        ("Subscribe to our newsletter", "signup_prompt"),
        ("Newsletter signup", "signup_prompt"),
        ("Please wait...", "signup_prompt"),
        ("Thank you for sign up!", "signup_prompt"),
        ("Latest", "navigation"),
        ("Latest Videos", "navigation"),
        ("Image: Video obtained by Reuters", "caption"),
        ("Photo: Jane Doe/Example", "caption"),
        ("Reuters", "agency_line"),
        ("With AFP", "agency_line"),
        ("Reporting and writing by Dubai newsroom; editing by David Evans", "credits"),
        ("'Qatar leading talks to swap Hamas-held hostages for Palestinians'", "headline"),
        # Prose is never chrome, even when it mentions chrome words.
        ("The minister said voters should sign up to the register before May.", None),
        ('"We will keep talking," she said.', None),
        ("Latest figures show inflation fell to 2.1% in March, the lowest in three years.", None),
        ("Reuters reported that the talks would resume on Monday in Doha.", None),
    ],
)
def test_chrome_reason(paragraph: str, reason: str | None) -> None:
    assert chrome_reason(paragraph) == reason


@pytest.mark.parametrize(
    ("paragraph", "reason"),
    [
        # Chrome in other languages stayed in the text as story sentences.
        ("Lesen Sie auch: Was Fahrgäste jetzt über Erstattungen wissen müssen", "related_links"),
        ("LIRE AUSSI : Retraites, le gouvernement face à la colère", "related_links"),
        ("Читайте также: Как изменятся цены на транспорт", "related_links"),
        ("اقرأ أيضا: أسعار الذهب تسجل أعلى مستوى", "related_links"),
        ("קראו גם: מחירי הדיור ממשיכים לעלות", "related_links"),
        ("Baca juga: Daftar harga BBM terbaru", "related_links"),
        ("ये भी पढ़ें: दिल्ली में बारिश", "related_links"),
        ("相关阅读", "related_links"),
        ("関連記事", "related_links"),
        ("관련기사", "related_links"),
        ("Suscríbete a nuestro boletín", "signup_prompt"),
        ("Abonnieren Sie unseren Newsletter", "signup_prompt"),
        ("Подписывайтесь на наш канал в Telegram", "signup_prompt"),
        ("Kommentare (12)", "comment_prompt"),
        ("Anzeige", "navigation"),
        ("Reklama", "navigation"),
        ("Foto: dpa", "caption"),
        ("责任编辑：王明", "credits"),
        ("© 2026 Spiegel. Alle Rechte vorbehalten", "copyright"),
        ("Todos los derechos reservados.", "copyright"),
        # Review 93: Thai chrome, copyright lines opening with the notice, Chinese source,
        # original-title and share lines, Xinhua's end mark, "follow us" in Arabic.
        ("อ่านเพิ่มเติม: น้ำท่วมเชียงใหม่", "related_links"),
        ("ข่าวที่เกี่ยวข้อง", "related_links"),
        ("แชร์", "navigation"),
        ("โฆษณา", "navigation"),
        ("สงวนลิขสิทธิ์ 2569 บริษัท ข่าวตัวอย่าง จำกัด", "copyright"),
        ("تمامی حقوق محفوظ است.", "copyright"),
        ("کلیه حقوق مادی و معنوی این سایت محفوظ است", "copyright"),
        ("حقوق النشر محفوظة لشبكة مثال", "copyright"),
        ("<저작권자(c) 연합뉴스, 무단 전재-재배포, AI 학습 및 활용 금지>", "copyright"),
        ("저작권자 © 예시일보 무단전재 및 재배포 금지", "copyright"),
        ("版权所有 © 2026 示例新闻网", "copyright"),
        ("【责任编辑：王明】", "credits"),
        ("来源：新华社", "credits"),
        ("原标题：央行宣布降准", "credits"),
        ("分享到：微信 微博 QQ空间", "navigation"),
        ("（完）", "navigation"),
        ("이 기사를 공유합니다", "navigation"),
        ("تابعونا على تويتر", "navigation"),
        # Prose in those languages stays.
        ("ความคิดเห็นของประชาชนต่อนโยบายนี้แตกต่างกันไป", None),
        ("来源地区的官员表示，疫情已得到控制。", None),
        ("分享经济的规模持续扩大。", None),
        ("حقوق بشر در ایران محفوظ است؟ این پرسشی است که بسیاری مطرح می\u200cکنند", None),
        ("Die Gewerkschaft fordert mehr Lohn, sagte ihr Sprecher am Freitag.", None),
        ("Teilen die Parteien diese Sicht?", None),
        ("Werbung für Zigaretten ist seit Jahren verboten.", None),
        ("Más información sobre el caso se conocerá mañana.", None),
        ("编辑部表示将继续关注。", None),
    ],
)
def test_chrome_reason_in_other_languages(paragraph: str, reason: str | None) -> None:
    assert chrome_reason(paragraph) == reason


@pytest.mark.parametrize(
    ("paragraph", "reason"),
    [
        # A site's cookie notice stayed in the text (and in shingles and topics) in every
        # language, English too; a newsletter prompt as German and Portuguese sites word it
        # too (review 71).
        ("We use cookies to improve your experience. By continuing to browse, you agree to "
         "our use of cookies.", "cookie_notice"),
        ("This website uses cookies to ensure you get the best experience.", "cookie_notice"),
        ("Utilizamos cookies propias y de terceros para mejorar nuestros servicios. Si "
         "continúa navegando, consideramos que acepta su uso.", "cookie_notice"),
        ("Este sitio web utiliza cookies para que usted tenga la mejor experiencia de "
         "usuario.", "cookie_notice"),
        ("Este site utiliza cookies para melhorar a sua experiência de navegação. Ao "
         "continuar está a aceitar a sua utilização.", "cookie_notice"),
        ("Questo sito utilizza cookie tecnici e di profilazione. Chiudendo questo banner "
         "acconsenti all'uso dei cookie.", "cookie_notice"),
        ("Ce site utilise des cookies pour améliorer votre expérience de navigation.",
         "cookie_notice"),
        ("Wir verwenden Cookies, um Ihnen ein optimales Webseiten-Erlebnis zu bieten.",
         "cookie_notice"),
        ("Deze website maakt gebruik van cookies. Door verder te gaan op deze website gaat "
         "u akkoord met het gebruik van cookies.", "cookie_notice"),
        ("Melden Sie sich für unseren Newsletter an und erhalten Sie jeden Morgen die "
         "wichtigsten Nachrichten.", "signup_prompt"),
        ("Jetzt zum Newsletter anmelden", "signup_prompt"),
        ("Subscreva a nossa newsletter e receba as principais notícias.", "signup_prompt"),
        ("Assine a nossa newsletter", "signup_prompt"),
        ("Meld je aan voor onze nieuwsbrief", "signup_prompt"),
        # Reporting about cookies or newsletters is prose.
        ("Google said it would stop using third-party cookies in Chrome next year.", None),
        ("Die Datenschutzbehörde prüft, ob die Website Cookies ohne Zustimmung setzt.", None),
        ("El ministerio dijo que utilizamos demasiados datos personales sin control.", None),
        ("Wir verwenden das Geld für neue Schulen, sagte der Bürgermeister.", None),
    ],
)  # fmt: skip
def test_cookie_notices_and_newsletter_prompts_in_each_language(
    paragraph: str, reason: str | None
) -> None:
    assert chrome_reason(paragraph) == reason


def test_a_chinese_paragraph_after_a_related_header_is_no_link() -> None:
    # A link list ends at a sentence: "。" ends one as "." does (the story's paragraph
    # after "相关阅读" was taken for a linked headline).
    story = "分析人士指出，今年以来国内消费需求恢复缓慢，货币政策有必要进一步加大调节力度。"
    kept, removed = remove_chrome(["中国人民银行周五宣布下调存款准备金率。", "相关阅读", story])
    assert kept == ["中国人民银行周五宣布下调存款准备金率。", story]
    assert [r.reason for r in removed] == ["related_links"]


def test_related_link_list_under_see_more() -> None:
    paragraphs = [
        "The last real paragraph of the story ends here.",
        "SEE MORE:",
        "DNA and prayers: Israelis desperate for word on missing kin",
        "WATCH | Trance music festival attacked",
        "Would you like to comment on this article?",
        "A new paragraph that is a sentence, so the list has ended.",
    ]
    kept, removed = remove_chrome(paragraphs)
    assert kept == [paragraphs[0], paragraphs[-1]]
    assert [r.reason for r in removed] == [
        "related_links",
        "related_links",
        "related_links",
        "comment_prompt",
    ]


def test_quoted_headline_is_chrome_only_beside_chrome() -> None:
    story = "The minister spoke for an hour about the new budget and its critics."
    headline = "'Qatar leading talks to swap Hamas-held hostages for Palestinians'"
    kept, removed = remove_chrome(["Reuters", headline, "Image: Video obtained by Reuters"])
    assert kept == [] and [r.reason for r in removed] == ["agency_line", "headline", "caption"]
    subheading = '"Der zweite Papst aus Amerika"'
    kept, removed = remove_chrome([story, subheading, story])
    assert kept == [story, subheading, story] and removed == []


def test_remove_repeated_keeps_first_copy() -> None:
    # A run captured again (the seeds' body twice) and a copy right under its original go.
    kept, removed = remove_repeated(["A b.", "C d.", "E f.", "a  B!", "C d.", "G h.", "G h."])
    assert kept == ["A b.", "C d.", "E f.", "G h."]
    assert [r.text for r in removed] == ["a  B!", "C d.", "G h."]
    specs = ["Jacket one", "- Fill: Synthetic", "Jacket two", "- Fill: Synthetic", "| 1 | 2 |"]
    assert remove_repeated([*specs, "| 1 | 2 |"]) == ([*specs, "| 1 | 2 |"], [])


def test_clean_text_drops_title_repeat_and_collapses_whitespace() -> None:
    text, removed = clean_text("My  Title\n\nBody   line\none.\n\n\n\nSecond.", title="My title")
    assert text == "Body line one.\n\nSecond."
    assert removed[0].reason == "title"
    # A one-sentence brief whose headline is its whole text keeps it (it was rejected as
    # no_text: 51 of the 773 ECB+ records).
    brief = "Lindsay Lohan checks into rehab at Betty Ford clinic, her lawyer says."
    assert clean_text(brief, title=brief) == (brief, [])


def test_a_title_copy_under_opening_chrome_goes_too() -> None:
    # Found by tests/test_properties.py: cleaning the clean text again removed the title,
    # which the chrome before it had hidden from the title rule.
    title = "Storm floods the old town of Berlin"
    page = f"Advertisement\n\nShare this article\n\n{title}\n\nThe river rose overnight."
    text, removed = clean_text(page, title)
    assert text == "The river rose overnight."
    assert [r.reason for r in removed] == ["title", "navigation", "navigation"]
    assert clean_text(text, title) == (text, [])
    # A title copy further down is the text's, as before (chrome in the middle changes
    # nothing at the top).
    middle = f"The river rose overnight.\n\nAdvertisement\n\n{title}"
    assert clean_text(middle, title)[0] == f"The river rose overnight.\n\n{title}"


def test_a_footer_above_a_repeat_goes_too() -> None:
    """Review 104: a feed entry ending in its footer and then a repeat of an earlier
    paragraph kept the footer (the footer step ran before the repeat went), and cleaning
    the clean text again removed it. The steps now run until a pass removes nothing."""
    title = "Storm floods the old town of Berlin"
    lead = "The river rose overnight and reached the market square by dawn."
    body = "The council met on Monday and voted to rebuild the bridge."
    footer = f"The post {title} appeared first on Example News."
    text, removed = clean_text(f"{lead}\n\n{body}\n\n{footer}\n\n{lead}", title)
    assert text == f"{lead}\n\n{body}"
    assert removed == [Removal(footer, "title_footer"), Removal(lead, "repeated")]
    assert clean_text(text, title) == (text, [])


def test_footers_go_to_the_end_of_their_run_and_removals_keep_their_order() -> None:
    # Two footers (a blog's "Read ... on ...", then WordPress's) go in one step, in the
    # text's order; a footer that would leave nothing stays, as a title copy does.
    title = "Storm floods the old town of Berlin"
    body = "The council met on Monday and voted to rebuild the bridge."
    footers = [f"Read {title} on Example's blog.", f"The post {title} appeared first on X."]
    text, removed = clean_text("\n\n".join([body, *footers]), title)
    assert (text, removed) == (body, [Removal(line, "title_footer") for line in footers])
    assert clean_text("\n\n".join(footers), title)[0] == footers[0]
    # Chrome above the title's copy, a footer above a repeat: each step's removals
    # together, steps in their order (title, chrome, footer, repeats), whatever the pass.
    page = f"Advertisement\n\n{title}\n\n{body}\n\n{footers[1]}\n\n{body}"
    text, removed = clean_text(page, title)
    assert text == body
    assert [r.reason for r in removed] == ["title", "navigation", "title_footer", "repeated"]


def test_an_untitled_text_is_cleaned_with_the_headline_it_gets_as_title() -> None:
    """Review 104: a text without a title takes a quoted headline beside chrome as its
    title; the unquoted copy of it under the chrome stayed, and cleaning the stored record
    (text and title) again removed it and gave the URL-less article another id."""
    headline = "Storm floods the old town of Berlin"
    body = "The river rose overnight and reached the market square by dawn, officials said."
    raw = new_article("x.txt", text=f'Advertisement\n\n"{headline}"\n\n{headline}\n\n{body}')
    once = clean_article(raw)
    assert (once.title, once.text) == (headline, body)
    assert [r.reason for r in once.removed] == ["navigation", "headline", "title"]
    again = clean_article(once._replace(removed=[]))
    assert (again.text, again.title, again.article_id) == (body, headline, once.article_id)
    assert again.removed == []


def test_seed_001_each_paragraph_once_and_no_chrome(seeds_dir: Path) -> None:
    article = _cleaned_seed(seeds_dir, "001")
    paragraphs = article.text.split("\n\n")
    assert len(paragraphs) == len(set(paragraphs)) == 4
    for chrome in ("SEE MORE", "Would you like to comment", "Sign up", "Latest Videos",
                   "Image:", "Comment Policy", "Latest"):  # fmt: skip
        assert chrome not in article.text
    assert article.title == (
        "Qatar leading talks to swap Hamas-held hostages for Palestinians in Israeli jails"
    )
    reasons = {r.reason for r in article.removed}
    assert {"repeated", "related_links", "comment_prompt", "signup_prompt"} <= reasons


def test_seed_003_newsletter_chrome(seeds_dir: Path) -> None:
    article = _cleaned_seed(seeds_dir, "003")
    for chrome in ("Subscribe to our newsletter", "Newsletter signup", "Please wait",
                   "Thank you for sign up!", "With AFP"):  # fmt: skip
        assert chrome not in article.text
    assert article.text.endswith("State Department spokesman Vedant Patel said.")


def test_seed_000_credits_and_caption(seeds_dir: Path) -> None:
    article = _cleaned_seed(seeds_dir, "000")
    assert "Reporting and writing by" not in article.text
    assert "REUTERS TV" not in article.text
    assert [r.reason for r in article.removed] == ["image", "caption", "credits"]


def test_identity() -> None:
    assert content_hash("Hello, World!") == content_hash("hello world")
    assert content_hash("hello world") != content_hash("hello there world")
    by_url = article_id_for("https://example.com/a", content_hash("x"))
    assert by_url == article_id_for("https://example.com/a", content_hash("other text"))
    assert article_id_for(None, content_hash("x")) != article_id_for(None, content_hash("y"))


def test_clean_article_does_not_mutate_input(seeds_dir: Path) -> None:
    path = next(seeds_dir.glob("001_*.txt"))
    raw = extract_text_document(RawDocument(str(path), "text", path.read_bytes()))
    before = raw.text
    cleaned = clean_article(raw)
    assert raw.text == before and cleaned is not raw and cleaned.article_id


def test_clean_text_composite_rejects_short_and_empty() -> None:
    articles = [
        new_article("long.txt", text="word " * 30),
        new_article("short.txt", text="Only four words here."),
        new_article("chrome.txt", text="SEE MORE:\n\nLatest Videos"),
        new_article("emoji.txt", text="\U0001f525\U0001f525 !!! \u2605\u2605\u2605"),
        new_article("zh.txt", text="央行宣布降准。"),
    ]

    def check_kept(kept: list) -> None:
        assert [(a.source, a.word_count) for a in kept] == [("long.txt", 30)]

    def check_rejected(rejected: list) -> None:
        assert sorted((r.source, r.stage, r.reason) for r in rejected) == [
            ("chrome.txt", "clean", "no_text"),
            ("emoji.txt", "clean", "no_text"),
            ("short.txt", "clean", "too_short"),
            ("zh.txt", "clean", "too_short"),
        ]
        details = {r.source: r.detail for r in rejected}
        # A character counted as a word says so ("6 words" of one Chinese clause read wrong).
        assert details["short.txt"] == "4 words < min_words 10"
        assert details["zh.txt"] == (
            "6 words < min_words 10 (a character of Chinese, Japanese, Thai, ... counts as a word)"
        )
        assert details["chrome.txt"] == "nothing left after removing boilerplate"
        # It had no word to remove (it said it lost them to boilerplate).
        assert details["emoji.txt"] == "no words in the text (only symbols, emoji or punctuation)"

    with make_test_pipeline() as pipeline:
        kept, rejected = pipeline | beam.Create(articles) | CleanText(CleanConfig(min_words=10))
        assert_that(kept, check_kept, label="CheckKept")
        assert_that(rejected, check_rejected, label="CheckRejected")
    counters = counters_of(pipeline)
    assert counters["clean_in"] == 5 and counters["clean_out"] == 1
    assert counters["clean_dropped_too_short"] == 2
    assert counters["clean_removed_navigation"] == 1


def test_clean_articles_hash_the_fold_of_their_clean_text() -> None:
    """clean_article hashes its paragraphs' folded forms joined (folded once, to compare
    repeats): the same string as fold() of the whole clean text, whatever the characters."""
    from newsbeam.transforms.clean import fold
    from newsbeam.transforms.support.words import casefolded_words, needs_script_words

    bodies = [
        "Straße ÉCOLE İstanbul ǅemal.\n\nSame paragraph.\n\nSame   paragraph!\n\n***\n\n- a\n\n- a",
        "ﬁnal ΣΊΣΥΦΟΣ — “quoted” text_with_underscores 12,5 %\n\n\u00a0\n\nNext: ½ ² three.",
        "Title line\n\nTitle line\n\nBody one two three four five six seven eight nine ten.",
    ]
    for body in bodies:
        article = clean_article(new_article("x.txt", title="Title line", text=body))
        assert article.content_hash == content_hash(article.text)
        # Its words are those of the fold, but where that splits words ("İ" folds to "i" and
        # a combining dot): then those of support/words.py, "i̇stanbul" one word.
        folded = fold(article.text)
        assert article.word_count == len(casefolded_words(article.text))
        if not needs_script_words(article.text):
            assert article.word_count == (folded.count(" ") + 1 if folded else 0)
    assert fold("İstanbul").split() == ["i", "stanbul"]  # the fold's words, not the count
    assert count_words("İstanbul", fold("İstanbul")) == 1


@pytest.mark.parametrize("words", [39, 40, 41, 60])
def test_chrome_needs_few_words_however_spaced(words: int) -> None:
    """Only paragraphs of at most 40 words (any whitespace between them) are chrome; a
    prompt or a link, at most 25 (review 109)."""
    paragraph = "Copyright 2024" + "".join(f"\u2005w{i}" for i in range(words - 2)) + " \u2005"
    assert (chrome_reason(paragraph) == "copyright") == (words <= 40)
    prompt = "Subscribe now" + "".join(f"\u2005w{i}" for i in range(words - 16)) + " \u2005"
    assert (chrome_reason(prompt) == "signup_prompt") == (words - 14 <= 25)


def test_line_and_paragraph_separators_are_breaks_not_glue() -> None:
    # U+2028/U+2029, NEL, vertical tab and form feed separate lines (Word exports, PDF
    # text); dropped as control characters they glued words ("Thirdsaid"), kept they
    # stayed invisible inside a paragraph.
    assert normalize_unicode("a\u2028b") == "a\nb"
    assert normalize_unicode("a\u2029b") == "a\n\nb"
    assert normalize_unicode("a\x85b\x0bc\x0cd") == "a\nb\nc\nd"
    text, _ = clean_text("First para\u2028on Tuesday.\u2029Second\x0csaid it.\x85Third.")
    assert text == "First para on Tuesday.\n\nSecond said it. Third."


@pytest.mark.parametrize(
    ("paragraph", "reason"),
    [
        ("Additional reporting by Idrees Ali in Washington; Editing by Howard Goller", "credits"),
        ("Compiled by Jane Doe", "credits"),
        ("Share on Facebook", "navigation"),
        ("Share via Email", "navigation"),
        ("Copyright 2024 The Associated Press. All rights reserved.", "copyright"),
        ("\u00a9 2024 Example News Ltd", "copyright"),
        # Story sentences that begin like a credit or a copyright line are prose.
        (
            "Reporting by The Guardian last year showed that the transit agency had "
            "underspent its maintenance budget for five consecutive years.",
            None,
        ),
        ("Compiled by the statistics office, the figures show that unemployment rose.", None),
        ("Copyright lawyers said the ruling would change how songs are licensed.", None),
        ("Share prices fell on Monday after the announcement.", None),
    ],
)
def test_credits_share_and_copyright_lines(paragraph: str, reason: str | None) -> None:
    assert chrome_reason(paragraph) == reason


def test_with_identity_fills_what_cleaning_sets_and_keeps_what_is_there() -> None:
    text = "Officials said the plan would be reviewed again in the spring, when figures come."
    cleaned = clean_article(new_article("a.txt", text=text))
    raw = new_article("a.txt", text=text)
    filled = with_identity(raw)
    assert (filled.article_id, filled.content_hash, filled.word_count) == (
        cleaned.article_id,
        cleaned.content_hash,
        cleaned.word_count,
    )
    assert with_identity(cleaned) is cleaned
    own = raw._replace(article_id="mine")
    assert with_identity(own).article_id == "mine"


def test_clean_text_composite_stops_a_text_at_the_time_limit() -> None:
    # Review 55: only HTML extraction had a time limit; cleaning a hostile text within
    # --max_document_bytes (a million short paragraphs) ran for as long as it took.
    hostile = "\n\n".join(f"w{n} x" for n in range(600_000))  # ~4 s to clean
    articles = [
        new_article("long.txt", text="word " * 30),
        new_article("hostile.txt", text=hostile),
    ]

    def check_kept(kept: list) -> None:
        assert [a.source for a in kept] == ["long.txt"]

    def check_rejected(rejected: list) -> None:
        assert [(r.source, r.stage, r.reason) for r in rejected] == [
            ("hostile.txt", "clean", "time_limit")
        ]
        assert rejected[0].detail.startswith("cleaning stopped at the time limit, 0.3 s a text")

    config = CleanConfig(min_words=10, max_seconds=0.3)
    with make_test_pipeline() as pipeline:
        kept, rejected = pipeline | beam.Create(articles) | CleanText(config)
        assert_that(kept, check_kept, label="CheckKept")
        assert_that(rejected, check_rejected, label="CheckRejected")
    counters = counters_of(pipeline)
    assert counters["clean_time_limit"] == 1 and counters["clean_dropped_time_limit"] == 1


def test_a_title_with_a_rubric_or_site_beside_it_is_a_copy_of_it() -> None:
    """A first paragraph that is the title but for a rubric or a site name beside it stayed
    at the top of the text (fundus and AEB pages: "Opinion | Is Football Violence a
    Crime?" over "Is Football Violence a Crime?", "... | wdr aktuell", "...--时政--人民网");
    a lead that opens with the headline's place or words is no copy."""
    from newsbeam.transforms.clean import repeats_title

    copies = [
        ("Is Football Violence a Crime?", "Opinion | Is Football Violence a Crime?"),
        ("Orden fürs Morden", "Nationaler Veteranentag: Orden fürs Morden"),
        ("Feuerwehrleute sollen später in Pension | wdr aktuell",
         "Feuerwehrleute sollen später in Pension"),
        ("促进航天技术更好惠及人民――中拉深化航天合作",
         "促进航天技术更好惠及人民――中拉深化航天合作--时政--人民网"),
    ]  # fmt: skip
    for paragraph, title in copies:
        assert repeats_title(paragraph, title), paragraph
    others = [
        ("BERLIN - The government said on Monday that it would raise taxes.", "Berlin: taxes"),
        ("Ukraine", "Ukraine: what we know so far about the war"),
        ("Paris - Le gouvernement a annoncé lundi", "Paris - Le gouvernement a annoncé lundi une "
         "hausse des impôts de dix pour cent pour les plus riches"),
    ]  # fmt: skip
    for paragraph, title in others:
        assert not repeats_title(paragraph, title), paragraph


def test_a_page_whose_headline_is_written_twice_loses_both_copies() -> None:
    """End to end through extraction and CleanText: a page writing its headline twice (a
    header's and the print edition's <h1>, as Börsen-Zeitung's pages do) kept the second
    copy as its first paragraph; a record titled with its rubric kept the headline."""
    import json

    from newsbeam.transforms.extract import ExtractConfig, extract_document

    body = "".join(
        f"<p>Paragraph {n} of the story says what the council decided about the harbour "
        f"and the ferries on Monday, and what it will cost the islands' residents.</p>"
        for n in range(1, 6)
    )
    page = (
        "<html><title>Wero passes its test</title><body><article><h1>Wero passes its test</h1>"
        f" <h1 class='print'>Wero passes its test</h1>{body}</article></body></html>"
    )
    record = {
        "title": "Opinion | Is Football Violence a Crime?",
        "text": "Is Football Violence a Crime?\n\n"
        + body.replace("<p>", "").replace("</p>", "\n\n"),
    }
    documents = [
        RawDocument("twice.html", "html", page.encode()),
        RawDocument("rubric.jsonl#L1", "jsonl", json.dumps(record).encode()),
    ]
    pages = [document.source for document in documents]
    articles = [extract_document(document, ExtractConfig()) for document in documents]

    def check(cleaned) -> None:
        assert {a.source: a.text.split("\n\n")[0] for a in cleaned} == dict.fromkeys(
            pages, "Paragraph 1 of the story says what the council decided about the harbour "
            "and the ferries on Monday, and what it will cost the islands' residents."
        )  # fmt: skip

    with make_test_pipeline() as pipeline:
        kept, _ = pipeline | beam.Create(articles) | CleanText()
        assert_that(kept, check)
    assert counters_of(pipeline)["clean_removed_title"] == 3


def test_a_caption_closed_by_its_credit_and_a_copyright_sign_with_its_holder_are_chrome() -> None:
    """Captions whose credit closes them ("... Regionalverkehr. Bild: Maximilian von
    Lachner" on FAZ, "... Foto: NTB" on Dagbladet, "(Image credit: Future)" in feeds) and
    copyright lines with a holder and no year ("© Reuters", "© dpa-infocom, dpa:...") stayed
    in the text as story paragraphs. A sentence about a picture, code naming an image and
    an enumeration's "(c)" stay."""
    chrome = {
        "Los geht's: Von Montag an für 49 Euro im Nahverkehr. Bild: Maximilian von Lachner":
            "caption",
        "Solskjær skal være høyaktuell for Manchester United. Foto: NTB": "caption",
        "The grand staircase at Regent Hong Kong (Image credit: Regent Hong Kong)": "caption",
        "© Reuters": "copyright",
        "© dpa-infocom, dpa:240516-99-53606/3 (dpa)": "copyright",
        "Copyright © AFP 2017-2026. Für die kommerzielle Nutzung ist ein Abo nötig.":
            "copyright",
    }  # fmt: skip
    assert {paragraph: chrome_reason(paragraph) for paragraph in chrome} == chrome
    for prose in (
        "He showed me the photo: a man standing on a bridge.",
        "The museum lent the image: it is now on show in Paris until May",
        'grafana: image: grafana/otel-lgtm ports: - "3000:3000"',
        "func updateImage(_ image: CGImage?) { render() }",
        "(c) the third point of the contract, which the court read as binding",
    ):
        assert chrome_reason(prose) is None, prose

    text = "\n\n".join(
        ["The council voted on Monday to open the new ferry terminal next spring, it said."]
        + list(chrome)
        + ["Residents will pay the same fares as before, the harbour authority added today."]
    )
    article = new_article("caption.txt", text=text)

    def check(cleaned) -> None:
        (article,) = cleaned
        assert article.text.split("\n\n") == [text.split("\n\n")[0], text.split("\n\n")[-1]]

    with make_test_pipeline() as pipeline:
        kept, _ = pipeline | beam.Create([article]) | CleanText()
        assert_that(kept, check)
    counters = counters_of(pipeline)
    assert (counters["clean_removed_caption"], counters["clean_removed_copyright"]) == (3, 3)


def test_a_closing_footer_naming_the_title_is_removed() -> None:
    """WordPress feeds end every entry with "The post <title> appeared first on <site>." in
    the site's language (200 of the fixture feeds' entries): it stayed in the text. A
    closing sentence that ends with the title's words, or is the title, stays."""
    from newsbeam.transforms.clean import names_title_in_footer

    title = "Kreatives Marketing – warum macht die Dönerbude mehr Umsatz?"
    footers = [
        f"Der Beitrag {title} erschien zuerst auf ninaklose.de.",
        f"The post {title} appeared first on Loud And Quiet.",
        f"Artykuł {title} pochodzi z serwisu OpenStreetMap Polska.",
    ]
    assert all(names_title_in_footer(footer, title) for footer in footers)
    closing = [
        f"I hope this post helps you: {title}",
        title,
        f"In the end {title} is a question every shop owner in the town asks, and the "
        "answer depends on the street, the rent and the hours it keeps open.",
    ]
    assert not any(names_title_in_footer(line, title) for line in closing)
    assert not names_title_in_footer("The post Short one appeared first on X.", "Short one")
    body = "The shop sold twice as much after it changed its sign and its opening hours."
    text, removed = clean_text(f"{body}\n\n{footers[0]}", title=title)
    assert (text, removed) == (body, [Removal(footers[0], "title_footer")])


def test_arabic_presentation_forms_are_the_letters() -> None:
    """Review 93: Arabic written in presentation forms (each letter's contextual glyph, as
    PDF exports and old sites write it) shared no word with the same text in letters, and
    langdetect said `und`. They are the letters now (NFKC's mapping of those blocks)."""
    from newsbeam.transforms.language import LanguageConfig, detect_language
    from newsbeam.transforms.language import load_detector_factory as factory

    letters = (
        "اتفقت مجموعة أوبك+ في اجتماعها الذي عقد عبر الإنترنت يوم الخميس على تمديد "
        "التخفيضات الطوعية لإنتاج النفط حتى نهاية شهر مارس المقبل"
    )
    # Each letter as its isolated glyph, and "الله" as its ligature.
    glyphs = "".join(
        {"ا": "\ufe8d", "ت": "\ufe95", "ف": "\ufed1", "ق": "\ufed5", "م": "\ufee1"}.get(c, c)
        for c in letters
    )
    assert glyphs != letters and normalize_unicode(glyphs) == letters
    assert normalize_unicode("\ufdf2") == "الله"
    cleaned = clean_text(glyphs)[0]
    assert content_hash(cleaned) == content_hash(letters)
    assert detect_language(cleaned, LanguageConfig(), factory(0))[0] == "ar"


def test_typesetting_ligatures_are_spelled_out() -> None:
    """A PDF's or e-book's "ﬁll" and "Veriﬁer" (three in the fixture feeds) stayed with
    their ligature: the words matched no other spelling of them (dedup, topics, a
    tokenizer). Only the Latin ligatures are spelled out, not NFKC's other mappings."""
    assert normalize_unicode("to \ufb01ll the Veri\ufb01er\u2019s o\ufb03ce, 5 m\u00b2 \u00bd") == (
        "to fill the Verifier\u2019s office, 5 m\u00b2 \u00bd"
    )
    first, second = (
        "The processor will try to \ufb01ll entire cache lines, the o\ufb03ce said on Monday.",
        "The processor will try to fill entire cache lines, the office said on Monday.",
    )
    assert content_hash(clean_text(first)[0]) == content_hash(second)


def test_typographic_quotes_stay_in_the_text_and_match_as_ascii() -> None:
    """Review 70: quotes and apostrophes were folded to ASCII in the stored text, so a
    corpus lost the page's „...“, «...» and "’". They stay; chrome phrases, quoted
    headlines, content hashes and word counts read them as ASCII, as before."""
    typographic = (
        "Die Ministerin sagte: \u201eWir geben nicht auf\u201c, und \u00abc\u2019est fini\u00bb"
        " hie\u00df es in Paris. It\u2019s the \u2018best\u2019 day, he said."
    )
    ascii_copy = typographic.translate(
        str.maketrans("\u201e\u201c\u00ab\u00bb\u2019\u2018", '""""\'\'')
    )
    quoted = "\u201cQatar leading talks to swap hostages for prisoners\u201d"
    chrome = ["Sign up (it\u2019s quick and free)", quoted, "Reuters"]
    article = clean_article(new_article("quotes.txt", text="\n\n".join([typographic, *chrome])))
    assert article.text == typographic
    assert [(r.text, r.reason) for r in article.removed] == [
        ("Sign up (it\u2019s quick and free)", "signup_prompt"),
        (quoted, "headline"),
        ("Reuters", "agency_line"),
    ]
    assert article.title == "Qatar leading talks to swap hostages for prisoners"
    copy = clean_article(new_article("copy.txt", text=ascii_copy))
    assert copy.content_hash == article.content_hash
    assert copy.word_count == article.word_count


def test_copyright_phrases_and_credits_match_as_before_their_lookaheads() -> None:
    """The copyright phrases' pattern tests their first characters before trying them, and
    the caption's credit looks for its colon or slash first (review 79, CPU): each phrase
    still ends a copyright line in any case, after any words and with or without its full
    stop, and a credit after a line break still closes a caption."""
    from newsbeam.transforms.clean import _COPYRIGHT_PHRASES

    # As a site writes them (two are patterns: an optional part; room for a site's name).
    phrases = [
        p.replace("( undang-undang)?", "").replace(".{0,60}", " ") for p in _COPYRIGHT_PHRASES
    ]
    phrases.append("hak cipta dilindungi undang-undang")
    for phrase in phrases:
        for line in (phrase, f"{phrase}.", f"© 2026 Ein Verlag. {phrase.upper()}", f"x{phrase}"):
            assert chrome_reason(line) == "copyright", line
        assert chrome_reason(f"{phrase} sagte der Verlag am Freitag, als er klagte") is None
    assert chrome_reason("Ein Bild vom Hafen\nFoto: NTB") == "caption"
    assert chrome_reason("Ein Bild vom Hafen. Foto / dpa") == "caption"
    assert chrome_reason("Ein Bild vom Hafen. Foto dpa") is None


def test_every_special_character_is_found_by_the_quick_scan() -> None:
    """normalize_unicode returns a text without any character a special sequence starts
    with as it is, after one scan (review 79, CPU): each replaced, dropped or control
    character, alone and inside a text, is still replaced as before."""
    from newsbeam.transforms.clean import _CHAR_REPLACEMENTS

    assert normalize_unicode("Plain text, «quoted», naïve: 42 €.") == (
        "Plain text, «quoted», naïve: 42 €."
    )
    for char, replacement in _CHAR_REPLACEMENTS.items():
        assert normalize_unicode(f"a{char}b") == f"a{replacement}b", repr(char)
    for code in [*range(0x00, 0x09), *range(0x0B, 0x20), *range(0x7F, 0xA0)]:
        expected = "a\nb" if chr(code) in "\x0b\x0c\x85\r" else "ab"
        assert normalize_unicode(f"a{chr(code)}b") == expected, hex(code)
    assert normalize_unicode("x \u200c\u200dy\u200cz") == "x y\u200cz"


# --- Review 109: what cleaning removed that was the article ----------------------------


def test_a_paragraph_the_article_repeats_stays() -> None:
    """Every later copy of a paragraph went as `repeated`: of AEB's 232 repeat removals, 230
    were paragraphs the gold article holds again (an interview putting the same questions
    to each cook, a meal plan's labels under each day). A copy alone among new paragraphs,
    or one of a paragraph written three times or more, is the text's own; a body or a
    lead captured again (a run of copies) and a sentence written once more (a pull quote)
    still go."""
    question = "What inspired you to start cooking for your readers?"
    answers = [
        "Anna: My grandmother, who cooked for twelve every Sunday.",
        "Boris: A winter in Tbilisi and its bakeries.",
        "Clara: The market under my flat, which opens at six.",
    ]
    interview = [p for answer in answers for p in (question, answer)]
    assert remove_repeated(interview) == (interview, [])
    assert remove_repeated(["Meal 1", "Oats", "Meal 1", "Eggs"]) == (
        ["Meal 1", "Oats", "Meal 1", "Eggs"],
        [],
    )
    # Written twice, the second copy alone: a short question or label stays ...
    assert remove_repeated(["Why now?", "Because.", "Why now?", "Rain."])[1] == []
    # ... a sentence of six words or more is a pull quote and goes.
    pulled = "Only nine of these pairs have been matched so far."
    story = [pulled, "The bills were printed in 2013.", pulled, "Check your wallet."]
    assert remove_repeated(story) == (
        [pulled, "The bills were printed in 2013.", "Check your wallet."],
        [Removal(pulled, "repeated")],
    )
    # Right under its original, any copy goes (a stutter of the page's markup).
    assert remove_repeated(["Why now?", "Why now?", "Rain."])[0] == ["Why now?", "Rain."]


def test_a_lead_the_title_was_cut_from_is_no_title_copy() -> None:
    """A text titled with its own first words cut short ("... diagnosed with the pne", a
    feed entry without a headline) lost its whole lead as a title copy when a clause of it
    matched the title's (syndicated-dev: 4 leads). A title with a site or rubric after a
    separator is still a copy."""
    from newsbeam.transforms.clean import repeats_title

    lead = (
        "A case of the bubonic plague was reported in China over the weekend — after two "
        "people there were diagnosed with the pneumonic plague last week."
    )
    title = lead[:120]
    assert not repeats_title(lead, title)
    body = "Both diseases are associated with the Black Death."
    text, removed = clean_text(f"{lead}\n\n{body}", title)
    assert (text, removed) == (f"{lead}\n\n{body}", [])
    headline = "Feuerwehrleute sollen später in Pension"
    assert repeats_title(f"{headline} | wdr aktuell", headline)
    assert repeats_title(title, title)


def test_a_related_link_carrying_its_headline_opens_no_list() -> None:
    """ "Read more: <headline>" is the whole link: the line under it is the story's own (the
    Mirror's subheadings, Hamburger Abendblatt's next paragraph went as links). A bare header
    ("SEE MORE:", "Related") still opens a list of links."""
    link = "Read more: Plymouth protests erupt in violence as multiple people are injured"
    subheading = "Bus routes changed to avoid potential trouble in Plymouth"
    story = "A number of routes were changed or cancelled earlier this afternoon."
    kept, removed = remove_chrome([link, subheading, story])
    assert kept == [subheading, story]
    assert removed == [Removal(link, "related_links")]
    kept, removed = remove_chrome(["SEE MORE:", subheading, "Latest"])
    assert kept == [] and [r.reason for r in removed] == ["related_links"] * 2 + ["navigation"]


def test_a_paragraph_opening_like_a_prompt_is_no_prompt() -> None:
    """A prompt is a line: a how-to's paragraph opening "Sign up for ..." went as a sign-up
    prompt (38 words). The prompts of the labelled sets had at most 20 words."""
    how_to = (
        "Sign up for a Hulu ad-free account for $11.99 a month If you already have a Hulu "
        "account, visit your account page, select Manage Plans and switch the No Ads option on, "
        "then review the change and confirm it."
    )
    assert chrome_reason(how_to) is None
    assert chrome_reason("Sign up (it's quick and free) or sign in now.") == "signup_prompt"
    assert chrome_reason("Sign up for breaking news, reviews, opinion, top tech deals, and more.")


def test_a_line_naming_the_title_with_a_word_either_side_is_no_footer() -> None:
    """Review 104's known over-match: "More Google I/O 2012 pics" under an entry titled
    "Google I/O 2012" went as a title footer (a title of 4 words, 2 words beside it). A
    footer is a sentence about the post: 3 words or more beside the title."""
    from newsbeam.transforms.clean import names_title_in_footer

    title = "Google I/O 2012"
    assert not names_title_in_footer("More Google I/O 2012 pics", title)
    assert names_title_in_footer("Read Google I/O 2012 on Medium.", title)
    body = "The keynote showed a tablet, a media player and glasses with a camera in them."
    assert clean_text(f"{body}\n\nMore Google I/O 2012 pics", title)[1] == []
