"""Answer checks for LLM answers: grounding against the cited passages, SelfCheckGPT, semantic entropy.

Grounding (:class:`GroundingChecker`): the answer is split into sentences
(``rag.chunking.split_sentences``, after splitting lines so lists and tables
keep one item per unit). Each sentence, with its citations removed, is embedded
and scored against every sentence of the passages; a passage's support is its
best sentence cosine. A sentence is kept when the passages it cites support it
(score >= ``threshold``); when it cites nothing, or cites a passage that does not
support it, the best-supporting passage is cited instead when that one clears
the threshold. Sentences that no passage supports, or that state a number the
passages never mention, are dropped. Invalid citation numbers (outside
``1..len(context)``) are stripped, and a sentence repeated word for word is kept
once. Very short sentences ("Tampa, Florida.") are also scored together with the
question, since alone they carry little meaning, but that score counts only for
passages holding at least half of their words. Last, a grounded answer must
address the question: the cosine between the question and the answer's most
relevant sentence must reach ``relevance_threshold`` (not applied to lists,
tables, summaries); otherwise the answer becomes an abstention.

Thresholds, as measured by ``benchmarks/generation.py --sweep`` (MiniLM):
support 0.55, relevance 0.35.

Consistency (:func:`selfcheck`): SelfCheckGPT with an embedding scorer. Each
answer sentence's consistency is the mean over N stochastic samples of its best
cosine to a sample sentence; sentences the samples do not repeat are dropped.
:func:`semantic_entropy` clusters the answer and the samples by meaning
(greedy, cosine >= ``cluster_threshold`` to a cluster's first member) and
returns the entropy of the cluster sizes (0 when all agree; ln(N+1) at most).

Cosine on a sentence embedder measures topical support, not entailment: a
sentence that swaps one entity for another on the same topic can still pass.
The number check catches the commonest such case (wrong figures and years).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rag.chunking import split_sentences
from rag.generate import SentenceCache, content_words
from rag.llm.prompt import CANNOT_ANSWER, is_refusal
from rag.protocols import Embedder
from rag.types import Chunk, Hit, content_hash

DEFAULT_SUPPORT_THRESHOLD = 0.55
DEFAULT_RELEVANCE_THRESHOLD = 0.35

_CITE_GROUP = re.compile(r"\s*\[\s*(\d{1,3}(?:\s*[,;]\s*\d{1,3})*)\s*\]")
_LEAD_CITES = re.compile(r"^\s*(?:\[\s*\d{1,3}(?:\s*[,;]\s*\d{1,3})*\s*\]\s*)+[.;,]?")
_MARKER = re.compile(r"^\s*(?:[-*•·]|\d{1,2}[.)])\s+")
_TABLE_RULE = re.compile(r"^\s*\|?\s*:?-{2,}:?\s*(?:\|\s*:?-{2,}:?\s*)*\|?\s*$")
_STRUCT = re.compile(r"^\s*[{}\[\]`]+\s*$|^\s*```\w*\s*$")
_NUMBER = re.compile(r"(?<![\w.])\d+(?:[.,]\d+)*(?![\w])")
_ANSWER_PREFIX = re.compile(r"^\s*(?:answer|response)\s*:\s*", re.I)
_WORDS = re.compile(r"\w+")


def parse_citations(text: str) -> list[int]:
    """Every citation number in ``text`` (``[1]``, ``[1, 3]``, ``[2][4]``), in order, with repeats removed."""
    out: list[int] = []
    for m in _CITE_GROUP.finditer(text):
        for n in re.split(r"[,;]", m.group(1)):
            v = int(n)
            if v not in out:
                out.append(v)
    return out


def strip_citations(text: str) -> str:
    return re.sub(r"\s+([.,;:!?])", r"\1", _CITE_GROUP.sub("", text)).strip()


def clean_unit(text: str) -> str:
    """The sentence as prose: no citations, list markers or table pipes."""
    t = strip_citations(_MARKER.sub("", text))
    if t.startswith("|"):
        t = " ".join(c.strip() for c in t.strip("|").split("|") if c.strip())
    return t.strip()


def _numbers(text: str) -> set[str]:
    return {n.replace(",", "").rstrip(".") for n in _NUMBER.findall(text)}


def _by_content(context: list[Hit]) -> list[Hit]:
    """The same passages keyed by their text, so the sentence cache can never serve another text under one id."""
    return [Hit(Chunk(id=content_hash(h.chunk.text), doc_id=h.chunk.doc_id, text=h.chunk.text, position=0), h.score)
            for h in context]


@dataclass
class Unit:
    """One answer sentence (or list item / table row) as the checker sees it."""

    raw: str
    line: int
    structural: bool = False  # table rules, code fences: kept verbatim, never scored

    @property
    def clean(self) -> str:
        return clean_unit(self.raw)


def answer_units(text: str, fmt: dict[str, Any] | None = None) -> list[Unit]:
    """Split an answer into checkable units: lines first, then sentences; citation-only fragments join the unit before."""
    text = _ANSWER_PREFIX.sub("", text or "").strip()
    if not text:
        return []
    if fmt and fmt.get("format") == "json":
        return [Unit(text, 0)]
    units: list[Unit] = []
    for li, line in enumerate(l for l in text.splitlines() if l.strip()):
        if _TABLE_RULE.match(line) or _STRUCT.match(line):
            units.append(Unit(line, li, structural=True))
            continue
        marker = _MARKER.match(line)
        body = line[marker.end():] if marker else line
        for k, s in enumerate(split_sentences(body) or [body.strip()]):
            if k == 0 and marker:  # "1. The game..." must not split after "1."
                s = marker.group(0).strip() + " " + s
            prev = units[-1] if units and not units[-1].structural and units[-1].line == li else None
            lead = _LEAD_CITES.match(s)
            if prev is not None and lead:  # "Paris. [1] It opened..." splits before the [1]
                prev.raw = prev.raw.rstrip() + " " + lead.group(0).strip()
                s = s[lead.end():].strip()
                if not s:
                    continue
            units.append(Unit(s, li))
    return units


def join_units(units: list[Unit], texts: list[str]) -> str:
    """Rebuild an answer: units of one line joined by spaces, lines by newlines."""
    out, last_line = "", None
    for u, t in zip(units, texts):
        if last_line is None:
            out = t
        elif u.line == last_line:
            out += " " + t
        else:
            out += "\n" + t
        last_line = u.line
    return out.strip()


_OPEN_TASK = re.compile(r"\b(?:summari[sz]e|summary|overview|outline|tl;?dr|explain)\b", re.I)


def _relevance_applies(question: str, fmt: dict[str, Any] | None) -> bool:
    """Open tasks (lists, tables, summaries) and near-empty questions answer with text that need not echo them."""
    if fmt and fmt.get("format") in ("list", "bullet", "table", "json"):
        return False
    return len(content_words(question)) >= 2 and not _OPEN_TASK.search(question)


@dataclass
class CheckResult:
    text: str
    cited: list[int]
    sentences: list[tuple[str, int | None, float | None]]
    abstained: bool
    abstain_reason: str | None
    dropped: list[dict[str, Any]] = field(default_factory=list)
    invalid_citations: list[int] = field(default_factory=list)
    added_citations: int = 0
    recited: int = 0
    refusal: bool = False
    best_support: float = 0.0
    relevance: float | None = None

    def meta(self) -> dict[str, Any]:
        return {"dropped": self.dropped, "invalid_citations": self.invalid_citations,
                "added_citations": self.added_citations, "recited": self.recited,
                "refusal": self.refusal, "best_support": self.best_support, "relevance": self.relevance}


class GroundingChecker:
    """Scores answer sentences against the passages and keeps only the supported ones.

    Args:
        embedder: the collection's embedder (the one passages are indexed with).
        threshold: least support (cosine) a kept sentence needs.
        short_words: sentences with fewer words are scored as "question + sentence".
        check_numbers: drop sentences stating a number no passage contains.
        relevance_threshold: least cosine between the question and the answer's most relevant kept
            sentence; below it the answer (grounded but beside the point) becomes an abstention. 0 = off.
            Not applied to list/table/JSON answers, summaries, or questions of fewer than two content words.
        cache: a shared ``SentenceCache`` (passage sentences and their vectors).

    Example:
        >>> checker = GroundingChecker(SentenceTransformerEmbedder(), threshold=0.55)
        >>> res = checker.check("Where is the Eiffel Tower?", "It is in Paris [1]. It is made of cheese.", hits)
        >>> res.text
        'It is in Paris [1].'
    """

    def __init__(self, embedder: Embedder, threshold: float = DEFAULT_SUPPORT_THRESHOLD, *, short_words: int = 5,
                 check_numbers: bool = True, relevance_threshold: float = DEFAULT_RELEVANCE_THRESHOLD,
                 cache: SentenceCache | None = None) -> None:
        if not -1.0 <= threshold <= 1.0:
            raise ValueError(f"threshold must be a cosine in [-1, 1], but got {threshold}")
        self.embedder = embedder
        self.threshold = threshold
        self.short_words = short_words
        self.check_numbers = check_numbers
        self.relevance_threshold = relevance_threshold
        self.cache = cache or SentenceCache(embedder)

    # ------------------------------------------------------------ scorer
    def support_matrix(self, sentences: list[str], context: list[Hit], question: str = "") -> np.ndarray:
        """``S[i, j]``: support of sentence i by passage j+1 (best cosine to one of its sentences).

        A short sentence (fewer than ``short_words`` words) is also scored as "question + sentence",
        but that score counts for a passage only when the passage contains at least half of the
        sentence's content words; otherwise the bare sentence's cosine is used.
        """
        if not sentences or not context:
            return np.zeros((len(sentences), len(context)), dtype=np.float32)
        short = [i for i, s in enumerate(sentences) if question and len(_WORDS.findall(s)) < self.short_words]
        vecs = self.embedder.encode(list(sentences) + [f"{question} {sentences[i]}" for i in short])
        bare, expanded = vecs[: len(sentences)], vecs[len(sentences):]
        passages = self.cache.get(_by_content(context))
        S = np.stack([(bare @ pv.T).max(axis=1) if len(pv) else np.full(len(sentences), -1.0, dtype=np.float32)
                      for _s, pv in passages], axis=1)
        if short:
            words = [content_words(h.chunk.text) for h in context]
            for k, i in enumerate(short):
                sw = content_words(sentences[i])
                for j, (_s, pv) in enumerate(passages):
                    cov = len(sw & words[j]) / len(sw) if sw else 1.0
                    if cov >= 0.5 and len(pv):
                        S[i, j] = max(S[i, j], float((pv @ expanded[k]).max()))
        return S

    def score(self, sentences: list[str], context: list[Hit], *, question: str = "",
              allowed: list[list[int] | None] | None = None) -> list[tuple[float, int | None]]:
        """Support of each sentence and the passage (1-based) giving it.

        ``allowed[i]`` limits sentence i to those passages (its citations); None means all passages.
        This is the scorer the benchmark applies to every system's answers.
        """
        if not sentences:
            return []
        if not context:
            return [(0.0, None)] * len(sentences)
        S = self.support_matrix(sentences, context, question)
        out = []
        for i in range(len(sentences)):
            cols = [j - 1 for j in (allowed[i] if allowed and allowed[i] else []) if 0 < j <= len(context)]
            cols = cols or list(range(len(context)))
            j = max(cols, key=lambda c: S[i, c])
            out.append((float(S[i, j]), j + 1))
        return out

    def unsupported_share(self, text: str, context: list[Hit], question: str = "",
                          threshold: float | None = None) -> tuple[int, int]:
        """(unsupported sentences, scored sentences) of an answer, each scored against all passages."""
        thr = self.threshold if threshold is None else threshold
        sents = [u.clean for u in answer_units(text) if not u.structural]
        sents = [s for s in sents if _WORDS.search(s) and not is_refusal(s)]
        if not sents:
            return 0, 0
        scores = self.score(sents, context, question=question)
        return sum(1 for s, _ in scores if s < thr), len(sents)

    # ------------------------------------------------------------- check
    def check(self, question: str, text: str, context: list[Hit], fmt: dict[str, Any] | None = None) -> CheckResult:
        units = answer_units(text, fmt)
        n = len(context)
        content, refusals = [], []
        for u in units:
            if u.structural:
                continue
            c = u.clean
            if not _WORDS.search(c):
                continue
            (refusals if is_refusal(c) else content).append(u)
        invalid: list[int] = []
        valid_cites: list[list[int]] = []
        for u in content:
            cites = parse_citations(u.raw)
            invalid += [c for c in cites if not 0 < c <= n and c not in invalid]
            valid_cites.append([c for c in cites if 0 < c <= n])
        if not content:
            reason = ("the model said the passages do not contain the answer" if refusals
                      else "the model gave no answer")
            return CheckResult(text="", cited=[], sentences=[], abstained=True, abstain_reason=reason,
                               refusal=bool(refusals), invalid_citations=invalid)
        cleans = [u.clean for u in content]
        S = self.support_matrix(cleans, context, question)
        ctx_numbers = set().union(*(_numbers(h.chunk.text) for h in context)) if self.check_numbers else set()
        kept: dict[int, tuple[str, int, float]] = {}
        seen: set[str] = set()
        dropped: list[dict[str, Any]] = [{"sentence": u.clean, "reason": "refusal mixed into an answer"} for u in refusals]
        added = recited = 0
        best = float(S.max()) if S.size else 0.0
        for i, u in enumerate(content):
            row = S[i]
            j_all = int(row.argmax())
            cited_ok = [c for c in valid_cites[i] if row[c - 1] >= self.threshold]
            if cited_ok:
                src, sup, cites = max(cited_ok, key=lambda c: row[c - 1]), None, cited_ok
                sup = float(row[src - 1])
            elif row[j_all] >= self.threshold:
                src, sup, cites = j_all + 1, float(row[j_all]), [j_all + 1]
                if valid_cites[i]:
                    recited += 1
                else:
                    added += 1
            else:
                dropped.append({"sentence": cleans[i], "support": round(float(row[j_all]), 4),
                                "reason": f"unsupported (best support {row[j_all]:.2f} < {self.threshold:.2f})"})
                continue
            if self.check_numbers:
                missing = sorted(_numbers(cleans[i]) - ctx_numbers)
                if missing:
                    dropped.append({"sentence": cleans[i], "support": round(sup, 4),
                                    "reason": f"states numbers the passages do not contain: {', '.join(missing)}"})
                    continue
            key = " ".join(cleans[i].lower().split())
            if key in seen:  # small models loop: say it once
                dropped.append({"sentence": cleans[i], "reason": "repeats an earlier sentence"})
                continue
            seen.add(key)
            body = _CITE_GROUP.sub("", u.raw).rstrip()
            body = re.sub(r"\s+([.,;:!?])", r"\1", body)
            kept[i] = (f"{body} " + "".join(f"[{c}]" for c in cites), src, sup)
        if not kept:
            return CheckResult(text="", cited=[], sentences=[], abstained=True,
                               abstain_reason="no sentence of the answer is supported by the passages ("
                                              + "; ".join(d["reason"] for d in dropped[-3:]) + ")",
                               dropped=dropped, invalid_citations=invalid, best_support=best)
        relevance = None
        if self.relevance_threshold > 0 and _relevance_applies(question, fmt):
            longs = [cleans[i] for i in kept if len(_WORDS.findall(cleans[i])) >= self.short_words]
            if len(longs) < len(kept):
                relevance = 1.0  # a short answer was scored in the question's frame: it answers it by construction
            else:
                vecs = self.embedder.encode([question] + longs)
                relevance = float((vecs[1:] @ vecs[0]).max())
            if relevance < self.relevance_threshold:
                return CheckResult(text="", cited=[], sentences=[], abstained=True,
                                   abstain_reason=f"the answer does not address the question (relevance "
                                                  f"{relevance:.2f} < {self.relevance_threshold:.2f})",
                                   dropped=dropped, invalid_citations=invalid, best_support=best, relevance=relevance)
        out_units, out_texts = [], []
        index = {id(u): i for i, u in enumerate(content)}
        for u in units:
            if u.structural:
                out_units.append(u)
                out_texts.append(u.raw.strip())
            elif index.get(id(u)) in kept:
                out_units.append(u)
                out_texts.append(kept[index[id(u)]][0])
        cited = sorted({int(c) for i in kept for c in parse_citations(kept[i][0])})
        return CheckResult(
            text=join_units(out_units, out_texts), cited=cited,
            sentences=[(cleans[i], kept[i][1], round(kept[i][2], 4)) for i in sorted(kept)],
            abstained=False, abstain_reason=None, dropped=dropped, invalid_citations=invalid,
            added_citations=added, recited=recited, refusal=bool(refusals), best_support=best, relevance=relevance,
        )


# --------------------------------------------------------------- sampling
def _sample_sentences(sample: str) -> list[str]:
    if is_refusal(sample):
        return [CANNOT_ANSWER]
    return [u.clean for u in answer_units(sample) if not u.structural and _WORDS.search(u.clean)] or [sample.strip() or "-"]


def selfcheck(embedder: Embedder, sentences: list[str], samples: list[str]) -> list[float]:
    """SelfCheckGPT consistency of each answer sentence: mean over samples of its best cosine to a sample sentence."""
    if not sentences or not samples:
        return [1.0] * len(sentences)
    per_sample = [_sample_sentences(s) for s in samples]
    flat = [s for ss in per_sample for s in ss]
    vecs = embedder.encode(list(sentences) + flat)
    a, b = vecs[: len(sentences)], vecs[len(sentences):]
    sims = a @ b.T
    out = np.zeros(len(sentences), dtype=np.float64)
    pos = 0
    for ss in per_sample:
        out += sims[:, pos:pos + len(ss)].max(axis=1)
        pos += len(ss)
    return [float(x) for x in out / len(samples)]


def semantic_clusters(vecs: np.ndarray, threshold: float) -> list[int]:
    """Greedy clustering by meaning: each item joins the first cluster whose first member it matches."""
    heads: list[int] = []
    labels: list[int] = []
    for i in range(len(vecs)):
        for c, h in enumerate(heads):
            if float(vecs[i] @ vecs[h]) >= threshold:
                labels.append(c)
                break
        else:
            heads.append(i)
            labels.append(len(heads) - 1)
    return labels


def semantic_entropy(embedder: Embedder, answers: list[str], cluster_threshold: float = 0.8) -> dict[str, Any]:
    """Entropy (nats) of the meaning clusters of several answers to one question.

    Refusals are normalised to one text so they form one cluster. Returns
    ``{"entropy", "normalized" (entropy / ln N), "n_clusters", "labels"}``.
    """
    if not answers:
        return {"entropy": 0.0, "normalized": 0.0, "n_clusters": 0, "labels": []}
    texts = [CANNOT_ANSWER if is_refusal(a) or not a.strip() else strip_citations(a) for a in answers]
    labels = semantic_clusters(embedder.encode(texts), cluster_threshold)
    counts = np.bincount(labels).astype(np.float64)
    p = counts / counts.sum()
    h = float(-(p * np.log(p)).sum())
    return {"entropy": round(h, 4), "normalized": round(h / math.log(len(answers)), 4) if len(answers) > 1 else 0.0,
            "n_clusters": int(len(counts)), "labels": labels}
