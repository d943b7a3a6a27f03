"""Follow-up questions: rewrite the last user turn with the earlier ones, without an LLM.

Retrieval sees one question at a time, so "and when was it founded?" alone finds
nothing. A follow-up is recognised by its shape: a pronoun or an elliptic opener
("and ...", "what about ...") with few content words of its own. It is then
made standalone from the previous user turn (itself resolved first):

* elliptic "what about the Curlew?" after "How long is the warranty on the
  Skylark?" swaps the entity: "How long is the warranty on the Curlew?";
  without an entity to swap, the new words are appended to the previous question;
* a pronoun question gets the key noun phrases (entities first) of the previous
  turn prepended: "Northwind Cycles: when was it founded?".

Trade-off: regular expressions are fast, deterministic and explainable, and they
miss what they were not written for; a standalone question is never touched,
so the worst case is the unrewritten question. When the generator offers a
``rewrite_query(history, question)`` method (an LLM), the API uses it instead.

Example:
    >>> rewrite([{"role": "user", "content": "Who founded Northwind Cycles?"},
    ...          {"role": "assistant", "content": "Ada Price [1]"},
    ...          {"role": "user", "content": "and when was it founded?"}])
    'Northwind Cycles: when was it founded?'
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

__all__ = ["is_followup", "key_phrases", "rewrite", "rewrite_followup", "user_turns"]

_TOKEN = re.compile(r"[A-Za-z0-9][A-Za-z0-9'’&.-]*[A-Za-z0-9]|[A-Za-z0-9]")

PRONOUNS = frozenset(
    "it its it's itself they them their theirs themselves this that these those he him his she her hers "
    "there one ones same such former latter".split()
)
_OPENERS = re.compile(
    r"^\s*(?:(?:and|but|also|so|then|plus|or)\b[\s,]*|(?:what|how)\s+about\b\s*|same\s+(?:for|with)\b\s*|"
    r"what\s+if\b\s*)",
    re.IGNORECASE,
)
_ELLIPSIS = re.compile(r"^\s*(?:(?:and|but|or|also)\s+)?(?:what|how)\s+about\s+|^\s*(?:and|or)\s+(?:for|in|on|with|to|the|a|an)\b",
                       re.IGNORECASE)
_QWORDS = frozenset("what when where which who whom whose why how is are was were do does did can could should would "
                    "will shall may might must has have had".split())
_STOP = frozenset(
    "a an the of to in on for and or but is are was were be been being do does did what which who whom whose when "
    "where why how with by from at as that this these those it its there their they them i you we he she his her "
    "our your me my us not no can could should would will shall may might must about into than then so if any all "
    "some also just much many more most long often please tell give show know need want get got make made have has "
    "had does doing kind sort lot lots thing things way ways say said like".split()
)
_DETERMINERS = re.compile(r"^(?:the|a|an|our|your|my|this|that|these|those)\s+", re.IGNORECASE)
_PREPOSITION = re.compile(r"^(?:to|for|in|on|with|at|from|of|about|by)\s+", re.IGNORECASE)
MAX_FOLLOWUP_CONTENT_WORDS = 3


def _tokens(text: str) -> list[str]:
    return _TOKEN.findall(text)


def _content(tokens: Sequence[str]) -> list[str]:
    return [t for t in tokens if t.lower() not in _STOP and t.lower() not in PRONOUNS]


def is_followup(question: str) -> bool:
    """True when the question reads as depending on an earlier turn.

    Example:
        >>> is_followup("and when was it founded?"), is_followup("When was Northwind founded?")
        (True, False)
    """
    toks = _tokens(question)
    if not toks:
        return False
    content = _content(toks)
    if len(content) > MAX_FOLLOWUP_CONTENT_WORDS:
        return False
    if _ELLIPSIS.search(question):
        return True
    has_pronoun = any(t.lower() in PRONOUNS for t in toks)
    opener = bool(_OPENERS.match(question))
    # "Is it waterproof?" / "and the price?" / "and when?" (no content at all)
    return has_pronoun or (opener and len(content) <= 2) or not content


def _is_cap(tokens: Sequence[str], i: int) -> bool:
    t = tokens[i]
    if any(c.isdigit() for c in t) or (len(t) > 1 and t.isupper()):
        return True
    if not t[0].isupper():
        return False
    # a capital at the very start of the question is just sentence case, unless a name goes on
    return i > 0 or (len(tokens) > 1 and tokens[1][:1].isupper() and tokens[1].lower() not in _STOP)


def _spans(question: str) -> list[tuple[str, bool]]:
    """Maximal runs of content tokens in order, each with whether it names an entity.

    An entity is a run of capitalised (or numbered) tokens: "Skylark SL", "Northwind Cycles".
    """
    toks = _tokens(question)
    out: list[tuple[str, bool]] = []
    run: list[str] = []
    kind: bool | None = None
    for i, t in enumerate(toks):
        low = t.lower()
        if low in _STOP or low in PRONOUNS:
            cur = None
        else:
            cur = _is_cap(toks, i)
        if cur != kind and run:
            out.append((" ".join(run), bool(kind)))
            run = []
        if cur is not None:
            run.append(t)
        kind = cur
    if run:
        out.append((" ".join(run), bool(kind)))
    return out


def key_phrases(question: str, max_phrases: int = 3) -> list[str]:
    """The key noun phrases of a question: named entities first, then other content runs.

    Example:
        >>> key_phrases("How long is the warranty on a Northwind frame?")
        ['Northwind', 'warranty', 'frame']
    """
    spans = _spans(question)
    entities = [s for s, e in spans if e]
    others = [s for s, e in spans if not e and len(s) > 2]
    # the longest plain runs are the likeliest nouns ("warranty", "battery care")
    others.sort(key=lambda s: -len(s))
    out: list[str] = []
    for s in entities + others:
        if s not in out:
            out.append(s)
    return out[:max_phrases]


def _strip_opener(question: str) -> str:
    q = question.strip()
    while True:
        m = _OPENERS.match(q)
        if not m or not m.end():
            break
        q = q[m.end():].lstrip(" ,")
    return q


def rewrite_followup(previous: str, question: str) -> str:
    """Make ``question`` standalone using the previous user question (already standalone).

    Example:
        >>> rewrite_followup("How long is the warranty on the Skylark?", "what about the Curlew?")
        'How long is the warranty on the Curlew?'
    """
    if not previous.strip() or not is_followup(question):
        return question
    rest = _strip_opener(question)
    toks = _tokens(question)
    has_pronoun = any(t.lower() in PRONOUNS for t in toks)
    if _ELLIPSIS.search(question) and not has_pronoun and rest:
        new = _DETERMINERS.sub("", rest.rstrip(" ?.!"))
        prev_entities = [s for s, e in _spans(previous) if e]
        new_is_entity = any(t[0].isupper() for t in _tokens(new))
        base = previous.strip()
        if prev_entities and new_is_entity:
            # swap the last entity of the previous question for the new one
            target = prev_entities[-1]
            new = _DETERMINERS.sub("", _PREPOSITION.sub("", new))  # "to France" replaces "Ireland", not "to Ireland"
            pattern = re.compile(r"\b" + r"\W+".join(re.escape(t) for t in target.split()) + r"\b")
            swapped, n = pattern.subn(new.replace("\\", "\\\\"), base, count=1)
            if n:
                return swapped
        return f"{base.rstrip(' ?.!')} {new}?"
    entities = [s for s, e in _spans(previous) if e]
    phrases = entities or key_phrases(previous, max_phrases=2)
    if not phrases:
        return question
    body = rest or question.strip()
    return f"{' '.join(phrases)}: {body}"


def user_turns(messages: Sequence[Mapping[str, str]]) -> list[str]:
    return [str(m.get("content") or "") for m in messages if m.get("role") == "user"]


def rewrite(messages: Sequence[Mapping[str, str]]) -> str:
    """The standalone form of the last user turn, resolving each earlier follow-up in turn.

    Only user turns count: assistant answers are extractive quotes, and reading
    entities out of them would pull in whatever the last answer happened to cite.
    """
    turns = [t for t in user_turns(messages) if t.strip()]
    if not turns:
        return ""
    resolved = turns[0]
    for t in turns[1:]:
        resolved = rewrite_followup(resolved, t)
    return resolved
