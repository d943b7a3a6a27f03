"""The one place the stages are wired: question → Answer, with a Trace of every stage.

    question ─► guard (length, injection) ─► embed ─► dense ┐
                                                    lexical ┴► RRF ─► quarantine ─► rerank
      ─► context (dedupe, budget) ─► generate ─► abstain? ─► redact ─► diagnose ─► Answer
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass, field

import numpy as np

from rag.abstain import Abstainer, features
from rag.errors import GeneratorUnavailable, QueryError
from rag.generate import NOT_FOUND, ExtractiveGenerator
from rag.protocols import Detector, Embedder, Generator, Reranker
from rag.retrieval import HybridRetriever, RetrievalResult
from rag.store import Snapshot
from rag.types import Answer, Citation, Generation, Hit, Trace

log = logging.getLogger(__name__)


@dataclass
class PipelineConfig:
    top_k: int = 5
    rerank_k: int = 20
    context_chars: int = 6000
    max_question_chars: int = 2000
    diagnostics: bool = True
    redact: bool = True

    def __post_init__(self) -> None:
        for name in ("top_k", "rerank_k", "context_chars", "max_question_chars"):
            if getattr(self, name) <= 0:
                raise ValueError(f"{name} must be > 0, but got {getattr(self, name)}")


@dataclass
class Pipeline:
    """Answers questions over one immutable collection snapshot."""

    snapshot: Snapshot
    embedder: Embedder
    retriever: HybridRetriever
    reranker: Reranker
    generator: Generator
    abstainer: Abstainer = field(default_factory=Abstainer)
    detectors: list[Detector] | None = None
    config: PipelineConfig = field(default_factory=PipelineConfig)
    fallback: Generator | None = None  # used when an LLM backend is down
    query_embedder: Embedder | None = None  # questions only (e.g. an int8 copy of ``embedder``); default ``embedder``

    def __post_init__(self) -> None:
        if self.detectors is None and self.config.diagnostics:
            from rag.diagnostics import default_detectors

            self.detectors = default_detectors()

    # ------------------------------------------------------------------ public
    def answer(self, question: str, top_k: int | None = None) -> Answer:
        return self.run(question, top_k).answer  # type: ignore[return-value]

    def run(self, question: str, top_k: int | None = None) -> Trace:
        return self.run_many([question], top_k)[0]

    def run_many(self, questions: list[str], top_k: int | None = None) -> list[Trace]:
        """Answer several questions; the query embeddings are computed in one batch."""
        t0 = time.perf_counter()
        qs = [self.check_question(q) for q in questions]
        k = top_k or self.config.top_k
        if k <= 0 or k > 100:
            raise QueryError(f"top_k must be between 1 and 100, got {k}")
        vecs = (self.query_embedder or self.embedder).encode(qs)
        results = self.retriever.retrieve_many(self.snapshot, qs, vecs)
        t_ret = (time.perf_counter() - t0) * 1000 / max(len(qs), 1)
        return [self._finish(q, vecs[i], results[i], k, t_ret) for i, q in enumerate(qs)]

    def check_question(self, question: str) -> str:
        if not isinstance(question, str):
            raise QueryError("the question must be text")
        q = " ".join(question.split())
        if not q:
            raise QueryError("the question is empty")
        if len(q) > self.config.max_question_chars:
            raise QueryError(f"the question is too long ({len(q)} characters; the limit is {self.config.max_question_chars})")
        return q

    # ----------------------------------------------------------------- stages
    def _finish(self, q: str, qvec: np.ndarray, res: RetrievalResult, top_k: int, t_ret: float) -> Trace:
        from rag.security import is_injection_query

        t1 = time.perf_counter()
        trace = Trace(question=q, dense=res.dense, lexical=res.lexical, fused=res.fused, threshold=self.abstainer.threshold)
        trace.doc_records = {h.chunk.doc_id: self.snapshot.docs[h.chunk.doc_id] for h in res.fused
                             if h.chunk.doc_id in self.snapshot.docs}
        self._analyse_query(trace)
        injection = is_injection_query(q)
        trace.query_flags["injection"] = injection
        timings = {"retrieve": t_ret}
        if injection:
            gen = Generation(text="This request was refused: it reads as an attempt to override the assistant's instructions.",
                             abstained=True, abstain_reason=f"query refused: {injection}")
            return self._complete(trace, gen, timings, t1)

        # quarantine: chunks that carry instructions to a model never reach the generator
        candidates = []
        for h in res.fused:
            reason = h.chunk.metadata.get("quarantine")
            if reason:
                trace.quarantined.append((h, reason))
            else:
                candidates.append(h)
        pool = candidates[: self.config.rerank_k]
        trace.reranked = self.reranker.rerank(q, [Hit(h.chunk, h.score, dict(h.scores), dict(h.ranks)) for h in pool],
                                              max(top_k, min(len(pool), self.config.rerank_k)))
        timings["rerank"] = (time.perf_counter() - t1) * 1000
        trace.context, trace.dropped = self._assemble(trace.reranked, top_k)

        t2 = time.perf_counter()
        gen = self._generate(q, trace.context, qvec)
        timings["generate"] = (time.perf_counter() - t2) * 1000

        # evidence: reader support plus retrieval, compared with the calibrated threshold
        dense_scores = [h.scores["dense"] for h in res.dense[:2]]
        support = max((s for _, _, s in gen.sentences if s is not None), default=gen.meta.get("best_support", 0.0))
        rerank_top = trace.context[0].scores.get("rerank") if trace.context and getattr(self.reranker, "name", "none") != "none" else None
        feats = features(dense_scores[0] if dense_scores else 0.0, support or 0.0, rerank_top,
                         dense_scores[0] - dense_scores[1] if len(dense_scores) > 1 else 0.0,
                         overlap_top=gen.meta.get("best_overlap", 1.0 if gen.meta.get("table_answer") else 0.0),
                         lexical_top=res.lexical[0].scores["lexical"] if res.lexical else 0.0)
        abstain, ev = self.abstainer.should_abstain(feats)
        trace.evidence_score = ev
        trace.query_flags["evidence_features"] = feats
        if gen.meta.get("table_answer"):
            abstain = False  # a value read from a retrieved table is evidence in itself
        if abstain and not gen.abstained:
            gen = Generation(text=NOT_FOUND, abstained=True, sentences=gen.sentences, meta={**gen.meta, "withheld": gen.text},
                             abstain_reason=f"the evidence does not clear the threshold (score {ev:.2f} < {self.abstainer.threshold:.2f})")
        return self._complete(trace, gen, timings, t1)

    def _analyse_query(self, trace: Trace) -> None:
        from rag import query_analysis as qa

        q = trace.question
        trace.query_flags.update({
            "format": qa.requested_format(q),
            "answer_type": qa.expected_answer_type(q),
            "parts": qa.split_parts(q),
            "table_question": qa.is_table_question(q),
        })

    def _assemble(self, reranked: list[Hit], top_k: int) -> tuple[list[Hit], list[Hit]]:
        """Top-k passages: exact duplicates removed, an older version of a document left out
        when its newer version was retrieved too, within the character budget."""
        context, dropped, seen, used = [], [], set(), 0
        retrieved_docs = {h.chunk.doc_id for h in reranked}
        docs = self.snapshot.docs
        for h in reranked:
            key = " ".join(h.chunk.text.lower().split())
            rec = docs.get(h.chunk.doc_id)
            if key in seen or (rec is not None and rec.version_of in retrieved_docs):
                dropped.append(h)
                continue
            if len(context) >= top_k:
                break
            if context and used + len(h.chunk.text) > self.config.context_chars:
                dropped.append(h)
                continue
            seen.add(key)
            context.append(h)
            used += len(h.chunk.text)
        return context, dropped

    def _extractive(self, gen: ExtractiveGenerator, q: str, context: list[Hit], qvec: np.ndarray) -> Generation:
        same_space = gen.embedder is self.embedder  # else it embeds the question itself
        model = gen.embedder.model_id
        known = [self.snapshot.chunk_sentences(h.chunk, model) for h in context]
        return gen.generate(q, context, query_vec=qvec if same_space else None, sentences=known)

    def _generate(self, q: str, context: list[Hit], qvec: np.ndarray) -> Generation:
        try:
            if isinstance(self.generator, ExtractiveGenerator):
                return self._extractive(self.generator, q, context, qvec)
            return self.generator.generate(q, context)
        except GeneratorUnavailable as e:
            if self.fallback is None:
                raise
            log.warning("generator unavailable, falling back to extractive: %s", e)
            gen = self._extractive(self.fallback, q, context, qvec) if isinstance(self.fallback, ExtractiveGenerator) \
                else self.fallback.generate(q, context)
            gen.meta["fallback"] = f"LLM unavailable ({e}); extractive answer given instead"
            return gen

    def _complete(self, trace: Trace, gen: Generation, timings: dict[str, float], t1: float) -> Trace:
        from rag.security import redact

        text = gen.text
        if self.config.redact and not gen.abstained:
            text, kinds = redact(text)
            trace.query_flags["redacted"] = kinds
        citations = [] if gen.abstained else [
            Citation(n=i, doc_id=trace.context[i - 1].chunk.doc_id, chunk_id=trace.context[i - 1].chunk.id,
                     source=trace.context[i - 1].chunk.source, score=round(float(trace.context[i - 1].score), 4),
                     text=trace.context[i - 1].chunk.text)
            for i in gen.cited if 0 < i <= len(trace.context)
        ]
        trace.generation = gen
        ans = Answer(question=trace.question, answer=text, abstained=gen.abstained, abstain_reason=gen.abstain_reason,
                     citations=citations, timings_ms=timings,
                     scores={"evidence": trace.evidence_score, "threshold": trace.threshold})
        if gen.meta.get("fallback"):
            ans.scores["fallback"] = 1.0
        trace.answer = ans
        if self.config.diagnostics and self.detectors:
            t3 = time.perf_counter()
            from rag.diagnostics import diagnose

            ans.diagnostics = diagnose(trace, self.detectors)
            timings["diagnose"] = (time.perf_counter() - t3) * 1000
        timings["total"] = timings["retrieve"] + (time.perf_counter() - t1) * 1000
        return trace
