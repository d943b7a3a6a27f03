"""``incorrect_specificity``: the answer is too general or too detailed (FP6).

Runtime signals: the question asks for a type of value (date, number, person,
place, yes/no) that the answer does not contain (too vague); or the answer is
far longer than the question needs (too detailed).
"""

from __future__ import annotations

from rag.diagnostics._common import BaseDetector, abstained, answer_text, check_int, short
from rag.query_analysis import answer_has_type, expected_answer_type, requested_format
from rag.types import FailureTag, Trace

_TYPE_WORDS = {"date": "a date", "number": "a number", "person": "a person", "place": "a place", "yesno": "yes or no"}


class IncorrectSpecificityDetector(BaseDetector):
    """Tags answers without the asked-for value type, and over-long answers.

    Uses ``trace.query_flags["answer_type"]`` when the pipeline filled it.

    Args:
        factoid_max_words: For date/number/person/place questions, answers longer
            than this are too detailed. Default 60.
        max_words: For other questions (yes/no included). Default 250.
        check_yesno: Tag yes/no questions whose answer has neither yes/no nor a
            polarity word near the start. Turn off for purely extractive
            generators, which quote findings instead of answering yes/no (the
            default extractive generator does). Default False.
    """

    mode = "incorrect_specificity"
    suggestion = "detect the answer type and answer with that value first; trim the answer to what was asked"

    def __init__(self, factoid_max_words: int = 60, max_words: int = 250, check_yesno: bool = False) -> None:
        super().__init__()
        self.factoid_max_words = check_int("factoid_max_words", factoid_max_words)
        self.max_words = check_int("max_words", max_words)
        if not isinstance(check_yesno, bool):
            raise ValueError(f"check_yesno must be a bool, but got {check_yesno!r}")
        self.check_yesno = check_yesno

    def detect(self, trace: Trace) -> list[FailureTag]:
        if abstained(trace):
            return []
        answer = answer_text(trace)
        if not answer.strip():
            return []
        fmt = trace.query_flags["format"] if "format" in trace.query_flags else requested_format(trace.question)
        if fmt and fmt.get("format") in ("list", "bullet", "table", "json"):
            return []  # the requested format governs the shape of the answer
        kind = (
            trace.query_flags["answer_type"]
            if "answer_type" in trace.query_flags
            else expected_answer_type(trace.question)
        )
        words = len(answer.split())
        if kind and (kind != "yesno" or self.check_yesno) and not answer_has_type(answer, kind, trace.question):
            conf = 0.45 if kind == "yesno" else 0.6
            return [
                self.tag(
                    conf,
                    f"question asks for {_TYPE_WORDS.get(kind, kind)}; the answer contains none: '{short(answer)}'",
                )
            ]
        limit = self.factoid_max_words if kind in ("date", "number", "person", "place") else self.max_words
        if words > limit:
            what = f"a {kind} question" if kind else "the question"
            return [self.tag(0.45, f"answer has {words} words for {what} (limit {limit}): too detailed")]
        return []
