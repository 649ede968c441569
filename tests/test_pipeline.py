"""End to end: the command on real files, Parquet out, queried with DuckDB."""

from __future__ import annotations

import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import duckdb
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import dataset
from newsbeam.pipeline import main as entry
from newsbeam.pipeline import run as pipeline_run
from newsbeam.schemas import SCHEMA_VERSION, SCHEMA_VERSION_KEY
from tests import unspaced_texts as unspaced
from tests.helpers import run_manifest, table_files, table_rows, table_sql

GOLDEN = Path(__file__).parent / "golden" / "seeds_articles.jsonl"
# Columns that differ between runs by design.
VOLATILE = {"ingested_at"}


def _rows(output: Path, table: str, order_by: str = "source") -> list[dict]:
    """The rows of the one (or latest) run committed to `output`."""
    return table_rows(output, table, order_by=order_by)


def _run_texts(tmp_path: Path, texts: dict[str, str]) -> Path:
    """The default command over text files named and written as `texts` gives them; its
    output folder."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    for name, text in texts.items():
        (inputs / name).write_text(text, encoding="utf-8")
    output = tmp_path / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    return output


def _comparable(row: dict, base: Path) -> dict:
    """A row as JSON-able values, the source relative to `base`, volatile columns out."""
    row = {k: v for k, v in row.items() if k not in VOLATILE}
    row["source"] = os.path.relpath(row["source"], base)
    if row.get("published_at") is not None:
        row["published_at"] = row["published_at"].isoformat()
    return row


@pytest.fixture(scope="module")
def seeds_output(tmp_path_factory: pytest.TempPathFactory) -> Path:
    output = tmp_path_factory.mktemp("run") / "out"
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    assert entry.main(["--input", str(seeds), "--output", str(output)]) == 0
    return output


def test_seeds_counts(seeds_output: Path) -> None:
    manifest = run_manifest(seeds_output)
    counts = manifest["counts"]
    assert (counts["inputs"], counts["articles"], counts["duplicates"], counts["rejected"]) == (
        5,
        5,
        0,
        0,
    )
    assert counts["balanced"] is True
    assert manifest["schema_version"] == SCHEMA_VERSION
    assert manifest["options"]["runner"] == "FnApiRunner"
    assert manifest["config"]["read"]["max_document_bytes"] == 10 * 1024 * 1024
    assert set(manifest["config"]) == {
        "read",
        "extract",
        "clean",
        "language",
        "dedup",
        "stories",
        "topics",
        "places",
        "feeds",
        "state_keep_days",
        "url_params",  # the query parameters redacted where URLs are written
        "empty_files",  # null: every table without rows got its empty file (not follow mode)
        "workers",  # the local runner's worker processes: how many and why (review 85)
    }
    assert manifest["config"]["empty_files"] is None
    assert {"apache-beam", "trafilatura", "langdetect", "pyarrow", "newsbeam"} <= set(
        manifest["versions"]
    )
    assert manifest["started_at"] <= manifest["finished_at"]
    # The run is named by its start time, and its manifest lists every file it committed.
    assert manifest["run_id"] == dataset.new_run_id(
        dt.datetime.fromisoformat(manifest["started_at"])
    )
    assert manifest["ingest_date"] == manifest["started_at"][:10]
    assert {name: manifest["tables"][name]["rows"] for name in dataset.DATASET_TABLES} == {
        "articles": 5,
        "duplicates": 0,
        "rejected": 0,
        "feed_health": 0,
    }
    for name in dataset.DATASET_TABLES:
        (entry_,) = manifest["tables"][name]["files"]
        assert entry_["path"] == (
            f"{name}/ingest_date={manifest['ingest_date']}/"
            f"{manifest['run_id']}.{manifest['attempt']}-00000-of-00001.parquet"
        )
        assert entry_["bytes"] == (seeds_output / entry_["path"]).stat().st_size
    assert (seeds_output / "_runs" / f"{manifest['run_id']}.html").is_file()
    # Nothing of the run is left outside its partitions and _runs.
    assert sorted(p.name for p in seeds_output.iterdir()) == sorted(
        ["_newsbeam_dataset.json", "_runs", *dataset.DATASET_TABLES]
    )


def test_seeds_rows(seeds_output: Path) -> None:
    articles = {Path(r["source"]).name[:3]: r for r in _rows(seeds_output, "articles")}
    assert set(articles) == {"000", "001", "002", "003", "004"}
    assert {r["language"] for r in articles.values()} == {"en"}

    s001 = articles["001"]
    paragraphs = s001["text"].split("\n\n")
    assert len(paragraphs) == len(set(paragraphs))
    for chrome in ("SEE MORE", "Would you like to comment", "Sign up", "Latest Videos",
                   "Image:", "Comment Policy"):  # fmt: skip
        assert chrome not in s001["text"]
    assert s001["published_at"].date().isoformat() == "2023-10-09"

    s000 = articles["000"]
    assert s000["title"] == "Qatar-led negotiations between Israel and Hamas continue, source says"
    assert s000["url"] == (
        "https://www.reuters.com/world/middle-east/"
        "qatar-led-negotiations-between-israel-hamas-continue-source-2023-10-28/"
    )
    assert s000["published_at"].strftime("%Y-%m-%d %H:%M") == "2023-10-28 20:26"
    assert "![" not in s000["text"] and "An explosion is seen" not in s000["text"]

    for chrome in ("Subscribe to our newsletter", "Newsletter signup", "Please wait",
                   "Thank you for sign up!"):  # fmt: skip
        assert chrome not in articles["003"]["text"]

    for prefix in ("002", "004"):
        first_line = Path(articles[prefix]["source"]).read_text().split("\n", 1)[0].strip()
        assert articles[prefix]["title"] == first_line
        assert not articles[prefix]["text"].startswith(first_line)


def test_seeds_topics_and_places(seeds_output: Path) -> None:
    """Every seed is about the Israel-Hamas war and Qatar's/Turkey's mediation."""
    articles = {Path(r["source"]).name[:3]: r for r in _rows(seeds_output, "articles")}
    for name, row in articles.items():
        assert "medtop:16000000" in row["topics"], (name, row["topics"])
        assert len(row["topic_scores"]) == len(row["topics"])
        assert row["topics_model"].startswith("newsbeam-topics/")
        assert {"QA", "IL"} & set(row["places"]), (name, row["places"])
    assert articles["004"]["places"][0] == "TR"  # "Turkey holds negotiations ...": title first
    for row in articles.values():  # labels beside the qcodes, in the same order
        assert len(row["topic_labels"]) == len(row["topics"])
        labelled = dict(zip(row["topics"], row["topic_labels"], strict=True))
        assert labelled["medtop:16000000"] == "conflict, war and peace"
    assert articles["000"]["published_precision"] == "minute"  # **2023-10-28 20:26**
    assert articles["001"]["published_precision"] == "day"  # " date 2023-10-09"
    tagged = duckdb.sql(
        f"SELECT count(*) FROM {table_sql(seeds_output, 'articles')} "
        "WHERE list_contains(topics, 'medtop:16000000') AND list_contains(places, 'IL')"
    ).fetchall()
    assert tagged == [(5,)]


def test_seeds_match_golden_rows(seeds_output: Path) -> None:
    base = Path(__file__).resolve().parents[1]
    rows = [_comparable(r, base) for r in _rows(seeds_output, "articles")]
    if os.environ.get("NEWSBEAM_UPDATE_GOLDEN"):
        GOLDEN.write_text("".join(json.dumps(r, sort_keys=True) + "\n" for r in rows))
    expected = [json.loads(line) for line in GOLDEN.read_text().splitlines()]
    assert rows == expected


def test_parquet_files_are_warehouse_ready(seeds_output: Path) -> None:
    for table in dataset.DATASET_TABLES:
        files = table_files(seeds_output, table)
        assert files, f"{table} has no file (an empty table still gets one)"
        parquet = pq.ParquetFile(files[0])
        assert parquet.schema_arrow.metadata[SCHEMA_VERSION_KEY] == SCHEMA_VERSION.encode()
        if parquet.metadata.num_row_groups:
            assert parquet.metadata.row_group(0).column(0).compression == "ZSTD"
    articles = pq.ParquetFile(table_files(seeds_output, "articles")[0])
    assert articles.metadata.num_row_groups == 1  # not one row group per document
    # Parquet-compliant lists ("element"), which Spark and BigQuery read as arrays.
    assert "element" in str(articles.schema.column(articles.schema_arrow.get_field_index("topics")))
    removed = duckdb.sql(
        f"SELECT r.reason, count(*) FROM {table_sql(seeds_output, 'articles')}, "
        "unnest(removed) AS t(r) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert ("repeated", 5) in removed
    # Each table is one Hive-partitioned dataset: DuckDB reads ROOT/<table> whole, with the
    # run's ingestion day as a column.
    (day,) = duckdb.sql(
        f"SELECT DISTINCT CAST(ingest_date AS VARCHAR) FROM read_parquet("
        f"'{seeds_output}/articles/*/*.parquet', hive_partitioning = true)"
    ).fetchall()
    assert day == (run_manifest(seeds_output)["ingest_date"],)


def test_bad_inputs_all_accounted_for(bad_inputs: dict[str, Path], tmp_path: Path) -> None:
    output = tmp_path / "out"
    folder = bad_inputs["empty"].parent
    assert entry.main(["--input", str(folder), "--output", str(output)]) == 0
    counts = run_manifest(output)["counts"]
    articles = _rows(output, "articles")
    rejected = _rows(output, "rejected")
    # (A path named on the command line that does not exist is a usage error: test_cli.)
    assert counts["inputs"] == 8 + 7  # 12 files, 4 records in records.jsonl
    assert counts["inputs"] == len(articles) + counts["duplicates"] + len(rejected)
    assert counts["balanced"] is True
    outcome = {os.path.basename(r["source"]): (r["stage"], r["reason"]) for r in rejected}
    assert outcome == {
        "empty.txt": ("read", "empty"),
        "blank.txt": ("read", "empty"),
        "binary.txt": ("read", "binary"),
        "huge.txt": ("read", "too_large"),
        "bomb.html.gz": ("read", "too_large"),
        "picture.png": ("read", "unsupported_type"),
        "pipe.txt": ("read", "unreadable"),
        "nav-only.html": ("clean", "too_short"),
        "short.txt": ("clean", "too_short"),
        "records.jsonl#L2": ("extract", "bad_json"),
        "records.jsonl#L4": ("extract", "missing_text"),
        "records.jsonl#L5": ("extract", "bad_json"),
    }
    assert counts["rejected_by"]["read"]["too_large"] == 2
    assert all(r["detail"] for r in rejected)
    by_name = {os.path.basename(a["source"]): a for a in articles}
    assert set(by_name) == {"latin1.txt", "good.html"}
    assert "entraîneur" in by_name["latin1.txt"]["text"]  # legacy encoding decoded
    assert by_name["latin1.txt"]["language"] == "fr"
    # The JSON record is the page's text with two words changed, published later.
    (copy,) = _rows(output, "duplicates")
    assert os.path.basename(copy["source"]) == "records.jsonl#L1" and copy["method"] == "near"
    assert copy["canonical_id"] == by_name["good.html"]["article_id"]


def test_exact_duplicate_end_to_end(seeds_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    shutil.copytree(seeds_dir, inputs)
    original = next(inputs.glob("002_*.txt"))
    # A republished copy: same text, other line breaks and quotes, other file.
    copy_text = original.read_text().replace("\n\n", "\n\n\n").replace("'", "\u2019")
    (inputs / "republished.txt").write_text(copy_text)
    output = tmp_path / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    duplicates = _rows(output, "duplicates")
    articles = {r["article_id"]: r for r in _rows(output, "articles")}
    assert len(articles) == 5 and len(duplicates) == 1
    (duplicate,) = duplicates
    assert duplicate["method"] == "exact" and duplicate["similarity"] == 1.0
    assert duplicate["canonical_id"] in articles
    # A copy has its own id; canonical_id points to the kept article.
    assert duplicate["article_id"] not in articles
    ids = duckdb.sql(
        f"SELECT article_id FROM {table_sql(output, 'articles')} UNION ALL "
        f"SELECT article_id FROM {table_sql(output, 'duplicates')}"
    ).fetchall()
    assert len(ids) == len(set(ids)) == 6
    kept = articles[duplicate["canonical_id"]]["source"]
    # Neither copy has a date: the smaller article_id (a content hash here) wins.
    assert {kept, duplicate["source"]} == {str(original), str(inputs / "republished.txt")}


def test_chinese_and_japanese_news_end_to_end(tmp_path: Path) -> None:
    # Scripts without spaces between words: an edited copy is a near duplicate, rewrites of
    # one story share it, a short flash is an article (support/words.py). Before, the copy
    # was an article, each report its own story, and the flash rejected as too_short.
    flash = "新华社东京12月3日电 日本政府3日宣布将向受灾地区追加拨款，支援灾后重建。"
    texts = {
        "rate_cut.txt": unspaced.RATE_CUT,
        "rate_cut_edited.txt": unspaced.RATE_CUT_EDITED,
        "rate_cut_rewrite.txt": unspaced.RATE_CUT_REWRITE,
        "quake.txt": unspaced.EARTHQUAKE,
        "quake_rewrite.txt": unspaced.EARTHQUAKE_REWRITE,
        "boj.txt": unspaced.BANK_OF_JAPAN,
        "flash.txt": f"{flash}\n",
    }
    output = _run_texts(tmp_path, texts)
    counts = run_manifest(output)["counts"]
    assert counts["balanced"] is True and counts["inputs"] == 7
    assert _rows(output, "rejected") == []
    articles = {Path(a["source"]).name: a for a in _rows(output, "articles")}
    (duplicate,) = _rows(output, "duplicates")
    assert duplicate["method"] == "near" and duplicate["similarity"] > 0.9
    copies = {Path(duplicate["source"]).name, *(n for n, a in articles.items()
              if a["article_id"] == duplicate["canonical_id"])}  # fmt: skip
    assert copies == {"rate_cut.txt", "rate_cut_edited.txt"}
    assert set(articles) == set(texts) - {Path(duplicate["source"]).name}
    kept = next(iter(copies & set(articles)))
    story = {name: a["story_id"] for name, a in articles.items()}
    assert story[kept] == story["rate_cut_rewrite.txt"]
    assert story["quake.txt"] == story["quake_rewrite.txt"] != story[kept]
    assert story["boj.txt"] not in (story[kept], story["quake.txt"])
    assert articles["boj.txt"]["language"] == "ja" and articles["quake.txt"]["language"] == "zh"
    assert articles["flash.txt"]["word_count"] >= 30 and articles["quake.txt"]["word_count"] > 150


def test_thai_and_traditional_chinese_news_end_to_end(tmp_path: Path) -> None:
    # Thai is an alphabet written without spaces: as pairs of its characters (letters), any
    # two Thai articles shared terms enough to be one story (the flood, the rate decision and
    # the tourism figures were one). Traditional Chinese came out Korean (langdetect).
    texts = {
        "flood.txt": unspaced.THAI_FLOOD,
        "flood_rewrite.txt": unspaced.THAI_FLOOD_REWRITE,
        "rates.txt": unspaced.THAI_RATES,
        "tourism.txt": unspaced.THAI_TOURISM,
        "taipei.txt": unspaced.TAIPEI_ELECTION,
    }
    output = _run_texts(tmp_path, texts)
    assert _rows(output, "rejected") == [] and _rows(output, "duplicates") == []
    articles = {Path(a["source"]).name: a for a in _rows(output, "articles")}
    story = {name: a["story_id"] for name, a in articles.items()}
    assert story["flood.txt"] == story["flood_rewrite.txt"]
    assert len({story["flood.txt"], story["rates.txt"], story["tourism.txt"]}) == 3
    assert {articles[name]["language"] for name in texts} == {"th", "zh"}
    assert articles["taipei.txt"]["language"] == "zh"


def test_one_event_in_both_chinese_scripts_is_one_story_not_a_copy(tmp_path: Path) -> None:
    # Review 97: a Greater China desk reads Xinhua (simplified), CNA and the Hong Kong papers
    # (traditional). A rewrite across the scripts stayed out of the event's story (its
    # pairs of characters differ where the characters do); the same text in the other
    # script is another publication's and stays an article of its own, not a copy.
    texts = {
        "xinhua.txt": unspaced.RATE_CUT,
        "portal_rewrite.txt": unspaced.RATE_CUT_REWRITE,
        "hk_reprint.txt": unspaced.RATE_CUT_TRADITIONAL,
        "hk_rewrite.txt": unspaced.RATE_CUT_TRADITIONAL_REWRITE,
        "cna_taipei.txt": unspaced.TAIPEI_ELECTION,
        "portal_taipei.txt": unspaced.TAIPEI_ELECTION_SIMPLIFIED_REWRITE,
        "quake.txt": unspaced.EARTHQUAKE,
        "hk_typhoon.txt": unspaced.HONG_KONG_TYPHOON,
    }
    output = _run_texts(tmp_path, texts)
    assert _rows(output, "rejected") == [] and _rows(output, "duplicates") == []
    articles = {Path(a["source"]).name: a for a in _rows(output, "articles")}
    assert set(articles) == set(texts)
    assert articles["hk_reprint.txt"]["text"] != articles["xinhua.txt"]["text"]  # as published
    # The scripts told apart (`language` is `zh` for both): schema 6's `script` column.
    assert {a["language"] for a in articles.values()} == {"zh"}
    scripts = {name: a["script"] for name, a in articles.items()}
    assert scripts == {name: "Hant" if "hk" in name or "cna" in name else "Hans" for name in texts}
    story = {name: a["story_id"] for name, a in articles.items()}
    rate_cut = {story[name] for name in list(texts)[:4]}
    assert len(rate_cut) == 1
    assert story["cna_taipei.txt"] == story["portal_taipei.txt"]
    others = (story["cna_taipei.txt"], story["quake.txt"], story["hk_typhoon.txt"])
    assert len({*rate_cut, *others}) == 4


_OPEC = (
    "قررت مجموعة أوبك+ خلال اجتماعها الافتراضي يوم الخميس تمديد التخفيضات الطوعية لإنتاج النفط "
    "حتى نهاية شهر مارس المقبل، في خطوة تهدف إلى دعم الأسعار في ظل تباطؤ الطلب العالمي. وقال "
    "وزير الطاقة إن السوق لا يزال يواجه حالة من عدم اليقين.\n\nوارتفعت أسعار خام برنت بنحو "
    "اثنين في المئة عقب الإعلان لتصل إلى خمسة وسبعين دولارا للبرميل. ويرى محللون أن التمديد "
    "كان متوقعا على نطاق واسع في الأسواق."
)


def test_news_in_other_languages_end_to_end(tmp_path: Path) -> None:
    # A newsroom's wires in other languages: dates in local notation were no date (the
    # date line stayed in the text), chrome stayed as story sentences, a byline kept its
    # "Por", Persian lost its zero-width non-joiners. An edited Arabic copy still folds.
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "de.txt").write_text(
        "Bahnstreik legt Fernverkehr lahm\n\n4. Dezember 2026\n\n"
        "Die Gewerkschaft hat am Freitag bundesweit zu einem Streik im Personenverkehr "
        "aufgerufen. Rund achtzig Prozent der Fernzüge fallen aus.\n\n"
        "Lesen Sie auch: Was Fahrgäste jetzt wissen müssen\n\n"
        "Abonnieren Sie unseren Newsletter\n",
        encoding="utf-8",
    )
    (inputs / "ar.txt").write_text(f"أوبك+ تمدد خفض الإنتاج\n\n٤ ديسمبر ٢٠٢٦\n\n{_OPEC}\n")
    edited = _OPEC.replace("عدم اليقين", "عدم اليقين الكبير")
    (inputs / "ar_copy.txt").write_text(f"أوبك+ تقرر التمديد\n\n{edited}\n\nاقرأ أيضا: الذهب\n")
    persian = (
        "نمایندگان مجلس روز چهارشنبه کلیات لایحه بودجه را تصویب کردند. دولت می\u200cخواهد "
        "کسری بودجه را کاهش دهد و هزینه\u200cهای جاری را کنترل کند."
    )
    records = [
        {"title": "Sube el salario mínimo", "published": "4 de diciembre de 2026",
         "author": "Por María García", "text": "El Gobierno aprobó una subida del salario "
         "mínimo del cinco por ciento para el próximo año.\n\nSuscríbete a nuestro boletín"},
        {"title": "日銀、追加利上げを決定", "published": "2026年12月4日",
         "text": "日本銀行は４日の金融政策決定会合で、短期金利の誘導目標を引き上げた。"},
        {"title": "بودجه تصویب شد", "published": "۱۴۰۵/۰۹/۱۳", "text": persian},
    ]  # fmt: skip
    lines = "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records)
    (inputs / "wire.jsonl").write_text(lines, encoding="utf-8")
    output = tmp_path / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    counts = run_manifest(output)["counts"]
    assert counts["balanced"] is True and counts["inputs"] == 6
    assert _rows(output, "rejected") == []
    articles = {Path(a["source"]).name: a for a in _rows(output, "articles")}
    (copy,) = _rows(output, "duplicates")
    assert copy["method"] == "near" and Path(copy["source"]).name in ("ar.txt", "ar_copy.txt")
    day = dt.datetime(2026, 12, 4, tzinfo=dt.timezone.utc)
    german = articles["de.txt"]
    assert (german["published_at"], german["published_precision"]) == (day, "day")
    assert "Dezember" not in german["text"] and "Lesen Sie" not in german["text"]
    assert [r["reason"] for r in german["removed"]] == ["related_links", "signup_prompt"]
    spanish, japanese, farsi = (articles[f"wire.jsonl#L{n}"] for n in (1, 2, 3))
    assert spanish["authors"] == ["María García"] and spanish["published_at"] == day
    assert "Suscríbete" not in spanish["text"]
    assert japanese["published_at"] == day and japanese["language"] == "ja"
    # A Solar Hijri date is converted (it was the year 1405, then no date, review 93); the
    # joiners are still there.
    assert farsi["published_at"] == day and "می\u200cخواهد" in farsi["text"]
    assert farsi["language"] == "fa"


def test_same_rows_whatever_the_input_order(seeds_dir: Path, tmp_path: Path) -> None:
    base = seeds_dir.parent
    files = sorted(str(p) for p in seeds_dir.iterdir())
    outputs = []
    for order, name in ((files, "a"), (files[::-1], "b")):
        output = tmp_path / name
        argv = [arg for path in order for arg in ("--input", path)]
        assert entry.main([*argv, "--output", str(output)]) == 0
        outputs.append([_comparable(r, base) for r in _rows(output, "articles")])
    assert outputs[0] == outputs[1]


def test_failed_run_keeps_previous_output(
    seeds_output: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = tmp_path / "out"
    shutil.copytree(seeds_output, output)
    before = sorted(p.relative_to(output) for p in output.rglob("*"))

    def crash(*args: object, **kwargs: object) -> None:
        raise RuntimeError("disk full")

    monkeypatch.setattr(pipeline_run, "build_manifest", crash)
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    assert entry.main(["--input", str(seeds), "--output", str(output)]) == 1
    # The committed run is as it was, the failed run's staging is gone, nothing was added
    # but the failed run's record (review 88).
    after = sorted(p.relative_to(output) for p in output.rglob("*"))
    recorded = [p for p in after if p.parts[0] == "_failed_runs"]
    assert len(recorded) == 2 and "disk full" in (output / recorded[1]).read_text()
    assert [p for p in after if p not in recorded] == before
    assert not (output / dataset.STAGING).exists()
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_a_second_run_adds_its_own_run(seeds_dir: Path, tmp_path: Path) -> None:
    """Runs into one ROOT accumulate: each adds its files and its manifest, and each run's
    rows are found through its manifest; DuckDB over ROOT sees them all."""
    output = tmp_path / "out"
    assert entry.main(["--input", str(seeds_dir), "--output", str(output)]) == 0
    one_seed = str(next(seeds_dir.glob("000_*.txt")))
    assert entry.main(["--input", one_seed, "--output", str(output)]) == 0
    first, second = dataset.committed_runs(str(output))
    assert first["run_id"] < second["run_id"]  # named by their start times
    assert len(table_rows(output, "articles", first["run_id"])) == 5
    assert [r["source"] for r in table_rows(output, "articles", second["run_id"])] == [one_seed]
    # Without --state nothing tells the second run that the first ingested that seed.
    everything = duckdb.sql(
        f"SELECT source, count(*) FROM read_parquet('{output}/articles/*/*.parquet', "
        "hive_partitioning = true) GROUP BY 1 ORDER BY 1"
    ).fetchall()
    assert len(everything) == 5 and dict(everything)[one_seed] == 2
    assert [p.name for p in tmp_path.iterdir()] == ["out"]


def test_rerunning_a_run_id_replaces_its_rows(seeds_dir: Path, tmp_path: Path) -> None:
    """The same --run_id again (a scheduled day run again) replaces that run's files and
    manifest, and leaves the other runs alone: no row twice."""
    output = tmp_path / "out"
    one_seed = str(next(seeds_dir.glob("000_*.txt")))
    other_seed = str(next(seeds_dir.glob("001_*.txt")))
    day = ["--output", str(output), "--run_id", "2024-05-14"]
    assert entry.main(["--input", str(seeds_dir), *day]) == 0
    first = run_manifest(output, "2024-05-14")
    assert entry.main(["--input", other_seed, "--output", str(output), "--run_id", "b"]) == 0
    assert entry.main(["--input", one_seed, *day]) == 0
    again = run_manifest(output, "2024-05-14")
    assert again["attempt"] != first["attempt"]
    assert [r["source"] for r in table_rows(output, "articles", "2024-05-14")] == [one_seed]
    assert [r["source"] for r in table_rows(output, "articles", "b")] == [other_seed]
    for path in dataset.all_paths(first):  # the replaced attempt's files are gone
        assert not (output / path).exists()
    everything = duckdb.sql(
        f"SELECT source FROM read_parquet('{output}/articles/*/*.parquet', "
        "hive_partitioning = true) ORDER BY 1"
    ).fetchall()
    assert everything == sorted([(one_seed,), (other_seed,)])
    assert sorted(p.name for p in (output / "_runs").iterdir()) == [
        "2024-05-14.html",
        "2024-05-14.json",
        "b.html",
        "b.json",
    ]


def test_a_run_kept_with_state_is_not_run_again_without_it(
    seeds_dir: Path, tmp_path: Path, capsys
) -> None:
    """A scheduled day run again without its --state (a job that lost the flag) replaced
    the run's rows with ones no state had seen: its copies of earlier runs' articles became
    articles again, the state kept the first attempt's, and later runs' duplicates could
    point at articles the new attempt no longer kept. Refused now, the dataset unchanged."""
    output, state = tmp_path / "out", tmp_path / "state"
    day = ["--input", str(seeds_dir), "--output", str(output), "--run_id", "2024-05-14"]
    assert entry.main([*day, "--state", str(state)]) == 0
    first = run_manifest(output, "2024-05-14")
    capsys.readouterr()
    assert entry.main(day) == 2
    error = capsys.readouterr().err
    assert "--run_id 2024-05-14 was committed with --state" in error and str(state) in error
    assert run_manifest(output, "2024-05-14")["attempt"] == first["attempt"]
    # With its state it is run again as before.
    assert entry.main([*day, "--state", str(state)]) == 0
    assert run_manifest(output, "2024-05-14")["attempt"] != first["attempt"]


def test_refuses_to_replace_a_foreign_folder(seeds_dir: Path, tmp_path: Path, capsys) -> None:
    (tmp_path / "notes.txt").write_text("mine")
    assert entry.main(["--input", str(seeds_dir), "--output", str(tmp_path)]) == 2
    assert "not empty" in capsys.readouterr().err
    assert (tmp_path / "notes.txt").read_text() == "mine"


def test_usage_errors(capsys) -> None:
    assert entry.main(["--output", "x"]) == 2
    assert "--input" in capsys.readouterr().err
    assert entry.main(["--input", "x"]) == 2
    assert entry.main(["--input", "x", "--output", "y", "--language_trials", "0"]) == 2
    assert "--language_trials must be at least 1" in capsys.readouterr().err
    assert entry.main(["--input", "x", "--output", "y", "--max_page_seconds", "-1"]) == 2
    assert "--max_page_seconds must be at least 0" in capsys.readouterr().err


@pytest.mark.slow
def test_command_line_and_beam_flags(seeds_dir: Path, tmp_path: Path) -> None:
    """`python -m newsbeam.pipeline` and the `newsbeam` script, with Beam's own flags."""
    script = Path(sys.executable).with_name("newsbeam")
    assert script.exists(), "the console script is installed beside the interpreter"
    output = tmp_path / "out"
    completed = subprocess.run(
        [
            sys.executable,
            "-m",
            "newsbeam.pipeline",
            "--input",
            str(seeds_dir),
            "--output",
            str(output),
            "--direct_num_workers",
            "2",
            "--direct_running_mode",
            "multi_processing",
        ],  # fmt: skip
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert completed.returncode == 0, completed.stderr
    assert "articles    5" in completed.stdout and "rejected    0" in completed.stdout
    assert len(_rows(output, "articles")) == 5
    helped = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert helped.returncode == 0 and "--max_document_bytes" in helped.stdout


def test_own_outputs_state_and_leftovers_are_not_inputs(seeds_dir: Path, tmp_path: Path) -> None:
    """An --output and --state inside an input folder, and the staging folders a killed
    run leaves beside them, are never read back as inputs."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    shutil.copy(next(seeds_dir.glob("000_*.txt")), inputs)
    output, state = inputs / "out", inputs / "state"
    argv = ["--input", str(inputs), "--output", str(output), "--state", str(state)]
    assert entry.main(argv) == 0
    shutil.copytree(output, inputs / ".out.newsbeam-0123456789ab.tmp")  # a killed run's
    shutil.copytree(state, inputs / ".state.newsbeam-0123456789ab.old")
    assert entry.main(argv) == 0
    manifest = run_manifest(output)  # the second run's
    counts = manifest["counts"]
    # Nothing of NewsBeam's own is read (not even as a rejected row); the one real input is
    # listed and, read by the first run and unchanged, skipped.
    assert (counts["inputs"], counts["rejected"], counts["balanced"]) == (0, 0, True)
    assert manifest["counters"]["read_skipped_unchanged"] == 1
    assert manifest["counters"]["read_skipped_newsbeam_folders"] >= 2


def test_file_name_that_is_not_utf8_end_to_end(seeds_dir: Path, tmp_path: Path) -> None:
    inputs = tmp_path / "in"
    inputs.mkdir()
    seed = next(seeds_dir.glob("000_*.txt"))
    with open(os.fsencode(inputs) + b"/caf\xe9.txt", "wb") as handle:
        handle.write(seed.read_bytes())
    output = tmp_path / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    assert [r["source"] for r in _rows(output, "articles")] == [f"{inputs}/caf\\xe9.txt"]


_STORY = (
    "the regional court ruled on Thursday that the contested election result stands after a "
    "recount of all the ballots cast in the northern district"
)


def _hostile_fields(folder: Path) -> Path:
    """Documents whose text is fine and whose other fields are not: each failed the whole
    run, lost its feed, or was rejected as internal_error."""
    folder.mkdir()
    records = [
        {"text": f"Lone surrogate \ud800 in a record: {_STORY} one.", "title": "bad \udfff"},
        {"text": f"A site that is a number: {_STORY} two.", "site": 42, "authors": [1, "Ann Lee"]},
        {"text": f"An offset of a day: {_STORY} three.", "published": "2024-05-01T10:00+25:00"},
        {"text": f"A URL that is none: {_STORY} four.", "url": "http://[::1"},
        {"text": f"A placeholder date: {_STORY} five.", "published": "0001-01-01T00:00:00Z"},
    ]
    (folder / "records.jsonl").write_text("\n".join(json.dumps(r) for r in records) + "\n")
    (folder / "feed.rss").write_text(
        '<?xml version="1.0"?><rss version="2.0"><channel><title>x</title>'
        f"<item><guid>g1</guid><title>ref &#xD800; here</title><description>Feed one: {_STORY}"
        "</description><pubDate>Tue, 14 May 2024 10:00:00 +2500</pubDate></item>"
        f"<item><guid>g2</guid><title>fine</title><description>Feed two: {_STORY}, again."
        "</description></item></channel></rss>"
    )
    deep = "[" * 3000 + "]" * 3000
    (folder / "page.html").write_text(
        '<html><head><meta property="article:published_time" content="2024-05-01T10:00:00+25:00">'
        f'<script type="application/ld+json">{deep}</script></head><body><article>'
        f"<p>A page: {_STORY}.</p><p>{_STORY}, they said.</p></article></body></html>"
    )
    (folder / "dated.txt").write_text(f"Headline\n\n2024-05-01 10:00 +25:00\n\nA text: {_STORY}.\n")
    return folder


def test_fields_that_break_their_format_cost_the_field_not_the_run(tmp_path: Path) -> None:
    folder = _hostile_fields(tmp_path / "in")
    latin = folder / os.fsdecode(b"lat\xe9in1.txt")  # a file name that is not UTF-8
    latin.write_text(f"Latin name\n\nA file with a Latin-1 name: {_STORY}.\n")
    output = tmp_path / "out"
    # The folder and, by name, the file whose name is not UTF-8 (that crashed the run).
    assert entry.main(["--input", str(folder), "--input", str(latin), "--output", str(output),
                       "--no_fetch_pages", "--no_near_duplicates"]) == 0  # fmt: skip
    counts = run_manifest(output)["counts"]
    assert counts["balanced"] is True and counts["inputs"] == 10  # the Latin-1 one read once
    assert _rows(output, "rejected") == []
    articles = {os.path.basename(a["source"]): a for a in _rows(output, "articles")}
    assert len(articles) == 10
    assert articles["records.jsonl#L1"]["title"] == "bad \ufffd"
    assert "\ufffd" in articles["records.jsonl#L1"]["text"]
    assert articles["records.jsonl#L2"]["authors"] == ["Ann Lee"]
    for name in ("records.jsonl#L3", "records.jsonl#L5", "page.html"):
        assert articles[name]["published_at"] is None, name  # the date, not the article
    unparsable = articles["records.jsonl#L4"]  # kept as given, identifying nothing
    assert (unparsable["url"], unparsable["canonical_url"]) == ("http://[::1", None)
    feed = [a for name, a in articles.items() if name.startswith("feed.rss")]
    assert sorted(a["title"] for a in feed) == ["fine", "ref \ufffd here"]


# Review 70: trafilatura dropped every character `str.isprintable` refuses, so a page lost
# the joiners (Persian's non-joiner, an emoji family's joiner), the direction marks, a
# flag's tag characters and emoji newer than Python's Unicode tables that the same article
# kept as a text file; and both lost their typographic quotes to ASCII ones.
_SPELLING_PARAGRAPHS = [
    # Quotes as the page typeset them (review 70: they were folded to ASCII).
    "Der Minister sagte: \u201eDie Regierung legt die Pl\u00e4ne im Fr\u00fchjahr vor\u201c,"
    " und \u00abc\u2019est fini\u00bb hie\u00df es \u2013 it\u2019s the \u2018last\u2019 word.",
    "In Tehran the paper wrote \u0645\u06cc\u200c\u062e\u0648\u0627\u0647\u062f and"
    " \u0646\u0645\u06cc\u200c\u0634\u0648\u062f in its headline, the words as Persian"
    " spells them.",
    "Fans posted \U0001f468\u200d\U0001f469\u200d\U0001f467 and \U0001f939\u200d\u2640\ufe0f,"
    " a Scottish flag \U0001f3f4\U000e0067\U000e0062\U000e0073\U000e0063\U000e0074\U000e007f"
    " and a pink heart \U0001fa77 under the report.",
    "The name \u05e9\u05dc\u05d5\u05dd\u200f (Hebrew) stayed as the page wrote it, with its mark.",
]


def test_a_page_keeps_the_characters_its_text_file_keeps(tmp_path: Path) -> None:
    title = "Characters a reader of the page sees"
    text_input = tmp_path / "text" / "story.txt"
    page_input = tmp_path / "page" / "story.html"
    text_input.parent.mkdir()
    page_input.parent.mkdir()
    text_input.write_text(title + "\n\n" + "\n\n".join(_SPELLING_PARAGRAPHS), encoding="utf-8")
    body = "".join(f"<p>{paragraph}</p>" for paragraph in _SPELLING_PARAGRAPHS)
    page_input.write_text(
        f"<!doctype html><html><head><meta charset='utf-8'><title>{title}</title></head>"
        f"<body><article><h1>{title}</h1>{body}</article></body></html>",
        encoding="utf-8",
    )
    texts = []
    for folder in (text_input.parent, page_input.parent):
        output = tmp_path / f"out-{folder.name}"
        assert entry.main(["--input", str(folder), "--output", str(output)]) == 0
        [row] = _rows(output, "articles")
        texts.append(row["text"])
    assert texts[0] == "\n\n".join(_SPELLING_PARAGRAPHS)
    assert texts[1] == texts[0]
