"""``incorrect_specificity``: the answer is too general or too detailed (FP6).

Runtime signals: the question asks for a type of value (date, number, person,
place, yes/no) that the answer does not contain (too vague; with more
confidence when a generic phrase stands in for the value: "by a local firm",
"in a large park", "several", "recently"); or the answer is far longer than
the question needs (too detailed). The type is read from a cue near the start
of the question's first part (the other parts of a multi-part question are
``incomplete``'s); "where do I find ..." asks for a procedure, not a place;
"what is the span / height / capacity ... of X" asks for a number.
"""

from __future__ import annotations

import re

from rag.diagnostics._common import BaseDetector, abstained, answer_text, check_int, short
from rag.query_analysis import answer_has_type, expected_answer_type, requested_format, split_parts
from rag.types import FailureTag, Trace

_TYPE_WORDS = {"date": "a date", "number": "a number", "person": "a person", "place": "a place", "yesno": "yes or no"}


# Generic phrases that stand in for a value of the asked type.
_STAND_IN = {
    "person": re.compile(r"\b(?:by|from|to)\s+(?:a|an|some|several|one of|various|local|two|three)\b", re.I),
    "place": re.compile(r"\b(?:in|at|near|on|outside|inside|by)\s+(?:a|an|some|one of|various)\b|\bsomewhere\b", re.I),
    "date": re.compile(
        r"\b(?:recently|some (?:time|years|decades|while)|a (?:few|number of) years|long ago|years ago|at some point|"
        r"in the past|once upon|soon|later|earlier|a while)\b",
        re.I,
    ),
    "number": re.compile(
        r"\b(?:several|many|a few|some|a number of|a lot|numerous|lots|plenty|countless|a great deal|dozens|hundreds|"
        r"thousands|a large|a small|a long|a short|considerable|substantial)\b",
        re.I,
    ),
}
# "What is the span of the X?": an attribute that is measured, so a number is asked for.
_MEASURE_Q = re.compile(
    r"^\s*(?:what|which)\s+(?:is|was|are|were)\s+the\s+(?:\w+\s+)?(?:span|length|height|width|depth|weight|capacity|"
    r"population|area|size|distance|duration|speed|range|age|altitude|elevation|diameter|volume|price|cost|fee)\s+of\b",
    re.I,
)
_CLOCK = re.compile(r"\b\d{1,2}(?:[:.]\d{2})?\s?(?:am|pm|a\.m\.|p\.m\.)(?!\w)|\b\d{1,2}:\d{2}\b|\b(?:noon|midnight)\b", re.I)
_PROCEDURE_WHERE = re.compile(r"^\s*where\s+(?:do|can|should|could|would|does)\s+(?:i|you|we|one|users?)\b", re.I)


def _question_type(trace: Trace) -> str | None:
    """The asked answer type, from the question's first part and a cue near its start."""
    parts = trace.query_flags.get("parts") or split_parts(trace.question)
    first = parts[0] if len(parts) >= 2 else trace.question
    if len(parts) < 2 and "answer_type" in trace.query_flags and trace.query_flags["answer_type"] is None:
        kind = None
    else:
        kind = expected_answer_type(first, strict=True)
    if kind == "place" and _PROCEDURE_WHERE.match(first):
        return None  # "where do I find X" asks for a procedure, not a place
    if kind is None and _MEASURE_Q.match(first):
        return "number"
    return kind


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
        kind = _question_type(trace)
        words = len(answer.split())
        has_type = answer_has_type(answer, kind, trace.question) if kind else True
        if kind == "date" and not has_type and _CLOCK.search(answer):
            has_type = True  # "when does it close?" is answered by a time of day
        if kind and (kind != "yesno" or self.check_yesno) and not has_type:
            if kind == "yesno":
                return [self.tag(0.45, f"question asks for yes or no; the answer contains neither: '{short(answer)}'")]
            m = _STAND_IN[kind].search(answer) if kind in _STAND_IN else None
            if m:  # a generic phrase stands in for the value: too vague
                return [
                    self.tag(
                        0.65,
                        f"question asks for {_TYPE_WORDS.get(kind, kind)}; the answer gives only the generic "
                        f"'{m.group(0)}': '{short(answer)}'",
                    )
                ]
            return [
                self.tag(
                    0.55, f"question asks for {_TYPE_WORDS.get(kind, kind)}; the answer contains none: '{short(answer)}'"
                )
            ]
        limit = self.factoid_max_words if kind in ("date", "number", "person", "place") else self.max_words
        if words > limit:
            what = f"a {kind} question" if kind else "the question"
            return [self.tag(0.45, f"answer has {words} words for {what} (limit {limit}): too detailed")]
        return []
