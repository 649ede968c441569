"""CheckArticles: Article records of a caller's own checked against the record's types.

The stages after CleanText read an article's fields as the record types them (`text` a
str, `published_at` a datetime or None, `word_count` an int). DeduplicateArticles and
ClusterStories have no rejected output: one record of a caller's own source with a field
of another type (`published_at="2026-12-01"` from a JSON source, `text=None`) raised in
their steps and took the whole run down, every other article with it. This stage, put
before them, gives such a record a rejected row instead (stage `check`, reason
`malformed`, the field and its type in the detail), as the other stages do with the inputs
they cannot use. The command does not need it: its records are made by ExtractArticles and
CleanText, which set every field.
"""

from __future__ import annotations

import functools
import types
import typing
from collections.abc import Iterator
from typing import Any

import apache_beam as beam

from newsbeam.schemas import Article, Rejected
from newsbeam.transforms.support.failures import apply_with_rejects, counter, rejected_output

STAGE = "check"
MALFORMED = "malformed"


@functools.cache
def field_types() -> dict[str, tuple[type, ...]]:
    """Each Article field -> the Python types its annotation allows (`X | None`: X and
    None; `list[...]`: list; a float field takes an int too)."""
    allowed: dict[str, tuple[type, ...]] = {}
    for name, hint in typing.get_type_hints(Article).items():
        options = typing.get_args(hint) if isinstance(hint, types.UnionType) else (hint,)
        kinds: list[type] = []
        for option in options:
            origin = typing.get_origin(option) or option
            kinds.append(type(None) if option is None else origin)
            if origin is float:
                kinds.append(int)
        allowed[name] = tuple(kinds)
    return allowed


def _type_names(kinds: tuple[type, ...]) -> str:
    return " or ".join("None" if kind is type(None) else kind.__name__ for kind in kinds)


def malformed(article: Any) -> str | None:
    """Why `article` is not an Article the stages can read (its first field of a type the
    record does not allow), or None."""
    if not isinstance(article, Article):
        return f"a {type(article).__name__}, not an Article"
    for name, kinds in field_types().items():
        value = getattr(article, name)
        if not isinstance(value, kinds) or (isinstance(value, bool) and bool not in kinds):
            shown = repr(value)
            shown = shown if len(shown) <= 60 else shown[:57] + "..."
            return f"{name} is a {type(value).__name__} ({shown}), not {_type_names(kinds)}"
    return None


def _source_of(article: Any) -> str:
    source = getattr(article, "source", None)
    return source if isinstance(source, str) else "<unknown>"


class _Check(beam.DoFn):
    def process(self, article: Any) -> Iterator[Any]:
        counter("check_in").inc()
        problem = malformed(article)
        if problem is not None:
            text = getattr(article, "text", None)
            payload = text if isinstance(text, (str, bytes)) else ""
            yield rejected_output(_source_of(article), STAGE, MALFORMED, problem, payload)
            return
        counter("check_out").inc()
        yield article


class CheckArticles(beam.PTransform):
    """PCollection[Article] -> (PCollection[Article], PCollection[Rejected]): the records
    whose fields have the types Article gives them, and a rejected row for each other."""

    def expand(
        self, articles: beam.PCollection[Any]
    ) -> tuple[beam.PCollection[Article], beam.PCollection[Rejected]]:
        return apply_with_rejects(articles, "Check", _Check(), STAGE, _source_of, Article)
