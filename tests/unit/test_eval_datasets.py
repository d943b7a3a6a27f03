"""Unit tests for eval.datasets: loaders, writer and converters.

Converters run on the hand-made fixtures in tests/fixtures/eval/; convert_rgb
and convert_squad also run on the real shared files when they are present.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from eval.datasets import (
    Question,
    convert_beir,
    convert_halueval_qa,
    convert_ragas,
    convert_rgb,
    convert_squad,
    load_corpus,
    load_questions,
    write_jsonl,
)

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "eval"
SHARED = Path(__file__).resolve().parents[2].parent / "shared"
RGB_EN_FACT = SHARED / "datasets" / "rgb" / "en_fact.json"
CMRC_DEV = SHARED / "datasets" / "cmrc2018" / "cmrc2018_dev_squad.json"


def _load(out: Path) -> tuple[dict[str, dict], dict[str, Question]]:
    """Read back a converter's output: ({doc_id: doc}, {question_id: question})."""
    docs = {d["id"]: d for d in load_corpus(out / "corpus.jsonl")}
    questions = {q.id: q for q in load_questions(out / "questions.jsonl")}
    return docs, questions


def _shared(path: Path) -> Path:
    if not path.exists():
        pytest.skip(f"shared data not available: {path}")
    return path


# --------------------------------------------------------------------------- loading / writing


def test_load_questions_fixture() -> None:
    qs = load_questions(FIXTURES / "questions_sample.jsonl")  # has a blank line
    assert [q.id for q in qs] == ["q-ans", "q-ret", "q-none", "q-grade4", "q-unjudged"]
    ans, ret, none, grade4, unjudged = qs
    assert ans.answers == ["the Moon"] and ans.gold_doc_ids == ["d1"]
    assert ans.expected_modes == ["missing_content"] and ans.qrels is None
    assert ans.meta == {"source_note": "hand-made"}  # unknown keys kept in meta
    assert (ans.answerable, ans.retrieval_only) == (True, False)
    assert ret.qrels == {"12": 1, "29": 3, "486": -1} and ret.meta == {"orig_qid": "001"}
    assert (ret.answerable, ret.retrieval_only) == (True, True)
    assert (none.answerable, none.retrieval_only) == (False, False)
    assert none.expected_modes is None
    # no gold ids, but a relevant (grade 4) judgment: retrieval-only, not "abstain"
    assert (grade4.answerable, grade4.retrieval_only) == (True, True)
    assert (unjudged.answerable, unjudged.retrieval_only) == (False, False)


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "invalid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"id": "x", "question": "q", "answers": []}', "missing required key 'gold_doc_ids'"),
        ('{"id": "x", "question": "q", "answers": "Paris", "gold_doc_ids": []}', "'answers' must be a list"),
        ('{"id": "x", "question": "", "answers": [], "gold_doc_ids": []}', "'question' must be"),
        ('{"id": "x", "question": "q", "answers": [], "gold_doc_ids": [], "qrels": {"d": "1"}}', "must be an integer"),
        ('{"id": "x", "question": "q", "answers": [], "gold_doc_ids": [], "expected_modes": "a"}', "expected_modes"),
    ],
)
def test_load_questions_errors_name_file_and_line(tmp_path: Path, line: str, message: str) -> None:
    path = tmp_path / "q.jsonl"
    good = '{"id": "ok", "question": "q", "answers": ["a"], "gold_doc_ids": ["d"]}'
    path.write_text(good + "\n\n" + line + "\n", encoding="utf-8")
    with pytest.raises(ValueError, match=message) as err:
        load_questions(path)
    assert f"{path}:3:" in str(err.value)


def test_load_questions_rejects_duplicate_ids(tmp_path: Path) -> None:
    row = '{"id": "a", "question": "q", "answers": [], "gold_doc_ids": []}\n'
    (tmp_path / "q.jsonl").write_text(row * 2, encoding="utf-8")
    with pytest.raises(ValueError, match=r"q\.jsonl:2: duplicate question id 'a' \(first on line 1\)"):
        load_questions(tmp_path / "q.jsonl")


def test_load_corpus_defaults_and_errors(tmp_path: Path) -> None:
    docs = list(load_corpus(FIXTURES / "corpus_sample.jsonl"))
    assert docs == [
        {"id": "d1", "title": "Tides", "text": "Tides are caused by the Moon.", "metadata": {}},
        {"id": "d2", "title": "", "text": "No title here.", "metadata": {"lang": "en"}},
    ]
    bad = tmp_path / "c.jsonl"
    bad.write_text('{"id": "d1", "text": "ok"}\n{"id": "d2"}\n', encoding="utf-8")
    with pytest.raises(ValueError, match=r"c\.jsonl:2: 'text' must be a string"):
        list(load_corpus(bad))


def test_write_jsonl_round_trip(tmp_path: Path) -> None:
    q = Question(id="x", question="¿Dónde?", answers=["北京"], gold_doc_ids=["d"], qrels={"d": 1}, meta={"k": 1})
    path = tmp_path / "sub" / "q.jsonl"
    assert write_jsonl(path, [q]) == 1
    assert "北京" in path.read_text(encoding="utf-8")  # not \u-escaped
    assert load_questions(path) == [q]
    assert not list(path.parent.glob("*.tmp"))


# --------------------------------------------------------------------------- converters on fixtures


def test_convert_beir(tmp_path: Path) -> None:
    counts = convert_beir(FIXTURES / "beir", tmp_path)
    assert counts == {
        "documents": 4,
        "questions": 2,
        "answerable": 2,
        "retrieval_only": 2,
        "unanswerable": 0,
        "skipped_no_relevant": 1,  # q3: only a score-0 judgment
        "gold_missing_from_corpus": 0,
    }
    docs, qs = _load(tmp_path)
    assert docs["d3"]["metadata"] == {"lang": "en"} and docs["d4"]["title"] == ""
    q1 = qs["q1"]
    assert q1.question == "what causes tides"
    assert q1.gold_doc_ids == ["d1", "d3"]  # score > 0, best first
    assert q1.qrels == {"d1": 2, "d3": 1, "d2": 0}  # scores stored unchanged
    assert q1.meta["qrels_higher_is_better"] is True
    assert q1.answers == [] and q1.retrieval_only
    assert qs["q2"].gold_doc_ids == ["d2"]
    assert "q4" not in qs  # unjudged in this split


def test_convert_squad_v2(tmp_path: Path) -> None:
    counts = convert_squad(FIXTURES / "squad_v2.json", tmp_path)
    assert counts == {"documents": 3, "questions": 4, "answerable": 3, "retrieval_only": 0, "unanswerable": 1}
    docs, qs = _load(tmp_path)
    assert set(docs) == {"squad-0-0", "squad-0-1", "squad-1-0"}
    assert docs["squad-1-0"]["title"] == "Mountains"
    assert qs["s1"].answers == ["The Nile", "Nile"]  # deduplicated, order kept
    assert qs["s1"].gold_doc_ids == ["squad-0-0"]
    assert qs["s3"].gold_doc_ids == ["squad-0-1"]
    s2 = qs["s2"]
    assert (s2.answers, s2.gold_doc_ids, s2.answerable) == ([], [], False)
    assert s2.meta["plausible_answers"] == ["The Nile"]


def test_convert_halueval_qa(tmp_path: Path) -> None:
    counts = convert_halueval_qa(FIXTURES / "halueval_qa.json", tmp_path)
    assert counts["documents"] == 2 and counts["questions"] == 2 and counts["answerable"] == 2
    docs, qs = _load(tmp_path)
    assert docs["halueval-0"]["text"].startswith("Mount Kilimanjaro")
    q = qs["halueval-q1"]
    assert q.answers == ["the Black Sea"] and q.gold_doc_ids == ["halueval-1"]
    assert q.meta["hallucinated_answer"] == "the Adriatic Sea"


def test_convert_ragas_current_fields(tmp_path: Path) -> None:
    counts = convert_ragas(FIXTURES / "ragas.json", tmp_path)
    # 2 distinct contexts (one shared by both samples); sample 3 has nothing.
    assert counts == {"documents": 2, "questions": 3, "answerable": 2, "retrieval_only": 0, "unanswerable": 1}
    docs, qs = _load(tmp_path)
    by_text = {d["text"]: i for i, d in docs.items()}
    report_doc = by_text["The 2023 report was written by Dana Lee."]
    march_doc = by_text["Reports are due every March."]
    q0 = qs["ragas-0"]
    assert q0.question == "Who wrote the report?" and q0.answers == ["Dana Lee wrote the report."]
    assert q0.gold_doc_ids == [report_doc]  # reference_contexts win over retrieved ones
    assert q0.meta["gold_from"] == "reference_contexts" and q0.meta["response"] == "Dana Lee."
    assert qs["ragas-1"].gold_doc_ids == [march_doc]
    assert qs["ragas-1"].meta["gold_from"] == "retrieved_contexts"
    assert not qs["ragas-2"].answerable


def test_convert_ragas_legacy_fields(tmp_path: Path) -> None:
    counts = convert_ragas(FIXTURES / "ragas_legacy.jsonl", tmp_path)
    assert counts["documents"] == 2 and counts["questions"] == 2  # empty context dropped
    _, qs = _load(tmp_path)
    assert qs["ragas-0"].answers == ["Blue", "blue"]
    assert qs["ragas-0"].meta["answer"] == "It is blue."
    assert qs["ragas-1"].answers == ["Lyon"] and len(qs["ragas-1"].gold_doc_ids) == 1


def test_convert_rgb_fixture_mixed_noise(tmp_path: Path) -> None:
    counts = convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path, noise_rate=0.4, passages_per_question=5)
    # q0: 3 pos + 2 neg; q1: only 1 pos and 2 neg exist -> 3; q2: 2 pos + 3 neg
    assert counts == {"documents": 13, "questions": 3, "answerable": 3, "retrieval_only": 0, "unanswerable": 0}
    docs, qs = _load(tmp_path)
    q0 = qs["rgb-0"]
    assert q0.gold_doc_ids == ["rgb-0-pos-0", "rgb-0-pos-1", "rgb-0-pos-2"]
    assert q0.answers == ["Riverton"] and q0.meta["original_answers"] == "Riverton"
    assert (q0.meta["n_positive"], q0.meta["n_negative"]) == (3, 2)
    assert sum(d.startswith("rgb-0-neg-") for d in docs) == 2
    assert qs["rgb-1"].answers == ["March 3 2021", "Mar 3, 2021"]
    q2 = qs["rgb-2"]  # nested positives are flattened; both answer parts required
    assert q2.gold_doc_ids == ["rgb-2-pos-0", "rgb-2-pos-1"]
    assert docs["rgb-2-pos-1"]["text"] == "Ben Poe also stars in Film Z."
    assert q2.meta["answer_parts"] == [["Ann Roe"], ["Ben Poe"]]


def test_convert_rgb_fixture_full_noise_is_unanswerable(tmp_path: Path) -> None:
    counts = convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path, noise_rate=1.0)
    assert counts == {"documents": 10, "questions": 3, "answerable": 0, "retrieval_only": 0, "unanswerable": 3}
    docs, qs = _load(tmp_path)
    assert all("-neg-" in d for d in docs)
    q1 = qs["rgb-1"]
    assert (q1.answers, q1.gold_doc_ids) == ([], [])
    assert q1.meta["original_answers"] == [["March 3 2021", "Mar 3, 2021"]]


def test_convert_rgb_rounding_keeps_a_positive_below_full_noise(tmp_path: Path) -> None:
    # 0.9 * 5 = 4.5 -> 5 negatives would leave none positive; capped at 4 + 1.
    convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path, noise_rate=0.9)
    _, qs = _load(tmp_path)
    assert (qs["rgb-0"].meta["n_positive"], qs["rgb-0"].meta["n_negative"]) == (1, 4)
    assert qs["rgb-0"].answerable


def test_convert_rgb_rejects_bad_noise_rate(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="noise_rate"):
        convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path, noise_rate=1.5)


# --------------------------------------------------------------------------- converters on real shared files


def test_convert_rgb_real_en_fact(tmp_path: Path) -> None:
    src = _shared(RGB_EN_FACT)
    raw = [json.loads(line) for line in src.read_text(encoding="utf-8").splitlines() if line.strip()]

    counts = convert_rgb(src, tmp_path / "full", noise_rate=1.0)
    assert counts["questions"] == len(raw) == 100
    assert counts["unanswerable"] == 100 and counts["answerable"] == 0
    assert counts["documents"] == sum(min(5, len(r["negative"])) for r in raw)
    docs, qs = _load(tmp_path / "full")
    assert all("-neg-" in d for d in docs)
    assert qs["rgb-0"].question == "Super Bowl 2021 location"
    assert qs["rgb-0"].meta["original_answers"] == "Tampa, Florida"

    counts = convert_rgb(src, tmp_path / "mixed", noise_rate=0.4, seed=7)
    assert counts["answerable"] == 100
    docs, qs = _load(tmp_path / "mixed")
    for r in raw:
        q = qs[f"rgb-{r['id']}"]
        n_docs = sum(d.startswith(f"rgb-{r['id']}-") for d in docs)
        assert n_docs == min(5, len(r["positive"]) + len(r["negative"]))
        assert q.gold_doc_ids and all(g in docs and "-pos-" in g for g in q.gold_doc_ids)
        assert q.meta["n_negative"] <= 2 or len(r["positive"]) < 3
    # list-of-lists answers become alternatives
    assert "Jul 21, 2017" in qs["rgb-15"].answers

    again = convert_rgb(src, tmp_path / "again", noise_rate=0.4, seed=7)
    assert again == counts
    assert (tmp_path / "again" / "corpus.jsonl").read_bytes() == (tmp_path / "mixed" / "corpus.jsonl").read_bytes()


def test_convert_squad_real_cmrc2018(tmp_path: Path) -> None:
    src = _shared(CMRC_DEV)
    counts = convert_squad(src, tmp_path)
    assert counts == {"documents": 848, "questions": 3219, "answerable": 3219, "retrieval_only": 0, "unanswerable": 0}
    docs, qs = _load(tmp_path)
    q = qs["DEV_0_QUERY_0"]
    assert q.question == "《战国无双3》是由哪两个公司合作开发的？"
    assert q.answers == ["光荣和ω-force"]
    assert q.gold_doc_ids == ["DEV_0"]
    assert "光荣和ω-force" in docs["DEV_0"]["text"] and docs["DEV_0"]["title"] == "战国无双3"


def test_convert_rgb_record_range_makes_disjoint_sets(tmp_path: Path) -> None:
    convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path / "a", noise_rate=0.4, start=0, stop=2)
    convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path / "b", noise_rate=1.0, start=2)
    (_, qa), (_, qb) = _load(tmp_path / "a"), _load(tmp_path / "b")
    assert sorted(qa) == ["rgb-0", "rgb-1"] and sorted(qb) == ["rgb-2"]
    with pytest.raises(ValueError, match="range"):
        convert_rgb(FIXTURES / "rgb_sample.jsonl", tmp_path / "c", noise_rate=0.4, start=2, stop=1)
