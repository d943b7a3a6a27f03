"""Eval aggregates, gate, baseline comparison, record log and report rendering, on hand-made records (no model)."""

from __future__ import annotations

import json
import math
from types import SimpleNamespace

import pytest

from eval.datasets import Question
from eval.report import build_report, render_html, render_markdown, write_reports
from eval.runner import (
    RecordLog,
    aggregate,
    answer_metrics,
    check_thresholds,
    compare_runs,
    flat_metrics,
    gold_ranks,
    parse_thresholds,
    retrieval_metrics,
)

NAN = float("nan")


def rec(qid, *, answerable=True, abstained=False, correct=1.0, f1=0.5, hit5=1.0, modes=(), expected=None,
        final=1, answers=("x",), evidence=0.7, retrieval_only=False):
    gold = ["d-" + qid] if answerable else []
    return {
        "id": qid, "question": f"question {qid}?", "answerable": answerable, "retrieval_only": retrieval_only,
        "answers": list(answers) if answerable and not retrieval_only else [], "gold_doc_ids": gold,
        "expected_modes": expected, "answer": "an <b>answer</b> & more", "abstained": abstained,
        "correct_refusal": (not answerable and abstained), "citations": [],
        "gold_ranks": {"dense": final, "lexical": None, "fused": final, "reranked": final, "context": final,
                       "final_chunk": final, "final": final} if gold else {},
        "tags": [{"mode": m, "confidence": 0.9, "evidence": f"why {m}", "suggestion": "fix", "source": "runtime"}
                 for m in modes],
        "predicted_modes": sorted(modes),
        "metrics": {"hit@5": hit5 if gold else None, "mrr@10": (1.0 / final if final else 0.0) if gold else None,
                    "correct": correct, "f1": f1 if answerable else None},
        "scores": {"evidence": evidence, "threshold": 0.35, "top_dense": evidence},
        "timings_ms": {"total": 12.0}, "error": None,
    }


@pytest.fixture()
def records():
    return [
        rec("a"),
        rec("b", correct=0.0, f1=0.1, hit5=0.0, final=None, modes=["missed_top_ranked"], expected=["missed_top_ranked"]),
        rec("c", answerable=False, abstained=True, correct=1.0, modes=["missing_content"], expected=["missing_content"], evidence=0.1),
        rec("d", answerable=False, abstained=False, correct=0.0, modes=["missing_content"], expected=[], evidence=0.5),
        rec("e", abstained=True, correct=0.0, f1=0.0, modes=["not_extracted"], final=3),
    ]


def test_aggregate_counts_and_never_averages_nan(records):
    agg = aggregate(records)
    m = agg["metrics"]
    assert m["hit@5"] == {"mean": pytest.approx(2 / 3), "n": 3, "n_nan": 2}
    assert m["f1"]["n"] == 3 and m["f1"]["n_nan"] == 2
    assert m["correct"]["mean"] == pytest.approx(2 / 5)
    assert agg["abstention"] == {"correct_refusal_rate": 0.5, "false_refusal_rate": pytest.approx(1 / 3),
                                 "n_unanswerable": 2, "n_answerable": 3}
    assert agg["modes"]["counts"]["missing_content"] == 2
    assert agg["modes"]["correct_abstentions_tagged_missing_content"] == 1
    pr = agg["modes"]["precision_recall"]
    assert pr["missing_content"]["precision"] == 0.5 and pr["missing_content"]["recall"] == 1.0
    assert agg["latency_ms"]["p50"] == 12.0


def test_thresholds_parse_and_check(records):
    agg = aggregate(records)
    assert parse_thresholds(["hit@5=0.5", "mrr@10 = 0.25"]) == {"hit@5": 0.5, "mrr@10": 0.25}
    for bad in ("hit@5", "=1", "hit@5=high"):
        with pytest.raises(ValueError):
            parse_thresholds([bad])
    assert check_thresholds(agg, {"hit@5": 0.6, "correct_refusal_rate": 0.5}) == []
    fails = check_thresholds(agg, {"hit@5": 0.9, "false_refusal_rate": 0.1, "ragas.rouge_l": 0.1, "precision.missing_content": 0.9})
    assert any(f.startswith("hit@5 = 0.6667 over 3 questions is below") for f in fails)
    assert any("false_refusal_rate" in f and "above the limit" in f for f in fails)
    assert any(f.startswith("ragas.rouge_l: unknown metric") for f in fails)
    assert any(f.startswith("precision.missing_content = 0.5000") for f in fails)
    assert "precision.missing_content" in flat_metrics(agg)


def test_compare_runs_lists_worse_queries_with_new_tags(records):
    old = [dict(r) for r in records]
    new = json.loads(json.dumps(records))
    new[0]["metrics"]["correct"] = 0.0
    new[0]["predicted_modes"] = ["not_extracted"]
    new[0]["tags"] = [{"mode": "not_extracted", "evidence": "gold in context, answer lacks it", "source": "gold"}]
    new[1]["metrics"]["correct"] = 1.0  # b got better
    new[1]["gold_ranks"]["final"] = 1
    cmp_ = compare_runs(new, aggregate(new), old, aggregate(old), "old")
    assert cmp_["n_worse"] == 1 and cmp_["n_better"] == 1
    w = cmp_["worse"][0]
    assert w["id"] == "a" and w["new_tags"][0]["mode"] == "not_extracted"
    assert cmp_["metric_deltas"]["correct"]["delta"] == pytest.approx(0.0)  # one worse, one better
    # a correct refusal newly tagged missing_content is not a regression
    new2 = json.loads(json.dumps(old))
    old[2] = dict(old[2], predicted_modes=[])
    assert compare_runs(new2, aggregate(new2), old, aggregate(old))["n_worse"] == 0


def test_record_log_drops_a_torn_last_line(tmp_path):
    log = RecordLog(tmp_path)
    log.append([{"id": "1", "x": NAN}, {"id": "2"}])
    log.close()
    with (tmp_path / "records.jsonl").open("a") as f:
        f.write('{"id": "3", "x": ')
    got = log.read()
    assert [r["id"] for r in got] == ["1", "2"] and got[0]["x"] is None
    assert (tmp_path / "records.jsonl").read_text().endswith("}\n")


def test_reports_render_and_escape(records, tmp_path):
    rep = build_report({"name": "unit", "questions_file": "q.jsonl", "collection": "c", "sessions": [{"wall_s": 1.0}],
                        "scorer": {"available": False, "note": "ragas is not importable"}}, records, aggregate(records),
                       thresholds={"thresholds": {"hit@5": 0.9}, "failures": ["hit@5 = 0.6667 is below the threshold 0.9"]})
    paths = write_reports(tmp_path, rep)
    md = paths["md"].read_text()
    assert "| hit@5 | 0.667 | 3 | 2 |" in md and "FAILED" in md and "ragas is not importable" in md
    html = paths["html"].read_text()
    assert "<b>answer</b>" not in html and "an &lt;b&gt;answer&lt;/b&gt; &amp; more" in html
    assert html.count("<tr data-modes=") == 5 and "data-modes='missing_content'" in html
    assert "<option value='missed_top_ranked'>" in html and "Gate FAILED" in html
    assert json.loads(paths["json"].read_text())["aggregates"]["metrics"]["hit@5"]["n"] == 3
    # empty run renders too
    html = render_html(build_report({}, [], aggregate([])))
    assert "no data" in html or "0 of 0" in html
    assert render_markdown(build_report({}, [], aggregate([]))).startswith("# rag eval")


def _hit(doc, chunk_no=0):
    return SimpleNamespace(chunk=SimpleNamespace(doc_id=doc, id=f"{doc}#{chunk_no}"))


def test_gold_ranks_and_retrieval_metrics():
    tr = SimpleNamespace(dense=[_hit("x"), _hit("g")], lexical=[_hit("g")], fused=[_hit("x"), _hit("x", 1), _hit("g")],
                         reranked=[_hit("x"), _hit("x", 1)], context=[_hit("x")])
    r = gold_ranks(tr, ["g"])
    assert r == {"dense": 2, "lexical": 1, "fused": 3, "reranked": None, "context": None, "final_chunk": 3, "final": 2}
    q = Question(id="1", question="?", gold_doc_ids=["g"], qrels={"g": 1, "x": 3})
    m = retrieval_metrics(["x", "g"], q)
    assert m["hit@1"] == 0.0 and m["hit@5"] == 1.0 and m["mrr@10"] == 0.5 and m["recall@5"] == 1.0
    assert 0 < m["ndcg@10"] < 1  # graded: the grade-3 doc first, the grade-1 doc second
    assert math.isnan(retrieval_metrics(["x"], Question(id="2", question="?"))["hit@1"])


def test_answer_metrics_abstention_aware():
    unans = Question(id="u", question="?")
    assert answer_metrics(unans, "not in the knowledge base", True)["correct"] == 1.0
    assert answer_metrics(unans, "Paris", False)["correct"] == 0.0
    assert math.isnan(answer_metrics(unans, "x", True)["f1"])
    q = Question(id="a", question="?", answers=["1872"], gold_doc_ids=["d"])
    m = answer_metrics(q, "It was built in 1872 [1].", False)
    assert m["correct"] == 1.0 and m["contains"] == 1.0 and m["em"] == 0.0
    assert answer_metrics(q, "It was built in 1872.", True)["correct"] == 0.0
    ret_only = Question(id="r", question="?", gold_doc_ids=["d"])
    assert all(math.isnan(v) for v in answer_metrics(ret_only, "x", False).values())
