"""Pair mining, augmentation, hard negatives and batching for ``rag finetune`` (no model needed)."""

from __future__ import annotations

import random
from types import SimpleNamespace

import numpy as np
import pytest

from rag.errors import TrainingDataError
from rag.finetune.augment import OPS, augment, synonym_source
from rag.finetune.pairs import (
    Pair,
    build_pairs,
    ict_pairs,
    mine_hard_negatives,
    sentences,
    title_pairs,
)
from rag.finetune.train import _batches_distinct_docs
from rag.types import Chunk, DocRecord
from rag.vector_index import FaissIndex

TOPICS = ["wing", "boundary layer", "shock wave", "heat transfer", "buckling", "flutter", "nozzle", "jet noise",
          "turbulence", "cone", "plate", "cylinder", "vortex", "rotor", "inlet", "missile", "panel", "shell",
          "pressure", "lift"]


def _doc_chunks(n_docs: int, *, lower: bool = False) -> list[Chunk]:
    chunks = []
    for d in range(n_docs):
        t = TOPICS[d % len(TOPICS)]
        title = f"Experimental study of the {t} problem number {d}"
        sents = [f"The {t} was measured in a wind tunnel at several speeds for case {d}.",
                 f"Results for the {t} agree with the linear theory within ten percent.",
                 f"A correction for the {t} is proposed for higher Mach numbers and angles.",
                 f"Further tests of the {t} are needed to confirm the trend at low density."]
        text = " ".join(sents)
        if lower:
            text = (title + " . " + text).lower().replace(".", " .")
            title = title.lower() + " ."
        chunks.append(Chunk(id=f"d{d}#0", doc_id=f"d{d}", text=text, position=0, title=title))
    return chunks


def test_sentences_split_lowercase_text():
    s = sentences("first part of the text is here . second part follows right after . third one ends")
    assert len(s) == 3 and s[1].startswith("second part")
    assert len(sentences("One sentence here. Another Sentence There.")) == 2


def test_ict_pair_drops_the_query_sentence_from_the_positive():
    chunks = _doc_chunks(5)
    pairs = ict_pairs(chunks, random.Random(0), budget=5, keep_prob=0.0)
    assert len(pairs) == 5
    for p in pairs:
        assert p.kind == "ict" and p.query not in p.positive
        assert p.positive.startswith(chunks[p.chunk].title)  # the head the index embeds stays


def test_title_pairs_strip_the_title_from_the_body():
    chunks = _doc_chunks(3, lower=True)  # Cranfield style: the text starts with its title
    pairs = title_pairs(chunks, random.Random(0))
    assert len(pairs) == 3
    for p in pairs:
        assert p.kind == "title" and not p.positive.startswith("experimental study")
        assert "wind tunnel" in p.positive


def test_heading_pairs_use_specific_headings():
    c = [Chunk(id="a#0", doc_id="a", text="Frames carry a ten year warranty against defects in materials and "
               "workmanship when registered within thirty days of purchase.", position=0, title="Handbook",
               section="Warranty > Frame warranty terms")]
    kinds = {p.kind: p for p in title_pairs(c, random.Random(0))}
    assert kinds["heading"].query == "Frame warranty terms"
    assert kinds["heading"].positive.startswith("Handbook\n")


@pytest.mark.parametrize("op", OPS)
def test_augmentations_change_the_query(op):
    syn = synonym_source(mapping={"wing": ["airfoil"], "measured": ["recorded"], "tunnel": ["duct"]})
    q = "the wing was measured in a wind tunnel at several speeds"
    outs = {augment(q, op, random.Random(s), syn) for s in range(5)}
    assert any(o != q for o in outs)
    if op == "synonym":
        assert any(w in " ".join(outs) for w in ("airfoil", "recorded", "duct"))
    if op == "delete":
        assert all(len(o.split()) < len(q.split()) for o in outs if o != q)
    with pytest.raises(ValueError):
        augment(q, "backtranslate", random.Random(0), syn)


def test_embedding_neighbour_synonyms_from_the_packaged_model():
    from rag.embedding import packaged_minilm_path

    from rag.finetune.augment import EmbeddingNeighbours

    syn = EmbeddingNeighbours(packaged_minilm_path())
    assert "airplanes" in syn("aircraft") or "airplane" in syn("aircraft")
    assert syn("the") == [] and syn("qqqzzz") == []


def test_build_pairs_split_by_document_and_counts():
    chunks = _doc_chunks(40)
    ps = build_pairs(chunks, max_pairs=120, max_heldout=20, synonyms=synonym_source(mapping={"wing": ["airfoil"]}),
                     seed=1)
    train_docs = {p.doc_id for p in ps.train}
    held_docs = {p.doc_id for p in ps.heldout}
    assert held_docs and not train_docs & held_docs
    assert len(ps.train) <= 120 and ps.counts["train_pairs"] == len(ps.train)
    kinds = {p.kind.split("-")[0] for p in ps.train}
    assert {"ict", "title", "aug", "simcse"} <= kinds
    assert all(p.kind in ("ict", "title", "heading") for p in ps.heldout)


def test_too_small_corpus_raises_a_clear_error():
    with pytest.raises(TrainingDataError, match=r"3 document\(s\).*too few.*unchanged"):
        build_pairs(_doc_chunks(3), collection="tiny")
    with pytest.raises(TrainingDataError, match="training pair"):
        build_pairs(_doc_chunks(12), max_pairs=10, min_docs=10)


def _snapshot(chunks, emb, docs=None):
    return SimpleNamespace(chunks=chunks, embeddings=emb, vindex=FaissIndex.build(emb, "none", use_gpu=False),
                           docs=docs or {})


def test_hard_negatives_skip_own_document_near_duplicates_and_false_negatives():
    rng = np.random.default_rng(0)
    base = rng.normal(size=(6, 16)).astype(np.float32)
    emb = np.stack([base[0], base[0] + 0.01, base[1], base[2], base[0] * 0.6 + base[3] * 0.8, base[4]])
    emb /= np.linalg.norm(emb, axis=1, keepdims=True)
    chunks = [Chunk(id=f"c{i}", doc_id=d, text=f"text {i}", position=0)
              for i, d in enumerate(["a", "b", "a", "c", "d", "e"])]
    docs = {d: DocRecord(doc_id=d, hash=d) for d in "abcde"}
    docs["d"].issues = ["near_duplicate_of:a"]
    q = emb[0:1].copy()
    p = Pair("query", "positive", "a", 0, "ict")
    # c1 (doc b) is a near-duplicate embedding of the positive; c2 is the same doc; c4 (doc d) is
    # linked as a near duplicate of a; the rest are fair negatives
    mine_hard_negatives([p], _snapshot(chunks, emb, docs), q, n_neg=2, depth=6)
    assert len(p.neg_chunks) == 2
    assert not {0, 1, 2, 4} & set(p.neg_chunks)


def test_hard_negatives_skip_candidates_scoring_like_the_positive():
    emb = np.eye(4, dtype=np.float32)
    emb[1] = np.array([0.99, 0.141, 0, 0], np.float32)
    emb[1] /= np.linalg.norm(emb[1])
    chunks = [Chunk(id=f"c{i}", doc_id=f"d{i}", text=f"t{i}", position=0) for i in range(4)]
    q = np.array([[0.9, 0.43, 0.0, 0.0]], np.float32)
    q /= np.linalg.norm(q)
    p = Pair("q", "pos", "d0", 0, "ict")
    mine_hard_negatives([p], _snapshot(chunks, emb), q, n_neg=1, depth=4, dup_threshold=0.999)
    assert p.neg_chunks and p.neg_chunks[0] != 1  # c1 scores above 0.95 x the positive: likely relevant


def test_batches_never_put_one_document_twice():
    pairs = [Pair(f"q{i}", "p", f"d{i % 5}", i, "ict") for i in range(40)]
    batches = _batches_distinct_docs(pairs, 4, random.Random(0))
    assert all(len({p.doc_id for p in b}) == len(b) for b in batches)
    assert sum(len(b) for b in batches) >= 36


def test_heldout_eval_scores_the_positive_document_over_a_pool():
    from rag.finetune.train import HeldoutEval

    emb = np.eye(6, dtype=np.float32)
    chunks = [Chunk(id=f"c{i}", doc_id=f"d{i // 2}", text=f"t{i}", position=i % 2) for i in range(6)]
    q = np.array([[0.0, 0.1, 1.0, 0, 0, 0], [1.0, 0, 0, 0, 0, 0]], np.float32)  # q0 -> d1 first; q1 -> d0 first
    held = [Pair("q0", "p", "d1", 2, "ict"), Pair("q1", "p", "d1", 3, "ict")]
    ev = HeldoutEval(held, _snapshot(chunks, emb), q, pool_k=6, rerank_k=3)
    s = ev.base()
    assert s["queries"] == 2 and s["pool"] == 6
    assert s["hit@1"] == 0.5 and s["mrr@10"] == pytest.approx((1 + 1 / 2) / 2)
    cands = ev.first_stage_candidates()
    assert [ev.pool_docs[j] for j in cands[0][:1]] == ["d1"]


def test_structural_share_zero_gives_the_budget_to_inverse_cloze_pairs():
    chunks = _doc_chunks(40)
    default = build_pairs(chunks, max_pairs=60, max_heldout=10, seed=1)
    ict_first = build_pairs(chunks, max_pairs=60, max_heldout=10, seed=1, structural_share=0.0)
    kinds = lambda ps: [p.kind for p in ps.train]  # noqa: E731
    assert kinds(ict_first).count("ict") > kinds(default).count("ict")
    assert kinds(ict_first).count("title") < kinds(default).count("title")


def test_mnrl_with_in_batch_negatives_only_trains_pairs_without_negatives():
    """embedder_negatives=0: pairs without mined negatives train on the real model (one step)."""
    from rag.embedding import packaged_minilm_path
    from rag.finetune.train import EmbedderConfig, train_embedder

    pairs = [Pair(f"what was measured for the {t}", f"The {t} was measured in a wind tunnel.", f"d{i}", i, "ict")
             for i, t in enumerate(TOPICS[:8])]
    cfg = EmbedderConfig(loss="mnrl", n_neg=0, batch_size=8, train_layers=1, max_seq_length=32)
    _, info = train_embedder(pairs, None, packaged_minilm_path(), cfg, device="cpu")
    assert info["train_examples"] == 8 and info["steps"] == 1 and info["final_train_loss"] > 0


def test_question_writer_keeps_question_lines_and_generated_pairs_use_them():
    from rag.chunking import embed_text
    from rag.finetune.pairs import QUESTION_PROMPT, generated_pairs, question_writer

    seen = []

    class LLM:  # an LLM generator's chat hook, answering as SmolLM2 typically does
        def _chat(self, messages, *, temperature, max_tokens, seed):
            seen.append((messages[0]["content"], temperature))
            return "1. What was measured in the wind tunnel?\n2. How does the correction change at high Mach numbers?\nSure!", {}

    write = question_writer(LLM())
    chunks = _doc_chunks(12)
    pairs = generated_pairs(chunks, write, random.Random(0), 6)
    assert len(pairs) == 6 and {p.kind for p in pairs} == {"generated"}
    assert pairs[0].query == "What was measured in the wind tunnel?"
    assert all(p.positive == embed_text(chunks[p.chunk]) and chunks[p.chunk].doc_id == p.doc_id for p in pairs)
    assert seen[0][0].startswith(QUESTION_PROMPT.split("{")[0]) and seen[0][1] == 0.7
