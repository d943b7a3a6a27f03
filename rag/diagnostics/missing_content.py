"""``missing_content``: the answer is not in the knowledge base (Barnett FP1).

Runtime signals: no candidate clears the calibrated relevance threshold, or the
answer was given but no answer sentence is supported by the retrieved chunks
while the evidence is barely above the threshold. A correct abstention for lack
of evidence is still tagged (with the evidence): it documents why the system
did not answer, and it counts as a success in the metrics.

A low-evidence abstention is not put down to missing content when the
evidence was withheld or is not measurable: the query was refused as an
injection, a quarantined chunk would have reached the context, the context
holds a table (the evidence score measures sentence support, not table
cells; see ``structured_data``), a context chunk is garbled text (see
``data_quality``), or the dense and lexical retrievers agree on
one document that covers most of the question (the knowledge base has a
document about exactly this; see ``not_extracted``).
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
    relevant_quarantined,
    security_abstention,
    thresholds_known,
)
from rag.quality import garble_score
from rag.query_analysis import content_terms, strip_instructions
from rag.types import FailureTag, Hit, Trace

GARBLED = 0.5  # rag.quality.garble_score at or above which a chunk is garbled (as in DataQualityDetector)


def _garbled(trace: Trace, hit: Hit) -> bool:
    """Whether ingestion found this chunk (or its document) garbled; the score is computed only when flagged."""
    rec = trace.doc_records.get(hit.chunk.doc_id)
    if rec is None:
        return False
    if "garbled" in rec.issues:
        return True
    return "garbled_chunk" in rec.issues and garble_score(hit.chunk.text) >= GARBLED


CORRECT_ABSTENTION = "correct abstention: the answer is not in the knowledge base; add a document that covers it if it should be answerable"


class MissingContentDetector(BaseDetector):
    """Tags abstentions for low evidence and answers that nothing supports.

    Args:
        support_min: An answer sentence with support below this (cosine) is
            unsupported. Default 0.3.
        evidence_margin: With an unsupported answer, the evidence counts as low
            when ``evidence_score < threshold + evidence_margin``. Default 0.05.
        agreement_coverage: An abstention is not tagged when the dense and the
            lexical rank-1 chunks come from the same document and it holds at
            least this share of the question's content words. Default 0.5.

    Example:
        >>> MissingContentDetector(support_min=0.25).detect(Trace(question="q"))
        []
    """

    mode = "missing_content"
    suggestion = "abstain with a clear 'not in the knowledge base' answer, or add a document that covers the question"

    def __init__(
        self, support_min: float = 0.3, evidence_margin: float = 0.05, agreement_coverage: float = 0.5
    ) -> None:
        super().__init__()
        self.agreement_coverage = check_range("agreement_coverage", agreement_coverage, 0.0, 1.0)
        self.support_min = check_range("support_min", support_min, -1.0, 1.0)
        self.evidence_margin = check_range("evidence_margin", evidence_margin, 0.0, 1.0)

    def detect(self, trace: Trace) -> list[FailureTag]:
        if security_abstention(trace) or trace.query_flags.get("injection"):
            return []
        top = trace.context[0].chunk.id if trace.context else (trace.reranked[0].chunk.id if trace.reranked else None)
        top_txt = f" (best candidate {top})" if top else " (no candidates)"
        ev = f"evidence {fmt(trace.evidence_score)} < threshold {fmt(trace.threshold)}"
        nothing_retrieved = not (trace.reranked or trace.context or trace.dense or trace.lexical)
        if abstained(trace):
            if not (low_evidence(trace) or nothing_retrieved):
                return []  # abstained for another reason (see not_extracted)
            if not nothing_retrieved and self._content_likely_present(trace):
                return []
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

    def _content_likely_present(self, trace: Trace) -> bool:
        """Whether the low evidence is inconclusive (withheld, unmeasurable, or a clear document match)."""
        if relevant_quarantined(trace):
            return True  # the evidence may sit in a chunk quarantined for security
        if any(h.chunk.kind == "table" for h in trace.context):
            return True  # sentence support says little about table cells (structured_data)
        if any(_garbled(trace, h) for h in trace.context):
            return True  # the evidence may sit in unreadable text: a data-quality failure, not missing content
        if trace.dense and trace.lexical and trace.dense[0].chunk.doc_id == trace.lexical[0].chunk.doc_id:
            q = content_terms(strip_instructions(trace.question))
            if len(q) >= 2:
                doc = trace.dense[0].chunk.doc_id
                text = " ".join(h.chunk.text for h in (trace.dense[0], trace.lexical[0]) if h.chunk.doc_id == doc)
                if len(q & content_terms(text)) / len(q) >= self.agreement_coverage:
                    return True
        return False
