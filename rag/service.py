"""The service: collections, models loaded once, a pipeline per collection.

The CLI and the API each hold one ``RAGService``. Models (embedder, reranker,
generator) load once in ``warm_up``; a collection's pipeline is rebuilt only
when its snapshot changes, and swapping it is a single reference assignment,
so readers never see half of an ingest.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.abstain import Abstainer
from rag.batching import MicroBatcher
from rag.chunking import DocumentChunker
from rag.embedding import SentenceTransformerEmbedder
from rag.errors import CollectionNotFound, IngestError
from rag.generate import ExtractiveGenerator
from rag.ingest import IngestReport, Progress, ingest, reembed, repair
from rag.pipeline import Pipeline, PipelineConfig
from rag.protocols import Generator, Reranker
from rag.rerank import CrossEncoderReranker, PassthroughReranker
from rag.retrieval import HybridRetriever, mrr_at_10, rrf_fuse
from rag.store import Store, check_name
from rag.types import Answer, Document, Skipped, Trace

log = logging.getLogger(__name__)


@dataclass
class ServiceConfig:
    """Plain values the service is built from (the CLI and API fill it from settings)."""

    data_dir: Path
    embedding_model: str = ""
    reranker_model: str = ""
    device: str = "auto"
    generator: str = "extractive"
    llm: dict[str, Any] = field(default_factory=dict)
    chunk_tokens: int = 256
    chunk_overlap: int = 30
    max_file_mb: float = 20.0
    top_k: int = 5
    candidate_k: int = 50
    rerank_k: int = 20
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    rrf_k: int = 60
    context_chars: int = 6000
    quantization: str = "none"
    max_question_chars: int = 2000
    sentence_vectors: bool = True  # precompute sentence vectors at ingest (faster answers, slower ingest)
    query_batch: int = 0  # > 0: concurrent ask() calls are answered together, up to this many at once
    query_batch_wait_ms: float = 2.0
    query_encoder: str = "torch"  # "onnx-int8": questions through an int8 ONNX copy of the embedder
    ingest_worker: str = "thread"  # "process": ingests run in a child process at lower CPU priority
    ingest_nice: int = 10  # the child's nice increment (0-19)


class RAGService:
    def __init__(self, config: ServiceConfig) -> None:
        self.config = config
        self.store = Store(config.data_dir)
        self.embedder = SentenceTransformerEmbedder(config.embedding_model or None, device=config.device)
        self._generator: Generator | None = None
        self._extractive: ExtractiveGenerator | None = None
        self._pipelines: dict[str, tuple[str, Pipeline]] = {}
        self._rerankers: dict[str, Reranker] = {}
        self._lock = threading.Lock()
        self._chunker: DocumentChunker | None = None
        self._embedders: dict[str, SentenceTransformerEmbedder] = {}
        self._query_encoders: dict[str, Any] = {}
        self._batcher: MicroBatcher | None = None
        self._ingest_worker = None
        if config.ingest_worker == "process":
            from rag.ingest_worker import IngestWorker

            self._ingest_worker = IngestWorker(config, nice=config.ingest_nice)
        elif config.ingest_worker != "thread":
            raise ValueError(f"ingest_worker must be 'thread' or 'process', not {config.ingest_worker!r}")
        if config.query_batch > 0:
            self._batcher = MicroBatcher(self._answer_batch, max_batch=config.query_batch,
                                         max_wait_ms=config.query_batch_wait_ms)
        self.ready = False

    def embedder_for(self, name: str) -> SentenceTransformerEmbedder:
        """The collection's fine-tuned embedder when ``rag finetune --apply`` set one
        (and RAG_EMBEDDING_MODEL does not override it); the service's embedder otherwise."""
        path = "" if self.config.embedding_model else self.store.read_settings(name).get("embedding_model", "")
        if not path:
            return self.embedder
        if path not in self._embedders:
            e = SentenceTransformerEmbedder(path, device=self.config.device)
            e.warm_up()
            self._embedders[path] = e
        return self._embedders[path]

    # ------------------------------------------------------------- models
    def warm_up(self) -> None:
        self.embedder.warm_up()
        self.extractive()
        self.generator()
        if self._ingest_worker is not None:
            try:
                self._ingest_worker.warm_up()
            except IngestError as e:  # e.g. an unguarded __main__ script that spawn cannot re-import
                log.warning("the ingest worker process could not start (%s); ingests run in this process", e)
                self._ingest_worker.close()
                self._ingest_worker = None
        self.ready = True

    def extractive(self) -> ExtractiveGenerator:
        if self._extractive is None:
            self._extractive = ExtractiveGenerator(self.embedder)
        return self._extractive

    def generator(self) -> Generator:
        if self._generator is None:
            if self.config.generator == "extractive":
                self._generator = self.extractive()
            else:
                from rag.llm import make_llm_generator

                self._generator = make_llm_generator(self.config.generator, self.config.llm, embedder=self.embedder)
            self._generator.warm_up()
        return self._generator

    def chunker(self) -> DocumentChunker:
        if self._chunker is None:
            self.embedder.warm_up()
            self._chunker = DocumentChunker(self.config.chunk_tokens, self.config.chunk_overlap,
                                            tokenize=self.embedder.tokenizer.tokenize,
                                            max_table_tokens=max(self.config.chunk_tokens, 512))
        return self._chunker

    def reranker(self, name: str, settings: dict[str, Any]) -> Reranker:
        path = self.config.reranker_model or settings.get("reranker") or ""
        if not path:
            return PassthroughReranker()
        if path not in self._rerankers:
            r = CrossEncoderReranker(path, device=self.config.device, max_candidates=self.config.rerank_k)
            r.warm_up()
            self._rerankers[path] = r
        return self._rerankers[path]

    # ---------------------------------------------------------- pipelines
    def query_encoder_for(self, embedder: SentenceTransformerEmbedder):
        """The encoder for questions: ``None`` (the embedder itself), or its int8 ONNX copy
        when ``query_encoder`` is ``onnx-int8``; a copy that cannot be built is logged and skipped."""
        if self.config.query_encoder in ("", "torch"):
            return None
        if self.config.query_encoder != "onnx-int8":
            raise ValueError(f"query_encoder must be 'torch' or 'onnx-int8', not {self.config.query_encoder!r}")
        key = str(embedder.path)
        if key not in self._query_encoders:
            from rag.onnx_encoder import OnnxInt8Encoder

            enc = OnnxInt8Encoder(embedder, self.config.data_dir / ".cache" / "onnx")
            try:
                enc.warm_up()
            except Exception as e:  # noqa: BLE001 - the fp32 encoder still answers
                log.warning("int8 query encoder unavailable, questions use the fp32 embedder: %s", e)
                enc = None
            self._query_encoders[key] = enc
        return self._query_encoders[key]

    def pipeline(self, name: str) -> Pipeline:
        """The live pipeline of a collection, reloaded only when its snapshot changed."""
        check_name(name)
        cur = self.store.current_path(name).name
        cached = self._pipelines.get(name)
        if cached and cached[0] == cur:
            return cached[1]
        if cached and not self._lock.acquire(blocking=False):
            return cached[1]  # a swap is under way: keep serving the previous snapshot meanwhile
        if cached:
            self._lock.release()
        with self._lock:
            cached = self._pipelines.get(name)
            if cached and cached[0] == cur:
                return cached[1]
            snap = self.store.load(name, model_id=self.embedder_for(name).model_id)
            p = self._build(name, snap)
            self._pipelines[name] = (snap.path.name, p)
            return p

    def _build(self, name: str, snap) -> Pipeline:
        embedder = self.embedder_for(name)
        embedder.warm_up()
        settings = self.store.read_settings(name)
        fusion = settings.get("fusion", {})
        c = self.config
        return Pipeline(
            snapshot=snap,
            embedder=embedder,
            query_embedder=self.query_encoder_for(embedder),
            retriever=HybridRetriever(c.candidate_k, fusion.get("dense_weight", c.dense_weight),
                                      fusion.get("lexical_weight", c.lexical_weight), c.rrf_k),
            reranker=self.reranker(name, settings),
            generator=self.generator(),
            abstainer=Abstainer.from_dict(settings.get("abstention")),
            config=PipelineConfig(top_k=c.top_k, rerank_k=c.rerank_k, context_chars=c.context_chars,
                                  max_question_chars=c.max_question_chars),
            fallback=self.extractive() if c.generator != "extractive" else None,
        )

    def ask(self, name: str, question: str, top_k: int | None = None) -> Answer:
        """Answer one question; with ``query_batch`` set, concurrent callers share one batched pass."""
        if self._batcher is None:
            return self.pipeline(name).answer(question, top_k)
        return self._batcher((name, top_k), question)

    def _answer_batch(self, key, questions: list[str]) -> list[Answer]:
        name, top_k = key
        return [t.answer for t in self.pipeline(name).run_many(questions, top_k)]  # type: ignore[misc]

    def close(self) -> None:
        if self._batcher is not None:
            self._batcher.close()
        if self._ingest_worker is not None:
            self._ingest_worker.close()

    def trace(self, name: str, question: str, top_k: int | None = None) -> Trace:
        return self.pipeline(name).run(question, top_k)

    # -------------------------------------------------------- collections
    def collections(self) -> list[dict[str, Any]]:
        return self.store.list()

    def ingest(self, name: str, items: Iterable[Document | Skipped], *, delete_ids: Iterable[str] = (),
               rebuild: bool = False, progress: Progress | None = None) -> IngestReport:
        """Apply documents (and deletions) to a collection and serve the new snapshot.

        With ``ingest_worker="process"`` (and no ``progress`` callback) the work runs in the
        low-priority child process and this process only loads the committed snapshot."""
        check_name(name)
        if self._ingest_worker is None or progress is not None:
            report, snap = self.ingest_here(name, items, delete_ids=delete_ids, rebuild=rebuild, progress=progress)
        else:
            report = self._ingest_worker.ingest(name, items, delete_ids=delete_ids, rebuild=rebuild)
            snap = self.store.load(name, model_id=self.embedder_for(name).model_id) if report.changed else None
        if snap is not None and snap.path is not None:
            with self._lock:
                self._pipelines[name] = (snap.path.name, self._build(name, snap))
        return report

    def ingest_here(self, name: str, items: Iterable[Document | Skipped], *, delete_ids: Iterable[str] = (),
                    rebuild: bool = False, progress: Progress | None = None):
        """:func:`rag.ingest.ingest` in this process with the service's models; returns (report, snapshot)."""
        check_name(name)
        embedder = self.embedder_for(name) if self.store.exists(name) else self.embedder
        return ingest(self.store, name, items, embedder, self.chunker(), delete_ids=delete_ids,
                      rebuild=rebuild, quantization=self.config.quantization, progress=progress,
                      sentence_embedder=self.extractive().embedder if self.config.sentence_vectors else None)

    def ingest_paths(self, name: str, paths: list[str | Path], **kw) -> IngestReport:
        from connectors import FilesystemConnector

        return self.ingest(name, FilesystemConnector(paths, max_file_mb=self.config.max_file_mb).load(), **kw)

    def delete_documents(self, name: str, doc_ids: list[str]) -> IngestReport:
        if not self.store.exists(name):
            raise CollectionNotFound(f"collection {name!r} not found")
        return self.ingest(name, [], delete_ids=doc_ids)

    def delete_collection(self, name: str) -> None:
        self.store.delete_collection(name)
        self._pipelines.pop(name, None)

    def repair(self, name: str):
        snap = repair(self.store, name, self.embedder_for(name))
        self._pipelines.pop(name, None)
        return snap

    def reembed(self, name: str, progress: Progress | None = None):
        snap = reembed(self.store, name, self.embedder, progress=progress)
        self._pipelines.pop(name, None)
        return snap

    # -------------------------------------------------------- calibration
    def calibrate(self, name: str, questions: list, *, tune_fusion: bool = True,
                  progress: Callable[[int, int], None] | None = None) -> dict[str, Any]:
        """Fit the abstention threshold (and, with gold documents, the fusion weights) on labelled questions."""
        from rag.abstain import Abstainer

        pipe = self.pipeline(name)
        report: dict[str, Any] = {"collection": name, "questions": len(questions)}
        if tune_fusion:
            retrieval_qs = [q for q in questions if q.gold_doc_ids]
            if len(retrieval_qs) >= 10:
                report["fusion"] = self._tune_fusion(name, pipe, retrieval_qs)
                pipe = self.pipeline(name) if report["fusion"].get("changed") else pipe
        feats, labels = [], []
        step = 32
        for s in range(0, len(questions), step):
            batch = questions[s:s + step]
            for q, tr in zip(batch, pipe.run_many([q.question for q in batch])):
                f = tr.query_flags.get("evidence_features")
                if f is None:  # refused query: nothing to learn from
                    continue
                feats.append(f)
                labels.append(q.answerable)
            if progress:
                progress(min(s + step, len(questions)), len(questions))
        use_rerank = getattr(pipe.reranker, "name", "none") != "none"
        model, fit = Abstainer.fit(feats, labels, use_rerank=use_rerank)
        self.store.update_settings(name, abstention=model.to_dict())
        self._pipelines.pop(name, None)
        report["abstention"] = fit
        return report

    def retrieval_mrr(self, name: str, questions: list) -> float:
        """MRR@10 of the collection's live retrieval (fusion and reranker, documents deduplicated)
        over the gold documents of labelled ``questions``."""
        pipe = self.pipeline(name)
        traces = []
        for s in range(0, len(questions), 32):
            traces += pipe.run_many([q.question for q in questions[s:s + 32]])
        return mrr_at_10([t.reranked or t.fused for t in traces], questions)

    def _tune_fusion(self, name: str, pipe: Pipeline, qs: list) -> dict[str, Any]:
        texts = [q.question for q in qs]
        vecs = self.embedder.encode(texts)
        base = HybridRetriever(pipe.retriever.candidate_k, 1.0, 1.0, pipe.retriever.rrf_k)
        results = base.retrieve_many(pipe.snapshot, texts, vecs)

        def mrr(dw: float, lw: float) -> float:
            return mrr_at_10([rrf_fuse(r.dense, r.lexical, dense_weight=dw, lexical_weight=lw, k=pipe.retriever.rrf_k)
                              for r in results], qs)

        grid = [(1.0, lw) for lw in (0.0, 0.25, 0.5, 0.75, 1.0)] + [(dw, 1.0) for dw in (0.0, 0.25, 0.5, 0.75)]
        scores = {f"{dw}/{lw}": mrr(dw, lw) for dw, lw in grid}
        best = max(grid, key=lambda w: (round(scores[f"{w[0]}/{w[1]}"], 4), w == (1.0, 1.0)))
        current = (pipe.retriever.dense_weight, pipe.retriever.lexical_weight)
        cur_score = scores.get(f"{current[0]}/{current[1]}", mrr(*current))
        if scores[f"{best[0]}/{best[1]}"] < cur_score + 0.01:  # keep the weights unless the gain is clear
            best = current
        changed = best != current
        if changed:
            self.store.update_settings(name, fusion={"dense_weight": best[0], "lexical_weight": best[1]})
            self._pipelines.pop(name, None)
        return {"dense_weight": best[0], "lexical_weight": best[1], "mrr@10": scores[f"{best[0]}/{best[1]}"],
                "grid": scores, "changed": changed}
