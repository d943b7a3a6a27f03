"""``incomplete``: the answer misses part of what was asked (FP7).

Runtime signal: the question has several parts (several questions, two
wh-clauses joined by "and", an enumeration such as "the price, weight and
frame of X") and some part finds nothing in the answer: none of its own words
(or their usual answer cues, e.g. "kg" for weight) and, for a wh-part, no value
of the type it asks for.
"""

from __future__ import annotations

import re

from rag.diagnostics._common import BaseDetector, abstained, answer_text, check_int, check_range
from rag.query_analysis import answer_has_type, content_terms, expected_answer_type, split_parts, stem
from rag.types import FailureTag, Trace

# Words that answer a part without repeating it ("weight" -> "9.2 kg").
_CUES: dict[str, str] = {
    "price": r"[£$€¥]|\b(?:gbp|eur|usd|costs?|priced)\b",
    "cost": r"[£$€¥]|\b(?:gbp|eur|usd|costs?|priced|free)\b",
    "fee": r"[£$€¥]|\b(?:gbp|eur|usd|free)\b",
    "weigh": r"\b\d+(?:[.,]\d+)?\s?(?:kg|g|lbs?|tonnes?|oz)\b|\bweighs?\b",
    "weight": r"\b\d+(?:[.,]\d+)?\s?(?:kg|g|lbs?|tonnes?|oz)\b|\bweighs?\b",
    "date": r"\b(?:19|20)\d{2}\b",
    "year": r"\b(?:19|20)\d{2}\b",
    "length": r"\b\d+(?:[.,]\d+)?\s?(?:mm|cm|m|km|in|ft|mi)\b",
    "range": r"\b\d+(?:[.,]\d+)?\s?(?:km|mi|miles)\b",
    "distan": r"\b\d+(?:[.,]\d+)?\s?(?:km|m|mi|miles)\b",
    "durati": r"\b(?:hours?|minutes?|days?|weeks?|months?|years?)\b",
    "time": r"\b\d{1,2}[:.]\d{2}\b|\b(?:hours?|minutes?|days?)\b",
    "hours": r"\b\d{1,2}[:.]\d{2}\b",
    "speed": r"\b\d+(?:[.,]\d+)?\s?(?:km/h|mph|m/s)\b",
    "percen": r"%|\bper\s?cent\b",
    "rate": r"%|\bper\s?cent\b",
}


def _covered(
    part: str, question: str, distinctive: set[str], answer: str, answer_terms: set[str], type_unique: bool
) -> bool:
    """Whether the answer addresses ``part``: its own words, an answer cue, or a value of its type."""
    if distinctive & answer_terms:
        return True
    for term in distinctive:
        for key, cue in _CUES.items():
            if term.startswith(key[:5]) and re.search(cue, answer, re.I):
                return True
    kind = expected_answer_type(part)
    if kind and kind != "yesno" and type_unique:
        return answer_has_type(answer, kind, question)
    return not distinctive


class IncompleteDetector(BaseDetector):
    """Tags multi-part questions with an unanswered part.

    Uses ``trace.query_flags["parts"]`` when the pipeline filled it, else
    :func:`rag.query_analysis.split_parts`.

    Args:
        min_parts: Only questions with at least this many parts are checked. Default 2.
        confidence: Confidence of the tag. Default 0.6.
    """

    mode = "incomplete"
    suggestion = "decompose the multi-part question, retrieve per part and answer every part"

    def __init__(self, min_parts: int = 2, confidence: float = 0.6) -> None:
        super().__init__()
        self.min_parts = check_int("min_parts", min_parts, 2)
        self.confidence = check_range("confidence", confidence, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if abstained(trace):
            return []
        parts = trace.query_flags.get("parts") or split_parts(trace.question)
        if len(parts) < self.min_parts:
            return []
        answer = answer_text(trace)
        if not answer.strip():
            return []
        answer_terms = content_terms(answer)
        part_terms = [content_terms(p) for p in parts]
        shared = set.intersection(*part_terms) if part_terms else set()
        kinds = [expected_answer_type(p) for p in parts]
        missing = []
        for part, terms, kind in zip(parts, part_terms, kinds):
            distinctive = {t for t in terms - shared if t not in {stem("what"), stem("which")}}
            type_unique = kinds.count(kind) == 1
            if not _covered(part, trace.question, distinctive, answer, answer_terms, type_unique):
                missing.append(part)
        if not missing:
            return []
        listed = "; ".join(f"'{m}'" for m in missing)
        return [
            self.tag(
                self.confidence,
                f"question has {len(parts)} parts; {len(missing)} without an answer: {listed}",
            )
        ]
