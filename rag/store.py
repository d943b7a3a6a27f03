"""Collections on disk: immutable snapshots swapped atomically.

Layout under the data directory::

    <collection>/
      CURRENT                 name of the live snapshot (replaced atomically)
      settings.json           per-collection settings: calibration, reranker, fusion weights
      snapshots/<id>/         manifest.json, chunks.jsonl, embeddings.npy, index.faiss, bm25/, quality.json

A change writes a whole new snapshot into a temporary folder, renames it into
place and only then points ``CURRENT`` at it, so a reader sees the old
collection or the new one, never half of either, and a crash mid-write loses
nothing. The manifest carries a format version, the embedding model id, the
dimension, counts, every document's content hash and each file's checksum.
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import logging
import os
import re
import shutil
import time
import uuid
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import CollectionNotFound, CorruptIndexError, IndexFormatError, IngestError, InvalidName
from rag.lexical import BM25Index
from rag.types import Chunk, DocRecord
from rag.vector_index import FaissIndex

log = logging.getLogger(__name__)
FORMAT_VERSION = 1
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
KEEP_SNAPSHOTS = 2


def check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME.match(name):
        raise InvalidName(f"invalid collection name {name!r}: use 1-64 letters, digits, '.', '_' or '-'")
    return name


def _sha256(path: Path) -> str:
    h = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def atomic_write_text(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex[:8]}.tmp")
    with tmp.open("w", encoding="utf-8") as f:
        f.write(text)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


@dataclass
class SentenceVectors:
    """Every chunk's sentence vectors, computed once at ingest so answering embeds only the question.

    ``vectors`` (float16) holds the sentences of chunk ``i`` in rows ``offsets[i]:offsets[i+1]``;
    the sentence texts are ``chunk_sentences(chunk.text)``, recomputed (a regex) when asked.
    """

    model_id: str
    vectors: np.ndarray
    offsets: np.ndarray
    _rows: dict[str, int] | None = field(default=None, repr=False)

    def get(self, snap: "Snapshot", chunk: Chunk) -> tuple[list[str], np.ndarray] | None:
        from rag.chunking import chunk_sentences

        if self._rows is None:
            self._rows = {c.id: i for i, c in enumerate(snap.chunks)}
        i = self._rows.get(chunk.id)
        if i is None or snap.chunks[i].text != chunk.text:
            return None
        sents = chunk_sentences(chunk.text)
        lo, hi = int(self.offsets[i]), int(self.offsets[i + 1])
        if hi - lo != len(sents):  # written by another splitter version
            return None
        return sents, self.vectors[lo:hi].astype(np.float32)

    def rows(self, index: list[int]) -> tuple[np.ndarray, np.ndarray]:
        """Vectors and offsets of the chunks at ``index`` (in that order), for carrying them into a new snapshot."""
        parts = [self.vectors[int(self.offsets[i]):int(self.offsets[i + 1])] for i in index]
        counts = [len(p) for p in parts]
        offsets = np.concatenate([[0], np.cumsum(counts)]).astype(np.int64)
        vecs = np.concatenate(parts) if parts else self.vectors[:0]
        return vecs, offsets


@dataclass
class Snapshot:
    """One loaded, immutable state of a collection."""

    name: str
    path: Path | None
    manifest: dict[str, Any]
    chunks: list[Chunk]
    embeddings: np.ndarray
    vindex: FaissIndex | None
    bm25: BM25Index
    docs: dict[str, DocRecord] = field(default_factory=dict)
    quality: dict[str, Any] = field(default_factory=dict)
    sentences: SentenceVectors | None = None

    @property
    def model_id(self) -> str:
        return self.manifest.get("embedding_model", "")

    def chunk_sentences(self, chunk: Chunk, model_id: str) -> tuple[list[str], np.ndarray] | None:
        """The chunk's sentences and their vectors precomputed at ingest by ``model_id``, or None."""
        sv = self.sentences
        if sv is None or sv.model_id != model_id:
            return None
        return sv.get(self, chunk)

    @property
    def size(self) -> int:
        return len(self.chunks)


class Store:
    """Named collections under one data directory."""

    def __init__(self, data_dir: str | Path) -> None:
        self.root = Path(data_dir).expanduser()

    def dir(self, name: str) -> Path:
        return self.root / check_name(name)

    def exists(self, name: str) -> bool:
        return (self.dir(name) / "CURRENT").is_file()

    def list(self) -> list[dict[str, Any]]:
        out = []
        if not self.root.is_dir():
            return out
        for d in sorted(self.root.iterdir()):
            if d.is_dir() and _NAME.match(d.name) and (d / "CURRENT").is_file():
                try:
                    m = self.manifest(d.name)
                except Exception as e:  # a broken collection is listed, not fatal
                    out.append({"name": d.name, "error": str(e)})
                    continue
                out.append({"name": d.name, "documents": m["n_docs"], "chunks": m["n_chunks"],
                            "embedding_model": m["embedding_model"], "updated_at": m["created_at"]})
        return out

    @contextlib.contextmanager
    def lock(self, name: str):
        """Serialise writers of one collection (readers never wait)."""
        d = self.dir(name)
        d.mkdir(parents=True, exist_ok=True)
        with (d / ".lock").open("w") as f:
            fcntl.flock(f, fcntl.LOCK_EX)
            try:
                yield
            finally:
                fcntl.flock(f, fcntl.LOCK_UN)

    def current_path(self, name: str) -> Path:
        d = self.dir(name)
        cur = d / "CURRENT"
        if not cur.is_file():
            raise CollectionNotFound(f"collection {name!r} not found under {self.root}; ingest documents into it first")
        return d / "snapshots" / cur.read_text().strip()

    def manifest(self, name: str) -> dict[str, Any]:
        path = self.current_path(name) / "manifest.json"
        try:
            return json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as e:
            raise CorruptIndexError(f"manifest of collection {name!r} is unreadable ({path}): {e}") from e

    # settings -----------------------------------------------------------------
    def read_settings(self, name: str) -> dict[str, Any]:
        p = self.dir(name) / "settings.json"
        if not p.is_file():
            return {}
        try:
            return json.loads(p.read_text())
        except json.JSONDecodeError as e:
            raise CorruptIndexError(f"settings of collection {name!r} are unreadable ({p}): {e}") from e

    def update_settings(self, name: str, **values: Any) -> dict[str, Any]:
        with self.lock(name):
            s = self.read_settings(name)
            s.update(values)
            atomic_write_text(self.dir(name) / "settings.json", json.dumps(s, indent=1))
            return s

    # load -----------------------------------------------------------------------
    def load(self, name: str, *, model_id: str | None = None, use_gpu: bool | None = None, verify: bool = True) -> Snapshot:
        """Load the live snapshot; checks format version, model and checksums."""
        path = self.current_path(name)
        m = self.manifest(name)
        if m.get("format_version") != FORMAT_VERSION:
            raise IndexFormatError(
                f"collection {name!r} was written in index format {m.get('format_version')}, this version reads "
                f"format {FORMAT_VERSION}; re-ingest it (rag ingest --rebuild)")
        if model_id is not None and m["embedding_model"] != model_id:
            raise IndexFormatError(
                f"collection {name!r} was built with the embedding model {m['embedding_model']!r}, but "
                f"{model_id!r} is configured; set RAG_EMBEDDING_MODEL to that model or re-ingest with --rebuild")
        if verify:
            for fname, digest in m.get("checksums", {}).items():
                f = path / fname
                if not f.is_file() or _sha256(f) != digest:
                    raise CorruptIndexError(
                        f"{f} is missing or corrupted (checksum mismatch) in collection {name!r}; "
                        f"run `rag repair --collection {name}` to rebuild it from the intact files")
        try:
            chunks = [Chunk.from_dict(json.loads(line)) for line in (path / "chunks.jsonl").open(encoding="utf-8")]
            emb = np.load(path / "embeddings.npy") if m["n_chunks"] else np.zeros((0, m["dim"]), np.float32)
            vindex = FaissIndex.load(path / "index.faiss", m["index"], use_gpu=use_gpu) if m["n_chunks"] else None
            bm25 = BM25Index.load(path / "bm25", m["n_chunks"])
        except CorruptIndexError:
            raise
        except Exception as e:
            raise CorruptIndexError(
                f"collection {name!r} could not be read ({type(e).__name__}: {e}); "
                f"run `rag repair --collection {name}`") from e
        docs = {k: DocRecord(**v) for k, v in m["docs"].items()}
        quality = {}
        if (path / "quality.json").is_file():
            quality = json.loads((path / "quality.json").read_text())
        sentences = None
        if m.get("sentence_model") and (path / "sentences.npy").is_file():
            try:
                sentences = SentenceVectors(m["sentence_model"], np.load(path / "sentences.npy"),
                                            np.load(path / "sentence_offsets.npy"))
                if len(sentences.offsets) != len(chunks) + 1:
                    raise ValueError("offsets do not match the chunks")
            except Exception as e:  # an optimisation only: answering recomputes sentence vectors
                log.warning("sentence vectors of %r unreadable (%s); they will be computed on demand", name, e)
                sentences = None
        return Snapshot(name, path, m, chunks, emb, vindex, bm25, docs, quality, sentences)

    # write ----------------------------------------------------------------------
    def commit(self, name: str, *, chunks: list[Chunk], embeddings: np.ndarray, docs: dict[str, DocRecord],
               model_id: str, dim: int, quantization: str = "none", quality: dict | None = None,
               use_gpu: bool | None = None, vindex: FaissIndex | None = None,
               sentences: SentenceVectors | None = None) -> Snapshot:
        """Write a new snapshot and make it live. Call under ``lock(name)``."""
        if len(chunks) != len(embeddings):
            raise ValueError(f"{len(chunks)} chunks but {len(embeddings)} embeddings")
        d = self.dir(name)
        snaps = d / "snapshots"
        snaps.mkdir(parents=True, exist_ok=True)
        snap_id = f"{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:6]}"
        tmp = snaps / f".tmp-{snap_id}"
        tmp.mkdir()
        try:
            embeddings = np.ascontiguousarray(embeddings, dtype=np.float32).reshape(len(chunks), dim)
            with (tmp / "chunks.jsonl").open("w", encoding="utf-8") as f:
                for c in chunks:
                    f.write(json.dumps(c.to_dict(), ensure_ascii=False) + "\n")
            np.save(tmp / "embeddings.npy", embeddings)
            if vindex is None and len(chunks):
                vindex = FaissIndex.build(embeddings, quantization, use_gpu=use_gpu)
            if vindex is not None:
                vindex.save(tmp / "index.faiss")
            bm25 = BM25Index.build([_lexical_text(c) for c in chunks])
            bm25.save(tmp / "bm25")
            (tmp / "quality.json").write_text(json.dumps(quality or {}, indent=1))
            if sentences is not None:
                if len(sentences.offsets) != len(chunks) + 1:
                    raise ValueError(f"sentence offsets for {len(sentences.offsets) - 1} chunks, but {len(chunks)} chunks")
                sentences = SentenceVectors(sentences.model_id, np.ascontiguousarray(sentences.vectors, dtype=np.float16),
                                            np.asarray(sentences.offsets, dtype=np.int64))
                np.save(tmp / "sentences.npy", sentences.vectors)
                np.save(tmp / "sentence_offsets.npy", sentences.offsets)
            checksums = {f: _sha256(tmp / f) for f in ("chunks.jsonl", "embeddings.npy", "index.faiss",
                                                       "sentences.npy", "sentence_offsets.npy") if (tmp / f).exists()}
            manifest = {
                "format_version": FORMAT_VERSION,
                "collection": name,
                "embedding_model": model_id,
                "dim": dim,
                "n_docs": len(docs),
                "n_chunks": len(chunks),
                "index": vindex.spec if vindex is not None else {"kind": "empty", "dim": dim},
                "quantization": quantization,
                "sentence_model": sentences.model_id if sentences is not None else None,
                "created_at": time.time(),
                "checksums": checksums,
                "docs": {k: asdict(v) for k, v in docs.items()},
            }
            (tmp / "manifest.json").write_text(json.dumps(manifest, indent=1))
            for f in tmp.iterdir():
                if f.is_file():
                    with f.open("rb") as fh:
                        os.fsync(fh.fileno())
            final = snaps / snap_id
            os.rename(tmp, final)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
        atomic_write_text(d / "CURRENT", snap_id)
        self._gc(name, keep=snap_id)
        return Snapshot(name, final, manifest, chunks, embeddings, vindex, bm25, docs, quality or {}, sentences)

    def restore(self, name: str, snap_id: str) -> None:
        """Make an earlier, still kept snapshot live again (atomic). Call under ``lock(name)``."""
        if not (self.dir(name) / "snapshots" / snap_id / "manifest.json").is_file():
            raise IngestError(f"snapshot {snap_id!r} of collection {name!r} is no longer kept")
        atomic_write_text(self.dir(name) / "CURRENT", snap_id)

    def _gc(self, name: str, keep: str) -> None:
        snaps = sorted((p for p in (self.dir(name) / "snapshots").iterdir() if not p.name.startswith(".")),
                       key=lambda p: p.stat().st_mtime)
        old = [p for p in snaps if p.name != keep][:-(KEEP_SNAPSHOTS - 1) or None]
        for p in old:
            shutil.rmtree(p, ignore_errors=True)

    def delete_collection(self, name: str) -> None:
        d = self.dir(name)
        if not d.exists():
            raise CollectionNotFound(f"collection {name!r} not found")
        trash = d.with_name(f".deleted-{name}-{uuid.uuid4().hex[:6]}")
        os.rename(d, trash)  # atomic: readers see it gone at once
        shutil.rmtree(trash, ignore_errors=True)


def _lexical_text(c: Chunk) -> str:
    return " ".join(p for p in (c.title, c.section, c.text) if p)
