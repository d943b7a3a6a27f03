"""`rag eval` end to end on the real MiniLM model and a tiny corpus of our own
(tests/fixtures/eval/mini_*): reports, resume after an interruption, the
--fail-under gate, --baseline, convert, and report.html in headless Chromium."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest
from typer.testing import CliRunner

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
QUESTIONS = FIX / "mini_questions.jsonl"
CORPUS = FIX / "mini_corpus.jsonl"
N_QUESTIONS = sum(1 for line in QUESTIONS.read_text().splitlines() if line.strip())

os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")


@pytest.fixture(scope="module")
def rag_app(embedder):
    """The real ``rag`` typer app with the eval plugin loaded through its entry point."""
    import rag.cli as core

    if not any(g.name == "eval" for g in core.app.registered_groups):
        core._plugins()
    assert any(g.name == "eval" for g in core.app.registered_groups), "eval plugin not registered"
    return core.app


@pytest.fixture()
def cli(rag_app, embedder, monkeypatch):
    """Invoke ``rag ...`` in-process; services reuse the session's loaded MiniLM."""
    import eval.cli as ecli
    from rag.cli import service_config
    from rag.service import RAGService

    def make(settings):
        svc = RAGService(service_config(settings))
        svc.embedder = embedder
        return svc

    monkeypatch.setattr(ecli, "make_service", make)
    runner = CliRunner()

    def invoke(*args: str):
        return runner.invoke(rag_app, list(map(str, args)), catch_exceptions=False)

    return invoke


@pytest.fixture()
def count_run_many(monkeypatch):
    """Counts the questions that go through Pipeline.run_many."""
    from rag.pipeline import Pipeline

    seen: list[str] = []
    orig = Pipeline.run_many

    def wrapped(self, questions, top_k=None):
        seen.extend(questions)
        return orig(self, questions, top_k)

    monkeypatch.setattr(Pipeline, "run_many", wrapped)
    return seen


@pytest.fixture(scope="module")
def full_run(rag_app, embedder, tmp_path_factory):
    """One complete eval of the mini set (shared by the report, gate and baseline tests)."""
    import eval.cli as ecli
    from rag.cli import service_config
    from rag.service import RAGService

    out = tmp_path_factory.mktemp("eval") / "full"
    orig = ecli.make_service

    def make(settings):
        svc = RAGService(service_config(settings))
        svc.embedder = embedder
        return svc

    ecli.make_service = make
    try:
        res = CliRunner().invoke(rag_app, ["eval", str(QUESTIONS), "--corpus", str(CORPUS), "--out", str(out),
                                           "--batch-size", "4"], catch_exceptions=False)
    finally:
        ecli.make_service = orig
    assert res.exit_code == 0, res.output
    return out, res.output


def _report(out: Path) -> dict:
    return json.loads((out / "report.json").read_text())


def test_end_to_end_report(full_run):
    out, output = full_run
    rep = _report(out)
    assert len(rep["queries"]) == N_QUESTIONS
    assert list(rep)[:5] == ["report_version", "generated_at", "run", "queries", "aggregates"]
    agg = rep["aggregates"]
    m = agg["metrics"]
    # retrieval on a 10-document corpus with distinctive questions is easy
    assert m["hit@5"]["mean"] >= 0.9 and m["hit@5"]["n"] == 10 and m["hit@5"]["n_nan"] == 3
    assert m["mrr@10"]["mean"] >= 0.8
    # answer metrics are defined only for the 8 questions with answers
    assert m["f1"]["n"] == 8 and m["em"]["n"] == 8
    # abstention-aware accuracy covers answers and unanswerables (not retrieval-only)
    assert m["correct"]["n"] == 11
    ab = agg["abstention"]
    assert ab["n_unanswerable"] == 3 and ab["correct_refusal_rate"] >= 2 / 3
    assert ab["false_refusal_rate"] <= 0.2
    # ragas non-LLM metrics are there (ragas installed) with counts
    assert rep["run"]["scorer"]["available"] is True
    for k in ("ragas.string_similarity", "ragas.rouge_l", "ragas.semantic_similarity",
              "ragas.context_precision", "ragas.context_recall"):
        assert m[k]["n"] > 0, k
    assert m["ragas.context_recall"]["mean"] >= 0.8
    # every query carries what the issue asks for
    for q in rep["queries"]:
        assert {"id", "question", "answer", "abstained", "citations", "gold_ranks", "tags", "metrics"} <= set(q)
        for t in q["tags"]:
            assert t["mode"] and t["evidence"] and t["source"] in ("runtime", "gold")
        if q["gold_doc_ids"]:
            assert set(q["gold_ranks"]) >= {"dense", "lexical", "fused", "reranked", "context", "final"}
    by_id = {q["id"]: q for q in rep["queries"]}
    assert by_id["q1"]["gold_ranks"]["final"] == 1 and "1872" in by_id["q1"]["answer"]
    for qid in ("q9", "q10", "q11"):  # unanswerable: a correct abstention is tagged missing_content and counts as correct
        q = by_id[qid]
        if q["abstained"]:
            assert "missing_content" in q["predicted_modes"] and q["metrics"]["correct"] == 1.0
    assert agg["modes"]["counts"]["missing_content"] >= 2
    for q in rep["queries"]:  # gold says the answer is there: a runtime missing_content guess is refuted
        if q["answerable"]:
            assert "missing_content" not in q["predicted_modes"]
            assert all(t.get("refuted_by_gold") for t in q["tags"] if t["mode"] == "missing_content")
    pr = agg["modes"]["precision_recall"]
    assert pr["missing_content"]["support"] == 3
    # NaN never reaches the JSON: undefined values are null
    assert "NaN" not in (out / "report.json").read_text()
    md = (out / "report.md").read_text()
    assert "| hit@5 |" in md and "Failure modes" in md and "undefined" in md
    html = (out / "report.html").read_text()
    assert "<script" in html and "http://" not in html.replace("http://www.w3.org/2000/svg", "")
    assert "https://" not in html
    for pid in ("plot-mode-counts", "plot-evidence", "plot-dense", "plot-gold-rank", "plot-mode-pr"):
        assert f'id="{pid}"' in html
    assert "hit@5" in output and "reports:" in output


def test_resume_after_interruption(cli, count_run_many, tmp_path):
    out = tmp_path / "run"
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", out, "--limit", "5", "--batch-size", "2")
    assert r.exit_code == 0, r.output
    assert len(count_run_many) == 5
    first = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    assert [x["id"] for x in first] == ["q1", "q2", "q3", "q4", "q5"]
    # the process was killed in the middle of writing a record: a torn line at the end
    with (out / "records.jsonl").open("a") as f:
        f.write('{"v": 1, "id": "q6", "question": "Who began')
    count_run_many.clear()
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", out, "--batch-size", "4")
    assert r.exit_code == 0, r.output
    assert "resumed: 5" in r.output
    # only the unfinished questions went through the pipeline again
    assert len(count_run_many) == N_QUESTIONS - 5
    rows = [json.loads(x) for x in (out / "records.jsonl").read_text().splitlines()]
    ids = [x["id"] for x in rows]
    assert len(ids) == len(set(ids)) == N_QUESTIONS
    assert rows[:5] == first  # finished records untouched: same session, same timestamps
    assert len({x["session"] for x in rows[:5]}) == 1 and rows[5]["session"] != rows[0]["session"]
    run = json.loads((out / "run.json").read_text())
    assert [s["resumed"] for s in run["sessions"]] == [0, 5]
    assert len(_report(out)["queries"]) == N_QUESTIONS
    # a third start has nothing left to do
    count_run_many.clear()
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", out)
    assert r.exit_code == 0 and count_run_many == []
    # another configuration in the same folder is refused, not mixed in
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", out, "--top-k", "2")
    assert r.exit_code == 2 and "another --out folder" in r.output


def test_fail_under_gate(cli, full_run, tmp_path):
    out, _ = full_run
    r = cli("eval", "report", out, "--fail-under", "hit@5=0.5", "--fail-under", "correct_refusal_rate=0.3")
    assert r.exit_code == 0, r.output
    r = cli("eval", "report", out, "--fail-under", "hit@1=1.01", "--fail-under", "nonsense=1")
    assert r.exit_code == 1
    assert re.search(r"hit@1 = 1\.0000 over 10 questions is below the threshold 1\.01", r.output)
    assert "nonsense: unknown metric" in r.output
    rep = _report(out)
    assert rep["thresholds"]["failures"] and "hit@1" in rep["thresholds"]["failures"][0]
    r = cli("eval", "report", out, "--fail-under", "hit@5")
    assert r.exit_code == 2 and "METRIC=VALUE" in r.output
    # through `run` too, on a resumed (already finished) copy of the run
    copy = tmp_path / "copy"
    shutil.copytree(out, copy)
    r = cli("eval", QUESTIONS, "--corpus", CORPUS, "--out", copy, "--batch-size", "4", "--fail-under", "mrr@10=1.5")
    assert r.exit_code == 1 and "FAILED thresholds" in r.output


def test_baseline_comparison(cli, full_run, tmp_path):
    out, _ = full_run
    worse = tmp_path / "worse"
    shutil.copytree(out, worse)
    rows = [json.loads(x) for x in (worse / "records.jsonl").read_text().splitlines()]
    for r in rows:  # a regressed pipeline: q1 now answers wrongly and misses its document
        if r["id"] == "q1":
            r["answer"] = "The lighthouse is tall."
            r["metrics"].update({"correct": 0.0, "f1": 0.0, "hit@1": 0.0, "mrr@10": 0.5})
            r["gold_ranks"]["final"] = 2
            r["predicted_modes"] = ["not_extracted"]
            r["tags"] = [{"mode": "not_extracted", "confidence": 1.0, "source": "gold",
                          "evidence": "gold doc lighthouse is in the context but the response lacks '1872'",
                          "suggestion": "sentence-level extraction"}]
    (worse / "records.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    (worse / "report.json").unlink()
    r = cli("eval", "report", worse, "--baseline", out)
    assert r.exit_code == 0, r.output
    base = _report(worse)["baseline"]
    assert base["common_questions"] == N_QUESTIONS and base["n_worse"] == 1
    w = base["worse"][0]
    assert w["id"] == "q1" and any("was correct" in x for x in w["reasons"])
    assert any("gold document rank 1 -> 2" in x for x in w["reasons"])
    assert [t["mode"] for t in w["new_tags"]] == ["not_extracted"]
    d = base["metric_deltas"]["hit@1"]
    assert d["delta"] == pytest.approx(-0.1) and d["n_current"] == 10
    assert "Queries that got worse" in (worse / "report.md").read_text()
    assert "q1" in (worse / "report.html").read_text().split("Queries that got worse")[1]
    # the same run against itself: nothing worse, deltas zero; --baseline works on `run` as well
    again = tmp_path / "again"
    shutil.copytree(out, again)
    r = cli("eval", QUESTIONS, "--corpus", CORPUS, "--out", again, "--baseline", out)
    assert r.exit_code == 0 and "0 queries worse" in r.output
    assert all(v["delta"] in (0, None) for v in _report(again)["baseline"]["metric_deltas"].values())


def test_convert_rgb_negative_rejection(cli, tmp_path):
    r = cli("eval", "convert", "rgb", FIX / "rgb_sample.jsonl", tmp_path / "rgb", "--noise-rate", "1.0")
    assert r.exit_code == 0, r.output
    qs = [json.loads(x) for x in (tmp_path / "rgb" / "questions.jsonl").read_text().splitlines()]
    assert qs and all(q["answers"] == [] and q["gold_doc_ids"] == [] for q in qs)
    r = cli("eval", "convert", "rgb", FIX / "rgb_sample.jsonl", tmp_path / "x")
    assert r.exit_code == 2 and "--noise-rate" in r.output
    r = cli("eval", "convert", "squad", FIX / "squad_v2.json", tmp_path / "sq", "--noise-rate", "0.5")
    assert r.exit_code == 2


def test_calibrate_on_disjoint_questions(cli, tmp_path):
    """--calibrate-on adds a calibration set's documents and fits the throwaway collection's abstention on it."""
    rgb = FIX / "rgb_sample.jsonl"
    for sub, noise, rng in (("pos", "0.4", "0:2"), ("neg", "1.0", "2:3")):
        r = cli("eval", "convert", "rgb", rgb, tmp_path / sub, "--noise-rate", noise, "--records", rng)
        assert r.exit_code == 0, r.output
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", tmp_path / "run", "--limit", "3", "--no-ragas",
            "--calibrate-on", tmp_path / "pos", "--calibrate-on", tmp_path / "neg")
    assert r.exit_code == 0, r.output
    assert "calibrated on 3 questions (2 answerable)" in r.output
    run = json.loads((tmp_path / "run" / "run.json").read_text())
    cal = run["calibration"]
    assert cal["questions"] == 3 and cal["answerable"] == 2 and "threshold" in cal["abstention"]
    # both kinds of question are needed, and only a throwaway collection is calibrated here
    r = cli("eval", "run", QUESTIONS, "--corpus", CORPUS, "--out", tmp_path / "r2", "--calibrate-on", tmp_path / "neg")
    assert r.exit_code == 2 and "both answerable and unanswerable" in r.output
    r = cli("eval", "run", QUESTIONS, "--collection", "x", "--calibrate-on", tmp_path / "neg")
    assert r.exit_code == 2 and "rag calibrate" in r.output
    r = cli("eval", "convert", "rgb", rgb, tmp_path / "bad", "--noise-rate", "0.4", "--records", "3:1")
    assert r.exit_code == 2 and "START:END" in r.output


def test_bad_invocations(cli, tmp_path):
    r = cli("eval", QUESTIONS, "--out", tmp_path / "x")
    assert r.exit_code == 2 and "exactly one of --collection and --corpus" in r.output
    r = cli("eval", tmp_path / "missing.jsonl", "--corpus", CORPUS)
    assert r.exit_code == 2 and "not found" in r.output
    r = cli("eval", QUESTIONS, "--collection", "no-such-collection", "--out", tmp_path / "y")
    assert r.exit_code == 2


def _chromium() -> str | None:
    return shutil.which("chromium") or shutil.which("chromium-browser")


CHROME_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--no-first-run"]


def test_report_html_in_headless_chromium(full_run, tmp_path):
    exe = _chromium()
    if exe is None:
        pytest.skip("chromium not installed (apt-get install -y chromium)")
    out, _ = full_run
    html = out / "report.html"
    shot = Path(os.environ.get("RAG_EVAL_SCREENSHOT_DIR", tempfile.gettempdir())) / "rag-eval-report.png"
    shot.unlink(missing_ok=True)
    base = [exe, *CHROME_FLAGS, f"--user-data-dir={tmp_path / 'profile'}"]
    p = subprocess.run([*base, f"--screenshot={shot}", "--window-size=1280,2000", html.as_uri()],
                       capture_output=True, text=True, timeout=120)
    assert p.returncode == 0, p.stderr[-2000:]
    assert shot.exists() and shot.stat().st_size > 20_000  # a blank page is a few KB
    print(f"\nreport.html screenshot: {shot}")

    def dom(fragment: str) -> str:
        r = subprocess.run([*base, "--dump-dom", html.as_uri() + fragment], capture_output=True, text=True, timeout=120)
        assert r.returncode == 0, r.stderr[-2000:]
        return r.stdout

    rows_re = re.compile(r"<tr data-modes=\"([^\"]*)\"[^>]*?(hidden=\"\")?>")
    # unfiltered: the plots rendered (inline SVG with bars) and every row shows
    d = dom("")
    for pid in ("plot-mode-counts", "plot-evidence", "plot-dense", "plot-gold-rank", "plot-mode-pr"):
        assert f'id="{pid}"' in d
    assert d.count('class="bar"') >= 5
    rows = rows_re.findall(d)
    assert len(rows) == N_QUESTIONS and not any(h for _, h in rows)
    assert re.search(rf'<b id="visible-count">{N_QUESTIONS}</b>', d)
    # filtered from the URL: only missing_content rows stay visible, the select shows the mode
    d = dom("#mode=missing_content")
    rows = rows_re.findall(d)
    shown = [m for m, h in rows if not h]
    assert len(rows) == N_QUESTIONS and shown and all("missing_content" in m.split() for m in shown)
    assert all(h for m, h in rows if "missing_content" not in m.split())
    assert re.search(rf'<b id="visible-count">{len(shown)}</b>', d)
    assert 'data-filter="missing_content"' in d
    # untagged rows only
    d = dom("#mode=none")
    rows = rows_re.findall(d)
    assert all((not m) == (not h) for m, h in rows)


def test_existing_collection_and_its_snapshot_in_the_fingerprint(cli, make_service, monkeypatch, tmp_path):
    from connectors import JsonlConnector

    data = tmp_path / "data"
    monkeypatch.setenv("RAG_DATA_DIR", str(data))
    svc = make_service(data)
    svc.ingest("mini", JsonlConnector(CORPUS).load())
    out = tmp_path / "run"
    r = cli("eval", QUESTIONS, "--collection", "mini", "--out", out, "--limit", "4", "--no-ragas")
    assert r.exit_code == 0, r.output
    run = json.loads((out / "run.json").read_text())
    assert run["collection"] == "mini" and run["snapshot"] and run["corpus_file"] is None
    rep = _report(out)
    assert len(rep["queries"]) == 4 and rep["run"]["scorer"]["available"] is False
    assert "ragas.rouge_l" not in rep["aggregates"]["metrics"] or rep["aggregates"]["metrics"]["ragas.rouge_l"]["n"] == 0
    # the collection changes: the old records no longer describe it, so resuming is refused
    extra = tmp_path / "extra.jsonl"
    extra.write_text(json.dumps({"id": "zoo", "title": "Zoo", "text": "The zoo keeps two red pandas."}) + "\n")
    svc.ingest("mini", JsonlConnector(extra).load())
    r = cli("eval", QUESTIONS, "--collection", "mini", "--out", out, "--no-ragas")
    assert r.exit_code == 2 and "fingerprint" in r.output
    r = cli("eval", QUESTIONS, "--collection", "mini", "--out", out, "--no-ragas", "--limit", "2", "--overwrite")
    assert r.exit_code == 0 and len(_report(out)["queries"]) == 2
