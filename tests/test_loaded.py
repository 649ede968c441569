"""support/loaded.py: the collector is paused while a model loads, and restored after."""

from __future__ import annotations

import gc
import threading

import pytest

from newsbeam.transforms.support.loaded import collector_paused, forget, load_once


def test_load_once_loads_with_the_collector_paused_and_turns_it_back_on() -> None:
    seen: list[bool] = []

    def load() -> str:
        seen.append(gc.isenabled())
        return "model"

    forget("test-gc")
    try:
        value = load_once("test-gc", 1, load)
        assert value == "model"
        assert seen == [False]
        assert gc.isenabled()
        assert load_once("test-gc", 1, lambda: "again") == "model"  # cached: no load
    finally:
        forget("test-gc")


def test_nested_and_failing_pauses_restore_the_collector() -> None:
    with collector_paused():
        with collector_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer block still loads
    assert gc.isenabled()
    with pytest.raises(RuntimeError), collector_paused():
        raise RuntimeError("load failed")
    assert gc.isenabled()


def test_a_collector_turned_off_before_stays_off() -> None:
    gc.disable()
    try:
        with collector_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_threads_loading_at_once_leave_the_collector_on() -> None:
    started = threading.Barrier(4)

    def load() -> None:
        started.wait()
        for _ in range(200):
            with collector_paused():
                pass

    threads = [threading.Thread(target=load) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert gc.isenabled()
