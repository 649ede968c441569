"""The rest of an article body that a page splits into repeated containers.

trafilatura's main extractor takes the first element its body XPaths select (`_extract`:
`next(...)`; BODY_XPATH[0] even ends in `[1]`, the first of its siblings). Some pages cut
one body into several containers of the same kind with something in between: wired.com
writes `div.body__container.article__body` once per chunk, each chunk in a grid wrapper of
its own (`div.grid` > the container and an ad rail), with a full-width ad between the
chunks. Taking the first container kept the first chunk only (review 70: 915 and 715 words
lost on the two Wired pages of AEB).

`join_sibling_bodies` moves into the chosen container the later containers of the same
kind: the same tag and class, at the same place under a following sibling of the same tag
and class (the container's own siblings, or the same position in its parent's or
grandparent's repeated wrappers), and text-dense (paragraphs of text, few of its words in
links) so that a repeated teaser or link list is not taken; and only when the chosen
container is itself such a chunk of body text. The elements between them (the
ads) stay where they are. `with_sibling_bodies` runs it on what a body XPath selects.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

# How far up the chosen container the repeated wrappers are looked for: 0 its own siblings,
# 1 its parent's (wired.com's AEB pages), 2 its grandparent's (wired.com's newer pages).
WRAPPER_LEVELS = 2
# A container is a chunk of body text when it holds at least this many paragraphs with text
# (one paragraph a container is another layout, a body of paragraph blocks, which
# trafilatura's own fallbacks read: joining two such blocks stopped them, Washington Post),
# this much paragraph text, and at most this share of its text in links (trafilatura's
# link-density tests reject blocks from about half of their text in links).
LEAST_PARAGRAPHS = 2
LEAST_PARAGRAPH_CHARACTERS = 100
MOST_LINK_SHARE = 0.5
# Paragraph and link tags before and after trafilatura's tag conversion (the cleaned tree
# the main extractor reads has `ref` for `a`).
_PARAGRAPH_TAGS = ("p",)
_LINK_TAGS = ("a", "ref")


def _text_length(element: Any) -> int:
    return sum(map(len, map(str.strip, element.itertext())))  # in C: no generator step a text


def text_dense(element: Any) -> bool:
    """Whether a container reads as a chunk of body text: paragraphs of text, and few words
    in links."""
    lengths = [length for p in element.iter(*_PARAGRAPH_TAGS) if (length := _text_length(p))]
    if len(lengths) < LEAST_PARAGRAPHS or sum(lengths) < LEAST_PARAGRAPH_CHARACTERS:
        return False
    links = sum(_text_length(link) for link in element.iter(*_LINK_TAGS))
    return links <= MOST_LINK_SHARE * _text_length(element)


def _same_kind(one: Any, other: Any) -> bool:
    return bool(
        one.tag == other.tag and one.get("class") and one.get("class") == other.get("class")
    )


def _at_depth(element: Any, depth: int) -> Iterator[Any]:
    """The descendants of `element` `depth` levels below it (itself for 0)."""
    level = [element]
    for _ in range(depth):
        level = [child for parent in level for child in parent.iterchildren()]
    yield from level


def sibling_bodies(chosen: Any, levels: int = WRAPPER_LEVELS) -> list[Any]:
    """The later containers of `chosen`'s kind (see above), in document order; the nearest
    level that has any gives them (none: [])."""
    # chosen by id or itemprop: no kind to repeat
    if not chosen.get("class"):
        return []
    # Whether `chosen` is itself a chunk of body text (not empty, nor one paragraph: what
    # follows such a container is no continuation of a body), asked only when a container of
    # its kind follows: most pages have none, and the question reads all of the body's text
    # (55 ms of CPU on the 439 distinct pages, for nothing on all but a few).
    dense: bool | None = None
    node = chosen
    for depth in range(levels + 1):
        if node.getparent() is None:
            break
        candidates = [
            candidate
            for wrapper in node.itersiblings()
            if _same_kind(wrapper, node)
            for candidate in _at_depth(wrapper, depth)
            if _same_kind(candidate, chosen)
        ]
        if candidates:
            if dense is None:
                dense = text_dense(chosen)
            if not dense:
                return []
            found = [candidate for candidate in candidates if text_dense(candidate)]
            if found:
                return found
        node = node.getparent()
    return []


def join_sibling_bodies(chosen: Any) -> Any:
    """`chosen` with its `sibling_bodies` moved to its end (in place), each with its tail."""
    for body in sibling_bodies(chosen):
        chosen.append(body)
    return chosen


class WithSiblingBodies:
    """A body XPath (or its equivalent) whose first selected element gets its sibling
    bodies: `_extract` reads only that one. `path` stays the expression's (logs read it)."""

    def __init__(self, expression: Any) -> None:
        self.expression = expression
        self.path = expression.path

    def __call__(self, tree: Any) -> Iterator[Any]:
        elements = iter(self.expression(tree))
        for element in elements:
            if element is not None:
                yield join_sibling_bodies(element)
                break
            yield element
        yield from elements

    def __str__(self) -> str:
        return str(self.expression)
