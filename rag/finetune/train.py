"""Contrastive fine-tuning of the embedder and training of a cross-encoder reranker.

Plain PyTorch loops over sentence-transformers models and losses (no
``accelerate`` needed): the embedder learns with ``MultipleNegativesRankingLoss``
(in-batch negatives plus mined hard negatives) or ``TripletLoss`` (the notes'
``max(0, d(a, p) - d(a, n) + margin)``; with cosine distance on unit vectors,
``d = 1 - cos = ||a - b||^2 / 2``, so this is the squared-Euclidean form of the
notes with margin ``2 * triplet_margin``). The reranker is a ``CrossEncoder``
started from the MiniLM weights with a fresh one-logit head, trained with
binary cross-entropy on (query, positive) = 1 and (query, hard negative) = 0.

Both are scored on the held-out pairs before and after each epoch; the best
state is kept (early stopping with ``patience``), so a run that does not help
leaves a model no worse than where it started, and says so in its card.

On CPU the default budgets are small (``max_seq_length`` 128, one epoch, the
top layers trained); on a GPU the same code runs there, faster.
"""

from __future__ import annotations

import json
import math
import random
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from rag.chunking import embed_text
from rag.finetune.pairs import Pair
from rag.retrieval import gold_rank

Progress = Callable[[str, int, int], None]
LOSSES = ("mnrl", "triplet")


@dataclass
class EmbedderConfig:
    loss: str = "mnrl"
    epochs: int = 1
    batch_size: int = 16
    lr: float = 3e-5
    max_seq_length: int = 128
    n_neg: int = 1  # hard negatives per pair (MNRL adds the in-batch ones; triplet uses the first)
    train_layers: int = 0  # 0 = all transformer layers; k = only the top k (faster on CPU)
    triplet_margin: float = 0.1  # cosine-distance margin (= 0.2 in squared Euclidean on unit vectors)
    mnrl_scale: float = 20.0
    warmup: float = 0.1
    patience: int = 1
    evals_per_epoch: int = 1
    seed: int = 0

    def __post_init__(self) -> None:
        if self.loss not in LOSSES:
            raise ValueError(f"loss must be one of {LOSSES}, got {self.loss!r}")
        for k in ("epochs", "batch_size", "max_seq_length", "evals_per_epoch"):
            if getattr(self, k) <= 0:
                raise ValueError(f"{k} must be > 0, got {getattr(self, k)}")


@dataclass
class RerankerConfig:
    epochs: int = 1
    batch_size: int = 16
    lr: float = 5e-5
    head_lr: float = 1e-3  # the fresh classification head (and BERT pooler) learns faster than the body
    max_seq_length: int = 128  # also the length the saved reranker scores at
    n_neg: int = 3  # negatives per query
    max_queries: int = 0  # 0 = every training query (SimCSE pairs excluded)
    warmup: float = 0.1
    patience: int = 1
    evals_per_epoch: int = 1
    seed: int = 0


# ------------------------------------------------------------------ helpers
def device_for(device: str = "auto") -> str:
    from rag.embedding import pick_device

    return pick_device(device)


def _features(model, texts: Sequence[str]):
    from sentence_transformers.util import batch_to_device

    prep = getattr(model, "preprocess", None) or model.tokenize
    return batch_to_device(prep(list(texts)), model.device)


def _schedule(opt, total: int, warmup: float):
    import torch

    w = max(1, int(total * warmup))

    def f(step: int) -> float:
        if step < w:
            return (step + 1) / w
        return max(0.0, (total - step) / max(1, total - w))

    return torch.optim.lr_scheduler.LambdaLR(opt, f)


def _batches_distinct_docs(items: list[Pair], batch_size: int, rng: random.Random) -> list[list[Pair]]:
    """Shuffle into batches where no two pairs share a document (in-batch negatives stay negative)."""
    pool = list(items)
    rng.shuffle(pool)
    batches: list[list[Pair]] = []
    while pool:
        batch, docs, rest = [], set(), []
        for p in pool:
            if len(batch) < batch_size and p.doc_id not in docs:
                batch.append(p)
                docs.add(p.doc_id)
            else:
                rest.append(p)
        batches.append(batch)
        pool = rest
    return [b for b in batches if len(b) >= 2]


def freeze_lower_layers(model, train_layers: int) -> int:
    """Train only the top ``train_layers`` transformer layers (0 = all). Returns trainable parameter count."""
    for p in model.parameters():
        p.requires_grad = True
    if train_layers > 0:
        layers = None
        for name, mod in model.named_modules():
            if name.endswith("encoder.layer") and hasattr(mod, "__len__"):
                layers = mod
                break
        if layers is not None and train_layers < len(layers):
            for name, p in model.named_parameters():
                p.requires_grad = False
            for layer in list(layers)[-train_layers:]:
                for p in layer.parameters():
                    p.requires_grad = True
            # any head after the transformer (Dense etc.) stays trainable
            for mod in list(model.children())[1:]:
                for p in mod.parameters():
                    p.requires_grad = True
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


# ------------------------------------------------------------------ held-out scoring
class HeldoutEval:
    """Retrieval over a candidate pool for held-out queries: MRR@10 and hit@1 of the positive's document.

    The pool is the union of every held-out query's top ``pool_k`` chunks under the
    collection's current index, plus the positives, so scoring a model costs one
    encode of the pool instead of the whole collection.
    """

    def __init__(self, heldout: Sequence[Pair], snapshot, query_vecs: np.ndarray, *, pool_k: int = 20,
                 rerank_k: int = 10, rerank_queries: int = 60) -> None:
        self.pairs = list(heldout)
        self.chunks = snapshot.chunks
        k = min(pool_k, len(snapshot.chunks))
        _, ids = snapshot.vindex.search(np.ascontiguousarray(query_vecs, dtype=np.float32), k)
        pool = {int(i) for row in ids for i in row if i >= 0} | {p.chunk for p in self.pairs}
        self.pool = sorted(pool)
        self.pool_texts = [embed_text(self.chunks[i]) for i in self.pool]
        self.pool_docs = [self.chunks[i].doc_id for i in self.pool]
        self.queries = [p.query for p in self.pairs]
        self.rerank_k = rerank_k
        self.rerank_queries = rerank_queries
        self.base_query_vecs = np.asarray(query_vecs, dtype=np.float32)
        self.base_pool_vecs = np.asarray(snapshot.embeddings[self.pool], dtype=np.float32)

    def _score(self, qv: np.ndarray, pv: np.ndarray) -> tuple[dict[str, float], np.ndarray]:
        sims = qv @ pv.T
        order = np.argsort(-sims, axis=1)
        mrr = hit1 = 0.0
        for qi, p in enumerate(self.pairs):
            r = gold_rank((self.pool_docs[j] for j in order[qi]), {p.doc_id})
            if r:
                mrr += 1.0 / r
                hit1 += r == 1
        n = max(1, len(self.pairs))
        return {"mrr@10": mrr / n, "hit@1": hit1 / n, "queries": len(self.pairs), "pool": len(self.pool)}, order

    def base(self) -> dict[str, float]:
        """Scores of the collection's current embeddings (no encoding)."""
        return self._score(self.base_query_vecs, self.base_pool_vecs)[0]

    def encode(self, model, batch_size: int = 64) -> tuple[np.ndarray, np.ndarray]:
        was_training = model.training
        model.eval()
        qv = model.encode(self.queries, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
        pv = model.encode(self.pool_texts, batch_size=batch_size, normalize_embeddings=True, convert_to_numpy=True,
                          show_progress_bar=False)
        if was_training:
            model.train()
        return np.asarray(qv, np.float32), np.asarray(pv, np.float32)

    def embedder(self, model) -> dict[str, float]:
        return self._score(*self.encode(model))[0]

    def first_stage_candidates(self, qv: np.ndarray | None = None, pv: np.ndarray | None = None) -> list[list[int]]:
        """Each rerank query's top ``rerank_k`` pool positions (by the given or the base vectors)."""
        qv = self.base_query_vecs if qv is None else qv
        pv = self.base_pool_vecs if pv is None else pv
        n = min(self.rerank_queries, len(self.pairs)) if self.rerank_queries else len(self.pairs)
        sims = qv[:n] @ pv.T
        return [list(np.argsort(-row)[: self.rerank_k]) for row in sims]

    def reranker(self, ce, candidates: list[list[int]], batch_size: int = 32) -> dict[str, float]:
        """MRR@10 / hit@1 of the first-stage order, the reranked order, and the two fused by RRF."""
        pairs, spans = [], []
        for qi, cand in enumerate(candidates):
            spans.append((len(pairs), len(cand)))
            pairs += [(self.queries[qi], self.pool_texts[j]) for j in cand]
        was_training = ce.model.training if hasattr(ce, "model") else False
        ce.model.eval()
        scores = ce.predict(pairs, batch_size=batch_size, show_progress_bar=False) if pairs else []
        if was_training:
            ce.model.train()
        res = {"first_stage": [0.0, 0.0], "reranked": [0.0, 0.0], "rrf": [0.0, 0.0]}
        for qi, (cand, (s, n)) in enumerate(zip(candidates, spans)):
            sc = np.asarray(scores[s:s + n], dtype=np.float32)
            rer = [cand[j] for j in np.argsort(-sc)]
            rrank = {c: r for r, c in enumerate(rer, 1)}
            fused = sorted(cand, key=lambda c: -(1 / (60 + cand.index(c) + 1) + 1 / (60 + rrank[c])))
            for key, order in (("first_stage", cand), ("reranked", rer), ("rrf", fused)):
                docs = list(dict.fromkeys(self.pool_docs[j] for j in order))[:10]
                if self.pairs[qi].doc_id in docs:
                    r = docs.index(self.pairs[qi].doc_id) + 1
                    res[key][0] += 1 / r
                    res[key][1] += r == 1
        n = max(1, len(candidates))
        return {k: {"mrr@10": v[0] / n, "hit@1": v[1] / n} for k, v in res.items()} | {"queries": len(candidates)}


# ------------------------------------------------------------------ embedder
def train_embedder(
    pairs: Sequence[Pair],
    heldout: HeldoutEval | None,
    base_model: str | Path,
    cfg: EmbedderConfig,
    *,
    device: str = "auto",
    progress: Progress | None = None,
    base_scores: dict[str, float] | None = None,
):
    """Fine-tune a SentenceTransformer on ``pairs``; returns (model with the best state, info dict)."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sentence_transformers.sentence_transformer import losses

    from rag.embedding import offline

    offline()
    t0 = time.perf_counter()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    dev = device_for(device)
    model = SentenceTransformer(str(base_model), device=dev)
    infer_len = model.max_seq_length
    model.max_seq_length = cfg.max_seq_length
    n_trainable = freeze_lower_layers(model, cfg.train_layers)
    if cfg.loss == "mnrl":
        loss_fn = losses.MultipleNegativesRankingLoss(model, scale=cfg.mnrl_scale)
        n_neg = cfg.n_neg
    else:
        loss_fn = losses.TripletLoss(model, distance_metric=losses.TripletDistanceMetric.COSINE,
                                     triplet_margin=cfg.triplet_margin)
        n_neg = 1
    items = [p for p in pairs if len(p.negatives) >= n_neg]
    params = [p for p in model.parameters() if p.requires_grad]
    opt = torch.optim.AdamW(params, lr=cfg.lr, weight_decay=0.01)
    per_epoch = _batches_distinct_docs(items, cfg.batch_size, rng)
    steps_per_epoch = len(per_epoch)
    total = steps_per_epoch * cfg.epochs
    sched = _schedule(opt, total, cfg.warmup)
    eval_at = {max(1, round(steps_per_epoch * (k + 1) / cfg.evals_per_epoch)) for k in range(cfg.evals_per_epoch)}
    history: list[dict[str, Any]] = []
    start = base_scores if base_scores is not None else (heldout.embedder(model) if heldout else None)
    best_score = start["mrr@10"] if start else -1.0
    best_state = None
    best_step = 0
    if start:
        history.append({"step": 0, **start})
    bad = 0
    step = 0
    losses_seen: list[float] = []
    stop = False
    model.train()
    for epoch in range(cfg.epochs):
        batches = per_epoch if epoch == 0 else _batches_distinct_docs(items, cfg.batch_size, rng)
        for bi, batch in enumerate(batches, 1):
            cols = [[p.query for p in batch], [p.positive for p in batch]]
            cols += [[p.negatives[j] for p in batch] for j in range(n_neg)]
            feats = [_features(model, c) for c in cols]
            loss = loss_fn(feats, None)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            losses_seen.append(float(loss.detach()))
            if progress:
                progress(f"embedder ({cfg.loss})", step, total)
            if heldout is not None and bi in eval_at:
                s = heldout.embedder(model)
                history.append({"step": step, "epoch": epoch + 1, "train_loss": float(np.mean(losses_seen[-bi:])), **s})
                if s["mrr@10"] > best_score:
                    best_score, best_step, bad = s["mrr@10"], step, 0
                    best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
                else:
                    bad += 1
                    if bad > cfg.patience:
                        stop = True
                        break
        if stop:
            break
    if heldout is None:
        best_state, best_step = None, step
    elif best_state is not None:
        model.load_state_dict(best_state)
    elif best_step == 0 and step > 0:  # nothing beat the start: go back to the base weights
        model = SentenceTransformer(str(base_model), device=dev)
    model.max_seq_length = infer_len
    model.eval()
    info = {
        "loss": cfg.loss, "config": asdict(cfg), "device": dev, "steps": step, "best_step": best_step,
        "trainable_parameters": n_trainable, "train_examples": len(items),
        "final_train_loss": float(np.mean(losses_seen[-max(1, steps_per_epoch // 4):])) if losses_seen else None,
        "heldout_start": start, "heldout_best": next((h for h in history if h["step"] == best_step), None),
        "history": history, "improved": best_step > 0, "seconds": time.perf_counter() - t0,
    }
    return model, info


# ------------------------------------------------------------------ reranker
def reranker_examples(pairs: Sequence[Pair], cfg: RerankerConfig, rng: random.Random) -> list[tuple[str, str, float]]:
    usable = [p for p in pairs if p.kind != "simcse" and p.negatives]
    rng.shuffle(usable)
    if cfg.max_queries:
        usable = usable[: cfg.max_queries]
    ex: list[tuple[str, str, float]] = []
    for p in usable:
        ex.append((p.query, p.positive, 1.0))
        ex += [(p.query, n, 0.0) for n in p.negatives[: cfg.n_neg]]
    return ex


def train_reranker(
    pairs: Sequence[Pair],
    heldout: HeldoutEval | None,
    base_model: str | Path,
    cfg: RerankerConfig,
    *,
    candidates: list[list[int]] | None = None,
    device: str = "auto",
    progress: Progress | None = None,
):
    """Train a one-logit CrossEncoder from ``base_model`` (MiniLM); returns (model, info dict)."""
    import torch
    from sentence_transformers import CrossEncoder
    from sentence_transformers.cross_encoder.losses import BinaryCrossEntropyLoss

    from rag.embedding import offline

    offline()
    t0 = time.perf_counter()
    rng = random.Random(cfg.seed)
    torch.manual_seed(cfg.seed)
    dev = device_for(device)
    ce = CrossEncoder(str(base_model), num_labels=1, max_length=cfg.max_seq_length, device=dev)
    loss_fn = BinaryCrossEntropyLoss(ce)
    examples = reranker_examples(pairs, cfg, rng)
    head = [p for n, p in ce.model.named_parameters() if p.requires_grad and ("classifier" in n or "pooler" in n)]
    body = [p for n, p in ce.model.named_parameters() if p.requires_grad and not ("classifier" in n or "pooler" in n)]
    params = head + body
    opt = torch.optim.AdamW([{"params": body, "lr": cfg.lr}, {"params": head, "lr": cfg.head_lr}], weight_decay=0.01)
    steps_per_epoch = math.ceil(len(examples) / cfg.batch_size)
    total = steps_per_epoch * cfg.epochs
    sched = _schedule(opt, total, cfg.warmup)
    eval_at = {max(1, round(steps_per_epoch * (k + 1) / cfg.evals_per_epoch)) for k in range(cfg.evals_per_epoch)}
    if heldout is not None and candidates is None:
        candidates = heldout.first_stage_candidates()
    history: list[dict[str, Any]] = []
    best_score, best_state, best_step, bad, step = -1.0, None, 0, 0, 0
    first_stage = None
    losses_seen: list[float] = []
    stop = False
    ce.model.train()
    for epoch in range(cfg.epochs):
        rng.shuffle(examples)
        for bi in range(1, steps_per_epoch + 1):
            batch = examples[(bi - 1) * cfg.batch_size: bi * cfg.batch_size]
            labels = torch.tensor([b[2] for b in batch], device=ce.model.device)
            loss = loss_fn([[b[0] for b in batch], [b[1] for b in batch]], labels)
            opt.zero_grad()
            loss.backward()
            torch.nn.utils.clip_grad_norm_(params, 1.0)
            opt.step()
            sched.step()
            step += 1
            losses_seen.append(float(loss.detach()))
            if progress:
                progress("reranker", step, total)
            if heldout is not None and bi in eval_at:
                s = heldout.reranker(ce, candidates)
                first_stage = s["first_stage"]
                history.append({"step": step, "epoch": epoch + 1, "train_loss": float(np.mean(losses_seen[-bi:])), **s})
                score = s["reranked"]["mrr@10"]
                if score > best_score:
                    best_score, best_step, bad = score, step, 0
                    best_state = {k: v.detach().clone() for k, v in ce.model.state_dict().items()}
                else:
                    bad += 1
                    if bad > cfg.patience:
                        stop = True
                        break
        if stop:
            break
    if best_state is not None:
        ce.model.load_state_dict(best_state)
    ce.model.eval()
    best = next((h for h in history if h["step"] == best_step), None)
    info = {
        "loss": "binary_cross_entropy", "config": asdict(cfg), "device": dev, "steps": step, "best_step": best_step,
        "train_examples": len(examples), "final_train_loss": float(np.mean(losses_seen[-max(1, steps_per_epoch // 4):]))
        if losses_seen else None,
        "heldout_first_stage": first_stage, "heldout_best": best, "history": history,
        "improved": bool(best and first_stage and best["reranked"]["mrr@10"] > first_stage["mrr@10"]),
        "seconds": time.perf_counter() - t0,
    }
    return ce, info


# ------------------------------------------------------------------ saving
def save_model(model, out_dir: Path, card: dict[str, Any]) -> Path:
    """Save into ``out_dir`` atomically (a temp folder renamed into place) with its ``rag_model.json`` card."""
    import shutil
    import uuid

    out_dir = Path(out_dir)
    out_dir.parent.mkdir(parents=True, exist_ok=True)
    tmp = out_dir.with_name(f".tmp-{out_dir.name}-{uuid.uuid4().hex[:6]}")
    try:
        model.save(str(tmp)) if hasattr(model, "save") else model.save_pretrained(str(tmp))
        (tmp / "rag_model.json").write_text(json.dumps(card, indent=1, default=_jsonable))
        tmp.rename(out_dir)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return out_dir


def _jsonable(o: Any):
    if isinstance(o, (np.floating, np.integer)):
        return o.item()
    if isinstance(o, Path):
        return str(o)
    if isinstance(o, set):
        return sorted(o)
    return str(o)
