"""A stage that raises does not stop the run: the element becomes a rejected row."""

from __future__ import annotations

import apache_beam as beam
from apache_beam.testing.util import assert_that, equal_to

from newsbeam.schemas import RawDocument, Rejected
from newsbeam.transforms.support.failures import REJECTED, apply_with_rejects, excerpt
from tests.helpers import counters_of, make_test_pipeline


class _Fragile(beam.DoFn):
    def process(self, doc: RawDocument):
        if doc.content == b"boom":
            raise ValueError("unexpected input")
        if doc.content == b"bad":
            yield beam.pvalue.TaggedOutput(
                REJECTED, Rejected(doc.source, "test", "bad", "expected failure", "")
            )
            return
        yield doc


def test_exceptions_become_internal_error_rows() -> None:
    docs = [
        RawDocument("ok.txt", "text", b"fine"),
        RawDocument("boom.txt", "text", b"boom"),
        RawDocument("bad.txt", "text", b"bad"),
    ]
    with make_test_pipeline() as pipeline:
        good, rejected = apply_with_rejects(
            pipeline | beam.Create(docs), "Fragile", _Fragile(), "test", lambda d: d.source,
            RawDocument,
        )  # fmt: skip
        assert_that(good | beam.Map(lambda d: d.source), equal_to(["ok.txt"]), label="Good")
        assert_that(
            rejected | beam.Map(lambda r: (r.source, r.stage, r.reason, "ValueError" in r.detail)),
            equal_to(
                [("boom.txt", "test", "internal_error", True), ("bad.txt", "test", "bad", False)]
            ),
            label="Rejected",
        )
    assert counters_of(pipeline)["test_dropped_internal_error"] == 1


def test_excerpt_is_printable_and_bounded() -> None:
    text = excerpt(b"\x00\x01abc\xff" + b"x" * 1000, limit=10)
    assert len(text) == 10 and "\x00" not in text and text.startswith("\ufffd\ufffdabc")


class _HalfDone(beam.DoFn):
    """Needs setup() to have run; yields one record, then raises for "boom"."""

    def setup(self) -> None:
        self._suffix = "!"

    def process(self, doc: RawDocument):
        yield doc._replace(source=doc.source + self._suffix)
        if doc.content == b"boom":
            raise RuntimeError("after a first output")


def test_a_crash_drops_the_elements_earlier_outputs() -> None:
    docs = [RawDocument("ok.txt", "text", b"fine"), RawDocument("boom.txt", "text", b"boom")]
    with make_test_pipeline() as pipeline:
        good, rejected = apply_with_rejects(
            pipeline | beam.Create(docs), "HalfDone", _HalfDone(), "test", lambda d: d.source,
            RawDocument,
        )  # fmt: skip
        assert_that(good | beam.Map(lambda d: d.source), equal_to(["ok.txt!"]), label="Good")
        assert_that(
            rejected | beam.Map(lambda r: (r.source, r.reason, r.detail)),
            equal_to(
                [
                    (
                        "boom.txt",
                        "internal_error",
                        "RuntimeError: RuntimeError('after a first output')",
                    )
                ]
            ),
            label="Rejected",
        )
