"""Failure-mode diagnostics: one detector per mode, each reading only a Trace.

Every answered query is tagged with the failure modes of FAILURE_MODES.md it
suffered. Detectors never re-run retrieval or load models; they read what the
pipeline recorded in :class:`~rag.types.Trace` and return zero or one
:class:`~rag.types.FailureTag` with concrete evidence and a suggested fix.
Thresholds are conservative: a clean, well-supported answer gets no tag.

Example:
    >>> from rag.types import Trace
    >>> diagnose(Trace(question="What is the warranty on carbon frames?"))
    []
    >>> dets = default_detectors(missing_content={"support_min": 0.25}, wrong_format=None)
    >>> len(dets)
    9
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from rag.diagnostics.data_quality import DataQualityDetector
from rag.diagnostics.incomplete import IncompleteDetector
from rag.diagnostics.incorrect_specificity import IncorrectSpecificityDetector
from rag.diagnostics.missed_top_ranked import MissedTopRankedDetector
from rag.diagnostics.missing_content import MissingContentDetector
from rag.diagnostics.not_extracted import NotExtractedDetector
from rag.diagnostics.ranking_consolidation import RankingConsolidationDetector
from rag.diagnostics.security import SecurityDetector
from rag.diagnostics.structured_data import StructuredDataDetector
from rag.diagnostics.wrong_format import WrongFormatDetector
from rag.protocols import Detector
from rag.types import FAILURE_MODES, FailureTag, Trace

__all__ = [
    "DETECTOR_CLASSES",
    "default_detectors",
    "diagnose",
    "MissingContentDetector",
    "MissedTopRankedDetector",
    "NotExtractedDetector",
    "WrongFormatDetector",
    "IncompleteDetector",
    "IncorrectSpecificityDetector",
    "SecurityDetector",
    "DataQualityDetector",
    "StructuredDataDetector",
    "RankingConsolidationDetector",
]

logger = logging.getLogger(__name__)

DETECTOR_CLASSES: dict[str, type] = {
    "missing_content": MissingContentDetector,
    "missed_top_ranked": MissedTopRankedDetector,
    "not_extracted": NotExtractedDetector,
    "wrong_format": WrongFormatDetector,
    "incomplete": IncompleteDetector,
    "incorrect_specificity": IncorrectSpecificityDetector,
    "security": SecurityDetector,
    "data_quality": DataQualityDetector,
    "structured_data": StructuredDataDetector,
    "ranking_consolidation": RankingConsolidationDetector,
}
assert tuple(DETECTOR_CLASSES) == FAILURE_MODES


def default_detectors(**overrides: Mapping[str, Any] | None) -> list[Detector]:
    """One detector per failure mode, in FAILURE_MODES order.

    Args:
        **overrides: ``mode=dict(...)`` passes constructor arguments to that
            mode's detector; ``mode=None`` leaves the detector out.

    Returns:
        The detectors.

    Raises:
        ValueError: On an unknown mode or invalid detector arguments.
    """
    unknown = set(overrides) - set(DETECTOR_CLASSES)
    if unknown:
        raise ValueError(f"unknown failure mode(s) {sorted(unknown)}; expected some of {FAILURE_MODES}")
    detectors: list[Detector] = []
    for mode, cls in DETECTOR_CLASSES.items():
        if mode in overrides and overrides[mode] is None:
            continue
        kwargs = dict(overrides.get(mode) or {})
        detectors.append(cls(**kwargs))
    return detectors


def diagnose(trace: Trace, detectors: Sequence[Detector] | None = None) -> list[FailureTag]:
    """Run the detectors over a trace.

    A detector that raises is logged and contributes no tag, so one faulty
    detector never breaks an answer.

    Args:
        trace: What the pipeline recorded for one question.
        detectors: The detectors to run (default: :func:`default_detectors`).

    Returns:
        The tags, highest confidence first (ties in FAILURE_MODES order);
        an empty list for a query with no failure.
    """
    tags: list[FailureTag] = []
    for det in detectors if detectors is not None else default_detectors():
        try:
            tags.extend(det.detect(trace))
        except Exception:  # noqa: BLE001 - diagnostics must never break answering
            logger.exception("detector %s failed on question %r", getattr(det, "mode", det), trace.question[:80])
    order = {m: i for i, m in enumerate(FAILURE_MODES)}
    return sorted(tags, key=lambda t: (-t.confidence, order.get(t.mode, 99)))
