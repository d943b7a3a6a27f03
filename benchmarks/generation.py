"""Generation quality on RGB en_fact and PubMedQA: extractive vs SmolLM2 without and with answer checks.

Passages are given directly (no index): a question's context is built from the
dataset's own passages, so the numbers measure the generator alone.

* accuracy: RGB context = up to 3 positive passages + 2 negative ones (noise 0.4),
  shuffled; PubMedQA context = the question's abstract paragraphs.
  Metrics: token F1 and contains-answer against the gold answer (RGB: every
  answer part present; PubMedQA: F1 against the long answer and yes/no/maybe
  decision accuracy, the first decision word of the answer).
* negative rejection: the context holds only passages without the answer
  (RGB: 5 negative passages; PubMedQA: the abstract of another question);
  the rate is the share of answers that abstain / say they cannot answer.
* unsupported sentences: every answer sentence of every non-abstaining answer
  is scored against all the context passages by the checker's scorer
  (``GroundingChecker.score``, MiniLM cosine) with one fixed threshold
  (``--judge-threshold``, default 0.55) for all systems; the share below it.
* speed: SmolLM2 runs in-process (llama-cpp-python, streamed), so every call
  gives time to first token and decode tokens/s.
* threshold sweep (``--sweep``): the scorer's support for gold-answer statements
  against their own passages (supported) vs other questions' passages
  (unsupported) and vs the question's negative passages (on topic, no answer):
  ROC AUC and the share kept / rejected at several thresholds.

SmolLM2 generates once per question; "without checks" and "with checks" are the
same raw answer finished with ``checks=False`` / ``checks=True``. With
``--selfcheck N`` a fourth system finishes it with checks and SelfCheckGPT
sampling as well: N more answers at ``--selfcheck-temperature``; sentences the
samples do not repeat (consistency < the library's ``selfcheck_threshold``) are
dropped, and an answer left with none abstains. Its extra time per answer is
reported as ``selfcheck_s``.

    .venv/bin/python benchmarks/generation.py --limit 25 --sweep
    .venv/bin/python benchmarks/generation.py --limit 100 --selfcheck 5
"""

from __future__ import annotations

import argparse
import json
import os
import random
import re
import statistics
import sys
import time
from pathlib import Path

os.environ.setdefault("COLUMNS", "160")  # wide enough for the results table
sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, print_table, write_json  # noqa: E402

SYSTEMS = ("extractive", "smollm2", "smollm2+checks")
SELFCHECK = "smollm2+checks+selfcheck"


def hits(texts: list[str], prefix: str):
    from rag.types import Chunk, Hit

    return [Hit(Chunk(id=f"{prefix}#{i}", doc_id=f"{prefix}-{i}", text=t, position=0), 1.0 - 0.01 * i)
            for i, t in enumerate(texts)]


def rgb_parts(answer) -> list[list[str]]:
    if isinstance(answer, str):
        return [[answer]]
    return [[a] if isinstance(a, str) else [str(x) for x in a] for a in answer]


def load_rgb(limit: int, seed: int) -> list[dict]:
    rows = [json.loads(l) for l in (DATASETS / "rgb" / "en_fact.json").read_text().splitlines() if l.strip()]
    rng = random.Random(seed)
    out = []
    for r in rows[:limit]:
        pos, neg = list(r["positive"]), list(r["negative"])
        ctx = pos[:3] + neg[:2]
        rng.shuffle(ctx)
        parts = rgb_parts(r["answer"])
        out.append({"id": f"rgb{r['id']}", "question": r["query"], "context": ctx, "negative": neg[:5],
                    "golds": [a for p in parts for a in p], "parts": parts})
    return out


def load_pubmedqa(limit: int, seed: int) -> list[dict]:
    data = json.loads((DATASETS / "pubmedqa" / "ori_pqal.json").read_text())
    items = sorted(data.items())
    rng = random.Random(seed)
    picked = rng.sample(range(len(items)), min(limit, len(items)))
    out = []
    for i in picked:
        pid, r = items[i]
        other = items[(i + len(items) // 2) % len(items)][1]  # an unrelated question's abstract
        out.append({"id": f"pubmed{pid}", "question": r["QUESTION"], "context": list(r["CONTEXTS"]),
                    "negative": list(other["CONTEXTS"]), "golds": [r["LONG_ANSWER"]],
                    "decision": r["final_decision"]})
    return out


_DECISION = re.compile(r"\b(yes|no|maybe)\b", re.I)


def decision_of(text: str) -> str | None:
    m = _DECISION.search(text or "")
    return m.group(1).lower() if m else None


def run_llm(llm, question: str, ctx) -> tuple[str, dict]:
    """One streamed SmolLM2 answer: raw text and timing stats."""
    s = llm.stream(question, ctx)
    for _ in s:
        pass
    meta = s.generation.meta
    return meta["raw"], {k: meta.get(k) for k in ("ttft_s", "tokens_per_s", "completion_tokens", "latency_s")}


def evaluate(ds_name: str, items: list[dict], extractive, llm, checker, judge_thr: float,
             selfcheck: int = 0) -> tuple[list[dict], dict]:
    from eval.metrics import contains_answer, contains_answer_parts, token_f1

    systems = SYSTEMS + ((SELFCHECK,) if selfcheck else ())
    per = {s: {"f1": [], "contains": [], "decision": [], "answered": [], "rejected": [], "unsup": 0, "sents": 0}
           for s in systems}
    speed = {"ttft_s": [], "tokens_per_s": [], "latency_s": [], "completion_tokens": [], "selfcheck_s": []}
    records = []
    t0 = time.perf_counter()
    for n, it in enumerate(items, 1):
        q = it["question"]
        for mode in ("pos", "neg"):
            ctx = hits(it["context"] if mode == "pos" else it["negative"], f"{it['id']}-{mode}")
            gens = {"extractive": extractive.generate(q, ctx)}
            raw, stats = run_llm(llm, q, ctx)
            for k, v in stats.items():
                if v is not None:
                    speed[k].append(v)
            gens["smollm2"] = llm.finish(q, ctx, raw, stats, checks=False)
            gens["smollm2+checks"] = llm.finish(q, ctx, raw, stats, checks=True)
            if selfcheck:
                t = time.perf_counter()
                gens[SELFCHECK] = llm.finish(q, ctx, raw, stats, checks=True, selfcheck_samples=selfcheck)
                if not gens["smollm2+checks"].abstained:  # sampling runs only on answers the checks kept
                    speed["selfcheck_s"].append(time.perf_counter() - t)
            rec = {"id": it["id"], "mode": mode, "question": q, "raw": raw}
            for s, g in gens.items():
                text = "" if g.abstained else g.text
                rec[s] = {"text": g.text, "abstained": g.abstained}
                if "selfcheck" in g.meta:
                    rec[s]["selfcheck"] = {k: g.meta["selfcheck"][k] for k in ("consistency", "n_clusters")}
                if mode == "neg":
                    per[s]["rejected"].append(float(g.abstained))
                    continue
                per[s]["answered"].append(float(not g.abstained))
                per[s]["f1"].append(token_f1(text, it["golds"]))
                per[s]["contains"].append(contains_answer_parts(text, it["parts"]) if "parts" in it
                                          else contains_answer(text, it["golds"]))
                if "decision" in it:
                    per[s]["decision"].append(float(decision_of(text) == it["decision"]))
            # unsupported sentences, judged the same way for every system, on both kinds of context
            for s, g in gens.items():
                if not g.abstained:
                    bad, tot = checker.unsupported_share(g.text, ctx, q, threshold=judge_thr)
                    per[s]["unsup"] += bad
                    per[s]["sents"] += tot
            records.append(rec)
        if n % 5 == 0 or n == len(items):
            console.print(f"  {ds_name}: {n}/{len(items)} questions, {time.perf_counter() - t0:.0f} s")
    rows = []
    for s in systems:
        p = per[s]
        mean = lambda xs: sum(xs) / len(xs) if xs else float("nan")  # noqa: E731
        rows.append({"dataset": ds_name, "system": s, "n": len(items), "token_f1": mean(p["f1"]),
                     "contains_answer": mean(p["contains"]),
                     "decision_acc": mean(p["decision"]) if p["decision"] else "-",
                     "answered": mean(p["answered"]), "neg_rejection": mean(p["rejected"]),
                     "unsupported": p["unsup"] / p["sents"] if p["sents"] else 0.0, "sentences": p["sents"]})
    sp = {k: round(statistics.median(v), 3) for k, v in speed.items() if v}
    sp["calls"] = len(speed["latency_s"])
    return rows, {"speed": sp, "records": records}


def sweep(checker, rgb: list[dict], pubmed: list[dict]) -> dict:
    """Support of gold statements: own passages (supported) vs other / negative passages (unsupported)."""
    from sklearn.metrics import roc_auc_score

    sup, off, neg = [], [], []
    items = [(f"{it['question']} {it['golds'][0]}", it) for it in rgb] + \
            [(it["golds"][0], it) for it in pubmed]
    for k, (stmt, it) in enumerate(items):
        other = items[(k + len(items) // 2) % len(items)][1]
        for s in [u for u in re.split(r"(?<=[.!?])\s+", stmt) if len(u) > 3]:
            sup.append(checker.score([s], hits(it["context"], f"sw{k}p"), question=it["question"])[0][0])
            off.append(checker.score([s], hits(other["context"], f"sw{k}o"), question=it["question"])[0][0])
            if it in rgb:
                neg.append(checker.score([s], hits(it["negative"], f"sw{k}n"), question=it["question"])[0][0])
    out = {"n_supported": len(sup), "auc_offtopic": round(roc_auc_score([1] * len(sup) + [0] * len(off), sup + off), 4),
           "auc_negative_rgb": round(roc_auc_score([1] * len(sup[:len(neg)]) + [0] * len(neg), sup[:len(neg)] + neg), 4),
           "thresholds": []}
    for t in (0.35, 0.45, 0.5, 0.55, 0.6, 0.65, 0.7):
        out["thresholds"].append({"threshold": t, "supported_kept": sum(x >= t for x in sup) / len(sup),
                                  "offtopic_rejected": sum(x < t for x in off) / len(off),
                                  "negative_rejected": sum(x < t for x in neg) / len(neg) if neg else None})
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--limit", type=int, default=25, help="questions per dataset")
    ap.add_argument("--datasets", default="rgb,pubmedqa")
    ap.add_argument("--max-tokens", type=int, default=96)
    ap.add_argument("--context-chars", type=int, default=2500, help="passage budget in the prompt")
    ap.add_argument("--threshold", type=float, default=None, help="checker support threshold (default: the library's)")
    ap.add_argument("--judge-threshold", type=float, default=0.55, help="fixed threshold for 'unsupported'")
    ap.add_argument("--threads", type=int, default=None)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--sweep", action="store_true", help="also measure the support threshold")
    ap.add_argument("--selfcheck", type=int, default=0, help="N > 0: add SmolLM2 + checks + N self-check samples")
    ap.add_argument("--selfcheck-temperature", type=float, default=1.0)
    ap.add_argument("--out", default="generation.json")
    args = ap.parse_args()

    from rag.embedding import SentenceTransformerEmbedder
    from rag.generate import ExtractiveGenerator
    from rag.llm import DEFAULT_SUPPORT_THRESHOLD, GroundingChecker, LocalGenerator

    emb = SentenceTransformerEmbedder()
    emb.warm_up()
    thr = DEFAULT_SUPPORT_THRESHOLD if args.threshold is None else args.threshold
    llm = LocalGenerator(emb, max_tokens=args.max_tokens, temperature=0.1, max_context_chars=args.context_chars,
                         support_threshold=thr, n_threads=args.threads,
                         selfcheck_temperature=args.selfcheck_temperature)
    t = time.perf_counter()
    llm.warm_up()
    load_s = time.perf_counter() - t
    if llm.backend_used is None:
        sys.exit(f"the local model did not load: {llm._error}")
    extractive = ExtractiveGenerator(emb)
    judge = GroundingChecker(emb, threshold=args.judge_threshold)
    names = [d.strip() for d in args.datasets.split(",") if d.strip()]
    data = {"rgb": lambda: load_rgb(args.limit, args.seed), "pubmedqa": lambda: load_pubmedqa(args.limit, args.seed)}
    rows, details = [], {}
    for name in names:
        console.print(f"[bold]{name}[/bold]: {args.limit} questions")
        r, d = evaluate(name, data[name](), extractive, llm, judge, args.judge_threshold, args.selfcheck)
        rows += r
        details[name] = d
        write_json(args.out, {"partial": True, "results": rows, "records": {k: v["records"] for k, v in details.items()}})
    cols = ["dataset", "system", "n", "token_f1", "contains_answer", "decision_acc", "answered", "neg_rejection",
            "unsupported", "sentences"]
    print_table("Generation: accuracy, negative rejection, unsupported sentences", rows, cols)
    speed_rows = [{"dataset": k, "backend": llm.backend_used, "threads": llm.n_threads, **v["speed"]}
                  for k, v in details.items()]
    print_table("SmolLM2-135M-Instruct Q4_1 (local, streamed): medians per call", speed_rows,
                ["dataset", "backend", "threads", "calls", "ttft_s", "tokens_per_s", "completion_tokens", "latency_s"]
                + (["selfcheck_s"] if args.selfcheck else []))
    payload = {"command": " ".join(sys.argv), "args": vars(args), "support_threshold": thr,
               "selfcheck_threshold": llm.selfcheck_threshold,
               "model": llm.model_name, "backend": llm.backend_used, "load_s": round(load_s, 2), "results": rows,
               "speed": {k: v["speed"] for k, v in details.items()},
               "records": {k: v["records"] for k, v in details.items()}}
    if args.sweep:
        sw = sweep(judge, load_rgb(100, args.seed), load_pubmedqa(100, args.seed + 1))
        payload["threshold_sweep"] = sw
        console.print(f"threshold sweep: AUC supported vs off-topic {sw['auc_offtopic']}, "
                      f"vs RGB negatives {sw['auc_negative_rgb']} (n={sw['n_supported']})")
        print_table("support threshold", sw["thresholds"],
                    ["threshold", "supported_kept", "offtopic_rejected", "negative_rejected"])
    write_json(args.out, payload)
    llm.close()


if __name__ == "__main__":
    main()
