"""Ingests in a child process at a lower CPU priority, so that answering stays fast.

An ingest embeds every new chunk and its sentences (on 2 cores about 13 CPU
seconds per 100 short documents) and rebuilds the collection's quality report
and lexical index in Python. Inside the API process that work competes with the
questions for the cores and for the GIL. In a child process with a higher nice
value the kernel gives the cores to the questions first and the ingest takes
what is left; the server only loads the new snapshot when the child has
committed it (see ``benchmarks/load.py`` for the measured effect).

The child builds its own :class:`~rag.service.RAGService` from the same
:class:`~rag.service.ServiceConfig` (same data directory, models and chunking)
and runs the ordinary :func:`rag.ingest.ingest`, so an ingest means the same
thing either way and stays atomic: a child that fails or dies leaves the
collection as it was. The child is started with ``spawn``, which re-imports the
parent's ``__main__`` script (guarded by ``if __name__ == "__main__"`` as usual);
if it cannot start, :meth:`RAGService.warm_up <rag.service.RAGService.warm_up>`
logs why and ingests run in the server process instead.
"""

from __future__ import annotations

import logging
import multiprocessing
import os
import threading
from collections.abc import Iterable
from concurrent.futures import ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import replace
from typing import TYPE_CHECKING

from rag.errors import IngestError

if TYPE_CHECKING:
    from rag.ingest import IngestReport
    from rag.service import ServiceConfig
    from rag.types import Document, Skipped

log = logging.getLogger(__name__)


class IngestWorker:
    """One child process that runs ingests, one at a time, at ``nice`` (0-19) above the parent.

    Args:
        config: the service's configuration; the child answers no questions, so its
            question batching is switched off and it never starts a worker of its own.
        nice: added to the child's nice value (higher = lower priority).

    The process starts on the first ingest (or :meth:`warm_up`) and is started
    again after it dies.
    """

    def __init__(self, config: "ServiceConfig", *, nice: int = 10) -> None:
        if not 0 <= nice <= 19:
            raise ValueError(f"nice must be between 0 and 19, but got {nice}")
        self.config = replace(config, ingest_worker="thread", query_batch=0)
        self.nice = nice
        self._pool: ProcessPoolExecutor | None = None
        self._lock = threading.Lock()

    def _executor(self) -> ProcessPoolExecutor:
        with self._lock:
            if self._pool is None:
                self._pool = ProcessPoolExecutor(1, mp_context=multiprocessing.get_context("spawn"),
                                                 initializer=_init, initargs=(self.config, self.nice))
            return self._pool

    def _call(self, fn, *args):
        pool = self._executor()
        try:
            return pool.submit(fn, *args).result()
        except BrokenProcessPool as e:
            with self._lock:
                if self._pool is pool:
                    self._pool = None
            pool.shutdown(wait=False, cancel_futures=True)
            raise IngestError(f"the ingest worker process died ({e}); nothing was changed, try again") from e

    def warm_up(self) -> int:
        """Start the child and load its models; returns its pid."""
        return self._call(_pid)

    def ingest(self, name: str, items: Iterable["Document | Skipped"], *, delete_ids: Iterable[str] = (),
               rebuild: bool = False) -> "IngestReport":
        return self._call(_ingest, name, list(items), list(delete_ids), rebuild)

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)


# ------------------------------------------------------------------ child side
_service = None


def _init(config: "ServiceConfig", nice: int) -> None:
    global _service
    os.nice(nice)
    from rag.service import RAGService

    _service = RAGService(config)
    _service.embedder.warm_up()
    _service.chunker()
    log.info("ingest worker %d ready (nice +%d)", os.getpid(), nice)


def _pid() -> int:
    return os.getpid()


def _ingest(name: str, items: list, delete_ids: list[str], rebuild: bool) -> "IngestReport":
    assert _service is not None
    report, _ = _service.ingest_here(name, items, delete_ids=delete_ids, rebuild=rebuild)
    return report
