"""The default extractive generator: answer-bearing sentences, cited, nothing invented.

It scores every sentence of the context passages against the question (cosine
on the embedder plus a small lexical-overlap term), keeps the best few that
clear a support floor, and returns them verbatim in context order with inline
citations ``[n]``. Table questions are answered from cells (``rag.tables``).
Deterministic: the same question and context give the same answer.
"""

from __future__ import annotations

import math
import re
import threading
from collections import OrderedDict

import numpy as np

from rag.chunking import chunk_sentences
from rag.protocols import Embedder
from rag.types import Generation, Hit

_WORD = re.compile(r"[A-Za-z0-9]+")
_STOP = frozenset(
    "a an the of to in on for and or is are was were be been do does did what which who whom whose when where why how "
    "with by from at as that this these those it its there their they them i you we he she his her our your not no "
    "can could should would will shall may might must about into than then so if any all some".split()
)
NOT_FOUND = "I could not find this in the knowledge base."


def is_heading(sentence: str) -> bool:
    """A title or heading line: short, no closing punctuation (never an answer on its own)."""
    s = sentence.strip().lstrip("#").strip()
    return (len(s.split()) < 4 or not s.endswith((".", "!", "?", ")", '"'))) and len(s.split()) <= 14


def content_words(text: str) -> set[str]:
    return {w[:6] for w in (t.lower() for t in _WORD.findall(text)) if w not in _STOP and len(w) > 1}


class SentenceCache:
    """Sentences and their embeddings per chunk id (LRU), so repeated chunks cost nothing."""

    def __init__(self, embedder: Embedder, maxsize: int = 20000) -> None:
        self.embedder = embedder
        self.maxsize = maxsize
        self._data: OrderedDict[str, tuple[list[str], np.ndarray]] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(h: Hit) -> str:
        # by content too: one chunk id can name different texts in different collections
        return f"{h.chunk.id}\x00{hash(h.chunk.text)}"

    def get(self, hits: list[Hit], known: list[tuple[list[str], np.ndarray] | None] | None = None
            ) -> list[tuple[list[str], np.ndarray]]:
        """(sentences, vectors) per hit; ``known`` gives entries precomputed elsewhere (None where not)."""
        if known is not None and all(k is not None for k in known):
            return known  # type: ignore[return-value]
        missing: dict[str, list[str]] = {}
        with self._lock:
            for i, h in enumerate(hits):
                k = self.key(h)
                if (known is None or known[i] is None) and k not in self._data and k not in missing:
                    missing[k] = chunk_sentences(h.chunk.text)
        if missing:
            flat = [s for sents in missing.values() for s in sents]
            vecs = self.embedder.encode(flat)
            pos = 0
            with self._lock:
                for cid, sents in missing.items():
                    self._data[cid] = (sents, vecs[pos:pos + len(sents)])
                    pos += len(sents)
                while len(self._data) > self.maxsize:
                    self._data.popitem(last=False)
        with self._lock:
            out = []
            for i, h in enumerate(hits):
                item = known[i] if known is not None else None
                if item is None:
                    item = self._data.get(self.key(h))
                if item is None:  # evicted in between: recompute alone
                    sents = chunk_sentences(h.chunk.text)
                    item = (sents, self.embedder.encode(sents))
                out.append(item)
            return out


class ExtractiveGenerator:
    """Generator role: picks and cites answer-bearing sentences of the context.

    Args:
        embedder: the collection's embedder (for sentence scores).
        max_sentences: most sentences in an answer.
        min_support: a sentence scoring below this never enters the answer.
        margin: sentences within this of the best one may join it.
        max_chars: answer length budget.
    """

    name = "extractive"

    def __init__(self, embedder: Embedder, *, max_sentences: int = 3, min_support: float = 0.15, margin: float = 0.1,
                 max_chars: int = 600, lexical_weight: float = 0.6, type_bonus: float = 0.1) -> None:
        if max_sentences <= 0:
            raise ValueError(f"max_sentences must be > 0, but got {max_sentences}")
        self.embedder = embedder
        self.max_sentences = max_sentences
        self.min_support = min_support
        self.margin = margin
        self.max_chars = max_chars
        self.lexical_weight = lexical_weight
        self.type_bonus = type_bonus
        self.cache = SentenceCache(embedder)

    def warm_up(self) -> None:
        self.embedder.warm_up()

    def score_sentences(self, question: str, context: list[Hit], query_vec: np.ndarray | None = None,
                        sentences: list | None = None):
        """[(combined score, cosine, ctx index 1-based, sentence position, sentence, overlap)] for every context sentence.

        ``sentences``: per passage, its (sentences, vectors) precomputed at ingest, or None.
        """
        if query_vec is None:
            query_vec = self.embedder.encode([question])[0]
        from rag.query_analysis import answer_has_type, expected_answer_type

        qwords = content_words(question)
        atype = expected_answer_type(question)
        # every sentence of a passage is about the passage's subject: its title's words count as present in
        # each one, so "The course record was set by X" is not outranked by the one sentence naming the subject
        titles = [content_words(h.chunk.title or "") for h in context]
        items = [(ci, si, s, vecs[si] @ query_vec, content_words(s) | titles[ci - 1])
                 for ci, (sents, vecs) in enumerate(self.cache.get(context, sentences), 1) for si, s in enumerate(sents)]
        # IDF over the context's own sentences: words every passage repeats (the product
        # name, the company) say little about which sentence answers
        n = len(items)
        df = {w: sum(1 for it in items if w in it[4]) for w in qwords}
        idf = {w: math.log(1 + n / (1 + df[w])) for w in qwords}
        total = sum(idf.values()) or 1.0
        out = []
        for ci, si, s, cos, words in items:
            overlap = sum(idf[w] for w in qwords & words) / total
            bonus = self.type_bonus if atype and atype != "yesno" and answer_has_type(s, atype) else 0.0
            out.append((float(cos) + self.lexical_weight * overlap + bonus, float(cos), ci, si, s, overlap))
        return out

    def generate(self, question: str, context: list[Hit], query_vec: np.ndarray | None = None,
                 sentences: list | None = None) -> Generation:
        if not context:
            return Generation(text=NOT_FOUND, abstained=True, abstain_reason="no passages were retrieved")
        table = self._table_answer(question, context)
        if table is not None:
            return table
        scored = self.score_sentences(question, context, query_vec, sentences)
        if not scored:
            return Generation(text=NOT_FOUND, abstained=True, abstain_reason="the passages hold no sentences")
        ranked = sorted(scored, key=lambda t: (-t[0], t[2], t[3]))
        best = ranked[0]
        if best[1] < self.min_support:
            return Generation(text=NOT_FOUND, abstained=True,
                              abstain_reason=f"no sentence in the passages answers the question (best support {best[1]:.2f})",
                              meta={"best_support": best[1], "best_overlap": best[5]})
        picked, seen, chars = [], set(), 0
        ranked = [t for t in ranked if not is_heading(t[4])] or ranked
        best = ranked[0]
        for t in ranked:
            if len(picked) >= self.max_sentences or t[0] < best[0] - self.margin or t[1] < self.min_support:
                break
            key = t[4].lower()
            if key in seen or chars + len(t[4]) > self.max_chars and picked:
                continue
            seen.add(key)
            picked.append(t)
            chars += len(t[4])
        picked.sort(key=lambda t: (t[2], t[3]))
        fmt = self._format(question)
        if fmt and fmt.get("format") in ("list", "bullets") :
            text = "\n".join(f"- {t[4]} [{t[2]}]" for t in picked)
        else:
            text = " ".join(f"{t[4]} [{t[2]}]" for t in picked)
        return Generation(
            text=text,
            cited=sorted({t[2] for t in picked}),
            sentences=[(t[4], t[2], t[1]) for t in picked],
            meta={"best_support": best[1], "best_overlap": best[5], "generator": self.name},
        )

    @staticmethod
    def _format(question: str) -> dict | None:
        from rag.query_analysis import requested_format

        return requested_format(question)

    @staticmethod
    def _table_answer(question: str, context: list[Hit]) -> Generation | None:
        tables = [(i, h.chunk.text) for i, h in enumerate(context, 1) if h.chunk.kind == "table"]
        if not tables:
            return None
        from rag.query_analysis import is_table_question
        from rag.tables import table_answer

        # a table among the top passages, or a question that reads like a table query
        if not (is_table_question(question) or any(i <= 2 for i, _ in tables)):
            return None
        found = table_answer(question, tables)
        if found is None:
            return None
        text, idx = found
        return Generation(text=f"{text} [{idx}]", cited=[idx], sentences=[(text, idx, 1.0)],
                          meta={"table_answer": True, "generator": "extractive-table"})
