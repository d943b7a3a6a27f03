"""Retrieval quality and speed: this pipeline against llama-index's default, in one run.

The baseline is what a user would pick instead: llama-index's SentenceSplitter
(defaults) + HuggingFaceEmbedding on the same MiniLM + FaissVectorStore (flat),
top-10. Ours: heading/sentence-aware chunks, dense (faiss) + BM25 (bm25s) fused
by weighted RRF. Dense-only and BM25-only rows show where the fusion gain
comes from. Metrics are per document (chunks of one document count once).

    python benchmarks/retrieval.py [--datasets pubmedqa cranfield] [--limit N] [--latency-chunks 10000]
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, percentile, print_table, write_json  # noqa: E402

from eval.datasets import load_corpus, load_questions  # noqa: E402
from eval.metrics import dedupe_ranked, hit_at_k, mrr_at_k, ndcg_at_k  # noqa: E402


def score(ranked_lists: dict[str, list[str]], questions) -> dict[str, float]:
    h1 = h5 = mrr = ndcg = 0.0
    n_ndcg = 0
    for q in questions:
        ranked = dedupe_ranked(ranked_lists[q.id])
        gold = q.gold_doc_ids
        h1 += hit_at_k(ranked, gold, 1)
        h5 += hit_at_k(ranked, gold, 5)
        mrr += mrr_at_k(ranked, gold, 10)
        v = ndcg_at_k(ranked, q.qrels or gold, 10)
        if v == v:  # NaN when a query has no relevant document
            ndcg += v
            n_ndcg += 1
    n = len(questions)
    return {"hit@1": h1 / n, "hit@5": h5 / n, "mrr@10": mrr / n, "ndcg@10": ndcg / max(n_ndcg, 1)}


def ours(corpus_path: Path, questions, data_dir: Path, dense_weight=1.0, lexical_weight=1.0) -> list[dict]:
    from connectors import JsonlConnector
    from rag.retrieval import HybridRetriever
    from rag.service import RAGService, ServiceConfig

    # retrieval only: the sentence vectors the answer stage uses are not built (llama-index builds none either)
    svc = RAGService(ServiceConfig(data_dir=data_dir, sentence_vectors=False))
    svc.embedder.warm_up()
    t0 = time.perf_counter()
    report = svc.ingest("bench", JsonlConnector(corpus_path).load())
    ingest_s = time.perf_counter() - t0
    pipe = svc.pipeline("bench")
    snap = pipe.snapshot
    texts = [q.question for q in questions]
    rows = []
    variants = {
        "ours: hybrid RRF": HybridRetriever(50, dense_weight, lexical_weight),
        "ours: dense only": HybridRetriever(50, 1.0, 0.0),
        "ours: BM25 only": HybridRetriever(50, 0.0, 1.0),
    }
    vecs = svc.embedder.encode(texts, batch_size=128)
    for name, retr in variants.items():
        res = retr.retrieve_many(snap, texts, vecs)
        ranked = {q.id: [h.chunk.doc_id for h in r.fused[:50]] for q, r in zip(questions, res)}
        row = {"system": name, **score(ranked, questions), "chunks": report.n_chunks}
        if name.startswith("ours: hybrid"):
            row["ingest_s"] = ingest_s
            lat = []
            for q in texts[:200]:  # warm single-query latency: embed + dense + BM25 + fuse
                t = time.perf_counter()
                retr.retrieve(snap, q, svc.embedder.encode([q])[0])
                lat.append((time.perf_counter() - t) * 1000)
            row["p50_ms"], row["p95_ms"] = percentile(lat, 50), percentile(lat, 95)
        rows.append(row)
    return rows


def llama_index_default(corpus_path: Path, questions) -> dict:
    import faiss
    from llama_index.core import Document, Settings, StorageContext, VectorStoreIndex
    from llama_index.embeddings.huggingface import HuggingFaceEmbedding
    from llama_index.vector_stores.faiss import FaissVectorStore

    from rag.embedding import packaged_minilm_path

    Settings.llm = None
    Settings.embed_model = HuggingFaceEmbedding(model_name=str(packaged_minilm_path()), device="cpu")
    docs = [Document(text=(r["title"] + "\n" + r["text"]).strip(), doc_id=r["id"], metadata={"doc_id": r["id"]})
            for r in load_corpus(corpus_path)]
    t0 = time.perf_counter()
    store = FaissVectorStore(faiss_index=faiss.IndexFlatL2(384))
    index = VectorStoreIndex.from_documents(docs, storage_context=StorageContext.from_defaults(vector_store=store))
    ingest_s = time.perf_counter() - t0
    retriever = index.as_retriever(similarity_top_k=10)
    ranked, lat = {}, []
    for i, q in enumerate(questions):
        t = time.perf_counter()
        nodes = retriever.retrieve(q.question)
        if i < 200:
            lat.append((time.perf_counter() - t) * 1000)
        ranked[q.id] = [n.node.metadata["doc_id"] for n in nodes]
    n_nodes = len(index.docstore.docs)
    return {"system": "llama-index default", **score(ranked, questions), "chunks": n_nodes, "ingest_s": ingest_s,
            "p50_ms": percentile(lat, 50), "p95_ms": percentile(lat, 95)}


def latency_10k(target: int, data_dir: Path) -> dict:
    """Warm retrieval latency on a collection of about ``target`` chunks (PubMedQA + Cranfield, small chunks)."""
    from connectors import JsonlConnector
    from rag.service import RAGService, ServiceConfig

    svc = RAGService(ServiceConfig(data_dir=data_dir, chunk_tokens=72, chunk_overlap=12, sentence_vectors=False))
    items = list(JsonlConnector(DATASETS / "converted/pubmedqa/corpus.jsonl").load()) + \
        list(JsonlConnector(DATASETS / "converted/cranfield/corpus.jsonl").load())
    t0 = time.perf_counter()
    rep = svc.ingest("lat", items)
    ingest_s = time.perf_counter() - t0
    pipe = svc.pipeline("lat")
    qs = [q.question for q in load_questions(DATASETS / "converted/pubmedqa/questions.jsonl")[:300]]
    pipe.retriever.retrieve(pipe.snapshot, qs[0], svc.embedder.encode([qs[0]])[0])
    lat = []
    for q in qs:
        t = time.perf_counter()
        pipe.retriever.retrieve(pipe.snapshot, q, svc.embedder.encode([q])[0])
        lat.append((time.perf_counter() - t) * 1000)
    # answer latency (with sentence vectors, at load) is measured by benchmarks/load.py and eval_speed.py
    return {"chunks": rep.n_chunks, "ingest_s": ingest_s, "retrieve_p50_ms": percentile(lat, 50),
            "retrieve_p95_ms": percentile(lat, 95)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["pubmedqa", "cranfield"])
    ap.add_argument("--limit", type=int, default=0, help="questions per dataset (0 = all)")
    ap.add_argument("--no-baseline", action="store_true")
    ap.add_argument("--latency-chunks", type=int, default=10000, help="0 skips the 10k-chunk latency run")
    args = ap.parse_args()
    cols = ["system", "hit@1", "hit@5", "mrr@10", "ndcg@10", "chunks", "ingest_s", "p50_ms", "p95_ms"]
    payload: dict = {"command": "python benchmarks/retrieval.py " + " ".join(sys.argv[1:]), "datasets": {}}
    for ds in args.datasets:
        folder = DATASETS / "converted" / ds
        questions = [q for q in load_questions(folder / "questions.jsonl") if q.gold_doc_ids or q.qrels]
        questions = [q for q in questions if q.gold_doc_ids]
        if args.limit:
            questions = questions[: args.limit]
        console.print(f"[bold]{ds}[/]: {len(questions)} questions")
        with tempfile.TemporaryDirectory() as tmp:
            rows = ours(folder / "corpus.jsonl", questions, Path(tmp))
        if not args.no_baseline:
            rows.append(llama_index_default(folder / "corpus.jsonl", questions))
            base = rows[-1]
            for r in rows[:-1]:
                r["vs_baseline_ndcg"] = r["ndcg@10"] - base["ndcg@10"]
        print_table(f"retrieval on {ds}", rows, cols)
        payload["datasets"][ds] = rows
    if args.latency_chunks:
        with tempfile.TemporaryDirectory() as tmp:
            lat = latency_10k(args.latency_chunks, Path(tmp))
        print_table("warm latency, large collection", [lat], list(lat))
        payload["latency_large"] = lat
    write_json("retrieval.json", payload)


if __name__ == "__main__":
    main()
