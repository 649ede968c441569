"""The whole data flow on one screen: each line is one stage, one file in transforms/."""

from __future__ import annotations

import apache_beam as beam

from newsbeam.pipeline.options import PipelineConfig
from newsbeam.transforms.clean import CleanText
from newsbeam.transforms.dedup import DeduplicateArticles
from newsbeam.transforms.extract import ExtractArticles
from newsbeam.transforms.language import DetectLanguage
from newsbeam.transforms.places import TagPlaces
from newsbeam.transforms.read import ReadDocuments
from newsbeam.transforms.stories import ClusterStories
from newsbeam.transforms.topics import TagTopics
from newsbeam.transforms.write import WriteTables


def build(pipeline: beam.Pipeline, config: PipelineConfig) -> dict[str, beam.PCollection]:
    """Add NewsBeam's stages to `pipeline`; returns the three tables' PCollections."""
    documents, unread = pipeline | "Read" >> ReadDocuments(config.inputs, config.read)
    extracted, unextracted = documents | "Extract" >> ExtractArticles(config.extract)
    cleaned, uncleaned = extracted | "Clean" >> CleanText(config.clean)
    tagged, untagged = cleaned | "Language" >> DetectLanguage(config.language)
    articles, duplicates = tagged | "Dedup" >> DeduplicateArticles(config.dedup, config.state_dir)
    articles = articles | "Stories" >> ClusterStories(
        config.stories, config.dedup, config.state_dir, config.state_out_dir
    )
    articles, untopiced = articles | "Topics" >> TagTopics(config.topics)
    articles, unplaced = articles | "Places" >> TagPlaces(config.places)
    rejected = (
        unread, unextracted, uncleaned, untagged, untopiced, unplaced
    ) | "Rejected" >> beam.Flatten()  # fmt: skip
    tables = {"articles": articles, "duplicates": duplicates, "rejected": rejected}
    _ = tables | "Write" >> WriteTables(config.output_dir)
    return tables
