"""Cheap, model-free analysis of questions and answers.

The diagnostics need to know what a question asks for (a format, an answer
type, several parts, a table aggregation) and whether an answer delivers it.
Everything here is regular expressions over the text: deterministic, fast and
explainable, at the price of missing paraphrases a model would catch. Each
function errs on the side of returning ``None`` / ``False`` (no finding) when
unsure, because a finding turns into a failure tag and false tags on clean
answers are worse than a missed one.

Example:
    >>> requested_format("List three reasons to service a bike.")
    {'format': 'list', 'n': 3}
    >>> expected_answer_type("In what year was Northwind founded?")
    'date'
    >>> split_parts("What is the price, weight and frame of the Skylark SL?")
    ['price of the Skylark SL', 'weight of the Skylark SL', 'frame of the Skylark SL']
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from typing import Any

__all__ = [
    "STOPWORDS",
    "NUMBER_WORDS",
    "tokenize",
    "content_terms",
    "stem",
    "requested_format",
    "matches_format",
    "expected_answer_type",
    "answer_has_type",
    "split_parts",
    "strip_instructions",
    "is_table_question",
    "table_operation",
    "analyze_question",
]

# --------------------------------------------------------------------------- #
# Shared text helpers
# --------------------------------------------------------------------------- #

STOPWORDS: frozenset[str] = frozenset(
    """a about above after again against all also am an and any are as at be because been before being
    below between both but by can could did do does doing down during each few for from further had has
    have having he her here hers herself him himself his how i if in into is it its itself just me more
    most my myself no nor not now of off on once only or other our ours ourselves out over own same she
    should so some such than that the their theirs them themselves then there these they this those through
    to too under until up very was we were what when where which while who whom whose why will with would
    you your yours yourself yourselves shall may might must us per via upon within without onto
    whether there's what's it's i'm i'd you're don't doesn't didn't isn't aren't can't won't
    please tell give show get got let one ones much many""".split()
)

NUMBER_WORDS: frozenset[str] = frozenset(
    """zero one two three four five six seven eight nine ten eleven twelve thirteen fourteen fifteen
    sixteen seventeen eighteen nineteen twenty thirty forty fifty sixty seventy eighty ninety hundred
    thousand million billion trillion dozen dozens half quarter twice once single double triple
    first second third fourth fifth sixth seventh eighth ninth tenth percent""".split()
)

_WORD_NUM = {
    "one": 1,
    "two": 2,
    "three": 3,
    "four": 4,
    "five": 5,
    "six": 6,
    "seven": 7,
    "eight": 8,
    "nine": 9,
    "ten": 10,
    "eleven": 11,
    "twelve": 12,
    "fifteen": 15,
    "twenty": 20,
}

_TOKEN_RE = re.compile(r"[\u3400-\u9fff\uf900-\ufaff]|[^\W_]+(?:['’][^\W_]+)?", re.UNICODE)


def tokenize(text: str) -> list[str]:
    """Lower-cased word tokens; every CJK character is a token of its own."""
    return _TOKEN_RE.findall((text or "").lower())


@lru_cache(maxsize=65536)
def stem(word: str) -> str:
    """A crude, stable stem: strip a few English suffixes, keep at most 6 chars.

    Good enough to match "weighs"/"weight" or "prices"/"price" when comparing
    bags of words; never used for display.
    """
    w = word.lower()
    for suf in (
        "ational",
        "ations",
        "ation",
        "ments",
        "ment",
        "ness",
        "ings",
        "ing",
        "ies",
        "ied",
        "es",
        "ed",
        "ly",
        "s",
    ):
        if len(w) > len(suf) + 3 and w.endswith(suf):
            w = w[: -len(suf)]
            break
    return w[:6]


def content_terms(text: str, *, min_len: int = 3) -> set[str]:
    """Stemmed content words of ``text`` (stopwords and short tokens removed).

    CJK characters are kept as single-character terms.
    """
    out: set[str] = set()
    for tok in tokenize(text):
        if "\u3400" <= tok[0] <= "\ufaff":
            out.add(tok)
        elif len(tok) >= min_len and tok not in STOPWORDS and not tok.isdigit():
            out.add(stem(tok))
    return out


def _num_from(token: str | None) -> int | None:
    if not token:
        return None
    token = token.lower()
    if token.isdigit():
        return int(token)
    return _WORD_NUM.get(token)


# --------------------------------------------------------------------------- #
# Requested format
# --------------------------------------------------------------------------- #

_NUM_ALT = r"(\d{1,2}|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|fifteen|twenty)"
_ITEM_NOUNS = (
    r"(reasons?|ways?|examples?|items?|things?|steps?|tips?|points?|factors?|benefits?|advantages?|"
    r"disadvantages?|drawbacks?|features?|options?|ideas?|causes?|symptoms?|differences?|facts?|"
    r"questions?|methods?|types?|kinds?|names?|words?|sentences?|bullets?|bullet points|models?|products?|"
    r"bikes?|stores?|countries|cities|people|risks?|rules?|uses?|applications?|criteria|requirements?|"
    r"recommendations?|suggestions?|strategies|techniques|elements?|components?|parts?|stages?|phases?)"
)

_FMT_JSON = re.compile(r"\bjson\b", re.I)
_FMT_TABLE = re.compile(
    r"\b(?:in|as|into|using|with|make|create|produce|format(?:ted)? as)\s+(?:a\s+|an?\s+|the\s+form\s+of\s+a\s+)?"
    r"(?:markdown\s+|simple\s+|short\s+)?table\b|\btabulate\b|\btabular\b|\btable format\b",
    re.I,
)
_FMT_BULLET = re.compile(r"\bbullet(?:ed)?(?:[\s-]+points?|[\s-]+list)?\b|\bbulleted\b", re.I)
_FMT_NUMBERED = re.compile(r"\bnumbered list\b", re.I)
_FMT_LIST = re.compile(
    r"^\s*(?:please\s+)?(?:list|enumerate)\b|\b(?:as|in|into)\s+a\s+list\b|\ba list of\b|\blist (?:the|all|every|some|any)\b",
    re.I,
)
_FMT_N_ITEMS = re.compile(
    r"\b(?:top\s+)?" + _NUM_ALT + r"\s+(?:(?:main|key|major|best|most|good|common|important|different|specific|short|"
    r"simple|quick|possible|\w+-\w+)\s+)?" + _ITEM_NOUNS + r"\b",
    re.I,
)
_FMT_N_CONTEXT = re.compile(
    r"\b(?:list|name|give|provide|suggest|recommend|what are|which are|enumerate|mention|identify|describe|"
    r"explain|outline|offer|share|top)\b",
    re.I,
)
_FMT_ONE_WORD = re.compile(r"\b(?:in\s+)?(?:one|a single|1)[\s-]word\b|\bsingle[\s-]word\b", re.I)
_FMT_YESNO = re.compile(
    r"\b(?:answer|reply|respond|say)\s+(?:(?:with|only with|only|just|simply)\s+)?[\"']?yes[\"']?\s*(?:or|/)\s*[\"']?no\b"
    r"|\byes\s*(?:or|/)\s*no\s*(?:only|answer|question)?\s*[:?.]?\s*$"
    r"|\b(?:a\s+)?(?:simple\s+)?yes[\s/-]*(?:or[\s-]*)?no\s+answer\b",
    re.I,
)
_FMT_SHORT = re.compile(
    r"\bbriefly\b|\bin short\b|\bshort answer\b|\bin (?:one|a single|1) sentence\b|\bone[- ]sentence\b|\bconcise(?:ly)?\b|"
    r"\bin (?:a few|\d{1,2}|two|three|five|ten) words\b|\btl;?dr\b|\bkeep it short\b|\bjust the (?:number|name|date|answer)\b",
    re.I,
)
_WORD_LIMIT = re.compile(
    r"\bin (?:under |less than |at most |no more than )?(\d{1,3}|two|three|five|ten) words\b", re.I
)
_SENTENCE_LIMIT = re.compile(r"\bin (one|a single|1|two|2|three|3) sentences?\b|\bone[- ]sentence\b", re.I)


def requested_format(question: str) -> dict[str, Any] | None:
    """Detect an answer format the question asks for.

    Args:
        question: The user's question.

    Returns:
        ``None`` when no format is requested, otherwise a dict with ``format``
        in ``{"json", "table", "bullet", "list", "one_word", "yesno", "short"}``
        and, where stated, ``n`` (number of items), ``numbered`` (bool),
        ``max_words`` or ``max_sentences``.

    Example:
        >>> requested_format("Give me three tips for chain care, as a bulleted list.")
        {'format': 'bullet', 'n': 3}
    """
    q = question or ""
    n_match = _FMT_N_ITEMS.search(q)
    n = _num_from(n_match.group(1)) if n_match else None
    # "N things" only counts as a list request when the sentence asks for them.
    if n is not None and not _FMT_N_CONTEXT.search(q):
        n = None
    if n is not None and n < 2:
        n = None

    def with_n(d: dict[str, Any]) -> dict[str, Any]:
        if n is not None:
            d["n"] = n
        return d

    if _FMT_JSON.search(q) and re.search(r"\b(?:in|as|into|return|output|format|give|valid|object)\b", q, re.I):
        return {"format": "json"}
    if _FMT_TABLE.search(q):
        return {"format": "table"}
    if _FMT_BULLET.search(q):
        return with_n({"format": "bullet"})
    if _FMT_NUMBERED.search(q):
        return with_n({"format": "list", "numbered": True})
    if _FMT_ONE_WORD.search(q):
        return {"format": "one_word"}
    if _FMT_YESNO.search(q):
        return {"format": "yesno"}
    if _FMT_LIST.search(q) or n is not None:
        return with_n({"format": "list"})
    if _FMT_SHORT.search(q):
        d: dict[str, Any] = {"format": "short"}
        wl = _WORD_LIMIT.search(q)
        if wl:
            d["max_words"] = _num_from(wl.group(1))
        sl = _SENTENCE_LIMIT.search(q)
        if sl:
            d["max_sentences"] = _num_from(sl.group(1)) or 1
        return d
    return None


_BULLET_LINE = re.compile(r"^\s*(?:[-*•·▪‣◦]|\d{1,2}[.)]|\(?[a-z]\))\s+\S", re.M)
_NUMBERED_LINE = re.compile(r"^\s*\d{1,2}[.)]\s+\S", re.M)
_SENT_SPLIT = re.compile(r"(?<=[.!?。！？])\s+(?=[A-Z0-9\"'(\[]|$)")


def _inline_items(answer: str) -> int:
    """Count items of an inline enumeration such as "A, B and C" (0 if none)."""
    best = 0
    for sent in _SENT_SPLIT.split(answer):
        if "," not in sent and " and " not in sent and ";" not in sent:
            continue
        parts = [p for p in re.split(r",|;|\band\b|\bor\b", sent) if p.strip()]
        if len(parts) >= 2:
            best = max(best, len(parts))
    return best


def _strip_code_fence(text: str) -> str:
    m = re.search(r"```(?:json)?\s*(.*?)```", text, re.S)
    return m.group(1) if m else text


def matches_format(answer: str, fmt: dict[str, Any] | None) -> bool:
    """Check that ``answer`` follows a format from :func:`requested_format`.

    Args:
        answer: The response text.
        fmt: The requested format (``None`` means no request, always True).

    Returns:
        True when the answer plausibly follows the format. List checks accept
        bulleted or numbered lines; when ``n`` is given the item count must
        match (an inline "A, B and C" enumeration counts for plain lists).
    """
    if not fmt:
        return True
    kind = fmt.get("format")
    text = (answer or "").strip()
    n = fmt.get("n")
    if kind == "json":
        try:
            value = json.loads(_strip_code_fence(text).strip())
        except (ValueError, TypeError):
            return False
        return isinstance(value, (dict, list))
    if kind == "table":
        from rag.tables import parse_markdown_table

        return parse_markdown_table(text) is not None
    if kind in ("list", "bullet"):
        lines = _NUMBERED_LINE.findall(text) if fmt.get("numbered") else _BULLET_LINE.findall(text)
        n_lines = len(lines)
        if kind == "bullet":
            return n_lines >= 2 and (n is None or n_lines == n)
        if n_lines >= 2:
            return n is None or n_lines == n
        if fmt.get("numbered"):
            return False
        inline = _inline_items(text)
        return inline >= 2 and (n is None or inline == n)
    if kind == "one_word":
        words = re.findall(r"[^\W_]+(?:[-'][^\W_]+)*", text)
        return 1 <= len(words) <= 3
    if kind == "yesno":
        return re.match(r"^\W*(yes|no)\b", text, re.I) is not None
    if kind == "short":
        words = len(text.split())
        max_words = fmt.get("max_words")
        if max_words:
            return words <= int(max_words) + 3
        max_sent = fmt.get("max_sentences")
        sentences = [s for s in _SENT_SPLIT.split(text) if s.strip()]
        if max_sent:
            return len(sentences) <= int(max_sent)
        return words <= 40 and len(sentences) <= 2
    return True


# --------------------------------------------------------------------------- #
# Expected answer type
# --------------------------------------------------------------------------- #

_TYPE_PATTERNS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("date", re.compile(r"\bwhen\b|\b(?:what|which)\s+(?:year|date|day|month|decade|century)\b|\bsince when\b", re.I)),
    (
        "number",
        re.compile(
            r"\bhow\s+(?:many|much|long|old|far|tall|heavy|high|wide|big|large|often|fast|quickly)\b"
            r"|\bwhat\s+(?:percentage|percent|proportion|fraction|share|number|amount|ratio|rate)\b|\bwhat\s+%",
            re.I,
        ),
    ),
    ("person", re.compile(r"\bwho(?:m|se)?\b", re.I)),
    (
        "place",
        re.compile(
            r"\bwhere\b|\b(?:in|at|from|to)\s+(?:what|which)\s+(?:city|town|country|place|location|region|state|site|store)\b|\b(?:what|which)\s+(?:city|town|country)\b",
            re.I,
        ),
    ),
)
_YESNO_START = re.compile(
    r"^\s*(?:is|are|was|were|does|do|did|can|could|has|have|had|will|would|should|shall|may|must|might|"
    r"isn't|aren't|doesn't|don't|didn't|can't|won't)\b",
    re.I,
)


def expected_answer_type(question: str, *, strict: bool = False) -> str | None:
    """The type of value the question asks for.

    Args:
        question: The user's question.
        strict: Only trust a type cue in the question's first 60 characters
            (a "whose" deep inside a quoted title does not make a person question).

    Returns:
        One of ``"date"``, ``"number"``, ``"person"``, ``"place"``,
        ``"yesno"``, or ``None`` when the question asks for something else
        (an explanation, a description) or is ambiguous. Alternative questions
        ("Is it A or B?") are not yes/no questions.

    Example:
        >>> expected_answer_type("How many days of annual leave do staff get?")
        'number'
    """
    q = (question or "").strip()
    if not q:
        return None
    # Look at the first clause only: "Who founded X and when?" is about a person first.
    best: tuple[int, str] | None = None
    for kind, pat in _TYPE_PATTERNS:
        m = pat.search(q)
        if m and (best is None or m.start() < best[0]):
            best = (m.start(), kind)
    if best is not None and best[0] < 60:
        return best[1]
    if _YESNO_START.match(q) and not re.search(r"\bor\b", q, re.I):
        return "yesno"
    return best[1] if best and not strict else None


_MONTHS = (
    r"jan(?:uary)?|feb(?:ruary)?|mar(?:ch)?|apr(?:il)?|may|jun(?:e)?|jul(?:y)?|aug(?:ust)?|"
    r"sep(?:t(?:ember)?)?|oct(?:ober)?|nov(?:ember)?|dec(?:ember)?"
)
_DATE_RE = re.compile(
    r"\b(?:1[0-9]{3}|20[0-9]{2})s?\b|\b\d{1,2}[/.-]\d{1,2}[/.-]\d{2,4}\b|\b\d{4}-\d{2}-\d{2}\b|\b(?:"
    + _MONTHS
    + r")\b\.?"
    r"|\b(?:monday|tuesday|wednesday|thursday|friday|saturday|sunday|today|yesterday|tomorrow)\b"
    r"|\b(?:spring|summer|autumn|fall|winter)\b|\b\d{1,2}(?:st|nd|rd|th)\s+century\b|\b(?:century|decade)\b"
    r"|\b(?:year|month|week|day)s?\s+(?:ago|later|after|before)\b|\bin\s+the\s+\d{2}s\b",
    re.I,
)
_NUMBER_RE = re.compile(r"\d|\b(?:" + "|".join(sorted(NUMBER_WORDS)) + r")\b|%", re.I)
_CAP_WORD = r"(?:[A-Z][\w'’.-]*[a-z][\w'’-]*|[A-Z]\.)"
_NAME_RE = re.compile(_CAP_WORD + r"(?:\s+(?:van|von|de|del|der|da|di|la|le|bin|al|ibn|mac|o')?\s*" + _CAP_WORD + r")+")
_NON_NAME_CAPS = frozenset(
    """The A An This That These Those It Its In On At For From To By With Yes No I We You He She They Our My
    Your Their His Her There Here When Where Who What Which Why How If But And Or So As Because After Before
    During Since Until While Although Also However Therefore Then Please Note Monday Tuesday Wednesday
    Thursday Friday Saturday Sunday January February March April May June July August September October
    November December""".split()
)


def _capitalised_tokens(answer: str) -> list[str]:
    """Capitalised words that are not sentence-initial function words."""
    out = []
    for sent in re.split(r"(?<=[.!?:;])\s+|\n+", answer):
        words = re.findall(r"[^\W\d_][\w'’-]*", sent)
        for i, w in enumerate(words):
            if not w[0].isupper() or w in _NON_NAME_CAPS:
                continue
            if i == 0 and w.lower() in STOPWORDS:
                continue
            out.append(w)
    return out


def answer_has_type(answer: str, answer_type: str, question: str = "") -> bool:
    """Whether ``answer`` contains a value of ``answer_type``.

    Args:
        answer: The response text.
        answer_type: One of the values :func:`expected_answer_type` returns.
        question: Optional; capitalised words that already occur in the
            question ("Who founded Northwind?") do not count as the answer's
            person or place.

    Returns:
        True if a value of that type is present (years, dates, month names
        for ``date``; digits or number words for ``number``; capitalised
        name-like tokens for ``person`` and ``place``; an explicit yes/no
        or a clear polarity word near the start for ``yesno``). Unknown
        types return True, so callers never tag on them.
    """
    text = answer or ""
    if answer_type == "date":
        return _DATE_RE.search(text) is not None
    if answer_type == "number":
        return _NUMBER_RE.search(text) is not None
    asked = {t.lower() for t in re.findall(r"[^\W\d_][\w'’-]*", question or "")}
    if answer_type == "person":
        for m in _NAME_RE.finditer(text):
            if any(w.lower().strip(".") not in asked for w in m.group(0).split()):
                return True
        return any(len(c) > 2 and c.lower() not in asked for c in _capitalised_tokens(text))
    if answer_type == "place":
        return any(len(c) > 1 and c.lower() not in asked for c in _capitalised_tokens(text))
    if answer_type == "yesno":
        head = " ".join(text.split()[:12])
        return (
            re.match(r"^\W*(?:yes|no|yeah|nope|correct|incorrect|true|false|indeed|not)\b", text, re.I) is not None
            or re.search(r"\b(?:yes|no|not|n't|never|cannot|neither|nor)\b", head, re.I) is not None
        )
    return True


# --------------------------------------------------------------------------- #
# Multi-part questions
# --------------------------------------------------------------------------- #

_WH = r"(?:what|when|where|who|whom|whose|which|why|how|is|are|was|were|does|do|did|can|could|should|will|has|have)"
_AND_WH = re.compile(r",?\s+(?:and|also|as well as)\s+(?=" + _WH + r"\b)", re.I)
_NP_WORD = r"(?!(?:what|when|where|who|which|why|how|is|are|was|were|does|do|did|can|the|a|an|and|or|of|for|in|on|at)\b)[a-z][\w-]*"
_NP = _NP_WORD + r"(?:\s+" + _NP_WORD + r"){0,2}"
_ENUM3 = re.compile(
    r"\b(?P<lead>the\s+|its\s+|their\s+)?(?P<items>"
    + _NP
    + r"(?:\s*,\s*"
    + _NP
    + r")+\s*,?\s+and\s+(?:the\s+|its\s+)?"
    + _NP
    + r")"
    r"\s+(?P<prep>of|for|in|on|at)\s+(?P<tail>[^?]+)",
    re.I,
)
_ENUM2 = re.compile(
    r"^\s*(?:what|which)\s+(?:is|are|were|was)\s+(?P<lead>the\s+|its\s+)(?P<items>"
    + _NP
    + r"\s+and\s+(?:the\s+)?"
    + _NP
    + r")"
    r"\s+(?P<prep>of|for|in|on|at)\s+(?P<tail>[^?]+)",
    re.I,
)


def _enum_parts(question: str) -> list[str]:
    q = question.strip().rstrip("?").strip()
    if re.search(r"\bbetween\b|\bdifference\b|\bcompare\b|\bboth\b", q, re.I):
        return []
    for pat in (_ENUM3, _ENUM2):
        m = pat.search(q)
        if not m:
            continue
        items = [i.strip() for i in re.split(r"\s*,\s*|\s+and\s+", m.group("items")) if i.strip()]
        items = [re.sub(r"^(?:the|its)\s+", "", i, flags=re.I) for i in items]
        # A leading wh/auxiliary word is not an item ("what is price, ...").
        if any(re.match(_WH + r"\b", i, re.I) for i in items) or len(items) < 2:
            continue
        tail = m.group("tail").strip()
        return [f"{item} {m.group('prep')} {tail}" for item in items]
    return []


# An instruction about the answer itself ("Answer in one word.", "Present the answer as a
# table ...", "Answer in JSON with the keys ...:"): an imperative verb first, a word about the
# answer's shape after it. Such a sentence asks for a format, not for information.
_INSTR_VERB = r"(?:please\s+)?(?:answer|reply|respond|present|format|return|output|write|express|keep|use|give\s+(?:the|your|an?)\s+answer)\b"
_INSTR_WORDS = re.compile(
    r"\b(?:answer|reply|response|words?|json|table|columns?|list|bullets?|yes|no|sentences?|format(?:ted)?|briefly|"
    r"short|concise(?:ly)?|keys?|markdown)\b",
    re.I,
)
_INSTR_SENTENCE = re.compile(r"^\s*" + _INSTR_VERB + r"[^?]*$", re.I)
_INSTR_PREFIX = re.compile(r"^\s*(" + _INSTR_VERB + r"[^?:]*):\s+(?=\S)", re.I)


def _is_instruction(sentence: str) -> bool:
    return bool(_INSTR_SENTENCE.match(sentence)) and bool(_INSTR_WORDS.search(sentence))


def strip_instructions(question: str) -> str:
    """The question without sentences that only instruct the answer's format.

    A leading ``"Answer in JSON with the keys ...: "`` clause and trailing
    sentences such as ``"Answer in one word."`` are removed; a question that
    is nothing but an instruction is returned unchanged.

    Example:
        >>> strip_instructions("Is the sign useful? Answer only with yes or no.")
        'Is the sign useful?'
    """
    q = (question or "").strip()
    m = _INSTR_PREFIX.match(q)
    if m and _INSTR_WORDS.search(m.group(1)):
        q = q[m.end():]
    sentences = [s for s in re.split(r"(?<=[.?!])\s+", q) if s.strip()]
    kept = [s for s in sentences if not _is_instruction(s)]
    out = " ".join(kept).strip()
    return out if kept and len(tokenize(out)) >= 2 else (question or "").strip()


def split_parts(question: str) -> list[str]:
    """Split a multi-part question into its parts.

    Handles several question marks ("What is X? When did Y?"), an "and"
    joining two wh-clauses ("When was X founded and who founded it?") and
    enumerations ("the price, weight and frame of X"). Sentences that only
    instruct the answer's format ("Answer in one word.") are not parts
    (see :func:`strip_instructions`).

    Args:
        question: The user's question.

    Returns:
        The parts, in order; a single-element list when the question has one
        part (or an empty list for an empty question).
    """
    q = (question or "").strip()
    if not q:
        return []
    q = strip_instructions(q)  # "Answer in one word." is a format request, not a part
    pieces = [p.strip() for p in re.split(r"(?<=\?)\s+", q) if p.strip()]
    pieces = [p for p in pieces if len(tokenize(p)) >= 2] or [q]
    parts: list[str] = []
    for piece in pieces:
        sub = [s.strip(" ,;") for s in _AND_WH.split(piece) if s and s.strip(" ,;")]
        sub = [s for s in sub if len(tokenize(s)) >= 2] or [piece]
        for s in sub:
            enum = _enum_parts(s)
            parts.extend(enum if enum else [s])
    return parts


# --------------------------------------------------------------------------- #
# Table questions
# --------------------------------------------------------------------------- #

_OPS: tuple[tuple[str, re.Pattern[str]], ...] = (
    ("average", re.compile(r"\b(?:average|mean|avg)\b", re.I)),
    ("sum", re.compile(r"\b(?:total|sum|combined|altogether|in all|overall)\b", re.I)),
    (
        "max",
        re.compile(
            r"\b(?:max(?:imum)?|highest|largest|biggest|greatest|most expensive|heaviest|longest|oldest|tallest|"
            r"fastest|most|top|priciest|costliest|best[- ]selling)\b",
            re.I,
        ),
    ),
    (
        "min",
        re.compile(
            r"\b(?:min(?:imum)?|lowest|smallest|least|fewest|cheapest|lightest|shortest|youngest|newest|slowest|"
            r"least expensive|most affordable)\b",
            re.I,
        ),
    ),
    ("count", re.compile(r"\bhow many\b|\bcount\b|\bnumber of\b", re.I)),
    (
        "compare",
        re.compile(
            r"\bcompare\b|\bcomparison\b|\bversus\b|\bvs\.?\b|\b(?:more|less|cheaper|heavier|lighter|faster)\s+than\b",
            re.I,
        ),
    ),
)
_COLUMNISH = re.compile(
    r"\b(?:column|row|table|spreadsheet|price|cost|costs|weight|weighs|rank|ranking|per\s+\w+|rate|ratio|score|"
    r"quantity|stock|capacity|opening hours|phone number|part number|sku)\b",
    re.I,
)


def table_operation(question: str) -> str | None:
    """The aggregation a question asks for: average, sum, max, min, count, compare or None."""
    q = question or ""
    # "least expensive" must win over "expensive"/"most".
    if re.search(r"\bleast expensive\b|\bmost affordable\b", q, re.I):
        return "min"
    # "phone number of", "part number of" name a column, they do not ask for a count.
    q_ops = re.sub(
        r"\b(?:phone|telephone|part|serial|order|frame|account|reference|tracking|model|registration|contact|fax|vat|id|house|room|flight)\s+number\b",
        "identifier",
        q,
        flags=re.I,
    )
    for op, pat in _OPS:
        if pat.search(q_ops):
            if (
                op == "max"
                and re.search(r"\bat most\b|\bmost of\b", q, re.I)
                and not re.search(r"\bmost expensive\b|\bthe most\b", q, re.I)
            ):
                continue
            if op == "min" and re.search(r"\bat least\b", q, re.I) and not re.search(r"\bthe least\b", q, re.I):
                continue
            return op
    return None


def is_table_question(question: str) -> bool:
    """Whether the question looks like it targets tabular data.

    True for aggregations (count, total, average, min/max, comparisons) and
    for questions about column-like attributes (price, weight, rate, ...).
    """
    return table_operation(question) is not None or _COLUMNISH.search(question or "") is not None


def analyze_question(question: str) -> dict[str, Any]:
    """Everything this module knows about a question, for ``Trace.query_flags``.

    Returns:
        ``{"format", "answer_type", "parts", "table_question", "table_op"}``.
    """
    return {
        "format": requested_format(question),
        "answer_type": expected_answer_type(question),
        "parts": split_parts(question),
        "table_question": is_table_question(question),
        "table_op": table_operation(question),
    }
