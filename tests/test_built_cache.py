"""support/built_cache.py: objects built once, read back by later processes; a changed
source, key or Python builds them again; a bad file or folder never fails a load."""

from __future__ import annotations

import os
import pickle
import sys
from pathlib import Path

import pytest

from newsbeam.transforms.places import PlaceFinder, PlacesConfig, cached_finder
from newsbeam.transforms.support.built_cache import (
    CACHE_ENV,
    KEEP,
    built,
    cache_dir,
    entry_name,
    source_stamps,
)
from newsbeam.transforms.support.main_text import load_justext_stoplist
from newsbeam.transforms.topics import TopicsConfig, TopicTagger, cached_tagger
from tests.helpers import SEEDS


class Builder:
    """A build function that counts its calls."""

    def __init__(self, value: object) -> None:
        self.value = value
        self.calls = 0

    def __call__(self) -> object:
        self.calls += 1
        return self.value


@pytest.fixture
def source(tmp_path: Path) -> Path:
    path = tmp_path / "data.txt"
    path.write_text("first")
    return path


@pytest.fixture
def folder(tmp_path: Path) -> Path:
    return tmp_path / "cache"


def entries(folder: Path) -> list[str]:
    return sorted(path.name for path in folder.glob("*.pickle"))


def test_built_once_then_read_back(folder: Path, source: Path) -> None:
    build = Builder({"words": ["a", "b"], "weights": (1.0, 2.5)})
    first = built("thing", ("config", 1), build, [source], folder=folder)
    second = built("thing", ("config", 1), build, [source], folder=folder)
    assert build.calls == 1
    assert first == second == build.value
    assert second is not build.value  # read from the file, not kept in this process
    assert len(entries(folder)) == 1
    assert not [path for path in folder.iterdir() if path.name.endswith(".tmp")]


def test_a_changed_source_key_or_name_builds_again(folder: Path, source: Path) -> None:
    build = Builder([1, 2, 3])
    built("thing", "key", build, [source], folder=folder)
    source.write_text("second, longer")  # another size (and time): another file name
    built("thing", "key", build, [source], folder=folder)
    built("thing", "other key", build, [source], folder=folder)
    built("other", "other key", build, [source], folder=folder)
    assert build.calls == 4
    built("thing", "key", build, [source], folder=folder)  # both versions are kept
    assert build.calls == 4


def test_stamps_of_folders_and_missing_files(tmp_path: Path) -> None:
    (tmp_path / "b.txt").write_text("bb")
    (tmp_path / "a.txt").write_text("a")
    (tmp_path / "sub").mkdir()
    stamps = source_stamps([tmp_path, tmp_path / "missing"])
    assert [(Path(path).name, size) for path, size, _ in stamps] == [
        ("a.txt", 1),
        ("b.txt", 2),
        ("missing", -1),
    ]
    name = entry_name("thing", None, stamps)
    assert name.startswith("thing-") and name.endswith(".pickle")
    assert name == entry_name("thing", None, source_stamps([tmp_path, tmp_path / "missing"]))
    assert name != entry_name("thing", 1, stamps)


def test_a_torn_file_is_built_again_and_replaced(folder: Path, source: Path) -> None:
    build = Builder("value")
    built("thing", None, build, [source], folder=folder)
    (entry,) = folder.glob("*.pickle")
    entry.write_bytes(b"\x80\x05not a whole pickle")
    assert built("thing", None, build, [source], folder=folder) == "value"
    assert build.calls == 2
    assert pickle.loads(entry.read_bytes()) == "value"


def test_a_folder_others_can_write_is_neither_read_nor_written(folder: Path, source: Path) -> None:
    build = Builder("value")
    built("thing", None, build, [source], folder=folder)
    folder.chmod(0o777)
    try:
        (entry,) = folder.glob("*.pickle")
        entry.write_bytes(pickle.dumps("planted"))
        assert built("thing", None, build, [source], folder=folder) == "value"
        assert build.calls == 2
        source.write_text("changed")
        built("thing", None, build, [source], folder=folder)
        assert len(entries(folder)) == 1  # nothing new written there
    finally:
        folder.chmod(0o700)


def test_an_unusable_folder_still_builds(tmp_path: Path, source: Path) -> None:
    blocked = tmp_path / "a file"
    blocked.write_text("not a folder")
    build = Builder("value")
    assert built("thing", None, build, [source], folder=blocked / "cache") == "value"
    assert built("thing", None, build, [source], folder=blocked / "cache") == "value"
    assert build.calls == 2


def test_unpicklable_object_is_returned_not_cached(folder: Path, source: Path) -> None:
    value = {"f": lambda: 1}
    assert built("thing", None, lambda: value, [source], folder=folder) is value
    assert entries(folder) == []


def test_the_newest_files_of_a_name_are_kept(folder: Path, tmp_path: Path) -> None:
    for number in range(KEEP + 2):
        built("thing", number, Builder(number), [], folder=folder)
        (entry,) = [
            path
            for path in folder.glob("thing-*.pickle")
            if pickle.loads(path.read_bytes()) == number
        ]
        os.utime(entry, ns=(number * 10**9, number * 10**9))  # creation order, whatever the clock
    built("other", 0, Builder(0), [], folder=folder)
    kept = sorted(pickle.loads(path.read_bytes()) for path in folder.glob("thing-*.pickle"))
    assert kept == list(range(2, KEEP + 2))
    assert len(list(folder.glob("other-*.pickle"))) == 1


def test_cache_folder_from_the_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    assert cache_dir() == tmp_path
    monkeypatch.setenv(CACHE_ENV, "none")
    assert cache_dir() is None
    build = Builder("value")
    built("thing", None, build, [])
    built("thing", None, build, [])
    assert build.calls == 2  # no cache: built each time
    monkeypatch.delenv(CACHE_ENV)
    if os.name != "posix" or sys.platform == "darwin":
        return
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert cache_dir() == tmp_path / "xdg" / "newsbeam"
    monkeypatch.setenv("XDG_CACHE_HOME", "relative/path")  # ignored, as the XDG rule says
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    # A home that does not exist (a service user's /nonexistent) is not made for a cache:
    # a run as root made it.
    assert cache_dir() is None
    built("thing", None, build, [])
    assert not (tmp_path / "home").exists()
    (tmp_path / "home").mkdir()
    assert cache_dir() == tmp_path / "home" / ".cache" / "newsbeam"


def test_cached_models_tag_as_freshly_built_ones(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    fresh_tagger, fresh_finder = TopicTagger(TopicsConfig()), PlaceFinder(PlacesConfig())
    cached_tagger(TopicsConfig())
    cached_finder(PlacesConfig())
    assert len(entries(tmp_path)) == 2
    tagger, finder = cached_tagger(TopicsConfig()), cached_finder(PlacesConfig())
    for text in texts:
        assert tagger.tag(None, text, "en") == fresh_tagger.tag(None, text, "en")
        assert finder.find(None, text) == fresh_finder.find(None, text)
    assert any(fresh_tagger.tag(None, text, "en") for text in texts)
    assert any(fresh_finder.find(None, text) for text in texts)


def test_the_justext_stoplist_is_read_back_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import trafilatura.external as external

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    monkeypatch.setattr(external, "JT_STOPLIST", None)
    words = load_justext_stoplist()
    built_words = set(external.JT_STOPLIST or ())
    monkeypatch.setattr(external, "JT_STOPLIST", None)
    assert load_justext_stoplist() == words
    assert set(external.JT_STOPLIST or ()) == built_words
    assert len(built_words) > 100_000
    assert [name.split("-")[0] for name in entries(tmp_path)] == ["justext_stoplist"]


def test_langdetect_profiles_are_read_back_whole(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    from langdetect.detector_factory import PROFILES_DIRECTORY

    from newsbeam.transforms.language import LanguageConfig, detect_language, load_detector_factory
    from newsbeam.transforms.support.detector import factory_of, read_profiles

    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    fresh = factory_of(read_profiles(PROFILES_DIRECTORY))
    load_detector_factory(0)
    assert [name.split("-")[0] for name in entries(tmp_path)] == ["langdetect"]
    cached = load_detector_factory(0)  # read back from the file
    assert cached.langlist == fresh.langlist
    assert dict(cached.word_lang_prob_map.items()) == dict(fresh.word_lang_prob_map.items())
    for read_back, read in zip(
        cached.word_lang_prob_map.profiles, fresh.word_lang_prob_map.profiles, strict=True
    ):
        assert pickle.dumps(read_back) == pickle.dumps(read)
    texts = [path.read_text(encoding="utf-8") for path in sorted(SEEDS.glob("*.txt"))]
    fresh.set_seed(0)
    config = LanguageConfig()
    answers = [detect_language(text, config, cached) for text in texts]
    assert answers == [detect_language(text, config, fresh) for text in texts]
    assert {language for language, _ in answers} >= {"en"}
