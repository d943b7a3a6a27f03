"""Ingests in the low-priority child process (the API's default): same result as in-process,
errors come back unchanged, a dead child loses nothing and is replaced."""

import os
import signal

import pytest

from rag.errors import IngestError
from rag.types import Document

DOCS = [Document(id=f"depot-{i}", title=f"Depot {i}",
                 text=f"Depot {i} stocks spare inner tubes in size {20 + i} inch. It opens at {7 + i} o'clock.")
        for i in range(4)]


@pytest.fixture(scope="module")
def svc(make_service):
    s = make_service(ingest_worker="process", ingest_nice=7)
    s.warm_up()
    yield s
    s.close()


def test_the_child_runs_at_the_lower_priority(svc):
    pid = svc._ingest_worker.warm_up()
    assert pid != os.getpid()
    assert os.getpriority(os.PRIO_PROCESS, pid) == min(19, os.getpriority(os.PRIO_PROCESS, 0) + 7)


def test_ingest_in_the_child_is_served_by_the_parent(svc, make_service):
    report = svc.ingest("w", DOCS)
    assert sorted(report.added) == [d.id for d in DOCS] and report.n_chunks >= 4
    ans = svc.ask("w", "Which depot stocks 22 inch tubes?")
    assert not ans.abstained and ans.citations[0].doc_id == "depot-2"
    # the same documents ingested in-process give the same collection
    inline = make_service()
    same = inline.ingest("w", DOCS)
    assert (same.n_docs, same.n_chunks) == (report.n_docs, report.n_chunks)
    delete = svc.delete_documents("w", ["depot-0"])
    assert delete.deleted == ["depot-0"] and svc.store.manifest("w")["n_docs"] == 3


def test_errors_come_back_and_change_nothing(svc):
    svc.ingest("w2", DOCS[:2])
    before = svc.store.current_path("w2")
    with pytest.raises(IngestError, match="no such document"):
        svc.delete_documents("w2", ["not-there"])
    assert svc.store.current_path("w2") == before


def test_a_killed_child_loses_nothing_and_is_replaced(svc):
    svc.ingest("w3", DOCS[:2])
    before = svc.store.current_path("w3")
    os.kill(svc._ingest_worker.warm_up(), signal.SIGKILL)
    with pytest.raises(IngestError, match="worker process died"):
        svc.ingest("w3", DOCS[2:])
    assert svc.store.current_path("w3") == before
    assert svc.ask("w3", "Which depot stocks 21 inch tubes?").citations[0].doc_id == "depot-1"
    assert sorted(svc.ingest("w3", DOCS[2:]).added) == ["depot-2", "depot-3"]


def test_a_child_that_cannot_start_falls_back_to_in_process_ingest(make_service, caplog):
    s = make_service(ingest_worker="process", device="no-such-device")  # only the child loads its own model
    s.warm_up()
    assert s._ingest_worker is None and "could not start" in caplog.text
    assert sorted(s.ingest("fb", DOCS[:2]).added) == ["depot-0", "depot-1"]
    s.close()
