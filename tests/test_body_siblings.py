"""support/body_siblings.py: a body split into containers of one kind is read whole (review
75: wired.com's second chunk was lost), and what is not body is not taken."""

from __future__ import annotations

import lxml.html
import pytest

from newsbeam.transforms.support import main_text as mt
from newsbeam.transforms.support.body_siblings import join_sibling_bodies, sibling_bodies

_BODY = "grid--item body body__container article__body"


def _chunk(name: str, paragraphs: int = 4) -> str:
    return "".join(
        f"<p>{name} paragraph {i} tells the story further, with enough words in it to read as "
        f"body text of an article page.</p>"
        for i in range(paragraphs)
    )


def _wired_page(wrapped: bool = True) -> str:
    """Two body containers of one class, each in a grid wrapper with an ad rail, a
    full-width ad between them (wired.com's markup; `wrapped=False`: siblings)."""
    ad = "<div class='row full-bleed-ad'><span>Advertisement</span></div>"

    def container(name: str) -> str:
        inner = (
            f"<div class='{_BODY}'><div class='body__inner-container'>{_chunk(name)}</div></div>"
        )
        if not wrapped:
            return inner
        return f"<div class='grid grid-layout--adrail'>{inner}<aside class='rail'></aside></div>"

    return (
        "<!DOCTYPE html><html><head><title>T</title></head><body><main><h1>Headline</h1>"
        f"<div class='article__chunks'>{container('First')}{ad}{container('Second')}</div>"
        "</main></body></html>"
    )


def _tree(html: str) -> lxml.html.HtmlElement:
    return lxml.html.fromstring(html)


@pytest.mark.parametrize("wrapped", [True, False])
@pytest.mark.parametrize("fast", [True, False])
def test_a_body_split_around_an_ad_is_extracted_whole(wrapped: bool, fast: bool) -> None:
    page = mt.prepare_page(mt.parse_html(_wired_page(wrapped).encode()))
    text = mt.main_text(page, fast)
    assert "First paragraph 3" in text and "Second paragraph 0" in text
    assert "Second paragraph 3" in text and "Advertisement" not in text
    assert text.index("First paragraph 3") < text.index("Second paragraph 0")


def test_the_later_containers_are_found_at_the_chosen_ones_place() -> None:
    tree = _tree(_wired_page())
    first, second = tree.find_class("article__body")
    assert sibling_bodies(first) == [second]
    assert sibling_bodies(second) == []  # only later ones: the first is chosen first
    assert join_sibling_bodies(first) is first and second.getparent() is first
    assert "Advertisement" in tree.text_content()  # what lies between stays where it is


def test_link_lists_and_other_kinds_are_not_taken() -> None:
    links = "".join(
        f"<p><a href='/{i}'>A related story headline number {i}</a></p>" for i in range(9)
    )
    tree = _tree(
        f"<div><div class='{_BODY}'>{_chunk('First')}</div>"
        f"<div class='{_BODY}'>{links}</div>"  # same kind, but links: a teaser list
        f"<div class='{_BODY}'><p>Short.</p></div>"  # same kind, no paragraph text
        f"<div class='other'>{_chunk('Other')}</div>"  # text, but another class
        f"<section class='{_BODY}'>{_chunk('Section')}</section></div>"  # another tag
    )
    assert sibling_bodies(tree.find_class("article__body")[0]) == []


def test_a_container_without_a_class_takes_nothing() -> None:
    tree = _tree(f"<div><div id='articleContent'>{_chunk('A')}</div><div>{_chunk('B')}</div></div>")
    assert sibling_bodies(tree.get_element_by_id("articleContent")) == []


def test_wrappers_further_up_than_the_levels_are_not_searched() -> None:
    deep = (
        f"<div class='w'><div class='v'><div class='u'><div class='{_BODY}'>{{}}</div>"
        "</div></div></div>"
    )
    tree = _tree(f"<div>{deep.format(_chunk('A'))}{deep.format(_chunk('B'))}</div>")
    first, second = tree.find_class("article__body")
    assert sibling_bodies(first) == []
    assert sibling_bodies(first, levels=3) == [second]


def test_paragraph_blocks_and_a_chosen_block_that_is_no_chunk_take_nothing() -> None:
    """One paragraph a container (the Washington Post's layout) is no split body: joining
    two such blocks stopped trafilatura's fallbacks from reading the rest (968 -> 70 words);
    nor does an empty chosen container take what follows it."""
    one = f"<div class='{_BODY}'>{_chunk('One', paragraphs=1)}</div>"
    tree = _tree(f"<div>{one}{one}{one}</div>")
    assert sibling_bodies(tree.find_class("article__body")[0]) == []
    tree = _tree(f"<div><div class='{_BODY}'></div><div class='{_BODY}'>{_chunk('B')}</div></div>")
    assert sibling_bodies(tree.find_class("article__body")[0]) == []
