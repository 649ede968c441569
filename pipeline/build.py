"""The whole data flow on one screen: each line is one stage, one file in transforms/.

`config.state` (newsbeam.transforms.support.state) is the checked `--state` folder: the
stateful stages (feeds, dedup, stories, and the dedup index written after stories) read the
earlier state from it and, with --state, write the new state into its staging folder."""

from __future__ import annotations

import apache_beam as beam

from newsbeam.pipeline.options import PipelineConfig
from newsbeam.schemas import FEED_HEALTH_TABLE, RawDocument
from newsbeam.transforms.clean import CleanText
from newsbeam.transforms.dedup import DeduplicateArticles, WriteDedupIndex
from newsbeam.transforms.extract import ExtractArticles
from newsbeam.transforms.feeds.stage import ReadFeeds, feed_not_planned
from newsbeam.transforms.language import DetectLanguage
from newsbeam.transforms.places import TagPlaces
from newsbeam.transforms.read import FEED_KINDS, ReadDocuments, may_hold_feeds
from newsbeam.transforms.stories import ClusterStories
from newsbeam.transforms.support.progress import CountProgress
from newsbeam.transforms.topics import TagTopics
from newsbeam.transforms.write import WriteTables


def build(pipeline: beam.Pipeline, config: PipelineConfig) -> dict[str, beam.PCollection]:
    """Add NewsBeam's stages to `pipeline`; returns the three tables' PCollections."""
    state = config.state
    documents, unread = pipeline | "Read" >> ReadDocuments(config.inputs, config.read, state)
    # Beam types Partition as taking a PartitionFn; a plain function works too.
    pages, feeds = documents | "FeedsApart" >> beam.Partition(_feed_or_page, 2)  # type: ignore[arg-type]
    extracted, unextracted = pages | "Extract" >> ExtractArticles(config.extract)
    feed_health: beam.PCollection | None = None
    if _feeds_possible(config):
        from_feeds, unfed, feed_health = feeds | "Feeds" >> ReadFeeds(
            config.feeds, config.extract, state
        )
        extracted = (extracted, from_feeds) | "AllArticles" >> beam.Flatten()
    else:  # the feed stage's ~8 fused stages, not built for a run that reads no feed
        unfed = feeds | "FeedsNotPlanned" >> beam.Map(feed_not_planned)
    cleaned, uncleaned = extracted | "Clean" >> CleanText(config.clean)
    tagged, untagged = cleaned | "Language" >> DetectLanguage(config.language)
    articles, duplicates = tagged | "Dedup" >> DeduplicateArticles(config.dedup, state)
    articles = articles | "Stories" >> ClusterStories(config.stories, state)
    if state.writes:  # the dedup index of the new state: kept articles with their story ids
        _ = articles | "WriteDedupIndex" >> WriteDedupIndex(config.dedup, state)
    articles, untopiced = articles | "Topics" >> TagTopics(config.topics)
    articles, unplaced = articles | "Places" >> TagPlaces(config.places)
    rejected = (
        unread, unextracted, unfed, uncleaned, untagged, untopiced, unplaced
    ) | "Rejected" >> beam.Flatten()  # fmt: skip
    tables = {"articles": articles, "duplicates": duplicates, "rejected": rejected}
    # Without the feed stage, the feed_health table is written empty (as with no feeds read).
    written = {**tables, FEED_HEALTH_TABLE: feed_health} if feed_health is not None else tables
    _ = written | "Write" >> WriteTables(
        config.output_dir,
        config.partition,
        config.file_prefix,
        config.url_params,
        config.empty_files,
    )
    if config.progress_dir:  # what the command shows while the run goes on
        taps = {"read": documents, "processed": tagged, **tables}
        _ = taps | "Progress" >> CountProgress(config.progress_dir)
    return tables


def _feeds_possible(config: PipelineConfig) -> bool:
    """Whether the run may read a feed: feeds or pages named by URL, a --feeds list, or an
    input that may hold a feed file (`may_hold_feeds`)."""
    feeds = config.feeds
    named = feeds.feed_urls or feeds.feed_lists or feeds.page_urls
    return bool(named) or may_hold_feeds(config.inputs)


def _feed_or_page(document: RawDocument, partitions: int) -> int:
    """Partition 1: feeds and OPML lists (the feed stage); 0: everything else."""
    return int(document.kind in FEED_KINDS)
