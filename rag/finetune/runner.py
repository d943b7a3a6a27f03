"""``finetune_collection``: pairs → hard negatives → embedder and reranker → versioned folders → (apply).

Layout under the data directory::

    <collection>/models/embedder-v<N>/   SentenceTransformer folder + rag_model.json (the training card)
    <collection>/models/reranker-v<N>/   CrossEncoder folder + rag_model.json

A run that fails (too little data, an error mid-training) leaves the collection,
its settings and its earlier models as they were: folders are written under a
temporary name and renamed into place only when complete, and ``apply`` runs
only after both models are saved.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from rag.errors import IndexFormatError
from rag.finetune.pairs import build_pairs, mine_hard_negatives
from rag.finetune.train import (
    EmbedderConfig,
    HeldoutEval,
    RerankerConfig,
    device_for,
    save_model,
    train_embedder,
    train_reranker,
)

Progress = Callable[[str, int, int], None]

# Which loss the embedder trains with unless told otherwise: the one that measured
# better on held-out pairs. Cranfield, 592 pairs, one epoch, top 3 layers, 2 contended CPU
# cores (benchmarks/results/finetune-cranfield.json): TripletLoss lifted held-out MRR@10
# from 0.853 to 0.859 (+0.006, 60 queries); MultipleNegativesRankingLoss never beat the
# base model, so early stopping kept the base weights. A small margin on a small held-out set.
# With 2,471 pairs on an idle machine (finetune-cranfield2.json) MNRL lifted held-out MRR@10
# from 0.765 to 0.795 yet lowered Cranfield's real queries (hybrid nDCG@10 0.416 -> 0.390):
# held-out pairs are not real questions, hence ``check`` (labelled questions) on --apply.
DEFAULT_LOSS = "triplet"
# On CPU only the top layers train by default (about a third less work per step);
# on a GPU all of them.
CPU_TRAIN_LAYERS = 3


@dataclass
class FinetuneOptions:
    embedder: bool = True
    reranker: bool = True
    loss: str = ""  # "" = DEFAULT_LOSS
    compare_losses: bool = False  # train with both losses, keep the better on held-out pairs
    epochs: int = 1
    max_pairs: int = 1000
    heldout: int = 100
    batch_size: int = 16
    lr: float = 0.0  # 0 = the config default
    max_seq_length: int = 128
    train_layers: int = -1  # -1 = auto (all on GPU, CPU_TRAIN_LAYERS on CPU); 0 = all
    reranker_queries: int = 400
    reranker_epochs: int = 0  # 0 = epochs
    n_neg: int = 3  # mined negatives per pair (the reranker's)
    embedder_negatives: int = 1  # of those, per MNRL example (0 = in-batch negatives only)
    augment_fraction: float = 0.25
    structural_share: float = 0.6  # titles / headings / generated questions: most of the budget they may take
    simcse_fraction: float = 0.05
    base_model: str = ""  # "" = packaged MiniLM
    apply: bool = False
    force: bool = False  # apply even when held-out scores do not improve
    device: str = "auto"
    seed: int = 0
    min_docs: int = 10
    generate: Callable[[str], list[str]] | None = field(default=None, repr=False)
    # labelled-question check for --apply: returns the live collection's retrieval score (higher is
    # better); applied models that lower it by more than check_tolerance are rolled back
    check: Callable[[], float] | None = field(default=None, repr=False)
    check_tolerance: float = 0.005


def models_dir(store, name: str) -> Path:
    return store.dir(name) / "models"


def next_version(store, name: str) -> int:
    d = models_dir(store, name)
    nums = [int(m.group(1)) for p in (d.iterdir() if d.is_dir() else [])
            if (m := re.match(r"^(?:embedder|reranker)-v(\d+)$", p.name))]
    return max(nums, default=0) + 1


def collection_embedder(store, name: str, snap, embedder):
    """The embedder that built the live snapshot: ``embedder`` when its id matches, else the
    collection's recorded fine-tuned one (settings ``embedding_model``)."""
    if embedder is not None and embedder.model_id == snap.model_id:
        return embedder
    from rag.embedding import SentenceTransformerEmbedder, resolve_model

    path = store.read_settings(name).get("embedding_model")
    if path and Path(path).is_dir() and resolve_model(path)[1] == snap.model_id:
        return SentenceTransformerEmbedder(path)
    if snap.model_id == "sentence-transformers/all-MiniLM-L6-v2":
        return SentenceTransformerEmbedder()
    raise IndexFormatError(
        f"collection {name!r} was built with the embedding model {snap.model_id!r}, which is not configured "
        f"(RAG_EMBEDDING_MODEL) nor recorded in its settings; hard negatives must come from its own index")


def _base_path(opts: FinetuneOptions) -> Path:
    from rag.embedding import resolve_model

    return resolve_model(opts.base_model or None)[0]


def finetune_collection(store, name: str, embedder=None, opts: FinetuneOptions | None = None,
                        progress: Progress | None = None) -> dict[str, Any]:
    """Train a collection's embedder and/or reranker from its own text; apply them with ``opts.apply``.

    Raises :class:`rag.errors.TrainingDataError` (nothing changed) when the collection is too small.
    Returns a JSON-able report (what the training cards say, plus what was applied).
    """
    opts = opts or FinetuneOptions()
    t_all = time.perf_counter()
    snap = store.load(name)
    report: dict[str, Any] = {"collection": name, "snapshot": snap.path.name if snap.path else None}
    from rag.finetune.augment import synonym_source

    base = _base_path(opts)
    pairs = build_pairs(snap.chunks, max_pairs=opts.max_pairs, max_heldout=opts.heldout,
                        augment_fraction=opts.augment_fraction, simcse_fraction=opts.simcse_fraction,
                        structural_share=opts.structural_share, synonyms=synonym_source(base),
                        generate=opts.generate, min_docs=opts.min_docs, seed=opts.seed, collection=name)
    report["data"] = dict(pairs.counts)
    if progress:
        progress("pairs", 1, 1)
    # hard negatives and the held-out pool come from the collection's own index
    cur = collection_embedder(store, name, snap, embedder)
    cur.warm_up()
    queries = [p.query for p in pairs.train] + [p.query for p in pairs.heldout]
    vecs = []
    for s in range(0, len(queries), 256):
        vecs.append(cur.encode(queries[s:s + 256]))
        if progress:
            progress("encode queries", min(s + 256, len(queries)), len(queries))
    qv = np.concatenate(vecs) if vecs else np.zeros((0, snap.embeddings.shape[1]), np.float32)
    ntr = len(pairs.train)
    report["data"]["negatives"] = mine_hard_negatives(pairs.train, snap, qv[:ntr], n_neg=opts.n_neg, seed=opts.seed)
    held = HeldoutEval(pairs.heldout, snap, qv[ntr:])
    same_base = cur.model_id == _model_id_of(base)
    dev = device_for(opts.device)
    layers = opts.train_layers if opts.train_layers >= 0 else (0 if dev == "cuda" else CPU_TRAIN_LAYERS)
    version = next_version(store, name)
    mdir = models_dir(store, name)
    report["version"] = version
    report["device"] = dev

    emb_model = None
    if opts.embedder:
        losses = ["mnrl", "triplet"] if opts.compare_losses else [opts.loss or DEFAULT_LOSS]
        runs = {}
        base_scores = held.base() if same_base else None
        for loss in losses:
            cfg = EmbedderConfig(loss=loss, epochs=opts.epochs, batch_size=opts.batch_size,
                                 max_seq_length=opts.max_seq_length, train_layers=layers, seed=opts.seed,
                                 n_neg=min(opts.embedder_negatives, opts.n_neg),
                                 **({"lr": opts.lr} if opts.lr else {}))
            model, info = train_embedder(pairs.train, held, base, cfg, device=opts.device, progress=progress,
                                         base_scores=base_scores)
            runs[loss] = (model, info)
        best_loss = max(runs, key=lambda k: (runs[k][1]["heldout_best"] or {}).get("mrr@10", -1.0))
        emb_model, info = runs[best_loss]
        if len(runs) > 1:
            info["loss_comparison"] = {k: {"heldout_best": v[1]["heldout_best"], "seconds": v[1]["seconds"],
                                           "improved": v[1]["improved"]} for k, v in runs.items()}
        model_id = f"rag-ft/{name}/embedder-v{version}"
        card = {"model_id": model_id, "kind": "embedder", "collection": name, "base_model": str(base),
                "trained_on_snapshot": report["snapshot"], "data": report["data"], **info,
                "created_at": time.time()}
        path = save_model(emb_model, mdir / f"embedder-v{version}", card)
        report["embedder"] = {"path": str(path), "model_id": model_id, **_summary(info)}

    if opts.reranker:
        cand = None
        if emb_model is not None and report["embedder"]["improved"]:
            cand = held.first_stage_candidates(*held.encode(emb_model))  # rerank what the new embedder finds
        rcfg = RerankerConfig(epochs=opts.reranker_epochs or opts.epochs, batch_size=opts.batch_size,
                              max_seq_length=opts.max_seq_length, n_neg=opts.n_neg,
                              max_queries=opts.reranker_queries, seed=opts.seed)
        ce, rinfo = train_reranker(pairs.train, held, _model_path_minilm(), rcfg, candidates=cand,
                                   device=opts.device, progress=progress)
        model_id = f"rag-ft/{name}/reranker-v{version}"
        card = {"model_id": model_id, "kind": "reranker", "collection": name, "base_model": str(_model_path_minilm()),
                "trained_on_snapshot": report["snapshot"], "data": report["data"], **rinfo, "created_at": time.time()}
        path = save_model(ce, mdir / f"reranker-v{version}", card)
        report["reranker"] = {"path": str(path), "model_id": model_id, **_summary(rinfo)}

    report["applied"] = []
    if opts.apply:
        report["applied"] = apply_models(store, name, report, force=opts.force, progress=progress, check=opts.check,
                                          tolerance=opts.check_tolerance)
    report["seconds"] = time.perf_counter() - t_all
    return report


def apply_models(store, name: str, report: dict[str, Any], *, force: bool = False,
                 progress: Progress | None = None, check: Callable[[], float] | None = None,
                 tolerance: float = 0.005) -> list[str]:
    """Re-embed the collection with the new embedder (atomic swap; the manifest records its id) and
    make the new reranker the collection's, each only when it beat what it replaces on held-out pairs.

    With ``check`` (the live retrieval score on the user's labelled questions), the score is taken
    before and after; models that lower it by more than ``tolerance`` are rolled back: the previous
    snapshot and settings become live again, and ``report["check"]`` says so. Held-out pairs are
    made from the corpus itself and can rise while real questions get worse (Cranfield, README).
    """
    from rag.embedding import SentenceTransformerEmbedder
    from rag.ingest import reembed

    e, r = report.get("embedder"), report.get("reranker")
    todo = [k for k, m in (("embedder", e), ("reranker", r)) if m and (m["improved"] or force)]
    if not todo:
        return []
    before = check() if check is not None else None
    prev_snapshot = store.current_path(name).name
    prev_settings = store.read_settings(name)
    if "embedder" in todo:
        emb = SentenceTransformerEmbedder(e["path"])
        reembed(store, name, emb, progress=progress)
        store.update_settings(name, embedding_model=e["path"])
    if "reranker" in todo:
        store.update_settings(name, reranker=r["path"])
    if check is None:
        return todo
    after = check()
    report["check"] = {"before": round(before, 4), "after": round(after, 4), "rolled_back": after < before - tolerance}
    if report["check"]["rolled_back"]:
        with store.lock(name):
            store.restore(name, prev_snapshot)
        store.update_settings(name, embedding_model=prev_settings.get("embedding_model", ""),
                              reranker=prev_settings.get("reranker", ""))
        return []
    return todo


def _summary(info: dict[str, Any]) -> dict[str, Any]:
    keep = ("loss", "steps", "best_step", "train_examples", "improved", "seconds", "device", "final_train_loss",
            "heldout_start", "heldout_first_stage", "heldout_best", "loss_comparison")
    return {k: info[k] for k in keep if k in info}


def _model_id_of(path: Path) -> str:
    from rag.embedding import DEFAULT_MODEL_ID, packaged_minilm_path, resolve_model

    if Path(path) == packaged_minilm_path():
        return DEFAULT_MODEL_ID
    return resolve_model(path)[1]


def _model_path_minilm() -> Path:
    from rag.embedding import packaged_minilm_path

    return packaged_minilm_path()


def options_dict(opts: FinetuneOptions) -> dict[str, Any]:
    d = asdict(opts)
    d.pop("generate", None)
    d.pop("check", None)
    return d
