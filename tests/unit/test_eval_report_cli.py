"""`rag eval convert` and `rag eval report` through the CLI, without a model."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from eval.cli import app
from eval.report import build_report, write_reports
from eval.runner import RecordLog, aggregate, write_run

FIX = Path(__file__).resolve().parents[1] / "fixtures" / "eval"


@pytest.mark.parametrize("fmt,src", [("beir", "beir"), ("squad", "squad_v2.json"), ("halueval", "halueval_qa.json"),
                                     ("ragas", "ragas.json"), ("rgb", "rgb_sample.jsonl")])
def test_convert_every_format(fmt, src, tmp_path):
    args = ["convert", fmt, str(FIX / src), str(tmp_path / fmt)] + (["--noise-rate", "0.4"] if fmt == "rgb" else [])
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "questions" in r.output
    qs = [json.loads(x) for x in (tmp_path / fmt / "questions.jsonl").read_text().splitlines()]
    assert qs and all({"id", "question", "answers", "gold_doc_ids"} <= set(q) for q in qs)
    assert (tmp_path / fmt / "corpus.jsonl").stat().st_size > 0


def test_convert_errors(tmp_path):
    r = CliRunner().invoke(app, ["convert", "rgb", str(tmp_path / "nope.json"), str(tmp_path / "o"), "--noise-rate", "1"])
    assert r.exit_code == 2 and "not found" in r.output
    r = CliRunner().invoke(app, ["convert", "xml", str(FIX / "ragas.json"), str(tmp_path / "o")])
    assert r.exit_code == 2


def test_report_rerenders_an_interrupted_run(tmp_path):
    write_run(tmp_path, {"fingerprint": "f", "name": "partial", "sessions": [{"wall_s": 2.0}]})
    log = RecordLog(tmp_path)
    log.append([{"id": "q1", "question": "?", "answerable": False, "abstained": True, "correct_refusal": True,
                 "answers": [], "gold_doc_ids": [], "predicted_modes": ["missing_content"],
                 "tags": [{"mode": "missing_content", "evidence": "no gold", "source": "gold"}],
                 "metrics": {"correct": 1.0, "hit@5": None}, "scores": {"evidence": 0.1}, "timings_ms": {"total": 5.0}}])
    log.close()
    r = CliRunner().invoke(app, ["report", str(tmp_path), "--fail-under", "correct=0.9"])
    assert r.exit_code == 0, r.output
    rep = json.loads((tmp_path / "report.json").read_text())
    assert rep["aggregates"]["abstention"]["correct_refusal_rate"] == 1.0
    r = CliRunner().invoke(app, ["report", str(tmp_path), "--fail-under", "hit@5=0.5"])
    assert r.exit_code == 1 and "hit@5: no value" in r.output
    r = CliRunner().invoke(app, ["report", str(tmp_path / "missing")])
    assert r.exit_code == 2


def test_baseline_must_be_a_run(tmp_path):
    write_run(tmp_path / "new", {"fingerprint": "f"})
    write_reports(tmp_path / "old", build_report({}, [], aggregate([])))
    (tmp_path / "empty").mkdir()
    r = CliRunner().invoke(app, ["report", str(tmp_path / "new"), "--baseline", str(tmp_path / "old")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, ["report", str(tmp_path / "new"), "--baseline", str(tmp_path / "empty")])
    assert r.exit_code == 2 and "report.json" in r.output
