"""Reports of an eval run: ``report.json`` (:mod:`.json`), ``report.md`` (:mod:`.markdown`) and a
self-contained ``report.html`` (:mod:`.html`: inline SVG plots and a few lines of inline JS, no network)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from eval.report.html import render_html
from eval.report.json import build_report, write_json
from eval.report.markdown import render_markdown

__all__ = ["build_report", "render_html", "render_markdown", "write_json", "write_reports"]


def write_reports(out_dir: str | Path, report: dict[str, Any]) -> dict[str, Path]:
    """Write report.json, report.md and report.html into ``out_dir``; return their paths."""
    from eval.runner import _atomic_text

    out = Path(out_dir)
    paths = {"json": out / "report.json", "md": out / "report.md", "html": out / "report.html"}
    write_json(paths["json"], report)
    _atomic_text(paths["md"], render_markdown(report))
    _atomic_text(paths["html"], render_html(report))
    return paths
