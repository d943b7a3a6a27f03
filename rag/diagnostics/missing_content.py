"""``missing_content``: the answer is not in the knowledge base (Barnett FP1).

Runtime signals: no candidate clears the calibrated relevance threshold, or the
answer was given but no answer sentence is supported by the retrieved chunks
while the evidence is barely above the threshold. A correct abstention for lack
of evidence is still tagged (with the evidence): it documents why the system
did not answer, and it counts as a success in the metrics.
"""

from __future__ import annotations

from rag.diagnostics._common import (
    BaseDetector,
    abstained,
    answered,
    check_range,
    fmt,
    low_evidence,
    max_support,
    security_abstention,
    thresholds_known,
)
from rag.types import FailureTag, Trace

CORRECT_ABSTENTION = "correct abstention: the answer is not in the knowledge base; add a document that covers it if it should be answerable"


class MissingContentDetector(BaseDetector):
    """Tags abstentions for low evidence and answers that nothing supports.

    Args:
        support_min: An answer sentence with support below this (cosine) is
            unsupported. Default 0.3.
        evidence_margin: With an unsupported answer, the evidence counts as low
            when ``evidence_score < threshold + evidence_margin``. Default 0.05.

    Example:
        >>> MissingContentDetector(support_min=0.25).detect(Trace(question="q"))
        []
    """

    mode = "missing_content"
    suggestion = "abstain with a clear 'not in the knowledge base' answer, or add a document that covers the question"

    def __init__(self, support_min: float = 0.3, evidence_margin: float = 0.05) -> None:
        super().__init__()
        self.support_min = check_range("support_min", support_min, -1.0, 1.0)
        self.evidence_margin = check_range("evidence_margin", evidence_margin, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if security_abstention(trace):
            return []
        top = trace.context[0].chunk.id if trace.context else (trace.reranked[0].chunk.id if trace.reranked else None)
        top_txt = f" (best candidate {top})" if top else " (no candidates)"
        ev = f"evidence {fmt(trace.evidence_score)} < threshold {fmt(trace.threshold)}"
        nothing_retrieved = not (trace.reranked or trace.context or trace.dense or trace.lexical)
        if abstained(trace):
            if not (low_evidence(trace) or nothing_retrieved):
                return []  # abstained for another reason (see not_extracted)
            why = ev if thresholds_known(trace) else "no candidates retrieved"
            return [
                self.tag(
                    0.9,
                    f"abstained: {why}{top_txt}; no candidate clears the calibrated relevance threshold",
                    CORRECT_ABSTENTION,
                )
            ]
        if not answered(trace):
            return []
        if not trace.context:
            return [self.tag(0.8, "answered with an empty context: nothing was retrieved to support the answer")]
        best = max_support(trace)
        near_threshold = thresholds_known(trace) and trace.evidence_score < trace.threshold + self.evidence_margin
        if best is not None and best < self.support_min and near_threshold:
            return [
                self.tag(
                    0.75,
                    f"no answer sentence is supported (max support {fmt(best)} < {fmt(self.support_min)}) and "
                    f"evidence {fmt(trace.evidence_score)} is within {fmt(self.evidence_margin)} "
                    f"of threshold {fmt(trace.threshold)}{top_txt}",
                )
            ]
        if low_evidence(trace) and (best is None or best < 0.5):
            return [self.tag(0.6, f"answered although {ev}{top_txt}; max support {fmt(best)}")]
        return []
