"""`rag finetune` on real questions never used in training: base MiniLM vs fine-tuned embedder vs
fine-tuned embedder + trained reranker, dense and hybrid (RRF with BM25), side by side.

PubMedQA: train on its abstracts, evaluate on its 1,000 questions. Cranfield: train on its 1,400
documents, evaluate on its graded queries (nDCG@10 with grades 1 = most relevant .. 4; the same
question filter and scoring as benchmarks/retrieval.py). Training sees the corpus text only.

    python benchmarks/finetune.py [--datasets cranfield pubmedqa] [--max-pairs 600] [--compare-losses]
                                  [--rerank-depth 20] [--threads 1] [--cache DIR]

The base collections are ingested once into --cache (default /tmp/rag-finetune-bench) and reused;
their trained models land in <cache>/<dataset>/<dataset>/models/. Results: benchmarks/results/finetune.json.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, print_table, write_json  # noqa: E402
from benchmarks.retrieval import score  # noqa: E402

from eval.datasets import load_questions  # noqa: E402


def ranked_ids(results, n: int = 50) -> list[list[str]]:
    return [[h.chunk.doc_id for h in r.fused[:n]] for r in results]


class CEScores:
    """Cross-encoder scores, cached per (question, chunk) so variants that share candidates pay once."""

    def __init__(self, path: str, batch_size: int = 64) -> None:
        from rag.rerank import CrossEncoderReranker

        r = CrossEncoderReranker(path)
        r.warm_up()
        self.model = r._model
        self.batch_size = batch_size
        self.cache: dict[tuple[int, str], float] = {}
        self.seconds = 0.0
        self.pairs_scored = 0

    def fill(self, questions: list[str], cands: list[list]) -> None:
        from rag.chunking import embed_text

        todo = [(qi, h.chunk) for qi, hs in enumerate(cands) for h in hs if (qi, h.chunk.id) not in self.cache]
        todo = list({(qi, c.id): (qi, c) for qi, c in todo}.values())
        if not todo:
            return
        t = time.perf_counter()
        scores = self.model.predict([(questions[qi], embed_text(c)) for qi, c in todo], batch_size=self.batch_size,
                                    show_progress_bar=True)
        self.seconds += time.perf_counter() - t
        self.pairs_scored += len(todo)
        for (qi, c), s in zip(todo, scores):
            self.cache[(qi, c.id)] = float(s)

    def rerank(self, questions: list[str], results, depth: int, fuse_first_stage: bool = False) -> list[list[str]]:
        cands = [r.fused[:depth] for r in results]
        self.fill(questions, cands)
        out = []
        for qi, (r, hs) in enumerate(zip(results, cands)):
            order = sorted(hs, key=lambda h: -self.cache[(qi, h.chunk.id)])
            if fuse_first_stage:  # RRF of the reranker's order with the first stage's
                rr = {h.chunk.id: i for i, h in enumerate(order, 1)}
                order = sorted(hs, key=lambda h: -(1 / (60 + h.ranks["fused"]) + 1 / (60 + rr[h.chunk.id])))
            out.append([h.chunk.doc_id for h in order] + [h.chunk.doc_id for h in r.fused[depth:50]])
        return out


def _emb_file(ft, snap, folder: Path) -> Path:
    slug = "".join(ch if ch.isalnum() else "_" for ch in ft.model_id)
    return folder / f"emb-{slug}-{snap.path.name}.npy"


def corpus_embeddings(ft, snap, folder: Path):
    """The corpus embedded by the fine-tuned model, cached next to the base collection."""
    import json

    import numpy as np

    from rag.chunking import embed_text

    f = _emb_file(ft, snap, folder)
    if f.is_file():
        return np.load(f), json.loads(f.with_suffix(".json").read_text())["seconds"]
    t = time.perf_counter()
    emb = ft.encode([embed_text(c) for c in snap.chunks], batch_size=64)
    np.save(f, emb)
    f.with_suffix(".json").write_text(json.dumps({"seconds": time.perf_counter() - t}))
    return emb, 0.0


def reuse_report(store, ds: str) -> dict | None:
    """The latest trained models of a collection, as finetune_collection reports them (from their cards)."""
    import json
    import re

    from rag.finetune.runner import _summary, models_dir

    d = models_dir(store, ds)
    rep: dict = {"reused": True}
    for kind in ("embedder", "reranker"):  # the latest complete model of each kind
        versions = sorted(int(m.group(1)) for p in (d.iterdir() if d.is_dir() else [])
                          if (m := re.match(rf"^{kind}-v(\d+)$", p.name)) and (p / "rag_model.json").is_file())
        if not versions:
            continue
        rep["version"] = max(rep.get("version", 0), versions[-1])
        card_file = d / f"{kind}-v{versions[-1]}" / "rag_model.json"
        if card_file.is_file():
            card = json.loads(card_file.read_text())
            rep[kind] = {"path": str(card_file.parent), "model_id": card["model_id"], **_summary(card)}
            rep["data"] = card.get("data")
    return rep if "embedder" in rep else None


def run_dataset(ds: str, args) -> dict:
    from connectors import JsonlConnector
    from rag.embedding import SentenceTransformerEmbedder
    from rag.finetune import FinetuneOptions, finetune_collection
    from rag.finetune.runner import options_dict
    from rag.retrieval import HybridRetriever
    from rag.service import RAGService, ServiceConfig
    from rag.vector_index import FaissIndex

    folder = DATASETS / "converted" / ds
    questions = [q for q in load_questions(folder / "questions.jsonl") if q.gold_doc_ids]
    if args.limit:
        questions = questions[: args.limit]
    texts = [q.question for q in questions]
    console.print(f"[bold]{ds}[/]: {len(questions)} evaluation questions (never used in training)")
    svc = RAGService(ServiceConfig(data_dir=Path(args.cache) / ds))
    store = svc.store
    timings: dict[str, float] = {}
    t = time.perf_counter()
    if not store.exists(ds):
        svc.ingest(ds, JsonlConnector(folder / "corpus.jsonl").load())
        timings["ingest_s"] = time.perf_counter() - t
    snap = store.load(ds, model_id=svc.embedder.model_id)
    t = time.perf_counter()
    qv = svc.embedder.encode(texts, batch_size=128)
    timings["encode_questions_base_s"] = time.perf_counter() - t
    rrf = HybridRetriever(50, 1.0, 1.0)
    dense = HybridRetriever(50, 1.0, 0.0)
    res = {"base_dense": dense.retrieve_many(snap, texts, qv), "base_rrf": rrf.retrieve_many(snap, texts, qv)}
    rows = [{"system": "base MiniLM: dense", **score(dict(zip([q.id for q in questions], ranked_ids(res["base_dense"]))), questions)},
            {"system": "base MiniLM: hybrid RRF", **score(dict(zip([q.id for q in questions], ranked_ids(res["base_rrf"]))), questions)}]

    question_gen = None
    if args.llm_questions:
        from rag.finetune.pairs import question_writer
        from rag.llm import LocalGenerator

        llm = LocalGenerator(svc.embedder, n_threads=args.threads or 2)
        llm.warm_up()
        if llm.backend_used is None:
            raise SystemExit(f"--llm-questions: the local model did not load: {llm._error}")
        question_gen = question_writer(llm)
    opts = FinetuneOptions(max_pairs=args.max_pairs, epochs=args.epochs, heldout=args.heldout,
                           reranker_queries=args.reranker_queries, compare_losses=args.compare_losses,
                           loss=args.loss, train_layers=args.train_layers, batch_size=args.batch_size,
                           max_seq_length=args.max_seq_length, reranker=not args.no_reranker, seed=args.seed,
                           lr=args.lr, embedder_negatives=args.embedder_negatives,
                           structural_share=args.structural_share, generate=question_gen)
    last = {"stage": None, "t": time.perf_counter()}

    def progress(stage: str, done: int, total: int) -> None:
        now = time.perf_counter()
        if stage != last["stage"] or done == total or now - last["t"] > 60:
            console.print(f"  {stage}: {done}/{total}  (+{now - last['t']:.0f} s)")
            last["stage"] = stage
            last["t"] = now

    t = time.perf_counter()
    rep = reuse_report(store, ds) if args.reuse else None
    if rep is None:
        rep = finetune_collection(store, ds, svc.embedder, opts, progress)
        timings["finetune_total_s"] = time.perf_counter() - t
    else:
        console.print(f"  reusing trained models v{rep['version']} (their cards give the training times)")
    timings["embedder_train_s"] = rep["embedder"]["seconds"]
    timings["reranker_train_s"] = rep.get("reranker", {}).get("seconds", 0.0)
    if rep["embedder"].get("loss_comparison"):
        timings["embedder_train_s"] = sum(v["seconds"] for v in rep["embedder"]["loss_comparison"].values())

    # the fine-tuned collection, built in memory (the cached base stays as it is)
    from rag.chunking import embed_text

    ft = SentenceTransformerEmbedder(rep["embedder"]["path"])
    ft.warm_up()
    t = time.perf_counter()
    emb, cached = corpus_embeddings(ft, snap, Path(args.cache) / ds)
    timings["reembed_corpus_s" if not cached else "reembed_corpus_s (earlier run)"] = cached or (time.perf_counter() - t)
    ft_snap = dataclasses.replace(snap, embeddings=emb, vindex=FaissIndex.build(emb, "none", use_gpu=False))
    fqv = ft.encode(texts, batch_size=128)
    res["ft_dense"] = dense.retrieve_many(ft_snap, texts, fqv)
    res["ft_rrf"] = rrf.retrieve_many(ft_snap, texts, fqv)
    ids = [q.id for q in questions]
    label = f"fine-tuned ({rep['embedder']['loss']})"
    rows.append({"system": f"{label}: dense", **score(dict(zip(ids, ranked_ids(res["ft_dense"]))), questions)})
    rows.append({"system": f"{label}: hybrid RRF", **score(dict(zip(ids, ranked_ids(res["ft_rrf"]))), questions)})
    if "reranker" in rep and not args.no_reranker:
        ce = CEScores(rep["reranker"]["path"])
        d = args.rerank_depth
        variants = [("ft_rrf", f"{label}: hybrid RRF + reranker", False),
                    ("ft_rrf", f"{label}: hybrid RRF + reranker, RRF with first stage", True),
                    ("ft_dense", f"{label}: dense + reranker", False)]
        if args.base_rerank:
            variants.append(("base_rrf", "base MiniLM: hybrid RRF + trained reranker", False))
        for key, name, fuse in variants:
            ranked = ce.rerank(texts, res[key], d, fuse_first_stage=fuse)
            rows.append({"system": name, **score(dict(zip(ids, ranked)), questions)})
        timings["rerank_eval_s"] = ce.seconds
        timings["rerank_pairs_scored"] = ce.pairs_scored
    base = rows[1]["ndcg@10"]
    for r in rows:
        r["vs_base_rrf_ndcg"] = r["ndcg@10"] - base
    return {"questions": len(questions), "rows": rows, "timings": timings, "finetune": rep,
            "options": options_dict(opts), "rerank_depth": args.rerank_depth}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--datasets", nargs="+", default=["cranfield", "pubmedqa"])
    ap.add_argument("--max-pairs", type=int, default=600, help="training pairs per dataset (the time budget)")
    ap.add_argument("--epochs", type=int, default=1)
    ap.add_argument("--heldout", type=int, default=60)
    ap.add_argument("--reranker-queries", type=int, default=200)
    ap.add_argument("--loss", default="", help="mnrl or triplet (default: rag.finetune.DEFAULT_LOSS)")
    ap.add_argument("--compare-losses", action="store_true", help="train both losses, keep the better on held-out")
    ap.add_argument("--train-layers", type=int, default=-1)
    ap.add_argument("--batch-size", type=int, default=16)
    ap.add_argument("--lr", type=float, default=0.0, help="embedder learning rate (0 = the library's)")
    ap.add_argument("--embedder-negatives", type=int, default=1,
                    help="mined hard negatives per MNRL example (0 = in-batch negatives only)")
    ap.add_argument("--llm-questions", action="store_true",
                    help="also train on questions the packaged SmolLM2 writes (llama-cpp-python, --threads or 2 threads)")
    ap.add_argument("--structural-share", type=float, default=0.6,
                    help="share of the pair budget titles/headings may take (the rest inverse-cloze)")
    ap.add_argument("--max-seq-length", type=int, default=128)
    ap.add_argument("--rerank-depth", type=int, default=20)
    ap.add_argument("--base-rerank", action="store_true", help="also rerank the base pipeline's candidates")
    ap.add_argument("--no-reranker", action="store_true")
    ap.add_argument("--limit", type=int, default=0, help="questions per dataset (0 = all)")
    ap.add_argument("--threads", type=int, default=0, help="torch CPU threads (0 = torch's default)")
    ap.add_argument("--cache", default=os.environ.get("RAG_FT_BENCH_CACHE", "/tmp/rag-finetune-bench"))
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--out", default="finetune.json")
    ap.add_argument("--reuse", action="store_true", help="evaluate the latest trained models instead of training")
    ap.add_argument("--embed-only", default="", help="only embed DATASET's corpus with its latest embedder (cache)")
    args = ap.parse_args()
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    if args.embed_only:
        from rag.embedding import SentenceTransformerEmbedder
        from rag.store import Store

        store = Store(Path(args.cache) / args.embed_only)
        rep = reuse_report(store, args.embed_only)
        ft = SentenceTransformerEmbedder(rep["embedder"]["path"])
        snap = store.load(args.embed_only)
        emb, _ = corpus_embeddings(ft, snap, Path(args.cache) / args.embed_only)
        console.print(f"embedded {emb.shape} with {ft.model_id}")
        return
    cols = ["system", "hit@1", "mrr@10", "ndcg@10", "vs_base_rrf_ndcg"]
    payload: dict = {"command": "python benchmarks/finetune.py " + " ".join(sys.argv[1:]),
                     "device": "cuda" if torch.cuda.is_available() else "cpu",
                     "load_average_at_start": os.getloadavg(), "datasets": {}}
    t0 = time.perf_counter()
    for ds in args.datasets:
        out = run_dataset(ds, args)
        print_table(f"rag finetune on {ds} ({out['questions']} questions)", out["rows"], cols)
        print_table(f"{ds}: seconds", [{k: round(v, 1) for k, v in out["timings"].items()}], list(out["timings"]))
        payload["datasets"][ds] = out
        write_json(args.out, payload)  # after each dataset, so a long run keeps what it has
    payload["total_s"] = time.perf_counter() - t0
    payload["load_average_at_end"] = os.getloadavg()
    write_json(args.out, payload)


if __name__ == "__main__":
    main()
