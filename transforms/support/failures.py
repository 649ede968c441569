"""What every stage shares about failing: the metrics namespace, the rejected-record
builder, and the ParDo wrapper that turns unexpected exceptions into rejected rows.

A stage's DoFn yields good records on its main output and expected failures as
`beam.pvalue.TaggedOutput(REJECTED, Rejected(...))`. Anything it raises is caught here and
turned into a rejected row with reason `internal_error` and the exception in `detail`, so
one bad document never stops a run.
"""

from __future__ import annotations

from typing import Any

import apache_beam as beam
from apache_beam.metrics import Metrics

from newsbeam.schemas import Rejected
from newsbeam.transforms.support.files import is_unreachable

METRICS_NAMESPACE = "newsbeam"
REJECTED = "rejected"
PAYLOAD_CHARS = 300


def counter(name: str) -> Any:
    """A Beam counter in NewsBeam's one namespace (`<stage>_in`, `<stage>_dropped_<reason>`)."""
    return Metrics.counter(METRICS_NAMESPACE, name)


def excerpt(content: str | bytes, limit: int = PAYLOAD_CHARS) -> str:
    """A short, always-valid UTF-8 excerpt of an input, for the rejected table."""
    if isinstance(content, bytes):
        content = content[: limit * 4].decode("utf-8", errors="replace")
    # NUL and other C0 controls make excerpts unreadable in a terminal; keep newlines.
    cleaned = "".join(ch if ch >= " " or ch in "\n\t" else "\ufffd" for ch in content[:limit])
    return cleaned


def reject(source: str, stage: str, reason: str, detail: str, payload: str | bytes) -> Rejected:
    """Build a rejected record (and count it as `<stage>_dropped_<reason>`)."""
    counter(f"{stage}_dropped_{reason}").inc()
    return Rejected(
        source=source, stage=stage, reason=reason, detail=detail, payload=excerpt(payload)
    )


def rejected_output(
    source: str, stage: str, reason: str, detail: str, payload: str | bytes
) -> beam.pvalue.TaggedOutput:
    """A rejected record on a DoFn's REJECTED output (counted like `reject`)."""
    return beam.pvalue.TaggedOutput(REJECTED, reject(source, stage, reason, detail, payload))


def apply_with_rejects(
    pcoll: beam.PCollection,
    label: str,
    fn: beam.DoFn,
    stage: str,
    source_of: Any,
    output_type: Any,
) -> tuple[beam.PCollection, beam.PCollection]:
    """Apply `fn` so that it cannot crash the run; returns (good, rejected).

    `fn` may yield TaggedOutput(REJECTED, ...) for expected failures; an exception it raises
    becomes a Rejected row (reason `internal_error`). `source_of(element)` names the input.

    One ParDo: the exceptions are caught in it (`_RejectCrashes`), where Beam's
    `with_exception_handling()` needed a conversion step and a Flatten of the two kinds of
    rejects after it. A Flatten feeding the pipeline's own Flatten of every stage's rejects
    was a fused stage of its own on the FnApiRunner (with its bundle processor), one per
    stage of every run: 8 of the 42 stages of the seeds' run.
    """
    results = pcoll | label >> beam.ParDo(_RejectCrashes(fn, stage, source_of)).with_output_types(
        output_type, **{REJECTED: Rejected}
    ).with_outputs(REJECTED, main="good")
    return results.good, results[REJECTED]


class _RejectCrashes(beam.DoFn):
    """`fn`, with an exception it raises for an element turned into that element's rejected
    row (and its outputs for that element dropped), as Beam's `with_exception_handling()`
    does."""

    def __init__(self, fn: beam.DoFn, stage: str, source_of: Any) -> None:
        self._fn = fn
        self._stage = stage
        self._source_of = source_of

    def default_label(self) -> str:  # steps keep the stage's DoFn name (ParDo(_Extract))
        return self._fn.default_label()

    def setup(self) -> None:
        self._fn.setup()

    def start_bundle(self) -> None:
        self._fn.start_bundle()

    def process(self, element: Any) -> Any:
        try:
            # Whole before any is emitted: an exception later drops the element's outputs.
            outputs = list(self._fn.process(element) or ())
        except Exception as error:
            if is_unreachable(error):
                # An object store that stopped answering is no fault of this element: the
                # run fails and the next one reads it, instead of a committed
                # `internal_error` row (an s3:// --input gone while listed).
                raise
            yield beam.pvalue.TaggedOutput(
                REJECTED, _crash_to_rejected(element, error, self._stage, self._source_of)
            )
            return
        yield from outputs

    def finish_bundle(self) -> Any:
        return self._fn.finish_bundle()

    def teardown(self) -> None:
        self._fn.teardown()


def _crash_to_rejected(element: Any, error: BaseException, stage: str, source_of: Any) -> Rejected:
    """The rejected row of an element whose stage raised `error`."""
    try:
        source = source_of(element)
    except Exception:  # the element itself may be the problem; keep the row regardless
        source = "<unknown>"
    payload = getattr(element, "content", None) or getattr(element, "text", None) or ""
    return reject(source, stage, "internal_error", f"{type(error).__name__}: {error!r}", payload)
