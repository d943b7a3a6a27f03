"""Unit tests for eval.metrics, checked against values worked out by hand."""

from __future__ import annotations

import math
from dataclasses import dataclass

import pytest

from eval.metrics import (
    Aggregate,
    abstention_rates,
    answer_tokens,
    contains_answer,
    contains_answer_parts,
    dedupe_ranked,
    exact_match,
    graded_gain,
    hit_at_k,
    mean_with_count,
    mode_precision_recall,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
    token_f1,
)

LOG2_3 = math.log2(3)

# A ranked list from chunks: "b" appears twice; distinct order is c, b, a, x.
RANKED = ["c", "b", "b", "a", "x"]


# --------------------------------------------------------------------------- retrieval


def test_dedupe_keeps_first_occurrence() -> None:
    assert dedupe_ranked(["d2", "d1", "d2", "d3", "d1"]) == ["d2", "d1", "d3"]


def test_hit_at_k_counts_distinct_docs() -> None:
    # top-2 distinct = c, b (the repeated b must not push "a" out of top-3)
    assert hit_at_k(RANKED, {"a"}, 2) == 0.0
    assert hit_at_k(RANKED, {"a"}, 3) == 1.0
    assert hit_at_k(RANKED, ["zzz"], 10) == 0.0


def test_recall_at_k() -> None:
    assert recall_at_k(RANKED, ["a", "b", "d", "e"], 2) == 0.25  # b only
    assert recall_at_k(RANKED, ["a", "b", "d", "e"], 3) == 0.5  # b, a
    assert recall_at_k(RANKED, ["a"], 10) == 1.0


def test_mrr_at_k_uses_deduplicated_ranks() -> None:
    assert mrr_at_k(RANKED, ["a"], k=10) == pytest.approx(1 / 3)  # not 1/4
    assert mrr_at_k(RANKED, ["b", "a"], k=10) == 0.5
    assert mrr_at_k(RANKED, ["a"], k=2) == 0.0
    assert mrr_at_k(["a"], ["a"]) == 1.0


def test_retrieval_metrics_are_nan_without_gold() -> None:
    for value in (
        hit_at_k(RANKED, [], 5),
        recall_at_k(RANKED, [], 5),
        mrr_at_k(RANKED, [], 5),
        ndcg_at_k(RANKED, [], 5),
        ndcg_at_k(RANKED, {"a": -1}, 5),
    ):
        assert math.isnan(value)


def test_bad_k_is_rejected() -> None:
    with pytest.raises(ValueError):
        hit_at_k(RANKED, ["a"], 0)


def test_graded_gain_scales() -> None:
    assert [graded_gain(g) for g in (1, 2, 3, 4, -1)] == [4.0, 3.0, 2.0, 1.0, 0.0]
    assert [graded_gain(g, grades_low_is_better=False) for g in (2, 1, 0, -1)] == [2.0, 1.0, 0.0, 0.0]


def test_ndcg_graded_cranfield_by_hand() -> None:
    qrels = {"a": 1, "b": 3, "c": -1, "d": 2}
    # gains: a=4, b=2, c=0, d=3. Top-3 distinct: c, b, a.
    # DCG  = 0/log2(2) + 2/log2(3) + 4/log2(4) = 2/log2(3) + 2       ~ 3.261860
    # IDCG = 4/log2(2) + 3/log2(3) + 2/log2(4) = 4 + 3/log2(3) + 1   ~ 6.892789
    expected = (2 / LOG2_3 + 2) / (5 + 3 / LOG2_3)
    assert ndcg_at_k(RANKED, qrels, k=3) == pytest.approx(expected)
    assert ndcg_at_k(RANKED, qrels, k=3) == pytest.approx(0.473228, abs=1e-6)


def test_ndcg_ideal_uses_unretrieved_judged_docs() -> None:
    # Only "a" (grade 1, gain 4) retrieved at rank 1; "d" (gain 3) never retrieved.
    # k=1: DCG = 4, IDCG = 4 -> 1.0. k=2: IDCG = 4 + 3/log2(3).
    assert ndcg_at_k(["a"], {"a": 1, "d": 2}, k=1) == pytest.approx(1.0)
    assert ndcg_at_k(["a"], {"a": 1, "d": 2}, k=2) == pytest.approx(4 / (4 + 3 / LOG2_3))


def test_ndcg_binary_by_hand() -> None:
    # gold {a, d}; top-3 distinct c, b, a: DCG = 1/log2(4) = 0.5; IDCG = 1 + 1/log2(3)
    assert ndcg_at_k(RANKED, ["a", "d"], k=3) == pytest.approx(0.5 / (1 + 1 / LOG2_3))
    assert ndcg_at_k(["a", "d"], {"a", "d"}, k=10) == pytest.approx(1.0)


def test_ndcg_higher_is_better_scale() -> None:
    # BEIR scores: x=2, y=1. Ranked y, x: DCG = 1 + 2/log2(3); IDCG = 2 + 1/log2(3)
    value = ndcg_at_k(["y", "x"], {"x": 2, "y": 1, "z": 0}, k=10, grades_low_is_better=False)
    assert value == pytest.approx((1 + 2 / LOG2_3) / (2 + 1 / LOG2_3))


# --------------------------------------------------------------------------- answers


def test_normalize_answer_squad_rules() -> None:
    assert normalize_answer("The  Eiffel Tower!") == "eiffel tower"
    assert normalize_answer("an apple, a pear") == "apple pear"
    assert normalize_answer("theory") == "theory"  # "the" only as a word


def test_normalize_answer_cjk_and_fullwidth() -> None:
    assert normalize_answer("北京大学。") == "北 京 大 学"
    assert normalize_answer("光荣和ω-force") == "光 荣 和 ωforce"
    assert normalize_answer("ＡＢＣ，１２３") == "abc123"
    assert answer_tokens("iPhone 11发布") == ["iphone", "11", "发", "布"]


def test_exact_match() -> None:
    assert exact_match("the Nile.", ["Nile", "River Nile"]) == 1.0
    assert exact_match("Nile river", "Nile") == 0.0
    assert exact_match("北京。", ["北京"]) == 1.0
    assert math.isnan(exact_match("anything", []))


def test_token_f1_by_hand() -> None:
    # pred tokens [nile, river, egypt], gold [nile, river]: P=2/3, R=1, F1=0.8
    assert token_f1("The Nile river, Egypt", "Nile River") == pytest.approx(0.8)
    # max over golds: second gold matches exactly
    assert token_f1("Amazon", ["Nile", "the Amazon"]) == 1.0
    assert token_f1("Danube", ["Nile"]) == 0.0
    # CJK by character: pred 北京大学 (4), gold 北京 (2): P=1/2, R=1 -> 2/3
    assert token_f1("北京大学", ["北京"]) == pytest.approx(2 / 3)
    assert math.isnan(token_f1("x", []))


def test_contains_answer_on_token_boundaries() -> None:
    assert contains_answer("It was held in Tampa, Florida.", ["Tampa, Florida"]) == 1.0
    assert contains_answer("Released in 2011.", ["11"]) == 0.0
    assert contains_answer("答案是北京大学。", ["北京"]) == 1.0
    assert math.isnan(contains_answer("nothing here", ["the"]))  # gold normalises to ""


def test_contains_answer_parts_requires_every_part() -> None:
    parts = [["Ann Roe"], ["Ben Poe", "Benjamin Poe"]]
    assert contains_answer_parts("Ann Roe and Benjamin Poe", parts) == 1.0
    assert contains_answer_parts("Ann Roe only", parts) == 0.0
    assert contains_answer_parts("1月3日和1月12日", ["1月3日", "1月12日"]) == 1.0


# --------------------------------------------------------------------------- aggregation


def test_mean_with_count_excludes_and_counts_undefined() -> None:
    assert mean_with_count([1.0, 0.0, float("nan"), None, True]) == {"mean": 2 / 3, "n": 3, "n_nan": 2}
    assert mean_with_count([]) == {"mean": None, "n": 0, "n_nan": 0}
    assert mean_with_count([float("nan")]) == {"mean": None, "n": 0, "n_nan": 1}


def test_mean_with_count_rejects_garbage() -> None:
    with pytest.raises(ValueError):
        mean_with_count([1.0, float("inf")])
    with pytest.raises(TypeError):
        mean_with_count([1.0, "0.5"])


def test_mean_with_count_accepts_numpy_scalars() -> None:
    np = pytest.importorskip("numpy")
    assert mean_with_count([np.float64(0.5), np.float32("nan"), np.int64(1)]) == {"mean": 0.75, "n": 2, "n_nan": 1}


def test_aggregate_accumulates_per_metric() -> None:
    agg = Aggregate()
    agg.update({"hit@5": 1.0, "mrr@10": 0.5})
    agg.update({"hit@5": 0.0, "mrr@10": float("nan")})
    assert agg.summary() == {
        "hit@5": {"mean": 0.5, "n": 2, "n_nan": 0},
        "mrr@10": {"mean": 0.5, "n": 1, "n_nan": 1},
    }
    assert Aggregate.mean_with_count([2, 4]) == {"mean": 3.0, "n": 2, "n_nan": 0}


# --------------------------------------------------------------------------- abstention / modes


@dataclass
class _Rec:
    answerable: bool
    abstained: bool


def test_abstention_rates() -> None:
    records = [
        {"answerable": False, "abstained": True},
        {"answerable": False, "abstained": True},
        {"answerable": False, "abstained": False},
        {"answerable": True, "abstained": True},
        _Rec(answerable=True, abstained=False),
        _Rec(answerable=True, abstained=False),
        _Rec(answerable=True, abstained=False),
    ]
    assert abstention_rates(records) == {
        "correct_refusal_rate": 2 / 3,
        "false_refusal_rate": 1 / 4,
        "n_unanswerable": 3,
        "n_answerable": 4,
    }


def test_abstention_rates_empty_groups_are_none() -> None:
    result = abstention_rates([{"answerable": True, "abstained": False}])
    assert result["correct_refusal_rate"] is None
    assert result["false_refusal_rate"] == 0.0


def test_mode_precision_recall_by_hand() -> None:
    records = [
        {"expected_modes": ["missing_content"], "predicted_modes": ["missing_content"]},
        {"expected_modes": ["missing_content", "security"], "predicted_modes": ["security"]},
        {"expected_modes": [], "predicted_modes": ["security", "security"]},
        {"expected_modes": ["not_extracted"], "predicted_modes": []},
        {"expected_modes": None, "predicted_modes": ["wrong_format"]},  # ignored
        {"predicted_modes": ["wrong_format"]},  # ignored
    ]
    result = mode_precision_recall(records)
    assert set(result) == {"missing_content", "security", "not_extracted"}
    assert result["missing_content"] == {"precision": 1.0, "recall": 0.5, "tp": 1, "fp": 0, "fn": 1, "support": 2}
    assert result["security"] == {"precision": 0.5, "recall": 1.0, "tp": 1, "fp": 1, "fn": 0, "support": 1}
    assert result["not_extracted"] == {"precision": None, "recall": 0.0, "tp": 0, "fp": 0, "fn": 1, "support": 1}
