"""The grounded prompt: numbered passages, answer only from them, cite ``[n]``, say so when they do not answer.

``build_messages`` returns OpenAI-style chat messages, which both backends take
(llama.cpp applies the GGUF's own chat template). ``is_refusal`` recognises the
"cannot answer" reply the prompt asks for, and its usual paraphrases.
"""

from __future__ import annotations

import re
from typing import Any

from rag.types import Hit

CANNOT_ANSWER = "I cannot answer this from the given passages."

SYSTEM_PROMPT = (
    "Answer the question using only the passages given by the user; never use outside knowledge. "
    "Reply in one to three sentences. After each sentence, put the number of the passage that supports it "
    f"in square brackets, like [1]. If the passages do not contain the answer, reply: {CANNOT_ANSWER}"
)

_YESNO_START = re.compile(r"^\s*(?:is|are|was|were|do|does|did|can|could|should|would|will|has|have|had|may|might|must)\b",
                          re.I)

_FORMAT_INSTRUCTIONS: dict[str, str] = {
    "json": "Answer with a single JSON object only; put the citations [n] in a \"sources\" field.",
    "table": "Answer as a Markdown table with a header row; add the citation [n] at the end of each row.",
    "bullet": "Answer as a bulleted list: one item per line starting with \"- \", each item ending with its citation [n].",
    "list": "Answer as a list: one item per line starting with \"- \", each item ending with its citation [n].",
    "one_word": "Answer with a single word or short phrase followed by its citation [n].",
    "yesno": "Start the answer with Yes or No, then give one short sentence of justification with its citation [n].",
    "short": "Keep the answer short.",
}


def requested_format(question: str) -> dict[str, Any] | None:
    """The answer format the question asks for (``rag.query_analysis``), or None when that module is absent."""
    try:
        from rag.query_analysis import requested_format as _rf
    except ImportError:  # pragma: no cover - the module is optional
        return None
    try:
        return _rf(question)
    except Exception:  # pragma: no cover - format detection must never break generation
        return None


def format_instruction(fmt: dict[str, Any] | None) -> str:
    """One line telling the model how to shape the answer ("" when no format was requested)."""
    if not fmt:
        return ""
    kind = fmt.get("format", "")
    text = _FORMAT_INSTRUCTIONS.get(kind, "")
    if kind == "list" and fmt.get("numbered"):
        text = "Answer as a numbered list: one item per line starting with \"1. \", \"2. \"..., each item ending with its citation [n]."
    if fmt.get("n") and kind in ("bullet", "list"):
        text += f" Give exactly {fmt['n']} items."
    if kind == "short":
        if fmt.get("max_words"):
            text = f"Answer in at most {fmt['max_words']} words, plus the citation [n]."
        elif fmt.get("max_sentences"):
            text = f"Answer in at most {fmt['max_sentences']} sentence(s), each with its citation [n]."
    return text


def passages_block(context: list[Hit], max_chars: int = 6000) -> str:
    """``[n] text`` for every passage, each cut so the block stays within ``max_chars``."""
    if not context:
        return ""
    per = max(200, max_chars // len(context))
    parts = []
    for i, h in enumerate(context, 1):
        text = " ".join(h.chunk.text.split())
        if len(text) > per:
            text = text[:per].rsplit(" ", 1)[0] + " ..."
        head = f" ({h.chunk.title})" if h.chunk.title and h.chunk.title not in text[:200] else ""
        parts.append(f"[{i}]{head} {text}")
    return "\n\n".join(parts)


def build_messages(question: str, context: list[Hit], *, max_context_chars: int = 6000,
                   fmt: dict[str, Any] | None = None) -> list[dict[str, str]]:
    """Chat messages for one grounded question.

    Args:
        question: the user's question.
        context: the passages, numbered 1.. in this order (the numbers the answer cites).
        max_context_chars: budget for the passages' text (fits small context windows).
        fmt: a requested format; detected from the question when None.
    """
    fmt = fmt if fmt is not None else requested_format(question)
    instr = format_instruction(fmt)
    if not instr and _YESNO_START.match(question):
        instr = "Begin the answer with Yes, No or Maybe."
    user = (
        f"Passages:\n{passages_block(context, max_context_chars)}\n\n"
        f"Question: {question}\n\n"
        "Answer from the passages above, citing them like [1]. "
        f"If they do not contain the answer, reply \"{CANNOT_ANSWER}\""
    )
    if instr:
        user += f"\n{instr}"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


_REFUSAL = re.compile(
    r"\b(?:can ?not|can't|cannot|unable to|not able to) (?:answer|be answered|determine|find|tell|say|provide)"
    r"|\b(?:passages?|documents?|context|text|information)\b[^.]{0,40}\b(?:do(?:es)? not|don't|doesn't) "
    r"(?:contain|mention|provide|include|say|state|specify|answer)"
    r"|\b(?:insufficient|not enough|no) (?:relevant )?information\b"
    r"|\bnot (?:mentioned|stated|specified|provided|given) in the (?:passages?|documents?|context|text)"
    r"|\bi (?:do not|don't) know\b",
    re.I,
)


def is_refusal(sentence: str) -> bool:
    """True when a sentence says the passages do not answer the question."""
    return bool(_REFUSAL.search(sentence or ""))
