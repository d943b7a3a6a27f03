"""Run an evaluation: questions through a pipeline, one JSON record per question, resumable.

Design:

* Questions go through :meth:`rag.pipeline.Pipeline.run_many` in batches (one
  embedding call per batch). Each finished question is appended to
  ``records.jsonl`` in the output folder and flushed at once, so a killed run
  keeps everything it finished.
* ``run.json`` holds the run's fingerprint: the question file's hash, the
  collection (its snapshot id, or the corpus file's hash for a throwaway
  collection) and every setting that changes answers. A second start in the
  same folder with the same fingerprint skips the finished ids and goes on; a
  different fingerprint is refused (a mixed run would be meaningless) unless
  the caller asks to start over. ``--limit`` is not part of the fingerprint,
  so a limited run can be extended.
* A record is self-contained: answer, citations, the rank of the gold
  documents in every candidate list, failure tags with evidence, and the
  per-question metrics. :func:`aggregate` turns records into report figures;
  it never averages a ``nan``: every figure carries ``n`` (values averaged)
  and ``n_nan`` (questions where it is undefined).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from eval.datasets import Question
from eval.metrics import (
    Aggregate,
    abstention_rates,
    contains_answer,
    contains_answer_parts,
    dedupe_ranked,
    exact_match,
    hit_at_k,
    mean_with_count,
    mode_precision_recall,
    mrr_at_k,
    ndcg_at_k,
    recall_at_k,
    token_f1,
)
from eval.ragas_metrics import ANSWER_METRICS, CONTEXT_METRICS, JUDGE_METRICS, RagasSample

log = logging.getLogger(__name__)

RECORDS_FILE = "records.jsonl"
RUN_FILE = "run.json"
RECORD_VERSION = 1
NAN = float("nan")
LISTS = ("dense", "lexical", "fused", "reranked", "context")
CORRECT_F1 = 0.5  # token F1 from which a non-abstaining answer counts as correct


class RunMismatch(ValueError):
    """The output folder holds a run made with other questions, collection or settings."""


# --------------------------------------------------------------------------- helpers
def file_sha256(path: str | os.PathLike[str]) -> str:
    h = hashlib.sha256()
    with Path(path).open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def fingerprint(parts: dict[str, Any]) -> str:
    """A stable hash of the settings that decide a run's answers."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:16]


def _clean(v: Any) -> Any:
    """JSON-safe: nan/inf become None (JSON has no nan), recursively."""
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if hasattr(v, "item") and callable(v.item):  # numpy scalar
        return _clean(v.item())
    return v


def _num(v: Any) -> float:
    return NAN if v is None else float(v)


def final_ranking(trace: Any) -> list[Any]:
    """The pipeline's final candidate order: the reranked pool, then the rest of the fused list."""
    seen = {h.chunk.id for h in trace.reranked}
    return list(trace.reranked) + [h for h in trace.fused if h.chunk.id not in seen]


def gold_set(q: Question) -> list[str]:
    """Relevant doc ids: ``gold_doc_ids``, else the docs with a positive qrels grade."""
    if q.gold_doc_ids:
        return list(q.gold_doc_ids)
    return [d for d, g in (q.qrels or {}).items() if g > 0]


def gold_ranks(trace: Any, gold: Iterable[str]) -> dict[str, int | None]:
    """1-based rank of the best gold chunk in each candidate list (None: not in the list).

    ``final_chunk`` is the best gold chunk's rank in the final candidate order
    (:func:`final_ranking`); ``final`` the rank of the first gold *document* in
    that order deduplicated by document (what hit@k and MRR read).
    """
    gold = set(gold)
    out: dict[str, int | None] = {}
    if not gold:
        return out
    for name in LISTS:
        hits = getattr(trace, name, None) or []
        out[name] = next((i for i, h in enumerate(hits, 1) if h.chunk.doc_id in gold), None)
    final = final_ranking(trace)
    out["final_chunk"] = next((i for i, h in enumerate(final, 1) if h.chunk.doc_id in gold), None)
    docs = dedupe_ranked(h.chunk.doc_id for h in final)
    out["final"] = next((i for i, d in enumerate(docs, 1) if d in gold), None)
    return out


def retrieval_metrics(doc_order: Sequence[str], q: Question) -> dict[str, float]:
    gold = gold_set(q)
    m: dict[str, float] = {}
    for k in (1, 5, 10):
        m[f"hit@{k}"] = hit_at_k(doc_order, gold, k)
    m["mrr@10"] = mrr_at_k(doc_order, gold, 10)
    for k in (5, 10):
        m[f"recall@{k}"] = recall_at_k(doc_order, gold, k)
    if q.qrels and any(g > 0 for g in q.qrels.values()):
        low_better = not (q.meta or {}).get("qrels_higher_is_better", False)
        m["ndcg@10"] = ndcg_at_k(doc_order, q.qrels, 10, grades_low_is_better=low_better)
    else:
        m["ndcg@10"] = ndcg_at_k(doc_order, gold, 10)
    return m


def answer_metrics(q: Question, answer: str, abstained: bool) -> dict[str, float]:
    """EM, token F1, contains and the abstention-aware ``correct``.

    * answerable with reference answers: EM/F1/contains of the answer (an
      abstention scores 0); ``correct`` = answered and (answer contains a
      reference, or F1 >= 0.5);
    * unanswerable: EM/F1 are undefined (``nan``); ``correct`` = abstained,
      and the ``*_aware`` variants score a correct refusal 1, an answer 0;
    * retrieval-only: all ``nan``.
    """
    nan = dict.fromkeys(("em", "f1", "contains", "correct", "em_aware", "f1_aware"), NAN)
    if not q.answerable:
        v = 1.0 if abstained else 0.0
        return {**nan, "correct": v, "em_aware": v, "f1_aware": v}
    if not q.answers:
        return nan
    text = "" if abstained else answer
    em, f1 = exact_match(text, q.answers), token_f1(text, q.answers)
    parts = (q.meta or {}).get("answer_parts")
    cont = contains_answer_parts(text, parts) if parts else contains_answer(text, q.answers)
    cont = 0.0 if math.isnan(cont) else cont
    correct = 0.0 if abstained else float(cont == 1.0 or em == 1.0 or f1 >= CORRECT_F1)
    return {"em": em, "f1": f1, "contains": cont, "correct": correct, "em_aware": em, "f1_aware": f1}


def _tag_dicts(tags: Iterable[Any], source: str) -> list[dict[str, Any]]:
    out = []
    for t in tags or []:
        d = t.to_dict() if hasattr(t, "to_dict") else dict(t)
        d["source"] = source
        out.append(d)
    return out


def _accepts(fn: Callable, name: str) -> bool:
    import inspect

    try:
        return name in inspect.signature(fn).parameters
    except (TypeError, ValueError):
        return False


def load_gold_findings() -> tuple[Callable | None, str]:
    """``rag.diagnostics.gold.gold_findings`` when the diagnostics package provides it."""
    try:
        from rag.diagnostics.gold import gold_findings
    except Exception as e:
        return None, f"gold-label diagnostics unavailable ({type(e).__name__}: {e})"
    return gold_findings, ""


# --------------------------------------------------------------------------- records
def make_record(q: Question, trace: Any, *, gold_fn: Callable | None = None, session: str = "",
                chunk_texts: dict[str, list[str]] | None = None) -> tuple[dict[str, Any], RagasSample]:
    """The JSON record of one answered question, and its ragas inputs."""
    ans = trace.answer
    gold = gold_set(q)
    order = dedupe_ranked(h.chunk.doc_id for h in final_ranking(trace))
    metrics = retrieval_metrics(order, q)
    metrics.update(answer_metrics(q, ans.answer, ans.abstained))

    tags = _tag_dicts(ans.diagnostics, "runtime")
    gold_diag_ranks = None
    if gold_fn is not None:
        kw = {}
        if q.expected_modes is not None and _accepts(gold_fn, "injection_expected"):
            kw["injection_expected"] = "security" in q.expected_modes
        try:
            findings, gtags = gold_fn(trace, list(gold), list(q.answers), **kw)
            if isinstance(findings, dict):
                from rag.diagnostics.gold import refuted_by_gold

                for t in tags:  # e.g. missing_content on a question the gold labels answer
                    if t.get("mode") and refuted_by_gold(t["mode"], findings):
                        t["refuted_by_gold"] = True
                per_doc = findings.get("gold_ranks") or {}
                gold_diag_ranks = {"per_doc": dict(list(per_doc.items())[:10]) if isinstance(per_doc, dict) else per_doc,
                                   "answer_found": findings.get("answer_found")}
            tags += _tag_dicts(gtags, "gold")
        except Exception as e:  # a detector bug must not stop the eval: record it
            log.warning("gold_findings failed on %s: %s", q.id, e)
            tags.append({"mode": None, "source": "gold", "error": f"{type(e).__name__}: {e}"})
    tags = [t for t in tags if t.get("mode")] + [t for t in tags if not t.get("mode")]
    modes = sorted({t["mode"] for t in tags if t.get("mode") and not t.get("refuted_by_gold")})

    dense_top = trace.dense[0].scores.get("dense", trace.dense[0].score) if trace.dense else None
    lex_top = trace.lexical[0].scores.get("lexical", trace.lexical[0].score) if trace.lexical else None
    rerank_top = trace.reranked[0].scores.get("rerank") if trace.reranked else None
    rec = {
        "v": RECORD_VERSION,
        "id": q.id,
        "question": q.question,
        "answerable": q.answerable,
        "retrieval_only": q.retrieval_only,
        "answers": list(q.answers),
        "gold_doc_ids": gold,
        "expected_modes": q.expected_modes,
        "answer": ans.answer,
        "abstained": bool(ans.abstained),
        "abstain_reason": ans.abstain_reason,
        "correct_refusal": (not q.answerable and bool(ans.abstained)),
        "citations": [{"n": c.n, "doc_id": c.doc_id, "chunk_id": c.chunk_id, "score": c.score}
                      for c in ans.citations],
        "context_chunk_ids": [h.chunk.id for h in trace.context],
        "retrieved_doc_ids": order[:10],
        "gold_ranks": gold_ranks(trace, gold),
        "gold_diagnostics_ranks": gold_diag_ranks,
        "tags": tags,
        "predicted_modes": modes,
        "metrics": metrics,
        "scores": {"evidence": trace.evidence_score, "threshold": trace.threshold,
                   "top_dense": dense_top, "top_lexical": lex_top, "top_rerank": rerank_top},
        "timings_ms": {k: round(float(v), 2) for k, v in (ans.timings_ms or {}).items()},
        "error": None,
        "session": session,
        "finished_at": time.time(),
    }
    ref_ctx: list[str] = []
    if chunk_texts is not None:
        for d in gold:
            ref_ctx.extend(chunk_texts.get(d, []))
    sample = RagasSample(question=q.question, response=ans.answer, references=list(q.answers) if q.answerable else [],
                         retrieved_contexts=[h.chunk.text for h in trace.context], reference_contexts=ref_ctx)
    return rec, sample


def error_record(q: Question, err: str, session: str) -> dict[str, Any]:
    nan_metrics = {k: NAN for k in ("hit@1", "hit@5", "hit@10", "mrr@10", "recall@5", "recall@10", "ndcg@10",
                                    "em", "f1", "contains", "correct", "em_aware", "f1_aware")}
    return {"v": RECORD_VERSION, "id": q.id, "question": q.question, "answerable": q.answerable,
            "retrieval_only": q.retrieval_only, "answers": list(q.answers), "gold_doc_ids": gold_set(q),
            "expected_modes": q.expected_modes, "answer": "", "abstained": False, "abstain_reason": None,
            "correct_refusal": False, "citations": [], "context_chunk_ids": [], "retrieved_doc_ids": [],
            "gold_ranks": {}, "gold_diagnostics_ranks": None, "tags": [], "predicted_modes": [],
            "metrics": nan_metrics, "scores": {}, "timings_ms": {}, "error": err, "session": session,
            "finished_at": time.time()}


# --------------------------------------------------------------------------- storage
class RecordLog:
    """``records.jsonl``: append-only, one flushed line per finished question."""

    def __init__(self, out_dir: Path) -> None:
        self.path = Path(out_dir) / RECORDS_FILE
        self._fh = None

    def read(self) -> list[dict[str, Any]]:
        """Finished records; a torn last line (the run was killed mid-write) is dropped and the file repaired."""
        if not self.path.exists():
            return []
        good, bad = [], 0
        raw = self.path.read_text(encoding="utf-8")
        for line in raw.splitlines():
            if not line.strip():
                continue
            try:
                rec = json.loads(line)
                if isinstance(rec, dict) and "id" in rec:
                    good.append(rec)
                    continue
            except json.JSONDecodeError:
                pass
            bad += 1
        if bad or (raw and not raw.endswith("\n")):
            log.warning("records.jsonl: dropped %d unreadable line(s) (interrupted write)", bad)
            tmp = self.path.with_name(self.path.name + ".tmp")
            tmp.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in good), encoding="utf-8")
            os.replace(tmp, self.path)
        return good

    def append(self, records: Iterable[dict[str, Any]]) -> None:
        if self._fh is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            self._fh = self.path.open("a", encoding="utf-8")
        for r in records:
            self._fh.write(json.dumps(_clean(r), ensure_ascii=False) + "\n")
            self._fh.flush()
        os.fsync(self._fh.fileno())

    def close(self) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


def read_run(out_dir: str | os.PathLike[str]) -> dict[str, Any] | None:
    p = Path(out_dir) / RUN_FILE
    return json.loads(p.read_text(encoding="utf-8")) if p.exists() else None


def _atomic_text(path: Path, text: str) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(text, encoding="utf-8")
    os.replace(tmp, path)


def write_run(out_dir: Path, run: dict[str, Any]) -> None:
    _atomic_text(out_dir / RUN_FILE, json.dumps(_clean(run), indent=2, ensure_ascii=False))


# --------------------------------------------------------------------------- the run
@dataclass
class RunResult:
    records: list[dict[str, Any]]
    run: dict[str, Any]
    new: int = 0
    resumed: int = 0
    wall_s: float = 0.0
    batches: list[int] = field(default_factory=list)


def chunk_texts_by_doc(pipeline: Any, doc_ids: set[str], limit: int = 8) -> dict[str, list[str]]:
    """The first ``limit`` chunk texts of each of ``doc_ids`` (reference contexts for ragas)."""
    out: dict[str, list[str]] = {}
    for c in getattr(pipeline.snapshot, "chunks", []):
        if c.doc_id in doc_ids:
            lst = out.setdefault(c.doc_id, [])
            if len(lst) < limit:
                lst.append(c.text)
    return out


def run_eval(
    pipeline: Any,
    questions: list[Question],
    out_dir: str | os.PathLike[str],
    run_info: dict[str, Any],
    *,
    top_k: int | None = None,
    batch_size: int = 32,
    limit: int | None = None,
    scorer: Any | None = None,
    judge: Any | None = None,
    gold_fn: Callable | None = None,
    overwrite: bool = False,
    progress: Callable[[int, int], None] | None = None,
) -> RunResult:
    """Answer ``questions`` (the first ``limit``) and append one record each to ``out_dir/records.jsonl``.

    Args:
        pipeline: A :class:`rag.pipeline.Pipeline` (anything with ``run_many``).
        questions: The questions, in file order.
        out_dir: The run folder.
        run_info: What identifies the run; must hold ``"fingerprint"``. Written
            to ``run.json`` with timing added.
        top_k: Passages in the context (None: the pipeline's default).
        batch_size: Questions per ``run_many`` call.
        limit: Answer only the first ``limit`` questions (the rest can follow later).
        scorer: A :class:`eval.ragas_metrics.RagasScorer` (None: no ragas metrics).
        judge: A :class:`eval.ragas_metrics.JudgeScorer` (None: no LLM-judged metrics).
        gold_fn: ``gold_findings(trace, gold_doc_ids, answers) -> (ranks, tags)``.
        overwrite: Start over when the folder holds a different run.
        progress: Called ``(done, total)`` after every batch and once at the start.

    Returns:
        A :class:`RunResult` with every record of the run (resumed ones too).

    Raises:
        RunMismatch: The folder holds a run with another fingerprint and ``overwrite`` is False.
    """
    if batch_size <= 0:
        raise ValueError(f"batch_size must be > 0, but got {batch_size}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    log_ = RecordLog(out)
    prev = read_run(out)
    if prev is not None and prev.get("fingerprint") != run_info.get("fingerprint"):
        if not overwrite:
            raise RunMismatch(
                f"{out} holds a run with other questions, collection or settings "
                f"(fingerprint {prev.get('fingerprint')} != {run_info.get('fingerprint')}); "
                "use another --out folder or --overwrite")
        log_.path.unlink(missing_ok=True)
        prev = None
    elif prev is None and log_.path.exists():
        if not overwrite:
            raise RunMismatch(f"{out} has {RECORDS_FILE} but no {RUN_FILE}; use another --out folder or --overwrite")
        log_.path.unlink()

    wanted = questions[:limit] if limit else list(questions)
    wanted_ids = {q.id for q in wanted}
    existing = {r["id"]: r for r in log_.read()}
    todo = [q for q in wanted if q.id not in existing]
    session = uuid.uuid4().hex[:12]
    run = dict(prev or {})
    run.update({k: v for k, v in run_info.items()})
    run.setdefault("created_at", time.time())
    run.setdefault("sessions", [])
    run["sessions"] = list(run["sessions"]) + [{"id": session, "started_at": time.time(), "todo": len(todo),
                                                "resumed": len(wanted) - len(todo)}]
    run["scorer"] = scorer.info() if scorer is not None else {"available": False, "note": "ragas metrics off"}
    run["judge"] = {"enabled": judge is not None, "available": bool(judge and judge.available),
                    "note": judge.note if judge is not None else "no judge configured (pass --judge with RAG_LLM_BASE_URL)"}
    run["gold_diagnostics"] = gold_fn is not None
    write_run(out, run)

    chunk_texts = None
    if scorer is not None:
        gold_docs = {d for q in todo for d in gold_set(q)}
        chunk_texts = chunk_texts_by_doc(pipeline, gold_docs) if gold_docs else {}

    t0 = time.perf_counter()
    done = len(wanted) - len(todo)
    if progress:
        progress(done, len(wanted))
    batches: list[int] = []
    try:
        for s in range(0, len(todo), batch_size):
            batch = todo[s:s + batch_size]
            recs, samples = _run_batch(pipeline, batch, top_k, gold_fn, session, chunk_texts)
            idx = [i for i, smp in enumerate(samples) if smp is not None]
            if scorer is not None and idx:
                vals = scorer.score_batch([samples[i] for i in idx])
                for i, v in zip(idx, vals):
                    recs[i]["metrics"].update(v)
            if judge is not None and idx:
                vals = judge.score_batch([samples[i] for i in idx])
                for i, v in zip(idx, vals):
                    recs[i]["metrics"].update(v)
            log_.append(recs)
            for r in recs:
                existing[r["id"]] = json.loads(json.dumps(_clean(r)))
            batches.append(len(batch))
            done += len(batch)
            if progress:
                progress(done, len(wanted))
    finally:
        log_.close()
        wall = time.perf_counter() - t0
        run["sessions"][-1].update({"wall_s": round(wall, 3), "finished": done, "ended_at": time.time()})
        write_run(out, run)
    records = [existing[q.id] for q in questions if q.id in existing and q.id in wanted_ids]
    return RunResult(records=records, run=run, new=sum(batches), resumed=len(wanted) - len(todo), wall_s=wall,
                     batches=batches)


def _run_batch(pipeline: Any, batch: list[Question], top_k: int | None, gold_fn: Callable | None, session: str,
               chunk_texts: dict[str, list[str]] | None) -> tuple[list[dict[str, Any]], list[RagasSample | None]]:
    from rag.errors import QueryError

    try:
        traces = pipeline.run_many([q.question for q in batch], top_k)
    except QueryError:
        traces = None
    recs: list[dict[str, Any]] = []
    samples: list[RagasSample | None] = []
    for i, q in enumerate(batch):
        if traces is not None:
            tr = traces[i]
        else:  # one bad question (empty, too long): answer the others one by one
            try:
                tr = pipeline.run_many([q.question], top_k)[0]
            except QueryError as e:
                recs.append(error_record(q, f"{type(e).__name__}: {e}", session))
                samples.append(None)
                continue
        rec, smp = make_record(q, tr, gold_fn=gold_fn, session=session, chunk_texts=chunk_texts)
        recs.append(rec)
        samples.append(smp)
    return recs, samples


# --------------------------------------------------------------------------- aggregates
RETRIEVAL_KEYS = ("hit@1", "hit@5", "hit@10", "mrr@10", "ndcg@10", "recall@5", "recall@10")
ANSWER_KEYS = ("correct", "em", "f1", "contains", "em_aware", "f1_aware")


def _pct(values: list[float], p: float) -> float | None:
    if not values:
        return None
    s = sorted(values)
    i = min(len(s) - 1, max(0, int(math.ceil(p / 100 * len(s))) - 1))
    return s[i]


def aggregate(records: list[dict[str, Any]]) -> dict[str, Any]:
    """Report figures from records. Every mean says how many values it covers (``n``) and left out (``n_nan``)."""
    agg = Aggregate()
    for r in records:
        m = r.get("metrics") or {}
        for k in RETRIEVAL_KEYS + ANSWER_KEYS + ANSWER_METRICS + CONTEXT_METRICS + JUDGE_METRICS:
            if k in m:
                agg.add(k, _num(m[k]))
    metrics = agg.summary()
    ok = [r for r in records if not r.get("error")]
    ab = abstention_rates(ok)
    # diagnostics
    counts: Counter[str] = Counter()
    by_source: dict[str, Counter[str]] = {"runtime": Counter(), "gold": Counter()}
    for r in ok:
        for m_ in r.get("predicted_modes") or []:
            counts[m_] += 1
        for t in r.get("tags") or []:
            if t.get("mode"):
                by_source.setdefault(t.get("source", "runtime"), Counter())[t["mode"]] += 1
    correct_abst = sum(1 for r in ok if r.get("correct_refusal") and "missing_content" in (r.get("predicted_modes") or []))
    with_expected = [r for r in ok if r.get("expected_modes") is not None]
    lat = [float(r["timings_ms"]["total"]) for r in ok if (r.get("timings_ms") or {}).get("total") is not None]
    from rag.types import FAILURE_MODES

    return {
        "n_questions": len(records),
        "n_errors": len(records) - len(ok),
        "n_answerable": sum(1 for r in ok if r.get("answerable")),
        "n_unanswerable": sum(1 for r in ok if not r.get("answerable")),
        "n_with_answers": sum(1 for r in ok if r.get("answers")),
        "n_retrieval_only": sum(1 for r in ok if r.get("retrieval_only")),
        "metrics": metrics,
        "abstention": ab,
        "modes": {
            "counts": {m_: counts.get(m_, 0) for m_ in FAILURE_MODES},
            "by_source": {s: dict(c) for s, c in by_source.items()},
            "questions_with_tags": sum(1 for r in ok if r.get("predicted_modes")),
            "correct_abstentions_tagged_missing_content": correct_abst,
            "n_with_expected_modes": len(with_expected),
            "precision_recall": mode_precision_recall(with_expected) if with_expected else {},
        },
        "latency_ms": {"p50": _pct(lat, 50), "p95": _pct(lat, 95), "mean": mean_with_count(lat)["mean"], "n": len(lat)},
    }


def flat_metrics(aggregates: dict[str, Any]) -> dict[str, float | None]:
    """Every threshold-able figure by name: the metric means, abstention rates, mode precision/recall."""
    flat: dict[str, float | None] = {k: v.get("mean") for k, v in aggregates.get("metrics", {}).items()}
    ab = aggregates.get("abstention") or {}
    for k in ("correct_refusal_rate", "false_refusal_rate"):
        if k in ab:
            flat[k] = ab[k]
    for mode, pr in (aggregates.get("modes") or {}).get("precision_recall", {}).items():
        flat[f"precision.{mode}"] = pr.get("precision")
        flat[f"recall.{mode}"] = pr.get("recall")
    return flat


LOWER_IS_BETTER = {"false_refusal_rate"}


def parse_thresholds(specs: Iterable[str]) -> dict[str, float]:
    """``["hit@5=0.8", "mrr@10=0.5"]`` -> ``{"hit@5": 0.8, "mrr@10": 0.5}``."""
    out: dict[str, float] = {}
    for spec in specs or []:
        name, sep, value = spec.partition("=")
        name = name.strip()
        if not sep or not name:
            raise ValueError(f"--fail-under takes METRIC=VALUE, got {spec!r}")
        try:
            out[name] = float(value)
        except ValueError:
            raise ValueError(f"--fail-under {spec!r}: {value!r} is not a number") from None
    return out


def check_thresholds(aggregates: dict[str, Any], thresholds: dict[str, float]) -> list[str]:
    """Messages for every threshold not met (empty: all met).

    A metric must be at least its threshold; for ``false_refusal_rate`` (lower
    is better) at most. A metric with no defined value fails, as does an unknown name.
    """
    flat = flat_metrics(aggregates)
    n_of = {k: v.get("n") for k, v in aggregates.get("metrics", {}).items()}
    fails = []
    for name, thr in thresholds.items():
        if name not in flat:
            fails.append(f"{name}: unknown metric (known: {', '.join(sorted(flat))})")
            continue
        v = flat[name]
        if v is None:
            fails.append(f"{name}: no value (no question defines it), threshold {thr:g}")
        elif name in LOWER_IS_BETTER and v > thr:
            fails.append(f"{name} = {v:.4f} is above the limit {thr:g}")
        elif name not in LOWER_IS_BETTER and v < thr:
            n = f" over {n_of[name]} questions" if n_of.get(name) is not None else ""
            fails.append(f"{name} = {v:.4f}{n} is below the threshold {thr:g}")
    return fails


# --------------------------------------------------------------------------- baseline
def _worse_reasons(old: dict[str, Any], new: dict[str, Any]) -> list[str]:
    om, nm = old.get("metrics") or {}, new.get("metrics") or {}
    reasons = []

    def val(m: dict[str, Any], k: str) -> float | None:
        v = m.get(k)
        return None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)

    if val(om, "correct") == 1.0 and val(nm, "correct") == 0.0:
        reasons.append("was correct, now wrong" + (" (abstained)" if new.get("abstained") else ""))
    of, nf = val(om, "f1"), val(nm, "f1")
    if of is not None and nf is not None and nf < of - 0.2:
        reasons.append(f"token F1 {of:.2f} -> {nf:.2f}")
    orank, nrank = (old.get("gold_ranks") or {}).get("final"), (new.get("gold_ranks") or {}).get("final")
    if old.get("gold_doc_ids"):
        if orank is not None and orank <= 10 and (nrank is None or nrank > 10):
            reasons.append(f"gold document fell out of the top 10 (rank {orank} -> {nrank or 'absent'})")
        elif orank is not None and nrank is not None and nrank > orank:
            reasons.append(f"gold document rank {orank} -> {nrank}")
    new_modes = set(new.get("predicted_modes") or []) - set(old.get("predicted_modes") or [])
    if new.get("correct_refusal"):
        new_modes.discard("missing_content")  # a correct refusal is a success
    if new_modes:
        reasons.append("new failure modes: " + ", ".join(sorted(new_modes)))
    return reasons


def compare_runs(new_records: list[dict[str, Any]], new_agg: dict[str, Any], old_records: list[dict[str, Any]],
                 old_agg: dict[str, Any], baseline_dir: str = "") -> dict[str, Any]:
    """Metric deltas and the queries that got worse (with their new tags)."""
    nf, of = flat_metrics(new_agg), flat_metrics(old_agg)
    nn = {k: v.get("n") for k, v in new_agg.get("metrics", {}).items()}
    on = {k: v.get("n") for k, v in old_agg.get("metrics", {}).items()}
    deltas = {}
    for k in sorted(set(nf) | set(of)):
        a, b = of.get(k), nf.get(k)
        deltas[k] = {"baseline": a, "current": b, "delta": (b - a) if a is not None and b is not None else None,
                     "n_baseline": on.get(k), "n_current": nn.get(k)}
    old_by_id = {r["id"]: r for r in old_records}
    worse, better, common = [], 0, 0
    for r in new_records:
        o = old_by_id.get(r["id"])
        if o is None:
            continue
        common += 1
        reasons = _worse_reasons(o, r)
        if reasons:
            old_modes = set(o.get("predicted_modes") or [])
            worse.append({"id": r["id"], "question": r["question"], "reasons": reasons,
                          "baseline_answer": o.get("answer"), "answer": r.get("answer"),
                          "new_tags": [t for t in r.get("tags") or [] if t.get("mode") and t["mode"] not in old_modes]})
        elif _worse_reasons(r, o):
            better += 1
    mode_deltas = {m: (new_agg["modes"]["counts"].get(m, 0) - old_agg.get("modes", {}).get("counts", {}).get(m, 0))
                   for m in new_agg["modes"]["counts"]}
    return {"baseline_dir": str(baseline_dir), "common_questions": common,
            "only_in_current": len({r["id"] for r in new_records} - set(old_by_id)),
            "only_in_baseline": len(set(old_by_id) - {r["id"] for r in new_records}),
            "metric_deltas": deltas, "mode_count_deltas": mode_deltas, "worse": worse, "n_worse": len(worse),
            "n_better": better}


def load_run_records(run_dir: str | os.PathLike[str]) -> tuple[list[dict[str, Any]], dict[str, Any]]:
    """Records and aggregates of a finished run folder (report.json, else records.jsonl)."""
    d = Path(run_dir)
    rp = d / "report.json"
    if rp.exists():
        rep = json.loads(rp.read_text(encoding="utf-8"))
        return rep.get("queries", []), rep.get("aggregates") or aggregate(rep.get("queries", []))
    lp = d / RECORDS_FILE
    if not lp.exists():
        raise FileNotFoundError(f"{d} holds no report.json or {RECORDS_FILE}")
    recs = RecordLog(d).read()
    return recs, aggregate(recs)
