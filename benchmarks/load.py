"""Load test of the REST API: N concurrent clients against ``/v1/chat`` while an ingest runs.

1. Builds (or reuses) a collection of about ``--chunks`` chunks (default 10,000)
   from the PubMedQA and Cranfield corpora (documents are added in order until
   the chunk count is reached; the rest are kept for the live ingest).
2. Starts ``uvicorn rag.api.app:create_app`` on 127.0.0.1 (loopback only), with
   an API key, and waits for ``/readyz``.
3. Runs ``--clients`` concurrent clients (default 32) for ``--duration`` seconds
   (default 60), each asking the datasets' questions through ``POST /v1/chat``
   back to back, while one more client ingests ``--ingest-docs`` new documents
   through ``POST /v1/collections/{c}/documents`` in batches of ``--ingest-batch``.
   Bounded: at most ``--max-requests`` questions and ``--ingest-docs`` documents;
   the clients stop at the deadline.
4. Prints a table (throughput, p50/p95/p99 latency, errors, server-side stage
   times from each answer's ``timings_ms``) and writes ``benchmarks/results/load.json``.

The documents ingested during the run are removed again at the start of the
next run, so the collection is reused as built. ``--profile N`` instead answers
N questions in-process under cProfile and prints where the time goes.

    python benchmarks/load.py [--clients 32] [--duration 60] [--chunks 10000] [--data-dir DIR] [--variants all]

Four servers run by default, one after the other on the same collection and
the same live documents: micro-batched questions (``RAG_QUERY_BATCH=32``) with
the int8 ONNX question encoder (``RAG_QUERY_ENCODER=onnx-int8``) and the API's
ingest in a low-priority child process (``RAG_INGEST_WORKER=process``, the
default), the same with the ingest in a server thread, batched fp32 questions,
and the one-by-one fp32 server with a thread ingest that a user would otherwise
run (``RAG_QUERY_BATCH=0``); each one's ratio to the last is printed and
written, with the CPU time per request of the server (with its ingest child)
and of the load client (they share the machine).
    python benchmarks/load.py --profile 200
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, ROOT, console, percentile, print_table, write_json  # noqa: E402

COLLECTION = "load"
LIVE_PREFIX = "live/"
API_KEY = "load-test-key"
CORPORA = ("pubmedqa", "cranfield")


# ----------------------------------------------------------------- data
def corpus_docs() -> list:
    """Documents of the corpora, interleaved so both subjects are spread over the collection."""
    from connectors import JsonlConnector
    from rag.types import Document

    per = []
    for name in CORPORA:
        path = DATASETS / "converted" / name / "corpus.jsonl"
        docs = [d for d in JsonlConnector(path).load() if isinstance(d, Document)]
        per.append([Document(id=f"{name}/{d.id}", title=d.title, text=d.text, source=f"{name}:{d.id}",
                             metadata=d.metadata) for d in docs])
    out = []
    for i in range(max(len(p) for p in per)):
        out.extend(p[i] for p in per if i < len(p))
    return out


def questions() -> list[str]:
    qs = []
    for name in CORPORA:
        path = DATASETS / "converted" / name / "questions.jsonl"
        with path.open(encoding="utf-8") as f:
            qs += [json.loads(line)["question"] for line in f if line.strip()]
    return [q for q in qs if q.strip()]


def settings(args):
    from rag.config import Settings

    return Settings(data_dir=args.data_dir, chunk_tokens=args.chunk_tokens, chunk_overlap=args.chunk_overlap)


def build(args) -> tuple[dict, list]:
    """The collection of about ``--chunks`` chunks (reused when present) and the documents kept for live ingest.

    The two corpora hold about 4,200 chunks at the default 200-token chunks, so the load collection uses
    smaller ones (``--chunk-tokens``, default 72) to reach 10,000 distinct chunks.
    """
    from rag.cli import make_service
    from rag.types import Document

    target_chunks = args.chunks
    svc = make_service(settings(args))
    docs = corpus_docs()
    if svc.store.exists(COLLECTION):
        m = svc.store.manifest(COLLECTION)
        live = [d for d in m["docs"] if d.startswith(LIVE_PREFIX)]
        if live:
            console.print(f"removing {len(live)} documents left by the last run's live ingest")
            svc.ingest(COLLECTION, [], delete_ids=live)
            m = svc.store.manifest(COLLECTION)
        if abs(m["n_chunks"] - target_chunks) <= max(200, target_chunks // 20) and m.get("sentence_model"):
            console.print(f"reusing collection {COLLECTION!r}: {m['n_docs']} documents, {m['n_chunks']} chunks")
            rest = [d for d in docs if d.id not in m["docs"]]
            return {"documents": m["n_docs"], "chunks": m["n_chunks"], "built_s": 0.0}, _live(rest, docs)
        console.print(f"collection has {m['n_chunks']} chunks (want {target_chunks}), sentence vectors: "
                      f"{bool(m.get('sentence_model'))}: rebuilding")
    chunker = svc.chunker()
    picked, n = [], 0
    for d in docs:
        if n >= target_chunks:
            break
        picked.append(d)
        n += len(chunker.chunk(d))
    rest = docs[len(picked):]
    if n < target_chunks:
        raise SystemExit(f"the corpora give only {n} chunks at --chunk-tokens {args.chunk_tokens}; "
                         f"lower it or ask for fewer --chunks")
    console.print(f"building collection {COLLECTION!r} from {len(picked)} documents (~{n} chunks) ...")
    t0 = time.perf_counter()
    report = svc.ingest(COLLECTION, picked, rebuild=True)
    built = time.perf_counter() - t0
    console.print(f"built: {report.n_docs} documents, {report.n_chunks} chunks in {built:.0f} s")
    return {"documents": report.n_docs, "chunks": report.n_chunks, "built_s": round(built, 1)}, _live(rest, docs)


def _live(rest: list, docs: list) -> list:
    """Documents for the live ingest: those not in the collection, then revised copies of the others."""
    from rag.types import Document

    revised = [Document(id=f"rev/{d.id}", title=d.title, text=f"{d.text}\n\nRevised edition.", source=d.source,
                        metadata=d.metadata) for d in docs[::-1]]
    return rest + revised


# --------------------------------------------------------------- server
def start_server(data_dir: Path, port: int, log_path: Path, extra_env: dict[str, str]) -> subprocess.Popen:
    import httpx

    env = {**os.environ, "RAG_DATA_DIR": str(data_dir), "RAG_API_KEYS": API_KEY, "RAG_RATE_LIMIT_PER_MINUTE": "0",
           "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1", "TOKENIZERS_PARALLELISM": "false", **extra_env}
    proc = subprocess.Popen([sys.executable, "-m", "uvicorn", "rag.api.app:create_app", "--factory",
                             "--host", "127.0.0.1", "--port", str(port), "--log-level", "warning",
                             "--no-access-log", "--limit-concurrency", "1000"],
                            cwd=ROOT, env=env, stdout=log_path.open("wb"), stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise SystemExit(f"server exited with {proc.returncode}; see {log_path}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200:
                return proc
        except httpx.HTTPError:
            pass
        time.sleep(0.5)
    proc.terminate()
    raise SystemExit("server not ready after 300 s")


def free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ----------------------------------------------------------------- load
def _cpu_s(pid: int | None) -> float:
    """CPU seconds (user + system) used so far by this process (``None``) or by process ``pid``
    and its live descendants (the server's ingest worker)."""
    if pid is None:
        import resource

        ru = resource.getrusage(resource.RUSAGE_SELF)
        return ru.ru_utime + ru.ru_stime
    total, todo = 0.0, [pid]
    while todo:
        p = todo.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
            total += (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")
            for task in Path(f"/proc/{p}/task").iterdir():
                todo += [int(c) for c in (task / "children").read_text().split()]
        except (OSError, IndexError, ValueError):
            continue
    return total


async def run_load(base: str, qs: list[str], live_docs: list, args, server_pid: int | None = None) -> dict:
    import httpx

    headers = {"Authorization": f"Bearer {API_KEY}"}
    limits = httpx.Limits(max_connections=args.clients + 4, max_keepalive_connections=args.clients + 4)
    rnd = random.Random(0)
    lat: list[float] = []
    statuses: Counter = Counter()
    errors: Counter = Counter()
    stages: dict[str, list[float]] = {}
    abstained = 0
    issued = 0
    ingest: dict = {"batches": 0, "documents": 0, "seconds": [], "statuses": Counter()}

    async with httpx.AsyncClient(base_url=base, headers=headers, limits=limits, timeout=args.timeout) as client:
        # warm-up: a few questions so first-call costs are not counted
        for q in qs[:4]:
            await client.post("/v1/chat", json={"collection": COLLECTION, "query": q})
        t_start = time.perf_counter()
        cpu0 = (_cpu_s(None), _cpu_s(server_pid) if server_pid else float("nan"))
        deadline = t_start + args.duration

        async def asker(i: int) -> None:
            nonlocal abstained, issued
            while time.perf_counter() < deadline and issued < args.max_requests:
                issued += 1
                q = qs[rnd.randrange(len(qs))]
                t0 = time.perf_counter()
                try:
                    r = await client.post("/v1/chat", json={"collection": COLLECTION, "query": q})
                except httpx.HTTPError as e:
                    errors[type(e).__name__] += 1
                    continue
                dt = time.perf_counter() - t0
                statuses[r.status_code] += 1
                if r.status_code != 200:
                    errors[f"HTTP {r.status_code}"] += 1
                    continue
                lat.append(dt * 1000)
                d = r.json()
                abstained += d["abstained"]
                for k, v in d["timings_ms"].items():
                    stages.setdefault(k, []).append(v)

        async def ingester() -> None:
            await asyncio.sleep(min(5.0, args.duration / 6))
            docs = live_docs[: args.ingest_docs]
            for s in range(0, len(docs), args.ingest_batch):
                if time.perf_counter() >= deadline - 1:
                    break
                batch = [{"id": LIVE_PREFIX + d.id, "title": d.title, "text": d.text} for d in docs[s:s + args.ingest_batch]]
                t0 = time.perf_counter()
                try:
                    r = await client.post(f"/v1/collections/{COLLECTION}/documents", json={"documents": batch},
                                          timeout=max(args.timeout, 600))
                    ingest["statuses"][r.status_code] += 1
                    if r.status_code == 200:
                        ingest["documents"] += len(r.json()["added"])
                except httpx.HTTPError as e:
                    ingest["statuses"][type(e).__name__] += 1
                ingest["seconds"].append(round(time.perf_counter() - t0, 2))
                ingest["batches"] += 1

        ingest_task = asyncio.create_task(ingester()) if args.ingest_docs and live_docs else None
        await asyncio.gather(*(asker(i) for i in range(args.clients)))
        wall = time.perf_counter() - t_start  # the question window; a running ingest batch is waited for below
        cpu1 = (_cpu_s(None), _cpu_s(server_pid) if server_pid else float("nan"))
        if ingest_task is not None:
            await ingest_task
        metrics_text = (await client.get("/metrics")).text

    ok = len(lat)
    return {
        "requests": sum(statuses.values()) + sum(v for k, v in errors.items() if not k.startswith("HTTP")),
        "ok": ok, "wall_s": round(wall, 1), "throughput_rps": round(ok / wall, 2),
        "latency_ms": {"p50": round(percentile(lat, 50), 1), "p95": round(percentile(lat, 95), 1),
                       "p99": round(percentile(lat, 99), 1), "max": round(max(lat), 1) if lat else None,
                       "mean": round(sum(lat) / ok, 1) if ok else None},
        "errors": dict(errors), "statuses": {str(k): v for k, v in statuses.items()},
        "abstention_rate": round(abstained / ok, 3) if ok else None,
        "server_stage_ms": {k: {"mean": round(sum(v) / len(v), 1), "p50": round(percentile(v, 50), 1),
                                "p95": round(percentile(v, 95), 1)} for k, v in stages.items()},
        "ingest": {**ingest, "statuses": {str(k): v for k, v in ingest["statuses"].items()}},
        "metrics_lines": sum(1 for ln in metrics_text.splitlines() if ln.startswith("rag_")),
        # where the 2 cores went during the window: the load client shares the machine with the server
        "cpu": {"client_s": round(cpu1[0] - cpu0[0], 1), "server_s": round(cpu1[1] - cpu0[1], 1),
                "client_ms_per_request": round(1000 * (cpu1[0] - cpu0[0]) / ok, 2) if ok else None,
                "server_ms_per_request": round(1000 * (cpu1[1] - cpu0[1]) / ok, 2) if ok else None},
    }


# -------------------------------------------------------------- profile
def profile(args, n: int) -> dict:
    """Answer n questions in-process, one at a time, under cProfile: stage means and the top functions."""
    import cProfile
    import io
    import pstats

    from rag.cli import make_service

    svc = make_service(settings(args))
    svc.warm_up()
    pipe = svc.pipeline(COLLECTION)
    qs = questions()
    rnd = random.Random(1)
    sample = [qs[rnd.randrange(len(qs))] for _ in range(n)]
    for q in sample[:3]:
        pipe.answer(q)
    stages: dict[str, list[float]] = {}
    # where the embedding time goes: query vectors vs the extractive generator's sentence vectors
    enc = svc.embedder.encode
    enc_calls: dict[str, list[float]] = {"texts": [], "ms": []}

    def timed_encode(texts, **kw):
        t0 = time.perf_counter()
        out = enc(texts, **kw)
        enc_calls["texts"].append(len(texts))
        enc_calls["ms"].append((time.perf_counter() - t0) * 1000)
        return out

    svc.embedder.encode = timed_encode
    prof = cProfile.Profile()
    t0 = time.perf_counter()
    prof.enable()
    for q in sample:
        a = pipe.answer(q)
        for k, v in a.timings_ms.items():
            stages.setdefault(k, []).append(v)
    prof.disable()
    wall = time.perf_counter() - t0
    svc.embedder.encode = enc
    buf = io.StringIO()
    pstats.Stats(prof, stream=buf).sort_stats("cumulative").print_stats(25)
    console.print(buf.getvalue())
    single = [ms for t, ms in zip(enc_calls["texts"], enc_calls["ms"]) if t == 1]
    multi = [(t, ms) for t, ms in zip(enc_calls["texts"], enc_calls["ms"]) if t > 1]
    out = {
        "questions": n, "ms_per_question": round(wall * 1000 / n, 1),
        "stage_ms": {k: {"mean": round(sum(v) / len(v), 1), "p95": round(percentile(v, 95), 1)} for k, v in stages.items()},
        "encode": {"query_calls": len(single), "query_ms_mean": round(sum(single) / max(len(single), 1), 1),
                   "sentence_calls": len(multi), "sentence_texts_mean": round(sum(t for t, _ in multi) / max(len(multi), 1), 1),
                   "sentence_ms_mean": round(sum(ms for _, ms in multi) / max(len(multi), 1), 1),
                   "encode_ms_per_question": round(sum(enc_calls["ms"]) / n, 1)},
    }
    console.print_json(json.dumps(out))
    return out


# ----------------------------------------------------------------- main
def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--clients", type=int, default=32)
    ap.add_argument("--duration", type=float, default=60.0, help="seconds of load")
    ap.add_argument("--chunks", type=int, default=10_000, help="chunks in the collection")
    ap.add_argument("--chunk-tokens", type=int, default=72, help="chunk size of the load collection")
    ap.add_argument("--chunk-overlap", type=int, default=12)
    ap.add_argument("--data-dir", type=Path, default=Path(os.environ.get("RAG_LOAD_DATA", "/tmp/rag-load-data")))
    ap.add_argument("--ingest-docs", type=int, default=300, help="documents ingested during the run (0 = none)")
    ap.add_argument("--ingest-batch", type=int, default=100)
    ap.add_argument("--max-requests", type=int, default=100_000)
    ap.add_argument("--timeout", type=float, default=60.0, help="per-request timeout (s)")
    ap.add_argument("--query-concurrency", type=int, default=0, help="server worker threads for questions (0 = CPUs)")
    ap.add_argument("--profile", type=int, default=0, metavar="N", help="profile N in-process questions instead")
    ap.add_argument("--out", default="load.json")
    ap.add_argument("--variants", default="all",
                    help="servers to measure, comma-separated: int8 (batched, int8 question encoder, ingest in a "
                         "low-priority child process), int8-thread (the same, ingest in a server thread), batched "
                         "(fp32 questions), one (one by one, fp32, ingest in a thread: the baseline), or all")
    args = ap.parse_args()
    for name in ("clients", "duration", "chunks", "ingest_batch", "max_requests"):
        if getattr(args, name) <= 0:
            ap.error(f"--{name.replace('_', '-')} must be > 0")

    args.data_dir.mkdir(parents=True, exist_ok=True)
    collection, live_docs = build(args)
    if args.profile:
        write_json(args.out.replace(".json", "-profile.json"),
                   {"collection": collection, "profile": profile(args, args.profile)})
        return
    qs = questions()
    variants = {"batched + int8, ingest process": {"RAG_QUERY_BATCH": "32", "RAG_QUERY_ENCODER": "onnx-int8",
                                                   "RAG_INGEST_WORKER": "process"},
                "batched + int8, ingest thread": {"RAG_QUERY_BATCH": "32", "RAG_QUERY_ENCODER": "onnx-int8",
                                                  "RAG_INGEST_WORKER": "thread"},
                "batched fp32, ingest process": {"RAG_QUERY_BATCH": "32", "RAG_QUERY_ENCODER": "torch",
                                                 "RAG_INGEST_WORKER": "process"},
                "one by one (RAG_QUERY_BATCH=0)": {"RAG_QUERY_BATCH": "0", "RAG_QUERY_ENCODER": "torch",
                                                   "RAG_INGEST_WORKER": "thread"}}
    keys = {"int8": "batched + int8, ingest process", "int8-thread": "batched + int8, ingest thread",
            "batched": "batched fp32", "one": "one by one"}
    if args.variants != "all":
        bad = [v for v in args.variants.split(",") if v not in keys]
        if bad:
            ap.error(f"--variants: unknown {bad}; choose from {sorted(keys)} or all")
        wanted = [keys[v] for v in args.variants.split(",")]
        variants = {k: v for k, v in variants.items() if any(k.startswith(w) for w in wanted)}
    results, rows, stage_rows = {}, [], []
    for name, env in variants.items():
        if results:  # every variant ingests the same live documents into the same collection
            _remove_live(args)
        res, startup = run_variant(args, qs, live_docs, env)
        results[name] = {"startup_s": round(startup, 1), "env": env, "result": res}
        lat = res["latency_ms"]
        rows.append({"server": name, "clients": args.clients, "duration s": res["wall_s"], "chunks": collection["chunks"],
                     "requests": res["requests"], "req/s": res["throughput_rps"], "p50 ms": lat["p50"],
                     "p95 ms": lat["p95"], "p99 ms": lat["p99"], "errors": sum(res["errors"].values()),
                     "ingested docs": f"{res['ingest']['documents']} in {res['ingest']['batches']} batches",
                     "CPU ms/req server": res["cpu"]["server_ms_per_request"],
                     "CPU ms/req client": res["cpu"]["client_ms_per_request"]})
        stage_rows += [{"server": name, "stage": k, **v} for k, v in res["server_stage_ms"].items()]
        if res["errors"]:
            console.print(f"[red]errors ({name}):[/] {res['errors']}")
    print_table("load: POST /v1/chat while ingesting", rows, list(rows[0]))
    print_table("server-side stage times (ms, from timings_ms)", stage_rows, ["server", "stage", "mean", "p50", "p95"])
    ratios = {}
    base = next((r for r in rows if r["server"].startswith("one by one")), None)
    for r in rows:
        if base is not None and r is not base:
            ratios[r["server"]] = {"throughput": round(r["req/s"] / max(base["req/s"], 1e-9), 2),
                                   "p95": round(r["p95 ms"] / max(base["p95 ms"], 1e-9), 3)}
            console.print(f"{r['server']} / one by one: throughput x{ratios[r['server']]['throughput']}, "
                          f"p95 x{ratios[r['server']]['p95']}")
    write_json(args.out, {"config": {k: (str(v) if isinstance(v, Path) else v) for k, v in vars(args).items()},
                          "collection": collection, "variants": results, "ratios_vs_one_by_one": ratios,
                          "target": {"p95_ms": 300, "errors": 0}})


def _remove_live(args) -> None:
    from rag.cli import make_service

    svc = make_service(settings(args))
    live = [d for d in svc.store.manifest(COLLECTION)["docs"] if d.startswith(LIVE_PREFIX)]
    if live:
        svc.ingest(COLLECTION, [], delete_ids=live)
    svc.close()


def run_variant(args, qs: list[str], live_docs: list, env: dict[str, str]) -> tuple[dict, float]:
    port = free_port()
    log_path = args.data_dir / "server.log"
    extra = {"RAG_CHUNK_TOKENS": str(args.chunk_tokens), "RAG_CHUNK_OVERLAP": str(args.chunk_overlap), **env}
    if args.query_concurrency:
        extra["RAG_QUERY_CONCURRENCY"] = str(args.query_concurrency)
    console.print(f"starting uvicorn on 127.0.0.1:{port} with {env} (log: {log_path}) ...")
    t0 = time.perf_counter()
    proc = start_server(args.data_dir, port, log_path, extra)
    startup = time.perf_counter() - t0
    console.print(f"ready in {startup:.1f} s; {args.clients} clients for {args.duration:.0f} s, "
                  f"ingesting {min(args.ingest_docs, len(live_docs))} documents meanwhile")
    try:
        res = asyncio.run(run_load(f"http://127.0.0.1:{port}", qs, live_docs, args, server_pid=proc.pid))
    finally:
        proc.terminate()
        try:
            proc.wait(20)
        except subprocess.TimeoutExpired:
            proc.kill()
    return res, startup

if __name__ == "__main__":
    main()
