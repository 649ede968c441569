"""support/titles.py: the site's name trailing a title, dropped (no Beam)."""

from __future__ import annotations

from lxml.html import fromstring

from newsbeam.transforms.extract import html_metadata
from newsbeam.transforms.support.titles import site_name, site_names, strip_site_suffix

SITES = site_names(["Börsen-Zeitung", "Deutsche Welle"], "https://www.golem.de/news/x.html")


def test_site_names_include_the_host_with_and_without_its_domain() -> None:
    assert ["golemde"] in SITES and ["golem"] in SITES and ["börsen", "zeitung"] in SITES
    # The top-level domain alone names nothing.
    assert strip_site_suffix("Nachrichten aus Berlin | DE", SITES) == "Nachrichten aus Berlin | DE"


def test_the_site_after_a_separator_is_dropped() -> None:
    for title in (
        "Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung",
        "Steigende US-Zinsen setzen Dax zu - golem.de",
        "Steigende US-Zinsen setzen Dax zu – Golem",
        # a date and a byline beside the site go with it
        "Steigende US-Zinsen setzen Dax zu | Deutsche Welle | 28.04.2023",
        "Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung | by Anna Sleegers",
    ):
        assert strip_site_suffix(title, SITES) == "Steigende US-Zinsen setzen Dax zu", title
    # A Japanese site's colon, without spaces.
    japanese = site_names(["朝日新聞デジタル"], None)
    assert (
        strip_site_suffix("南海トラフ、一時調査:朝日新聞デジタル", japanese)
        == "南海トラフ、一時調査"
    )


def test_a_host_names_the_site_as_the_title_spells_it() -> None:
    # The page names its site only by its host: umlauts written out, accents dropped, a
    # hyphen between the words.
    for title, url in (
        ("Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung", "https://www.boersen-zeitung.de/a"),
        ("Steigende US-Zinsen setzen Dax zu | Börsen-Zeitung", "https://www.borsen-zeitung.de/a"),
        ("Le budget adopté | Le Télégramme", "https://www.letelegramme.fr/a"),
    ):
        assert strip_site_suffix(title, site_names([], url)).endswith(("zu", "adopté")), title


def test_a_url_that_does_not_parse_names_no_site() -> None:
    assert site_names(["Golem"], "http://[::1/a") == [["golem"]]  # it raised ValueError


def test_a_short_name_holding_a_one_word_site_name_is_the_site() -> None:
    ntv = site_names([], "https://www.ntv.com.tr/turkiye/a")
    assert (
        strip_site_suffix("Dört şüpheli tutuklandı | NTV Haber", ntv) == "Dört şüpheli tutuklandı"
    )
    daily = site_names([], "https://www.tageszeitung.it/2025/04/16/a/")
    title = "„Unermüdlicher Einsatz“ - Die Neue Südtiroler Tageszeitung"
    assert strip_site_suffix(title, daily) == "„Unermüdlicher Einsatz“"
    # Not a name (words not capitalised), or too long to be one: the headline's own.
    for title in (
        "Interview: Tageszeitung-Chef tritt zurück",
        "Bozen - Die Leser der Neuen Südtiroler Tageszeitung wählen",
    ):
        assert strip_site_suffix(title, daily) == title


def test_a_headline_keeps_its_own_colon_and_dash() -> None:
    for title in (
        "Israel und Gaza: News und Entwicklungen im Nahostkonflikt",
        "Trump vs. Biden - The debate in five charts",
        "Budget - 2024",  # a number names no site, even where a copyright gives the year
        "Golem: the site's name leading the headline stays",
    ):
        assert strip_site_suffix(title, SITES + [["copyright", "2024"]]) == title
    # Only what follows the last piece that is not the site's goes.
    assert (
        strip_site_suffix("Trump vs. Biden - The debate | Börsen-Zeitung", SITES)
        == "Trump vs. Biden - The debate"
    )
    # A date alone is not dropped: no piece named the site.
    assert (
        strip_site_suffix("Wahl in Thüringen | 28.04.2023", SITES)
        == "Wahl in Thüringen | 28.04.2023"
    )


def test_a_site_called_by_the_headline_names_nothing() -> None:
    title = "The man whose duvet nearly killed him: How this medical mystery was solved"
    assert strip_site_suffix(title, site_names([title, "MSN"], None)) == title


def test_html_metadata_title_without_the_site() -> None:
    page = (
        "<html><head><title>Wero besteht Praxistest | Börsen-Zeitung</title>"
        '<meta property="og:site_name" content="Börsen-Zeitung"></head>'
        "<body><p>Text.</p></body></html>"
    )
    assert html_metadata(fromstring(page)).title == "Wero besteht Praxistest"


def test_chinese_portals_separators_and_channels() -> None:
    # "标题_财经频道_新闻网", "标题--人民网", "…－新闻网": the site stayed in the title.
    sites = site_names(["新闻网"], "https://news.example.cn/a.html")
    assert strip_site_suffix("东京股市收盘上涨_财经频道_新闻网", sites) == "东京股市收盘上涨"
    assert strip_site_suffix("东京股市收盘上涨--新闻网", sites) == "东京股市收盘上涨"
    assert strip_site_suffix("東京株、反発　日経平均－新闻网", sites) == "東京株、反発　日経平均"
    # No site named after it: an underscore is left alone.
    assert strip_site_suffix("东京股市_收盘上涨", sites) == "东京股市_收盘上涨"


def test_a_site_name_loses_the_tagline_or_headline_beside_it() -> None:
    """Review 56: pages named their site with a tagline, a company or the headline beside
    the name ("LinkNaija | Nigeria's popular news platform", "<headline> - Tageblatt.lu"),
    with trailing spaces, or by a social profile's URL: one outlet's pages had several
    site names. The piece that names the host is the name (none or two: left whole)."""
    cases = [
        ("LinkNaija | Nigeria's popular news platform", "https://www.linknaija.com/a", "LinkNaija"),
        ("Freie Presse - Chemnitzer Verlag und Druck GmbH & Co. KG", "https://freiepresse.de/a",
         "Freie Presse"),
        ("Juli naht: OGBL und LCGB demonstrieren - Tageblatt.lu", "https://tageblatt.lu/a",
         "Tageblatt.lu"),
        ("Malay Mail ", "https://www.malaymail.com/a", "Malay Mail"),
        # Nothing names the host, or the whole does: as written.
        ("Breaking News - Daily Times", "https://example.com/a", "Breaking News - Daily Times"),
        ("Börsen-Zeitung", "https://www.boersen-zeitung.de/a", "Börsen-Zeitung"),
        ("Example | Example.com", "https://example.com/a", "Example | Example.com"),
        ("Any Name | Other", None, "Any Name | Other"),
    ]  # fmt: skip
    for name, url, expected in cases:
        assert site_name(name, None, url) == expected, name
    profile = "https://twitter.com/anadoluajansi"
    assert site_name(profile, "Anadolu Ajansı", "https://aa.com.tr/x") == "Anadolu Ajansı"
    assert site_name(profile, None, "https://aa.com.tr/x") is None
    assert site_name(None, "Example", None) == "Example"


def test_a_pages_site_is_its_name_without_the_tagline() -> None:
    page = (
        '<html><head><meta property="og:site_name" content="Remember 80/90 - Memorabilia '
        'anni 80/90"><link rel="canonical" href="https://www.remember8090.it/p"></head>'
        "<body><p>x</p></body></html>"
    )
    assert html_metadata(fromstring(page)).site == "Remember 80/90"
