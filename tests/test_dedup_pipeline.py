"""End to end: near copies, stories and the dedup state across runs, on real files."""

from __future__ import annotations

import datetime as dt
import json
import random
import shutil
import time
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from newsbeam.pipeline import main as entry
from newsbeam.schemas import STATE_VERSION, STATE_VERSION_KEY
from newsbeam.schemas.dedup_state import DEDUP_ARTICLE_SCHEMA
from tests.helpers import current_state, rerecord_state, run_manifest, table_rows


def _rows(output: Path, table: str, order_by: str = "source") -> list[dict]:
    """The rows of `table` of the one run committed to the dataset `output`."""
    return table_rows(output, table, order_by=order_by)


def _run_records(tmp_path: Path, records: list[dict]) -> Path:
    """One run over `records` as a JSON-lines file; its output ROOT."""
    inputs = tmp_path / "in"
    inputs.mkdir()
    (inputs / "items.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    output = tmp_path / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    return output


def _dedup(state: Path, table: str, order_by: str = "source") -> list[dict]:
    """The rows of a dedup state table, in the state version CURRENT names."""
    folder = current_state(state) / "dedup" / table
    relation = duckdb.sql(f"SELECT * FROM '{folder}/*.parquet' ORDER BY {order_by}")
    return [dict(zip(relation.columns, row, strict=True)) for row in relation.fetchall()]


def _by_seed(rows: list[dict]) -> dict[str, dict]:
    return {Path(r["source"]).name[:3]: r for r in rows}


def rewrapped_copy(seed: Path) -> str:
    """A syndicated copy of seed 000: other site chrome, a new title, the last paragraphs
    trimmed, no header lines."""
    body = seed.read_text().split("REUTERS TV via REUTERS", 1)[1].strip().split("\n\n")
    return (
        "UPDATE 2-Talks between Israel and Hamas go on, source says\n\n"
        "Advertisement\n\nShare this article\n\n"
        + "\n\n".join(body[:-3])
        + "\n\nRead more: World news\n"
    )


@pytest.fixture(scope="module")
def copies_output(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    inputs = tmp_path_factory.mktemp("in")
    for seed in seeds.iterdir():
        shutil.copy(seed, inputs / seed.name)
    (inputs / "syndicated.txt").write_text(rewrapped_copy(next(seeds.glob("000_*.txt"))))
    output = inputs.parent / "out"
    assert entry.main(["--input", str(inputs), "--output", str(output)]) == 0
    return inputs, output


def test_rewrapped_retitled_trimmed_copy_is_a_near_duplicate(copies_output) -> None:
    inputs, output = copies_output
    articles = _by_seed(_rows(output, "articles"))
    assert set(articles) == {"000", "001", "002", "003", "004"}
    (duplicate,) = _rows(output, "duplicates")
    assert duplicate["source"] == str(inputs / "syndicated.txt")
    assert duplicate["method"] == "near" and 0.5 <= duplicate["similarity"] <= 1.0
    assert duplicate["canonical_id"] == articles["000"]["article_id"]
    assert articles["000"]["duplicate_count"] == 1
    assert articles["000"]["duplicate_sources"] == [duplicate["source"]]
    assert all(articles[k]["duplicate_count"] == 0 for k in ("001", "002", "003", "004"))


def test_near_duplicates_can_be_switched_off(copies_output, tmp_path: Path) -> None:
    inputs, _ = copies_output
    output = tmp_path / "out"
    assert (
        entry.main(["--input", str(inputs), "--output", str(output), "--no_near_duplicates"]) == 0
    )
    assert len(_rows(output, "articles")) == 6 and _rows(output, "duplicates") == []


def test_seed_story_ids(copies_output) -> None:
    _, output = copies_output
    stories = {k: r["story_id"] for k, r in _by_seed(_rows(output, "articles")).items()}
    assert stories["001"] == stories["002"]
    assert len({stories[k] for k in ("000", "001", "003", "004")}) == 4
    assert all(stories.values())


def test_shuffled_input_gives_the_same_tables(copies_output, tmp_path: Path) -> None:
    inputs, output = copies_output
    files = sorted(str(p) for p in inputs.iterdir())
    random.Random(7).shuffle(files)
    again = tmp_path / "again"
    assert entry.main([*[a for f in files for a in ("--input", f)], "--output", str(again)]) == 0
    for table in ("articles", "duplicates"):
        first = [{k: v for k, v in r.items() if k != "ingested_at"} for r in _rows(output, table)]
        second = [{k: v for k, v in r.items() if k != "ingested_at"} for r in _rows(again, table)]
        assert first == second


def _two_days(seeds_dir: Path, tmp_path: Path) -> tuple[Path, Path, Path]:
    """(state folder, day 1 with seeds 000, 001, 003 and 004, an empty day 2)."""
    state, day1, day2 = tmp_path / "state", tmp_path / "day1", tmp_path / "day2"
    day1.mkdir()
    day2.mkdir()
    for prefix in ("000", "001", "003", "004"):
        seed = next(seeds_dir.glob(f"{prefix}_*.txt"))
        shutil.copy(seed, day1 / seed.name)
    return state, day1, day2


@pytest.mark.slow
def test_state_across_runs(seeds_dir: Path, tmp_path: Path) -> None:
    state, day1, day2 = _two_days(seeds_dir, tmp_path)
    # Day 2: a copy of yesterday's 000, and 002, a new article on yesterday's 001 story.
    (day2 / "syndicated.txt").write_text(rewrapped_copy(next(seeds_dir.glob("000_*.txt"))))
    shutil.copy(next(seeds_dir.glob("002_*.txt")), day2)

    first = tmp_path / "out1"
    assert entry.main(["--input", str(day1), "--output", str(first), "--state", str(state)]) == 0
    yesterday = _by_seed(_rows(first, "articles"))
    marker = json.loads((current_state(state) / "state.json").read_text())
    assert "dedup" in marker["components"]
    index = _dedup(state, "articles", "article_id")
    assert sorted(r["article_id"] for r in index) == sorted(
        r["article_id"] for r in yesterday.values()
    )
    stored = pq.ParquetFile(next((current_state(state) / "dedup" / "articles").glob("*.parquet")))
    assert stored.schema_arrow.metadata[STATE_VERSION_KEY] == STATE_VERSION.encode()

    second = tmp_path / "out2"
    assert entry.main(["--input", str(day2), "--output", str(second), "--state", str(state)]) == 0
    (duplicate,) = _rows(second, "duplicates")
    assert duplicate["source"].endswith("syndicated.txt") and duplicate["method"] == "near"
    assert duplicate["canonical_id"] == yesterday["000"]["article_id"]
    (article,) = _rows(second, "articles")
    assert Path(article["source"]).name.startswith("002")
    assert article["story_id"] == yesterday["001"]["story_id"]
    assert len(_dedup(state, "articles")) == 5
    members = _dedup(state, "stories", "article_id")
    indexed = _dedup(state, "articles", "article_id")
    assert [r["article_id"] for r in members] == [r["article_id"] for r in indexed]
    # Document frequencies span the runs: the empty term counts the articles clustered.
    frequencies = {r["term"]: r["articles"] for r in _dedup(state, "story_terms", "term")}
    assert frequencies[""] == 5 and all(n >= 1 for n in frequencies.values())
    story_001 = [r for r in members if r["story_id"] == yesterday["001"]["story_id"]]
    assert sorted(r["article_id"] for r in story_001) == sorted(
        [yesterday["001"]["article_id"], article["article_id"]]
    )

    # The same batch again under other paths (the same paths would be skipped as already
    # read): nothing new, every input a copy of what the state holds.
    again_in = tmp_path / "day2-again"
    shutil.copytree(day2, again_in)
    third = tmp_path / "out3"
    assert (
        entry.main(["--input", str(again_in), "--output", str(third), "--state", str(state)]) == 0
    )
    assert _rows(third, "articles") == []
    again = {Path(r["source"]).name[:3]: r for r in _rows(third, "duplicates")}
    assert again["002"]["method"] == "exact"
    assert again["002"]["canonical_id"] == article["article_id"]
    assert again["syn"]["canonical_id"] == yesterday["000"]["article_id"]
    assert len(_dedup(state, "articles")) == 5
    assert {"term": "", "articles": 5} in _dedup(state, "story_terms", "term")


def age_state(state: Path, days: float) -> None:
    """Make every row of the dedup articles and stories state first seen `days` earlier,
    keeping each file's schema and its metadata (the state-version stamp)."""
    for table in ("articles", "stories"):
        for path in (current_state(state) / "dedup" / table).glob("*.parquet"):
            schema = pq.read_schema(path)
            rows = pq.read_table(path)
            index = schema.get_field_index("first_seen_at")
            aged = pa.array(
                [t - dt.timedelta(days=days) for t in rows.column(index).to_pylist()],
                type=schema.field(index).type,
            )
            columns = [aged if i == index else rows.column(i) for i in range(rows.num_columns)]
            pq.write_table(pa.Table.from_arrays(columns, schema=schema), path)
            assert pq.read_schema(path).metadata[STATE_VERSION_KEY] == STATE_VERSION.encode()
    rerecord_state(state)  # changed on purpose: not damage


@pytest.mark.slow
def test_state_keep_days_prunes_old_articles(seeds_dir: Path, tmp_path: Path) -> None:
    state, day1, day2 = _two_days(seeds_dir, tmp_path)
    seed_000 = next(seeds_dir.glob("000_*.txt"))
    shutil.copy(seed_000, day2 / "copy_of_000.txt")  # an exact copy of a run-1 article
    shutil.copy(next(seeds_dir.glob("002_*.txt")), day2)

    first = tmp_path / "out1"
    assert entry.main(["--input", str(day1), "--output", str(first), "--state", str(state)]) == 0
    yesterday = _by_seed(_rows(first, "articles"))
    started = dt.datetime.fromisoformat(run_manifest(first)["started_at"])
    index = _dedup(state, "articles", "article_id")
    assert {r["first_seen_at"] for r in index} == {started}  # the run's start, one value
    age_state(state, 30)
    kept_state = tmp_path / "kept_state"
    shutil.copytree(state, kept_state)
    ids_state = tmp_path / "ids_state"
    shutil.copytree(state, ids_state)

    # A week's retention: run 1's articles (30 days old) are forgotten: they take no part in
    # near copies or stories, and their state rows are thin (no signature, no shingles).
    # Review 50: the exact copy of run 1's 000 was a new article with 000's article_id, the
    # dataset's articles then held that id twice; it is 000's duplicate, as it has its id.
    second = tmp_path / "out2"
    argv = ["--input", str(day2), "--output", str(second), "--state", str(state)]
    assert entry.main([*argv, "--state_keep_days", "7"]) == 0
    manifest = run_manifest(second)
    (duplicate,) = _rows(second, "duplicates")
    assert duplicate["source"].endswith("copy_of_000.txt") and duplicate["method"] == "exact"
    assert duplicate["canonical_id"] == yesterday["000"]["article_id"]
    assert duplicate["article_id"] != yesterday["000"]["article_id"]
    articles = _rows(second, "articles", "article_id")
    assert [Path(r["source"]).name[:3] for r in articles] == ["002"]
    counts = manifest["counts"]
    assert counts["inputs"] == counts["articles"] + counts["duplicates"] + counts["rejected"] == 2
    assert counts["balanced"] is True
    assert manifest["counters"]["dedup_state_pruned"] == 4
    assert manifest["counters"]["stories_state_pruned"] == 4
    ids = [r["article_id"] for r in articles]
    assert [r["article_id"] for r in _dedup(state, "stories", "article_id")] == ids
    index = _dedup(state, "articles", "article_id")
    thin = {r["article_id"] for r in index if not r["signature"] and not r["shingles"]}
    assert thin == {r["article_id"] for r in yesterday.values()}
    assert [r["article_id"] for r in index if r["article_id"] not in thin] == ids
    assert {r["first_seen_at"].isoformat() for r in index if r["article_id"] in ids} == {
        manifest["started_at"]
    }
    # The next run carries the thin rows as they are (not pruned again).
    third_day = tmp_path / "day3"
    third_day.mkdir()
    (third_day / "other.txt").write_text(rewrapped_copy(seed_000).replace("Israel", "Gaza"))
    argv = ["--input", str(third_day), "--output", str(tmp_path / "out2b"), "--state", str(state)]
    assert entry.main([*argv, "--state_keep_days", "7"]) == 0
    assert run_manifest(tmp_path / "out2b")["counters"].get("dedup_state_pruned", 0) == 0
    assert thin <= {r["article_id"] for r in _dedup(state, "articles", "article_id")}
    # story_terms is not pruned: its article count spans both runs.
    assert {"term": "", "articles": 6} in _dedup(state, "story_terms", "term")

    # A long retention on the same aged state: the copy IS a duplicate of run 1's 000.
    third = tmp_path / "out3"
    argv = ["--input", str(day2), "--output", str(third), "--state", str(kept_state)]
    assert entry.main([*argv, "--state_keep_days", "365"]) == 0
    manifest = run_manifest(third)
    (duplicate,) = _rows(third, "duplicates")
    assert duplicate["source"].endswith("copy_of_000.txt") and duplicate["method"] == "exact"
    assert duplicate["canonical_id"] == yesterday["000"]["article_id"]
    assert manifest["counts"]["balanced"] is True and manifest["counts"]["inputs"] == 2
    assert manifest["counters"].get("dedup_state_pruned", 0) == 0
    assert manifest["counters"].get("stories_state_pruned", 0) == 0
    carried = _dedup(kept_state, "articles", "article_id")
    assert len(carried) == 5
    # Carried rows keep their (aged) first_seen_at; the new one has run 3's start.
    assert sorted({r["first_seen_at"] for r in carried}) == [
        started - dt.timedelta(days=30),
        dt.datetime.fromisoformat(manifest["started_at"]),
    ]

    # Thin rows are bounded too (--state_keep_ids_days, a year by default): past it, run 1's
    # rows are gone whole, and the exact copy of 000 is an article again, with 000's id
    # (the documented limit of a bounded state).
    fourth = tmp_path / "out4"
    argv = ["--input", str(day2), "--output", str(fourth), "--state", str(ids_state)]
    assert entry.main([*argv, "--state_keep_days", "7", "--state_keep_ids_days", "20"]) == 0
    manifest = run_manifest(fourth)
    assert manifest["counters"]["dedup_state_pruned"] == 4
    assert _rows(fourth, "duplicates") == []
    articles = _rows(fourth, "articles", "article_id")
    assert yesterday["000"]["article_id"] in {r["article_id"] for r in articles}
    remembered = {r["article_id"] for r in _dedup(ids_state, "articles", "article_id")}
    assert remembered == {r["article_id"] for r in articles}


@pytest.mark.slow
def test_a_rerun_later_measures_retention_from_the_first_attempts_start(
    seeds_dir: Path, tmp_path: Path
) -> None:
    """Review 57: a rerun of a night (same --run_id, with --state) measured the retention
    cut-off from its own start: run later, it forgot earlier articles the first attempt
    still knew, and a near copy the first attempt had as a duplicate was an article."""
    state, day1, day2 = _two_days(seeds_dir, tmp_path)
    (day2 / "syndicated.txt").write_text(rewrapped_copy(next(seeds_dir.glob("000_*.txt"))))
    first = tmp_path / "out1"
    assert entry.main(["--input", str(day1), "--output", str(first), "--state", str(state)]) == 0
    yesterday = _by_seed(_rows(first, "articles"))
    started = dt.datetime.fromisoformat(run_manifest(first)["started_at"])
    # Run 1's articles fall out of a 7-day window 20 s from now: the night's first attempt
    # (starting at once) still knows them, a rerun after that moment would not.
    edge = time.time() + 20
    moment = dt.datetime.fromtimestamp(edge, dt.timezone.utc) - dt.timedelta(days=7)
    age_state(state, (started - moment) / dt.timedelta(days=1))
    night = tmp_path / "night"
    argv = ["--input", str(day2), "--output", str(night), "--state", str(state)]
    argv += ["--run_id", "night-2", "--state_keep_days", "7"]
    assert entry.main(argv) == 0
    attempt = run_manifest(night)
    # What must precede the edge is the attempt's start (its retention is measured from
    # it), not its end: a run of over 20 s on a loaded host failed `time.time() < edge`.
    first_start = dt.datetime.fromisoformat(attempt["started_at"]).timestamp()
    assert first_start < edge, "the first attempt started too late to test anything"
    (duplicate,) = _rows(night, "duplicates")
    assert duplicate["canonical_id"] == yesterday["000"]["article_id"]
    time.sleep(max(0.0, edge - time.time()) + 1)

    assert entry.main(argv) == 0  # the same night again, after the edge
    again = run_manifest(night)
    assert again["attempt"] != attempt["attempt"]
    assert _rows(night, "articles") == []  # review 57: the copy of 000 was an article
    (duplicate_again,) = _rows(night, "duplicates")
    assert duplicate_again["canonical_id"] == yesterday["000"]["article_id"]
    assert again["counters"].get("dedup_state_pruned", 0) == 0
    assert again["state"]["run_at"] == attempt["state"]["run_at"] == attempt["started_at"]
    # Run 1's rows are carried whole, as by the first attempt.
    index = _dedup(state, "articles", "article_id")
    assert len(index) == 4 and all(r["signature"] for r in index)
    marker = json.loads((current_state(state) / "state.json").read_text())
    assert marker["run_at"] == attempt["started_at"]


def test_corrupt_or_other_version_dedup_state_is_refused(
    seeds_dir: Path, tmp_path: Path, capsys
) -> None:
    state = tmp_path / "state"
    argv = ["--input", str(seeds_dir), "--output", str(tmp_path / "out"), "--state", str(state)]
    assert entry.main(argv) == 0
    stored = next((current_state(state) / "dedup" / "articles").glob("*.parquet"))
    stored.write_bytes(b"PAR1 not really parquet")
    assert entry.main(argv) == 2
    assert "is damaged" in capsys.readouterr().err  # the file record catches it first
    rerecord_state(state)  # past the record: the file check itself
    assert entry.main(argv) == 2
    assert "unreadable" in capsys.readouterr().err
    assert stored.read_bytes() == b"PAR1 not really parquet"  # never overwritten

    other = pa.table(
        {f.name: pa.array([], type=f.type) for f in DEDUP_ARTICLE_SCHEMA},
        schema=DEDUP_ARTICLE_SCHEMA.with_metadata({STATE_VERSION_KEY: b"0"}),
    )
    pq.write_table(other, stored)
    rerecord_state(state)
    assert entry.main(argv) == 2
    assert "state version 0" in capsys.readouterr().err
    assert pq.read_schema(stored).metadata[STATE_VERSION_KEY] == b"0"


def test_threshold_flags_are_validated(capsys) -> None:
    base = ["--input", "x", "--output", "y"]
    assert entry.main([*base, "--near_duplicate_threshold", "1.5"]) == 2
    assert "--near_duplicate_threshold must be in (0, 1]" in capsys.readouterr().err
    assert entry.main([*base, "--story_threshold", "0"]) == 2
    assert entry.main([*base, "--near_duplicate_min_shared", "0"]) == 2
    assert entry.main([*base, "--story_days", "-1"]) == 2
    assert "--story_days must be positive" in capsys.readouterr().err
    assert entry.main([*base, "--state_keep_days", "-1"]) == 2
    assert "--state_keep_days must be at least 0, not -1" in capsys.readouterr().err


def test_articles_named_by_a_query_parameter_stay_apart(tmp_path: Path) -> None:
    """Review 46: `articleView.html?idxno=1001` and `?idxno=1002` had one canonical URL
    (courlan's strict mode dropped the parameter), so the second article, about another
    event, went to `duplicates` as a `url` copy of the first. An update of the first, at
    its URL with a share tag, is still its `url` copy."""
    page = "https://news.example/articleView.html?idxno="
    first = (
        "The city council approved the new budget on Tuesday after a long debate about "
        "school funding, road repairs and the cost of the planned library extension."
    )
    second = (
        "Heavy rain flooded the harbour district overnight, closing three streets and the "
        "ferry terminal while firefighters pumped water out of dozens of basements."
    )
    records = [
        {"url": f"{page}1001", "title": "Budget approved", "text": first},
        {"url": f"{page}1002", "title": "Harbour flooded", "text": second},
        {
            "url": f"{page}1001&utm_source=twitter&amp=1",
            "title": "Budget approved (updated)",
            "text": first + " The mayor said the vote was a relief for the whole city.",
        },
    ]
    output = _run_records(tmp_path, records)
    articles = {r["canonical_url"]: r for r in _rows(output, "articles")}
    assert set(articles) == {f"{page}1001", f"{page}1002"}
    # Undated, the longer text (the update) is kept, the first version is its `url` copy.
    assert articles[f"{page}1001"]["source"].endswith("#L3")
    (copy,) = _rows(output, "duplicates")
    assert copy["source"].endswith("#L1") and copy["method"] == "url"
    assert copy["canonical_id"] == articles[f"{page}1001"]["article_id"]


def test_the_timed_wire_story_is_kept_over_a_copy_dated_to_the_day(tmp_path: Path) -> None:
    """Review 46: a republisher's page that shows only the date (midnight, precision day)
    ranked before the wire story it copied, stamped 09:30 that day: the copy was kept, the
    wire story went to `duplicates`, and the story took the copy's id."""
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    wire = rewrapped_copy(next(seeds.glob("000_*.txt"))).split("\n\n", 1)[1]
    local = wire + "\n\nThe town council will discuss the news at its meeting next week."
    records = [
        {"url": "https://wire.example/a", "published": "2024-03-14T09:30:00Z", "text": wire},
        {"url": "https://local.example/b", "published": "2024-03-14", "text": local},
    ]
    output = _run_records(tmp_path, records)
    (kept,) = _rows(output, "articles")
    assert kept["url"] == "https://wire.example/a" and kept["story_id"] == kept["article_id"]
    (copy,) = _rows(output, "duplicates")
    assert copy["source"].endswith("#L2") and copy["method"] == "near"


def test_renderings_of_one_page_are_url_copies(tmp_path: Path) -> None:
    """Review 46: one outlet's article at `https://www.../story/`, updated (most of its text
    rewritten) at `http://.../story` and read again on its mobile AMP page, was three
    articles: the url pass compared canonical URLs as written, scheme, `www.`, `m.`, the
    trailing slash and `/amp` included. The canonical URL and id keep their own form."""
    first = (
        "Firefighters were called to a warehouse fire in the port area early on Monday, "
        "where smoke could be seen for miles and nearby roads were closed to traffic."
    )
    update = (
        "Police have arrested two men after Monday's warehouse blaze, which investigators "
        "now treat as arson; the owner put the damage at several million euros."
    )
    amp = "Update: the two men were released on bail on Tuesday evening, police said."
    other = (
        "The harbour authority opened a new ferry line to the islands on Monday, with four "
        "departures a day in summer and two in winter, and cheaper fares for residents."
    )
    page = "port.example/news/fire"
    records = [
        {"url": f"https://www.{page}/", "published": "2024-03-04", "text": first},
        {"url": f"http://{page}", "published": "2024-03-04", "text": update},
        {"url": f"https://m.{page}/amp", "published": "2024-03-04", "text": amp},
        {"url": "https://port.example/news/ferry", "published": "2024-03-04", "text": other},
    ]
    output = _run_records(tmp_path, records)
    articles = {r["canonical_url"]: r for r in _rows(output, "articles")}
    # One day, no time: the longest text is kept (the first version), in its own form.
    assert set(articles) == {f"https://www.{page}/", "https://port.example/news/ferry"}
    kept = articles[f"https://www.{page}/"]
    copies = _rows(output, "duplicates")
    assert [(c["source"][-3:], c["method"]) for c in copies] == [("#L2", "url"), ("#L3", "url")]
    assert {c["canonical_id"] for c in copies} == {kept["article_id"]}


def test_duplicates_name_the_outlet_that_ran_the_copy(tmp_path: Path) -> None:
    """Review 46: a duplicates row had no url or site, so the outlets that ran a wire
    story could not be counted: a copy read from a file or a JSON line is known by its
    path. It has the copy's own url and site now, as its article would."""
    seeds = Path(__file__).resolve().parents[1] / "seeds"
    wire = rewrapped_copy(next(seeds.glob("000_*.txt"))).split("\n\n", 1)[1]
    records = [
        {"url": "https://wire.example/a", "published": "2024-03-14T09:30:00Z", "text": wire},
        {"url": "https://www.one.example/b?utm_source=x", "text": wire},
        {"url": "https://m.two.example/c", "site": "Two", "text": wire + "\n\nLocal note."},
    ]
    output = _run_records(tmp_path, records)
    (kept,) = _rows(output, "articles")
    copies = _rows(output, "duplicates")
    assert [(c["method"], c["url"], c["site"]) for c in copies] == [
        ("exact", "https://www.one.example/b?utm_source=x", "one.example"),
        ("near", "https://m.two.example/c", "Two"),
    ]
    outlets = duckdb.sql(
        f"""SELECT count(DISTINCT site) FROM (
            SELECT site FROM read_parquet('{output}/articles/*/*.parquet')
            UNION ALL SELECT site FROM read_parquet('{output}/duplicates/*/*.parquet'))"""
    ).fetchall()
    assert kept["site"] == "wire.example" and outlets == [(3,)]


def test_templated_briefs_stay_articles_and_their_true_copy_folds(tmp_path: Path) -> None:
    """A night's wire: weather and ticker briefs cut from one template (another town,
    company, figure, day; a shared advisory or boilerplate paragraph) are different news;
    each was a near copy of the first (review 60). A republished brief with a local line
    added is still a copy."""
    advisory = (
        "Residents are advised to check the latest forecast before travelling, to allow extra "
        "time for journeys, and to follow the advice of local authorities and emergency "
        "services. Further updates will be issued as the situation develops through the day."
    )
    towns = ["Leeds", "York", "Bristol", "Cardiff", "Dundee", "Exeter"]
    days = ["Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday"]
    records = [
        {
            "url": f"https://wire.example/weather/{n}",
            "text": (
                f"Weather warning for {town}: heavy rain is expected on {days[n]} "
                f"{n + 3} June, with up to {12 + 7 * n} millimetres falling in places and "
                f"temperatures reaching {6 + n} degrees. " + advisory
            ),
        }
        for n, town in enumerate(towns)
    ]
    copy = {
        "url": "https://local.example/leeds-rain",
        "text": records[0]["text"] + " Leeds City Council has opened a helpline for residents.",
    }
    output = _run_records(tmp_path, [*records, copy])
    kept = {a["url"]: a for a in _rows(output, "articles")}
    # The copy is the longer text, so it is kept (the longest text ranks first undated).
    assert sorted(kept) == sorted([copy["url"]] + [r["url"] for r in records[1:]])
    (duplicate,) = _rows(output, "duplicates")
    assert duplicate["method"] == "near" and duplicate["url"] == records[0]["url"]
    assert duplicate["canonical_id"] == kept[copy["url"]]["article_id"]
    assert _rows(output, "rejected") == []
    assert run_manifest(output)["counters"].get("dedup_fact_conflicts", 0) >= 5


def test_a_templated_brief_is_no_copy_of_yesterdays(tmp_path: Path) -> None:
    """The state keeps each kept article's fact windows: today's brief for another town is
    compared on its facts with yesterday's, and is a new article (review 60)."""
    advisory = (
        "Residents are advised to check the latest forecast before travelling, to allow extra "
        "time for journeys, and to follow the advice of local authorities and emergency "
        "services. Further updates will be issued as the situation develops through the day."
    )
    brief = "Weather warning for {}: heavy rain is expected on {}, with up to {} millimetres. "
    state, output = tmp_path / "state", tmp_path / "out"
    for day, (town, date, rain) in enumerate(
        [("Leeds", "Friday 4 June", 16), ("York", "Monday 7 June", 40)]
    ):
        inputs = tmp_path / f"in{day}"
        inputs.mkdir()
        record = {
            "url": f"https://wire.example/{town}",
            "text": brief.format(town, date, rain) + advisory,
        }
        (inputs / "items.jsonl").write_text(json.dumps(record) + "\n")
        args = ["--input", str(inputs), "--output", str(output), "--state", str(state)]
        assert entry.main([*args, "--run_id", f"day{day}"]) == 0
    assert all(row["facts"] for row in _dedup(state, "articles"))
    urls = [row["url"] for day in ("day0", "day1") for row in table_rows(output, "articles", day)]
    assert urls == ["https://wire.example/Leeds", "https://wire.example/York"]
    assert table_rows(output, "duplicates", "day1") == []


def test_a_near_copys_candidates_are_sent_once_not_once_a_shard(tmp_path: Path) -> None:
    """An operator's big JSON-lines file of short items, each text in four versions (a
    day's editions): a pair's buckets fall in ~60 of the 256 shards of LSH buckets, and
    each shard sent the pair's key and the canonical's mark again; 20,000 such lines held
    1.47 million elements, 178 MB, between two stages (review 84). One bundle's shards now
    send each copy once; the keys counted are the distinct candidate pairs (before: the
    keys sent, once a shard). The same tables."""
    texts = [
        "Firefighters contained a wildfire that burned through scrubland north of the city "
        "on Tuesday, after crews worked through the night to protect homes in two villages. "
        "Officials said no one was hurt and evacuation orders were lifted by the evening.",
        "The central bank held its main interest rate at four per cent on Thursday, saying "
        "inflation was falling more slowly than expected and that wage growth remained strong "
        "in services. Two members of the committee voted for a cut of a quarter point.",
        "A new rail line linking the airport to the city centre opened to passengers on "
        "Monday, cutting the journey to eighteen minutes. The line cost three billion and "
        "opened two years late after disputes over tunnelling under the old town.",
    ]
    records = [
        {"id": f"item-{k}-{n}", "text": f"Edition {k} of the day. {text} Ref {k}{n}."}
        for k in range(1, 5)
        for n, text in enumerate(texts)
    ]
    output = _run_records(tmp_path, records)
    duplicates = _rows(output, "duplicates")
    assert len(duplicates) == 9 and {d["method"] for d in duplicates} == {"near"}
    assert len(_rows(output, "articles")) == 3
    counters = run_manifest(output)["counters"]
    # Each of the 3 canonicals' 3 copies may name the versions ranked before it: at most
    # 3 + 2 + 1 keys a text, 18 in all (before: once from each of ~60 shards, ~1,000).
    assert 0 < counters["dedup_pair_keys"] <= 18
