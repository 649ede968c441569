"""CleanText: Article with its raw body -> Article with clean text (normalised; site chrome
and repeated paragraphs dropped, each drop recorded in `removed` with its reason) and its
identity (`content_hash`, `article_id`).

Rejected (stage `clean`): `no_text`, `too_short` (fewer than `min_words`), `time_limit`
(past `max_seconds`). Counters: `clean_in`, `clean_out`, `clean_removed_<reason>`,
`clean_dropped_<reason>`, `clean_time_limit`.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import re
import unicodedata
from collections import Counter
from collections.abc import Callable, Iterator

import apache_beam as beam

from newsbeam.schemas import Article, Rejected, Removal
from newsbeam.transforms.support.failures import apply_with_rejects, counter, rejected_output
from newsbeam.transforms.support.time_limit import TimeLimitExceeded, time_limit
from newsbeam.transforms.support.words import (
    ascii_quotes,
    casefolded_words,
    compared_form,
    has_unspaced_script,
    needs_script_words,
)

STAGE = "clean"


@dataclasses.dataclass(frozen=True)
class CleanConfig:
    """min_words: below this an input is not an article (cookie walls, "page not found").
    max_seconds: the time cleaning one text may take (0: no limit), past which it is
    rejected as time_limit (--max_page_seconds, each stage its own budget): a 10 MiB text
    of a million short paragraphs takes ~20 s, a real article a millisecond."""

    min_words: int = 10
    max_seconds: float = 30.0


# --- 1. Unicode ------------------------------------------------------------------------

# Exotic spaces to a plain one, invisible characters away. Typographic quotes stay as the
# page wrote them (review 70: a corpus wants "It’s", „so“ and «ainsi», not their ASCII
# stand-ins); what matches words and phrases reads them as ASCII (words.ascii_quotes).
_CHAR_REPLACEMENTS = {
    **dict.fromkeys("\u00a0\u2007\u202f\u2009\u200a\u2002\u2003\u3000\t", " "),
    **dict.fromkeys("\u200b\u2060\ufeff\u00ad", ""),
    # Bidirectional embeddings, overrides and isolates: they reorder what a reader sees
    # (a reversed file name, a spoofed word) and say nothing to text analysis.
    **dict.fromkeys("\u202a\u202b\u202c\u202d\u202e\u2066\u2067\u2068\u2069", ""),
    # Line and paragraph separators other than \n (Word and PDF exports, old Mac and
    # mainframe text): breaks, not control characters to drop, which glued the words on
    # either side together ("said it.\x85Next" -> "it.Next").
    **dict.fromkeys("\u2028\x85\x0b\x0c", "\n"),
    "\u2029": "\n\n",
    # Latin typesetting ligatures (PDF and e-book exports: "ﬁll", "Veriﬁer"): the word
    # spelled with one matches no word spelled without. Only these of NFKC's mappings: the
    # rest change what a text says ("m²" to "m2", "½" to "1⁄2", full-width forms).
    **{"\ufb00": "ff", "\ufb01": "fi", "\ufb02": "fl", "\ufb03": "ffi", "\ufb04": "ffl"},
    **dict.fromkeys("\ufb05\ufb06", "st"),
    # Arabic presentation forms (U+FB50-FDFF, U+FE70-FEFC): glyphs, each letter in its
    # isolated, initial, medial or final shape, that PDF exports and old sites write
    # instead of the letters. Such a text was another text than the same in letters (no
    # shared word) and too strange for langdetect (`und`); NFKC gives the letters, as
    # for the Latin ligatures above ("ﷲ" is "الله").
    **{
        chr(code): unicodedata.normalize("NFKC", chr(code))
        for code in (*range(0xFB50, 0xFE00), *range(0xFE70, 0xFEFD))
        if unicodedata.normalize("NFKC", chr(code)) != chr(code)
    },
}
# One regex pass (matches are rare) is ~10x faster than str.translate with a dict.
# A terminal's colour and cursor codes (ESC [ ... letter) go whole: the control character
# alone left "[31m" in the text.
_CONTROLS = "\x00-\x08\x0b-\x1f\x7f-\x9f"  # ESC and CR among them
# Every character a special sequence starts with, as one class: `re` tries the five
# alternatives below at each character (no fast scan for a choice of classes), and one class
# is a fast scan. 410 of the 439 pages' 438 texts hold none of these characters.
_SPECIAL_START = re.compile("[\u200c\u200d" + "".join(_CHAR_REPLACEMENTS) + _CONTROLS + "]")
_SPECIAL_CHARS = re.compile(
    f"(?={_SPECIAL_START.pattern})"  # the same condition, once a place (half the CPU)
    "(?:\x1b\\[[0-?]*[ -/]*[@-~]|\r\n?|[\u200c\u200d]+|["
    + "".join(_CHAR_REPLACEMENTS)
    + f"]|[{_CONTROLS}])"
)
_SPACES = re.compile(r"[ ]{2,}")
# The zero-width non-joiner and joiner are spelling inside a word: Persian writes "می‌خواهد"
# with one, Hindi's half forms and emoji families ("👨‍👩‍👧") need the other; dropped, the
# word read differently. Only a run of them beside a space or at an end is filler to drop
# (e-mail and newsletter templates pad with "&zwnj;&nbsp;"). Words are compared without them
# (support/words.py: compared_form).
_JOINERS = "\u200c\u200d"
_JOINER_RUN = re.compile(f"[{_JOINERS}]+")


def _inside_word(match: re.Match[str]) -> bool:
    """Whether a run of joiners has a character other than a space on either side."""
    text, start, end = match.string, match.start(), match.end()
    return 0 < start and end < len(text) and not (text[start - 1].isspace() or text[end].isspace())


def _replacement(match: re.Match[str]) -> str:
    char = match.group()
    if char[0] == "\r":
        return "\n"
    if char[0] in _JOINERS:
        return char  # judged once the characters around them are gone (normalize_unicode)
    return _CHAR_REPLACEMENTS.get(char, "")  # control characters and codes: dropped


def _joiners_inside_words(match: re.Match[str]) -> str:
    return match.group() if _inside_word(match) else ""


def normalize_unicode(text: str) -> str:
    """NFC, plain spaces, \\n line ends; invisible and control characters removed, but for
    the joiners inside a word. Quotes and apostrophes stay as written. Idempotent: the
    joiners are judged by their neighbours once the characters dropped beside them are
    gone ("a\\u200c\\x00 b" kept a joiner that a second pass dropped), and what is left is
    NFC again (a dropped "\\u200b" between "e" and a combining acute left "e" and the
    accent apart, not "é": another word than the same text's without it)."""
    text = unicodedata.normalize("NFC", text)
    # Most texts have nothing to replace: one scan says so (0.078 -> 0.016 ms a text).
    if _SPECIAL_START.search(text) is None:
        return text
    text = _SPECIAL_CHARS.sub(_replacement, text)
    if "\u200c" in text or "\u200d" in text:
        text = _JOINER_RUN.sub(_joiners_inside_words, text)
    return text if unicodedata.is_normalized("NFC", text) else unicodedata.normalize("NFC", text)


def normalize_whitespace(paragraph: str) -> str:
    """One paragraph on one line, single spaces."""
    return _SPACES.sub(" ", paragraph.replace("\n", " ")).strip()


# --- 2. Site chrome --------------------------------------------------------------------

# "All rights reserved" in other languages: a paragraph ending in one is a copyright line.
_COPYRIGHT_PHRASES = (
    "alle rechte vorbehalten", "tous droits réservés", "todos los derechos reservados",
    "todos os direitos reservados", "tutti i diritti riservati", "alle rechten voorbehouden",
    "wszelkie prawa zastrzeżone", "все права защищены", "всі права захищені",
    "tüm hakları saklıdır", "hak cipta dilindungi( undang-undang)?", "جميع الحقوق محفوظة",
    "כל הזכויות שמורות", "सर्वाधिकार सुरक्षित", "版权所有", "版權所有", "無断転載を禁じます",
    "무단 전재 및 재배포 금지", "무단전재 및 재배포 금지", "حقوق النشر محفوظة",
    "تمامی حقوق.{0,60}محفوظ است", "کلیه حقوق.{0,60}محفوظ است", "สงวนลิขสิทธิ์",
)  # fmt: skip


def _ending_in(phrases: tuple[str, ...]) -> str:
    """A pattern for a paragraph ending in one of `phrases` (patterns that each start with a
    plain character) and an optional full stop. The lookahead for their first characters is
    the same condition, but tested once at each place `.*` gives back, where the phrases
    were tried one by one there: the copyright phrases took 0.058 of remove_chrome's
    0.15 s of CPU on the 439 pages' 7,557 short paragraphs, 0.022 s with it."""
    firsts = "".join(sorted({re.escape(phrase[0]) for phrase in phrases}))
    return rf".*(?=[{firsts}])({'|'.join(phrases)})\.?"


# The same chrome as sites in other languages write it (German, French, Spanish, Portuguese,
# Italian, Dutch, Polish, Russian, Ukrainian, Turkish, Indonesian, Vietnamese, Swahili,
# Arabic, Persian, Hebrew, Hindi, Chinese, Japanese, Korean): "Lesen Sie auch", "LIRE
# AUSSI", "Suscríbete", "Читайте также", "相关阅读" stayed in the text as story sentences.
# A header that may carry the linked headline after it; a prompt; a label standing alone.
# A phrase ends where no word character follows (`\b` fails after a Hindi vowel sign).
_LOCAL_CHROME = {
    "related_links": (
        r"(lesen sie (auch|mehr|hier)|mehr zum thema|auch interessant|das könnte sie auch "
        r"interessieren|(à )?lire aussi|lire la suite|voir aussi|sur le même sujet|"
        r"le(a|e)(r)? (también|más)|te puede interesar|noticias relacionadas|"
        r"leia (também|mais)|veja também|saiba mais|leggi (anche|tutto|di più)|"
        r"potrebbe interessarti|lees (ook|meer)|czytaj (także|też|również|więcej)|"
        r"zobacz (też|także)|читайте (также|тоже|по теме)|смотрите также|"
        r"читайте також|дивіться також|ayrıca (okuyun|bakınız)|ilgili haberler|"
        r"baca (juga|selengkapnya)|berita terkait|xem thêm|tin liên quan|đọc thêm|"
        r"soma (pia|zaidi)|habari zaidi|اقرأ (أيضا|أيضاً|ايضا|المزيد)|مواضيع ذات صلة|"
        r"اخبار مرتبط|مطالب مرتبط|بیشتر بخوانید|קראו (גם|עוד)|עוד בנושא|"
        r"(ये|यह) भी पढ़ें|और पढ़ें|संबंधित (खबरें|ख़बरें)|อ่านเพิ่มเติม|อ่านข่าวที่เกี่ยวข้อง|"
        r"ข่าวที่เกี่ยวข้อง|ข่าวเกี่ยวข้อง)(?!\w)\s*:?.*|"
        r"(相关阅读|相关新闻|延伸阅读|推荐阅读|相關閱讀|相關新聞|延伸閱讀|関連記事|関連ニュース|"
        r"あわせて読みたい|관련\s?기사|관련\s?뉴스)\s*[:：]?.{0,80}"
    ),
    "comment_prompt": (
        r"(kommentare|kommentar schreiben|commentaires|comentarios|comentários|commenti|"
        r"reacties|komentarze|комментарии|коментарі|yorumlar|komentar|bình luận|maoni|"
        r"تعليقات|نظرات|תגובות|टिप्पणियां|评论|コメント|댓글|ความคิดเห็น)( \(\d+\))?\s*:?"
    ),
    "signup_prompt": (
        r"(abonnieren sie(?!\w).*|jetzt abonnieren(?!\w).*|newsletter abonnieren(?!\w).*|"
        r"abonnez-vous(?!\w).*|inscrivez-vous(?!\w).*|suscríbe(te|se)(?!\w).*|regístrate(?!\w).*|"
        r"inscreva-se(?!\w).*|cadastre-se(?!\w).*|iscriviti(?!\w).*|abbonati(?!\w).*|"
        r"melden sie sich (jetzt )?(hier )?(für|zu) .{0,40}newsletter(?!\w).*|"
        r"(jetzt )?(zum|für den) newsletter anmelden(?!\w).*|subscreva(?!\w).*|"
        r"assine (já )?(a |o )?(nossa |nosso )?(newsletter|boletim)(?!\w).*|"
        r"meld (je|u) (nu )?aan voor (onze|de) nieuwsbrief(?!\w).*|"
        r"abonneer (je|u)(?!\w).*|schrijf (je|u) in(?!\w).*|zapisz się(?!\w).*|subskrybuj(?!\w).*|"
        r"подпи(шитесь|сывайтесь)(?!\w).*|підпи(шіться|суйтесь)(?!\w).*|abone ol(un)?(?!\w).*|"
        r"berlangganan(?!\w).*|đăng ký (nhận|ngay)(?!\w).*|jiandikishe(?!\w).*|اشترك(?!\w).*|"
        r"عضو (خبرنامه|کانال).*|הירשמו(?!\w).*|सब्सक्राइब करें(?!\w).*)"
    ),
    "navigation": (
        r"(teilen|auf \S+ teilen|werbung|anzeige|meistgelesen|partager|publicité|"
        r"les plus lus|compartir|compartilhe|publicidad|publicidade|lo más leído|"
        r"mais lidas|condividi|pubblicità|i più letti|delen|advertentie|meest gelezen|"
        r"udostępnij|reklama|najczęściej czytane|поделиться|поділитися|реклама|"
        r"самое читаемое|paylaş|reklam|en çok okunanlar|bagikan|iklan|terpopuler|"
        r"chia sẻ|quảng cáo|đọc nhiều nhất|shiriki|tangazo|شارك|إعلان|الأكثر قراءة|"
        r"اشتراک‌گذاری|تبلیغات|שתפו|פרסומת|शेयर करें|विज्ञापन|分享|广告|廣告|シェア|広告|"
        r"공유하기|광고|แชร์|โฆษณา)\s*:?|"
        # Share bars with their services, "follow us on", the Korean "share this article",
        # and a Chinese wire story's end mark "(完)".
        r"(分享到|分享至)\s*[:：].{0,40}|扫一扫.{0,20}|이 기사를 공유합니다|"
        r"(تابعونا|تابعوا) (على|عبر)(?!\w).{0,60}|[(（]完[)）]"
    ),
    "caption": (
        r"(foto|fotos|bild|imagen|imagem|immagine|afbeelding|zdjęcie|фото|fotoğraf|gambar|"
        r"ảnh|picha|صورة|عکس|תמונה|तस्वीर|图片来源|圖片來源|写真)\s*[:：].*"
    ),
    # A site saying it sets cookies, in its own words: the site or "we" is the subject
    # ("Este sitio web utiliza cookies", "Wir verwenden Cookies, um ..."); reporting about
    # cookies names someone else ("die Website setzt", "Google said").
    "cookie_notice": (
        r"((utilizamos|usamos|utilizziamo|usiamo|nous utilisons|wir (verwenden|nutzen|setzen)|"
        r"(wij|we) gebruiken)( (i|des))?|(este|esta|questo|il|ce|diese) (sitio|site|sítio|"
        r"portal|web|página|sito|website|webseite|seite)( web)? (utiliza|usa|utilizza|utilise|"
        r"verwendet|nutzt|setzt)( (i|des))?|deze (web)?site (maakt gebruik van|gebruikt)) "
        r"cookies?(?!\w).*"
    ),
    # "责任编辑：王明", "【责任编辑：王明】"; a Chinese portal's source and original-title lines
    # ("来源：新华社", "原标题：..."), which name where the text came from, not what it says.
    "credits": (
        r"[【\[]?(责任编辑|責任編輯|编辑|編輯|編集)\s*[:：].{0,20}|"
        r"[【\[]?(来源|來源|本文来源|本文來源|稿件来源|原标题|原標題)\s*[:：].{0,60}"
    ),
    # A copyright notice opening the line: Korean outlets' ("<저작권자(c) 연합뉴스, 무단
    # 전재-재배포 금지>", "저작권자 © 예시일보 ..."), "版权所有 © 2026 ...", "สงวนลิขสิทธิ์ ©
    # 2569 ...", "حقوق النشر محفوظة لـ ...".
    "copyright": _ending_in(_COPYRIGHT_PHRASES)
    + r"|<?저작권자\s*(\(c\)|ⓒ|©).{0,120}|(版权所有|版權所有)\s*(©|\(c\)|ⓒ).{0,80}"
    + r"|สงวนลิขสิทธิ์\s*(©|\d).{0,80}|(جميع )?حقوق (النشر|الطبع)( والتوزيع)? محفوظة\s+ل.{0,50}",
}

# A picture's label before its credit, in the languages of _LOCAL_CHROME's captions.
_CREDIT_LABELS = (
    "photos?|photograph|picture|image|credit|fotos?|bild|imagen|imagem|immagine|afbeelding|"
    "zdjęcie|фото|fotoğraf|gambar|ảnh|picha"
)
# A word of a credit: a name, an agency, "/" between them; never code ("image: CGImage?) {").
_CREDIT_WORD = r"[^\s{}=;<>\":]+"

# (reason, pattern) matched against a whole short paragraph, case-insensitively. Only
# paragraphs of at most _CHROME_MAX_WORDS words are tested: real prose that happens to
# contain "subscribe" is never dropped.
_CHROME_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (reason, re.compile(f"{pattern}|^({_LOCAL_CHROME[reason]})$", re.IGNORECASE)
     if reason in _LOCAL_CHROME else re.compile(pattern, re.IGNORECASE))
    for reason, pattern in [
        ("related_links", r"^(see|read|watch) (more|also)\b.*$|^(related|more on this|"
         r"related (articles?|stories|coverage|content|topics))\s*:?$|^read more:?.*$"),
        ("comment_prompt", r"^(would you like to comment\b.*|please read our comment policy.*|"
         r"comments?( \(\d+\))?|view comments|join the conversation|leave a comment)$"),
        ("signup_prompt", r"^(sign (up|in)\b.*|subscribe( to| now| today)?\b.*|"
         r"newsletter sign[- ]?up|please wait\.*|thank you for (signing|sign) up!?|"
         r"get (our|the) .{0,40}newsletter.*|already a subscriber\?.*|"
         r"register (now|for free)\b.*|create (a free|an) account\b.*|"
         r".*\bit'?s quick and free\b.*)$"),
        ("navigation", r"^(latest|latest (videos?|news|stories)|top stories|most (read|popular)|"
         r"trending( now)?|advertisement|sponsored( content)?|share( this( article| story)?)?|"
         r"share (on|via|to) \S+( \S+)?|"
         r"follow us\b.*|skip to (main )?content|back to top|more stories|you may also like|"
         r"recommended( for you)?)\s*:?$"),
        ("caption", r"^(image|photo|picture|photograph|video|file photo|credit)( credit)?\s*:.*$|"
         # A caption whose credit closes it ("... Regionalverkehr. Bild: Maximilian von
         # Lachner", "... Manchester United. Foto: NTB"): a story's paragraph never ends
         # in a picture's credit. The credit is a few words, not a sentence.
         # The lookahead (a colon or slash somewhere) is what the credit needs anyway, found
         # in one scan: most paragraphs have neither, and `.*` no longer gives back each
         # place to try the labels there (0.022 -> 0.010 s over the 7,557 short paragraphs).
         rf"^(?=[^:/]*[:/]).*[\s.;:)]({_CREDIT_LABELS})\s*(:|\s/)\s*{_CREDIT_WORD}"
         rf"(\s+{_CREDIT_WORD}){{0,6}}(?<![.!?])$"),
        ("cookie_notice", r"^(we|this (web)?site|our (web)?site)( also)? (uses?|may use) "
         r"cookies\b.*$"),
        ("agency_line", r"^(with )?(reuters|afp|ap|associated press|dpa|bloomberg|efe|ansa|"
         r"xinhua|anadolu( agency)?|upi|pa media)( and (reuters|afp|ap))?\.?$"),
        ("credits", r"^((additional )?(reporting|writing|editing)( and (writing|editing))?"
         r" by\b.*|compiled by\b.*|edited by\b.*)$"),
        # A year after "Copyright"/"(c)"/"©", or "All rights reserved": "Copyright lawyers
        # said ..." is prose.
        ("copyright", r"^((copyright|\(c\)|\u00a9)\s*(\(c\)|\u00a9)?\s*(19|20)\d\d\b.*|"
         r".*\ball rights reserved\.?|"
         # The sign itself with its holder and no year ("© Reuters", "© dpa-infocom,
         # dpa:240516-99-53606/3", "Copyright © AFP 2017-2026. ..."): "(c)" alone opens
         # an enumeration's third point, so it needs the year.
         r"(copyright\s*)?\u00a9\s*\S.*)$"),
    ]
]  # fmt: skip
# The lower-case words of a credits line ("Reporting by Jane Doe in Kyiv; editing by Dubai
# newsroom"): names are capitalised, the rest is this small vocabulary. A sentence that
# starts like one ("Reporting by the Guardian showed that ...") has other words.
_CREDIT_WORDS = frozenset(
    "by and in at of from for with the de del da di van von der le la "
    "reporting writing editing additional compiled edited newsroom bureau desk staff "
    "graphics photos photography research production contributed".split()
)
_CREDIT_OTHER_WORDS = 1
_LOWER_WORD = re.compile(r"(?<![\w'-])[^\W\d_A-Z][\w'-]*")


def _reads_as_credits(paragraph: str) -> bool:
    """Whether a paragraph the credits pattern matched is names and credit words only."""
    words = _LOWER_WORD.findall(paragraph)
    others = [word for word in words if word[0].islower() and word not in _CREDIT_WORDS]
    return len(others) <= _CREDIT_OTHER_WORDS


_CHROME_MAX_WORDS = 40
# A prompt or a link is a line, not a paragraph: the longest of the labelled sets' were 20
# words ("Sign Up: Stay on top of the latest breaking film and TV news! ..."); a paragraph
# opening with "Sign up for ..." that goes on past this is a how-to's instructions (review
# 109: AEB's "Sign up for a Hulu ad-free account for $11.99 a month If you already have a
# Hulu account, visit your account page ...", 38 words, went as a prompt).
_PROMPT_REASONS = frozenset({"signup_prompt", "comment_prompt", "navigation", "related_links"})
_PROMPT_MAX_WORDS = 25
# The quotes a quoted headline may stand in (the typographic ones stay in the text).
_QUOTES = "'\"\u2018\u2019\u201a\u201b\u201c\u201d\u201e\u201f\u00ab\u00bb"
# A quoted headline on its own line ('Qatar leading talks to swap ...') beside other chrome
# (an agency line, an image caption): site chrome that re-announces an article. Alone in
# the body it is a subheading and stays. A quotation ends in punctuation or a speaker.
_QUOTED_HEADLINE = re.compile(r"""^(['"])[^'"]{10,200}[^.!?,;:'"]\1$""")
_RELATED_HEADER_REASONS = {"related_links"}
# A sentence's end in any script: the ideographic and full-width stops, the Devanagari
# danda, the Arabic question mark (a Chinese story paragraph is no link in a list).
_SENTENCE_END = re.compile(r"[.!?\u3002\uff0e\uff01\uff1f\u0964\u061f]['\")\]\u300d\u300f]?$")


def chrome_reason(paragraph: str) -> str | None:
    """The reason code when a paragraph is site chrome, else None (its quotes read as
    ASCII: "it’s quick and free", a headline in „...“)."""
    paragraph = ascii_quotes(paragraph)
    # Split no further than needed to know (a long paragraph is most of a text).
    if len(paragraph.split(maxsplit=_CHROME_MAX_WORDS)) > _CHROME_MAX_WORDS:
        return None
    if _QUOTED_HEADLINE.match(paragraph):
        return "headline"
    for reason, pattern in _CHROME_PATTERNS:
        if pattern.match(paragraph):
            if reason == "credits" and not _reads_as_credits(paragraph):
                return None
            if reason in _PROMPT_REASONS and _longer_than(paragraph, _PROMPT_MAX_WORDS):
                return None
            return reason
    return None


def _longer_than(paragraph: str, words: int) -> bool:
    return len(paragraph.split(maxsplit=words)) > words


def _is_link_like(paragraph: str) -> bool:
    """A headline in a related-links list: short, and not a sentence."""
    return len(paragraph.split(maxsplit=20)) <= 20 and not _SENTENCE_END.search(
        ascii_quotes(paragraph)
    )


def remove_chrome(
    paragraphs: list[str], reason_of: Callable[[str], str | None] = chrome_reason
) -> tuple[list[str], list[Removal]]:
    """Drop chrome paragraphs, and the link list under a "SEE MORE:"-style header.
    `reason_of`: chrome_reason, or a caller's cache of it."""
    reasons = [reason_of(paragraph) for paragraph in paragraphs]
    kept: list[str] = []
    removed: list[Removal] = []
    in_link_list = False
    for index, (paragraph, reason) in enumerate(zip(paragraphs, reasons, strict=True)):
        if reason == "headline" and not _beside_chrome(reasons, index):
            reason = None  # a quoted subheading inside the story (common in German news)
        if reason is None and in_link_list and _is_link_like(paragraph):
            reason = "related_links"
        if reason is None:
            in_link_list = False
            kept.append(paragraph)
        else:
            in_link_list = (reason in _RELATED_HEADER_REASONS and _opens_list(paragraph)) or (
                in_link_list and reason != "comment_prompt"
            )
            removed.append(Removal(paragraph, reason))
    return kept, removed


# A related-links header opens a list of links under it when it is bare ("SEE MORE:",
# "Auch interessant", "相关阅读："); one that carries its link ("Read more: <headline>",
# "Lesen Sie auch: <headline>") is the whole link, and the line under it is the story's
# (review 109: the Mirror's and Hamburger Abendblatt's subheadings went as links).
_BARE_HEADER_WORDS = 4


def _opens_list(header: str) -> bool:
    """Whether a related-links header stands bare, so that links may follow it."""
    return header.rstrip().endswith((":", "：")) or len(header.split()) <= _BARE_HEADER_WORDS


def _beside_chrome(reasons: list[str | None], index: int) -> bool:
    """Whether the paragraph before or after this one is chrome (other than a headline)."""
    neighbours = reasons[max(index - 1, 0) : index] + reasons[index + 1 : index + 2]
    return any(reason not in (None, "headline") for reason in neighbours)


# --- 3. Repeated paragraphs ------------------------------------------------------------

_WORD = re.compile(r"\w+")


def fold(text: str) -> str:
    """Text reduced to lower-case word tokens: the form compared for sameness."""
    return " ".join(fold_words(text))


def fold_words(text: str) -> list[str]:
    """The words fold() joins (what `fold(text).split()` gives, without the join)."""
    return _WORD.findall(compared_form(text).casefold())


# List items and table rows repeat legitimately ("- Fill: Synthetic" under two products).
_LIST_OR_TABLE = re.compile(r"^([-*\u2022|]\s|\d{1,3}[.)]\s)")


# A paragraph written twice, the second copy alone among new paragraphs, is a copy from
# this many words: a pull quote ("Only nine of these pairs have been matched, ...") or a
# box written twice, not a short label ("30 minutes before bed") a plan repeats.
_REPEATED_MIN_WORDS = 6


def _captured_again(
    index: int, keys: list[str], copy: list[bool], written: Counter[str], paragraph: str
) -> bool:
    """Whether the copy at `index` is the text captured again, not the text's own pattern:
    right under its last copy; or a paragraph written twice whose copy is one of a run of
    twice-written copies (a body or a lead captured twice); or, alone, a sentence of
    _REPEATED_MIN_WORDS words or more (a pull quote, a summary box written twice)."""
    key = keys[index]
    if index > 0 and keys[index - 1] == key:
        return True
    if written[key] > 2:
        return False
    neighbours = [i for i in (index - 1, index + 1) if 0 <= i < len(keys)]
    if any(copy[i] and written[keys[i]] == 2 for i in neighbours):
        return True
    return key.count(" ") + 1 >= _REPEATED_MIN_WORDS and bool(
        _SENTENCE_END.search(ascii_quotes(paragraph))
    )


def remove_repeated(paragraphs: list[str]) -> tuple[list[str], list[Removal]]:
    """Drop the later copies of paragraphs where the text was captured twice (compared
    folded; the first copy stays): a copy right under its original, or one of a run of
    copies. A copy standing alone among new paragraphs is the article's own structure and
    stays: an interviewer's question put to each guest, a label over each day of a plan.
    List items and table rows are never dropped as repeats."""
    kept, removed, _ = _remove_repeated(paragraphs)
    return kept, removed


def _remove_repeated(
    paragraphs: list[str], fold_of: Callable[[str], str] = fold
) -> tuple[list[str], list[Removal], list[str]]:
    """remove_repeated, and the folded form of each paragraph kept (`fold_of`: fold, or a
    caller's cache of it).

    Why runs (review 109): every later copy was dropped, and over the labelled pages with
    gold text 230 of AEB's 232 repeat removals were paragraphs the article holds again (a
    Russian interview asking each cook the same questions; a meal plan's "Drink during your
    workout" under every day). A body or a lead captured twice repeats paragraphs in a run
    (the seeds, syndicated copies); a repeat of one paragraph amid new ones is the text's."""
    keys = [fold_of(paragraph) for paragraph in paragraphs]
    written = Counter(keys)
    seen: set[str] = set()
    # A later copy of a paragraph written twice; one written three times or more is the
    # text's pattern (a label over each day of a plan), unless right under its last copy.
    copy = [False] * len(paragraphs)
    for index, key in enumerate(keys):
        copy[index] = bool(key) and key in seen and not _LIST_OR_TABLE.match(paragraphs[index])
        seen.add(key)
    kept: list[str] = []
    kept_folded: list[str] = []
    removed: list[Removal] = []
    for index, (paragraph, key) in enumerate(zip(paragraphs, keys, strict=True)):
        if copy[index] and _captured_again(index, keys, copy, written, paragraph):
            removed.append(Removal(paragraph, "repeated"))
        else:
            kept.append(paragraph)
            kept_folded.append(key)
    return kept, removed, kept_folded


# --- 4. Whole text and identity --------------------------------------------------------


# What joins a headline to a rubric or a site name in a page's title ("Opinion | ...",
# "... - Güncel haberler", "...--时政--人民网", "Landtagswahl in Thüringen: ..."): a bar,
# dash or colon with a space after it, or a doubled dash.
_TITLE_SEPARATOR = re.compile(r"\s*(?:[|｜]|--|――|——)\s*|\s+[-–—·:]\s+|(?<=\w)[:：]\s+")
# A title piece left out of a copy of the title is a rubric or a site name, not the headline:
# a copy must keep at least this share of the title's folded characters ("Orden fürs
# Morden" of "Nationaler Veteranentag: Orden fürs Morden" keeps 0.4; a one-word kicker of a
# long title is no copy of it).
_TITLE_COPY_MIN_SHARE = 0.35
_TITLE_COPY_MIN_CHARS = 12


def _title_forms(text: str, fold_of: Callable[[str], str] = fold) -> set[str]:
    """fold() of a title (or a paragraph) whole and without its leading or trailing pieces
    (split at `_TITLE_SEPARATOR`): the forms a headline takes beside a rubric or a site."""
    pieces = [piece for piece in _TITLE_SEPARATOR.split(text) if fold_of(piece)]
    forms = {fold_of(text)}
    for cut in range(1, len(pieces)):
        forms.add(fold_of(" ".join(pieces[cut:])))
        forms.add(fold_of(" ".join(pieces[:cut])))
    return forms


def repeats_title(paragraph: str, title: str, fold_of: Callable[[str], str] = fold) -> bool:
    """Whether a paragraph is a copy of the title: the same words, or the same words but for
    a rubric or a site name on either side of one of them ("Opinion | Is Football Violence
    a Crime?" over a first paragraph "Is Football Violence a Crime?"; "Feuerwehrleute
    sollen später in Pension | wdr aktuell" under the title without the site). `fold_of`:
    fold, or a caller's cache of it."""
    folded, folded_title = fold_of(paragraph), fold_of(title)
    if not folded or not folded_title:
        return False
    if folded == folded_title:
        return True
    # Only a short paragraph can be a title with a rubric or site beside it: a lead
    # paragraph that opens with the headline's words goes on in sentences.
    if len(paragraph) > 2 * len(title) + 40:
        return False
    if _title_cut_from(paragraph, folded, folded_title, fold_of):
        return False
    shared = _title_forms(paragraph, fold_of) & _title_forms(title, fold_of)
    return any(
        len(form) >= _TITLE_COPY_MIN_CHARS
        and len(form) >= _TITLE_COPY_MIN_SHARE * max(len(folded), len(folded_title))
        for form in shared
    )


def _title_cut_from(
    paragraph: str, folded: str, folded_title: str, fold_of: Callable[[str], str]
) -> bool:
    """Whether the title is this paragraph's opening cut short (a feed entry or a record
    without a headline, titled with its first words, "... diagnosed with the pne"): the
    paragraph opens with the title, goes on past it other than after a separator (not "<title>
    | wdr aktuell") and ends as a sentence. It is the lead the title was cut from, and it
    went whole as a title copy when a clause of it matched a clause of the title (review
    109: four syndicated-dev articles lost their lead so)."""
    if not folded.startswith(folded_title) or not _SENTENCE_END.search(ascii_quotes(paragraph)):
        return False
    pieces = [piece for piece in _TITLE_SEPARATOR.split(paragraph) if fold_of(piece)]
    return all(fold_of(" ".join(pieces[:cut])) != folded_title for cut in range(1, len(pieces)))


def remove_title(
    paragraphs: list[str], title: str | None, fold_of: Callable[[str], str] = fold
) -> tuple[list[str], list[Removal]]:
    """Drop the leading paragraphs that only repeat the title (HTML pages keep their <h1>,
    some twice: a header and the article's own), with or without a rubric or site name
    beside it (`repeats_title`). A paragraph that is the whole text stays: a one-sentence
    brief whose headline is its text (a wire flash, a JSON-lines record titled by its own
    sentence) would be left empty."""
    removed: list[Removal] = []
    while title and len(paragraphs) > 1 and repeats_title(paragraphs[0], title, fold_of):
        removed.append(Removal(paragraphs[0], "title"))
        paragraphs = paragraphs[1:]
    return paragraphs, removed


# A closing line that names the article's title inside a sentence of its own: the footer
# WordPress and its SEO plugins add to every feed entry, in the site's language ("The post
# <title> appeared first on <site>.", "Der Beitrag <title> erschien zuerst auf <site>.",
# "Artykuł <title> pochodzi z serwisu <site>."), and "Read <title> on <site>'s blog." The
# title must have this many words (a short one is a phrase a closing sentence may hold) ...
_FOOTER_TITLE_MIN_WORDS = 4
# ... and the line at most this many words besides it (the footers above: 3 to 9) ...
_FOOTER_MAX_OTHER_WORDS = 12
# ... and at least this many: a footer is a sentence about the post ("Read <title> on
# Medium."), where a line naming the title with a word on either side is a link or a
# caption ("More Google I/O 2012 pics" under a feed entry titled "Google I/O 2012", review
# 104's known over-match; review 109). The 53 footers of the fixture feeds had 6 to 11.
_FOOTER_MIN_OTHER_WORDS = 3


def names_title_in_footer(paragraph: str, title: str, fold_of: Callable[[str], str] = fold) -> bool:
    """Whether a paragraph is a footer naming the title: the title's words inside it with
    words on both sides, few of them. A closing sentence ending with the title's words ("I
    hope this post helps you <title>") or the title alone (a punchline) is no footer."""
    folded_title = fold_of(title)
    title_words = folded_title.count(" ") + 1 if folded_title else 0
    if title_words < _FOOTER_TITLE_MIN_WORDS:
        return False
    before, found, after = f" {fold_of(paragraph)} ".partition(f" {folded_title} ")
    if not found or not before.strip() or not after.strip():
        return False
    others = len(before.split()) + len(after.split())
    return _FOOTER_MIN_OTHER_WORDS <= others <= _FOOTER_MAX_OTHER_WORDS


def remove_title_footer(
    paragraphs: list[str], title: str | None, fold_of: Callable[[str], str] = fold
) -> tuple[list[str], list[Removal]]:
    """Drop the last paragraphs while they are footers naming the title
    (`names_title_in_footer`; 200 of the fixture feeds' entries ended in one), as
    remove_title drops the leading copies; a paragraph that is the whole text stays.
    Removals in the text's order."""
    removed: list[Removal] = []
    while title and len(paragraphs) > 1 and names_title_in_footer(paragraphs[-1], title, fold_of):
        removed.insert(0, Removal(paragraphs[-1], "title_footer"))
        paragraphs = paragraphs[:-1]
    return paragraphs, removed


def clean_text(text: str, title: str | None = None) -> tuple[str, list[Removal]]:
    """Raw body (paragraphs split by blank lines) -> (clean text, removals in order)."""
    cleaned, removed, _ = _clean_text(text, title)
    return cleaned, removed


def _clean_text(text: str, title: str | None) -> tuple[str, list[Removal], str]:
    """clean_text, and fold() of the clean text: its paragraphs' folded forms (compared for
    repeats already) joined by a space. The same string: no word runs across the blank
    line between two paragraphs, and casefold maps each character on its own."""
    # Normalising is a per-character map, idempotent on its own (normalize_unicode): done
    # once. The removals below judge paragraphs by their neighbours and run to a fixed point.
    paragraphs = [normalize_whitespace(p) for p in normalize_unicode(text).split("\n\n")]
    paragraphs = [p for p in paragraphs if p]
    paragraphs, removed, folded, _ = remove_to_fixed_point(paragraphs, title)
    return "\n\n".join(paragraphs), removed, " ".join(filter(None, folded))


def remove_to_fixed_point(
    paragraphs: list[str], title: str | None
) -> tuple[list[str], list[Removal], list[str], int]:
    """The removal steps (title copies, chrome, title footers, repeats), in that order, pass
    after pass until a pass removes nothing -> (paragraphs kept, removals grouped by step
    in that order, fold() of each paragraph kept, passes run).

    Why a loop: each step judges a paragraph by its place (the first, the last, beside
    chrome, under a "SEE MORE:" header) or by what came before it (a repeat), and another
    step's removal moves those. Chrome above the title's copy hid it from the title step;
    a repeat of an earlier paragraph after a feed's footer hid the footer from the footer
    step. In one pass each stayed in the clean text, and cleaning it again removed it. The
    last pass here removed nothing, so cleaning the clean text removes nothing: clean_text
    is a fixed point by construction, whatever the order of its paragraphs.

    Why it ends: a pass that removes nothing stops it, and each other pass removes at least
    one paragraph of finitely many, so at most len(paragraphs) + 1 passes run, the cap of
    the loop, which its break always comes before. A page takes 1 to 3 (tests/
    test_properties.py checks it): a first pass leaves no chrome (chrome is judged by
    itself and by chrome next to it, all gone) and no repeat (what is kept is distinct);
    a second takes the title copy that chrome uncovered at the top, and the footers that
    a repeat uncovered at the end, each step to the end of its run; a third finds
    nothing. Only a page from which the first pass removed something pays a second, and
    it reads chrome reasons and folded forms (the title's too) from this text's caches."""
    reason_of = functools.cache(chrome_reason)
    fold_of = functools.cache(fold)
    title_line: list[Removal] = []
    chrome: list[Removal] = []
    footer: list[Removal] = []
    repeated: list[Removal] = []
    folded: list[str] = []
    passes = 0
    for _ in range(len(paragraphs) + 1):  # the cap (why it is never met: above)
        passes += 1
        paragraphs, title_now = remove_title(paragraphs, title, fold_of)
        paragraphs, chrome_now = remove_chrome(paragraphs, reason_of)
        paragraphs, footer_now = remove_title_footer(paragraphs, title, fold_of)
        paragraphs, repeated_now, folded = _remove_repeated(paragraphs, fold_of)
        if not (title_now or chrome_now or footer_now or repeated_now):
            break
        title_line += title_now
        chrome += chrome_now
        footer += footer_now
        repeated += repeated_now
    return paragraphs, title_line + chrome + footer + repeated, folded, passes


def count_words(text: str, folded: str) -> int:
    """Words in the clean text: those of `folded` (its `\\w+` words, joined by spaces), or its
    words in any script where those would be wrong (support/words.py: Chinese, Hindi, ...).
    The content hash stays `folded`'s, so article ids do not change with the count."""
    if needs_script_words(text):
        return len(casefolded_words(text))
    return folded.count(" ") + 1 if folded else 0


def content_hash(text: str) -> str:
    """Hash of the folded text: equal for copies differing only in case/punctuation/space."""
    return _hash_folded(fold(text))


def _hash_folded(folded: str) -> str:
    return hashlib.sha256(folded.encode("utf-8")).hexdigest()[:32]


def article_id_for(canonical_url: str | None, text_hash: str) -> str:
    """Stable id: from the canonical URL when known (so updates keep their id), else content."""
    basis = f"url:{canonical_url}" if canonical_url else f"content:{text_hash}"
    return hashlib.sha256(basis.encode("utf-8")).hexdigest()[:24]


def with_identity(article: Article) -> Article:
    """The article with its content hash, id and word count as CleanText sets them, where
    it has none (a caller's own records that skipped CleanText, `new_article`'s empty
    defaults): dedup and stories key on them, and articles sharing the empty id were one
    article to them (copies of each other, one story)."""
    if article.article_id and article.content_hash and article.word_count:
        return article
    folded = fold(article.text)
    text_hash = article.content_hash or _hash_folded(folded)
    return article._replace(
        article_id=article.article_id or article_id_for(article.canonical_url, text_hash),
        content_hash=text_hash,
        word_count=article.word_count or count_words(article.text, folded),
    )


def clean_article(article: Article) -> Article:
    """Apply cleaning and identity to one article (a new record; the input is untouched)."""
    title = normalize_whitespace(normalize_unicode(article.title)) if article.title else None
    text, removed, folded = _clean_text(article.text, title)
    # A quoted headline removed from a document without a title is its title, and the text
    # is cleaned with it: cleaning the record again (its text with that title) found its
    # copies ("Advertisement", the quoted headline, then the headline unquoted) and
    # changed the text, and with it a URL-less article's id (review 104).
    if not title:
        title = next((r.text.strip(_QUOTES) for r in removed if r.reason == "headline"), None)
        if title:
            text, with_title, folded = _clean_text(text, title)
            removed += with_title
    text_hash = _hash_folded(folded)
    return article._replace(
        article_id=article_id_for(article.canonical_url, text_hash),
        title=title or None,
        text=text,
        word_count=count_words(text, folded),
        content_hash=text_hash,
        removed=[*article.removed, *removed],
    )


# --- Beam ------------------------------------------------------------------------------


class _Clean(beam.DoFn):
    def __init__(self, config: CleanConfig) -> None:
        self._config = config

    def process(self, article: Article) -> Iterator[Article | beam.pvalue.TaggedOutput]:
        counter("clean_in").inc()
        try:
            with time_limit(self._config.max_seconds):
                cleaned = clean_article(article)
        except TimeLimitExceeded:
            counter("clean_time_limit").inc()
            yield _rejected(article, "time_limit", time_limit_detail(self._config))
            return
        for removal in cleaned.removed[len(article.removed) :]:
            counter(f"clean_removed_{removal.reason}").inc()
        if cleaned.word_count == 0:
            yield _rejected(article, "no_text", no_text_detail(article, cleaned))
        elif cleaned.word_count < self._config.min_words:
            yield _rejected(article, "too_short", too_short_detail(cleaned, self._config))
        else:
            counter("clean_out").inc()
            yield cleaned


def time_limit_detail(config: CleanConfig) -> str:
    return (
        f"cleaning stopped at the time limit, {config.max_seconds:g} s a text "
        "(--max_page_seconds): a real article takes milliseconds (raise the flag to read it)"
    )


def too_short_detail(cleaned: Article, config: CleanConfig) -> str:
    """Why a text is too short; where a character counted as a word, says so (a Chinese
    brief of 8 characters read as "8 words" looked like a miscount)."""
    counted = f"{cleaned.word_count} words < min_words {config.min_words}"
    if has_unspaced_script(cleaned.text):
        return f"{counted} (a character of Chinese, Japanese, Thai, ... counts as a word)"
    return counted


def no_text_detail(article: Article, cleaned: Article) -> str:
    """Why a text has no word left: cleaning removed what words it had, or it had none (only
    emoji, symbols or punctuation)."""
    if cleaned.removed[len(article.removed) :] and fold_words(article.text):
        return "nothing left after removing boilerplate"
    return "no words in the text (only symbols, emoji or punctuation)"


def _rejected(article: Article, reason: str, detail: str) -> beam.pvalue.TaggedOutput:
    return rejected_output(article.source, STAGE, reason, detail, article.text)


class CleanText(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article], PCollection[Rejected])."""

    def __init__(self, config: CleanConfig | None = None) -> None:
        super().__init__()
        self._config = config or CleanConfig()

    def expand(
        self, articles: beam.PCollection[Article]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(
            articles, "Clean", _Clean(self._config), STAGE, lambda a: a.source, Article
        )
