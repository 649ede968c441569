"""The pipeline's fixed cost: nothing is built that has no input, and a stage's rejects are
one output of its ParDo (a Flatten per stage was a fused stage of its own on the
FnApiRunner). Built, not run: the rows are the other tests' business."""

from __future__ import annotations

import shutil
from pathlib import Path

import apache_beam as beam

from newsbeam.pipeline.build import build
from newsbeam.pipeline.options import PipelineConfig
from newsbeam.pipeline.runners import remove_scratch
from newsbeam.transforms.feeds.config import FeedsConfig


def _transform_names(tmp_path: Path, inputs: Path, feeds: FeedsConfig) -> list[str]:
    config = PipelineConfig(inputs=(str(inputs),), output_dir=str(tmp_path / "o"), feeds=feeds)
    pipeline = beam.Pipeline(runner="FnApiRunner")
    try:
        build(pipeline, config)
        return [t.unique_name for t in pipeline.to_runner_api().components.transforms.values()]
    finally:
        remove_scratch(pipeline)  # built, not run


def test_no_feed_stage_where_no_input_can_be_a_feed(tmp_path: Path, seeds_dir: Path) -> None:
    names = _transform_names(tmp_path, seeds_dir, FeedsConfig())
    assert not [n for n in names if n.startswith("Feeds/")]
    assert "FeedsNotPlanned" in names  # a feed written into the inputs since: rejected

    # Feed and OPML files among the inputs have their way through the feeds stage, without
    # the branches of feeds named on the command line.
    folder = tmp_path / "in"
    shutil.copytree(seeds_dir, folder)
    (folder / "news.xml").write_text("<rss/>", encoding="utf-8")
    names = _transform_names(tmp_path, folder, FeedsConfig())
    assert "Feeds/FromDocuments" in names and "Feeds/ParseFeeds" in names
    assert not [n for n in names if n.startswith(("Feeds/GivenUrls", "Feeds/FeedLists"))]

    given = FeedsConfig(feed_urls=("http://127.0.0.1:9/feed",), feed_lists=("feeds.txt",))
    names = _transform_names(tmp_path, seeds_dir, given)
    assert "Feeds/GivenUrls" in names and "Feeds/ReadLists" in names


def test_a_stage_rejects_through_its_one_pardo(tmp_path: Path, seeds_dir: Path) -> None:
    names = _transform_names(tmp_path, seeds_dir, FeedsConfig())
    for stage in ("Extract/Extract", "Clean/Clean", "Language/Detect", "Topics/Tag"):
        inside = [n for n in names if n.startswith(f"{stage}/")]
        assert inside, stage
        assert not [n for n in inside if n.endswith(("/Crashed", "/Rejected"))], inside


def test_each_table_is_written_in_the_stage_that_makes_its_rows(
    tmp_path: Path, seeds_dir: Path
) -> None:
    """Review 87: the tables' rows went through a Flatten into one writer, a fused stage of
    its own on the FnApiRunner (every row encoded, sent and decoded once more). Each table's
    writer now follows its rows, and `_written.json` reads each writer's entries as a side
    input of its own (a Flatten of them would be a stage again)."""
    names = _transform_names(tmp_path, seeds_dir, FeedsConfig())
    for table in ("articles", "duplicates", "rejected"):
        assert f"Write/{table}/Files" in names, table
    written = [n for n in names if n.startswith("Write/")]
    assert not [n for n in written if "Flatten" in n or n.startswith("Write/Tables")], written
