"""The ``rag`` command line (typer + rich). Reads settings; everything else takes plain arguments."""

from __future__ import annotations

import json
import logging
import sys
from importlib import resources
from importlib.metadata import entry_points
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from rag.config import Settings, get_settings
from rag.errors import RAGError

app = typer.Typer(help="Retrieval-augmented answers with citations, abstention and failure diagnostics.",
                  no_args_is_help=True, add_completion=False, pretty_exceptions_enable=False)
console = Console(stderr=True)
out = Console()

CollectionOpt = Annotated[Optional[str], typer.Option("--collection", "-c", help="collection name (default: RAG_DEFAULT_COLLECTION)")]


def service_config(s: Settings, *, server: bool = False):
    from rag.service import ServiceConfig

    return ServiceConfig(
        data_dir=s.data_dir, embedding_model=s.embedding_model, reranker_model=s.reranker_model, device=s.device,
        generator=s.generator,
        llm={"base_url": s.llm_base_url, "model": s.llm_model, "api_key": s.llm_api_key, "timeout_s": s.llm_timeout_s,
             "max_retries": s.llm_max_retries, "temperature": s.llm_temperature, "max_tokens": s.llm_max_tokens,
             "model_path": s.local_model_path, "selfcheck_samples": s.selfcheck_samples,
             "selfcheck_temperature": s.selfcheck_temperature, "selfcheck_threshold": s.selfcheck_threshold},
        chunk_tokens=s.chunk_tokens, chunk_overlap=s.chunk_overlap, max_file_mb=s.max_file_mb, top_k=s.top_k,
        candidate_k=s.candidate_k, rerank_k=s.rerank_k, dense_weight=s.dense_weight, lexical_weight=s.lexical_weight,
        rrf_k=s.rrf_k, context_chars=s.context_chars, quantization=s.index_quantization,
        max_question_chars=s.max_question_chars, sentence_vectors=s.sentence_vectors,
        query_batch=s.query_batch, query_batch_wait_ms=s.query_batch_wait_ms, query_encoder=s.query_encoder,
        ingest_worker=s.ingest_worker if server else "thread", ingest_nice=s.ingest_nice,
    )


def make_service(settings: Settings | None = None, *, server: bool = False):
    """The service from settings; ``server`` for the API process (ingests go to a low-priority child)."""
    from rag.service import RAGService

    return RAGService(service_config(settings or get_settings(), server=server))


def fail(msg: str, code: int = 1) -> None:
    console.print(f"[bold red]error:[/] {msg}")
    raise typer.Exit(code)


def progress_bar() -> Progress:
    return Progress(TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                    console=console, transient=True)


class StageProgress:
    """Adapts the ingest progress callback (stage, done, total) to rich tasks."""

    def __init__(self, bar: Progress) -> None:
        self.bar, self.tasks = bar, {}

    def __call__(self, stage: str, done: int, total: int) -> None:
        if stage not in self.tasks:
            self.tasks[stage] = self.bar.add_task(stage, total=total or 1)
        self.bar.update(self.tasks[stage], completed=done, total=total or 1)


def print_ingest(report) -> None:
    d = report.to_dict()
    t = Table(title=f"ingest → {d['collection']}", show_header=False)
    for k in ("added", "updated", "deleted"):
        t.add_row(k, str(len(d[k])))
    t.add_row("unchanged", str(d["unchanged"]))
    t.add_row("documents / chunks", f"{d['documents']} / {d['chunks']} ({d['new_chunks']} new)")
    t.add_row("quarantined chunks", str(len(d["quarantined_chunks"])))
    t.add_row("seconds", f"{d['seconds']:.2f}")
    console.print(t)
    q = d.get("quality") or {}
    if q:
        summary = {k: v for k, v in q.get("counts", q).items() if isinstance(v, (int, float)) and v} if isinstance(q, dict) else {}
        if summary:
            console.print("[yellow]quality report:[/] " + ", ".join(f"{k}={v}" for k, v in summary.items()))
    for s in d["skipped"]:
        console.print(f"[yellow]skipped[/] {s['source']}: {s['reason']}")


@app.command()
def ingest(
    paths: Annotated[list[Path], typer.Argument(help="files or folders (.txt .md .html .pdf .csv .json .jsonl)")],
    collection: CollectionOpt = None,
    rebuild: Annotated[bool, typer.Option(help="rebuild the collection from these documents only")] = False,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Ingest documents into a collection (unchanged files cost nothing; changed ones replace their chunks)."""
    s = get_settings()
    name = collection or s.default_collection
    svc = make_service(s)
    try:
        with progress_bar() as bar:
            report = svc.ingest_paths(name, list(paths), rebuild=rebuild, progress=StageProgress(bar))
    except RAGError as e:
        fail(str(e))
    if json_out:
        out.print_json(json.dumps(report.to_dict()))
    else:
        print_ingest(report)
    if report.n_docs == 0 and not report.changed:
        fail("nothing was ingested" + (f" ({len(report.skipped)} skipped)" if report.skipped else ""), 2)


def print_answer(ans, collection: str) -> None:
    style = "yellow" if ans.abstained else "green"
    out.print(f"[bold {style}]{'ABSTAINED' if ans.abstained else 'ANSWER'}[/] ({collection})")
    out.print(ans.answer)
    if ans.abstained and ans.abstain_reason:
        out.print(f"[dim]reason: {ans.abstain_reason}[/]")
    for c in ans.citations:
        snippet = " ".join(c.text.split())[:160]
        out.print(f"  [{c.n}] [cyan]{c.doc_id}[/] ({c.source}) score={c.score:.3f}\n      {snippet}…")
    if ans.diagnostics:
        out.print("[bold]diagnostics:[/] " + ", ".join(f"{t.mode} ({t.confidence:.2f})" for t in ans.diagnostics))
    out.print(f"[dim]{', '.join(f'{k} {v:.0f} ms' for k, v in ans.timings_ms.items())}[/]")


@app.command()
def ask(
    question: Annotated[str, typer.Argument(help="the question")],
    collection: CollectionOpt = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", "-k", help="passages in the context")] = None,
    json_out: Annotated[bool, typer.Option("--json", help="print one JSON object")] = False,
) -> None:
    """Answer a question from a collection, with citations, or abstain."""
    s = get_settings()
    name = collection or s.default_collection
    svc = make_service(s)
    try:
        ans = svc.ask(name, question, top_k)
    except (RAGError, ValueError) as e:
        fail(str(e))
    if json_out:
        sys.stdout.write(json.dumps(ans.to_dict(), ensure_ascii=False) + "\n")
    else:
        print_answer(ans, name)


@app.command()
def diagnose(
    question: Annotated[str, typer.Argument(help="the question")],
    collection: CollectionOpt = None,
    top_k: Annotated[Optional[int], typer.Option("--top-k", "-k")] = None,
) -> None:
    """Answer a question and explain which failure modes it suffered, with evidence and fixes."""
    s = get_settings()
    name = collection or s.default_collection
    try:
        tr = make_service(s).trace(name, question, top_k)
    except (RAGError, ValueError) as e:
        fail(str(e))
    print_answer(tr.answer, name)
    t = Table(title="retrieval", show_lines=False)
    for col in ("#", "chunk", "dense", "lexical", "fused", "rerank"):
        t.add_column(col)
    for i, h in enumerate(tr.context, 1):
        t.add_row(str(i), h.chunk.id, *(str(h.ranks.get(k, "-")) for k in ("dense", "lexical", "fused", "rerank")))
    out.print(t)
    if not tr.answer.diagnostics:
        out.print("[green]no failure mode detected[/]")
        return
    t = Table(title="failure modes", show_lines=True)
    for col in ("mode", "confidence", "evidence", "suggested fix"):
        t.add_column(col, overflow="fold")
    for tag in tr.answer.diagnostics:
        t.add_row(tag.mode, f"{tag.confidence:.2f}", tag.evidence, tag.suggestion)
    out.print(t)


@app.command()
def collections(json_out: Annotated[bool, typer.Option("--json")] = False) -> None:
    """List collections."""
    rows = make_service().collections()
    if json_out:
        sys.stdout.write(json.dumps(rows) + "\n")
        return
    t = Table(title=f"collections in {get_settings().data_dir}")
    for col in ("name", "documents", "chunks", "embedding model"):
        t.add_column(col)
    for r in rows:
        t.add_row(r["name"], str(r.get("documents", "?")), str(r.get("chunks", "?")), r.get("embedding_model", r.get("error", "")))
    out.print(t)


@app.command()
def delete(
    doc_ids: Annotated[Optional[list[str]], typer.Argument(help="document ids to delete")] = None,
    collection: CollectionOpt = None,
    all_: Annotated[bool, typer.Option("--all", help="delete the whole collection")] = False,
) -> None:
    """Delete documents from a collection, or the whole collection with --all."""
    s = get_settings()
    name = collection or s.default_collection
    svc = make_service(s)
    try:
        if all_:
            svc.delete_collection(name)
            console.print(f"deleted collection {name}")
        elif doc_ids:
            print_ingest(svc.delete_documents(name, doc_ids))
        else:
            fail("name document ids to delete, or --all")
    except RAGError as e:
        fail(str(e))


@app.command()
def calibrate(
    questions: Annotated[Path, typer.Argument(help="labelled questions (JSONL: id, question, answers, gold_doc_ids)")],
    collection: CollectionOpt = None,
    fusion: Annotated[bool, typer.Option(help="also tune the dense/lexical fusion weights")] = True,
) -> None:
    """Fit the abstention threshold (and fusion weights) on labelled questions; stored with the collection."""
    from rag.labels import load_labelled

    s = get_settings()
    name = collection or s.default_collection
    try:
        qs = load_labelled(questions)
        with progress_bar() as bar:
            task = bar.add_task("calibrate", total=len(qs))
            rep = make_service(s).calibrate(name, qs, tune_fusion=fusion,
                                            progress=lambda d, t: bar.update(task, completed=d, total=t))
    except (RAGError, ValueError, FileNotFoundError) as e:
        fail(str(e))
    a = rep["abstention"]
    out.print(f"calibrated {name!r} on {a['n']} questions ({a['n_answerable']} answerable): threshold {a['threshold']:.3f}, "
              f"refuses {a['refused_unanswerable']:.1%} of unanswerable, answers {a['answered_answerable']:.1%} of answerable")
    if "fusion" in rep:
        f = rep["fusion"]
        out.print(f"fusion weights dense={f['dense_weight']} lexical={f['lexical_weight']} (MRR@10 {f['mrr@10']:.3f})")


@app.command()
def repair(collection: CollectionOpt = None) -> None:
    """Rebuild a collection's index files from its stored chunks and embeddings."""
    s = get_settings()
    name = collection or s.default_collection
    try:
        snap = make_service(s).repair(name)
    except RAGError as e:
        fail(str(e))
    console.print(f"repaired {name}: {snap.size} chunks")


@app.command()
def demo(question: Annotated[str, typer.Argument()] = "When was Northwind Bikes founded, and by whom?") -> None:
    """The embedded default: ingest the bundled sample corpus, calibrate, and answer a question."""
    s = get_settings()
    sample = Path(str(resources.files("rag") / "data" / "sample"))
    questions = Path(str(resources.files("rag") / "data" / "sample_questions.jsonl"))
    svc = make_service(s)
    try:
        with progress_bar() as bar:
            report = svc.ingest_paths("sample", [sample], progress=StageProgress(bar))
        print_ingest(report)
        from rag.labels import load_labelled

        if "abstention" not in svc.store.read_settings("sample"):
            rep = svc.calibrate("sample", load_labelled(questions), tune_fusion=False)
            console.print(f"calibrated abstention threshold {rep['abstention']['threshold']:.3f}")
        print_answer(svc.ask("sample", question), "sample")
    except RAGError as e:
        fail(str(e))


@app.command()
def serve(
    host: Annotated[Optional[str], typer.Option(help="bind address (default RAG_HOST)")] = None,
    port: Annotated[Optional[int], typer.Option(help="port (default RAG_PORT)")] = None,
) -> None:
    """Run the REST API under uvicorn."""
    import uvicorn

    s = get_settings()
    host = host or s.host
    if not s.api_keys.strip() and host not in ("127.0.0.1", "localhost", "::1"):
        console.print("[yellow]no RAG_API_KEYS configured: binding to 127.0.0.1 only[/]")
        host = "127.0.0.1"
    uvicorn.run("rag.api.app:create_app", factory=True, host=host, port=port or s.port, log_level="info")


from rag.finetune.cli import finetune_command  # noqa: E402

app.command("finetune", help="Fine-tune the embedder (contrastive) and train a reranker on a collection's own corpus.")(finetune_command)


def _plugins() -> None:
    """Commands from other packages (``rag.cli`` entry points), so the core never imports them."""
    for ep in entry_points(group="rag.cli"):
        try:
            app.add_typer(ep.load(), name=ep.name)
        except Exception as e:  # a broken plugin must not take the CLI down
            logging.getLogger(__name__).warning("could not load CLI plugin %s: %s", ep.name, e)


def main() -> None:
    logging.basicConfig(level=logging.WARNING)
    for noisy in ("bm25s", "httpx", "sentence_transformers"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    _plugins()
    app()


if __name__ == "__main__":
    main()
