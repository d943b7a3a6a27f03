"""The int8 ONNX question encoder against the fp32 sentence-transformers one, in one run.

For PubMedQA and Cranfield (``../shared/datasets/converted``): the corpus is
embedded once with the fp32 MiniLM (as every collection is), then the questions
are embedded by both encoders and searched against the same passage vectors
(exact inner product). Quality: hit@1, MRR@10, nDCG@10 (graded on Cranfield)
and the cosine between the two encoders' vectors of each question. Speed: ms
for a batch of 32 questions (what the API's micro-batcher hands over) and for a
single question, on this machine.

    python benchmarks/query_encoder.py [--datasets pubmedqa,cranfield] [--rounds 10]

Writes ``benchmarks/results/query_encoder.json``.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, print_table, write_json  # noqa: E402


def _rank_metrics(scores: np.ndarray, doc_ids: list[str], questions) -> dict[str, float]:
    from eval.metrics import hit_at_k, mrr_at_k, ndcg_at_k

    top = np.argsort(-scores, axis=1)[:, :10]
    h1, mrr, nd = [], [], []
    for row, q in zip(top, questions):
        ranked = [doc_ids[i] for i in row]
        gold = q.qrels or q.gold_doc_ids
        h1.append(hit_at_k(ranked, q.gold_doc_ids, 1))
        mrr.append(mrr_at_k(ranked, q.gold_doc_ids, 10))
        nd.append(ndcg_at_k(ranked, gold, 10))
    # a question without judged documents is undefined (nan) and left out, as in `rag eval`
    return {"hit@1": float(np.nanmean(h1)), "mrr@10": float(np.nanmean(mrr)), "ndcg@10": float(np.nanmean(nd))}


def _speed(encode, questions: list[str], rounds: int) -> dict[str, float]:
    batches = [questions[(i * 32) % max(len(questions) - 32, 1):][:32] for i in range(rounds)]
    encode(batches[0])
    t0 = time.perf_counter()
    for b in batches:
        encode(b)
    batch_ms = (time.perf_counter() - t0) * 1000 / rounds
    singles = questions[:32]
    t0 = time.perf_counter()
    for q in singles:
        encode([q])
    return {"ms_per_32": round(batch_ms, 1), "ms_per_single": round((time.perf_counter() - t0) * 1000 / len(singles), 2)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", default="pubmedqa,cranfield")
    ap.add_argument("--rounds", type=int, default=10, help="batches of 32 timed per encoder")
    ap.add_argument("--out", default="query_encoder.json")
    args = ap.parse_args()

    from eval.datasets import load_corpus, load_questions
    from rag.embedding import SentenceTransformerEmbedder
    from rag.onnx_encoder import OnnxInt8Encoder

    fp32 = SentenceTransformerEmbedder()
    fp32.warm_up()
    with tempfile.TemporaryDirectory() as tmp:
        t0 = time.perf_counter()
        int8 = OnnxInt8Encoder(fp32, tmp)
        int8.warm_up()
        export_s = time.perf_counter() - t0
        rows, speed_rows, out = [], [], {"export_s": round(export_s, 1), "datasets": {}}
        for name in args.datasets.split(","):
            folder = DATASETS / "converted" / name
            docs = list(load_corpus(folder / "corpus.jsonl"))
            questions = load_questions(folder / "questions.jsonl")
            texts = [f"{d.get('title', '')}\n{d['text']}".strip() for d in docs]
            console.print(f"{name}: embedding {len(texts)} passages (fp32) ...")
            passages = fp32.encode(texts, show_progress=True)
            doc_ids = [str(d["id"]) for d in docs]
            qtexts = [q.question for q in questions]
            res = {}
            vecs = {}
            for label, enc in (("fp32 (sentence-transformers)", fp32), ("int8 ONNX", int8)):
                vecs[label] = enc.encode(qtexts)
                res[label] = _rank_metrics(vecs[label] @ passages.T, doc_ids, questions)
                rows.append({"data": name, "question encoder": label, "questions": len(questions),
                             **{k: round(v, 4) for k, v in res[label].items()}})
            cos = (vecs["fp32 (sentence-transformers)"] * vecs["int8 ONNX"]).sum(1)
            rows[-1]["cos to fp32 (mean/min)"] = f"{cos.mean():.4f} / {cos.min():.4f}"
            out["datasets"][name] = {"questions": len(questions), "passages": len(texts), "results": res,
                                     "cosine_mean": float(cos.mean()), "cosine_min": float(cos.min()),
                                     "delta_int8_minus_fp32": {k: round(res["int8 ONNX"][k] - res["fp32 (sentence-transformers)"][k], 4)
                                                               for k in res["int8 ONNX"]}}
            if not speed_rows:
                for label, enc in (("fp32 (sentence-transformers)", fp32), ("int8 ONNX", int8)):
                    sp = _speed(enc.encode, qtexts, args.rounds)
                    speed_rows.append({"question encoder": label, **sp})
                speed_rows[1]["speed-up (32)"] = round(speed_rows[0]["ms_per_32"] / speed_rows[1]["ms_per_32"], 2)
                speed_rows[1]["speed-up (single)"] = round(speed_rows[0]["ms_per_single"] / speed_rows[1]["ms_per_single"], 2)
                out["speed"] = speed_rows
    print_table("dense retrieval: the same fp32 passage vectors, questions by each encoder", rows, list(rows[-1]))
    print_table(f"question encoding speed (int8 export took {export_s:.1f} s, once per model)", speed_rows,
                list(speed_rows[1]))
    write_json(args.out, out)


if __name__ == "__main__":
    main()
