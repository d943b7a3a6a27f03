"""``wrong_format``: the response ignores an instructed format (FP5).

Runtime signal: the question asks for a format (list, table, JSON, N items,
one word, yes/no, short) and the response does not match it. An abstention
counts too (a format-aware template answers "not found" in the requested
shape), at a lower confidence; a refusal for security reasons does not.
"""

from __future__ import annotations

from typing import Any

from rag.diagnostics._common import BaseDetector, abstained, answer_text, check_range, security_abstention, short
from rag.query_analysis import matches_format, requested_format
from rag.types import FailureTag, Trace


def _describe(fmt: dict[str, Any]) -> str:
    kind = fmt.get("format", "?")
    extra = ", ".join(f"{k}={v}" for k, v in fmt.items() if k != "format")
    return f"{kind} ({extra})" if extra else kind


class WrongFormatDetector(BaseDetector):
    """Tags answers that do not follow the requested format.

    Uses ``trace.query_flags["format"]`` when the pipeline filled it (a dict
    from :func:`rag.query_analysis.requested_format`, or None), else analyses
    the question itself.

    Args:
        confidence: Confidence of the tag. Default 0.75.
    """

    mode = "wrong_format"
    suggestion = "use a format-aware answer template (list, table, JSON, N items) for this request"

    def __init__(self, confidence: float = 0.75) -> None:
        super().__init__()
        self.confidence = check_range("confidence", confidence, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if security_abstention(trace) or trace.query_flags.get("injection"):
            return []
        fmt = trace.query_flags["format"] if "format" in trace.query_flags else requested_format(trace.question)
        if not fmt:
            return []
        answer = answer_text(trace)
        if matches_format(answer, fmt):
            return []
        if abstained(trace):
            return [
                self.tag(
                    self.confidence * 0.6,
                    f"question asks for {_describe(fmt)}; the abstention '{short(answer, 50)}' does not follow it",
                    "answer 'not found' in the requested format too (an empty list, a JSON null, 'unknown')",
                )
            ]
        lines = [ln for ln in answer.splitlines() if ln.strip()]
        return [
            self.tag(
                self.confidence,
                f"question asks for {_describe(fmt)}; the answer ({len(answer.split())} words, {len(lines)} lines) does not match: '{short(answer, 50)}'",
            )
        ]
