"""Text augmentation for training queries (EDA-style word edits, plus SimCSE dropout pairs).

The notes list the usual augmentations: synonym replacement, random insertion,
random swap and random deletion (word edits), back-translation, and dropout.
Word edits are here; dropout is not a text edit: a SimCSE pair is a text paired
with itself, and the encoder's dropout (active while training) makes the two
embeddings differ (:func:`simcse_pairs` in ``pairs.py`` builds them).

Synonyms come from, in order: a mapping the caller passes, WordNet when NLTK's
data is installed, or the nearest neighbours of the word in the embedding
model's own input-embedding table (no download; noisy, but the edits are noise
by design: EDA only asks for plausible variants).
"""

from __future__ import annotations

import random
import re
from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from pathlib import Path

OPS = ("synonym", "insert", "swap", "delete")

STOPWORDS = frozenset("""
a about above after again against all am an and any are as at be because been before being below between both but by
can could did do does doing down during each few for from further had has have having he her here hers herself him
himself his how i if in into is it its itself just me more most my myself no nor not now of off on once only or other
our ours ourselves out over own same she should so some such than that the their theirs them themselves then there
these they this those through to too under until up very was we were what when where which while who whom why will
with would you your yours yourself yourselves
""".split())

_WORD = re.compile(r"^[A-Za-z][A-Za-z-]*$")

SynonymFn = Callable[[str], list[str]]


def _content_positions(words: Sequence[str]) -> list[int]:
    return [i for i, w in enumerate(words) if _WORD.match(w) and w.lower() not in STOPWORDS and len(w) > 2]


def synonym_replace(words: list[str], rng: random.Random, synonyms: SynonymFn, n: int = 1) -> list[str]:
    out = list(words)
    positions = _content_positions(out)
    rng.shuffle(positions)
    done = 0
    for i in positions:
        cands = [s for s in synonyms(out[i].lower()) if s != out[i].lower()]
        if cands:
            out[i] = rng.choice(cands)
            done += 1
            if done >= n:
                break
    return out


def random_insert(words: list[str], rng: random.Random, synonyms: SynonymFn, n: int = 1) -> list[str]:
    out = list(words)
    positions = _content_positions(out)
    rng.shuffle(positions)
    done = 0
    for i in positions:
        cands = synonyms(words[i].lower())
        if cands:
            out.insert(rng.randrange(len(out) + 1), rng.choice(cands))
            done += 1
            if done >= n:
                break
    return out


def random_swap(words: list[str], rng: random.Random, n: int = 1) -> list[str]:
    out = list(words)
    if len(out) < 2:
        return out
    for _ in range(n):
        i, j = rng.sample(range(len(out)), 2)
        out[i], out[j] = out[j], out[i]
    return out


def random_delete(words: list[str], rng: random.Random, p: float = 0.1) -> list[str]:
    if len(words) <= 3:
        return list(words)
    out = [w for w in words if rng.random() >= p]
    return out if len(out) >= 2 else [rng.choice(words)]


def augment(text: str, op: str, rng: random.Random, synonyms: SynonymFn, alpha: float = 0.1) -> str:
    """One EDA edit of ``text``; ``alpha`` is the share of words changed (at least one)."""
    if op not in OPS:
        raise ValueError(f"unknown augmentation {op!r}; expected one of {OPS}")
    words = text.split()
    n = max(1, int(round(alpha * len(words))))
    if op == "synonym":
        out = synonym_replace(words, rng, synonyms, n)
    elif op == "insert":
        out = random_insert(words, rng, synonyms, n)
    elif op == "swap":
        out = random_swap(words, rng, n)
    else:
        out = random_delete(words, rng, alpha)
    return " ".join(out)


# ------------------------------------------------------------------ synonym sources
def _wordnet() -> SynonymFn | None:
    try:
        from nltk.corpus import wordnet as wn

        wn.synsets("test")  # raises LookupError when the data is not installed
    except Exception:
        return None

    @lru_cache(maxsize=50_000)
    def syn(word: str) -> list[str]:
        out: list[str] = []
        for s in wn.synsets(word):
            for lemma in s.lemma_names():
                w = lemma.replace("_", " ").lower()
                if w != word and w not in out:
                    out.append(w)
        return out[:8]

    return syn


class EmbeddingNeighbours:
    """Synonym candidates: nearest whole-word neighbours in a BERT-style input-embedding table.

    Loads only the tokenizer vocabulary and the word-embedding matrix of a local
    model folder (``model.safetensors`` or ``pytorch_model.bin``).
    """

    def __init__(self, model_dir: str | Path, k: int = 5, min_sim: float = 0.45) -> None:
        import numpy as np

        self.k, self.min_sim = k, min_sim
        model_dir = Path(model_dir)
        vocab_file = model_dir / "vocab.txt"
        if not vocab_file.is_file():
            raise FileNotFoundError(f"no vocab.txt in {model_dir}")
        vocab = vocab_file.read_text(encoding="utf-8").splitlines()
        matrix = None
        st = model_dir / "model.safetensors"
        if st.is_file():
            from safetensors.numpy import load_file

            tensors = load_file(str(st))
            key = next(k for k in tensors if k.endswith("word_embeddings.weight"))
            matrix = tensors[key].astype(np.float32)
        else:
            import torch

            state = torch.load(model_dir / "pytorch_model.bin", map_location="cpu", weights_only=True)
            key = next(k for k in state if k.endswith("word_embeddings.weight"))
            matrix = state[key].float().numpy()
        self.word_to_id = {w: i for i, w in enumerate(vocab)}
        keep = [i for i, w in enumerate(vocab[: len(matrix)]) if w.isalpha() and len(w) >= 3 and w not in STOPWORDS]
        self.ids = np.array(keep)
        self.words = [vocab[i] for i in keep]
        m = matrix / np.maximum(np.linalg.norm(matrix, axis=1, keepdims=True), 1e-8)
        self.all = m
        self.cand = m[self.ids]
        self._cache: dict[str, list[str]] = {}

    def __call__(self, word: str) -> list[str]:
        if word in self._cache:
            return self._cache[word]
        i = self.word_to_id.get(word)
        out: list[str] = []
        if i is not None and word not in STOPWORDS:
            import numpy as np

            sims = self.cand @ self.all[i]
            top = np.argpartition(-sims, min(self.k + 1, len(sims) - 1))[: self.k + 1]
            for j in sorted(top, key=lambda j: -sims[j]):
                w = self.words[j]
                if w != word and sims[j] >= self.min_sim:
                    out.append(w)
        self._cache[word] = out[: self.k]
        return self._cache[word]


def synonym_source(model_dir: str | Path | None = None, mapping: Mapping[str, Sequence[str]] | None = None) -> SynonymFn:
    """The best synonym source available offline (see module docstring)."""
    if mapping is not None:
        table = {k.lower(): [s for s in v] for k, v in mapping.items()}
        return lambda w: table.get(w, [])
    wn = _wordnet()
    if wn is not None:
        return wn
    if model_dir is not None:
        try:
            return EmbeddingNeighbours(model_dir)
        except (FileNotFoundError, StopIteration, OSError):
            pass
    return lambda w: []
