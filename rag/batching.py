"""Micro-batching: questions that arrive together are answered in one pipeline pass.

Under concurrent load most of a question's cost is one small forward pass of
the embedder. Answered one by one, 32 concurrent questions make 32 passes that
fight over the cores; gathered, they make one batched pass (and one batched
faiss search) that uses the cores well. A single worker thread takes the first
waiting question, gathers whatever else arrives within ``max_wait_ms`` (up to
``max_batch``), and answers the batch; a caller blocks only on its own result.

One question's failure never fails its neighbours: a batch that raises is
answered again one question at a time, so each caller gets its own answer or
its own error.
"""

from __future__ import annotations

import logging
import queue
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Generic, TypeVar

log = logging.getLogger(__name__)
T = TypeVar("T")
R = TypeVar("R")


class MicroBatcher(Generic[T, R]):
    """Calls ``run(key, items) -> results`` on batches of items submitted with the same key.

    Args:
        run: answers a list of items sharing a key; returns one result per item, in order.
        max_batch: most items in one call.
        max_wait_ms: how long the worker waits for more items after the first one.
    """

    def __init__(self, run: Callable[[Hashable, list[T]], list[R]], *, max_batch: int = 32,
                 max_wait_ms: float = 2.0, name: str = "rag-batcher") -> None:
        if max_batch <= 0:
            raise ValueError(f"max_batch must be > 0, but got {max_batch}")
        if max_wait_ms < 0:
            raise ValueError(f"max_wait_ms must be >= 0, but got {max_wait_ms}")
        self.run = run
        self.max_batch = max_batch
        self.max_wait = max_wait_ms / 1000
        self._q: queue.SimpleQueue[tuple[Hashable, T, Future[R]] | None] = queue.SimpleQueue()
        self._closed = False
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()
        self.batches = 0
        self.items = 0

    def submit(self, key: Hashable, item: T) -> Future[R]:
        if self._closed:
            raise RuntimeError("the batcher is closed")
        fut: Future[R] = Future()
        self._q.put((key, item, fut))
        return fut

    def __call__(self, key: Hashable, item: T) -> R:
        """Submit and wait for the result (raises the item's own error)."""
        return self.submit(key, item).result()

    def close(self) -> None:
        self._closed = True
        self._q.put(None)
        self._thread.join(timeout=5)

    # ----------------------------------------------------------------- worker
    def _gather(self, first: tuple[Hashable, T, Future[R]]) -> list[tuple[Hashable, T, Future[R]]]:
        batch = [first]
        deadline = time.monotonic() + self.max_wait
        while len(batch) < self.max_batch:
            try:
                timeout = deadline - time.monotonic()
                nxt = self._q.get(timeout=timeout) if timeout > 0 else self._q.get_nowait()
            except queue.Empty:
                break
            if nxt is None:
                self._q.put(None)  # seen again by the loop, which then stops
                break
            batch.append(nxt)
        return batch

    def _loop(self) -> None:
        while True:
            first = self._q.get()
            if first is None:
                return
            batch = self._gather(first)
            groups: dict[Hashable, list[tuple[T, Future[R]]]] = {}
            for key, item, fut in batch:
                if fut.set_running_or_notify_cancel():
                    groups.setdefault(key, []).append((item, fut))
            for key, members in groups.items():
                self._answer(key, members)

    def _answer(self, key: Hashable, members: list[tuple[T, Future[R]]]) -> None:
        self.batches += 1
        self.items += len(members)
        try:
            results = self.run(key, [m[0] for m in members])
        except BaseException as e:  # noqa: BLE001 - delivered to the callers
            if len(members) == 1:
                members[0][1].set_exception(e)
                return
            for item, fut in members:  # find out whose question failed: one at a time
                try:
                    fut.set_result(self.run(key, [item])[0])
                except BaseException as e1:  # noqa: BLE001
                    fut.set_exception(e1)
            return
        for (_, fut), res in zip(members, results, strict=True):
            fut.set_result(res)
