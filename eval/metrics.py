"""Evaluation metrics: retrieval, answer text, abstention and failure modes.

All functions are pure. Retrieval metrics take a ranked list of document ids
(repeats are dropped, keeping the first occurrence, because ranked lists come
from chunks and one document can appear several times) and return ``nan`` when
the question has no relevant document, so an undefined value is never mistaken
for a zero; aggregate them with :func:`mean_with_count`, which counts and
excludes those.
"""

from __future__ import annotations

import math
import numbers
import re
import string
import unicodedata
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

__all__ = [
    "dedupe_ranked",
    "hit_at_k",
    "recall_at_k",
    "mrr_at_k",
    "ndcg_at_k",
    "graded_gain",
    "normalize_answer",
    "answer_tokens",
    "exact_match",
    "token_f1",
    "contains_answer",
    "contains_answer_parts",
    "mean_with_count",
    "Aggregate",
    "abstention_rates",
    "mode_precision_recall",
]

NAN = float("nan")


# --------------------------------------------------------------------------- #
# Retrieval
# --------------------------------------------------------------------------- #


def dedupe_ranked(ranked_doc_ids: Iterable[str]) -> list[str]:
    """Drop repeated doc ids, keeping each first occurrence and the order."""
    return list(dict.fromkeys(ranked_doc_ids))


def _check_k(k: int) -> None:
    if isinstance(k, bool) or not isinstance(k, int) or k < 1:
        raise ValueError(f"k must be a positive integer, got {k!r}")


def _top_k(ranked_doc_ids: Iterable[str], k: int) -> list[str]:
    _check_k(k)
    return dedupe_ranked(ranked_doc_ids)[:k]


def hit_at_k(ranked_doc_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """1.0 if any gold document is in the top ``k`` distinct documents, else 0.0.

    Args:
        ranked_doc_ids: Retrieved doc ids, best first (repeats allowed).
        gold_ids: Relevant doc ids.
        k: Cut-off, >= 1.

    Returns:
        1.0 or 0.0; ``nan`` when ``gold_ids`` is empty.
    """
    gold = set(gold_ids)
    top = _top_k(ranked_doc_ids, k)
    if not gold:
        return NAN
    return 1.0 if any(d in gold for d in top) else 0.0


def recall_at_k(ranked_doc_ids: Sequence[str], gold_ids: Iterable[str], k: int) -> float:
    """Share of gold documents found in the top ``k`` distinct documents.

    Returns:
        A value in [0, 1]; ``nan`` when ``gold_ids`` is empty.
    """
    gold = set(gold_ids)
    top = _top_k(ranked_doc_ids, k)
    if not gold:
        return NAN
    return sum(d in gold for d in top) / len(gold)


def mrr_at_k(ranked_doc_ids: Sequence[str], gold_ids: Iterable[str], k: int = 10) -> float:
    """Reciprocal rank of the first gold document within the top ``k`` (0.0 if none).

    Ranks count distinct documents (repeats removed first).

    Returns:
        ``1 / rank`` or 0.0; ``nan`` when ``gold_ids`` is empty.
    """
    gold = set(gold_ids)
    top = _top_k(ranked_doc_ids, k)
    if not gold:
        return NAN
    for rank, doc_id in enumerate(top, start=1):
        if doc_id in gold:
            return 1.0 / rank
    return 0.0


def graded_gain(grade: int, grades_low_is_better: bool = True) -> float:
    """Gain of one judged document.

    Args:
        grade: The judgment.
        grades_low_is_better: Cranfield scale (1 = most relevant .. 4, -1 = not
            relevant): gain ``5 - grade`` for grades 1..4, else 0. If False
            (BEIR/TREC scale, higher = better): gain ``max(grade, 0)``.

    Returns:
        The non-negative gain.
    """
    if grades_low_is_better:
        return float(5 - grade) if 1 <= grade <= 4 else 0.0
    return float(max(grade, 0))


def ndcg_at_k(
    ranked_doc_ids: Sequence[str],
    qrels_or_gold: Mapping[str, int] | Iterable[str],
    k: int = 10,
    grades_low_is_better: bool = True,
) -> float:
    """Normalised discounted cumulative gain at ``k``.

    ``DCG = sum(gain_i / log2(i + 1))`` over ranks ``i = 1..k`` of the distinct
    retrieved documents (linear gains, as trec_eval and BEIR). The ideal DCG
    sorts the gains of *all* judged documents, retrieved or not.

    Args:
        ranked_doc_ids: Retrieved doc ids, best first (repeats allowed).
        qrels_or_gold: Graded judgments ``{doc_id: grade}`` (see
            :func:`graded_gain`), or an iterable of gold ids (binary gain 1).
        k: Cut-off, >= 1.
        grades_low_is_better: Grade scale of ``qrels`` (True = Cranfield).

    Returns:
        A value in [0, 1]; ``nan`` when no judged document has a positive gain.
    """
    top = _top_k(ranked_doc_ids, k)
    if isinstance(qrels_or_gold, Mapping):
        gains = {d: graded_gain(g, grades_low_is_better) for d, g in qrels_or_gold.items()}
    else:
        gains = {d: 1.0 for d in qrels_or_gold}
    ideal = sorted((g for g in gains.values() if g > 0), reverse=True)[:k]
    idcg = sum(g / math.log2(i + 1) for i, g in enumerate(ideal, start=1))
    if idcg <= 0:
        return NAN
    dcg = sum(gains.get(d, 0.0) / math.log2(i + 1) for i, d in enumerate(top, start=1))
    return dcg / idcg


# --------------------------------------------------------------------------- #
# Answer text
# --------------------------------------------------------------------------- #

_ARTICLES = re.compile(r"\b(a|an|the)\b")
_ASCII_PUNCT = frozenset(string.punctuation)


def _is_cjk(ch: str) -> bool:
    """Chinese/Japanese characters (ideographs, kana), which use no spaces."""
    cp = ord(ch)
    return (
        0x4E00 <= cp <= 0x9FFF  # CJK unified ideographs
        or 0x3400 <= cp <= 0x4DBF  # extension A
        or 0x20000 <= cp <= 0x2FA1F  # extensions B.., compatibility supplement
        or 0xF900 <= cp <= 0xFAFF  # compatibility ideographs
        or 0x3040 <= cp <= 0x30FF  # hiragana, katakana
    )


def _is_punct(ch: str) -> bool:
    return ch in _ASCII_PUNCT or unicodedata.category(ch).startswith("P")


def normalize_answer(s: str) -> str:
    """SQuAD-style answer normalisation, extended to CJK text.

    NFKC-folds (full-width forms to ASCII), lower-cases, removes ASCII and
    Unicode punctuation and the English articles a/an/the, separates every
    CJK character (which are written without spaces) into its own token,
    and collapses whitespace.

    Args:
        s: Any text.

    Returns:
        Space-separated normalised tokens, e.g. ``"the Eiffel-Tower!"`` ->
        ``"eiffeltower"`` and ``"北京大学"`` -> ``"北 京 大 学"``.
    """
    s = unicodedata.normalize("NFKC", s or "").lower()
    s = "".join(ch for ch in s if not _is_punct(ch))
    s = _ARTICLES.sub(" ", s)
    s = "".join(f" {ch} " if _is_cjk(ch) else ch for ch in s)
    return " ".join(s.split())


def answer_tokens(s: str) -> list[str]:
    """The tokens of :func:`normalize_answer` (CJK: one per character)."""
    return normalize_answer(s).split()


def _golds(golds: str | Iterable[str]) -> list[str]:
    return [golds] if isinstance(golds, str) else list(golds)


def exact_match(pred: str, golds: str | Iterable[str]) -> float:
    """1.0 if the normalised prediction equals any normalised gold answer.

    Returns:
        1.0 or 0.0; ``nan`` when there are no gold answers.
    """
    golds = _golds(golds)
    if not golds:
        return NAN
    p = normalize_answer(pred)
    return 1.0 if any(p == normalize_answer(g) for g in golds) else 0.0


def _f1(pred_tokens: list[str], gold_tokens: list[str]) -> float:
    if not pred_tokens or not gold_tokens:
        return float(pred_tokens == gold_tokens)
    common = Counter(pred_tokens) & Counter(gold_tokens)
    same = sum(common.values())
    if same == 0:
        return 0.0
    precision = same / len(pred_tokens)
    recall = same / len(gold_tokens)
    return 2 * precision * recall / (precision + recall)


def token_f1(pred: str, golds: str | Iterable[str]) -> float:
    """SQuAD token F1 of the prediction, the maximum over the gold answers.

    Returns:
        A value in [0, 1]; ``nan`` when there are no gold answers.
    """
    golds = _golds(golds)
    if not golds:
        return NAN
    p = answer_tokens(pred)
    return max(_f1(p, answer_tokens(g)) for g in golds)


def contains_answer(pred: str, golds: str | Iterable[str]) -> float:
    """1.0 if any normalised gold answer occurs in the normalised prediction.

    Matching is on whole tokens (``"11"`` is not found in ``"2011"``; for CJK
    every character is a token, so it is plain substring matching). Gold
    answers that normalise to nothing are ignored.

    Returns:
        1.0 or 0.0; ``nan`` when there are no (non-empty) gold answers.
    """
    targets = [normalize_answer(g) for g in _golds(golds)]
    targets = [t for t in targets if t]
    if not targets:
        return NAN
    p = f" {normalize_answer(pred)} "
    return 1.0 if any(f" {t} " in p for t in targets) else 0.0


def contains_answer_parts(pred: str, parts: Sequence[str | Sequence[str]]) -> float:
    """1.0 if the prediction contains every required part (RGB multi-part answers).

    Args:
        pred: The prediction.
        parts: Required parts, each a string or a list of alternatives (as in
            ``Question.meta["answer_parts"]`` from ``convert_rgb``).

    Returns:
        1.0 or 0.0; ``nan`` when ``parts`` is empty.
    """
    if not parts:
        return NAN
    return 1.0 if all(contains_answer(pred, part) == 1.0 for part in parts) else 0.0


# --------------------------------------------------------------------------- #
# Aggregation
# --------------------------------------------------------------------------- #


def mean_with_count(values: Iterable[float | int | bool | None]) -> dict[str, Any]:
    """Mean of the defined values, saying how many it covers and how many it left out.

    Args:
        values: Numbers; ``None`` and ``nan`` mean "undefined" and are counted
            in ``n_nan`` but not averaged.

    Returns:
        ``{"mean": float | None, "n": int, "n_nan": int}``; ``mean`` is None
        when no value is defined.

    Raises:
        TypeError: A value is not a number.
        ValueError: A value is infinite.
    """
    total = 0.0
    n = n_nan = 0
    for v in values:
        if v is None:
            n_nan += 1
            continue
        if not isinstance(v, numbers.Real):  # numpy scalars are registered Reals
            raise TypeError(f"not a number: {v!r}")
        v = float(v)
        if math.isnan(v):
            n_nan += 1
            continue
        if math.isinf(v):
            raise ValueError(f"infinite value in mean: {v!r}")
        total += float(v)
        n += 1
    return {"mean": total / n if n else None, "n": n, "n_nan": n_nan}


class Aggregate:
    """Accumulates per-question values of several metrics.

    Example:
        >>> agg = Aggregate()
        >>> agg.add("recall@5", 1.0); agg.add("recall@5", float("nan"))
        >>> agg.summary()["recall@5"]
        {'mean': 1.0, 'n': 1, 'n_nan': 1}
    """

    mean_with_count = staticmethod(mean_with_count)

    def __init__(self) -> None:
        self._values: dict[str, list[float | None]] = {}

    def add(self, name: str, value: float | int | bool | None) -> None:
        """Record one value (``None``/``nan`` = undefined for this question)."""
        self._values.setdefault(name, []).append(value)

    def update(self, values: Mapping[str, float | int | bool | None]) -> None:
        """Record one value for each metric in ``values``."""
        for name, value in values.items():
            self.add(name, value)

    def summary(self) -> dict[str, dict[str, Any]]:
        """``{metric: mean_with_count(values)}`` for every metric seen."""
        return {name: mean_with_count(vals) for name, vals in self._values.items()}


# --------------------------------------------------------------------------- #
# Abstention and failure modes
# --------------------------------------------------------------------------- #


def _field(record: Any, name: str) -> Any:
    """Read ``name`` from a mapping or an object attribute."""
    if isinstance(record, Mapping):
        return record.get(name)
    return getattr(record, name, None)


def abstention_rates(records: Iterable[Any]) -> dict[str, Any]:
    """How well the system abstains on unanswerable questions and only there.

    Args:
        records: Mappings or objects with ``answerable: bool`` and
            ``abstained: bool``.

    Returns:
        ``correct_refusal_rate`` (abstained among unanswerable),
        ``false_refusal_rate`` (abstained among answerable), each None when its
        group is empty, and ``n_unanswerable``, ``n_answerable``.
    """
    n_ans = n_unans = refused_ans = refused_unans = 0
    for rec in records:
        abstained = bool(_field(rec, "abstained"))
        if _field(rec, "answerable"):
            n_ans += 1
            refused_ans += abstained
        else:
            n_unans += 1
            refused_unans += abstained
    return {
        "correct_refusal_rate": refused_unans / n_unans if n_unans else None,
        "false_refusal_rate": refused_ans / n_ans if n_ans else None,
        "n_unanswerable": n_unans,
        "n_answerable": n_ans,
    }


def mode_precision_recall(records: Iterable[Any]) -> dict[str, dict[str, Any]]:
    """Per-mode precision and recall of predicted failure modes.

    Only records whose ``expected_modes`` is not None count (an empty list
    means "no failure expected", so any prediction there is a false positive).
    Each record's modes are treated as a set.

    Args:
        records: Mappings or objects with ``expected_modes: list[str] | None``
            and ``predicted_modes: list[str]``.

    Returns:
        ``{mode: {"precision", "recall", "tp", "fp", "fn", "support"}}`` for
        every mode expected or predicted; ``support`` is the number of records
        expecting the mode; a rate is None when its denominator is 0.
    """
    counts: dict[str, Counter[str]] = {}
    for rec in records:
        expected = _field(rec, "expected_modes")
        if expected is None:
            continue
        expected = set(expected)
        predicted = set(_field(rec, "predicted_modes") or [])
        for mode in expected | predicted:
            c = counts.setdefault(mode, Counter())
            if mode in expected and mode in predicted:
                c["tp"] += 1
            elif mode in predicted:
                c["fp"] += 1
            else:
                c["fn"] += 1
    result: dict[str, dict[str, Any]] = {}
    for mode in sorted(counts):
        tp, fp, fn = counts[mode]["tp"], counts[mode]["fp"], counts[mode]["fn"]
        result[mode] = {
            "precision": tp / (tp + fp) if tp + fp else None,
            "recall": tp / (tp + fn) if tp + fn else None,
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "support": tp + fn,
        }
    return result
