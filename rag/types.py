"""Typed records that flow through the pipeline.

Everything the stages exchange is one of these dataclasses: connectors yield
:class:`Document`, chunking produces :class:`Chunk`, retrieval returns
:class:`Hit`, the pipeline returns :class:`Answer` with :class:`Citation` and
:class:`FailureTag`. A :class:`Trace` records what every stage produced for one
question, so diagnostics read it instead of re-running anything.
"""

from __future__ import annotations

import hashlib
from dataclasses import asdict, dataclass, field
from typing import Any, Literal

FAILURE_MODES: tuple[str, ...] = (
    "missing_content",
    "missed_top_ranked",
    "not_extracted",
    "wrong_format",
    "incomplete",
    "incorrect_specificity",
    "security",
    "data_quality",
    "structured_data",
    "ranking_consolidation",
)

ChunkKind = Literal["text", "table"]


def content_hash(text: str) -> str:
    """Stable hash of a document's text (sha256, hex, first 16 bytes)."""
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


@dataclass(frozen=True)
class Document:
    """One source document, as a connector yields it."""

    id: str
    text: str
    title: str = ""
    source: str = ""
    metadata: dict[str, Any] = field(default_factory=dict)
    hash: str = ""

    def __post_init__(self) -> None:
        if not self.id:
            raise ValueError("Document.id must be a non-empty string")
        if not self.hash:
            object.__setattr__(self, "hash", content_hash(self.title + "\x00" + self.text))


@dataclass(frozen=True)
class Skipped:
    """A source a connector could not read, with the reason. Ingest goes on."""

    source: str
    reason: str


@dataclass
class Chunk:
    """A retrievable piece of a document.

    ``id`` is ``"{doc_id}#{position}"``; ``section`` is the heading path
    (Markdown) or empty; ``kind`` is ``"table"`` for table chunks, whose text
    is a Markdown table that starts with its header row.
    """

    id: str
    doc_id: str
    text: str
    position: int
    section: str = ""
    title: str = ""
    source: str = ""
    kind: ChunkKind = "text"
    metadata: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Chunk:
        return cls(**d)


@dataclass
class Hit:
    """A chunk with the score it got from one stage.

    ``scores`` and ``ranks`` keep what every stage said about the chunk
    (keys ``dense``, ``lexical``, ``fused``, ``rerank``; ranks are 1-based).
    """

    chunk: Chunk
    score: float
    scores: dict[str, float] = field(default_factory=dict)
    ranks: dict[str, int] = field(default_factory=dict)


@dataclass
class Citation:
    n: int
    doc_id: str
    chunk_id: str
    source: str
    score: float
    text: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class FailureTag:
    """One failure mode a query suffered (see FAILURE_MODES.md)."""

    mode: str
    confidence: float
    evidence: str
    suggestion: str

    def __post_init__(self) -> None:
        if self.mode not in FAILURE_MODES:
            raise ValueError(f"unknown failure mode {self.mode!r}; expected one of {FAILURE_MODES}")
        self.confidence = float(max(0.0, min(1.0, self.confidence)))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Generation:
    """What a generator returns: the answer text and which context passages it cites.

    ``cited`` holds 1-based indices into the context list given to the generator.
    ``sentences`` pairs each answer sentence with the context index that supports it
    and the support score (None where no support was measured).
    """

    text: str
    cited: list[int] = field(default_factory=list)
    sentences: list[tuple[str, int | None, float | None]] = field(default_factory=list)
    abstained: bool = False
    abstain_reason: str | None = None
    meta: dict[str, Any] = field(default_factory=dict)


@dataclass
class Answer:
    """The pipeline's response to one question. Abstaining is a normal value."""

    question: str
    answer: str
    abstained: bool
    abstain_reason: str | None = None
    citations: list[Citation] = field(default_factory=list)
    diagnostics: list[FailureTag] = field(default_factory=list)
    timings_ms: dict[str, float] = field(default_factory=dict)
    scores: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "answer": self.answer,
            "abstained": self.abstained,
            "abstain_reason": self.abstain_reason,
            "citations": [c.to_dict() for c in self.citations],
            "diagnostics": [t.to_dict() for t in self.diagnostics],
            "timings_ms": {k: round(v, 2) for k, v in self.timings_ms.items()},
            "scores": {k: round(float(v), 4) for k, v in self.scores.items()},
        }


@dataclass
class DocRecord:
    """What ingestion recorded about a document (kept in the collection manifest)."""

    doc_id: str
    hash: str
    source: str = ""
    title: str = ""
    n_chunks: int = 0
    chars: int = 0
    ingested_at: float = 0.0
    version_of: str | None = None  # another doc id this one is a version of
    issues: list[str] = field(default_factory=list)  # data-quality findings


@dataclass
class Trace:
    """Everything one question produced, stage by stage. Diagnostics read only this."""

    question: str
    dense: list[Hit] = field(default_factory=list)
    lexical: list[Hit] = field(default_factory=list)
    fused: list[Hit] = field(default_factory=list)
    reranked: list[Hit] = field(default_factory=list)
    context: list[Hit] = field(default_factory=list)
    dropped: list[Hit] = field(default_factory=list)  # relevant candidates cut when the context was assembled
    quarantined: list[tuple[Hit, str]] = field(default_factory=list)  # (hit, reason)
    generation: Generation | None = None
    answer: Answer | None = None
    doc_records: dict[str, DocRecord] = field(default_factory=dict)
    query_flags: dict[str, Any] = field(default_factory=dict)  # e.g. injection found in the query
    evidence_score: float = 0.0
    threshold: float = 0.0
