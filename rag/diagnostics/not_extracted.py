"""``not_extracted``: the answer is in the context but not extracted (FP4).

Runtime signals: the evidence clears the threshold (a high-scoring chunk is in
the context) but the generator abstained or wrote an answer that no context
chunk supports; or the context is long and mostly low-relevance while the
answer is weakly supported (information overload).
"""

from __future__ import annotations

from rag.diagnostics._common import (
    BaseDetector,
    abstained,
    check_int,
    check_range,
    fmt,
    max_support,
    security_abstention,
    stage_score,
    thresholds_known,
)
from rag.types import FailureTag, Trace


class NotExtractedDetector(BaseDetector):
    """Tags answers that miss what a strong context chunk holds.

    Args:
        support_min: Answer sentences below this support are unsupported. Default 0.3.
        long_context: A context with at least this many chunks is long. Default 8.
        low_fraction: A long context is mostly low-relevance when at least this
            fraction of its chunks score in the bottom 30% of the candidate
            score range. Default 0.75.
    """

    mode = "not_extracted"
    suggestion = "extract at sentence level, compress the context, and give the generator fewer, better chunks"

    def __init__(self, support_min: float = 0.3, long_context: int = 8, low_fraction: float = 0.75) -> None:
        super().__init__()
        self.support_min = check_range("support_min", support_min, -1.0, 1.0)
        self.long_context = check_int("long_context", long_context, 2)
        self.low_fraction = check_range("low_fraction", low_fraction, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if not trace.context or security_abstention(trace):
            return []
        strong = thresholds_known(trace) and trace.evidence_score >= trace.threshold
        top = trace.context[0]
        top_txt = f"top chunk {top.chunk.id} (score {fmt(stage_score(top))})"
        if abstained(trace):
            if strong:
                return [
                    self.tag(
                        0.7,
                        f"abstained although evidence {fmt(trace.evidence_score)} >= threshold {fmt(trace.threshold)}; {top_txt} was in the context",
                    )
                ]
            return []
        best = max_support(trace)
        if strong and best is not None and best < self.support_min:
            return [
                self.tag(
                    0.65,
                    f"evidence {fmt(trace.evidence_score)} >= threshold {fmt(trace.threshold)} with {top_txt}, "
                    f"but no answer sentence is supported by the context (max support {fmt(best)} < {fmt(self.support_min)})",
                )
            ]
        if len(trace.context) >= self.long_context and best is not None and best < 0.5:
            pool = trace.reranked or trace.context
            scores = [stage_score(h) for h in pool]
            lo, hi = min(scores), max(scores)
            if hi > lo:
                low = [h for h in trace.context if (stage_score(h) - lo) / (hi - lo) < 0.3]
                frac = len(low) / len(trace.context)
                if frac >= self.low_fraction:
                    return [
                        self.tag(
                            0.45,
                            f"long context ({len(trace.context)} chunks), {len(low)} of them ({frac:.0%}) low-relevance; "
                            f"answer weakly supported (max support {fmt(best)})",
                        )
                    ]
        return []
