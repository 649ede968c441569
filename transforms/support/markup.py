"""From markup to text, the one route every stage takes: a feed entry's HTML and title
(feeds), a JSON-LD articleBody holding HTML (extract). Pure functions.

Two routes disagreed before: one read a fragment's text whole and glued the words on either
side of a `<br>` or a block together ("Breaking:Fire", "One line.Two line.")."""

from __future__ import annotations

import re

# A character reference written out whole: "&amp;", "&nbsp;", "&#8220;", "&#x2019;". Only
# with its ";": a bare "&" is text ("AT&T", "R&D"), which html.unescape would also read
# as a reference when a known name follows ("&copy" in "&copyright").
_CHARACTER_REFERENCE = re.compile(
    r"&(?:#[0-9]{1,7}|#[xX][0-9a-fA-F]{1,6}|[A-Za-z][A-Za-z0-9]{1,31});"
)


def unescape_references(text: str) -> str:
    """`text` with HTML character references decoded. JSON-LD strings are plain text, yet
    sites write references in them ("Druck GmbH &amp; Co. KG", "&nbsp;", an articleBody of
    "&lt;p&gt;..."), which neither trafilatura nor the JSON parser decode."""
    if "&" not in text:
        return text
    from html import unescape

    return _CHARACTER_REFERENCE.sub(lambda match: unescape(match.group()), text)


_BLOCKS = (
    "p", "div", "li", "ul", "ol", "h1", "h2", "h3", "h4", "h5", "h6", "blockquote", "pre",
    "table", "tr", "section", "article", "figure", "figcaption", "dl", "dt", "dd", "hr",
)  # fmt: skip


def html_to_text(markup: str | None) -> str:
    """HTML (a fragment, or plain text) -> text, one paragraph per block, blank-line
    separated; references read, code (scripts, styles, frames) dropped."""
    if not markup or not markup.strip():
        return ""
    if "<" not in markup:
        # Markup without a tag is still HTML: a description the feed escaped ("&amp;nbsp;")
        # reaches us as "&nbsp;", and a summary whose tags a site stripped keeps its
        # references ("&rsquo;", "&quot;"): read as a reader sees them, never left as text.
        paragraphs = re.split(r"\n\s*\n", unescape_references(markup))
    else:
        import lxml.html

        try:
            root = lxml.html.fragment_fromstring(markup, create_parent="div")
        except Exception:  # lxml refuses some fragments; the text itself is still wanted
            return html_to_text(re.sub(r"<[^>]*>", " ", markup).replace("<", " "))
        # feedparser sanitizes RSS/Atom HTML; JSON Feed and JSON-LD HTML arrive as written.
        for element in list(root.iter("script", "style", "noscript", "template", "iframe")):
            element.drop_tree()
        for element in root.iter("br"):
            element.tail = "\n" + (element.tail or "")
        for element in root.iter(*_BLOCKS):
            element.text = "\n\n" + (element.text or "")
            element.tail = "\n\n" + (element.tail or "")
        paragraphs = re.split(r"\n\s*\n", root.text_content())
    cleaned = (" ".join(paragraph.split()) for paragraph in paragraphs)
    return "\n\n".join(paragraph for paragraph in cleaned if paragraph)


def markup_text(markup: str) -> str:
    """HTML (a fragment) -> its text on one line: html_to_text's paragraphs joined by a space
    (a second route that read the fragment's text whole glued the words on either side of a
    break or block together: "Breaking:<br>Fire" read "Breaking:Fire"; and a script's code)."""
    return " ".join(html_to_text(markup).split())
