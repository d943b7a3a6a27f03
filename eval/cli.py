"""``rag eval``: evaluation runs, reports and data set conversion (a ``rag.cli`` plugin).

    rag eval QUESTIONS.jsonl (--collection C | --corpus CORPUS.jsonl) [--out DIR] [--baseline OLD_DIR]
             [--fail-under METRIC=VALUE ...] [--limit N] [--top-k K]
    rag eval run ...                          the same, spelled out
    rag eval report DIR [--baseline OLD_DIR]  re-render the reports of a run folder
    rag eval convert {beir,squad,rgb,halueval,ragas} SRC OUT [--noise-rate R]

Exit codes: 0 done (and every --fail-under threshold met), 1 a threshold not
met, 2 bad input (missing file, unknown collection, a folder holding another run).
"""

from __future__ import annotations

import json
import logging
import shutil
import tempfile
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.console import Console
from rich.table import Table
from typer.core import TyperGroup

console = Console(stderr=True, soft_wrap=True)
out = Console()
log = logging.getLogger(__name__)


class _DefaultRun(TyperGroup):
    """Makes ``rag eval QUESTIONS.jsonl ...`` mean ``rag eval run QUESTIONS.jsonl ...``."""

    def parse_args(self, ctx, args):  # type: ignore[override]
        if args and args[0] not in self.commands and args[0] not in ("--help", "-h"):
            args = ["run", *args]
        return super().parse_args(ctx, args)


app = typer.Typer(cls=_DefaultRun, help="Evaluate a collection on labelled questions; convert public data sets. "
                  "`rag eval QUESTIONS.jsonl ...` is short for `rag eval run QUESTIONS.jsonl ...`.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)


def _fail(msg: str, code: int = 2) -> None:
    console.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


def make_service(settings):
    """The service the eval runs on (a seam for tests)."""
    from rag.cli import make_service as _make

    return _make(settings)


def _run_settings(svc, collection: str, top_k: int | None) -> dict[str, Any]:
    from dataclasses import asdict

    c = asdict(svc.config)
    c.pop("data_dir", None)
    llm = dict(c.pop("llm", {}) or {})
    llm.pop("api_key", None)
    if c.get("generator") != "extractive":
        c["llm"] = llm
    c["embedding_model_id"] = getattr(svc.embedder, "model_id", "")
    try:
        stored = svc.store.read_settings(collection)
    except Exception:
        stored = {}
    c["collection_settings"] = stored
    c["top_k_effective"] = top_k or c.get("top_k")
    return c


def _calibrate_from(svc, coll: str, folders: list[Path]) -> dict[str, Any]:
    """Add the calibration folders' documents to the collection, then fit its abstention on their questions."""
    from connectors import JsonlConnector
    from eval.runner import file_sha256
    from rag.labels import load_labelled

    labelled, files = [], {}
    for d in folders:
        if (d / "corpus.jsonl").is_file():
            svc.ingest(coll, JsonlConnector(d / "corpus.jsonl").load())
            files[str(d / "corpus.jsonl")] = file_sha256(d / "corpus.jsonl")
        try:
            labelled += load_labelled(d / "questions.jsonl")
        except ValueError as e:
            _fail(str(e))
        files[str(d / "questions.jsonl")] = file_sha256(d / "questions.jsonl")
    n_pos = sum(q.answerable for q in labelled)
    if n_pos == 0 or n_pos == len(labelled):
        _fail("--calibrate-on needs both answerable and unanswerable questions (it fits where to abstain)")
    rep = svc.calibrate(coll, labelled, tune_fusion=False)
    ab = rep.get("abstention", {})
    console.print(f"calibrated on {len(labelled)} questions ({n_pos} answerable): threshold {ab.get('threshold')}")
    return {"files": files, "questions": len(labelled), "answerable": n_pos, "abstention": ab}


def _summary(agg: dict[str, Any], res: Any, paths: dict[str, Path], comparison: dict[str, Any] | None) -> None:
    from eval.report.markdown import fmt, metric_rows

    t = Table(title=f"rag eval: {agg['n_questions']} questions ({res.new} answered now, {res.resumed} resumed)")
    for col in ("metric", "mean", "n", "undefined") + (("Δ baseline",) if comparison else ()):
        t.add_column(col, justify="right" if col != "metric" else "left")
    deltas = (comparison or {}).get("metric_deltas", {})
    for k, v in metric_rows(agg["metrics"]):
        if v.get("n", 0) == 0 and v.get("n_nan", 0) and k.startswith("ragas."):
            continue
        row = [k, fmt(v.get("mean")), str(v.get("n", 0)), str(v.get("n_nan", 0))]
        if comparison:
            d = deltas.get(k, {}).get("delta")
            row.append("–" if d is None else f"{d:+.3f}")
        t.add_row(*row)
    ab = agg["abstention"]
    for k, n in (("correct_refusal_rate", ab["n_unanswerable"]), ("false_refusal_rate", ab["n_answerable"])):
        row = [k, fmt(ab.get(k)), str(n), "0"]
        if comparison:
            d = deltas.get(k, {}).get("delta")
            row.append("–" if d is None else f"{d:+.3f}")
        t.add_row(*row)
    out.print(t)
    counts = {m: c for m, c in agg["modes"]["counts"].items() if c}
    out.print("failure modes: " + (", ".join(f"{m}={c}" for m, c in sorted(counts.items(), key=lambda x: -x[1])) or "none"))
    if comparison:
        out.print(f"vs baseline: {comparison['n_worse']} queries worse, {comparison['n_better']} better "
                  f"(of {comparison['common_questions']} in both)")
    out.print(f"reports: {paths['md']}  {paths['html']}  {paths['json']}")


def _finish_reports(out_dir: Path, run: dict[str, Any], records: list[dict[str, Any]], baseline: Optional[Path],
                    thresholds: dict[str, float]):
    from eval.report import build_report, write_reports
    from eval.runner import aggregate, check_thresholds, compare_runs, load_run_records

    agg = aggregate(records)
    comparison = None
    if baseline is not None:
        try:
            old_records, old_agg = load_run_records(baseline)
        except (FileNotFoundError, ValueError, json.JSONDecodeError) as e:
            _fail(f"--baseline {baseline}: {e}")
        comparison = compare_runs(records, agg, old_records, old_agg, str(baseline))
    failures = check_thresholds(agg, thresholds) if thresholds else []
    gate = {"thresholds": thresholds, "failures": failures} if thresholds else None
    report = build_report(run, records, agg, comparison, gate)
    paths = write_reports(out_dir, report)
    return agg, comparison, failures, paths


@app.command("run")
def run_cmd(
    questions: Annotated[Path, typer.Argument(help="questions JSONL (id, question, answers, gold_doc_ids[, qrels, expected_modes])")],
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="evaluate this existing collection")] = None,
    corpus: Annotated[Optional[Path], typer.Option("--corpus", help="corpus JSONL: build a throwaway collection from it")] = None,
    out_dir: Annotated[Optional[Path], typer.Option("--out", "-o", help="run folder (default rag-eval/<questions name>)")] = None,
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="an earlier run folder to compare with")] = None,
    fail_under: Annotated[Optional[list[str]], typer.Option("--fail-under", help="METRIC=VALUE; exit 1 when not met (repeatable)")] = None,
    limit: Annotated[Optional[int], typer.Option("--limit", min=1, help="only the first N questions")] = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", "-k", min=1, max=100, help="passages in the context")] = None,
    batch_size: Annotated[int, typer.Option("--batch-size", min=1, help="questions per pipeline batch (a killed run loses at most the batch in flight)")] = 16,
    ragas: Annotated[bool, typer.Option("--ragas/--no-ragas", help="score the non-LLM ragas metrics")] = True,
    judge: Annotated[bool, typer.Option("--judge", help="LLM-judged ragas metrics via RAG_LLM_BASE_URL")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="start over when --out holds a different run")] = False,
    name: Annotated[Optional[str], typer.Option("--name", help="title of the reports")] = None,
    calibrate_on: Annotated[Optional[list[Path]], typer.Option("--calibrate-on", help="with --corpus: a folder (corpus.jsonl + questions.jsonl) whose documents join the throwaway collection and whose labelled questions calibrate its abstention first (repeatable; keep its questions disjoint from the evaluated ones)")] = None,
) -> None:
    """Answer every question, score it, tag its failure modes, and write report.json/.md/.html (resumable)."""
    from connectors import JsonlConnector
    from eval.datasets import load_questions
    from eval.ragas_metrics import JudgeScorer, RagasScorer
    from eval.runner import RunMismatch, file_sha256, fingerprint, load_gold_findings, parse_thresholds, run_eval
    from rag.cli import StageProgress, progress_bar
    from rag.config import get_settings
    from rag.errors import RAGError

    if (collection is None) == (corpus is None):
        _fail("give exactly one of --collection and --corpus")
    try:
        thresholds = parse_thresholds(fail_under or [])
    except ValueError as e:
        _fail(str(e))
    if not questions.is_file():
        _fail(f"question file not found: {questions}")
    if corpus is not None and not corpus.is_file():
        _fail(f"corpus file not found: {corpus}")
    calibrate_on = list(calibrate_on or [])
    if calibrate_on and corpus is None:
        _fail("--calibrate-on needs --corpus; calibrate an existing collection with `rag calibrate`")
    for d in calibrate_on:
        if not (d / "questions.jsonl").is_file():
            _fail(f"--calibrate-on {d}: no questions.jsonl there")
    if baseline is not None and not baseline.is_dir():
        _fail(f"--baseline {baseline}: not a folder")
    try:
        qs = load_questions(questions)
    except ValueError as e:
        _fail(str(e))
    if not qs:
        _fail(f"{questions} holds no questions")
    out_dir = out_dir or Path("rag-eval") / questions.stem
    settings = get_settings()
    tmp_data = None
    if corpus is not None:
        tmp_data = Path(tempfile.mkdtemp(prefix="rag-eval-"))
        settings = settings.model_copy(update={"data_dir": tmp_data})
        coll = "eval"
    else:
        coll = collection
    try:
        svc = make_service(settings)
        if corpus is not None:
            console.print(f"building a throwaway collection from {corpus} …")
            with progress_bar() as bar:
                rep = svc.ingest(coll, JsonlConnector(corpus).load(), progress=StageProgress(bar))
            console.print(f"ingested {rep.n_docs} documents" + (f", {len(rep.skipped)} skipped" if rep.skipped else ""))
            coll_id = {"corpus_sha256": file_sha256(corpus)}
            if calibrate_on:
                coll_id["calibration"] = _calibrate_from(svc, coll, calibrate_on)
        try:
            pipe = svc.pipeline(coll)
        except RAGError as e:
            _fail(str(e))
        if corpus is None:
            coll_id = {"collection": coll, "snapshot": pipe.snapshot.path.name if pipe.snapshot.path else None}
        run_settings = _run_settings(svc, coll, top_k)
        if corpus is not None:
            run_settings.pop("collection_settings", None)  # a fresh collection every time: its own ids differ
        parts = {"questions_sha256": file_sha256(questions), **coll_id, "top_k": top_k, "settings": run_settings,
                 "judge": judge, "ragas": ragas}
        gold_fn, gold_note = load_gold_findings()
        if gold_fn is None:
            console.print(f"[yellow]{gold_note}[/]")
        scorer = RagasScorer(svc.embedder, use_ragas=ragas)
        if ragas and not scorer.available:
            console.print(f"[yellow]ragas metrics unavailable:[/] {scorer.note}")
        judge_scorer = None
        if judge:
            judge_scorer = JudgeScorer(settings.llm_base_url, settings.llm_model, settings.llm_api_key,
                                       embedder=svc.embedder, timeout_s=settings.llm_timeout_s)
            console.print(("[green]" if judge_scorer.available else "[yellow]") + f"LLM judge: {judge_scorer.note}[/]")
        run_info = {"fingerprint": fingerprint(parts), "name": name or questions.stem,
                    "questions_file": str(questions), "questions_sha256": parts["questions_sha256"],
                    "collection": coll, "corpus_file": str(corpus) if corpus else None, **coll_id,
                    "top_k": top_k or svc.config.top_k, "settings": run_settings, "n_questions_in_file": len(qs)}
        console.print(f"evaluating {min(limit or len(qs), len(qs))} questions on {coll!r} → {out_dir}")
        with progress_bar() as bar:
            task = bar.add_task("eval", total=min(limit or len(qs), len(qs)))
            try:
                res = run_eval(pipe, qs, out_dir, run_info, top_k=top_k, batch_size=batch_size, limit=limit,
                               scorer=scorer, judge=judge_scorer, gold_fn=gold_fn, overwrite=overwrite,
                               progress=lambda d, t: bar.update(task, completed=d, total=t))
            except RunMismatch as e:
                _fail(str(e))
    finally:
        if tmp_data is not None:
            shutil.rmtree(tmp_data, ignore_errors=True)
    if res.resumed:
        console.print(f"resumed: {res.resumed} questions were already done in {out_dir}")
    agg, comparison, failures, paths = _finish_reports(Path(out_dir), res.run, res.records, baseline, thresholds)
    _summary(agg, res, paths, comparison)
    if failures:
        console.print("[bold red]FAILED thresholds:[/]")
        for f in failures:
            console.print(f"  {f}")
        raise typer.Exit(1)
    if thresholds:
        console.print("[green]all thresholds met[/]")


@app.command("report")
def report_cmd(
    run_dir: Annotated[Path, typer.Argument(help="a run folder (records.jsonl + run.json)")],
    baseline: Annotated[Optional[Path], typer.Option("--baseline", help="an earlier run folder to compare with")] = None,
    fail_under: Annotated[Optional[list[str]], typer.Option("--fail-under", help="METRIC=VALUE (repeatable)")] = None,
) -> None:
    """Re-render report.json/.md/.html from a run folder's records (e.g. of an interrupted run)."""
    from eval.runner import RecordLog, parse_thresholds, read_run

    run = read_run(run_dir)
    if run is None:
        _fail(f"{run_dir} holds no run.json")
    try:
        thresholds = parse_thresholds(fail_under or [])
    except ValueError as e:
        _fail(str(e))
    records = RecordLog(run_dir).read()
    agg, comparison, failures, paths = _finish_reports(run_dir, run, records, baseline, thresholds)
    out.print(f"{len(records)} records; reports: {paths['md']}  {paths['html']}  {paths['json']}")
    if failures:
        for f in failures:
            console.print(f"[red]FAILED[/] {f}")
        raise typer.Exit(1)


class Format(str, Enum):
    beir = "beir"
    squad = "squad"
    rgb = "rgb"
    halueval = "halueval"
    ragas = "ragas"


@app.command("convert")
def convert_cmd(
    fmt: Annotated[Format, typer.Argument(metavar="{beir,squad,rgb,halueval,ragas}", help="source format")],
    src: Annotated[Path, typer.Argument(help="source file (folder for BEIR)")],
    dest: Annotated[Path, typer.Argument(help="output folder: corpus.jsonl + questions.jsonl")],
    noise_rate: Annotated[Optional[float], typer.Option("--noise-rate", min=0.0, max=1.0, help="RGB: share of negative passages (1.0 = only negatives: abstain)")] = None,
    passages: Annotated[int, typer.Option("--passages", min=1, help="RGB: passages per question")] = 5,
    seed: Annotated[int, typer.Option("--seed", help="RGB: sampling seed")] = 0,
    records: Annotated[Optional[str], typer.Option("--records", metavar="START:END", help="RGB: only records START..END-1 (disjoint calibration and test sets)")] = None,
    split: Annotated[str, typer.Option("--split", help="BEIR: qrels split")] = "test",
) -> None:
    """Convert a public data set into the eval format (corpus.jsonl + questions.jsonl)."""
    from eval import datasets as ds

    if not src.exists():
        _fail(f"not found: {src}")
    if fmt is not Format.rgb and (noise_rate is not None or records is not None):
        _fail("--noise-rate and --records apply to rgb only")
    try:
        if fmt is Format.beir:
            counts = ds.convert_beir(src, dest, split=split)
        elif fmt is Format.squad:
            counts = ds.convert_squad(src, dest)
        elif fmt is Format.rgb:
            if noise_rate is None:
                _fail("rgb needs --noise-rate (0.0 .. 1.0; 1.0 = only negative passages)")
            start, stop = _record_range(records)
            counts = ds.convert_rgb(src, dest, noise_rate, passages_per_question=passages, seed=seed, start=start, stop=stop)
        elif fmt is Format.halueval:
            counts = ds.convert_halueval_qa(src, dest)
        else:
            counts = ds.convert_ragas(src, dest)
    except (ValueError, KeyError, json.JSONDecodeError, FileNotFoundError) as e:
        _fail(f"{src}: {e}")
    out.print(f"wrote {dest / 'corpus.jsonl'} and {dest / 'questions.jsonl'}: "
              + ", ".join(f"{k} {v}" for k, v in counts.items()), soft_wrap=True)


def _record_range(spec: str | None) -> tuple[int, int | None]:
    if not spec:
        return 0, None
    a, sep, b = spec.partition(":")
    try:
        start, stop = int(a or 0), (int(b) if b else None)
    except ValueError:
        _fail(f"--records {spec!r}: expected START:END, e.g. 0:50")
    if not sep or start < 0 or (stop is not None and stop <= start):
        _fail(f"--records {spec!r}: expected START:END with 0 <= START < END")
    return start, stop


def main() -> None:  # python -m eval.cli
    logging.basicConfig(level=logging.WARNING)
    app()


if __name__ == "__main__":
    main()
