"""support/authors.py: a page's authors mended from its own meta tags (no Beam)."""

from __future__ import annotations

from lxml.html import fromstring

from newsbeam.transforms.extract import html_metadata, schema_blocks
from newsbeam.transforms.support.authors import (
    head_metas,
    linked_author,
    meta_author_values,
    organisation_names,
    surname_first,
    tidy_authors,
    without_byline,
    written_by,
)


def _page(head: str, body: str = "<p>Text.</p>") -> str:
    return f"<html><head><title>T</title>{head}</head><body>{body}</body></html>"


def test_surname_first() -> None:
    assert surname_first("Castelvecchi, Davide") == "Davide Castelvecchi"
    assert surname_first("Reimer-Johansen, Tôrtia") == "Tôrtia Reimer-Johansen"
    assert surname_first("van der Berg, Jan A.") == "Jan A. van der Berg"
    for not_one_name in ("Davide Castelvecchi", "A, B, C", "Team 7, Sports", "Smith,"):
        assert surname_first(not_one_name) is None


def test_dublin_core_names_written_surname_first_are_whole_people() -> None:
    tags = "".join(
        f'<meta name="dc.creator" content="{name}">'
        for name in ("You, Xiaoying", "Lenharo, Mariana", "Tollefson, Jeff")
    )
    # trafilatura alone: six names, surnames and given names apart.
    page = html_metadata(fromstring(_page(tags)))
    assert page.authors == ["Xiaoying You", "Mariana Lenharo", "Jeff Tollefson"]


def test_an_author_tag_keeps_its_comma_meaning_a_second_credit() -> None:
    # "Name, Organisation" in an `author` tag is not surname first: only Dublin Core and
    # citation tags are read that way.
    assert tidy_authors(["Jill Disis", "Futurism"], [("author", "Jill Disis, Futurism")]) == [
        "Jill Disis",
        "Futurism",
    ]


def test_spelling_given_back_from_the_tag() -> None:
    values = [("author", "Miguel A. Herguedas"), ("author", "nieuwsblad.be")]
    assert tidy_authors(["Miguel A Herguedas", "Nieuwsblad Be"], values) == [
        "Miguel A. Herguedas",
        "nieuwsblad.be",
    ]
    # A handle is not a domain: trafilatura's "Sauli Giliard" stays.
    assert tidy_authors(["Sauli Giliard"], [("author", "sauli.giliard")]) == ["Sauli Giliard"]


def test_one_name_per_person_and_no_url_pieces() -> None:
    found = ["Emma Mackenzie", "Emma-Mackenzie", "Www Washingtontimes Com", "Tom Davies"]
    assert tidy_authors(found, []) == ["Emma Mackenzie", "Tom Davies"]
    # The written name wins over the slug whichever comes first.
    assert tidy_authors(["chuck-ross", "Chuck Ross"], []) == ["Chuck Ross"]


def test_names_joined_by_and_in_other_languages_are_split() -> None:
    joined = ["Trine Juncher Jørgensen og Tôrtia Reimer-Johansen", "Anna Meier und Max Roth"]
    assert tidy_authors(joined, []) == [
        "Trine Juncher Jørgensen",
        "Tôrtia Reimer-Johansen",
        "Anna Meier",
        "Max Roth",
    ]


def test_the_publisher_beside_the_people_is_not_an_author() -> None:
    head = (
        '<meta name="author" content="Condé Nast">'
        '<meta name="author" content="Scott Gilbertson">'
        '<meta name="copyright" content="Copyright (c) Condé Nast 2024">'
        '<meta property="og:site_name" content="WIRED">'
    )
    tree = fromstring(_page(head))
    assert "Copyright (c) Condé Nast 2024" in organisation_names(head_metas(tree))
    assert html_metadata(tree).authors == ["Scott Gilbertson"]
    # Alone, the site's name is the page's only credit: kept.
    alone = head.replace('<meta name="author" content="Scott Gilbertson">', "")
    assert html_metadata(fromstring(_page(alone))).authors == ["Condé Nast"]


def test_json_ld_publisher_names_count_as_the_site() -> None:
    script = (
        '<script type="application/ld+json">{"@type": "NewsArticle", "publisher": '
        '{"@type": "Organization", "name": "Frankfurter Allgemeine Zeitung"}}</script>'
    )
    tree = fromstring(_page(script))
    assert html_metadata(tree).authors == []  # no author: nothing to drop
    publishers = organisation_names([], [tree.find(".//script").text])
    assert publishers == ["Frankfurter Allgemeine Zeitung"]
    names = ["Ralf Euler", "Frankfurter Allgemeine Zeitung"]
    assert tidy_authors(names, [], publishers) == ["Ralf Euler"]


def test_meta_author_values_reads_the_tags_trafilatura_reads() -> None:
    head = (
        '<meta name="author" content="A B">'
        '<meta property="article:author" content="C D">'
        '<meta name="DC.creator" content="E, F">'
        '<meta itemprop="author" content="G H">'
        '<meta name="description" content="not an author">'
    )
    assert meta_author_values(head_metas(fromstring(_page(head)))) == [
        ("author", "A B"),
        ("article:author", "C D"),
        ("dc.creator", "E, F"),
        ("itemprop", "G H"),
    ]


def test_the_twitter_cards_written_by_line_names_the_author() -> None:
    tags = (
        '<meta name="author" content="d.kuckelkorn@boersen-zeitung.de">'  # no name in it
        '<meta name="twitter:label1" content="Geschrieben von">'
        '<meta name="twitter:data1" content="Dieter Kuckelkorn">'
        '<meta name="twitter:label2" content="Geschätzte Lesezeit">'
        '<meta name="twitter:data2" content="3 Minuten">'
    )
    assert html_metadata(fromstring(_page(tags))).authors == ["Dieter Kuckelkorn"]
    misc = '<meta name="twitter:misc:Written by" content="Anna  Sleegers">'
    assert written_by(head_metas(fromstring(_page(misc)))) == ["Anna Sleegers"]
    # Only where the tags trafilatura reads name nobody: they come first.
    both = '<meta name="author" content="Simone Jung">' + tags
    assert html_metadata(fromstring(_page(both))).authors == ["Simone Jung"]
    other = '<meta name="twitter:label1" content="Est. reading time">'
    other += '<meta name="twitter:data1" content="3 minutes">'
    assert written_by(head_metas(fromstring(_page(other)))) == []


def test_json_ld_with_a_context_list_or_the_article_as_a_pages_main_entity() -> None:
    listed = (
        '{"@context": ["http://schema.org", {"asciiDescription": "http://example.org/a"}],'
        ' "@type": "ReportageNewsArticle", "headline": "H",'
        ' "author": [{"@type": "Person", "name": "Joseph Brean"}]}'
    )
    nested = (
        '{"@context": "http://schema.org", "@type": "WebPage", "mainEntity":'
        ' {"@type": "NewsArticle", "headline": "H",'
        ' "author": {"@type": "Person", "name": "Nadja Zinsmeister"},'
        ' "publisher": {"@type": "Organization", "name": "Merkur.de"}}}'
    )
    for script, author in ((listed, "Joseph Brean"), (nested, "Nadja Zinsmeister")):
        head = f'<script type="application/ld+json">{script}</script>'
        assert html_metadata(fromstring(_page(head))).authors == [author]
    blocks = schema_blocks(
        {
            "@context": "https://schema.org",
            "@type": "WebPage",
            "mainEntity": [{"@type": "NewsArticle"}, "not a block"],
        }
    )
    assert [block["@type"] for block in blocks] == ["WebPage", "NewsArticle"]
    assert blocks[1]["@context"] == "https://schema.org"


def test_the_one_person_linked_to_an_author_page_is_the_byline() -> None:
    byline = '<p class="meta">von <a href="/autoren/name/max-kolter">Dr. Max Kolter</a></p>'
    page = fromstring(_page("", byline + "<p>Text.</p>"))
    assert html_metadata(page).authors == ["Dr. Max Kolter"]
    rel = '<a rel="author" href="/writers/roger-gonzalez/"> Roger  Gonzalez </a>'
    assert linked_author(fromstring(_page("", rel))) == ["Roger Gonzalez"]
    # The same person twice (photo and name) is one; two people, a company, a query
    # string's "author", a word that is no name: nobody.
    twice = rel + '<a href="/writers/roger-gonzalez/">Roger Gonzalez</a>'
    assert linked_author(fromstring(_page("", twice))) == ["Roger Gonzalez"]
    for body in (
        '<a href="/author/a-b/">Ann Bell</a> <a href="/author/c-d/">Carl Dahl</a>',
        '<a href="/author/nikkei/">Nikkei Inc.</a>',
        '<a href="/search?author=ann">Ann Bell</a>',
        '<a href="/author/pvmagazinepartners/">News</a>',
        '<a href="/author/x/">view all 12 stories</a>',
        '<a href="http://[::1/author/x">Ann Bell</a>',  # no URL (it raised: internal_error)
    ):
        assert linked_author(fromstring(_page("", body))) == [], body
    # The page's tags come first.
    tagged = fromstring(_page('<meta name="author" content="Simone Jung">', byline))
    assert html_metadata(tagged).authors == ["Simone Jung"]


def test_bylines_in_other_languages_are_no_part_of_the_name() -> None:
    # An Arabic page's author tag "بقلم أحمد علي" ("by the pen of") and a Chinese one's "记者
    # 李华" ("reporter") kept the byline word in the name.
    assert tidy_authors(["بقلم أحمد علي", "Von Max Mustermann"], []) == [
        "أحمد علي",
        "Max Mustermann",
    ]
    assert [without_byline(n) for n in ("记者 李华", "홍길동 기자", "记者", "von der Leyen")] == [
        "李华",
        "홍길동",
        "记者",
        "von der Leyen",
    ]
    # Review 93: a Persian page's "نوشته" ("written by"), a Thai "โดย", a Hong Kong paper's
    # "本報記者" ("our reporter") stayed in the name.
    assert tidy_authors(["نوشته مریم احمدی", "โดย สมชาย ใจดี", "本報記者 陳大文"], []) == [
        "مریم احمدی",
        "สมชาย ใจดี",
        "陳大文",
    ]


def test_a_pages_authors_joined_by_y_or_e_are_two_people() -> None:
    # "Ana García y Luis Pérez" in a page's author tag was one author (review 71); a double
    # surname joined the same way stays one person.
    assert tidy_authors(["Ana García y Luis Pérez"], []) == ["Ana García", "Luis Pérez"]
    assert tidy_authors(["Mario Rossi e Giulia Bianchi"], []) == ["Mario Rossi", "Giulia Bianchi"]
    assert tidy_authors(["José Ortega y Gasset"], []) == ["José Ortega y Gasset"]
