"""Helpers shared by the detectors: reading a :class:`~rag.types.Trace` safely.

Detectors must work on partial traces (a pipeline without a reranker, a
generator that measures no support, an abstention before generation), so every
accessor here tolerates missing pieces and returns an empty value instead.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

from rag.types import FAILURE_MODES, FailureTag, Hit, Trace

SECURITY_WORDS = re.compile(r"injection|security|unsafe|blocked|refus|quarantin", re.I)


class BaseDetector:
    """Common plumbing: the mode, the suggestion and tag construction.

    Subclasses set ``mode`` and ``suggestion`` and implement ``detect``.
    """

    mode: str = ""
    suggestion: str = ""

    def __init__(self) -> None:
        if self.mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {self.mode!r}")

    def tag(self, confidence: float, evidence: Iterable[str] | str, suggestion: str | None = None) -> FailureTag:
        """Build the detector's single tag from one or more evidence strings."""
        text = evidence if isinstance(evidence, str) else "; ".join(evidence)
        return FailureTag(
            mode=self.mode, confidence=round(confidence, 3), evidence=text, suggestion=suggestion or self.suggestion
        )

    def detect(self, trace: Trace) -> list[FailureTag]:  # pragma: no cover - abstract
        raise NotImplementedError

    def __repr__(self) -> str:
        params = ", ".join(f"{k}={v!r}" for k, v in vars(self).items())
        return f"{type(self).__name__}({params})"


def check_range(name: str, value: float, low: float, high: float) -> float:
    """Validate a numeric constructor argument (Haystack style error message)."""
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not low <= value <= high:
        raise ValueError(f"{name} must be a number in [{low}, {high}], but got {value!r}")
    return float(value)


def check_int(name: str, value: int, low: int = 1) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < low:
        raise ValueError(f"{name} must be an integer >= {low}, but got {value!r}")
    return value


def answer_text(trace: Trace) -> str:
    """The response text (the answer if present, else the generation)."""
    if trace.answer is not None and trace.answer.answer:
        return trace.answer.answer
    if trace.generation is not None:
        return trace.generation.text or ""
    return ""


def abstained(trace: Trace) -> bool:
    if trace.answer is not None:
        return bool(trace.answer.abstained)
    return bool(trace.generation is not None and trace.generation.abstained)


def answered(trace: Trace) -> bool:
    """The pipeline produced a non-empty answer and did not abstain."""
    return not abstained(trace) and bool(answer_text(trace).strip())


def abstain_reason(trace: Trace) -> str:
    for obj in (trace.answer, trace.generation):
        if obj is not None and obj.abstain_reason:
            return str(obj.abstain_reason)
    return ""


def security_abstention(trace: Trace) -> bool:
    """An abstention caused by a security finding, not by missing evidence."""
    return abstained(trace) and (
        bool(trace.query_flags.get("injection")) or bool(SECURITY_WORDS.search(abstain_reason(trace)))
    )


def thresholds_known(trace: Trace) -> bool:
    """Whether the pipeline filled ``evidence_score`` / ``threshold``."""
    return trace.threshold != 0.0 or trace.evidence_score != 0.0


def low_evidence(trace: Trace) -> bool:
    return thresholds_known(trace) and trace.evidence_score < trace.threshold


def supports(trace: Trace) -> list[float]:
    """Measured support scores of the answer sentences (unmeasured ones skipped)."""
    if trace.generation is None:
        return []
    return [float(s) for _, _, s in trace.generation.sentences if s is not None]


def max_support(trace: Trace) -> float | None:
    s = supports(trace)
    return max(s) if s else None


def cited(trace: Trace) -> set[int]:
    """1-based context indices the answer cites (generation or answer citations)."""
    out: set[int] = set()
    if trace.generation is not None:
        out.update(int(i) for i in trace.generation.cited if i)
        out.update(int(i) for _, i, _ in trace.generation.sentences if i)
    if trace.answer is not None:
        out.update(c.n for c in trace.answer.citations)
    return out


def stage_score(hit: Hit) -> float:
    """The most downstream score a hit carries (rerank > fused > its own score)."""
    for key in ("rerank", "fused"):
        if key in hit.scores:
            return float(hit.scores[key])
    return float(hit.score)


def rank_of(hits: Sequence[Hit], chunk_id: str) -> int | None:
    for i, h in enumerate(hits, 1):
        if h.chunk.id == chunk_id:
            return i
    return None


def stage_rank(hit: Hit, stage: str, hits: Sequence[Hit]) -> int | None:
    """1-based rank of ``hit`` in a stage, from ``hit.ranks`` or the stage list."""
    r = hit.ranks.get(stage)
    if r is not None:
        return int(r)
    return rank_of(hits, hit.chunk.id)


def fmt(x: float | None, digits: int = 3) -> str:
    """Format a score compactly: ``0.41``, ``12.3``, ``n/a``."""
    if x is None:
        return "n/a"
    s = f"{x:.{digits}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


def short(text: str, n: int = 60) -> str:
    t = " ".join((text or "").split())
    return t if len(t) <= n else t[: n - 3] + "..."


def _dense_score(hit: Hit) -> float | None:
    s = hit.scores.get("dense")
    return None if s is None else float(s)


def relevant_quarantined(trace: Trace, default_k: int = 5) -> list[tuple[Hit, str, int | None]]:
    """Quarantined chunks that would have reached the context had they not been quarantined.

    A quarantined chunk counts when its first-stage (fused) rank is within the
    context size plus the number of quarantined chunks ranked above it, and,
    when dense scores are known, its dense score is at least the median
    context chunk's (not merely the weakest one's: the weakest context chunk is
    often a lexical-only filler, and an injected chunk that only shares a few
    words with the question is no withheld evidence). Deeper or weaker injected
    chunks would not have been read anyway, so they say nothing about this
    question.

    Returns:
        ``(hit, reason, fused rank)`` in fused order.
    """
    if not trace.quarantined:
        return []
    k = len(trace.context) or default_k
    ranked = sorted(
        ((h, why, stage_rank(h, "fused", trace.fused)) for h, why in trace.quarantined),
        key=lambda x: x[2] if x[2] is not None else 10**9,
    )
    ctx_dense = [d for d in (_dense_score(h) for h in trace.context) if d is not None]
    bar = sorted(ctx_dense)[(len(ctx_dense) - 1) // 2] if ctx_dense else None  # the (lower) median
    out = []
    for above, (h, why, rank) in enumerate(ranked):
        if rank is not None and rank > k + above:
            continue
        if bar is not None:
            d = _dense_score(h)
            if d is None or d < bar:
                continue
        out.append((h, why, rank))
    return out
