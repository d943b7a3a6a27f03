"""ragas metrics for ``rag eval``: the ones that need no LLM always, the LLM-judged ones on request.

ragas is optional (``pip install rag-diagnostics[eval]``). Without it,
:class:`RagasScorer` reports itself unavailable and the eval goes on; every
ragas value is then ``nan`` and the report says why.

Non-LLM metrics (ragas 0.4 classes, scored per query):

* ``ragas.string_similarity``: :class:`ragas.metrics.NonLLMStringSimilarity`
  (1 - normalised Levenshtein distance) of the response against the reference
  answer; the best over the question's reference answers.
* ``ragas.rouge_l``: :class:`ragas.metrics.RougeScore` (ROUGE-L F-measure), best over references.
* ``ragas.semantic_similarity``: ragas' answer semantic similarity, the cosine
  of the response and reference embeddings, computed with the service's own
  MiniLM embedder (ragas' embedding wrappers want a hub download or an API).
  Needs no ragas, so it is there even when ragas is not.
* ``ragas.context_precision``: :class:`ragas.metrics.NonLLMContextPrecisionWithReference`,
  the retrieved context chunks against the gold documents' chunks.
* ``ragas.context_recall``: :class:`ragas.metrics.NonLLMContextRecall`, same inputs.

Questions without a reference answer (unanswerable, retrieval-only) get
``nan`` for the answer metrics, and questions without gold documents ``nan``
for the context metrics: ragas has nothing to compare them with. The eval's
own abstention-aware figures score a correct refusal as correct instead.

LLM-judged metrics (faithfulness, answer relevancy, LLM context precision)
run only with ``--judge`` and an OpenAI-compatible endpoint (``RAG_LLM_BASE_URL``).
"""

from __future__ import annotations

import asyncio
import functools
import logging
import math
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

log = logging.getLogger(__name__)

NAN = float("nan")
ANSWER_METRICS = ("ragas.string_similarity", "ragas.rouge_l", "ragas.semantic_similarity")
CONTEXT_METRICS = ("ragas.context_precision", "ragas.context_recall")
JUDGE_METRICS = ("ragas.faithfulness", "ragas.answer_relevancy", "ragas.llm_context_precision")
MAX_REFERENCES = 3  # reference answers compared per question
MAX_REFERENCE_CONTEXTS = 20


@dataclass
class RagasSample:
    """What the ragas metrics read for one question."""

    question: str
    response: str
    references: list[str] = field(default_factory=list)
    retrieved_contexts: list[str] = field(default_factory=list)
    reference_contexts: list[str] = field(default_factory=list)


def _load_ragas() -> tuple[dict[str, Any] | None, str]:
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    try:
        from ragas.dataset_schema import SingleTurnSample
        from ragas.metrics import (
            NonLLMContextPrecisionWithReference,
            NonLLMContextRecall,
            NonLLMStringSimilarity,
            RougeScore,
        )
    except Exception as e:  # ImportError, or a broken install
        return None, f"ragas is not importable ({type(e).__name__}: {e}); install rag-diagnostics[eval]"
    try:
        metrics = {
            "sample": SingleTurnSample,
            "string": NonLLMStringSimilarity(),
            "rouge": RougeScore(rouge_type="rougeL", mode="fmeasure"),
            "cprec": NonLLMContextPrecisionWithReference(),
            "crec": NonLLMContextRecall(),
        }
        metrics["rouge_fast"] = _cached_rouge(metrics["rouge"])
        try:  # what NonLLMStringSimilarity computes (1 - normalised Levenshtein distance), as a matrix
            from rapidfuzz.distance import Levenshtein
            from rapidfuzz.process import cdist

            metrics["cdist"], metrics["lev_sim"] = cdist, Levenshtein.normalized_similarity
        except ImportError:
            metrics["cdist"] = None
    except Exception as e:  # e.g. rapidfuzz or rouge_score missing
        return None, f"ragas metrics could not be built ({type(e).__name__}: {e})"
    return metrics, ""


class RagasScorer:
    """Scores batches of :class:`RagasSample` with the non-LLM ragas metrics.

    Args:
        embedder: Anything with ``encode(list[str]) -> np.ndarray`` (the
            service's MiniLM); used for semantic similarity. None skips it.
        use_ragas: False skips the ragas metrics (they become ``nan``) without
            importing ragas.

    Example:
        >>> scorer = RagasScorer(svc.embedder)
        >>> scorer.score_batch([RagasSample("q", "Paris.", ["Paris"], ["Paris is ..."], ["Paris is ..."])])
    """

    def __init__(self, embedder: Any | None = None, *, use_ragas: bool = True) -> None:
        self.embedder = embedder
        self._m: dict[str, Any] | None = None
        self.note = "disabled (--no-ragas)" if not use_ragas else ""
        if use_ragas:
            self._m, self.note = _load_ragas()

    @property
    def available(self) -> bool:
        return self._m is not None

    def info(self) -> dict[str, Any]:
        return {"available": self.available, "note": self.note or None,
                "semantic_similarity": "MiniLM cosine (service embedder)" if self.embedder is not None else None,
                "metrics": list(ANSWER_METRICS + CONTEXT_METRICS)}

    # ------------------------------------------------------------------ scoring
    def score_batch(self, samples: list[RagasSample]) -> list[dict[str, float]]:
        """One ``{metric: value}`` dict per sample; ``nan`` where a metric does not apply."""
        out = [dict.fromkeys(ANSWER_METRICS + CONTEXT_METRICS, NAN) for _ in samples]
        if not samples:
            return out
        self._semantic(samples, out)
        if self._m is not None:
            try:
                asyncio.run(self._ragas_all(samples, out))
            except RuntimeError as e:  # an event loop already runs (a notebook): score synchronously
                if "running event loop" not in str(e):
                    raise
                loop = asyncio.new_event_loop()
                try:
                    loop.run_until_complete(self._ragas_all(samples, out))
                finally:
                    loop.close()
        return out

    def _semantic(self, samples: list[RagasSample], out: list[dict[str, float]]) -> None:
        if self.embedder is None:
            return
        texts: list[str] = []
        spans: list[tuple[int, int, int]] = []  # sample index, start of its refs, count
        for i, s in enumerate(samples):
            refs = [r for r in s.references[:MAX_REFERENCES] if r.strip()]
            if not refs or not s.response.strip():
                continue
            spans.append((i, len(texts) + 1, len(refs)))
            texts.append(s.response)
            texts.extend(refs)
        if not texts:
            return
        vecs = np.asarray(self.embedder.encode(texts), dtype=np.float32)
        norms = np.linalg.norm(vecs, axis=1, keepdims=True)
        vecs = vecs / np.where(norms == 0, 1.0, norms)
        for i, start, n in spans:
            sims = vecs[start:start + n] @ vecs[start - 1]
            out[i]["ragas.semantic_similarity"] = float(np.clip(sims.max(), -1.0, 1.0))

    async def _ragas_all(self, samples: list[RagasSample], out: list[dict[str, float]]) -> None:
        for i, s in enumerate(samples):
            out[i].update(await self._ragas_one(s))

    async def _ragas_one(self, s: RagasSample) -> dict[str, float]:
        """ragas' own scoring code per metric, called without its per-call tracing.

        ``_single_turn_ascore`` is the body of ragas' public ``single_turn_ascore``
        minus the callback/tracing wrapper, which costs more than the metric
        itself (~80 ms a question for the context metrics). The context metrics'
        pairwise Levenshtein similarities are computed in one rapidfuzz
        ``cdist`` (the same ``1 - normalized_distance`` ragas uses) and turned
        into the score by the metrics' own ``_calculate_average_precision`` /
        ``_compute_score``. Where a ragas version lacks those hooks, the public
        API is used.
        """
        m = self._m
        assert m is not None
        Sample = m["sample"]
        res: dict[str, float] = {}
        refs = [r for r in s.references[:MAX_REFERENCES] if r.strip()]
        if refs:
            best_s = best_r = -1.0
            for ref in refs:
                smp = Sample(user_input=s.question, response=s.response or " ", reference=ref)
                best_s = max(best_s, _num(await _score(m["string"], smp)))
                if m.get("rouge_fast") is not None:
                    best_r = max(best_r, _num(m["rouge_fast"](ref, s.response or " ")))
                else:
                    best_r = max(best_r, _num(await _score(m["rouge"], smp)))
            res["ragas.string_similarity"], res["ragas.rouge_l"] = best_s, best_r
        ref_ctx = [c for c in s.reference_contexts[:MAX_REFERENCE_CONTEXTS] if c.strip()]
        if ref_ctx:
            if s.retrieved_contexts:
                res["ragas.context_precision"], res["ragas.context_recall"] = await self._context(s, ref_ctx)
            else:  # nothing retrieved (a refused query): nothing precise, nothing recalled
                res["ragas.context_precision"] = res["ragas.context_recall"] = 0.0
        return res

    async def _context(self, s: RagasSample, ref_ctx: list[str]) -> tuple[float, float]:
        m = self._m
        assert m is not None
        cprec, crec = m["cprec"], m["crec"]
        fast = m.get("cdist") is not None and hasattr(cprec, "_calculate_average_precision") \
            and hasattr(crec, "_compute_score")
        if not fast:
            smp = m["sample"](user_input=s.question, retrieved_contexts=list(s.retrieved_contexts),
                              reference_contexts=ref_ctx)
            return _num(await cprec.single_turn_ascore(smp)), _num(await crec.single_turn_ascore(smp))
        sim = m["cdist"](list(s.retrieved_contexts), ref_ctx, scorer=m["lev_sim"], workers=1)
        prec_verdicts = [1 if float(row.max()) >= cprec.threshold else 0 for row in sim]
        recall_scores = [float(col.max()) for col in sim.T]
        return _num(cprec._calculate_average_precision(prec_verdicts)), _num(crec._compute_score(recall_scores))


def _cached_rouge(metric: Any) -> Callable[[str, str], float] | None:
    """ragas RougeScore's computation (``RougeScorer([type], use_stemmer=True).score(reference, response)``)
    with one scorer and a memoised Porter stemmer: ragas builds a new scorer per call and
    stemming dominates the cost. Same tokens, same value."""
    try:
        from rouge_score import rouge_scorer, tokenizers

        tok = tokenizers.DefaultTokenizer(use_stemmer=True)
        stemmer = tok._stemmer

        class _Memo:
            @functools.lru_cache(maxsize=200_000)  # noqa: B019 - one instance per scorer
            def stem(self, word: str) -> str:
                return stemmer.stem(word)

        tok._stemmer = _Memo()
        scorer = rouge_scorer.RougeScorer([metric.rouge_type], tokenizer=tok)
        kind, mode = metric.rouge_type, metric.mode
    except Exception:  # another rouge_score / ragas layout: use ragas as is
        return None

    def score(reference: str, response: str) -> float:
        return float(getattr(scorer.score(reference, response)[kind], mode))

    return score


async def _score(metric: Any, sample: Any) -> float:
    if hasattr(metric, "_single_turn_ascore"):
        return await metric._single_turn_ascore(sample, None)
    return await metric.single_turn_ascore(sample)


def _num(v: Any) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        return NAN
    return f if math.isfinite(f) else NAN


# ---------------------------------------------------------------------- judge
class JudgeScorer:
    """LLM-judged ragas metrics against an OpenAI-compatible endpoint.

    Built only when the user passes ``--judge``; any failure (no ragas, no
    langchain-openai, endpoint down) leaves the metrics ``nan`` with a note in
    the report, never a crash.

    Args:
        base_url: The endpoint, e.g. ``http://127.0.0.1:8080/v1``.
        model: Model name sent to it.
        api_key: Its key (any string for a local server).
        embedder: The service embedder, for answer relevancy.
    """

    def __init__(self, base_url: str, model: str, api_key: str = "sk-no-key", embedder: Any | None = None,
                 timeout_s: float = 60.0) -> None:
        self.note = ""
        self._metrics: dict[str, Any] = {}
        os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
        try:
            from langchain_openai import ChatOpenAI
            from ragas.dataset_schema import SingleTurnSample
            from ragas.embeddings.base import BaseRagasEmbeddings
            from ragas.llms import LangchainLLMWrapper
            from ragas.metrics import Faithfulness, LLMContextPrecisionWithReference, ResponseRelevancy

            llm = LangchainLLMWrapper(ChatOpenAI(base_url=base_url, model=model, api_key=api_key, timeout=timeout_s,
                                                 max_retries=1, temperature=0.0))

            class _Emb(BaseRagasEmbeddings):  # the service's MiniLM, no download
                def __init__(self, e: Any) -> None:
                    super().__init__()
                    self._e = e

                def embed_query(self, text: str) -> list[float]:
                    return self._e.encode([text])[0].tolist()

                def embed_documents(self, texts: list[str]) -> list[list[float]]:
                    return self._e.encode(list(texts)).tolist()

                async def aembed_query(self, text: str) -> list[float]:
                    return self.embed_query(text)

                async def aembed_documents(self, texts: list[str]) -> list[list[float]]:
                    return self.embed_documents(texts)

            self._sample = SingleTurnSample
            self._metrics = {"ragas.faithfulness": Faithfulness(llm=llm),
                             "ragas.llm_context_precision": LLMContextPrecisionWithReference(llm=llm)}
            if embedder is not None:
                self._metrics["ragas.answer_relevancy"] = ResponseRelevancy(llm=llm, embeddings=_Emb(embedder))
            self.note = f"judge {model} at {base_url}"
        except Exception as e:
            self.note = f"judge unavailable ({type(e).__name__}: {e})"
            self._metrics = {}

    @property
    def available(self) -> bool:
        return bool(self._metrics)

    def score_batch(self, samples: list[RagasSample]) -> list[dict[str, float]]:
        out = [dict.fromkeys(JUDGE_METRICS, NAN) for _ in samples]
        if not self._metrics:
            return out
        return asyncio.run(self._all(samples, out))

    async def _all(self, samples: list[RagasSample], out: list[dict[str, float]]) -> list[dict[str, float]]:
        for i, s in enumerate(samples):
            smp = self._sample(user_input=s.question, response=s.response,
                               reference=(s.references or [None])[0], retrieved_contexts=list(s.retrieved_contexts))
            for name, metric in self._metrics.items():
                if name == "ragas.llm_context_precision" and not s.references:
                    continue
                if not s.retrieved_contexts and name != "ragas.answer_relevancy":
                    continue
                try:
                    out[i][name] = _num(await metric.single_turn_ascore(smp))
                except Exception as e:  # one failed judgment is nan, and noted once
                    log.warning("judge metric %s failed: %s", name, e)
                    if "failed" not in self.note:
                        self.note += f"; some judgments failed ({type(e).__name__}: {e})"
        return out
