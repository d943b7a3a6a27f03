import numpy as np
import pytest

from rag.retrieval import gold_rank, mrr_at_10, rrf_fuse
from rag.types import Chunk, Hit
from rag.vector_index import FaissIndex, index_spec


def _vecs(n, d=32, seed=0):
    v = np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_index_kind_follows_size_and_quantization():
    assert index_spec(1000, 384)["kind"] == "flat"
    assert index_spec(200_000, 384)["kind"] == "hnsw"
    ivf = index_spec(200_000, 384, gpu=True)
    assert ivf["kind"] == "ivf" and ivf["nlist"] >= 64
    assert index_spec(1000, 384, "sq8")["kind"] == "sq8"
    with pytest.raises(ValueError):
        index_spec(10, 4, "int3")


@pytest.mark.parametrize("quant,exact_max", [("none", 10**6), ("sq8", 10**6), ("none", 100), ("pq", 100)])
def test_search_finds_the_query_vector_itself(quant, exact_max):
    v = _vecs(2000)
    idx = FaissIndex.build(v, quant, exact_max=exact_max, use_gpu=False)
    scores, ids = idx.search(v[:50], 5)
    assert np.mean(ids[:, 0] == np.arange(50)) >= 0.9
    assert ids.shape == (50, 5)


def test_rrf_weights_and_ranks():
    c = {n: Chunk(id=n, doc_id=n, text=n, position=0) for n in "abcd"}
    dense = [Hit(c[n], 1.0, {"dense": 1.0}, {"dense": r}) for r, n in enumerate("abc", 1)]
    lex = [Hit(c[n], 5.0, {"lexical": 5.0}, {"lexical": r}) for r, n in enumerate("dcb", 1)]
    fused = rrf_fuse(dense, lex, k=60)
    assert fused[0].chunk.id == "b"  # ranks 2 and 3 beat a single rank 1
    assert fused[0].ranks == {"dense": 2, "lexical": 3, "fused": 1}
    only_dense = rrf_fuse(dense, lex, lexical_weight=0.0)
    assert [h.chunk.id for h in only_dense[:3]] == ["a", "b", "c"]


def test_gold_rank_and_mrr_count_each_document_once():
    from rag.labels import LabelledQuestion

    assert gold_rank(["a", "a", "b"], {"b"}) == 2
    assert gold_rank(list("abcdefghijkl"), {"k"}) is None  # beyond the first 10 distinct documents
    hits = [Hit(Chunk(id=f"c{i}", doc_id=d, text="x", position=0), 1.0) for i, d in enumerate("aabc")]
    qs = [LabelledQuestion(id="1", question="q", gold_doc_ids=["b"]),
          LabelledQuestion(id="2", question="q", gold_doc_ids=["z"])]
    assert mrr_at_10([hits, hits], qs) == pytest.approx(0.25)
