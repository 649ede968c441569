"""Python equivalents of trafilatura's costliest XPath expressions: the same elements in
the same order, without a call from libxml2 into Python per element and `re:test`.

lxml runs each `re:test` of an XPath as a Python call (its arguments converted to Python
objects, the pattern looked up in a cache), for every element the expression reaches:
trafilatura's body XPaths, the two discard XPaths of its main extractor and its comment
prune cost about 3.9 ms a page that way (the 439 distinct pages), nearly all of the extract
stage's XPath time. The equivalents here read the attributes with `element.get` and run
the same regular expressions (about a third of the CPU), and the body XPaths, whose first
match is all trafilatura takes, stop at it (`BodyXPath` yields lazily).

Each equivalent is keyed by the SHA-1 of its expression's text (`xpath_key`); `equivalent`
gives the XPath itself for any other text. The regular expressions are taken from that text
(`re_tests`), compiled as lxml's `re:test` compiles them. tests/test_xpath_equivalents.py
checks every equivalent against its XPath on pages' trees (as parsed, and as trafilatura's
main extractor reads them) and on attribute edge cases; benchmarks/check_main_text.py
checks the texts on the 439 pages.

XPath semantics followed: `re:test(@a|@b, P, F)` tests the string value of the node-set
`@a|@b`: the value of the first of those attributes in document order (the element's
attribute order), "" when there is none; `contains(@a, s)`, `starts-with(@a, s)` and
`@a='v'` are false on a missing attribute (`contains` and `starts-with` test ""); a
location step's `[1]` keeps, among the children of each parent that pass its predicates,
the first, and `(expr)[1]` the first in document order.
"""

from __future__ import annotations

import functools
import hashlib
import itertools
import re
from collections.abc import Callable, Iterator
from typing import Any

# re:test(<attributes>, '<pattern>'[, '<flags>']) as trafilatura writes it.
_RE_TEST = re.compile(r"re:test\((@[\w-]+(?:\|@[\w-]+)*), '([^']*)'(?:, '([^']*)')?\)")

Attributes = tuple[str, ...]
Predicate = Callable[[Any], bool]


def xpath_key(expression: Any) -> str:
    """The start of the SHA-1 of an XPath's text: which expression an equivalent is for."""
    return hashlib.sha1(expression.path.encode("utf-8")).hexdigest()[:16]


def re_tests(path: str) -> list[tuple[Attributes, re.Pattern[str]]]:
    """The `re:test` calls of an XPath's text in order: (attribute names, the pattern as
    lxml compiles it: Unicode, case-insensitive when the flags hold an `i`)."""
    found = []
    for match in _RE_TEST.finditer(path):
        names = tuple(name.lstrip("@") for name in match[1].split("|"))
        flags = re.UNICODE | (re.IGNORECASE if "i" in (match[3] or "") else 0)
        found.append((names, re.compile(match[2], flags)))
    return found


def first_value(element: Any, names: Attributes) -> str:
    """The string value of the node-set `@name1|@name2|...` on an element: the value of the
    first of these attributes in the element's attribute order, "" when it has none."""
    if len(names) == 1:
        return element.get(names[0]) or ""
    for name, value in element.items():
        if name in names:
            return str(value)
    return ""


def first_of_two(element: Any, names: Attributes, first: str | None, second: str | None) -> str:
    """`first_value(element, names)` for two names whose values (None: missing) are known."""
    if first is None:
        return second or ""
    if second is None:
        return first
    return first_value(element, names)


# Answers a RegexTest keeps at most (then it starts again): ~100 bytes each, ~7 MB at most
# for the 17 tests of a process. Most repeats are within a page: on the 439 pages, 1k, 4k
# or 64k kept per test took the same CPU.
REMEMBERED_VALUES = 1 << 12


class Answers(dict[str, bool]):
    """Whether a pattern is found in each value looked up (`answers[value]`), searched once
    per value: the lookup of one already searched stays in C."""

    def __init__(self, pattern: re.Pattern[str], limit: int = REMEMBERED_VALUES) -> None:
        super().__init__()
        self.search, self.limit = pattern.search, limit

    def __missing__(self, value: str) -> bool:
        if len(self) >= self.limit:
            self.clear()
        found = self[value] = self.search(value) is not None
        return found


class RegexTest:
    """`re:test(@a|@b..., pattern, flags)`: `names`, and `found[value]`: whether the pattern
    is in an attribute value. Values repeat: the same class names on many elements of a
    page and on a site's pages (on the 439 distinct pages, 450k tests of 69k distinct
    values, half of the tests of ""), so each value is searched once (`Answers`)."""

    def __init__(self, names: Attributes, pattern: re.Pattern[str]) -> None:
        self.names, self.found = names, Answers(pattern)


def regex_tests(path: str, *names: Attributes) -> list[RegexTest]:
    """The `re:test` calls of an XPath's text (`re_tests`), which must test these attributes
    in this order."""
    tests = [RegexTest(found, pattern) for found, pattern in re_tests(path)]
    if [test.names for test in tests] != list(names):
        raise ValueError(f"not the re:test calls of {names} in {path!r}")
    return tests


class ElementXPath:
    """An XPath `.//*[self::t1 or ...][predicate]` (`.//*[predicate]` when `tags` is empty)
    as a callable with the XPath's `path`: the selected elements in document order. The
    predicate reads attributes only; on an element without any its value is worked out
    once (`bare`)."""

    def __init__(self, path: str, tags: tuple[str, ...], predicate: Predicate) -> None:
        from lxml.etree import Element

        self.path, self.tags, self.predicate = path, tags, predicate
        # by tag; without tags the predicate must not read the element's tag
        self.bare = {tag: predicate(Element(tag)) for tag in tags or ("bare",)}

    def elements(self, tree: Any) -> Iterator[Any]:
        """The descendants of `tree` of the tags (any element without tags) that pass."""
        from lxml.etree import Element

        predicate, bare = self.predicate, self.bare
        if not self.tags:
            untagged = bare["bare"]
            for element in tree.iterdescendants(Element):
                if predicate(element) if element.attrib else untagged:
                    yield element
            return
        for element in tree.iterdescendants(*self.tags):
            if predicate(element) if element.attrib else bare[element.tag]:
                yield element

    def __call__(self, tree: Any) -> Any:  # a list here, an iterator for BodyXPath
        return list(self.elements(tree))


class BodyXPath(ElementXPath):
    """A body XPath: `.//*[tags][predicate][1]` (`first_of_siblings`) or
    `(.//*[tags][predicate])[1]`. An iterator over its elements: trafilatura's `_extract`
    takes the first, so the rest of the page is not searched."""

    def __init__(
        self, path: str, tags: tuple[str, ...], predicate: Predicate, first_of_siblings: bool
    ) -> None:
        super().__init__(path, tags, predicate)
        self.first_of_siblings = first_of_siblings

    def __call__(self, tree: Any) -> Iterator[Any]:
        if not self.first_of_siblings:
            yield from itertools.islice(self.elements(tree), 1)
            return
        parents = set()
        for element in self.elements(tree):
            parent = element.getparent()
            if parent not in parents:  # the first of its siblings that passes
                parents.add(parent)
                yield element


_BODY_TAGS = ("article", "div", "main", "section")
_DISCARD_TAGS = ("div", "item", "list", "p", "section", "span")
_LOWER_N = str.maketrans("N", "n")
_LOWER_T = str.maketrans("T", "t")
_LOWER_CM = str.maketrans("CM", "cm")
_LOWER_CP = str.maketrans("CP", "cp")


_ID, _CLASS = ("id",), ("class",)


def _body_0(path: str) -> ElementXPath:
    by_id, by_class = regex_tests(path, _ID, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes = get("id") or "", get("class") or ""
        return (
            classes in ("post", "entry")
            or get("itemprop") == "articleBody"
            or identifier == "articleContent"
            or by_id.found[identifier]
            or by_class.found[classes]
        )

    return BodyXPath(path, _BODY_TAGS, selects, first_of_siblings=True)


def _body_2(path: str) -> ElementXPath:
    by_id, fulltext, by_class = regex_tests(path, _ID, _CLASS, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes = get("id") or "", get("class") or ""
        return (
            get("role") == "article"
            or identifier in ("article", "story")
            or classes in ("postarea", "art-postcontent", "text", "cell", "story")
            or by_id.found[identifier]
            or fulltext.found[classes]
            or by_class.found[classes]
        )

    return BodyXPath(path, _BODY_TAGS, selects, first_of_siblings=False)


def _body_3(path: str) -> ElementXPath:
    by_id, by_class = regex_tests(path, _ID, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes = get("id") or "", get("class") or ""
        return (
            identifier == "content"
            or classes == "content"
            or by_id.found[identifier]
            or by_class.found[classes]
            or "main-content" in identifier.translate(_LOWER_CM)
            or "main-content" in classes.translate(_LOWER_CM)
            or "page-content" in classes.translate(_LOWER_CP)
        )

    return BodyXPath(path, _BODY_TAGS, selects, first_of_siblings=False)


def _overall_discard_0(path: str) -> ElementXPath:
    cookie, by_id, by_class = regex_tests(path, ("id", "class"), _ID, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes = get("id"), get("class")
        return (
            get("data-lp-replacement-content") is not None
            or "nav" in (get("role") or "").translate(_LOWER_N)
            or "MostPopularStories" in (get("data-component") or "")
            or cookie.found[first_of_two(element, cookie.names, identifier, classes)]
            or by_id.found[identifier or ""]
            or by_class.found[classes or ""]
        )

    return ElementXPath(path, _DISCARD_TAGS, selects)


def _overall_discard_1(path: str) -> ElementXPath:
    hidden, by_id, by_class = regex_tests(path, ("id", "style"), _ID, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes, style = get("id"), get("class"), get("style")
        return (
            classes == "comments-title"
            or first_of_two(element, ("id", "class"), identifier, classes).startswith("reply-")
            or hidden.found[first_of_two(element, hidden.names, identifier, style)]
            or "display:none" in (style or "")
            or "display: none" in (style or "")
            or by_id.found[identifier or ""]
            or by_class.found[classes or ""]
            or get("aria-hidden") == "true"
        )

    return ElementXPath(path, (), selects)


def _teaser_discard(path: str) -> ElementXPath:
    def selects(element: Any) -> bool:
        get = element.get
        return "teaser" in (get("id") or "").translate(_LOWER_T) or "teaser" in (
            get("class") or ""
        ).translate(_LOWER_T)

    return ElementXPath(path, _DISCARD_TAGS, selects)


def _discard_image_elements(path: str) -> ElementXPath:
    def selects(element: Any) -> bool:
        get = element.get
        return "caption" in (get("id") or "") or "caption" in (get("class") or "")

    return ElementXPath(path, _DISCARD_TAGS, selects)


def _comments_and_lists(path: str) -> ElementXPath:
    by_id, by_class, list_by_id, list_by_class = regex_tests(path, _ID, _CLASS, _ID, _CLASS)

    def selects(element: Any) -> bool:
        get = element.get
        identifier, classes = get("id") or "", get("class") or ""
        return (by_id.found[identifier] or by_class.found[classes]) and (
            element.tag not in ("ol", "ul")
            or list_by_id.found[identifier]
            or list_by_class.found[classes]
        )

    tags = ("div", "list", "section", "details", "ol", "ul")
    return ElementXPath(path, tags, selects)


# By the key of the XPath text each is written for: trafilatura 2.3.1's BODY_XPATH[0], [2],
# [3], OVERALL_DISCARD_XPATH[0], [1], TEASER_DISCARD_XPATH[0], DISCARD_IMAGE_ELEMENTS[0] and
# REMOVE_COMMENTS_AND_LISTS_XPATH[0].
_EQUIVALENTS: dict[str, Callable[[str], ElementXPath]] = {
    "2465b9ddf0fc1b9b": _body_0,
    "b9c180cd18240e44": _body_2,
    "1e7b8c5b36e9e0e8": _body_3,
    "d00545c1e3acd7dd": _overall_discard_0,
    "8c88600b03181df7": _overall_discard_1,
    "db87f1790b6b7449": _teaser_discard,
    "1c87660c9ae9af66": _discard_image_elements,
    "7e7d885e629a5119": _comments_and_lists,
}
EQUIVALENT_KEYS = frozenset(_EQUIVALENTS)


@functools.lru_cache(maxsize=32)
def equivalent(expression: Any) -> Any:
    """The Python equivalent of an XPath (see above), or the XPath itself when none is
    written for its text."""
    make = _EQUIVALENTS.get(xpath_key(expression))
    return expression if make is None else make(expression.path)
