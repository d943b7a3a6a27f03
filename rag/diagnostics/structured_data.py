"""``structured_data``: weak handling of table questions.

Runtime signals, all requiring table chunks in the context (``Chunk.kind == "table"``):

* the deterministic table reader (:func:`rag.tables.table_answer`) finds a
  value the answer lacks, or answers although the generator abstained;
* the question asks for a total / average over a table whose headers it names
  and the answer holds no value of the table;
* a table chunk leads the context (rank 1 and sharing words with the question,
  or rank 2 for a question that targets tabular data) and the answer (or
  abstention) holds no value of it;
* a table was split across chunks and only some parts reached the context
  (``chunk.metadata["table_part"]`` / ``["table_parts"]``), or a part lacks
  its header row.

Answers produced by the table reader (``generation.meta["table_answer"] is
True``) are trusted.
"""

from __future__ import annotations

import re
from collections import defaultdict

from rag.diagnostics._common import BaseDetector, abstained, answer_text, short
from rag.query_analysis import content_terms, is_table_question, table_operation
from rag.tables import parse_markdown_table, parse_number, table_answer, table_values
from rag.types import FailureTag, Hit, Trace

_NUM = re.compile(r"\d[\d,.\u00a0\u202f ]*\d|\d")
_AGGREGATIONS = ("count", "sum", "average", "max", "min")


def _numbers(text: str) -> set[float]:
    out = set()
    for m in _NUM.finditer(text):
        n = parse_number(m.group(0).strip())
        if n is not None:
            out.add(round(n.value, 4))
    return out


def _lacks_header(text: str) -> bool:
    parsed = parse_markdown_table(text)
    if parsed is None:
        return False
    header, _ = parsed
    numeric = sum(parse_number(h) is not None for h in header if h)
    return numeric >= max(1, len(header) // 2)


def _names_headers(q_terms: set[str], table_text: str) -> bool:
    parsed = parse_markdown_table(table_text)
    return bool(parsed and q_terms & content_terms(" ".join(parsed[0])))


def _has_table_value(answer: str, table_text: str) -> bool:
    """Whether ``answer`` quotes a cell of the table (a word cell, or one of its numbers)."""
    low = answer.lower()
    values = table_values(table_text)
    if any(len(v) > 2 and parse_number(v) is None and v.lower() in low for v in values):
        return True
    ans_nums = _numbers(answer)
    return bool(ans_nums and ans_nums & set().union(*(_numbers(v) for v in values)))


class StructuredDataDetector(BaseDetector):
    """Tags table questions answered without the table's value, and split tables.

    Args:
        check_split: Tag tables split across chunks with parts missing from the
            context (aggregation questions) or parts without a header, for tables
            that lead the context or whose headers the question names. Default True.
        lead_rank: A table chunk at context rank 1, or up to this rank for a
            question that targets tabular data, must see one of its values in the
            answer. Default 2.
    """

    mode = "structured_data"
    suggestion = (
        "keep table rows and headers together when chunking, and answer table questions with cell lookup / aggregation"
    )

    def __init__(self, check_split: bool = True, lead_rank: int = 2) -> None:
        super().__init__()
        if not isinstance(check_split, bool):
            raise ValueError(f"check_split must be a bool, but got {check_split!r}")
        self.check_split = check_split
        if isinstance(lead_rank, bool) or not isinstance(lead_rank, int) or lead_rank < 1:
            raise ValueError(f"lead_rank must be an integer >= 1, but got {lead_rank!r}")
        self.lead_rank = lead_rank

    def detect(self, trace: Trace) -> list[FailureTag]:
        tables = [(i, h) for i, h in enumerate(trace.context, 1) if h.chunk.kind == "table"]
        if not tables:
            return []
        findings: list[tuple[float, str]] = []
        op = table_operation(trace.question)
        flags = trace.query_flags
        table_q = bool(flags["table_question"]) if "table_question" in flags else is_table_question(trace.question)
        q_terms = content_terms(trace.question)
        if self.check_split:
            relevant = [(i, h) for i, h in tables if i <= self.lead_rank or _names_headers(q_terms, h.chunk.text)]
            findings += self._split_findings(relevant, op)
        used_reader = bool(trace.generation is not None and trace.generation.meta.get("table_answer"))
        if not used_reader:
            findings += self._answer_findings(trace, tables, op)
            if not findings:
                findings += self._lead_table(trace, tables, table_q)
        if not findings:
            return []
        findings.sort(key=lambda f: -f[0])
        return [self.tag(findings[0][0], [f for _, f in findings])]

    def _lead_table(self, trace: Trace, tables: list[tuple[int, Hit]], table_q: bool) -> list[tuple[float, str]]:
        """A table leads the context but the answer holds none of its values."""
        i, hit = tables[0]
        if i > self.lead_rank or (i > 1 and not table_q):
            return []
        if not table_q and not content_terms(trace.question) & content_terms(hit.chunk.text):
            return []  # a table that happens to lead the context but shares no word with the question
        what = "the system abstained" if abstained(trace) else "the answer holds none of its values"
        if not abstained(trace) and _has_table_value(answer_text(trace), hit.chunk.text):
            return []
        q = "a table question; " if table_q else ""
        return [(0.6, f"{q}table chunk {hit.chunk.id} is at context rank {i} but {what}")]

    def _split_findings(self, tables: list[tuple[int, Hit]], op: str | None) -> list[tuple[float, str]]:
        out: list[tuple[float, str]] = []
        groups: dict[tuple[str, str], dict[int, int]] = defaultdict(dict)
        totals: dict[tuple[str, str], int] = {}
        for i, hit in tables:
            meta = hit.chunk.metadata
            n = meta.get("table_parts")
            if isinstance(n, int) and n > 1 and isinstance(meta.get("table_part"), int):
                key = (hit.chunk.doc_id, str(meta.get("table_id", hit.chunk.section)))
                groups[key][meta["table_part"]] = i
                totals[key] = n
            if meta.get("table_part", 0) and _lacks_header(hit.chunk.text):
                out.append(
                    (0.6, f"table chunk {hit.chunk.id} (context [{i}]) is a continuation without its header row")
                )
        for key, parts in groups.items():
            n = totals[key]
            if len(parts) < n and op in _AGGREGATIONS:
                out.append(
                    (
                        0.7,
                        f"table in {key[0]} is split into {n} chunks and only part(s) {sorted(parts)} reached the context; "
                        f"a {op} over it needs all rows",
                    )
                )
        return out

    def _answer_findings(self, trace: Trace, tables: list[tuple[int, Hit]], op: str | None) -> list[tuple[float, str]]:
        expected = table_answer(trace.question, [(i, h.chunk.text) for i, h in tables])
        answer = answer_text(trace)
        if expected is not None:
            text, idx = expected
            if abstained(trace):
                return [(0.7, f"abstained, but table [{idx}] answers: '{text}'")]
            exp_nums = _numbers(text)
            ans_nums = _numbers(answer)
            cells = {
                c for c in table_values(trace.context[idx - 1].chunk.text) if len(c) > 2 and parse_number(c) is None
            }
            named = {c for c in cells if c.lower() in text.lower()}
            if (exp_nums and exp_nums & ans_nums) or (not exp_nums and any(c.lower() in answer.lower() for c in named)):
                return []
            if exp_nums and not ans_nums and any(c.lower() in answer.lower() for c in named):
                return []
            return [(0.75, f"table [{idx}] gives '{short(text, 80)}' but the answer says '{short(answer, 60)}'")]
        if abstained(trace) or op not in ("sum", "average"):
            return []  # "how many" / "maximum" are too common in prose questions to judge without the reader
        q_terms = content_terms(trace.question)
        relevant = []
        for i, hit in tables:
            parsed = parse_markdown_table(hit.chunk.text)
            if parsed and q_terms & content_terms(" ".join(parsed[0])):
                relevant.append((i, hit))
        if not relevant:
            return []
        values = set().union(*(table_values(h.chunk.text) for _, h in relevant))
        ans_nums = _numbers(answer)
        has_value = any(len(v) > 1 and v.lower() in answer.lower() for v in values) or bool(
            ans_nums & set().union(*(_numbers(v) for v in values))
        )
        if has_value:
            return []
        idx = ", ".join(f"[{i}]" for i, _ in relevant)
        return [
            (
                0.5,
                f"'{op}' question over table(s) {idx}; the answer holds no value from them and no table reader was used",
            )
        ]
