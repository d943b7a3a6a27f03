"""MicroBatcher: concurrent submissions share one call; errors stay with their own caller."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import pytest

from rag.batching import MicroBatcher


def test_concurrent_items_are_answered_in_few_batches_in_order():
    calls: list[tuple[object, list[int]]] = []
    gate = threading.Event()

    def run(key, items):
        gate.wait(5)  # hold the first batch so the others queue up behind it
        calls.append((key, list(items)))
        return [i * 10 for i in items]

    b = MicroBatcher(run, max_batch=8, max_wait_ms=20)
    try:
        futs = [b.submit("k", i) for i in range(20)]
        gate.set()
        assert [f.result(5) for f in futs] == [i * 10 for i in range(20)]
    finally:
        b.close()
    sizes = [len(items) for _, items in calls]
    assert sum(sizes) == 20 and max(sizes) <= 8
    assert len(calls) <= 4  # 20 items, at most 8 a batch: batched, not one call each


def test_items_with_different_keys_never_share_a_call():
    seen: list[tuple[object, list[str]]] = []

    def run(key, items):
        seen.append((key, items))
        return [f"{key}:{x}" for x in items]

    b = MicroBatcher(run, max_batch=16, max_wait_ms=30)
    try:
        futs = [b.submit(k, x) for k, x in [("a", "1"), ("b", "2"), ("a", "3"), ("b", "4")]]
        assert [f.result(5) for f in futs] == ["a:1", "b:2", "a:3", "b:4"]
    finally:
        b.close()
    for key, items in seen:
        assert all(x in {"a": {"1", "3"}, "b": {"2", "4"}}[key] for x in items)


def test_a_failing_item_fails_only_its_own_caller():
    def run(key, items):
        if "bad" in items:
            raise ValueError("bad question")
        return [x.upper() for x in items]

    b = MicroBatcher(run, max_batch=8, max_wait_ms=30)
    try:
        with ThreadPoolExecutor(4) as ex:
            futs = {x: ex.submit(b, "k", x) for x in ["one", "bad", "two", "three"]}
            assert futs["one"].result(5) == "ONE" and futs["two"].result(5) == "TWO"
            assert futs["three"].result(5) == "THREE"
            with pytest.raises(ValueError, match="bad question"):
                futs["bad"].result(5)
    finally:
        b.close()


def test_bad_arguments_and_closed_batcher():
    with pytest.raises(ValueError, match="max_batch"):
        MicroBatcher(lambda k, xs: xs, max_batch=0)
    with pytest.raises(ValueError, match="max_wait_ms"):
        MicroBatcher(lambda k, xs: xs, max_wait_ms=-1)
    b = MicroBatcher(lambda k, xs: xs)
    b.close()
    with pytest.raises(RuntimeError, match="closed"):
        b.submit("k", 1)
