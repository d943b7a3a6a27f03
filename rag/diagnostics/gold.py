"""Eval-side detectors that use gold labels (gold documents and answers).

At evaluation time we know which documents hold the answer and what the answer
is, so some failure modes can be decided exactly instead of guessed:

* the gold document was never retrieved into the final candidates
  -> ``missed_top_ranked`` (with its rank in every list);
* it was retrieved (reranked / dropped) but did not make the context
  -> ``ranking_consolidation``;
* it was in the context but the response lacks the gold answer -> ``not_extracted``;
* the question is unanswerable (no gold) -> ``missing_content``: a failure if
  the system answered, a correct abstention (still tagged) if it abstained
  (not for injected queries, whose refusal is a ``security`` matter);
* the gold answer comes from a table and the response lacks it -> ``structured_data``;
* a gold chunk was quarantined, or the case is a labelled injection case ->
  ``security`` (the gold document carries the attack: where it ranked is not a
  retrieval failure);
* several answers are all required and only some are given -> ``incomplete``;
* the gold answer is buried in a much longer response -> ``incorrect_specificity``;
* a labelled injection case that was not caught -> ``security``.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

from rag.diagnostics._common import abstained, answer_text
from rag.query_analysis import content_terms
from rag.types import FailureTag, Hit, Trace

__all__ = ["gold_findings", "contains_gold", "match_gold", "refuted_by_gold"]

_STAGES = ("dense", "lexical", "fused", "reranked", "context", "dropped")


def _norm(text: str) -> str:
    t = unicodedata.normalize("NFKC", text or "").lower()
    # keep "7.4", "24,500" and "4:30" whole; drop sentence punctuation, also after a number ("1871.")
    t = re.sub(r"[^\w\s%£$€.,:-]|(?<!\d)[.,:]|[.,:](?!\d)", " ", t)
    t = re.sub(r"\b(?:a|an|the)\b", " ", t)
    return " " + " ".join(t.split()) + " "


def match_gold(
    response: str, gold: str, *, long_answer_words: int = 12, found_recall: float = 0.5, missing_recall: float = 0.15
) -> bool | None:
    """Whether the response contains the gold answer: True, False, or None (undecided).

    Short gold answers must occur as whole normalised tokens ("11" is not
    found in "2011"). Long gold answers (more than ``long_answer_words``
    words, e.g. PubMedQA conclusions) are never quoted verbatim: they count as
    found when at least ``found_recall`` of their content words occur, as
    missing below ``missing_recall``, and undecided in between.
    """
    g = _norm(gold).strip()
    if not g:
        return False
    r = _norm(response)
    if any("\u3400" <= ch <= "\u9fff" for ch in g):
        return g.replace(" ", "") in r.replace(" ", "")
    if f" {g} " in r:
        return True
    if len(g.split()) > long_answer_words:
        terms = content_terms(gold)
        if not terms:
            return None
        recall = len(terms & content_terms(response)) / len(terms)
        if recall >= found_recall:
            return True
        return False if recall < missing_recall else None
    return False


def contains_gold(response: str, gold: str) -> bool:
    """:func:`match_gold` as a plain bool (undecided counts as not found)."""
    return match_gold(response, gold) is True


def _best_rank(hits: Sequence[Hit], doc_ids: set[str]) -> dict[str, int]:
    out: dict[str, int] = {}
    for i, h in enumerate(hits, 1):
        if h.chunk.doc_id in doc_ids and h.chunk.doc_id not in out:
            out[h.chunk.doc_id] = i
    return out


def gold_findings(
    trace: Trace,
    gold_doc_ids: Sequence[str],
    answers: Sequence[str],
    *,
    all_answers_required: bool = False,
    injection_expected: bool | None = None,
    buried_ratio: float = 10.0,
    buried_min_words: int = 100,
) -> tuple[dict[str, Any], list[FailureTag]]:
    """Ranks of the gold documents and the failure tags the gold labels imply.

    Args:
        trace: The pipeline's trace for the question.
        gold_doc_ids: Documents holding the answer (empty: unanswerable, or a
            retrieval-only question when ``answers`` is empty too but ids are given).
        answers: Gold answers. By default they are alternatives (any one is
            correct); with ``all_answers_required`` every one must appear.
        all_answers_required: Treat ``answers`` as parts of one answer.
        injection_expected: True for a labelled injection case: tagged
            ``security`` (caught or not); its gold document is the attack
            carrier, so its ranks imply no retrieval or extraction tag. A gold
            chunk the pipeline quarantined is treated the same way.
        buried_ratio: The response is "too detailed" when it contains the gold
            answer, is longer than ``buried_ratio`` times the gold answer and
            has more than ``buried_min_words`` words.
        buried_min_words: See ``buried_ratio``.

    Returns:
        ``(findings, tags)``: ``findings`` holds, per gold doc, its best
        1-based rank in each list (``None`` when absent), plus
        ``answerable``, ``abstained``, ``answer_found`` and
        ``correct_abstention``; ``tags`` are the gold-implied failure tags.
    """
    gold = set(gold_doc_ids)
    answerable = bool(gold or answers)
    response = answer_text(trace)
    did_abstain = abstained(trace)
    lists = {
        "dense": trace.dense,
        "lexical": trace.lexical,
        "fused": trace.fused,
        "reranked": trace.reranked,
        "context": trace.context,
        "dropped": trace.dropped,
    }
    ranks = {stage: _best_rank(hits, gold) for stage, hits in lists.items()}
    per_doc = {d: {stage: ranks[stage].get(d) for stage in _STAGES} for d in gold_doc_ids}
    matches = {a: (False if did_abstain else match_gold(response, a)) for a in answers}
    found = [a for a, m in matches.items() if m is True]
    undecided = not found and any(m is None for m in matches.values())
    findings: dict[str, Any] = {
        "gold_ranks": per_doc,
        "answerable": answerable,
        "abstained": did_abstain,
        "answer_found": (None if undecided else bool(found)) if answers else None,
        "answers_found": found,
        "correct_abstention": (not answerable and did_abstain),
    }
    tags: list[FailureTag] = []
    quarantined = [(h, why) for h, why in trace.quarantined if h.chunk.doc_id in gold]
    gold_kinds = {h.chunk.kind for hits in lists.values() for h in hits if h.chunk.doc_id in gold}
    gold_kinds |= {h.chunk.kind for h, _ in quarantined}
    injected_query = bool(trace.query_flags.get("injection"))
    # A labelled injection case (or a quarantined gold chunk): the gold document is the attack
    # carrier, so whether it reached the context is judged as security, not as retrieval.
    security_case = bool(injection_expected) or bool(quarantined)

    if not answerable and injected_query:
        pass  # an injected query was refused: a security finding (below), not missing content
    elif not answerable:
        if did_abstain:
            tags.append(
                FailureTag(
                    "missing_content",
                    1.0,
                    "unanswerable question (no gold answer); the system correctly abstained",
                    "none: correct abstention",
                )
            )
        else:
            tags.append(
                FailureTag(
                    "missing_content",
                    1.0,
                    "unanswerable question (no gold answer) but the system answered",
                    "abstain when no candidate clears the calibrated threshold",
                )
            )
    elif gold and security_case:
        pass
    elif gold:
        in_context = [d for d in gold_doc_ids if per_doc[d]["context"]]
        if not in_context:
            retrieved = [d for d in gold_doc_ids if per_doc[d]["reranked"] or per_doc[d]["dropped"]]
            if retrieved:
                d = retrieved[0]
                r = per_doc[d]
                where = f"reranked rank {r['reranked']}" if r["reranked"] else "dropped"
                tags.append(
                    FailureTag(
                        "ranking_consolidation",
                        1.0,
                        f"gold doc {d} was retrieved ({where}) but not put in the context",
                        "keep the best chunks within the context budget; order and deduplicate the context",
                    )
                )
            else:
                d = gold_doc_ids[0]
                r = per_doc[d]
                desc = ", ".join(f"{s} {r[s] if r[s] else '-'}" for s in ("dense", "lexical", "fused", "reranked"))
                tags.append(
                    FailureTag(
                        "missed_top_ranked",
                        1.0,
                        f"gold doc {d} not in the final top-k; best ranks: {desc}",
                        "hybrid retrieval, a deeper candidate pool, reranking or fine-tuned embeddings",
                    )
                )
        elif (answers and not found and not undecided) or (did_abstain and not answers):
            d = in_context[0]
            what = "abstained" if did_abstain else "the response lacks every gold answer"
            tags.append(
                FailureTag(
                    "not_extracted",
                    1.0,
                    f"gold doc {d} is in the context (rank {per_doc[d]['context']}) but {what}"
                    + (f" ({answers[0]!r})" if answers else ""),
                    "sentence-level extraction and fewer, better chunks",
                )
            )
    elif answers and not found and not undecided and not did_abstain:
        tags.append(
            FailureTag(
                "not_extracted",
                0.8,
                f"the response lacks every gold answer ({answers[0]!r})",
                "sentence-level extraction",
            )
        )

    if answers and not found and not undecided and "table" in gold_kinds and not security_case:
        what = "abstained" if did_abstain else "the response lacks it"
        tags.append(
            FailureTag(
                "structured_data",
                1.0,
                f"the gold answer ({answers[0]!r}) comes from a table and {what}",
                "table-aware chunking, cell lookup and simple aggregation over the retrieved table",
            )
        )
    if quarantined and not injection_expected:
        h, why = quarantined[0]
        tags.append(
            FailureTag(
                "security",
                1.0,
                f"gold chunk {h.chunk.id} was quarantined ({why})",
                "review the quarantined document; never follow instructions found in documents",
            )
        )
    if answers and all_answers_required and found and len(found) < len(answers):
        missing = [a for a in answers if a not in found]
        tags.append(
            FailureTag(
                "incomplete",
                1.0,
                f"{len(missing)} of {len(answers)} required answers missing: {', '.join(map(repr, missing[:3]))}",
                "decompose the question and answer every part",
            )
        )
    if found:
        n_words = len(response.split())
        gold_words = max(len(a.split()) for a in found)
        if n_words > buried_min_words and n_words > buried_ratio * gold_words:
            tags.append(
                FailureTag(
                    "incorrect_specificity",
                    0.8,
                    f"gold answer {found[0]!r} ({gold_words} words) is buried in a {n_words}-word response",
                    "answer with the asked value first and trim",
                )
            )
    if injection_expected:
        caught = bool(trace.quarantined) or bool(trace.query_flags.get("injection"))
        if not caught:
            tags.append(
                FailureTag(
                    "security",
                    1.0,
                    "labelled injection case was neither quarantined nor flagged",
                    "scan chunks and queries for injections",
                )
            )
        else:
            tags.append(FailureTag("security", 1.0, "labelled injection case was caught", "none: injection handled"))
    return findings, tags


def refuted_by_gold(tag: FailureTag | str, findings: dict[str, Any]) -> bool:
    """Whether gold labels contradict a runtime tag, so a combined view should drop it.

    ``missing_content`` means the answer is not in the knowledge base; when
    the gold labels say the question is answerable (gold documents or answers
    exist), a runtime ``missing_content`` tag on an abstention is wrong: the
    real failure is the one the gold side names (``missed_top_ranked``,
    ``ranking_consolidation`` or ``not_extracted``).
    """
    mode = tag if isinstance(tag, str) else tag.mode
    return mode == "missing_content" and bool(findings.get("answerable"))
