"""Untrusted input and the secrets of the one who runs NewsBeam (docs/security.md): what a
run writes for people to read holds no credential, and what a hostile document puts in a
URL column is a web address or nothing. Real runs, real HTTP on 127.0.0.1."""

from __future__ import annotations

import html
import json
import logging
import re
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import main as entry
from newsbeam.transforms.clean import article_id_for
from newsbeam.transforms.extract import canonicalize_url, site_of
from newsbeam.transforms.feeds.parse import parse_url_list
from newsbeam.transforms.support.redact import (
    REDACTED,
    URL_SECRET_PARAMS,
    RedactLogs,
    redact_text,
    redact_url_params,
    redacted,
    url_param_names,
)
from newsbeam.transforms.support.urls import web_url, without_userinfo
from tests.feed_server import serve, static
from tests.helpers import run_manifest, table_rows

TEXT = (
    "The city council met on Tuesday to discuss the new budget for schools and roads, and "
    "the mayor said the plan would be published next week after a public hearing."
)


def test_without_userinfo_and_web_url() -> None:
    assert without_userinfo("http://alice:pw@host:8080/a?b=1#c") == "http://host:8080/a?b=1#c"
    assert without_userinfo("http://a@b@host/") == "http://host/"  # the last @ ends it
    assert without_userinfo("http://host/a@b") == "http://host/a@b"  # an @ in the path
    assert without_userinfo("http://[::1") == "http://[::1"  # urlsplit refuses it: as is
    assert web_url("https://u:p@example.com/x") == "https://example.com/x"
    assert web_url("http://[::1") == "http://[::1"  # refused by urlsplit, but http: kept
    for hostile in ("javascript:alert(1)", " JavaScript:alert(1)", "java\tscript:alert(1)",
                    "data:text/html,<script>x</script>", "file:///etc/passwd", "/relative",
                    "vbscript:x", "http:///no-host", "", "http://a b.example/x",
                    "http:// #top"):  # fmt: skip
        assert web_url(hostile) is None, hostile
    # a host with a space names no page: no url, no site (review 103 found it)
    assert site_of("http://a b.example/x") is None
    assert site_of("https://www.example.com/x") == "example.com"
    assert canonicalize_url("http://bob:hunter2@example.com/a") == "http://example.com/a"


def test_redacted_hides_credentials_and_keeps_the_rest() -> None:
    options = {
        "s3_secret_access_key": "AWSSECRET",
        "s3_access_key_id": "AKIA1",
        "s3_session_token": "tok",
        "azure_connection_string": "AccountKey=k",
        "s3_endpoint_url": "http://minio:pw@127.0.0.1:9000",
        "feed_urls": ["http://alice:s3cr3t@127.0.0.1/feed.xml"],
        "no_auth": True,  # not a credential: a switch
        "s3_region_name": None,
        "max_document_bytes": 10,
    }
    assert redacted(options) == {
        "s3_secret_access_key": REDACTED,
        "s3_access_key_id": REDACTED,
        "s3_session_token": REDACTED,
        "azure_connection_string": REDACTED,
        "s3_endpoint_url": "http://127.0.0.1:9000",
        "feed_urls": ["http://127.0.0.1/feed.xml"],
        "no_auth": True,
        "s3_region_name": None,
        "max_document_bytes": 10,
    }
    assert options["s3_secret_access_key"] == "AWSSECRET"  # a new value, the input unchanged
    assert redact_text("fetch http://u:p@h/x failed") == "fetch http://h/x failed"


def test_a_feed_list_drops_the_passwords_it_holds() -> None:
    listed = b"http://alice:pw@feeds.example/a.xml\nhttps://b.example/feed\n"
    assert parse_url_list(listed) == ["http://feeds.example/a.xml", "https://b.example/feed"]
    opml = (
        b'<opml version="2.0"><body><outline xmlUrl="http://u:p@feeds.example/x.xml"/>'
        b"</body></opml>"
    )
    assert parse_url_list(opml) == ["http://feeds.example/x.xml"]


def test_a_runs_manifest_report_tables_and_state_hold_no_credential(tmp_path: Path) -> None:
    # Before review 65 the manifest's options (and the HTML report, which shows them) held
    # --s3_secret_access_key as given, and a feed URL's user:password@ was in feed_health,
    # every entry's source, the manifest, the report and the feed state; an entry's link
    # with one kept it in the articles' url.
    other = (
        "Heavy rain flooded the river valley overnight, closing two bridges and the main "
        "railway line, and the regional weather office warned of more storms on Friday."
    )
    items = "".join(
        f"<item><guid>e{i}</guid><title>Council vote {i}</title>"
        f"<link>http://bob:hunter2@127.0.0.1:1/n{i}</link>"
        f"<description>{text}</description></item>"
        for i, text in enumerate((TEXT, other))
    )
    feed = f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
    out, state = tmp_path / "out", tmp_path / "state"
    with serve({"/feed.xml": static(feed)}) as server:
        feed_url = server.url("/feed.xml").replace("http://", "http://alice:s3cr3t@")
        argv = ["--feed", feed_url, "--allow_private_hosts", "--no_fetch_pages",
                "--s3_secret_access_key", "AWSSECRETKEY", "--s3_access_key_id", "AKIAKEYID",
                "--state", str(state), "--output", str(out)]  # fmt: skip
        assert entry.main(argv) == 0
        clean_url = server.url("/feed.xml")
    manifest = run_manifest(out)
    assert manifest["options"]["s3_secret_access_key"] == REDACTED
    assert manifest["options"]["feed_urls"] == [clean_url]
    health = table_rows(out, "feed_health", order_by="feed_url")
    assert [row["feed_url"] for row in health] == [clean_url]
    articles = table_rows(out, "articles")
    assert sorted(row["url"] for row in articles) == [
        "http://127.0.0.1:1/n0",
        "http://127.0.0.1:1/n1",
    ]
    assert all(row["source"].startswith(clean_url + "#") for row in articles)
    for path in [*out.rglob("*"), *state.rglob("*")]:
        if path.is_file():
            data = path.read_bytes()
            for secret in (b"AWSSECRETKEY", b"AKIAKEYID", b"s3cr3t", b"hunter2"):
                assert secret not in data, (secret, path)


def test_a_records_url_that_is_no_web_address_is_not_kept(tmp_path: Path) -> None:
    # A JSON-lines record's `url` "javascript:alert(document.domain)" was kept as the
    # article's url: a BI tool or page that makes the column a link runs it when clicked.
    texts = [
        TEXT,
        "Heavy rain flooded the river valley overnight, closing two bridges and the main "
        "railway line, and the regional weather office warned of more storms on Friday.",
        "The national team won the final after extra time, and thousands of supporters "
        "gathered in the old town square to welcome the players home on Sunday evening.",
    ]
    urls = ["javascript:alert(document.domain)", "data:text/html,<b>x</b>", "https://x.org/a"]
    records = [{"text": text, "url": url} for text, url in zip(texts, urls, strict=True)]
    inbox = tmp_path / "in"
    inbox.mkdir()
    (inbox / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    assert entry.main(["--input", str(inbox), "--output", str(tmp_path / "out")]) == 0
    rows = table_rows(tmp_path / "out", "articles", order_by="url NULLS FIRST")
    assert [row["url"] for row in rows] == [None, None, "https://x.org/a"]


def test_keys_in_url_queries_are_redacted_where_written_and_ids_stay(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # Review 65 recorded it, review 69 mends it: a feed given with `?api_key=`, entry links
    # with a `?token=` or a signed URL's `X-Amz-Signature`, kept as given in feed_health,
    # every source, the articles' url and canonical_url, the rejected rows' details, the
    # manifest, the report and the log. Redacted where written (the documented names and
    # --redact_url_params'); fetched with the key, and ids made from the URL as given.
    other = (
        "Heavy rain flooded the river valley overnight, closing two bridges and the main "
        "railway line, and the regional weather office warned of more storms on Friday."
    )
    out, state = tmp_path / "out", tmp_path / "state"
    with serve({"/feed.xml": lambda request: (200, {}, b"")}) as server:
        links = [
            server.url("/n0?token=PAGETOKEN0&id=7"),
            server.url("/n1?X-Amz-Signature=AMZSIG1&X-Amz-Credential=AKIACRED1&id=8"),
            server.url("/n2?edition_key=EDKEY2"),
        ]
        items = "".join(
            f"<item><guid>e{i}</guid><title>Council vote {i}</title>"
            f"<link>{html.escape(link)}</link><description>{text}</description></item>"
            for i, (link, text) in enumerate(zip(links, (TEXT, other, ""), strict=True))
        )
        feed = f"<rss version='2.0'><channel><title>T</title>{items}</channel></rss>".encode()
        server.routes["/feed.xml"] = static(feed)
        # No page is served (404): the feed's text is each article's, none for the third.
        feed_url = server.url("/feed.xml?lang=en&api_key=FEEDKEY")
        argv = ["--feed", feed_url, "--allow_private_hosts", "--state", str(state),
                "--redact_url_params", "edition_key", "--output", str(out)]  # fmt: skip
        with caplog.at_level(logging.INFO, logger="newsbeam"):
            assert entry.main(argv) == 0
        shown = server.url("/feed.xml?lang=en&api_key=***")
    health = table_rows(out, "feed_health", order_by="feed_url")
    assert [(row["feed_url"], row["status"]) for row in health] == [(shown, "ok")]
    articles = table_rows(out, "articles", order_by="url")
    assert [row["url"] for row in articles] == [
        server.url("/n0?token=***&id=7"),
        server.url("/n1?X-Amz-Signature=***&X-Amz-Credential=***&id=8"),
    ]
    assert all(row["source"].startswith(shown + "#") for row in articles)
    # Ids as before: made from the canonical URL as given, key and all.
    for row, link in zip(articles, links, strict=False):
        assert row["canonical_url"] == redact_text(canonicalize_url(link) or "")
        assert row["article_id"] == article_id_for(canonicalize_url(link), row["content_hash"])
    rejected = table_rows(out, "rejected")
    assert [row["reason"] for row in rejected] == ["http_error"]  # its page, and no text
    assert rejected[0]["source"].startswith(shown + "#")
    secrets = (b"FEEDKEY", b"PAGETOKEN0", b"AMZSIG1", b"AKIACRED1", b"EDKEY2")
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            if path.suffix == ".parquet":
                data = json.dumps(pq.read_table(path).to_pylist(), default=str).encode()
            for secret in secrets:
                assert secret not in data, (secret, path)
    logged = "\n".join(record.getMessage() for record in caplog.records)
    assert "FEEDKEY" not in logged and "EDKEY2" not in logged


def test_the_log_shows_urls_redacted() -> None:
    # A fetch's or listing's warning names the URL it failed on (follow: "cannot read
    # --feeds https://...?token=..."): the handlers `main` sets up redact it.
    handler = logging.Handler()
    RedactLogs.install(handler, ["edition_key"])
    RedactLogs.install(handler, ["edition_key"])  # once, whatever calls main again
    assert len(handler.filters) == 1
    record = logging.LogRecord(
        "newsbeam", logging.WARNING, __file__, 1, "cannot read %s: %s", (
            "https://u:pw@x/f?token=T0K&edition_key=E1&id=2", "HTTP 404"), None
    )  # fmt: skip
    assert handler.filter(record)
    assert record.getMessage() == "cannot read https://x/f?token=***&edition_key=***&id=2: HTTP 404"


def test_redact_url_params() -> None:
    cases = {
        "https://api.x/feed?api_key=abc&lang=en": "https://api.x/feed?api_key=***&lang=en",
        "https://b.s3.amazonaws.com/k?X-Amz-Credential=AKIA%2F1&X-Amz-Signature=ab12": (
            "https://b.s3.amazonaws.com/k?X-Amz-Credential=***&X-Amz-Signature=***"
        ),
        "https://x/a;jsessionid=ABC?id=1": "https://x/a;jsessionid=***?id=1",
        "GET https://x/f?Token=zz: 404 not found": "GET https://x/f?Token=***: 404 not found",
        "<a href='https://x/f?a=1&amp;sig=Q'>": "<a href='https://x/f?a=1&amp;sig=***'>",
        # Content names, empty values and names that only end like one are kept.
        "https://x/view.php?sid=7&key=1&id=2": "https://x/view.php?sid=7&key=1&id=2",
        "https://x/?token=&mytoken=1": "https://x/?token=&mytoken=1",
    }
    for given, shown in cases.items():
        assert redact_url_params(given) == shown, given
    assert (
        redact_url_params("https://x/v?sid=7&key=1", ["key, SID"]) == "https://x/v?sid=***&key=***"
    )
    assert url_param_names(["Edition_Key,", " x "]) == tuple(
        sorted({*URL_SECRET_PARAMS, "edition_key", "x"})
    )


def test_the_documented_list_of_redacted_parameters_is_the_one_used() -> None:
    doc = (Path(__file__).resolve().parent.parent / "docs" / "security.md").read_text()
    bullet = doc.split("- Keys in URL queries:", 1)[1].split("\n- ", 1)[0]
    listed = bullet.split("Names,", 1)[1].split("(API keys", 1)[0]
    assert sorted(re.findall(r"`([^`]+)`", listed)) == sorted(URL_SECRET_PARAMS)
