"""Labelled question files (JSONL): ``{"id", "question", "answers": [str], "gold_doc_ids": [str]}``.

Empty ``answers`` and ``gold_doc_ids``: not answerable from the corpus (the right
response is an abstention). Empty ``answers`` with gold ids: retrieval-only.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class LabelledQuestion:
    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    gold_doc_ids: list[str] = field(default_factory=list)

    @property
    def answerable(self) -> bool:
        return bool(self.answers or self.gold_doc_ids)


def load_labelled(path: str | Path) -> list[LabelledQuestion]:
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"question file not found: {path}")
    out = []
    with path.open(encoding="utf-8") as f:
        for n, line in enumerate(f, 1):
            if not line.strip():
                continue
            try:
                row = json.loads(line)
                out.append(LabelledQuestion(id=str(row.get("id", n)), question=str(row["question"]),
                                            answers=[str(a) for a in row.get("answers") or []],
                                            gold_doc_ids=[str(g) for g in row.get("gold_doc_ids") or []]))
            except (json.JSONDecodeError, KeyError, TypeError) as e:
                raise ValueError(f"{path}:{n}: not a labelled question ({e})") from e
    return out
