"""How long `rag eval` takes: 1,000 questions on a 10,000-chunk collection, extractive generator.

The collection is PubMedQA's and Cranfield's corpora together, chunked small
(72 tokens, 12 overlap) so they make over 10,000 chunks. The questions are all
225 Cranfield queries and the first 775 PubMedQA questions. The collection is
built first (not timed as part of the eval); then the real command runs in a
subprocess and its wall-clock time is what counts (imports, model load,
answering, metrics incl. ragas, reports). The subprocess's CPU seconds are
recorded too: on a shared machine the wall time depends on the other work,
and CPU seconds / 2 is what the run would take with both cores to itself:

    rag eval run QUESTIONS --collection bench --out DIR

Target: under 5 minutes on the 2-core development machine.

    python benchmarks/eval_speed.py [--questions 1000] [--chunk-tokens 72] [--keep DIR]
    python benchmarks/eval_speed.py --questions 20 --docs 50 --min-chunks 0   # smoke run
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, ROOT, console, print_table, write_json  # noqa: E402

TARGET_S = 300.0


def build(data_dir: Path, chunk_tokens: int, overlap: int, corpus: Path) -> dict:
    from connectors import JsonlConnector
    from rag.service import RAGService, ServiceConfig

    svc = RAGService(ServiceConfig(data_dir=data_dir, chunk_tokens=chunk_tokens, chunk_overlap=overlap))
    t0 = time.perf_counter()
    rep = svc.ingest("bench", JsonlConnector(corpus).load())
    return {"documents": rep.n_docs, "chunks": svc.pipeline("bench").snapshot.size,
            "ingest_s": round(time.perf_counter() - t0, 1)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--questions", type=int, default=1000)
    ap.add_argument("--chunk-tokens", type=int, default=72)
    ap.add_argument("--chunk-overlap", type=int, default=12)
    ap.add_argument("--min-chunks", type=int, default=10_000)
    ap.add_argument("--docs", type=int, default=0, help="smoke runs: only the first N documents of each corpus")
    ap.add_argument("--keep", type=Path, help="keep the run folder here (default: a temp folder, removed)")
    ap.add_argument("--no-ragas", action="store_true", help="time without the ragas metrics")
    args = ap.parse_args()

    conv = DATASETS / "converted"
    work = Path(tempfile.mkdtemp(prefix="rag-eval-speed-"))
    try:
        corpus = work / "corpus.jsonl"
        with corpus.open("w", encoding="utf-8") as f:
            for name in ("pubmedqa", "cranfield"):
                lines = [x for x in (conv / name / "corpus.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()]
                f.write("\n".join(lines[: args.docs or None]) + "\n")
        cran = [x for x in (conv / "cranfield" / "questions.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()]
        pub = [x for x in (conv / "pubmedqa" / "questions.jsonl").read_text(encoding="utf-8").split("\n") if x.strip()]
        qs = (cran + pub)[: args.questions]
        qfile = work / "questions.jsonl"
        qfile.write_text("\n".join(qs) + "\n", encoding="utf-8")

        data = work / "data"
        console.print(f"building the collection (chunk_tokens={args.chunk_tokens}, overlap={args.chunk_overlap}) …")
        coll = build(data, args.chunk_tokens, args.chunk_overlap, corpus)
        console.print(f"{coll['documents']} documents, {coll['chunks']} chunks in {coll['ingest_s']} s")
        if coll["chunks"] < args.min_chunks:
            console.print(f"[yellow]only {coll['chunks']} chunks (< {args.min_chunks}); lower --chunk-tokens[/]")

        out = args.keep or work / "run"
        if args.keep and out.exists():
            shutil.rmtree(out)
        env = {**os.environ, "RAG_DATA_DIR": str(data), "RAG_CHUNK_TOKENS": str(args.chunk_tokens),
               "RAG_CHUNK_OVERLAP": str(args.chunk_overlap), "RAG_GENERATOR": "extractive",
               "RAGAS_DO_NOT_TRACK": "true", "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
        cmd = [sys.executable, "-m", "rag.cli", "eval", "run", str(qfile), "--collection", "bench", "--out", str(out)]
        if args.no_ragas:
            cmd.append("--no-ragas")
        console.print("$ " + " ".join(cmd))
        ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
        t0 = time.perf_counter()
        p = subprocess.run(cmd, env=env, cwd=ROOT, capture_output=True, text=True)
        wall = time.perf_counter() - t0
        ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
        if p.returncode != 0:
            console.print(p.stdout[-3000:], p.stderr[-3000:])
            raise SystemExit(f"rag eval failed with exit code {p.returncode}")
        run = json.loads((out / "run.json").read_text())
        rep = json.loads((out / "report.json").read_text())
        agg = rep["aggregates"]
        answering = sum(s.get("wall_s") or 0 for s in run["sessions"])
        n = agg["n_questions"]
        m = agg["metrics"]
        row = {
            "questions": n, "chunks": coll["chunks"], "eval_wall_s": round(wall, 1), "answering_s": round(answering, 1),
            "startup_and_reports_s": round(wall - answering, 1), "questions_per_s": round(n / answering, 2),
            "latency_p50_ms": agg["latency_ms"]["p50"], "latency_p95_ms": agg["latency_ms"]["p95"],
            "cpu_s": round(cpu, 1), "cpu_s_per_core_of_2": round(cpu / 2, 1),
            "under_5_min": wall < TARGET_S, "ragas": run["scorer"]["available"],
        }
        load = os.getloadavg()
        print_table("rag eval speed (extractive generator)", [row], list(row))
        print_table("quality figures of the same run", [{k: m[k]["mean"] for k in ("hit@5", "mrr@10", "ndcg@10", "correct", "f1") if k in m}],
                    [k for k in ("hit@5", "mrr@10", "ndcg@10", "correct", "f1") if k in m])
        console.print(f"load average at the end: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f} (2 cores; other work shares them)")
        write_json("eval_speed.json" if not args.docs and args.questions >= 1000 else "eval_speed_smoke.json", {
            "benchmark": "eval_speed", "target_s": TARGET_S, "command": " ".join(cmd[1:]),
            "collection": {**coll, "chunk_tokens": args.chunk_tokens, "chunk_overlap": args.chunk_overlap,
                           "corpora": ["pubmedqa", "cranfield"]},
            "result": row, "load_average_end": load,
            "metrics": {k: v for k, v in m.items()}, "abstention": agg["abstention"],
        })
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
