"""``report.json``: the run, every query, then the aggregates (and the baseline comparison)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

REPORT_VERSION = 1


def build_report(run: dict[str, Any], records: list[dict[str, Any]], aggregates: dict[str, Any],
                 comparison: dict[str, Any] | None = None, thresholds: dict[str, Any] | None = None) -> dict[str, Any]:
    """The report as one JSON-ready dict (``nan`` already replaced by null in the records)."""
    from eval.runner import _clean

    rep: dict[str, Any] = {
        "report_version": REPORT_VERSION,
        "generated_at": time.time(),
        "run": run,
        "queries": records,
        "aggregates": aggregates,
    }
    if comparison is not None:
        rep["baseline"] = comparison
    if thresholds is not None:
        rep["thresholds"] = thresholds
    return _clean(rep)


def write_json(path: str | Path, report: dict[str, Any]) -> None:
    from eval.runner import _atomic_text

    _atomic_text(Path(path), json.dumps(report, ensure_ascii=False, indent=1))
