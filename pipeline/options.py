"""NewsBeam's command-line options, as a Beam `PipelineOptions` subclass.

Every Beam flag (`--runner`, `--direct_num_workers`, `--temp_location`, ...) keeps working
beside these. No option is `required=True` (that breaks every other pipeline in the same
process); `main()` validates instead. Options turn into the frozen per-stage config
dataclasses here, so stages never read options.
"""

from __future__ import annotations

import dataclasses

from apache_beam.options.pipeline_options import PipelineOptions

from newsbeam.transforms.clean import CleanConfig
from newsbeam.transforms.dedup import DedupConfig
from newsbeam.transforms.extract import ExtractConfig
from newsbeam.transforms.language import LanguageConfig
from newsbeam.transforms.places import PlacesConfig
from newsbeam.transforms.read import ReadConfig
from newsbeam.transforms.stories import StoryConfig
from newsbeam.transforms.topics import TopicsConfig


class NewsBeamOptions(PipelineOptions):
    @classmethod
    def _add_argparse_args(cls, parser) -> None:  # noqa: ANN001 (Beam's signature)
        group = parser.add_argument_group("NewsBeam")
        group.add_argument(
            "--input",
            dest="inputs",
            action="append",
            default=None,
            help="A file, a directory (read recursively) or a glob; repeatable. "
            ".txt/.md raw text, .html/.htm HTML (also .gz), .jsonl one record a line.",
        )
        group.add_argument(
            "--output",
            default=None,
            help="Output folder: articles/, duplicates/, rejected/ (Parquet) and "
            "manifest.json. Replaced as a whole when the run succeeds.",
        )
        group.add_argument(
            "--state",
            default=None,
            help="State folder kept across runs (dedup index, feed state); read at the "
            "start, replaced when the run succeeds. Missing: starts empty.",
        )
        group.add_argument(
            "--max_document_bytes",
            type=int,
            default=ReadConfig.max_document_bytes,
            help="Inputs larger than this (after decompression) are rejected as too_large.",
        )
        group.add_argument(
            "--min_words",
            type=int,
            default=CleanConfig.min_words,
            help="Clean texts with fewer words are rejected as too_short.",
        )
        group.add_argument(
            "--language_sample_chars",
            type=int,
            default=LanguageConfig.sample_chars,
            help="Characters of text language detection reads (0: all).",
        )
        group.add_argument(
            "--language_trials",
            type=int,
            default=LanguageConfig.trials,
            help="langdetect's random trials per text (its own default: 7).",
        )
        group.add_argument(
            "--near_duplicate_threshold",
            type=float,
            default=DedupConfig.near_threshold,
            help="Least shingle containment (0-1) for a near-duplicate (verified copy).",
        )
        group.add_argument(
            "--story_threshold",
            type=float,
            default=StoryConfig.threshold,
            help="Least text similarity (0-1) for two articles to share a story_id.",
        )
        group.add_argument(
            "--story_days",
            type=float,
            default=StoryConfig.max_days,
            help="Articles whose dates (both known) are further apart than this many days "
            "never share a story.",
        )
        group.add_argument(
            "--topic_threshold",
            type=float,
            default=TopicsConfig.threshold,
            help="Score (0-1) a further top-level topic needs besides the best one.",
        )


@dataclasses.dataclass(frozen=True)
class PipelineConfig:
    """Everything `build()` needs, in one typed value."""

    inputs: tuple[str, ...]
    output_dir: str
    # Previous state to read (None: none yet) and the folder to write the new state into
    # (None: no --state, nothing is kept). See newsbeam.pipeline.state.
    state_dir: str | None = None
    state_out_dir: str | None = None
    read: ReadConfig = ReadConfig()
    extract: ExtractConfig = ExtractConfig()
    clean: CleanConfig = CleanConfig()
    language: LanguageConfig = LanguageConfig()
    dedup: DedupConfig = DedupConfig()
    stories: StoryConfig = StoryConfig()
    topics: TopicsConfig = TopicsConfig()
    places: PlacesConfig = PlacesConfig()


def config_from_options(
    options: NewsBeamOptions,
    output_dir: str,
    state_dir: str | None = None,
    state_out_dir: str | None = None,
) -> PipelineConfig:
    """Options -> config; `output_dir` and `state_out_dir` are where this run writes (staging
    folders), `state_dir` the previous state it reads."""
    return PipelineConfig(
        inputs=tuple(options.inputs or ()),
        output_dir=output_dir,
        state_dir=state_dir,
        state_out_dir=state_out_dir,
        read=ReadConfig(max_document_bytes=options.max_document_bytes),
        clean=CleanConfig(min_words=options.min_words),
        language=LanguageConfig(
            sample_chars=options.language_sample_chars, trials=options.language_trials
        ),
        dedup=DedupConfig(near_threshold=options.near_duplicate_threshold),
        stories=StoryConfig(threshold=options.story_threshold, max_days=options.story_days),
        topics=TopicsConfig(threshold=options.topic_threshold),
    )
