"""Steps that run once, on a value or on a whole PCollection, in fewer Beam transforms than
Beam's `Create` and `CombineGlobally(...)` (`combiners.ToList()`) take.

Every transform costs the launching process CPU before the first bundle: applying it
(type inference, Beam's inspection of each DoFn's methods) and translating it (proto,
fusion). `ToList()` expands into 12 steps, a `Create` of its default value among them
(~55 ms of CPU on this machine, with the Map that reads its list); `Create([value])` into
4 (~18 ms). An `Impulse` and one Map, reading the PCollection as a side input, compute the
same in ~7 ms and run as one fused stage instead of four.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import apache_beam as beam


def _value(_impulse: bytes, value: Any) -> Any:
    return value


# `*args` unannotated: Beam reads an annotated one as a required tuple and then refuses a
# call with no extra argument ("requires Tuple[Any, ...] but got Any for args").
def _call_with_all(_impulse: bytes, elements: list[Any], fn: Callable[..., Any], *args) -> Any:
    return fn(elements, *args)


class One(beam.PTransform):
    """PBegin -> a PCollection of the one element `value` (what `beam.Create([value])`
    makes, in 2 steps instead of 4)."""

    def __init__(self, value: Any) -> None:
        super().__init__()
        self._value = value

    def expand(self, pbegin: beam.pvalue.PBegin) -> beam.PCollection[Any]:
        return pbegin | "Impulse" >> beam.Impulse() | "Value" >> beam.Map(_value, self._value)


class CallWithAll(beam.PTransform):
    """PCollection[T] -> a PCollection of one element, `fn(list of every element, *args)`:
    what `pcoll | combiners.ToList() | beam.Map(fn, *args)` gives, the list's order as
    arbitrary as ToList's, `fn([])` for an empty PCollection (ToList's default) included.

    The elements are a side input of a Map run once on an Impulse: 2 steps, not 13. A tuple
    of PCollections (a tuple: Beam takes a list for values to create) gives `fn` all of
    their elements in one list, each read as a side input of its own: a Flatten of them
    would be a stage of its own on Beam's local runner (it materialises a Flatten's output,
    then the side input's copy of it)."""

    def __init__(self, fn: Callable[..., Any], *args: Any) -> None:
        super().__init__()
        self._fn = fn
        self._args = args

    def expand(
        self, pcoll: beam.PCollection[Any] | tuple[beam.PCollection[Any], ...]
    ) -> beam.PCollection[Any]:
        if isinstance(pcoll, beam.PCollection):
            return (
                pcoll.pipeline
                | "Once" >> beam.Impulse()
                | "Call"
                >> beam.Map(_call_with_all, beam.pvalue.AsList(pcoll), self._fn, *self._args)
            )
        parts = list(pcoll)
        if not parts:
            raise ValueError("CallWithAll needs a PCollection or at least one in a sequence")
        return (
            parts[0].pipeline
            | "Once" >> beam.Impulse()
            | "Call"
            >> beam.Map(
                _call_with_parts,
                len(parts),
                *[beam.pvalue.AsList(part) for part in parts],
                self._fn,
                *self._args,
            )
        )


def _call_with_parts(_impulse: bytes, count: int, *rest) -> Any:
    # `rest`: `count` lists (the side inputs), then the function and its own arguments.
    fn, args = rest[count], rest[count + 1 :]
    return fn([element for part in rest[:count] for element in part], *args)
