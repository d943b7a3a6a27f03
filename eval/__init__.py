"""Evaluation package: data set loaders/converters (:mod:`eval.datasets`) and metrics (:mod:`eval.metrics`).

Independent of the ``rag`` package.
"""

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
from eval.metrics import (
    Aggregate,
    abstention_rates,
    contains_answer,
    contains_answer_parts,
    exact_match,
    hit_at_k,
    mean_with_count,
    mode_precision_recall,
    mrr_at_k,
    ndcg_at_k,
    normalize_answer,
    recall_at_k,
    token_f1,
)

__all__ = [
    "Aggregate",
    "Question",
    "abstention_rates",
    "contains_answer",
    "contains_answer_parts",
    "convert_beir",
    "convert_halueval_qa",
    "convert_ragas",
    "convert_rgb",
    "convert_squad",
    "exact_match",
    "hit_at_k",
    "load_corpus",
    "load_questions",
    "mean_with_count",
    "mode_precision_recall",
    "mrr_at_k",
    "ndcg_at_k",
    "normalize_answer",
    "recall_at_k",
    "token_f1",
    "write_jsonl",
]
