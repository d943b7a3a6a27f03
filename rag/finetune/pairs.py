"""Training pairs mined from a collection alone (no LLM, no labelled questions).

* inverse cloze (ICT): a sentence of a chunk is the query, the chunk without that
  sentence is the positive (kept whole in a small share of pairs, as in the ICT
  paper, so lexical overlap still counts for something);
* titles and Markdown headings as queries, the chunk body (without the title or
  heading) as the positive;
* augmented variants of those queries (synonym replacement, random insertion,
  swap, deletion) and SimCSE dropout pairs (a text paired with itself);
* generated questions, when the caller passes a generator function;
* hard negatives mined from the collection's own index: high-ranked chunks of
  *other* documents, skipping the positive's near-duplicates (same text, the
  ingest quality report's duplicate / near-duplicate / version links, or an
  embedding nearly identical to the positive's) and any candidate that scores
  almost as high as the positive itself (probably an unlabelled positive).

A held-out split by *document* (its documents never appear in training)
drives early stopping and model selection.
"""

from __future__ import annotations

import random
import re
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from rag.chunking import embed_text, split_sentences
from rag.errors import TrainingDataError
from rag.finetune.augment import OPS, SynonymFn, augment

MIN_QUERY_WORDS = 4
MAX_QUERY_WORDS = 64
MIN_POSITIVE_WORDS = 12


@dataclass
class Pair:
    """One training example: a query, its positive passage and mined hard negatives.

    ``chunk`` indexes the positive in the snapshot's chunk list; ``positive`` is the
    text the encoder sees (title / section head + body, as the index embeds it,
    minus whatever the query was cut from).
    """

    query: str
    positive: str
    doc_id: str
    chunk: int
    kind: str  # ict | title | heading | generated | aug-<op> | simcse
    negatives: list[str] = field(default_factory=list)
    neg_chunks: list[int] = field(default_factory=list)


@dataclass
class PairSet:
    train: list[Pair]
    heldout: list[Pair]
    counts: dict[str, int]


# ------------------------------------------------------------------ sentences
_LOOSE_SENT = re.compile(r"(?<=[.!?])\s+|\s+\.\s+")


def sentences(text: str) -> list[str]:
    """Sentences of a chunk; falls back to a case-blind split for lower-cased text (e.g. Cranfield)."""
    out = split_sentences(text)
    if len(out) < 2 and len(text.split()) > 2 * MIN_QUERY_WORDS:
        out = [s.strip(" .") for s in _LOOSE_SENT.split(text) if s.strip(" .")]
    return [re.sub(r"\s+", " ", s).strip() for s in out]


def _norm(s: str) -> str:
    return re.sub(r"\W+", " ", s.lower()).strip()


def _strip_prefix(text: str, prefix: str) -> str:
    """``text`` without a leading copy of ``prefix`` (compared loosely), else unchanged."""
    if not prefix:
        return text
    p = _norm(prefix)
    words = text.split()
    for n in range(1, min(len(words), len(prefix.split()) + 3) + 1):
        if _norm(" ".join(words[:n])) == p:
            return " ".join(words[n:]).lstrip(" .:-")
    return text


def _head(title: str, section: str) -> str:
    return " / ".join(p for p in (title, section) if p)


def _with_head(head: str, body: str) -> str:
    return f"{head}\n{body}" if head else body


def _ok_query(q: str, min_words: int = MIN_QUERY_WORDS) -> bool:
    n = len(q.split())
    return min_words <= n <= MAX_QUERY_WORDS and sum(ch.isalpha() for ch in q) >= 0.5 * len(q)


def _clip(q: str) -> str:
    return " ".join(q.split()[:MAX_QUERY_WORDS]).strip()


# ------------------------------------------------------------------ mining
def title_pairs(chunks: Sequence, rng: random.Random) -> list[Pair]:
    """Titles (on each document's first chunk) and specific headings as queries."""
    out: list[Pair] = []
    seen_doc: set[str] = set()
    heading_df = Counter()
    for c in chunks:
        if c.section:
            heading_df[_norm(c.section.split(" > ")[-1])] += 1
    for i, c in enumerate(chunks):
        if c.kind != "text":
            continue
        if c.title and c.doc_id not in seen_doc:
            seen_doc.add(c.doc_id)
            title = c.title.strip(" .")
            body = _strip_prefix(c.text, c.title)
            if _ok_query(title, 2) and len(body.split()) >= MIN_POSITIVE_WORDS:
                out.append(Pair(_clip(title), _with_head(c.section, body), c.doc_id, i, "title"))
        if c.section:
            heading = c.section.split(" > ")[-1].strip()
            # a specific heading (few words are fine: "Warranty claims"); generic ones ("Overview") repeat
            if len(heading.split()) >= 2 and heading_df[_norm(heading)] <= 3:
                body = _strip_prefix(c.text, heading)
                if len(body.split()) >= MIN_POSITIVE_WORDS:
                    out.append(Pair(_clip(heading), _with_head(c.title, body), c.doc_id, i, "heading"))
    return out


def ict_pairs(chunks: Sequence, rng: random.Random, *, budget: int, keep_prob: float = 0.1,
              exclude: set[str] | None = None) -> list[Pair]:
    """Inverse-cloze pairs, spread over chunks: one sentence per chunk per round until ``budget``."""
    cand: list[tuple[int, list[str]]] = []
    for i, c in enumerate(chunks):
        if c.kind != "text":
            continue
        sents = sentences(c.text)
        if len(sents) >= 2:
            cand.append((i, sents))
    rng.shuffle(cand)
    used: dict[int, set[int]] = {}
    out: list[Pair] = []
    exclude = exclude or set()
    for _ in range(64):  # rounds: every chunk gives one pair before any gives two
        progressed = False
        for i, sents in cand:
            if len(out) >= budget:
                return out
            c = chunks[i]
            free = [j for j in range(len(sents)) if j not in used.setdefault(i, set()) and _ok_query(sents[j])]
            if not free:
                continue
            j = rng.choice(free)
            used[i].add(j)
            q = _clip(sents[j])
            if _norm(q) in exclude:
                continue
            rest = sents if rng.random() < keep_prob else sents[:j] + sents[j + 1:]
            body = " ".join(rest)
            if len(body.split()) < MIN_POSITIVE_WORDS:
                continue
            out.append(Pair(q, _with_head(_head(c.title, c.section), body), c.doc_id, i, "ict"))
            progressed = True
        if not progressed:
            break
    return out


def augmented_pairs(pairs: Sequence[Pair], rng: random.Random, synonyms: SynonymFn, n: int,
                    ops: Sequence[str] = OPS) -> list[Pair]:
    """``n`` EDA variants of randomly chosen pairs' queries (same positive), cycling through ``ops``."""
    if not pairs or n <= 0:
        return []
    out: list[Pair] = []
    order = list(pairs)
    rng.shuffle(order)
    for k in range(n):
        p = order[k % len(order)]
        op = ops[k % len(ops)]
        q = augment(p.query, op, rng, synonyms)
        if q and _norm(q) != _norm(p.query):
            out.append(Pair(q, p.positive, p.doc_id, p.chunk, f"aug-{op}"))
    return out


def simcse_pairs(chunks: Sequence, rng: random.Random, n: int) -> list[Pair]:
    """Unsupervised SimCSE: a sentence paired with itself; dropout noise is the augmentation."""
    out: list[Pair] = []
    idx = [i for i, c in enumerate(chunks) if c.kind == "text"]
    rng.shuffle(idx)
    for i in idx:
        if len(out) >= n:
            break
        sents = [s for s in sentences(chunks[i].text) if _ok_query(s)]
        if sents:
            s = _clip(rng.choice(sents))
            out.append(Pair(s, s, chunks[i].doc_id, i, "simcse"))
    return out


QUESTION_PROMPT = ("Write two short, different questions that the passage below answers. "
                   "Write one question per line and nothing else.\n\nPassage:\n{}")


def question_writer(llm, *, temperature: float = 0.7, max_tokens: int = 96) -> Callable[[str], list[str]]:
    """``generate(text) -> [question, ...]`` for :func:`generated_pairs`, from an LLM generator (its ``_chat``)."""

    def generate(text: str) -> list[str]:
        out, _ = llm._chat([{"role": "user", "content": QUESTION_PROMPT.format(text[:2000])}],
                           temperature=temperature, max_tokens=max_tokens, seed=None)
        return [q.strip(" -*0123456789.").strip() for q in out.splitlines() if q.strip().endswith("?")]

    return generate


def generated_pairs(chunks: Sequence, generate: Callable[[str], list[str]], rng: random.Random, n: int) -> list[Pair]:
    """Questions an LLM wrote for chunks (optional): ``generate(text) -> [question, ...]``."""
    out: list[Pair] = []
    idx = [i for i, c in enumerate(chunks) if c.kind == "text"]
    rng.shuffle(idx)
    for i in idx:
        if len(out) >= n:
            break
        c = chunks[i]
        try:
            qs = generate(embed_text(c))
        except Exception:  # a generator failure costs that chunk's questions, not the run
            continue
        for q in qs[:2]:
            q = _clip(q)
            if _ok_query(q):
                out.append(Pair(q, embed_text(c), c.doc_id, i, "generated"))
    return out


def build_pairs(
    chunks: Sequence,
    *,
    max_pairs: int = 2000,
    heldout_fraction: float = 0.1,
    max_heldout: int = 100,
    augment_fraction: float = 0.25,
    simcse_fraction: float = 0.05,
    structural_share: float = 0.6,
    synonyms: SynonymFn | None = None,
    generate: Callable[[str], list[str]] | None = None,
    min_docs: int = 10,
    min_train: int = 40,
    min_heldout: int = 5,
    seed: int = 0,
    collection: str = "",
) -> PairSet:
    """Mine training pairs and a held-out split (by document) from a collection's chunks.

    ``max_pairs`` caps the training pairs, augmentations included. Raises
    :class:`TrainingDataError` when the collection is too small to learn anything.
    """
    rng = random.Random(seed)
    name = f"collection {collection!r}" if collection else "the collection"
    docs = sorted({c.doc_id for c in chunks})
    if len(docs) < min_docs:
        raise TrainingDataError(
            f"{name} has {len(docs)} document(s) and {len(chunks)} chunk(s): too few to fine-tune on "
            f"(at least {min_docs} documents are needed); its current models are unchanged")
    # held-out documents: never trained on
    shuffled = list(docs)
    rng.shuffle(shuffled)
    n_hold_docs = max(2, int(round(heldout_fraction * len(docs))))
    hold_docs = set(shuffled[:n_hold_docs])
    base_budget = max(1, int(max_pairs / (1 + augment_fraction + simcse_fraction)))
    structural = title_pairs(chunks, rng)
    # a query text shared by several documents (a generic title) says nothing: drop it
    owners: dict[str, set[str]] = {}
    for p in structural:
        owners.setdefault(_norm(p.query), set()).add(p.doc_id)
    structural = [p for p in structural if len(owners[_norm(p.query)]) == 1]
    gen: list[Pair] = []
    if generate is not None:
        gen = generated_pairs(chunks, generate, rng, base_budget // 2)
    hold_share = int(max_heldout * 3)  # mine enough for the held-out documents too
    ict = ict_pairs(chunks, rng, budget=base_budget + hold_share, exclude=set(owners))
    base = structural + gen + ict
    heldout = [p for p in base if p.doc_id in hold_docs]
    train = [p for p in base if p.doc_id not in hold_docs]
    rng.shuffle(heldout)
    # held-out: at most one pair per chunk, kinds mixed
    seen_chunks: set[int] = set()
    hl: list[Pair] = []
    for p in heldout:
        if p.chunk not in seen_chunks:
            seen_chunks.add(p.chunk)
            hl.append(p)
    hl += [p for p in heldout if all(p is not q for q in hl)]  # small collections: more than one per chunk
    heldout = hl[:max_heldout]
    # training: titles / headings / generated questions up to ``structural_share`` of the budget
    # (they look most like real questions), inverse-cloze pairs for the rest
    rng.shuffle(train)
    struct = [p for p in train if p.kind != "ict"]
    ict_train = [p for p in train if p.kind == "ict"]
    n_struct = min(len(struct), max(int(structural_share * base_budget), base_budget - len(ict_train)))
    train = (struct[:n_struct] + ict_train)[:base_budget]
    train_chunks = [c for c in chunks if c.doc_id not in hold_docs]
    n_aug = int(round(augment_fraction * len(train)))
    aug = augmented_pairs(train, rng, synonyms, n_aug) if synonyms is not None and n_aug else []
    n_sim = int(round(simcse_fraction * len(train)))
    sim = simcse_pairs(train_chunks, rng, n_sim) if n_sim else []
    train = train + aug + sim
    rng.shuffle(train)
    train = train[:max_pairs]
    if len(train) < min_train or len(heldout) < min_heldout:
        raise TrainingDataError(
            f"{name} yields {len(train)} training pair(s) and {len(heldout)} held-out pair(s) "
            f"(from {len(docs)} documents, {len(chunks)} chunks): too few to fine-tune on (need at least "
            f"{min_train} and {min_heldout}); add documents. Its current models are unchanged")
    counts = Counter(p.kind for p in train)
    return PairSet(train=train, heldout=heldout, counts={
        "documents": len(docs), "chunks": len(chunks), "heldout_documents": len(hold_docs),
        "train_pairs": len(train), "heldout_pairs": len(heldout), **{f"train_{k}": v for k, v in sorted(counts.items())},
        **{f"heldout_{k}": v for k, v in sorted(Counter(p.kind for p in heldout).items())},
    })


# ------------------------------------------------------------------ hard negatives
def near_duplicate_docs(snapshot) -> dict[str, set[str]]:
    """Document -> documents the ingest quality report links to it (duplicate, near duplicate, version)."""
    links: dict[str, set[str]] = {}
    for doc_id, rec in getattr(snapshot, "docs", {}).items():
        others = [i.split(":", 1)[1] for i in getattr(rec, "issues", []) or []
                  if i.startswith(("duplicate_of:", "near_duplicate_of:", "version_of:"))]
        if getattr(rec, "version_of", None):
            others.append(rec.version_of)
        for o in others:
            links.setdefault(doc_id, set()).add(o)
            links.setdefault(o, set()).add(doc_id)
    return links


def mine_hard_negatives(
    pairs: Sequence[Pair],
    snapshot,
    query_vecs: np.ndarray,
    *,
    n_neg: int = 3,
    depth: int = 30,
    skip_top: int = 0,
    dup_threshold: float = 0.95,
    pos_ratio: float = 0.95,
    seed: int = 0,
) -> dict[str, int]:
    """Fill ``pair.negatives`` with chunks the collection's own index ranks high for the query.

    A candidate is skipped when it belongs to the positive's document or to one of
    its near-duplicates, when its embedding is nearly the positive's (cosine >=
    ``dup_threshold``), or when it scores at least ``pos_ratio`` times the positive's
    own score (likely an unlabelled positive). Random chunks of other documents fill
    in when the index offers too few. Returns counts.
    """
    rng = random.Random(seed)
    chunks, emb = snapshot.chunks, snapshot.embeddings
    if len(pairs) == 0:
        return {"hard": 0, "random": 0}
    k = min(depth + skip_top + 1, len(chunks))
    scores, ids = snapshot.vindex.search(np.ascontiguousarray(query_vecs, dtype=np.float32), k)
    dups = near_duplicate_docs(snapshot)
    n_hard = n_rand = 0
    for qi, (p, srow, irow) in enumerate(zip(pairs, scores, ids)):
        pos_vec = emb[p.chunk]
        pos_score = float(np.dot(query_vecs[qi], pos_vec))
        banned = {p.doc_id} | dups.get(p.doc_id, set())
        p.negatives, p.neg_chunks = [], []
        for rank, (s, i) in enumerate(zip(srow, irow)):
            i = int(i)
            if i < 0 or rank < skip_top:
                continue
            c = chunks[i]
            if c.doc_id in banned or c.text == chunks[p.chunk].text:
                continue
            if float(np.dot(emb[i], pos_vec)) >= dup_threshold:
                continue
            if pos_score > 0 and float(s) >= pos_ratio * pos_score:
                continue
            p.negatives.append(embed_text(c))
            p.neg_chunks.append(i)
            n_hard += 1
            if len(p.negatives) >= n_neg:
                break
        tries = 0
        while len(p.negatives) < n_neg and tries < 20:
            tries += 1
            i = rng.randrange(len(chunks))
            if chunks[i].doc_id in banned or i in p.neg_chunks:
                continue
            p.negatives.append(embed_text(chunks[i]))
            p.neg_chunks.append(i)
            n_rand += 1
    return {"hard": n_hard, "random": n_rand}

