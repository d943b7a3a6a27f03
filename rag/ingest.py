"""Ingestion: documents → quality gate → chunks → embeddings → a new snapshot.

Incremental: a document whose content hash is unchanged costs nothing; a changed
one replaces its old chunks; deletions drop a document's chunks. Chunks that
carry instructions addressed to a model are marked for quarantine here, once,
so answering never pays for the scan. The ingestion quality report (duplicates,
garbled text, empty or truncated documents, versions) is written with the snapshot.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.chunking import DocumentChunker, chunk_sentences, embed_text
from rag.errors import IndexFormatError, IngestError
from rag.protocols import Embedder
from rag.store import SentenceVectors, Snapshot, Store
from rag.types import Chunk, DocRecord, Document, Skipped

Progress = Callable[[str, int, int], None]
GARBLED_REJECT = 0.5


@dataclass
class IngestReport:
    collection: str
    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)
    skipped: list[Skipped] = field(default_factory=list)
    n_docs: int = 0
    n_chunks: int = 0
    new_chunks: int = 0
    quarantined: list[str] = field(default_factory=list)
    quality: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.deleted)

    def to_dict(self) -> dict[str, Any]:
        return {
            "collection": self.collection, "added": self.added, "updated": self.updated,
            "unchanged": len(self.unchanged), "deleted": self.deleted,
            "skipped": [{"source": s.source, "reason": s.reason} for s in self.skipped],
            "documents": self.n_docs, "chunks": self.n_chunks, "new_chunks": self.new_chunks,
            "quarantined_chunks": self.quarantined,
            "quality": {k: v for k, v in self.quality.items() if k != "doc_issues"},
            "seconds": round(self.seconds, 3),
        }


def _empty(name: str, dim: int) -> Snapshot:
    from rag.lexical import BM25Index

    return Snapshot(name, None, {"n_chunks": 0}, [], np.zeros((0, dim), np.float32), None, BM25Index(None, 0), {})


def _doc_from_chunks(rec: DocRecord, chunks: list[Chunk]) -> Document:
    return Document(id=rec.doc_id, title=rec.title, text="\n".join(c.text for c in chunks), source=rec.source, hash=rec.hash)


def ingest(
    store: Store,
    name: str,
    items: Iterable[Document | Skipped],
    embedder: Embedder,
    chunker: DocumentChunker,
    *,
    delete_ids: Iterable[str] = (),
    rebuild: bool = False,
    quantization: str = "none",
    progress: Progress | None = None,
    use_gpu: bool | None = None,
    sentence_embedder: Embedder | None = None,
) -> tuple[IngestReport, Snapshot]:
    """Apply documents (and deletions) to a collection; returns the report and the new live snapshot.

    With ``sentence_embedder`` (the extractive generator's), every chunk's sentence
    vectors are computed here once and stored with the snapshot, so answering a
    question embeds only the question.

    If nothing changed, no snapshot is written and the current one is returned.
    Any exception leaves the collection exactly as it was.
    """
    from rag.quality import garble_score, quality_report
    from rag.security import scan_injection

    t0 = time.perf_counter()
    report = IngestReport(collection=name)
    embedder.warm_up()
    with store.lock(name):
        if store.exists(name) and not rebuild:
            try:
                cur = store.load(name, model_id=embedder.model_id)
            except IndexFormatError as e:
                raise IngestError(f"{e}") from e
        else:
            cur = _empty(name, embedder.dim)

        # 1. read everything the connectors give, gate quality, find what changed
        incoming: dict[str, Document] = {}
        for item in items:
            if isinstance(item, Skipped):
                report.skipped.append(item)
                continue
            if item.id in incoming:
                report.skipped.append(Skipped(item.source, f"duplicate document id {item.id!r} in this ingest"))
                continue
            g = garble_score(item.text)
            if g >= GARBLED_REJECT:
                report.skipped.append(Skipped(item.source or item.id, f"garbled text (mojibake or extraction debris, score {g:.2f})"))
                continue
            incoming[item.id] = item
        to_delete = set(delete_ids)
        unknown = to_delete - set(cur.docs)
        if unknown:
            raise IngestError(f"no such document(s) in {name!r}: {', '.join(sorted(unknown))}")
        new_docs: list[Document] = []
        for doc_id, doc in incoming.items():
            old = cur.docs.get(doc_id)
            if old is not None and old.hash == doc.hash:
                report.unchanged.append(doc_id)
            else:
                (report.updated if old is not None else report.added).append(doc_id)
                new_docs.append(doc)
        replaced = set(report.updated) | to_delete
        report.deleted = sorted(to_delete)
        if not new_docs and not to_delete and not rebuild and store.exists(name):
            report.n_docs, report.n_chunks = len(cur.docs), cur.size
            report.quality = cur.quality
            report.seconds = time.perf_counter() - t0
            return report, cur

        # 2. chunk, scan, embed only what is new
        new_chunks: list[Chunk] = []
        for i, doc in enumerate(new_docs):
            for c in chunker.chunk(doc):
                reason = scan_injection(c.text)
                if reason:
                    c.metadata["quarantine"] = reason
                    report.quarantined.append(c.id)
                new_chunks.append(c)
            if progress:
                progress("chunk", i + 1, len(new_docs))
        texts = [embed_text(c) for c in new_chunks]
        vecs = []
        step = 256
        for s in range(0, len(texts), step):
            vecs.append(embedder.encode(texts[s:s + step]))
            if progress:
                progress("embed", min(s + step, len(texts)), len(texts))
        new_emb = np.concatenate(vecs) if vecs else np.zeros((0, embedder.dim), np.float32)

        # 3. merge with what stays
        keep = [i for i, c in enumerate(cur.chunks) if c.doc_id not in replaced]
        chunks = [cur.chunks[i] for i in keep] + new_chunks
        emb = np.concatenate([cur.embeddings[keep], new_emb]) if len(keep) else new_emb
        sentences = None
        if sentence_embedder is not None:
            sentences = _sentence_vectors(sentence_embedder, cur, keep, new_chunks, progress)
        now = time.time()
        docs = {k: v for k, v in cur.docs.items() if k not in replaced}
        counts: dict[str, int] = {}
        for c in new_chunks:
            counts[c.doc_id] = counts.get(c.doc_id, 0) + 1
        for doc in new_docs:
            docs[doc.id] = DocRecord(doc_id=doc.id, hash=doc.hash, source=doc.source, title=doc.title,
                                     n_chunks=counts.get(doc.id, 0), chars=len(doc.text), ingested_at=now)

        # 4. quality report over the whole collection
        by_doc: dict[str, list[Chunk]] = {}
        for c in chunks:
            by_doc.setdefault(c.doc_id, []).append(c)
        all_docs = list(new_docs) + [_doc_from_chunks(docs[k], v) for new_ids in [{d.id for d in new_docs}]
                                     for k, v in by_doc.items() if k in docs and k not in new_ids]
        if progress:
            progress("quality", 0, 1)
        quality = quality_report(all_docs, chunks)
        for doc_id, rec in docs.items():
            issues = quality.get("doc_issues", {}).get(doc_id, [])
            rec.issues = list(issues)
            rec.version_of = next((i.split(":", 1)[1] for i in issues if i.startswith("version_of:")), None)
        if progress:
            progress("index", 0, 1)
        try:
            snap = store.commit(name, chunks=chunks, embeddings=emb, docs=docs, model_id=embedder.model_id,
                                dim=embedder.dim, quantization=quantization, quality=quality, use_gpu=use_gpu,
                                sentences=sentences)
        except OSError as e:
            raise IngestError(f"could not write collection {name!r}: {e}; it is unchanged") from e
        report.n_docs, report.n_chunks, report.new_chunks = len(docs), len(chunks), len(new_chunks)
        report.quality = quality
        report.seconds = time.perf_counter() - t0
        return report, snap


def encode_sentences(embedder: Embedder, chunks: list[Chunk], progress: Progress | None = None) -> SentenceVectors:
    """Sentence vectors of ``chunks`` (float16), in chunk order."""
    counts, flat = [], []
    for c in chunks:
        sents = chunk_sentences(c.text)
        counts.append(len(sents))
        flat.extend(sents)
    parts, step = [], 512
    for s in range(0, len(flat), step):
        parts.append(embedder.encode(flat[s:s + step]).astype(np.float16))
        if progress:
            progress("sentences", min(s + step, len(flat)), len(flat))
    vecs = np.concatenate(parts) if parts else np.zeros((0, embedder.dim), np.float16)
    offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
    return SentenceVectors(embedder.model_id, vecs, offsets)


def _sentence_vectors(embedder: Embedder, cur: Snapshot, keep: list[int], new_chunks: list[Chunk],
                      progress: Progress | None) -> SentenceVectors:
    """Kept chunks carry their vectors over (same model); only new chunks are encoded."""
    if cur.sentences is not None and cur.sentences.model_id == embedder.model_id:
        old_vecs, old_off = cur.sentences.rows(keep)
        new = encode_sentences(embedder, new_chunks, progress)
        offsets = np.concatenate([old_off, old_off[-1] + new.offsets[1:]])
        return SentenceVectors(embedder.model_id, np.concatenate([old_vecs, new.vectors]), offsets)
    return encode_sentences(embedder, [cur.chunks[i] for i in keep] + new_chunks, progress)


def reembed(store: Store, name: str, embedder: Embedder, *, quantization: str | None = None,
            progress: Progress | None = None, use_gpu: bool | None = None) -> Snapshot:
    """Re-embed every chunk with ``embedder`` and swap the index atomically (used after fine-tuning)."""
    embedder.warm_up()
    with store.lock(name):
        cur = store.load(name)
        texts = [embed_text(c) for c in cur.chunks]
        vecs = []
        for s in range(0, len(texts), 256):
            vecs.append(embedder.encode(texts[s:s + 256]))
            if progress:
                progress("embed", min(s + 256, len(texts)), len(texts))
        emb = np.concatenate(vecs) if vecs else np.zeros((0, embedder.dim), np.float32)
        return store.commit(name, chunks=cur.chunks, embeddings=emb, docs=cur.docs, model_id=embedder.model_id,
                            dim=embedder.dim, quantization=quantization or cur.manifest.get("quantization", "none"),
                            quality=cur.quality, use_gpu=use_gpu, sentences=cur.sentences)


def repair(store: Store, name: str, embedder: Embedder | None = None) -> Snapshot:
    """Rebuild a collection's derived files (index, BM25) from its chunks and embeddings;
    re-embed when the embeddings themselves are damaged."""
    import json

    from rag.store import _sha256

    with store.lock(name):
        path = store.current_path(name)
        m = store.manifest(name)
        chunks = [Chunk.from_dict(json.loads(line)) for line in (path / "chunks.jsonl").open(encoding="utf-8")]
        try:
            emb = np.load(path / "embeddings.npy")
            if emb.shape != (len(chunks), m["dim"]):
                raise ValueError("shape mismatch")
        except Exception:
            if embedder is None:
                raise IngestError(f"embeddings of {name!r} are damaged; repair needs the embedding model") from None
            embedder.warm_up()
            emb = embedder.encode([embed_text(c) for c in chunks])
        docs = {k: DocRecord(**v) for k, v in m["docs"].items()}
        quality = json.loads((path / "quality.json").read_text()) if (path / "quality.json").is_file() else {}
        sentences = None
        try:  # intact sentence vectors are carried over; damaged ones are dropped (computed on demand)
            if m.get("sentence_model") and _sha256(path / "sentences.npy") == m["checksums"].get("sentences.npy") \
                    and _sha256(path / "sentence_offsets.npy") == m["checksums"].get("sentence_offsets.npy"):
                sentences = SentenceVectors(m["sentence_model"], np.load(path / "sentences.npy"),
                                            np.load(path / "sentence_offsets.npy"))
        except (OSError, ValueError, KeyError):
            sentences = None
        return store.commit(name, chunks=chunks, embeddings=emb, docs=docs, model_id=m["embedding_model"],
                            dim=m["dim"], quantization=m.get("quantization", "none"), quality=quality,
                            sentences=sentences)
