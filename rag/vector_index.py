"""FAISS vector index, one code path for CPU and GPU.

Exact inner-product search (vectors are normalised, so scores are cosines)
below ``exact_max`` vectors; above it HNSW on CPU or IVF on GPU, with
parameters chosen from the size. Optional int8 scalar (``sq8``) or product
(``pq``) quantization for large collections. The index is derived data: it
is rebuilt from the stored embeddings whenever the collection changes, and
searched on a GPU when faiss reports one.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np

EXACT_MAX = 50_000


def gpu_count() -> int:
    import faiss

    try:
        return int(faiss.get_num_gpus())
    except AttributeError:  # faiss-cpu builds without the symbol
        return 0


def index_spec(n: int, dim: int, quantization: str = "none", *, exact_max: int = EXACT_MAX, gpu: bool = False) -> dict:
    """Choose an index from the collection size. Returns a JSON-able spec."""
    if quantization not in {"none", "sq8", "pq"}:
        raise ValueError(f"quantization must be none, sq8 or pq, but got {quantization!r}")
    if n <= exact_max:
        kind = "flat" if quantization == "none" else quantization
        return {"kind": kind, "n": n, "dim": dim}
    nlist = int(min(65536, max(64, 4 * math.sqrt(n))))
    if gpu or quantization != "none":
        return {"kind": "ivf", "nlist": nlist, "nprobe": max(8, nlist // 32), "quantization": quantization, "n": n, "dim": dim}
    return {"kind": "hnsw", "M": 32, "efConstruction": 80, "efSearch": 96, "n": n, "dim": dim}


def _pq_m(dim: int) -> int:
    for m in (dim // 8, dim // 12, dim // 16, 8):
        if m > 0 and dim % m == 0:
            return m
    return 1


def build_index(vectors: np.ndarray, spec: dict):
    """Build a CPU faiss index from normalised float32 vectors per ``spec``."""
    import faiss

    n, dim = vectors.shape if vectors.size else (0, spec["dim"])
    kind = spec["kind"]
    metric = faiss.METRIC_INNER_PRODUCT
    if kind == "flat":
        index = faiss.IndexFlatIP(dim)
    elif kind == "sq8":
        index = faiss.IndexScalarQuantizer(dim, faiss.ScalarQuantizer.QT_8bit, metric)
    elif kind == "pq":
        index = faiss.IndexPQ(dim, _pq_m(dim), 8, metric)
    elif kind == "hnsw":
        index = faiss.IndexHNSWFlat(dim, spec["M"], metric)
        index.hnsw.efConstruction = spec["efConstruction"]
        index.hnsw.efSearch = spec["efSearch"]
    elif kind == "ivf":
        quant = faiss.IndexFlatIP(dim)
        q = spec.get("quantization", "none")
        if q == "sq8":
            index = faiss.IndexIVFScalarQuantizer(quant, dim, spec["nlist"], faiss.ScalarQuantizer.QT_8bit, metric)
        elif q == "pq":
            index = faiss.IndexIVFPQ(quant, dim, spec["nlist"], _pq_m(dim), 8, metric)
        else:
            index = faiss.IndexIVFFlat(quant, dim, spec["nlist"], metric)
        index.nprobe = spec["nprobe"]
    else:
        raise ValueError(f"unknown index kind {kind!r}")
    if n and not index.is_trained:
        index.train(vectors)
    if n:
        index.add(vectors)
    return index


class FaissIndex:
    """The VectorIndex role: search normalised vectors; row ids are chunk positions."""

    def __init__(self, index, spec: dict, *, use_gpu: bool | None = None) -> None:
        self.spec = spec
        self.cpu_index = index
        self.index = index
        self.on_gpu = False
        if use_gpu is None:
            use_gpu = gpu_count() > 0
        if use_gpu and spec["kind"] in ("flat", "ivf", "sq8"):
            import faiss

            self.index = faiss.index_cpu_to_all_gpus(index)
            self.on_gpu = True

    @classmethod
    def build(cls, vectors: np.ndarray, quantization: str = "none", *, exact_max: int = EXACT_MAX,
              use_gpu: bool | None = None) -> FaissIndex:
        gpu = gpu_count() > 0 if use_gpu is None else use_gpu
        spec = index_spec(len(vectors), vectors.shape[1], quantization, exact_max=exact_max, gpu=gpu)
        return cls(build_index(vectors, spec), spec, use_gpu=gpu)

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def search(self, queries: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        queries = np.ascontiguousarray(queries, dtype=np.float32)
        if self.ntotal == 0 or k <= 0:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        return self.index.search(queries, min(k, self.ntotal))

    def save(self, path: Path) -> None:
        import faiss

        faiss.write_index(self.cpu_index, str(path))

    @classmethod
    def load(cls, path: Path, spec: dict, *, use_gpu: bool | None = None) -> FaissIndex:
        import faiss

        index = faiss.read_index(str(path))
        if hasattr(index, "hnsw"):
            index.hnsw.efSearch = spec.get("efSearch", 96)
        if hasattr(index, "nprobe") and "nprobe" in spec:
            index.nprobe = spec["nprobe"]
        return cls(index, spec, use_gpu=use_gpu)
