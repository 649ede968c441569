"""Untrusted input and the secrets of the one who runs NewsBeam (docs/security.md): what a
run writes for people to read holds no credential, and what a hostile document puts in a
URL column is a web address or nothing. Real runs, real HTTP on 127.0.0.1."""

from __future__ import annotations

import json
from pathlib import Path

from newsbeam.pipeline import main as entry
from newsbeam.transforms.extract import canonicalize_url
from newsbeam.transforms.feeds.parse import parse_url_list
from newsbeam.transforms.support.redact import REDACTED, redact_text, redacted
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
                    "vbscript:x", "http:///no-host", ""):  # fmt: skip
        assert web_url(hostile) is None, hostile
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
