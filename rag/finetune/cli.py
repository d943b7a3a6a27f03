"""``rag finetune``: the typer command function (registered by ``rag.cli``).

    rag finetune [--collection C] [--epochs N] [--apply] [--max-pairs N] [--loss mnrl|triplet] ...
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer


def _llm_question_generator(settings):
    """Questions from the configured generator LLM (``RAG_GENERATOR`` openai or local), two per passage."""
    from rag.llm import make_llm_generator

    from rag.cli import service_config
    from rag.finetune.pairs import question_writer

    cfg = service_config(settings)
    gen = make_llm_generator(cfg.generator, cfg.llm)
    gen.warm_up()
    return question_writer(gen)


def finetune_command(
    collection: Annotated[Optional[str], typer.Option("--collection", "-c", help="collection name (default: RAG_DEFAULT_COLLECTION)")] = None,
    epochs: Annotated[int, typer.Option(min=1, help="training epochs (embedder and reranker)")] = 1,
    apply: Annotated[bool, typer.Option("--apply", help="re-embed the collection with the new embedder (atomic swap) and make the new reranker its reranker, each if it beat the current one on held-out pairs")] = False,
    max_pairs: Annotated[int, typer.Option(min=10, help="cap on training pairs (augmented ones included): the main time budget")] = 1000,
    loss: Annotated[str, typer.Option(help="embedder loss: mnrl (MultipleNegativesRankingLoss) or triplet; empty = the measured default")] = "",
    compare_losses: Annotated[bool, typer.Option("--compare-losses", help="train with both losses and keep the better on held-out pairs (twice the time)")] = False,
    embedder: Annotated[bool, typer.Option("--embedder/--no-embedder", help="fine-tune the embedder")] = True,
    reranker: Annotated[bool, typer.Option("--reranker/--no-reranker", help="train a cross-encoder reranker")] = True,
    batch_size: Annotated[int, typer.Option(min=2)] = 16,
    max_seq_length: Annotated[int, typer.Option(min=16, help="tokens per text while training (the reranker also scores at this length)")] = 128,
    train_layers: Annotated[int, typer.Option(help="embedder layers to train from the top; 0 = all, -1 = auto (all on GPU, 3 on CPU)")] = -1,
    heldout: Annotated[int, typer.Option(min=5, help="held-out pairs for early stopping and model selection")] = 100,
    reranker_queries: Annotated[int, typer.Option(min=10, help="training queries for the reranker (each with its positive and 3 negatives)")] = 400,
    llm_questions: Annotated[bool, typer.Option("--llm-questions", help="also train on questions written by the configured generator LLM (RAG_GENERATOR)")] = False,
    force: Annotated[bool, typer.Option("--force", help="with --apply: apply even if held-out scores did not improve")] = False,
    check: Annotated[Optional[Path], typer.Option("--check", help="with --apply: labelled questions (rag eval JSONL with gold_doc_ids); new models that lower the collection's retrieval MRR@10 on them are rolled back")] = None,
    device: Annotated[str, typer.Option(help="auto, cpu or cuda")] = "auto",
    seed: Annotated[int, typer.Option()] = 0,
    json_out: Annotated[bool, typer.Option("--json", help="print the report as JSON")] = False,
) -> None:
    """Fine-tune the collection's embedder (contrastive) and train its reranker, from its own documents."""
    from rich.table import Table

    from rag.cli import console, fail, get_settings, make_service, out, progress_bar
    from rag.errors import RAGError
    from rag.finetune.runner import FinetuneOptions, finetune_collection

    s = get_settings()
    name = collection or s.default_collection
    svc = make_service(s)
    generate = None
    if llm_questions:
        if s.generator == "extractive":
            fail("--llm-questions needs a generator LLM (set RAG_GENERATOR=openai or local)")
        generate = _llm_question_generator(s)
    check_fn = None
    if check is not None:
        if not apply:
            fail("--check only matters with --apply")
        from rag.labels import load_labelled

        try:
            check_qs = [q for q in load_labelled(check) if q.gold_doc_ids]
        except (OSError, ValueError) as e:
            fail(str(e))
        if len(check_qs) < 10:
            fail(f"--check needs at least 10 questions with gold_doc_ids in {check}, found {len(check_qs)}")
        check_fn = lambda: make_service(s).retrieval_mrr(name, check_qs)  # noqa: E731 - a fresh service: the live models
    opts = FinetuneOptions(embedder=embedder, reranker=reranker, loss=loss, compare_losses=compare_losses,
                           epochs=epochs, max_pairs=max_pairs, heldout=heldout, batch_size=batch_size,
                           max_seq_length=max_seq_length, train_layers=train_layers, reranker_queries=reranker_queries,
                           apply=apply, force=force, device=device if device != "auto" else s.device, seed=seed,
                           generate=generate, check=check_fn)
    try:
        with progress_bar() as bar:
            tasks: dict[str, int] = {}

            def progress(stage: str, done: int, total: int) -> None:
                if stage not in tasks:
                    tasks[stage] = bar.add_task(stage, total=total or 1)
                bar.update(tasks[stage], completed=done, total=total or 1)

            rep = finetune_collection(svc.store, name, svc.embedder, opts, progress)
    except (RAGError, ValueError, FileNotFoundError) as e:
        fail(str(e))
    if json_out:
        sys.stdout.write(json.dumps(rep, default=str) + "\n")
        return
    d = rep["data"]
    console.print(f"[bold]{name}[/]: {d['documents']} documents, {d['chunks']} chunks → {d['train_pairs']} training "
                  f"pairs, {d['heldout_pairs']} held-out (from {d['heldout_documents']} unseen documents); "
                  f"negatives {d['negatives']}")
    t = Table(title=f"rag finetune → {name} (v{rep['version']}, {rep['device']})")
    for col in ("model", "loss", "steps", "held-out MRR@10 before → after", "hit@1 after", "seconds", "saved in"):
        t.add_column(col, overflow="fold")
    if "embedder" in rep:
        e = rep["embedder"]
        before, after = e.get("heldout_start") or {}, e.get("heldout_best") or {}
        t.add_row("embedder", e["loss"], str(e["steps"]), f"{before.get('mrr@10', float('nan')):.3f} → "
                  f"{after.get('mrr@10', float('nan')):.3f}", f"{after.get('hit@1', float('nan')):.3f}",
                  f"{e['seconds']:.0f}", e["path"])
        for k, v in (e.get("loss_comparison") or {}).items():
            console.print(f"  loss {k}: held-out MRR@10 {(v['heldout_best'] or {}).get('mrr@10', float('nan')):.3f} "
                          f"({v['seconds']:.0f} s)")
    if "reranker" in rep:
        r = rep["reranker"]
        fs, best = r.get("heldout_first_stage") or {}, r.get("heldout_best") or {}
        t.add_row("reranker", r["loss"], str(r["steps"]), f"{fs.get('mrr@10', float('nan')):.3f} → "
                  f"{(best.get('reranked') or {}).get('mrr@10', float('nan')):.3f}",
                  f"{(best.get('reranked') or {}).get('hit@1', float('nan')):.3f}", f"{r['seconds']:.0f}", r["path"])
    out.print(t)
    if apply and rep.get("check"):
        c = rep["check"]
        verdict = "rolled back: the collection keeps its models" if c["rolled_back"] else "kept"
        console.print(f"check on {len(check_qs)} labelled questions: retrieval MRR@10 {c['before']:.3f} → "
                      f"{c['after']:.3f}, {verdict}")
    if apply:
        console.print(f"applied: {', '.join(rep['applied']) or 'nothing (no held-out improvement or rolled back; --force applies anyway)'}")
    else:
        console.print("not applied: rerun with --apply to re-embed the collection and use the new reranker")
