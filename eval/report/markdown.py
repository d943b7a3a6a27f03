"""``report.md``: the headline figures, failure modes, baseline deltas and the worst queries, for people."""

from __future__ import annotations

from typing import Any

METRIC_HELP = {
    "hit@1": "a gold document ranks first",
    "hit@5": "a gold document in the top 5 documents",
    "hit@10": "a gold document in the top 10 documents",
    "mrr@10": "reciprocal rank of the first gold document (0 beyond 10)",
    "ndcg@10": "nDCG@10 (graded when the file has qrels)",
    "recall@5": "share of gold documents in the top 5",
    "recall@10": "share of gold documents in the top 10",
    "correct": "abstention-aware accuracy: a correct refusal counts as correct",
    "em": "exact match (answerable questions with answers)",
    "f1": "token F1 (answerable questions with answers)",
    "contains": "the answer contains a reference answer",
    "em_aware": "exact match, a correct refusal scoring 1",
    "f1_aware": "token F1, a correct refusal scoring 1",
    "ragas.string_similarity": "ragas NonLLMStringSimilarity (Levenshtein)",
    "ragas.rouge_l": "ragas RougeScore (ROUGE-L F)",
    "ragas.semantic_similarity": "answer/reference cosine on MiniLM",
    "ragas.context_precision": "ragas NonLLMContextPrecisionWithReference",
    "ragas.context_recall": "ragas NonLLMContextRecall",
    "ragas.faithfulness": "ragas Faithfulness (LLM judge)",
    "ragas.answer_relevancy": "ragas ResponseRelevancy (LLM judge)",
    "ragas.llm_context_precision": "ragas LLMContextPrecisionWithReference (LLM judge)",
}


def fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "–"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def _cell(s: Any, limit: int = 120) -> str:
    s = " ".join(str(s if s is not None else "").split())
    if len(s) > limit:
        s = s[: limit - 1] + "…"
    return s.replace("|", "\\|")


def metric_rows(metrics: dict[str, dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    order = list(METRIC_HELP)
    return sorted(metrics.items(), key=lambda kv: order.index(kv[0]) if kv[0] in order else len(order))


def render_markdown(report: dict[str, Any]) -> str:
    run, agg = report.get("run", {}), report.get("aggregates", {})
    L: list[str] = []
    L.append(f"# rag eval: {run.get('name') or run.get('collection') or 'run'}")
    L.append("")
    L.append(f"- questions: `{run.get('questions_file', '')}` ({agg.get('n_questions', 0)} answered; "
             f"{agg.get('n_answerable', 0)} answerable, {agg.get('n_unanswerable', 0)} unanswerable, "
             f"{agg.get('n_retrieval_only', 0)} retrieval-only; {agg.get('n_errors', 0)} errors)")
    L.append(f"- collection: `{run.get('collection', '')}`" + (f" (throwaway, from `{run['corpus_file']}`)" if run.get("corpus_file") else ""))
    L.append(f"- settings: top_k={run.get('top_k')}, generator={run.get('settings', {}).get('generator')}, "
             f"fingerprint `{run.get('fingerprint')}`")
    lat = agg.get("latency_ms") or {}
    walls = sum(s.get("wall_s") or 0 for s in run.get("sessions", []))
    L.append(f"- time: {walls:.1f} s of answering over {len(run.get('sessions', []))} session(s); "
             f"latency p50 {fmt(lat.get('p50'), 1)} ms, p95 {fmt(lat.get('p95'), 1)} ms")
    sc, jd = run.get("scorer") or {}, run.get("judge") or {}
    L.append(f"- ragas: {'available' if sc.get('available') else 'unavailable'}"
             + (f" ({sc['note']})" if sc.get("note") else "")
             + f"; LLM judge: {jd.get('note') or ('on' if jd.get('available') else 'off')}")
    if not run.get("gold_diagnostics"):
        L.append("- gold-label diagnostics: unavailable (rag.diagnostics.gold not importable); only runtime tags")
    L.append("")

    thr = report.get("thresholds")
    if thr:
        L.append("## Gate")
        L.append("")
        if thr.get("failures"):
            L.append("**FAILED**")
            L += [f"- {f}" for f in thr["failures"]]
        else:
            L.append("passed: " + ", ".join(f"{k} ≥ {v:g}" for k, v in thr.get("thresholds", {}).items()))
        L.append("")

    L.append("## Metrics")
    L.append("")
    L.append("Means over the questions where a metric is defined; `n` says how many, `undefined` how many were left out.")
    L.append("")
    L.append("| metric | mean | n | undefined | what |")
    L.append("|---|---:|---:|---:|---|")
    for k, v in metric_rows(agg.get("metrics", {})):
        L.append(f"| {k} | {fmt(v.get('mean'))} | {v.get('n', 0)} | {v.get('n_nan', 0)} | {METRIC_HELP.get(k, '')} |")
    ab = agg.get("abstention") or {}
    L.append("")
    L.append(f"Abstention: correct-refusal rate {fmt(ab.get('correct_refusal_rate'))} on {ab.get('n_unanswerable', 0)} "
             f"unanswerable questions; false-refusal rate {fmt(ab.get('false_refusal_rate'))} on "
             f"{ab.get('n_answerable', 0)} answerable ones.")
    L.append("")

    modes = agg.get("modes") or {}
    L.append("## Failure modes")
    L.append("")
    L.append(f"{modes.get('questions_with_tags', 0)} of {agg.get('n_questions', 0)} questions carry at least one tag; "
             f"{modes.get('correct_abstentions_tagged_missing_content', 0)} `missing_content` tags are correct "
             "abstentions (successes).")
    L.append("")
    L.append("| mode | questions | runtime tags | gold tags |")
    L.append("|---|---:|---:|---:|")
    bys = modes.get("by_source") or {}
    for m, c in (modes.get("counts") or {}).items():
        L.append(f"| {m} | {c} | {bys.get('runtime', {}).get(m, 0)} | {bys.get('gold', {}).get(m, 0)} |")
    pr = modes.get("precision_recall") or {}
    if pr:
        L.append("")
        L.append(f"Against `expected_modes` ({modes.get('n_with_expected_modes', 0)} questions):")
        L.append("")
        L.append("| mode | precision | recall | tp | fp | fn |")
        L.append("|---|---:|---:|---:|---:|---:|")
        for m, v in pr.items():
            L.append(f"| {m} | {fmt(v.get('precision'))} | {fmt(v.get('recall'))} | {v['tp']} | {v['fp']} | {v['fn']} |")
    L.append("")

    base = report.get("baseline")
    if base:
        L.append(f"## Compared with `{base.get('baseline_dir')}`")
        L.append("")
        L.append(f"{base.get('common_questions', 0)} questions in both runs: {base.get('n_worse', 0)} got worse, "
                 f"{base.get('n_better', 0)} got better.")
        L.append("")
        L.append("| metric | baseline | current | delta |")
        L.append("|---|---:|---:|---:|")
        for k, d in base.get("metric_deltas", {}).items():
            if d.get("baseline") is None and d.get("current") is None:
                continue
            delta = d.get("delta")
            L.append(f"| {k} | {fmt(d.get('baseline'))} | {fmt(d.get('current'))} | "
                     f"{'–' if delta is None else f'{delta:+.3f}'} |")
        if base.get("worse"):
            L.append("")
            L.append("### Queries that got worse")
            L.append("")
            L.append("| id | question | why | new tags |")
            L.append("|---|---|---|---|")
            for w in base["worse"][:100]:
                tags = "; ".join(f"{t['mode']}: {t.get('evidence', '')}" for t in w.get("new_tags", []))
                L.append(f"| {_cell(w['id'], 40)} | {_cell(w['question'], 80)} | {_cell('; '.join(w['reasons']), 120)} | "
                         f"{_cell(tags, 160)} |")
        L.append("")

    queries = report.get("queries") or []
    failed = [q for q in queries if (q.get("metrics") or {}).get("correct") == 0.0
              or (q.get("gold_doc_ids") and (q.get("gold_ranks") or {}).get("final") in (None,))]
    if failed:
        L.append(f"## Failed queries (first 30 of {len(failed)})")
        L.append("")
        L.append("| id | question | answer | gold rank | modes |")
        L.append("|---|---|---|---:|---|")
        for q in failed[:30]:
            ans = ("[abstained] " if q.get("abstained") else "") + (q.get("answer") or "")
            L.append(f"| {_cell(q['id'], 40)} | {_cell(q['question'], 80)} | {_cell(ans, 100)} | "
                     f"{fmt((q.get('gold_ranks') or {}).get('final'))} | {', '.join(q.get('predicted_modes') or [])} |")
        L.append("")
    return "\n".join(L) + "\n"
