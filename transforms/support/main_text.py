"""trafilatura's page loading and main-text extraction, as the extract stage runs them: the
same results as `trafilatura.utils.load_html` and `trafilatura.bare_extraction(tree,
include_comments=False, ...).text`, with less work done per page.

- `parse_html`: `load_html` without its deletion of XML-invalid characters by a regular
  expression over the whole page (0.7 ms of its 2.2 ms on the 439 distinct pages) when a
  byte-level test shows the page holds none; any other page takes `load_html`'s own steps,
  all with a parser that reads 2,048 levels of nesting where trafilatura's reads 256.
- `prepare_page` + `main_text`: trafilatura's extraction cascade (`trafilatura_sequence`,
  comments off) in two parts, so that the full extraction run after the fast one on some
  pages starts from the fast one's pruned page instead of pruning it again; no
  copy of the page in `bare_extraction` (the caller's tree is pruned in place), one
  `Extractor` per configuration, and the recall-escalation test's page text
  (`html2txt`, 3.9 ms a call on a third of the pages) is only computed when cheap bounds
  of its length (`html2txt_length_bound`, then `html2txt_length_bounds`) leave the test
  undecided (`short_of_page_text`); the first
  prunes' XPaths (a regular-expression test on each element, 2.3 ms a page together) run
  only when the page's class and id values hold what they test for (`prune_raw_tree`); the
  main extractor's body and discard XPaths and the comment prune run as Python equivalents
  (support/xpath_equivalents.py, `extractor_functions`: trafilatura's own functions with
  those equivalents in their globals).

This copies the control flow of trafilatura 2.3.1's `trafilatura_sequence`, the end of its
`bare_extraction` and its `load_html`, and reads private names of it. pyproject allows
trafilatura 2.3.x, so `copy_matches_trafilatura` (once a process) checks that the installed
one's sources of what is copied hash to the recorded ones and that the names read are there;
when not, the three functions above run trafilatura's own `load_html` and `bare_extraction`
(slower, same texts but for the departure below, and a page nested deeper than 256 levels
is read only in part, never rejected as too_complex) and one warning says so.
tests/test_main_text.py checks the texts equal trafilatura's and fails when the check does
(read the new source, then update the copy and the recorded hashes).

One departure from trafilatura, on purpose: the body container its main extractor chooses
takes the later containers of the same kind (support/body_siblings.py), so that a body
split around ads (wired.com) is read whole; on a page without them the texts are the same.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import importlib
import inspect
import logging
import re
import types
import unicodedata
from copy import copy
from typing import Any

from newsbeam.transforms.support.body_siblings import WithSiblingBodies
from newsbeam.transforms.support.built_cache import built, package_file
from newsbeam.transforms.support.xpath_equivalents import EQUIVALENT_KEYS, equivalent, xpath_key

log = logging.getLogger(__name__)

# The trafilatura release copied here; pyproject's floor for trafilatura is this release
# (tests/test_packaging.py), since an older one runs trafilatura's own path, which lacks
# the deeper parse (`html_parser`).
COPIED_TRAFILATURA = "2.3.1"

# The first 16 hex digits of the SHA-1 of trafilatura 2.3.1's source (`inspect.getsource`) of
# each function copied here, or whose exact behaviour a shortcut here relies on: the
# cascade and the end of bare_extraction (prepare_page, main_text), load_html (parse_html),
# html2txt and what it calls (html2txt_length and its bound), prune_unwanted_nodes
# (prune_raw_tree skips XPaths that select nothing). By "module:function".
RECORDED_SOURCES = {
    "trafilatura.core:trafilatura_sequence": "0dc10fc96543a3b5",
    "trafilatura.core:bare_extraction": "256616fcd1f1ee59",
    "trafilatura.core:_prepare_tree": "bfc95d6a60d54c9a",
    "trafilatura.utils:load_html": "6b704c671124ecd5",
    "trafilatura.utils:repair_faulty_html": "e2c5230791ae4582",
    "trafilatura.baseline:html2txt": "f944bfbfa102d785",
    "trafilatura.baseline:basic_cleaning": "192f4d035ee65594",
    "trafilatura.baseline:_spaced_text": "cbda97290f511bfd",
    "trafilatura.htmlprocessing:prune_unwanted_nodes": "8eda45b1b12f6bf2",
    # run with other globals (`extractor_functions`): how each reads the XPaths replaced
    "trafilatura.main_extractor:prune_unwanted_sections": "d8b49b8a2d271f21",
    "trafilatura.main_extractor:_extract": "ecbdddb80470f201",
    "trafilatura.main_extractor:recover_wild_text": "7743f8acf21e6ec1",
    "trafilatura.main_extractor:extract_content": "e1e42929057d236f",
    "trafilatura.core:_extract_and_compare": "0403601160963820",
    "trafilatura.core:_recall_retry": "f7a613d7d2e8b15f",
}

# Every trafilatura name this module reads, by module (tests/test_main_text.py checks that
# none is missing from here): a trafilatura without one of them takes the stock path
# instead of failing on the first page.
TRAFILATURA_NAMES = {
    "trafilatura.core": (
        "ESCALATION_ACCEPT_RATIO",
        "ESCALATION_JUSTEXT_RATIO",
        "ESCALATION_MAX_LENGTH",
        "ESCALATION_PAGE_SHARE",
        "RAW_TREE_PRUNE_XPATH",
        "REMOVE_COMMENTS_AND_LISTS_XPATH",
        "REMOVE_COMMENTS_XPATH",
        "_extract_and_compare",
        "_forum_thread_page",
        "_prepare_tree",
        "_recall_retry",
        "baseline",
        "justext_rescue",
    ),
    "trafilatura.utils": (
        "DOCTYPE_TAG",
        "FAULTY_HTML",
        "HTML_PARSER",
        "decode_file",
        "handle_compressed_file",
        "is_dubious_html",
        "load_html",
        "repair_faulty_html",
    ),
    "trafilatura.baseline": ("_BLOCK_ELEMS", "_spaced_text", "html2txt"),
    "trafilatura.htmlprocessing": ("convert_tags", "prune_unwanted_nodes", "tree_cleaning"),
    "trafilatura.main_extractor": (
        "BODY_XPATH",
        "DISCARD_IMAGE_ELEMENTS",
        "OVERALL_DISCARD_XPATH",
        "TEASER_DISCARD_XPATH",
        "_extract",
        "extract_content",
        "prune_unwanted_sections",
        "recover_wild_text",
    ),
    "trafilatura.settings": ("BASIC_CLEAN_XPATH", "Extractor"),
    "trafilatura.xml": ("delete_element", "xmltotxt"),
}


def source_hash(function: Any) -> str:
    """The start of the SHA-1 of a function's source, as in `RECORDED_SOURCES`."""
    return hashlib.sha1(inspect.getsource(function).encode()).hexdigest()[:16]


def trafilatura_differences() -> list[str]:
    """What differs between the installed trafilatura and the one copied here (none: [])."""
    found = []
    for module_name, names in TRAFILATURA_NAMES.items():
        module = importlib.import_module(module_name)
        found += [f"no {module_name}.{name}" for name in names if not hasattr(module, name)]
    for qualified, recorded in RECORDED_SOURCES.items():
        module_name, _, name = qualified.partition(":")
        function = getattr(importlib.import_module(module_name), name, None)
        if function is None or source_hash(function) != recorded:
            found.append(f"{qualified} changed")
    core, settings = (importlib.import_module(f"trafilatura.{m}") for m in ("core", "settings"))
    prunes = core.RAW_TREE_PRUNE_XPATH + core.REMOVE_COMMENTS_AND_LISTS_XPATH
    if sorted(map(xpath_key, prunes)) != sorted(_PRUNE_PREFILTERS):
        found.append("the raw-tree prune XPaths changed")
    if xpath_key(settings.BASIC_CLEAN_XPATH) != _BASIC_CLEAN_KEY:
        found.append("BASIC_CLEAN_XPATH changed")
    if _HTML_PARSER_SOURCE not in inspect.getsource(importlib.import_module("trafilatura.utils")):
        found.append("HTML_PARSER's options changed")
    main_extractor = importlib.import_module("trafilatura.main_extractor")
    replaced = [
        *main_extractor.BODY_XPATH,
        *main_extractor.OVERALL_DISCARD_XPATH,
        *main_extractor.TEASER_DISCARD_XPATH,
        *main_extractor.DISCARD_IMAGE_ELEMENTS,
        *core.REMOVE_COMMENTS_AND_LISTS_XPATH,
    ]
    if not EQUIVALENT_KEYS <= {xpath_key(expression) for expression in replaced}:
        found.append("the body, discard or comment-prune XPaths changed")
    return found


@functools.lru_cache(maxsize=1)
def copy_matches_trafilatura() -> bool:
    """True when the installed trafilatura is the one this module copies (see above); else
    (any difference, or the check fails) False and one warning. Checked once a process (8 ms
    of CPU, mostly reading and tokenizing trafilatura's sources); then a cached value (40 ns
    a call: parse_html and prepare_page ask it on each page)."""
    try:
        differences = trafilatura_differences()
    except Exception as error:  # whatever a different trafilatura breaks: not the copy's
        differences = [f"the check failed: {error!r}"]
    if differences:
        log.warning(
            "trafilatura %s differs from the %s code that %s copies (%s): the extract "
            "stage runs trafilatura's own load_html and bare_extraction, slower (about 1.6x "
            "its CPU), same texts but a body split into containers of one kind, and a page "
            "nested deeper than 256 levels, read in part (never rejected as too_complex)",
            _trafilatura_version(),
            COPIED_TRAFILATURA,
            __name__,
            "; ".join(differences[:3]) + ("; ..." if len(differences) > 3 else ""),
        )
    return not differences


def load_justext_stoplist() -> int:
    """Build now what trafilatura's justext fallback builds on its first page: the stoplist of
    all its languages (`trafilatura.external.JT_STOPLIST`, ~154k words) and justext's
    lower-cased set of it (`define_stoplist`'s cache); the words in that set.

    Both stay for the life of the process (a module global, an lru_cache): ~28 MB of small
    strings, and building them allocates twice that and frees it again. Built in the worker
    template (`_Extract.warm_up`), the workers forked from it share one copy instead of each
    building its own while it extracts. The stoplist is read back from the cache of built
    objects when an earlier run built it (support/built_cache.py: ~0.02 s instead of ~0.08 s);
    its order is the set's, which no result depends on (justext takes it as a set)."""
    external = importlib.import_module("trafilatura.external")
    justext_core = importlib.import_module("justext.core")
    if not external.JT_STOPLIST:
        sources = [package_file("trafilatura"), package_file("justext")]
        stoplist = built("justext_stoplist", None, external.jt_stoplist_init, sources)
        setattr(external, "JT_STOPLIST", stoplist)  # noqa: B010  (trafilatura reads its global)
    return len(justext_core.define_stoplist(external.JT_STOPLIST))


# trafilatura drops every character `str.isprintable` refuses from the text it extracts
# (`utils.remove_control_characters`, "prevent non-printable and XML invalid character
# errors"), and that is more than lxml refuses: the zero-width joiner and non-joiner
# (Persian "می‌خواهد", Hindi's half forms, "🤹‍♀️" became "🤹♀️" on an AEB page), the
# left-to-right and right-to-left marks, the tag characters of a flag's emoji, and every
# character newer than Python's Unicode tables (Unicode 15's emoji: "🩷"). A text file
# kept them all; a page lost them. Kept here are the format characters (the clean stage
# drops those that say nothing: zero-width space, soft hyphen, bidirectional embeddings)
# and unassigned code points; dropped still are the controls, private-use characters (icon
# fonts' glyphs) and what XML cannot hold (surrogates, U+FFFE, U+FFFF).
_KEPT_CATEGORIES = frozenset({"Cf", "Cn"})
_NOT_XML = frozenset("\ufffe\uffff")


@functools.lru_cache(maxsize=2**14)
def _kept_character(char: str) -> str:
    if char.isprintable() or char.isspace():
        return char
    if unicodedata.category(char) in _KEPT_CATEGORIES and char not in _NOT_XML:
        return char
    return ""


def text_characters(string: str) -> str:
    """`string` without the characters trafilatura's `remove_control_characters` must drop
    (controls, private use, surrogates, U+FFFE/U+FFFF), its format characters and
    unassigned code points kept (see above)."""
    if string.isprintable():
        return string
    return "".join(map(_kept_character, string))


@functools.cache
def keep_text_characters() -> None:
    """Make trafilatura drop only what `text_characters` drops: its `utils` and `baseline`
    modules read `remove_control_characters` as a global, replaced here once a process
    (the cache of lines it cleaned before is emptied)."""
    utils = importlib.import_module("trafilatura.utils")
    baseline = importlib.import_module("trafilatura.baseline")
    for module in (utils, baseline):
        if hasattr(module, "remove_control_characters"):
            setattr(module, "remove_control_characters", text_characters)  # noqa: B010
    utils.line_processing.cache_clear()


def _trafilatura_version() -> str:
    try:
        return importlib.import_module("trafilatura").__version__
    except Exception:  # a version string is only for the message
        return "(unknown version)"


# load_html's repair step deletes the characters U+0000-U+0008, U+000B, U+000C,
# U+000E-U+001F, U+FFFE and U+FFFF. In UTF-8 the first ones are these single bytes (no byte
# of a multi-byte sequence is below 0x80); the last two are looked for in the decoded text
# (where a search for one character is a memchr, and none in a Latin-1-only text).
_XML_INVALID_BYTES = bytes([*range(0x00, 0x09), 0x0B, 0x0C, *range(0x0E, 0x20)])


def holds_xml_invalid_characters(data: bytes, text: str) -> bool:
    """True when a page (its UTF-8 bytes and their text) holds a character that `load_html`
    deletes (see above)."""
    return (
        len(data.translate(None, _XML_INVALID_BYTES)) != len(data)
        or "\ufffe" in text
        or "\uffff" in text
    )


# trafilatura's parser, as utils.py makes it; html_parser() makes one with the same options.
_HTML_PARSER_SOURCE = (
    'HTML_PARSER = HTMLParser(collect_ids=False, default_doctype=False, encoding="utf-8", '
    "remove_comments=True, remove_pis=True)"
)


# How deep the parser reads nested markup (libxml2 with XML_PARSE_HUGE).
MAX_DEPTH = 2048


class TooDeep(ValueError):
    """The page nests its markup deeper than the parser reads (`MAX_DEPTH`): it stopped
    there, and the rest of the page is not in the tree."""


@functools.lru_cache(maxsize=1)
def html_parser() -> Any:
    """A parser with the options of trafilatura's `HTML_PARSER`, whose elements are
    lxml.html's HtmlElement through lxml's class lookup in C. lxml.html's own parser asks a
    Python method for the class of every element the code touches (~1,900 a page, through
    trafilatura's whole extraction; ~12% of the extract stage's CPU) only to give
    `<form>`, `<input>`, `<select>`, `<textarea>` and `<label>` their form-handling
    subclasses, which nothing here uses: the same trees, the same texts
    (benchmarks/check_main_text.py)."""
    from lxml import etree, html

    parser = etree.HTMLParser(
        collect_ids=False,
        default_doctype=False,
        encoding="utf-8",
        remove_comments=True,
        remove_pis=True,
        # trafilatura's parser stops at 256 levels of nesting (libxml2's default) and drops
        # the rest of the page without a word; a legacy page's unclosed <font> or <div>
        # tags nest that deep. XML_PARSE_HUGE reads 2,048 (`MAX_DEPTH`); the page's size
        # stays bounded by the read stage and its markup by `--max_html_tags`.
        huge_tree=True,
    )
    parser.set_element_class_lookup(
        etree.ElementDefaultClassLookup(
            element=html.HtmlElement,
            comment=html.HtmlComment,
            pi=html.HtmlProcessingInstruction,
            entity=html.HtmlEntity,
        )
    )
    return parser


def parse_html(data: bytes) -> Any:
    """`trafilatura.utils.load_html(data)`: the same tree, or None.

    On a (decompressed) UTF-8 page that holds no character load_html's repair deletes, the
    repair's other two steps (a DOCTYPE with a slash on the first line, a self-closing
    `<html/>`) are done here and the text parsed with load_html's parser options
    (`html_parser`); a page that is not UTF-8 or holds such a character is read by
    `_load_html_deep` (load_html's steps with that parser); a page whose parse is not
    plainly a page with an `<html>` in its first 50 characters (load_html's fallbacks and
    rejection) is parsed by load_html. Raises TooDeep for a page nested deeper than the
    parser reads (`html_parser`: 2,048 levels, where trafilatura's reads 256)."""
    from lxml.html import fromstring
    from trafilatura import utils as tu

    if not copy_matches_trafilatura():
        return tu.load_html(data)
    raw = tu.handle_compressed_file(data)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError:
        return _load_html_deep(data)
    beginning = text[:50].lower()
    if tu.is_dubious_html(beginning):
        return tu.load_html(data)
    if holds_xml_invalid_characters(raw, text):
        return _load_html_deep(data)
    parser = html_parser()
    try:
        source = utf8_source(raw, text, _repair_faulty_html(text, beginning))
        tree = fromstring(source, parser=parser)
    except Exception:  # load_html's fallbacks, and its logging, take over
        return tu.load_html(data)
    if any(error.message.startswith("Excessive depth") for error in parser.error_log):
        raise TooDeep(f"markup nested deeper than {MAX_DEPTH:,} levels")
    if len(tree) < 1:
        return tu.load_html(data)
    return tree


def utf8_source(raw: bytes, text: str, repaired: str) -> bytes | str:
    """What `parse_html` hands the parser for `repaired`, the UTF-8 page `raw` (decoded:
    `text`) as `_repair_faulty_html` left it: the page's bytes where the repair changed
    nothing or only cut the DOCTYPE from the start (from where it ends), else `repaired`.

    The same tree either way (the parser's encoding is UTF-8, and a page's own charset
    declaration is not read over it), for less work: lxml hands libxml2 a str in its
    internal form, UCS-2 for 392 of the 439 distinct pages (any character past Latin-1, a
    curly quote), twice the bytes to read and convert back to UTF-8 (~0.2 ms a page of the
    parse's ~1.2 ms). A text opening with an XML declaration stays a str: lxml refuses one
    that names an encoding, and load_html's path reads it then (as before)."""
    if repaired.startswith("<?xml"):
        return repaired
    cut = len(text) - len(repaired)
    if cut == 0 and repaired == text:
        return raw
    if cut > 0 and text.endswith(repaired):
        return raw[len(text[:cut].encode("utf-8")) :]
    return repaired


def _load_html_deep(data: bytes) -> Any:
    """`trafilatura.utils.load_html(data)` (2.3.1's steps: decode by the page's charset,
    repair, parse, the same rejection) with `html_parser`: a legacy page (Latin-1, say) or
    one holding a control character nests as deep as a UTF-8 one is read (trafilatura's
    parser stopped at 256 levels and dropped the rest of the page without a word, and a
    page past 2,048 was kept with its beginning only). TooDeep past `MAX_DEPTH`; a parse
    that fails or finds nothing goes to load_html itself (its byte-level fallbacks)."""
    from lxml.html import fromstring
    from trafilatura import utils as tu

    text = tu.decode_file(data)
    beginning = text[:50].lower()
    dubious = tu.is_dubious_html(beginning)
    text = tu.repair_faulty_html(text, beginning)
    parser = html_parser()
    try:
        tree = fromstring(text, parser=parser)
    except Exception:  # an encoding declaration in a str, and the like: load_html's paths
        return tu.load_html(data)
    if any(error.message.startswith("Excessive depth") for error in parser.error_log):
        raise TooDeep(f"markup nested deeper than {MAX_DEPTH:,} levels")
    if len(tree) < 1:
        return tu.load_html(data)
    return None if dubious and len(tree) < 2 else tree


def _repair_faulty_html(htmlstring: str, beginning: str) -> str:
    """trafilatura's `repair_faulty_html` for a text without XML-invalid characters (its first
    step, deleting them, changes nothing there)."""
    from trafilatura import utils as tu

    if "doctype" in beginning:
        firstline, _, rest = htmlstring.partition("\n")
        htmlstring = tu.DOCTYPE_TAG.sub("", firstline, count=1) + "\n" + rest
    for line in htmlstring[:4096].splitlines()[:4]:
        if "<html" in line and line.endswith("/>"):
            htmlstring = tu.FAULTY_HTML.sub(r"\1>", htmlstring, count=1)
            break
    return htmlstring


@functools.lru_cache(maxsize=8)
def extractor(fast: bool, tables: bool, precision: bool) -> Any:
    """bare_extraction's `Extractor` for NewsBeam's arguments (comments off, text output),
    made once: reading trafilatura's settings for each page cost 0.1 ms. Read only."""
    from trafilatura.settings import Extractor

    return Extractor(
        output_format="python", fast=fast, comments=False, tables=tables, precision=precision
    )


def rebound(function: Any, **names: Any) -> Any:
    """trafilatura's `function` itself (its code and defaults) reading these `names` instead
    of its module's globals of the same names; the module is left as it is."""
    copied = types.FunctionType(
        function.__code__,
        {**function.__globals__, **names},
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    copied.__kwdefaults__ = function.__kwdefaults__
    return copied


@dataclasses.dataclass(frozen=True)
class ExtractorFunctions:
    """trafilatura's `_extract_and_compare` and `_recall_retry`, run on XPath equivalents."""

    extract_and_compare: Any
    recall_retry: Any


@functools.lru_cache(maxsize=1)
def extractor_functions() -> ExtractorFunctions:
    """trafilatura's `_extract_and_compare` and `_recall_retry`, down to its main extractor's
    `_extract` and `prune_unwanted_sections`, with the Python equivalents of the body,
    discard, teaser and caption XPaths (support/xpath_equivalents.py) in place of the
    XPaths: the same elements for a third of their CPU (their `re:test` calls were ~3 ms a
    page). trafilatura's own functions, not copies: their sources are pinned in
    RECORDED_SOURCES (how they read the XPaths: `_extract` takes the first element of a body
    XPath's result, which `WithSiblingBodies` hands over with its sibling bodies)."""
    from trafilatura import core
    from trafilatura import main_extractor as me

    def equivalents(expressions: list[Any]) -> list[Any]:
        return [equivalent(expression) for expression in expressions]

    prune_sections = rebound(
        me.prune_unwanted_sections,
        OVERALL_DISCARD_XPATH=equivalents(me.OVERALL_DISCARD_XPATH),
        TEASER_DISCARD_XPATH=equivalents(me.TEASER_DISCARD_XPATH),
        DISCARD_IMAGE_ELEMENTS=equivalents(me.DISCARD_IMAGE_ELEMENTS),
    )
    # not trafilatura's: the first body container takes the later ones of its kind
    # (support/body_siblings.py), or a body split around ads keeps its first part only
    body = [WithSiblingBodies(expression) for expression in equivalents(me.BODY_XPATH)]
    extract = rebound(me._extract, BODY_XPATH=body, prune_unwanted_sections=prune_sections)
    recover = rebound(me.recover_wild_text, prune_unwanted_sections=prune_sections)
    content = rebound(me.extract_content, _extract=extract, recover_wild_text=recover)
    compare = rebound(core._extract_and_compare, extract_content=content)
    return ExtractorFunctions(compare, rebound(core._recall_retry, _extract_and_compare=compare))


def html2txt_length_bound(tree: Any) -> int:
    """An upper bound of `len(trafilatura.baseline.html2txt(tree))`, without its copy of the
    page and its cleaning (an XPath with a regular-expression test on every element).

    html2txt joins by single spaces the whitespace-separated words of the text of the page's
    `<body>` (of `tree` when it has none) once `basic_cleaning` has deleted elements (their
    tail text kept) and a space is put before the text and the tail of each block element.
    Deleting a stretch of text never adds a word or a non-space character, and each of those
    spaces splits at most one word in two; so the result has at most the non-space
    characters of the uncleaned text and its words plus two per block element, and its
    length is at most the one of those characters and words less one."""
    from trafilatura.baseline import _BLOCK_ELEMS

    body = tree.find(".//body")
    if body is None:
        body = tree
    words = body.text_content().split()
    blocks = sum(1 for _ in body.iter(*_BLOCK_ELEMS))
    return max(0, sum(map(len, words)) + len(words) + 2 * blocks - 1)


# What a page's class and id values (one a line) hold whenever one of trafilatura's raw-tree
# prunes can select an element: each XPath requires a class or id its `re:test` or
# `contains` accepts (lxml's re:test is Python's `re.search`). By the key of the XPath's
# text (`xpath_key`): an XPath trafilatura changes has no entry and always runs. The words,
# one of which the values must hold for the regular expression to match, spare most pages
# the regular expressions' scan. The expressions are searched in the values after a line
# break (so "\n" starts a value, where the XPath's "^" does) and each opens with a literal
# (a lookbehind names what precedes it): Python's regular expressions skip to the
# literal's occurrences, where an alternation at the top tried a match at every character
# (the comments' expression scanned a page's values at ~0.25 ms, on 234 of the 439
# distinct pages, ~20 times these).
_PRUNE_PREFILTERS: dict[str, tuple[tuple[str, ...], tuple[re.Pattern[str], ...]]] = {
    # RAW_TREE_PRUNE_XPATH[0]: re:test(@id, P) or re:test(@class, P), infinite-scroll boxes;
    # P: mvp-post-add-(?:box|wrap)|infinite-?scroll
    "c15751070b078a64": (
        ("mvp-post-add-", "infinite"),
        (re.compile("mvp-post-add-(?:box|wrap)"), re.compile("infinite-?scroll")),
    ),
    # RAW_TREE_PRUNE_XPATH[1]: contains(@class, 'elementor-share-buttons')
    "12b073ccb20e9633": (("elementor-share-buttons",), (re.compile("elementor-share-buttons"),)),
    # REMOVE_COMMENTS_AND_LISTS_XPATH[0]: re:test(@id, ID) or re:test(@class, CLASS); ID:
    # ^(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments), CLASS:
    # ^[Cc]omment(?!ary)|(?:article|post)-comments
    "7e7d885e629a5119": (
        ("omment", "comol", "disqus_thread", "dsq-comments"),
        (
            re.compile("\n(?:[Cc]omment(?!ary)|comol|disqus_thread|dsq-comments)"),
            re.compile("(?:(?<=article)|(?<=post))-comments"),
        ),
    ),
}


def may_select(key: str, ids_and_classes: str) -> bool:
    """False when the prune XPath of this key can select nothing in a page with these class
    and id values (one a line); True when it may, or has no prefilter."""
    prefilter = _PRUNE_PREFILTERS.get(key)
    if prefilter is None:
        return True
    words, patterns = prefilter
    if not any(word in ids_and_classes for word in words):
        return False
    lines = "\n" + ids_and_classes
    return any(pattern.search(lines) for pattern in patterns)


@functools.lru_cache(maxsize=1)
def _id_and_class_xpath() -> Any:
    from lxml.etree import XPath

    return XPath("//@class|//@id", smart_strings=False)


def id_and_class_values(tree: Any) -> str:
    """Every class and id attribute value of the tree's document, one a line."""
    return "\n".join(_id_and_class_xpath()(tree))


def prune_raw_tree(tree: Any, expressions: list[Any], ids_and_classes: str) -> Any:
    """`prune_unwanted_nodes(tree, expressions)`, in place, without the XPaths that a
    prefilter (`_PRUNE_PREFILTERS`) shows can select nothing: `ids_and_classes` holds the
    tree's class and id values (`id_and_class_values` of it or of a tree it was pruned
    from: pruning removes elements, never changes an attribute)."""
    from trafilatura.htmlprocessing import prune_unwanted_nodes

    needed = [equivalent(x) for x in expressions if may_select(xpath_key(x), ids_and_classes)]
    return prune_unwanted_nodes(tree, needed) if needed else tree


# trafilatura's `BASIC_CLEAN_XPATH` (html2txt's cleaning: asides, footers, ..., and consent
# banners by a case-insensitive regular-expression test of each element's class and id),
# by its key, and what it is on a page whose class and id values the test accepts none of.
_BASIC_CLEAN_KEY = "841f8efcd6f3ebba"
_CONSENT = re.compile(
    "cookie[-_]?(?:banner|bar|consent|law|notice|policy|description)|notice[-_]{0,2}cookie"
    "|consent[-_]?(?:banner|manager|sdk)|borlabs|cookiebot|cmplz|onetrust|moove[-_]?gdpr",
    re.IGNORECASE,
)
# `_CONSENT` without its case folding, for lowercased ASCII text (its letters are lowercase).
_CONSENT_FOLDED = re.compile(_CONSENT.pattern)


def names_consent_banner(ids_and_classes: str) -> bool:
    """Whether `_CONSENT` matches in the class and id values (one a line). ASCII values (414
    of the 439 distinct pages) are lowercased and searched case-sensitively, where a
    case-insensitive match is the same match: the case-insensitive search gets no quick
    skip to the letters its alternatives start with, and scanned the values at ~0.7 ms a
    page (~2 ms on a page that reaches html2txt_length, half of that function's time),
    five times the lowercased search's time."""
    if ids_and_classes.isascii():
        return _CONSENT_FOLDED.search(ids_and_classes.lower()) is not None
    return _CONSENT.search(ids_and_classes) is not None


@functools.lru_cache(maxsize=1)
def _basic_clean_without_consent_xpath() -> Any:
    from lxml.etree import XPath

    return XPath(
        ".//aside|.//div[contains(@class|@id, 'footer')]|.//fencedframe|.//footer|.//script"
        "|.//style|.//svg|.//template"
    )


def html2txt_length(tree: Any, ids_and_classes: str) -> int:
    """`len(trafilatura.baseline.html2txt(tree))`; `ids_and_classes` holds the tree's class
    and id values (see `prune_raw_tree`). On a page with no consent-banner class or id,
    html2txt's cleaning XPath without its regular-expression test (which selects nothing
    there) selects the same elements, in the same order, without a Python call per element
    (when `copy_matches_trafilatura`: BASIC_CLEAN_XPATH is the one copied)."""
    from trafilatura.baseline import _spaced_text, html2txt
    from trafilatura.xml import delete_element

    if not copy_matches_trafilatura() or names_consent_banner(ids_and_classes):
        return len(html2txt(tree))
    page = copy(tree)  # html2txt's steps from here on, with the cheaper XPath
    body = page.find(".//body")
    if body is None:
        body = page
    for element in _basic_clean_without_consent_xpath()(body):
        delete_element(element)
    return len(_spaced_text(body))


def html2txt_length_bounds(tree: Any, ids_and_classes: str) -> tuple[int, int]:
    """A lower and an upper bound of `len(trafilatura.baseline.html2txt(tree))` that count
    what its cleaning deletes, without its copy of the page, deletions and per-block
    spacing (~3 ms a page where `html2txt_length_bound` leaves the escalation test open);
    `ids_and_classes` as in `html2txt_length`.

    html2txt's length is N + W - 1 (0 without a word): N the non-space characters and W the
    words of its text. The cleaning deletes the elements its XPath selects (their tails
    kept): N loses exactly their non-space characters, and deleting a run C between A and B
    leaves between words(A C B) - words(C) - 1 and words(A C B) - words(C) + 2 words (a
    word of C can join the words at either end, and A and B can join). Then each block
    element's text and tail get a leading space (at most two more words a block, no
    fewer), and trafilatura's `remove_control_characters` (`text_characters` here) drops
    non-space characters that are not printable (a character and at most a word each)."""
    from trafilatura.baseline import _BLOCK_ELEMS
    from trafilatura.settings import BASIC_CLEAN_XPATH

    body = tree.find(".//body")
    if body is None:
        body = tree
    words_of_text = body.text_content().split()
    visible = "".join(words_of_text)  # the non-space characters
    characters, words = len(visible), len(words_of_text)
    # isprintable is False for any whitespace but the space: asked of the text without it
    dropped = 0 if visible.isprintable() else sum(not char.isprintable() for char in visible)
    blocks = sum(1 for _ in body.iter(*_BLOCK_ELEMS))
    uncleaned = characters + words + 2 * blocks - 1  # html2txt_length_bound's
    if names_consent_banner(ids_and_classes):
        selected = BASIC_CLEAN_XPATH(body)
    else:
        selected = _basic_clean_without_consent_xpath()(body)
    chosen = set(selected)
    deleted = 0
    for element in selected:
        if any(ancestor in chosen for ancestor in element.iterancestors()):
            continue  # deleted with its ancestor
        deleted += 1
        gone_characters, gone_words = _characters_and_words(element.text_content())
        characters -= gone_characters
        words -= gone_words
        blocks -= sum(1 for _ in element.iter(*_BLOCK_ELEMS))
    lower = characters - dropped + max(0, words - deleted - dropped) - 1
    upper = min(uncleaned, characters + words + 2 * deleted + 2 * blocks - 1)
    return max(0, lower), max(0, upper)


def _characters_and_words(text: str) -> tuple[int, int]:
    """The non-space characters and the words of a text (str.split's)."""
    words = text.split()
    return sum(map(len, words)), len(words)


def short_of_page_text(length: int, share: float, tree: Any, ids_and_classes: str) -> bool:
    """`length < share * len(trafilatura.baseline.html2txt(tree))`, the recall-escalation
    test, decided by the cheapest of `html2txt_length_bound`, `html2txt_length_bounds` and
    `html2txt_length` that decides it (on the 439 distinct pages, 54 extractions pass the
    first bound and the second decides 47 of them). `ids_and_classes` as in
    `html2txt_length`."""
    if not length < share * html2txt_length_bound(tree):
        return False
    lower, upper = html2txt_length_bounds(tree, ids_and_classes)
    if length < share * lower:
        return True
    if not length < share * upper:
        return False
    return length < share * html2txt_length(tree, ids_and_classes)


@dataclasses.dataclass
class PreparedPage:
    """A page as trafilatura's cascade has pruned and cleaned it, for its extractions.

    `tree`: the caller's page, pruned in place (infinite-scroll containers, share buttons,
    comment sections) and left so by the extractions; `is_forum`: trafilatura's thread-forum
    test of the unpruned page; `converted`: a cleaned and tag-converted copy of the pruned
    page for the fast extraction (used once); `ids_and_classes`: the class and id values of
    the unpruned page (`id_and_class_values`); `failed`: trafilatura gave up on the page;
    `stock`: the page is left as it is for trafilatura's own `bare_extraction` (see
    `copy_matches_trafilatura`)."""

    tree: Any
    is_forum: bool = False
    ids_and_classes: str = ""
    converted: Any = None
    failed: bool = False
    stock: bool = False


def prepare_page(tree: Any, tables: bool = True, precision: bool = False) -> PreparedPage:
    """The steps of `trafilatura_sequence` before its first extractor (which do not depend on
    the fast flag), on the caller's tree: it is pruned in place. With a trafilatura that
    differs from the copy: none, the page as it is for `bare_extraction`."""
    from trafilatura import core
    from trafilatura.htmlprocessing import convert_tags, tree_cleaning

    if not copy_matches_trafilatura():
        return PreparedPage(tree, stock=True)
    options = extractor(True, tables, precision)
    try:
        is_forum = core._forum_thread_page(tree)
        ids_and_classes = id_and_class_values(tree)
        tree = prune_raw_tree(tree, core.RAW_TREE_PRUNE_XPATH, ids_and_classes)
        if options.focus == "precision" or not is_forum:
            tree = prune_raw_tree(tree, core.REMOVE_COMMENTS_AND_LISTS_XPATH, ids_and_classes)
        # _prepare_tree without its copy of the cleaned page, which only the full
        # extraction reads (it makes its own, see _cleaned_trees)
        converted = convert_tags(tree_cleaning(copy(tree), options), options, None)
    except (TypeError, ValueError):  # bare_extraction's "discarding data": no text
        return PreparedPage(tree, failed=True)
    return PreparedPage(tree, is_forum, ids_and_classes, converted)


def main_text(page: PreparedPage, fast: bool, tables: bool = True, precision: bool = False) -> str:
    """`bare_extraction(page, fast=fast, include_comments=False, include_tables=tables,
    favor_precision=precision).text` of the page `prepare_page` started from ("" for None).
    Call it for the fast extraction first, then (if at all) for the full one."""
    from trafilatura.xml import xmltotxt

    if page.stock:
        return _stock_main_text(page.tree, fast, tables, precision)
    options = extractor(fast, tables, precision)
    if page.failed:
        return ""
    try:
        postbody, temp_text = _cascade(page, options)
    except (TypeError, ValueError):  # bare_extraction's "discarding data"
        return ""
    # bare_extraction's size check (no comments: their length 0 is under any minimum above 0)
    if len(temp_text) < options.min_output_size and 0 < options.min_output_comm_size:
        return ""
    return xmltotxt(postbody, options.formatting)


def _stock_main_text(tree: Any, fast: bool, tables: bool, precision: bool) -> str:
    """trafilatura's own `bare_extraction(...).text` ("" for None), as the extract stage
    called it before this module. On a copy: the page serves the fast and the full
    extraction, and only trafilatura 2.3 is known to copy the tree it is given."""
    from trafilatura import bare_extraction

    extracted = bare_extraction(
        copy(tree),
        fast=fast,
        include_comments=False,
        include_tables=tables,
        favor_precision=precision,
        with_metadata=False,
    )
    return (getattr(extracted, "text", None) or "") if extracted is not None else ""


def _cleaned_trees(page: PreparedPage, options: Any) -> tuple[Any, Any]:
    """The cleaned, tag-converted page for one extraction and the cleaned page before
    conversion (`_prepare_tree`'s two results): for the fast extraction, the converted page
    `prepare_page` made and None (the fast extraction never reads the other); for the full
    one, both made anew from the pruned page."""
    from trafilatura import core

    if options.fast and page.converted is not None:
        converted, page.converted = page.converted, None
        return converted, None
    return core._prepare_tree(page.tree, options, None)


def _cascade(page: PreparedPage, options: Any) -> tuple[Any, str]:
    """`trafilatura_sequence` from its first extractor on, comments off (no comment capture,
    no forum-post salvage: both need comments), with its recall-escalation test decided by
    `html2txt_length_bound` where that suffices."""
    from trafilatura import core
    from trafilatura.htmlprocessing import prune_unwanted_nodes

    tree = page.tree
    cleaned_tree, cleaned_tree_backup = _cleaned_trees(page, options)
    if options.focus == "precision" and not page.is_forum:
        cleaned_tree = prune_unwanted_nodes(cleaned_tree, core.REMOVE_COMMENTS_XPATH)
    functions = extractor_functions()
    postbody, temp_text = functions.extract_and_compare(
        cleaned_tree, cleaned_tree_backup, tree, options
    )

    # 3. rescue: baseline on the original tree, accepted only if it adds text
    if len(temp_text) < options.min_extracted_size and options.focus != "precision":
        b_body, b_text, b_len = core.baseline(tree)  # baseline copies element inputs
        if b_len > len(temp_text):
            postbody, temp_text = b_body, b_text

    # 4. recall escalation; the page text's share first by its cheap upper bound: when the
    # extraction is at least that share of the bound, it is of the page text too.
    share = core.ESCALATION_PAGE_SHARE
    if (
        options.focus == "balanced"
        and 0 < len(temp_text) < core.ESCALATION_MAX_LENGTH
        and short_of_page_text(len(temp_text), share, tree, page.ids_and_classes)
    ):
        r_options = copy(options)
        r_options.focus = "recall"
        esc_tree = tree  # comments off: pruned of them already
        r_text = ""
        try:
            r_body, r_text = functions.recall_retry(esc_tree, r_options, None)
        except Exception as err:  # pragma: no cover  (as trafilatura)
            log.debug("recall retry failed: %s", err)
        j_text = ""
        if not options.fast:
            try:
                j_body, j_text = core.justext_rescue(copy(esc_tree), options)
            except Exception as err:  # pragma: no cover  (as trafilatura)
                log.debug("justext candidate failed: %s", err)
        len_text, r_len, j_len = len(temp_text), len(r_text), len(j_text)
        if j_len > r_len and j_len > core.ESCALATION_JUSTEXT_RATIO * len_text:
            postbody, temp_text = j_body, j_text
        elif (
            r_len >= options.min_extracted_size and r_len > core.ESCALATION_ACCEPT_RATIO * len_text
        ):
            postbody, temp_text = r_body, r_text
    return postbody, temp_text
