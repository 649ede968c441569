"""support/xpath_equivalents.py: each Python equivalent selects its trafilatura XPath's
elements, in the same order, on real pages and on attribute edge cases."""

from __future__ import annotations

import gzip
import itertools
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from newsbeam.transforms.support import xpath_equivalents as xe
from tests.test_main_text import _SHARED, _SHARED_PAGES, PAGES


def _replaced() -> list[Any]:
    from trafilatura import core
    from trafilatura import main_extractor as me

    expressions = [
        *me.BODY_XPATH,
        *me.OVERALL_DISCARD_XPATH,
        *me.TEASER_DISCARD_XPATH,
        *me.DISCARD_IMAGE_ELEMENTS,
        *core.REMOVE_COMMENTS_AND_LISTS_XPATH,
    ]
    return [x for x in expressions if xe.equivalent(x) is not x]


def test_the_body_discard_and_comment_prune_xpaths_have_equivalents() -> None:
    from trafilatura import main_extractor as me

    assert len(_replaced()) == len(xe.EQUIVALENT_KEYS) == 8
    assert {xe.xpath_key(x) for x in _replaced()} == xe.EQUIVALENT_KEYS
    assert xe.equivalent(me.BODY_XPATH[1]) is me.BODY_XPATH[1]  # no re:test: kept
    other = etree.XPath(".//div[re:test(@id, 'x')]", namespaces={"re": "x"})
    assert xe.equivalent(other) is other


def _selected(expression: Any, tree: Any) -> list[Any]:
    return list(expression(tree))


def _assert_same(tree: Any) -> int:
    """Every replaced XPath and its equivalent select the same elements from the tree and
    from each of its elements with children; the number of elements compared."""
    compared = 0
    roots = [tree, *(element for element in tree.iter() if len(element))]
    for expression in _replaced():
        ours = xe.equivalent(expression)
        for root in roots:
            theirs = expression(root)
            assert _selected(ours, root) == theirs, (expression.path, etree.tostring(root)[:300])
            compared += len(theirs)
    return compared


def _converted(tree: Any) -> Any:
    """The page as trafilatura's main extractor reads it: cleaned, tags converted."""
    from trafilatura.core import _prepare_tree
    from trafilatura.settings import Extractor

    return _prepare_tree(tree, Extractor(output_format="python"), None)[0]


@pytest.mark.parametrize("name", sorted(PAGES))
def test_equivalents_select_what_the_xpaths_select_on_pages(name: str) -> None:
    from trafilatura.utils import load_html

    _assert_same(load_html(PAGES[name]))
    _assert_same(_converted(load_html(PAGES[name])))


@pytest.mark.skipif(not _SHARED.is_dir(), reason="../shared is not here")
def test_equivalents_select_what_the_xpaths_select_on_shared_pages() -> None:
    from trafilatura.utils import load_html

    compared = 0
    for path in _SHARED_PAGES:
        html = gzip.decompress((Path(_SHARED) / path).read_bytes())
        compared += _assert_same(load_html(html)) + _assert_same(_converted(load_html(html)))
    assert compared > 100  # the XPaths selected something to compare


# Values near and far from what the XPaths test: each regular expression's tokens, anchors,
# case variants, the fixed values, empty ones.
_VALUES = [
    "", "post", "entry", "Post", "articleContent", "article-content", "articleBody", "body-text",
    "x article-body", "ArticleContent", "story", "article", "text", "cell", "postarea",
    "FullText", "fulltext-x", "primary", "x primary", "story-body", "content", "Main-Content",
    "main-content", "PAGE-CONTENT", "Page-Content", "content-main", "cookie", "Cookie-bar",
    "share", "x share", "shareit", "nav", "Nav", "menu", "ad-slot", "x ad-slot", "bad-slot",
    "widget", "hidden", "Hidden", "x hidden", "hide-me", "reply-1", "x reply-1", "akismet",
    "comments-title", "message", "display:none", "display: none", "width: 2px", "comments",
    "Comment-list", "commentary", "post-comments", "x article-comments", "comol", "dsq-comments",
    "teaser", "Teaser-box", "TEASER", "x-caption", "Caption",
]  # fmt: skip
_TAGS = ["div", "section", "article", "main", "p", "span", "item", "list", "aside", "ul", "ol"]
_NAMES = [("id",), ("class",), ("id", "class"), ("class", "id"), ("style", "id"), ("id", "style")]


def _edge_tree() -> Any:
    """An element per tag, attribute names (in that order) and value, each holding a
    second one (for the per-parent `[1]` of the first body XPath), among siblings."""
    root = etree.Element("body")
    for tag, names, value in itertools.product(_TAGS, _NAMES, _VALUES):
        element = etree.SubElement(root, tag)
        for name in names:
            element.set(name, value)
        etree.SubElement(element, tag, {names[-1]: value})
    extra = etree.SubElement(root, "div", {"role": "Navigation", "aria-hidden": "true"})
    etree.SubElement(extra, "span", {"data-lp-replacement-content": ""})
    etree.SubElement(extra, "p", {"data-component": "x MostPopularStories", "itemprop": "x"})
    etree.SubElement(extra, "section", {"itemprop": "articleBody", "role": "article"})
    return root


def test_equivalents_select_what_the_xpaths_select_on_attribute_edge_cases() -> None:
    tree = _edge_tree()
    assert _assert_same(tree) > 500
    for expression in _replaced():  # each alone, with few elements to choose from
        ours = xe.equivalent(expression)
        for element in tree:
            wrapper = etree.Element("body")
            wrapper.append(etree.fromstring(etree.tostring(element)))
            assert _selected(ours, wrapper) == expression(wrapper)


def test_first_value_is_the_first_attribute_in_the_elements_order() -> None:
    element = etree.fromstring('<div class="b" style="c" id="a"/>')
    assert xe.first_value(element, ("id", "class")) == "b"
    assert xe.first_value(element, ("id", "style")) == "c"
    assert xe.first_value(element, ("id",)) == "a"
    assert xe.first_value(element, ("title", "lang")) == ""
    assert xe.first_of_two(element, ("id", "class"), "a", "b") == "b"
    assert xe.first_of_two(element, ("id", "class"), None, "b") == "b"
    assert xe.first_of_two(element, ("id", "class"), None, None) == ""


def test_re_tests_are_read_with_their_flags() -> None:
    tests = xe.re_tests("x[re:test(@id|@class, 'a|^b') or re:test(@class, 'full', 'i')]")
    assert [(names, pattern.pattern) for names, pattern in tests] == [
        (("id", "class"), "a|^b"),
        (("class",), "full"),
    ]
    assert tests[1][1].search("FULL") and not tests[0][1].search("A")
    with pytest.raises(ValueError):
        xe.regex_tests("x[re:test(@id, 'a')]", ("class",))


def test_a_regex_test_searches_each_value_once_and_forgets_past_its_limit() -> None:
    import re

    searched: list[str] = []
    pattern = re.compile("nav|menu", re.IGNORECASE)

    class Counted:
        def search(self, value: str) -> Any:
            searched.append(value)
            return pattern.search(value)

    answers = xe.Answers(Counted(), limit=3)  # type: ignore[arg-type]
    values = ["main-nav", "", "story", "main-nav", "", "MENU", "story", "x", "main-nav"]
    assert [answers[v] for v in values] == [bool(pattern.search(v)) for v in values]
    # the fourth distinct value ("MENU") found three remembered: they were forgotten
    assert searched == ["main-nav", "", "story", "MENU", "story", "x", "main-nav"]
    assert len(answers) <= 3


def test_a_body_equivalent_yields_lazily() -> None:
    """trafilatura's `_extract` takes the first element: the rest is not searched."""
    from trafilatura import main_extractor as me

    body = xe.equivalent(me.BODY_XPATH[0])
    tree = etree.fromstring(
        "<body><div class='post'/><div><section class='entry'/><div class='post'/></div></body>"
    )
    found = body(tree)
    assert not isinstance(found, list)
    assert next(found).get("class") == "post"
    assert [e.get("class") for e in found] == ["entry"]  # the first of its siblings only
    assert [e.get("class") for e in me.BODY_XPATH[0](tree)] == ["post", "entry"]
