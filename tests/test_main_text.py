"""support/main_text.py: the same trees and texts as trafilatura's load_html and
bare_extraction (none of these pages has a body split into containers of one kind, which
main_text reads whole: tests/test_body_siblings.py), and the guards that tell when
trafilatura's code it copies has changed."""

from __future__ import annotations

import gzip
import importlib
import inspect
import logging
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from newsbeam.transforms.support import body_siblings
from newsbeam.transforms.support import main_text as mt
from tests.helpers import ARTICLE_HTML, ARTICLE_TEXT

_PARAGRAPHS = "".join(f"<p>{p}</p>" for p in ARTICLE_TEXT.split("\n\n"))
_LONG_NAV = "".join(
    f"<li><a href='/s{i}'>Section number {i} of the site</a></li>" for i in range(60)
)
_DIV_LINES = "".join(
    f"<div class='row'>Body line {i} of the real story, which is written in divs without "
    "paragraphs.</div>"
    for i in range(25)
)
_STORY_DIVS = "".join(
    f"<div>Recall text line number {i} of the story, with some words. </div>" for i in range(12)
)


def _page(body: str, head: str = "", doctype: str = "<!DOCTYPE html>") -> str:
    return f"{doctype}\n<html><head><title>T</title>{head}</head><body>{body}</body></html>"


# Pages with what each step reads or prunes: comment sections and lists, infinite-scroll
# boxes (with and without an h1), share buttons, consent banners, footers, svg, tables, a
# short article among much navigation (the recall escalation), a short page (the baseline),
# a thread forum, a page with no body.
PAGES = {
    "article": ARTICLE_HTML,
    "comments": _page(
        f"<article>{_PARAGRAPHS}</article><div id='comments'><p>{'Great read! ' * 30}</p></div>"
        "<ol class='commentlist'><li>First comment here, quite a long one indeed.</li></ol>"
        "<section class='post-comments'><p>Another comment.</p></section>"
    ),
    "infinite_scroll": _page(
        f"<div class='infinite-scroll'><h1>Main</h1>{_PARAGRAPHS}</div>"
        "<div class='mvp-post-add-box'><h2>Next story</h2><p>Other article text.</p></div>"
        f"<section id='infinitescroll'><p>{'Appended story text. ' * 20}</p></section>"
    ),
    "share_buttons": _page(
        f"<div class='elementor-widget'>{_PARAGRAPHS}</div>"
        "<div class='elementor-share-buttons'><a href='#'>Share on X</a></div>"
    ),
    "consent_banner": _page(
        f"<div id='CookieBanner'><p>{'We use cookies. ' * 40}</p></div>"
        f"<main><p>Short article text, one sentence only.</p></main><ul>{_LONG_NAV}</ul>"
        "<div class='site-footer'>Footer text</div><svg><title>icon</title></svg>"
    ),
    "short_among_navigation": _page(
        f"<header><ul>{_LONG_NAV}</ul></header><div class='story'><p>{'A short story. ' * 12}"
        f"</p></div><aside><p>Aside</p></aside><div><p>{'Teaser text of the site. ' * 40}</p>"
        f"</div><footer><ul>{_LONG_NAV}</ul></footer>"
    ),
    "tiny": _page("<div><p>Only a line of text.</p></div>"),
    "table": _page(
        f"<article>{_PARAGRAPHS}<table><tr><td>Cell one</td><td>Cell two</td></tr></table>"
        "</article>"
    ),
    "forum": _page(
        "<div class='comment-list'>"
        + "".join(
            f"<div class='comment'><p>Forum post number {i}, {'words ' * 30}</p></div>"
            for i in range(5)
        )
        + "</div>",
        head='<script type="application/ld+json">{"@type": "DiscussionForumPosting"}</script>',
    ),
    "xhtml_doctype": _page(
        f"<article>{_PARAGRAPHS}</article>",
        doctype='<!DOCTYPE html PUBLIC "-//W3C//DTD XHTML 1.0 Strict//EN" '
        '"http://www.w3.org/TR/xhtml1/DTD/xhtml1-strict.dtd">',
    ),
    "no_body": "<html><div><p>" + "Text without a body element. " * 20 + "</p></div></html>",
    # the fast extraction keeps 287 characters, the recall retry 2622
    "recall_escalation": _page(
        f"<ul>{_LONG_NAV}</ul><div id='content'><div class='teaser'><p>{'Teaser words. ' * 30}"
        f"</p></div><p>{'Lead words of it. ' * 16}</p><div class='teaser-text'>{_DIV_LINES}"
        f"</div></div><ul>{_LONG_NAV}</ul>"
    ),
    # teasers: dropped by the fast extraction, kept by the full one
    "teasers": _page(
        f"<ul>{_LONG_NAV}</ul><article><p>{'Lead sentence. ' * 20}</p></article>"
        f"<div class='teaser'>{_STORY_DIVS}</div><section>{_STORY_DIVS}</section>"
        f"<ul>{_LONG_NAV}</ul>"
    ),
    # the baseline's text: the JSON-LD articleBody, list items, short blocks (justext too)
    "json_ld_body": _page(
        "<div><p>Tiny text.</p></div>",
        head='<script type="application/ld+json">{"@type": "NewsArticle", "articleBody": "'
        + "Body from JSON-LD, a full sentence. " * 20
        + '"}</script>',
    ),
    "list_items": _page(
        "<div><h2>Heading one here</h2><ul><li>"
        + "</li><li>".join(f"List item number {i} has a few words of text in it." for i in range(8))
        + "</li></ul></div>"
    ),
    # form elements: lxml.html's parser gives them form subclasses, html_parser() does not
    "form": _page(
        f"<article>{_PARAGRAPHS}<form action='/s'><label for='q'>Search the site</label>"
        "<input id='q' name='q' value='term'><select name='c'><option>One</option></select>"
        "<textarea name='t'>Text in a box</textarea></form></article>"
    ),
    "short_blocks": _page(
        "<div><p>Short text of the page.</p><blockquote>A quote of some length here, it goes on."
        "</blockquote><h3>Sub heading</h3><p>Another short one.</p></div>"
    ),
}


def _serialized(tree: Any) -> bytes | None:
    return None if tree is None else etree.tostring(tree)


_PARSE_INPUTS = {
    **{name: page.encode("utf-8") for name, page in PAGES.items()},
    "control_character": PAGES["article"].replace("Council", "Coun\x01cil", 1).encode(),
    "noncharacter": PAGES["article"].replace("Council", "Coun\ufffecil", 1).encode(),
    "cp1252": PAGES["article"].replace("budget", "budget \u00e9t\u00e9").encode("cp1252"),
    "gzip": gzip.compress(PAGES["article"].encode()),
    "bom": b"\xef\xbb\xbf" + PAGES["article"].encode(),
    # parsed from the page's bytes (utf8_source): a charset declared otherwise is not read,
    # the DOCTYPE load_html's repair cuts is cut from the bytes, characters past UCS-2
    "declared_latin1": _page(
        "<p>Caf\u00e9 \u201cquoted\u201d \u20ac5</p>", head='<meta charset="iso-8859-1">'
    ).encode(),
    "xhtml_doctype_utf8": PAGES["xhtml_doctype"].replace("budget", "b\u00fcdget \u2014").encode(),
    "emoji": PAGES["article"].replace("budget", "budget \U0001f600").encode(),
    # parsed from the repaired text: the repair appends a line break to a one-line page, and
    # lxml refuses a str with an XML encoding declaration (load_html's path reads it)
    "one_line": _page("<p>All on one line, caf\u00e9.</p>").replace("\n", "").encode(),
    "xml_declaration": (
        '<?xml version="1.0" encoding="utf-8"?>\n' + PAGES["article"].replace("budget", "caf\u00e9")
    ).encode(),
    "self_closing_html": b'<html lang="en"/>\n<body><p>Some text here.</p></body></html>',
    "fragment": b"<p>Just a paragraph.</p>",
    "not_html": b"plain words, no markup at all",
    "empty": b"",
}


@pytest.mark.parametrize("name", sorted(_PARSE_INPUTS))
def test_parse_html_is_load_html(name: str) -> None:
    from trafilatura.utils import load_html

    data = _PARSE_INPUTS[name]
    assert _serialized(mt.parse_html(data)) == _serialized(load_html(data))


@pytest.mark.parametrize(
    ("name", "parsed_from"),
    [
        ("article", "the bytes"),
        ("declared_latin1", "the bytes"),
        ("xhtml_doctype_utf8", "the bytes after the DOCTYPE"),
        ("one_line", "the text"),
        ("xml_declaration", "the text"),
    ],
)
def test_a_utf8_page_is_parsed_from_its_bytes_where_the_repair_allows(
    name: str, parsed_from: str
) -> None:
    data = _PARSE_INPUTS[name]
    text = data.decode("utf-8")
    source = mt.utf8_source(data, text, mt._repair_faulty_html(text, text[:50].lower()))
    if parsed_from == "the bytes":
        assert source is data
    elif parsed_from == "the bytes after the DOCTYPE":
        assert isinstance(source, bytes) and source == data[data.index(b"\n") :]
    else:
        assert isinstance(source, str)


def test_parsed_elements_are_lxml_html_elements() -> None:
    """html_parser's class lookup in C: every element an HtmlElement (the methods trafilatura
    calls: text_content, drop_tree, ...), form elements included."""
    from lxml.html import HtmlElement

    tree = mt.parse_html(PAGES["form"].encode())
    tags = {element.tag for element in tree.iter(etree.Element)}
    assert {"form", "input", "select", "textarea", "label"} <= tags
    assert {type(element) for element in tree.iter(etree.Element)} == {HtmlElement}
    assert "Search the site" in tree.text_content()


def test_xml_invalid_characters_are_found() -> None:
    def holds(text: str) -> bool:
        return mt.holds_xml_invalid_characters(text.encode(), text)

    assert not holds("plain <p>caf\u00e9 \u4e2d\u6587 \t\n\r</p>")
    for character in ("\x00", "\x08", "\x0b", "\x0c", "\x0e", "\x1f", "\ufffe", "\uffff"):
        assert holds(f"a{character}b"), repr(character)


def _texts(page: str, fast: bool, tables: bool, precision: bool) -> tuple[str, str]:
    """(ours, trafilatura's) main text of a page."""
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    document = bare_extraction(
        load_html(page),
        fast=fast,
        include_comments=False,
        include_tables=tables,
        favor_precision=precision,
    )
    theirs = (document.text or "") if document is not None else ""
    prepared = mt.prepare_page(load_html(page), tables, precision)
    return mt.main_text(prepared, fast, tables, precision), theirs


@pytest.mark.parametrize("precision", [False, True])
@pytest.mark.parametrize("fast", [True, False])
@pytest.mark.parametrize("name", sorted(PAGES))
def test_main_text_is_bare_extractions(name: str, fast: bool, precision: bool) -> None:
    ours, theirs = _texts(PAGES[name], fast, True, precision)
    assert ours == theirs


def test_main_text_without_tables_is_bare_extractions() -> None:
    ours, theirs = _texts(PAGES["table"], True, False, False)
    assert ours == theirs and "Cell one" not in ours


@pytest.mark.parametrize("name", sorted(PAGES))
def test_full_extraction_after_the_fast_one_is_bare_extractions(name: str) -> None:
    """The full extraction reuses the fast one's prepared page."""
    from trafilatura import bare_extraction
    from trafilatura.utils import load_html

    prepared = mt.prepare_page(load_html(PAGES[name]))
    for fast in (True, False):
        document = bare_extraction(load_html(PAGES[name]), fast=fast, include_comments=False)
        theirs = (document.text or "") if document is not None else ""
        assert mt.main_text(prepared, fast) == theirs


@pytest.mark.parametrize("name", sorted(PAGES))
def test_page_text_length_and_its_bound(name: str) -> None:
    from trafilatura.baseline import html2txt
    from trafilatura.utils import load_html

    tree = load_html(PAGES[name])
    values = mt.id_and_class_values(tree)
    length = len(html2txt(tree))
    assert mt.html2txt_length(tree, values) == length
    assert mt.html2txt_length_bound(tree) >= length
    assert _serialized(tree) == _serialized(load_html(PAGES[name]))  # left unchanged


def test_page_text_bound_counts_words_split_at_block_boundaries() -> None:
    from trafilatura.baseline import html2txt
    from trafilatura.utils import load_html

    # Minified: no whitespace between blocks, so html2txt has more words than the text.
    tree = load_html(_page("<div>one</div><div>two</div><p>three</p>" * 50))
    assert len(tree.find(".//body").text_content().split()) == 1
    assert len(html2txt(tree).split()) == 150
    assert mt.html2txt_length_bound(tree) >= len(html2txt(tree))


# Pages whose html2txt length its bounds must hold: nested deleted elements (a footer in an
# aside), a tail after each, private-use characters (icon fonts) that html2txt drops, words
# glued across a deleted element and across blocks, a consent banner's class.
_BOUND_PAGES = {
    **PAGES,
    "nested_deletions": _page(
        "<div>lead<aside>a <footer>f</footer> b</aside>glued<svg><title>x</title></svg>tail "
        "<p>Para<aside>side</aside>graph</p><div class='site-footer'><p>f</p></div>end</div>"
    ),
    "icon_font": _page("<p>\ue001 Share \ue002</p><div>x\ue003y <span>\ue004</span></div>"),
    "minified": _page("<div>one</div><div>two<aside>three</aside>four</div>" * 30),
    "cookie_notice_class": _page(
        "<div class='notice--cookie'><p>We use cookies.</p></div><p>Text of the page.</p>"
    ),
}


@pytest.mark.parametrize("name", sorted(_BOUND_PAGES))
def test_page_text_length_bounds_hold_it(name: str) -> None:
    from trafilatura.baseline import html2txt
    from trafilatura.utils import load_html

    mt.keep_text_characters()  # the extract stage's html2txt (see text_characters)
    tree = load_html(_BOUND_PAGES[name])
    values = mt.id_and_class_values(tree)
    length = len(html2txt(tree))
    lower, upper = mt.html2txt_length_bounds(tree, values)
    assert lower <= length <= upper <= mt.html2txt_length_bound(tree)
    assert _serialized(tree) == _serialized(load_html(_BOUND_PAGES[name]))  # left unchanged
    for extracted in range(0, upper + 2, max(1, upper // 40)):
        for share in (0.2, 0.5):
            expected = extracted < share * length
            assert mt.short_of_page_text(extracted, share, tree, values) == expected


@pytest.mark.parametrize(
    "values",
    [
        "main\nfooter",
        "CookieBanner",
        "site-COOKIE_Policy",
        "notice--cookie",
        "ONETRUST-banner",
        "consent-sdk",
        "cookie",
        "mOOve_GDPR",
        "\u212aookie-banner",  # the Kelvin sign: a K case-insensitively, not ASCII
        "caf\u00e9\ncookiebot",
        "caf\u00e9\ncookies",
    ],
)
def test_consent_banner_test_is_the_case_insensitive_search(values: str) -> None:
    assert mt.names_consent_banner(values) == (mt._CONSENT.search(values) is not None)


@pytest.mark.parametrize("name", sorted(PAGES))
def test_prefiltered_raw_prunes_are_trafilaturas(name: str) -> None:
    from trafilatura import core
    from trafilatura.htmlprocessing import prune_unwanted_nodes
    from trafilatura.utils import load_html

    for expressions in (core.RAW_TREE_PRUNE_XPATH, core.REMOVE_COMMENTS_AND_LISTS_XPATH):
        ours, theirs = load_html(PAGES[name]), load_html(PAGES[name])
        values = mt.id_and_class_values(ours)
        ours = mt.prune_raw_tree(ours, expressions, values)
        assert _serialized(ours) == _serialized(prune_unwanted_nodes(theirs, expressions))


# Class and id values near and far from what the prunes select.
_VALUES = [
    "comments", "comment-list", "Comments", "commentary", "user-comments", "article-comments",
    "post-comments", "comol", "disqus_thread", "dsq-comments", "nocomment", "infinite-scroll",
    "infinitescroll", "infinite", "mvp-post-add-box", "mvp-post-add-wrap", "mvp-post-add",
    "elementor-share-buttons", "elementor-share", "x comment", "main", "",
]  # fmt: skip


@pytest.mark.parametrize("tag", ["div", "section", "aside", "ol", "ul", "details"])
@pytest.mark.parametrize("attribute", ["class", "id"])
def test_a_prune_that_selects_passes_its_prefilter(tag: str, attribute: str) -> None:
    from trafilatura import core
    from trafilatura.utils import load_html

    for value in _VALUES:
        tree = load_html(_page(f"<{tag} {attribute}='{value}'><p>text</p></{tag}><p>more</p>"))
        values = mt.id_and_class_values(tree)
        for expression in core.RAW_TREE_PRUNE_XPATH + core.REMOVE_COMMENTS_AND_LISTS_XPATH:
            if expression(tree):
                assert mt.may_select(mt.xpath_key(expression), values), (value, expression.path)


# The regular expressions of the XPaths' tests, searched in the values as one text (where
# "^" starts any line): the prefilters decide as they do.
_XPATH_TESTS = {
    "c15751070b078a64": "mvp-post-add-(?:box|wrap)|infinite-?scroll",
    "12b073ccb20e9633": "elementor-share-buttons",
    "7e7d885e629a5119": (
        "^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)"
        "|^[Cc]omment(?!ary)|(?:article|post)-comments"
    ),
}


def test_prefilters_decide_as_the_xpaths_regular_expressions() -> None:
    import itertools
    import re

    texts = ["\n".join(pair) for pair in itertools.product(_VALUES, repeat=2)]
    texts += ["main\ncommentary-box", "commentary\ncomments", "my-article-comments", "xcomol"]
    for key, expression in _XPATH_TESTS.items():
        pattern = re.compile(expression, re.MULTILINE)
        for text in texts:
            assert mt.may_select(key, text) == bool(pattern.search(text)), (key, text)


def test_prefilters_and_copies_match_this_trafilatura() -> None:
    """Fails when trafilatura's code copied or mirrored here changes: read its new source,
    update support/main_text.py (and the prefilter keys), then RECORDED_SOURCES there. Until
    then the extract stage runs trafilatura's slower stock path (tested below)."""
    assert mt.trafilatura_differences() == []
    assert mt.copy_matches_trafilatura()


def test_extractor_functions_are_trafilaturas_with_the_equivalents() -> None:
    """trafilatura's own code runs with the XPath equivalents; its modules stay as they are."""
    from trafilatura import core
    from trafilatura import main_extractor as me

    functions = mt.extractor_functions()
    compare, retry = functions.extract_and_compare, functions.recall_retry
    assert compare.__code__ is core._extract_and_compare.__code__
    assert retry.__code__ is core._recall_retry.__code__
    assert retry.__globals__["_extract_and_compare"] is compare
    content = compare.__globals__["extract_content"]
    assert content.__code__ is me.extract_content.__code__
    extract = content.__globals__["_extract"]
    body = extract.__globals__["BODY_XPATH"]  # each taking its sibling bodies (review 75)
    assert {type(x).__name__ for x in body} == {"WithSiblingBodies"}
    assert [type(x.expression).__name__ for x in body] == [
        "BodyXPath", "XPath", "BodyXPath", "BodyXPath", "XPath"
    ]  # fmt: skip
    assert [x.path for x in body] == [x.path for x in me.BODY_XPATH]
    sections = extract.__globals__["prune_unwanted_sections"]
    assert sections.__code__ is me.prune_unwanted_sections.__code__
    assert content.__globals__["recover_wild_text"].__globals__["prune_unwanted_sections"] is (
        sections
    )
    assert all(
        type(x).__name__ == "ElementXPath"
        for name in ("OVERALL_DISCARD_XPATH", "TEASER_DISCARD_XPATH", "DISCARD_IMAGE_ELEMENTS")
        for x in sections.__globals__[name]
    )
    assert all(type(x).__name__ == "XPath" for x in me.BODY_XPATH + me.OVERALL_DISCARD_XPATH)
    assert core.extract_content is me.extract_content and me._extract.__globals__ is vars(me)


def _trafilatura_names_read(module: Any) -> set[tuple[str, str]]:
    """(module, name) of every trafilatura name a module's code reads: `from trafilatura.m
    import n`, and `alias.n` where `from trafilatura import m as alias` (m a module)."""
    import ast

    found: set[tuple[str, str]] = set()
    aliases: dict[str, str] = {}
    nodes = list(ast.walk(ast.parse(inspect.getsource(module))))
    for node in nodes:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("trafilatura"):
            for alias in node.names:
                qualified = f"{node.module}.{alias.name}"
                if node.module == "trafilatura" and _is_module(qualified):
                    aliases[alias.asname or alias.name] = qualified
                else:
                    found.add((node.module or "", alias.name))
    for node in nodes:
        if (
            isinstance(node, ast.Attribute)
            and isinstance(node.value, ast.Name)
            and node.value.id in aliases
        ):
            found.add((aliases[node.value.id], node.attr))
    return found


def _is_module(name: str) -> bool:
    try:
        importlib.import_module(name)
    except ImportError:
        return False
    return True


def test_every_trafilatura_name_read_is_checked() -> None:
    read = _trafilatura_names_read(mt)
    checked = {(module, name) for module, names in mt.TRAFILATURA_NAMES.items() for name in names}
    public = {("trafilatura", "bare_extraction")}  # the stock path's own call
    assert ("trafilatura.core", "_forum_thread_page") in read  # the walk finds both forms
    assert ("trafilatura.baseline", "_BLOCK_ELEMS") in read
    assert read - public - checked == set()


@pytest.fixture
def check_cache() -> Any:
    """The check's cached value cleared before and after the test (its pages may change
    what the check reads)."""
    mt.copy_matches_trafilatura.cache_clear()
    yield
    mt.copy_matches_trafilatura.cache_clear()


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage()
        for r in caplog.records
        if r.name == mt.log.name and r.levelno == logging.WARNING
    ]


@pytest.mark.parametrize("change", ["source", "xpath", "body_xpath", "parser", "name", "module"])
def test_a_different_trafilatura_fails_the_check_with_one_warning(
    change: str,
    check_cache: None,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    import trafilatura
    from trafilatura import core

    if change == "source":
        monkeypatch.setitem(mt.RECORDED_SOURCES, "trafilatura.utils:load_html", "0" * 16)
    elif change == "xpath":
        changed = [*core.RAW_TREE_PRUNE_XPATH[:-1], etree.XPath(".//div[@id='other']")]
        monkeypatch.setattr(core, "RAW_TREE_PRUNE_XPATH", changed)
    elif change == "body_xpath":  # one with a Python equivalent (support/xpath_equivalents.py)
        from trafilatura import main_extractor

        changed = [etree.XPath(".//article"), *main_extractor.BODY_XPATH[1:]]
        monkeypatch.setattr(main_extractor, "BODY_XPATH", changed)
    elif change == "parser":  # other parser options: html_parser() no longer makes its trees
        monkeypatch.setattr(mt, "_HTML_PARSER_SOURCE", "HTML_PARSER = HTMLParser(huge_tree=True)")
    elif change == "name":  # renamed in a later trafilatura
        monkeypatch.delattr(core, "_forum_thread_page")
    else:  # the check itself fails
        monkeypatch.setitem(mt.TRAFILATURA_NAMES, "trafilatura.gone", ("x",))
    with caplog.at_level(logging.WARNING, logger=mt.log.name):
        assert not mt.copy_matches_trafilatura()
        assert not mt.copy_matches_trafilatura()
        (message,) = _warnings(caplog)
    assert f"trafilatura {trafilatura.__version__} " in message and "bare_extraction" in message


_SHARED = Path(__file__).resolve().parents[1].parent / "shared"
# Pages of ../shared (bench_pipeline.distinct_sources) on each path of the extract stage:
# the fast text kept, the full one kept (fast 894 / full 3933 characters), the recall
# escalation in the fast and the full extraction, in the full one only, no text at all.
_SHARED_PAGES = [
    "data/extraction/aeb/html/"
    "042bb7b5fedab6eac7db576522b89b93904c237d344bcbe14a6a5ab7f7335856.html.gz",
    "data/extraction/aeb/html/"
    "b3c19dd5f0612d098788fa5173e491b3280da6226b492f8fe110f4ab1896cca8.html.gz",
    "data/extraction/aeb/html/"
    "f6ac15a4d98511396da23e4428deb5605422b1c8bbc8284e771f6896bdccf57f.html.gz",
    "data/pages/fundus-test-pages/be/PoliticoEu_2025_10_23.html.gz",
    "data/pages/fundus-test-pages/de/ZDF_2024_04_22.html.gz",
    "data/pages/fundus-test-pages/kr/HankookIlbo_2026_01_29.html.gz",
]


def _extracted(html: bytes) -> Any:
    """extract_html_document's articles (their ingestion time blanked), or error reasons,
    with the default options and with their opposites."""
    from newsbeam.schemas import RawDocument
    from newsbeam.transforms.extract import ExtractConfig, ExtractError, extract_html_document

    results = []
    for config in (ExtractConfig(), ExtractConfig(include_tables=False, favor_precision=True)):
        try:
            article = extract_html_document(RawDocument("p.html", "html", html), config)
        except ExtractError as error:
            results.append(error.reason)
            continue
        results.append(article._replace(ingested_at=None))
    return results


def test_a_different_trafilatura_gives_the_same_articles_by_the_stock_path(
    check_cache: None, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    chosen = ("article", "recall_escalation", "teasers", "table")
    pages = {name: PAGES[name].encode() for name in chosen}
    pages["gzip"] = _PARSE_INPUTS["gzip"]
    if _SHARED.is_dir():  # ../shared is not in a user's clone (the pages above are)
        pages |= {path: gzip.decompress((_SHARED / path).read_bytes()) for path in _SHARED_PAGES}
    assert mt.copy_matches_trafilatura()
    # the stock path is trafilatura's own: without main_text's one departure (PoliticoEu's
    # body is split into four containers of one kind, read whole by main_text only)
    with monkeypatch.context() as undone:
        undone.setattr(body_siblings, "join_sibling_bodies", lambda chosen: chosen)
        fast_path = {name: _extracted(html) for name, html in pages.items()}

    mt.copy_matches_trafilatura.cache_clear()
    monkeypatch.setitem(mt.RECORDED_SOURCES, "trafilatura.core:bare_extraction", "0" * 16)
    calls = []
    monkeypatch.setattr(mt, "_stock_main_text", _counted(mt._stock_main_text, calls))
    with caplog.at_level(logging.WARNING, logger=mt.log.name):
        stock_path = {name: _extracted(html) for name, html in pages.items()}
        assert len(_warnings(caplog)) == 1
    assert len(calls) >= 2 * len(pages)  # the stock path ran
    assert stock_path == fast_path
    results = [result for both in fast_path.values() for result in both]
    assert sum(isinstance(result, str) for result in results) < len(results) / 4  # articles


def _counted(function: Any, calls: list[int]) -> Any:
    def counted(*args: Any) -> Any:
        calls.append(1)
        return function(*args)

    return counted


def test_text_characters_drop_only_controls_private_use_and_what_xml_cannot_hold() -> None:
    from newsbeam.transforms.support.main_text import text_characters

    kept = "می\u200cخواهد 👨\u200d👩 \u200f \U000e0067 \U0001fa77 \u00ad\u200b"
    assert text_characters(kept) == kept
    assert text_characters("a\x07b\ue000c\ufffed\x0be") == "abcd\x0be"  # \v is a space
