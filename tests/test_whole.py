"""transforms/support/whole.py: a value, or a function of a whole PCollection, once, in fewer
graph steps than Beam's Create and ToList (run on the FnApiRunner, as a run does)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.transforms.support.whole import CallWithAll, One
from tests.helpers import make_test_pipeline


def _sorted_with(elements: list[int], label: str) -> tuple[str, list[int]]:
    return label, sorted(elements)


def _leaf_count(pipeline: beam.Pipeline) -> int:
    proto = pipeline.to_runner_api().components.transforms.values()
    return sum(1 for transform in proto if not transform.subtransforms)


def test_call_with_all_gets_every_element_once_with_its_args() -> None:
    with make_test_pipeline() as pipeline:
        numbers = pipeline | beam.Create([3, 1, 2])
        result = numbers | CallWithAll(_sorted_with, "all")
        assert_that(result, equal_to([("all", [1, 2, 3])]))


def test_call_with_all_of_nothing_is_called_with_an_empty_list() -> None:
    # ToList's default: a function of the whole collection runs even when it is empty.
    with make_test_pipeline() as pipeline:
        nothing = pipeline | beam.Create([]).with_output_types(int)
        assert_that(nothing | CallWithAll(_sorted_with, "none"), equal_to([("none", [])]))


def test_call_with_all_takes_a_side_input_among_its_args() -> None:
    with make_test_pipeline() as pipeline:
        flag = pipeline | "Flag" >> beam.Create(["flagged"])
        numbers = pipeline | "Numbers" >> beam.Create([2, 1])
        result = numbers | CallWithAll(_sorted_with, beam.pvalue.AsSingleton(flag))
        assert_that(result, equal_to([("flagged", [1, 2])]))


def test_one_is_a_collection_of_its_value() -> None:
    value: tuple[Any, ...] = ("a", ("b", 1))
    with make_test_pipeline() as pipeline:
        assert_that(pipeline | One(value), equal_to([value]))


def test_fewer_steps_than_create_and_to_list(unrun_pipeline: Callable[..., beam.Pipeline]) -> None:
    ours, beams = unrun_pipeline(runner="FnApiRunner"), unrun_pipeline(runner="FnApiRunner")
    _ = ours | One(1) | CallWithAll(len)
    _ = beams | beam.Create([1]) | beam.combiners.ToList() | beam.Map(len)
    assert _leaf_count(ours) == 4  # Impulse, Map; Impulse, Map
    assert _leaf_count(ours) < _leaf_count(beams)


def test_call_with_all_of_a_tuple_reads_each_collection_as_it_is() -> None:
    # Review 87: a tuple of PCollections, no Flatten (a stage of its own on the local runner).
    with make_test_pipeline() as pipeline:
        first = pipeline | "First" >> beam.Create([3, 1])
        second = pipeline | "Second" >> beam.Create([2])
        nothing = pipeline | "Nothing" >> beam.Create([]).with_output_types(int)
        result = (first, second, nothing) | CallWithAll(_sorted_with, "parts")
        assert_that(result, equal_to([("parts", [1, 2, 3])]))
