"""Deterministic question answering over Markdown tables.

A generator that reads a table as flat text often misses the right cell, and
cannot add up a column. This module parses the Markdown tables in the context
and answers the common table questions directly:

* cell lookup: the row named in the question, the column named by header words
  ("How much does the Marten Ti cost?" -> ``The Marten Ti costs 3,200 GBP.``);
* counting rows, optionally filtered by a cell value ("How many models have an
  aluminium frame?");
* sum, average, minimum and maximum over a numeric column, min/max reporting
  the row's label ("The cheapest model is Otter 20 (395 GBP).");
* comparing two named rows on one column.

It answers only when the table clearly supports one reading of the question and
returns ``None`` otherwise, so the caller falls back to the generator. Answers
contain only values from the table (and numbers computed from them).

Example:
    >>> table = "| Model | Price (GBP) |\\n|---|---|\\n| Otter 20 | 395 |\\n| Marten Ti | 3,200 |"
    >>> table_answer("How much does the Marten Ti cost?", [(1, table)])
    ('The Marten Ti costs 3,200 GBP.', 1)
    >>> table_answer("Which is the cheapest model?", [(1, table)])
    ('The cheapest model is Otter 20 (395 GBP).', 1)
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

from rag.query_analysis import STOPWORDS, stem, table_operation, tokenize

__all__ = ["parse_markdown_table", "parse_markdown_tables", "parse_number", "table_values", "table_answer"]

Table = tuple[list[str], list[list[str]]]

# --------------------------------------------------------------------------- #
# Parsing
# --------------------------------------------------------------------------- #

_SEP_CELL = re.compile(r"^\s*:?-{2,}:?\s*$")


def _split_row(line: str) -> list[str]:
    s = line.strip()
    if s.startswith("|"):
        s = s[1:]
    if s.endswith("|") and not s.endswith("\\|"):
        s = s[:-1]
    cells = re.split(r"(?<!\\)\|", s)
    return [c.replace("\\|", "|").strip() for c in cells]


def _is_table_line(line: str) -> bool:
    s = line.strip()
    if not s:
        return False
    if s.startswith("|"):
        return s.count("|") >= 2
    return s.count("|") >= 2 and len(s) < 400


def _table_from_lines(lines: list[str]) -> Table | None:
    rows = [_split_row(line) for line in lines]
    # Drop separator rows (|---|:---:|) wherever they are.
    rows = [r for r in rows if not (any(c for c in r) and all(_SEP_CELL.match(c) or not c for c in r))]
    rows = [r for r in rows if any(c for c in r)]
    if len(rows) < 2:
        return None
    header = rows[0]
    width = len(header)
    if width < 2:
        return None
    body = []
    for r in rows[1:]:
        if len(r) < width:
            r = r + [""] * (width - len(r))
        body.append(r[:width])
    return header, body


def parse_markdown_tables(text: str) -> list[Table]:
    """Parse every Markdown table in ``text`` (see :func:`parse_markdown_table`)."""
    tables: list[Table] = []
    block: list[str] = []
    for line in (text or "").splitlines() + [""]:
        if _is_table_line(line):
            block.append(line)
            continue
        if block:
            t = _table_from_lines(block)
            if t is not None:
                tables.append(t)
            block = []
    return tables


def parse_markdown_table(text: str) -> Table | None:
    """Parse the first Markdown table in ``text``.

    The separator row (``|---|---|``) is optional; the first row is the header.
    Text before and after the table is ignored; short rows are padded.

    Args:
        text: Text holding a pipe table.

    Returns:
        ``(header, rows)`` with stripped cell strings, or ``None`` when there is
        no table with at least two columns and one data row.
    """
    tables = parse_markdown_tables(text)
    return tables[0] if tables else None


def table_values(text: str) -> set[str]:
    """All non-empty cell values of the tables in ``text`` (body rows only)."""
    out: set[str] = set()
    for _header, rows in parse_markdown_tables(text):
        for row in rows:
            out.update(c for c in row if c)
    return out


# --------------------------------------------------------------------------- #
# Numbers
# --------------------------------------------------------------------------- #

_CURRENCY = r"(?:[€$£¥₹]|EUR|USD|GBP|CHF|JPY|CNY|RMB|SEK|NOK|DKK|CAD|AUD|Rs\.?)"
_UNITS = (
    r"k?g|mg|t|tonnes?|lbs?|oz|[kcm]?m|mi|miles?|ft|in|km/h|mph|m/s|kph|[mk]?w|kwh|wh|v|mah|ah|nm|psi|bar|hz|ghz|mhz|"
    r"l|ml|cl|°c|°f|°|m²|m2|km²|km2|sq\s?ft|s|sec|secs|seconds?|min|mins|minutes?|h|hrs?|hours?|days?|weeks?|"
    r"months?|years?|yrs?|points?|pts|x|bn|m|k|million|billion|thousand|trillion|people|units?|pcs|items?"
)
_NUM_CELL = re.compile(
    r"^\s*(?P<pre>" + _CURRENCY + r")?\s*(?P<sign>[-−+])?\s*(?P<pre2>" + _CURRENCY + r")?\s*"
    r"(?P<num>\d[\d,.\u00a0\u202f ]*\d|\d)\s*(?P<suf>%|"
    + _CURRENCY
    + r"|(?:"
    + _UNITS
    + r")(?:\s*(?:/|per\s)\s*[a-z]{1,4})?)?\.?\s*$",
    re.I,
)


@dataclass(frozen=True)
class Number:
    """A parsed numeric cell: ``value`` plus the text around the digits."""

    value: float
    prefix: str = ""
    suffix: str = ""
    decimals: int = 0


def _digits_to_float(num: str) -> tuple[float, int] | None:
    s = num.replace("\u00a0", " ").replace("\u202f", " ")
    if " " in s:
        if not re.fullmatch(r"\d{1,3}(?: \d{3})+(?:[.,]\d+)?", s):
            return None
        s = s.replace(" ", "")
    if "," in s and "." in s:
        if s.rfind(",") > s.rfind("."):
            s = s.replace(".", "").replace(",", ".")
        else:
            s = s.replace(",", "")
    elif "," in s:
        if re.fullmatch(r"\d{1,3}(?:,\d{3})+", s):
            s = s.replace(",", "")
        elif s.count(",") == 1:
            s = s.replace(",", ".")
        else:
            return None
    elif s.count(".") > 1:
        if re.fullmatch(r"\d{1,3}(?:\.\d{3})+", s):
            s = s.replace(".", "")
        else:
            return None
    try:
        value = float(s)
    except ValueError:
        return None
    decimals = len(s.split(".")[1]) if "." in s else 0
    return value, decimals


def parse_number(cell: str) -> Number | None:
    """Parse a numeric table cell such as ``"1,299.00"``, ``"€1 299"``, ``"12 kg"``.

    Returns:
        A :class:`Number`, or ``None`` when the cell is not a single number with
        an optional currency / unit (dates, ranges, phone numbers, codes).
    """
    if not cell:
        return None
    m = _NUM_CELL.match(cell)
    if not m:
        return None
    parsed = _digits_to_float(m.group("num"))
    if parsed is None:
        return None
    value, decimals = parsed
    if m.group("sign") in ("-", "−"):
        value = -value
    prefix = (m.group("pre") or m.group("pre2") or "").strip()
    suffix = (m.group("suf") or "").strip()
    if suffix.endswith(".") and suffix not in ("Rs.",):
        suffix = suffix.rstrip(".")
    return Number(value, prefix, suffix, decimals)


def _format_value(value: float, decimals: int = 0, prefix: str = "", suffix: str = "") -> str:
    if math.isclose(value, round(value)) and decimals == 0:
        body = f"{int(round(value)):,}"
    else:
        d = max(decimals, 1) if not math.isclose(value, round(value)) else decimals
        body = f"{value:,.{min(max(d, 0), 2)}f}"
    if prefix:
        body = f"{prefix}{body}" if len(prefix) == 1 else f"{prefix} {body}"
    if suffix:
        body = f"{body}{suffix}" if suffix == "%" else f"{body} {suffix}"
    return body


# --------------------------------------------------------------------------- #
# Matching questions to columns and rows
# --------------------------------------------------------------------------- #

_SYNONYMS: dict[str, tuple[str, ...]] = {
    "price": (
        "cost",
        "costs",
        "expensive",
        "cheap",
        "cheapest",
        "cheaper",
        "priciest",
        "pricey",
        "afford",
        "affordable",
        "much",
        "pay",
        "fee",
        "rrp",
    ),
    "cost": ("price", "expensive", "cheap", "cheapest", "much", "pay", "fee"),
    "fee": ("cost", "price", "much", "charge"),
    "weight": ("weigh", "weighs", "heavy", "heavier", "heaviest", "light", "lighter", "lightest", "mass"),
    "mass": ("weigh", "weighs", "heavy", "heavier", "heaviest", "light", "lighter", "lightest"),
    "year": ("when", "founded", "built", "released"),
    "date": ("when",),
    "range": ("far", "distance"),
    "distance": ("far",),
    "height": ("tall", "taller", "tallest", "high"),
    "length": ("long", "longer", "longest"),
    "age": ("old", "older", "oldest", "young", "youngest"),
    "population": ("people", "inhabitants", "populous"),
    "speed": ("fast", "faster", "fastest", "quick", "slow"),
    "opening": ("open", "hours"),
    "phone": ("call", "telephone", "number"),
    "address": ("where", "located", "location"),
}


def _terms(text: str) -> set[str]:
    return {stem(t) for t in tokenize(text) if t not in STOPWORDS and (len(t) > 1 or t.isdigit())}


def _header_terms(header: str) -> set[str]:
    base = re.sub(r"\(.*?\)", " ", header).replace("_", " ")
    terms = _terms(base) or _terms(header)
    extra: set[str] = set()
    for t in tokenize(base):
        for key, syns in _SYNONYMS.items():
            if stem(t) == stem(key):
                extra.update(stem(s) for s in syns)
    return terms | extra


def _header_unit(header: str) -> str:
    m = re.search(r"\(([^)]{1,12})\)", header)
    if not m:
        return ""
    unit = m.group(1).strip()
    return unit if re.fullmatch(r"[A-Za-z€$£¥%/²³ .]+", unit) else ""


def _norm(text: str) -> str:
    return " " + " ".join(tokenize(text)) + " "


@dataclass
class _Parsed:
    index: int
    header: list[str]
    rows: list[list[str]]

    def numeric_columns(self) -> list[int]:
        cols = []
        for j in range(len(self.header)):
            cells = [r[j] for r in self.rows if r[j]]
            if cells and sum(parse_number(c) is not None for c in cells) >= max(1, math.ceil(0.7 * len(cells))):
                cols.append(j)
        return cols

    def label_column(self) -> int:
        numeric = set(self.numeric_columns())
        for j in range(len(self.header)):
            if j not in numeric:
                return j
        return 0


_TOTAL_ROW = re.compile(r"^\s*(?:\**\s*)?(?:total|totals|sum|overall|all|grand total)\b", re.I)
_ID_HEAD = re.compile(
    r"^\s*(?:#|no\.?|nr\.?|id|rank|pos(?:ition)?|year|season|date|code|zip|postcode|phone|tel)\b", re.I
)


def _summable(table: _Parsed, col: int) -> bool:
    """False for numeric columns that identify rows (ids, ranks, years, running numbers)."""
    if _ID_HEAD.search(table.header[col]):
        return False
    nums = [parse_number(r[col]) for r in table.rows if r[col]]
    values = [n.value for n in nums if n is not None]
    if len(values) >= 3 and all(float(v).is_integer() for v in values):
        ordered = sorted(values)
        if ordered == [ordered[0] + k for k in range(len(ordered))]:
            return False
        if all(1800 <= v <= 2100 for v in values):
            return False
    return True


def _merge_split_tables(tables: list[_Parsed]) -> list[_Parsed]:
    """Join parts of one table split across chunks (same header repeated).

    Parts of a split table have the same header and disjoint row labels.
    Tables with the same header whose rows overlap are different versions or
    copies of a table (a 2023 and a 2024 price list): they stay separate, and
    the first one (the higher-ranked chunk) is tried first.
    """
    merged: list[_Parsed] = []
    for t in tables:
        key = tuple(h.lower() for h in t.header)
        labels = {r[0].strip().lower() for r in t.rows if r and r[0].strip()}
        target = next(
            (
                m
                for m in merged
                if tuple(h.lower() for h in m.header) == key
                and not labels & {r[0].strip().lower() for r in m.rows if r}
            ),
            None,
        )
        if target is not None:
            target.rows.extend(list(r) for r in t.rows)
        else:
            merged.append(_Parsed(t.index, list(t.header), [list(r) for r in t.rows]))
    return merged


def _match_rows(table: _Parsed, qnorm: str, columns: list[int]) -> list[tuple[int, int, int]]:
    """Rows whose cell (in ``columns``) is named in the question: (row, col, match length)."""
    hits = []
    for i, row in enumerate(table.rows):
        best = (0, -1)
        for j in columns:
            cell = row[j]
            if not cell or parse_number(cell) is not None:
                continue
            cn = _norm(cell)
            if len(cn.strip()) >= 2 and cn in qnorm:
                best = max(best, (len(cn), j))
        if best[0]:
            hits.append((i, best[1], best[0]))
    if not hits:
        return []
    # Keep only the most specific matches ("Skylark SL" over "Skylark").
    longest = max(h[2] for h in hits)
    return [h for h in hits if h[2] >= longest - 1] if len({h[0] for h in hits}) > 1 else hits


def _base_header_terms(header: str) -> set[str]:
    base = re.sub(r"\(.*?\)", " ", header).replace("_", " ")
    return _terms(base) or _terms(header)


def _column_scores(table: _Parsed, qterms: set[str]) -> list[float]:
    """How strongly the question names each column: header words count 1, synonyms 0.5.

    Among columns named equally, the one with fewer header words wins by a hair.
    """
    scores = []
    for h in table.header:
        base = _base_header_terms(h)
        syn = _header_terms(h) - base
        hit = len(base & qterms) + 0.5 * len(syn & qterms)
        scores.append(hit - 0.01 * len(base) if hit else 0.0)
    return scores


def _table_relevance(table: _Parsed, qterms: set[str], qnorm: str) -> float:
    col = sum(1 for s in _column_scores(table, qterms) if s > 0)
    rows = len(_match_rows(table, qnorm, list(range(len(table.header)))))
    return col + min(rows, 3) * 0.5


def _row_filters(table: _Parsed, qnorm: str, skip_cols: set[int]) -> list[int] | None:
    """Rows selected by cell values named in the question (None: no filter)."""
    selected: set[int] | None = None
    for j in range(len(table.header)):
        if j in skip_cols:
            continue
        values = {r[j] for r in table.rows if r[j] and parse_number(r[j]) is None}
        named = {v for v in values if len(_norm(v).strip()) >= 3 and _norm(v) in qnorm}
        if not named or len(named) == len(values):
            continue
        rows = {i for i, r in enumerate(table.rows) if r[j] in named}
        selected = rows if selected is None else selected & rows
    return sorted(selected) if selected is not None else None


def _clean_header(h: str) -> str:
    """A header for display: units in parentheses dropped, snake_case spaced."""
    return re.sub(r"\s*\(.*?\)\s*", " ", h).replace("_", " ").strip() or h


def _value_text(cell: str, header: str) -> str:
    unit = _header_unit(header)
    num = parse_number(cell)
    if unit and num is not None and not num.prefix and not num.suffix:
        return f"{cell}%" if unit == "%" else f"{cell} {unit}"
    return cell


def _agg_unit(nums: list[Number], header: str) -> tuple[str, str, int]:
    prefixes = {n.prefix for n in nums}
    suffixes = {n.suffix for n in nums}
    prefix = prefixes.pop() if len(prefixes) == 1 else ""
    suffix = suffixes.pop() if len(suffixes) == 1 else ""
    if not prefix and not suffix:
        suffix = _header_unit(header)
    decimals = max((n.decimals for n in nums), default=0)
    return prefix, suffix, decimals


_PRICE_HEAD = re.compile(r"\b(price|cost|fee|rrp|msrp)\b", re.I)
_SUPERLATIVE = re.compile(
    r"\b(most expensive|least expensive|cheapest|priciest|costliest|heaviest|lightest|highest|lowest|largest|"
    r"smallest|biggest|longest|shortest|oldest|youngest|newest|fastest|slowest|tallest|most|least|fewest|"
    r"greatest|maximum|minimum|top)\b",
    re.I,
)


def table_answer(question: str, table_chunks: list[tuple[int, str]]) -> tuple[str, int] | None:
    """Answer a table question from the tables in the context.

    Args:
        question: The user's question.
        table_chunks: ``(context_index, text)`` pairs, ``context_index`` being
            the 1-based position of the chunk in the context (the citation
            number). Chunks without a parsable table are ignored; parts of one
            table split across chunks (same header) are merged.

    Returns:
        ``(answer, context_index)`` where the index is the chunk holding the
        table used (its first part), or ``None`` when no table answers the
        question unambiguously.
    """
    if not question or not table_chunks:
        return None
    parsed: list[_Parsed] = []
    for idx, text in table_chunks:
        for header, rows in parse_markdown_tables(text):
            parsed.append(_Parsed(idx, header, rows))
    if not parsed:
        return None
    for t in parsed:
        # Summary rows ("Total", "All") would be counted twice by aggregations.
        t.rows = [r for r in t.rows if not _TOTAL_ROW.match(r[0] if r else "")]
    parsed = [t for t in parsed if t.rows]
    if not parsed:
        return None
    tables = _merge_split_tables(parsed)
    qterms = _terms(question)
    qnorm = _norm(question)
    ranked = sorted(tables, key=lambda t: -_table_relevance(t, qterms, qnorm))
    for table in ranked[:3]:
        if _table_relevance(table, qterms, qnorm) <= 0:
            break
        result = _answer_from_table(question, table, qterms, qnorm)
        if result is not None:
            return result, table.index
    return None


_UNSUPPORTED = re.compile(
    r"\b(?:each|per|respectively|before|after|prior|next|previous|preceding|following|last|first|second|third|"
    r"consecutive|ago|other than|except|besides|between|above|below|over|under|at least|at most|more than|"
    r"less than|fewer than|greater than|older than|younger than|same|difference|percentage|percent|ratio of|"
    r"start with|starts with|begin|begins|end with|ends with|not|never|only|both|either|neither|rank after|"
    r"rank before|above/below|longest combined|combined)\b",
    re.I,
)
_GENERIC_TERMS = {
    stem(w)
    for w in (
        "many much number numbers amount total sum average mean value values listed list table chart shown row rows "
        "entry entries record records which what there compare comparison versus highest lowest largest smallest "
        "biggest greatest maximum minimum max min most least fewest cheapest expensive priciest costliest heaviest "
        "lightest longest shortest oldest youngest newest fastest slowest tallest top count cost costs price prices "
        "pounds pound euros euro dollars dollar gbp eur usd find tell give show model models item items "
        "answer reply json format list bullet bullets word words sentence briefly short please exactly only"
    ).split()
}


def _noun_after(question: str) -> str | None:
    """The counted noun in "how many X" / "number of X"."""
    m = re.search(
        r"\b(?:how many|number of|count of|count the)\s+(?:the\s+|all\s+)?([a-z][\w-]*)(?:\s+([a-z][\w-]*))?",
        question,
        re.I,
    )
    if not m:
        return None
    first, second = m.group(1).lower(), (m.group(2) or "").lower()
    aux = {
        "are",
        "is",
        "were",
        "was",
        "do",
        "does",
        "did",
        "have",
        "has",
        "had",
        "can",
        "will",
        "of",
        "in",
        "the",
        "that",
        "who",
        "which",
    }
    if second and second not in aux and second.endswith("s") and not first.endswith("s"):
        return second
    return first


def _superlative_columns(table: _Parsed, question: str, numeric: list[int]) -> list[int]:
    """Numeric columns whose synonyms include the question's superlative ("cheapest" -> price)."""
    words = {stem(w) for w in tokenize(question)}
    sup = {
        stem(w)
        for w in (
            "cheapest",
            "priciest",
            "costliest",
            "expensive",
            "heaviest",
            "lightest",
            "longest",
            "shortest",
            "oldest",
            "youngest",
            "fastest",
            "slowest",
            "tallest",
            "affordable",
            "populous",
        )
    }
    hits = words & sup
    if not hits:
        return []
    return [j for j in numeric if (_header_terms(table.header[j]) - _base_header_terms(table.header[j])) & hits]


def _asked_column(table: _Parsed, question: str) -> int | None:
    """The column named right after a leading "what"/"which" ("which year ...")."""
    m = re.match(r"\s*(?:in\s+)?(?:what|which)\s+([a-z][\w-]*)", question, re.I)
    if not m:
        return None
    word = stem(m.group(1))
    cols = [j for j, h in enumerate(table.header) if word in _terms(re.sub(r"\(.*?\)", " ", h))]
    return cols[0] if len(cols) == 1 else None


def _answer_from_table(question: str, table: _Parsed, qterms: set[str], qnorm: str) -> str | None:
    op = table_operation(question)
    unsupported = _UNSUPPORTED.search(question)
    if unsupported and not (op == "compare" and unsupported.group(0).lower() in ("more than", "less than")):
        return None
    numeric = table.numeric_columns()
    label_col = table.label_column()
    col_scores = _column_scores(table, qterms)
    all_cols = list(range(len(table.header)))
    row_hits = _match_rows(table, qnorm, all_cols)
    entity_cols = {c for _, c, _ in row_hits}
    noun = _noun_after(question)
    explained: set[str] = set(_GENERIC_TERMS)
    for h in table.header:
        explained |= _header_terms(h)
    if noun:
        explained.add(stem(noun))

    def use_cells(cells: list[str]) -> None:
        for c in cells:
            explained.update(_terms(c))

    def well_explained() -> bool:
        rest = qterms - explained
        return len(rest) <= 1 and not any(any(ch.isdigit() for ch in t) for t in rest)

    def best_column(candidates: list[int]) -> int | None:
        scored = [(col_scores[j], j) for j in candidates if col_scores[j] > 0 and j not in entity_cols]
        if not scored:
            return None
        scored.sort(reverse=True)
        if len(scored) > 1 and math.isclose(scored[0][0], scored[1][0]):
            return None
        return scored[0][1]

    summable = [j for j in numeric if _summable(table, j)]
    if op == "count":
        target = best_column(numeric)
        if target is not None:
            # "How many students does X have?" is a lookup, or a sum of that column.
            hit_rows = sorted({r for r, _, _ in row_hits})
            if len(hit_rows) == 1:
                row = table.rows[hit_rows[0]]
                use_cells([row[c] for c in entity_cols])
                if not well_explained() or not row[target]:
                    return None
                unit = (
                    noun
                    if noun and stem(noun) not in _header_terms(table.header[target])
                    else _clean_header(table.header[target]).lower()
                )
                return f"{row[label_col]} has {_value_text(row[target], table.header[target])} {unit}."
            if target not in summable:
                return None
            op = "sum"
        else:
            rows = _row_filters(table, qnorm, skip_cols=set(numeric))
            if rows is not None:
                use_cells([table.rows[i][j] for i in rows for j in all_cols])
            if not well_explained():
                return None
            count = len(table.rows) if rows is None else len(rows)
            noun = noun or "rows"
            verb = "is" if count == 1 else "are"
            if rows is None:
                return f"There {verb} {count} {noun}."
            return f"There {verb} {count} {noun} with {_describe_filter(table, rows, qnorm)}."

    if op in ("sum", "average", "max", "min"):
        target = best_column(numeric)
        also: int | None = None
        if op in ("max", "min"):
            # "the weight of the cheapest bike": "cheapest" picks the ranking column
            # (price); a column named by its header (weight) is reported alongside.
            sup_cols = _superlative_columns(table, question, numeric)
            if len(sup_cols) == 1:
                named = [
                    j
                    for j in all_cols
                    if j != sup_cols[0] and j not in entity_cols and _base_header_terms(table.header[j]) & qterms
                ]
                target = sup_cols[0]
                also = named[0] if len(named) == 1 else None
        if target is None and len(numeric) == 1 and op in ("max", "min"):
            target = numeric[0]
        if target is None or (op in ("sum", "average") and target not in summable):
            return None
        report_col = label_col
        if op in ("max", "min"):
            asked = _asked_column(table, question)
            if asked is not None and asked != target:
                report_col = asked
        skip = set(numeric) | ({report_col} if op in ("max", "min") else set())
        rows_idx = _row_filters(table, qnorm, skip_cols=skip)
        if rows_idx is not None:
            use_cells([table.rows[i][j] for i in rows_idx for j in all_cols if j not in numeric])
        if not well_explained():
            return None
        idxs = list(range(len(table.rows))) if rows_idx is None else rows_idx
        vals = [(i, parse_number(table.rows[i][target])) for i in idxs]
        vals = [(i, n) for i, n in vals if n is not None]
        if not vals:
            return None
        col_name = _clean_header(table.header[target]).lower()
        prefix, suffix, decimals = _agg_unit([n for _, n in vals], table.header[target])
        if op in ("sum", "average"):
            scope = ""
            if rows_idx is not None:
                names = [table.rows[i][label_col] for i, _ in vals]
                scope = (
                    f" of {', '.join(names[:-1])} and {names[-1]}" if 1 < len(names) <= 5 else f" over {len(vals)} rows"
                )
            if op == "sum":
                total = sum(n.value for _, n in vals)
                return f"The total {col_name}{scope} is {_format_value(total, decimals, prefix, suffix)}."
            mean = sum(n.value for _, n in vals) / len(vals)
            shown = _format_value(mean, 0 if float(mean).is_integer() else max(decimals, 2), prefix, suffix)
            return f"The average {col_name}{scope or f' over {len(vals)} rows'} is {shown}."
        pick = max if op == "max" else min
        best_val = pick(n.value for _, n in vals)
        winners = [i for i, n in vals if n.value == best_val]
        labels = [table.rows[i][report_col] for i in winners]
        cell = _value_text(table.rows[winners[0]][target], table.header[target])
        label_noun = _clean_header(table.header[report_col]).lower()
        sup = _SUPERLATIVE.search(question)
        generic = (
            "most",
            "least",
            "top",
            "maximum",
            "minimum",
            "fewest",
            "greatest",
            "highest",
            "lowest",
            "largest",
            "smallest",
            "biggest",
        )
        if sup and sup.group(1).lower() not in generic:
            phrase = f"{sup.group(1).lower()} {label_noun}"
        else:
            phrase = f"{label_noun} with the {'highest' if op == 'max' else 'lowest'} {col_name}"
        if len(labels) == 1:
            extra = ""
            if also is not None and also != report_col and table.rows[winners[0]][also]:
                extra = f"; its {_clean_header(table.header[also]).lower()} is {_value_text(table.rows[winners[0]][also], table.header[also])}"
            return f"The {phrase} is {labels[0]} ({cell}){extra}."
        return f"The {phrase} is shared by {', '.join(labels[:-1])} and {labels[-1]} ({cell})."

    # Lookup or comparison of named rows: prefer rows named by their label.
    label_hits = [h for h in row_hits if h[1] == label_col]
    rows = sorted({r for r, _, _ in label_hits})
    if not rows:
        rows = sorted({r for r, _, _ in row_hits})
        if len(rows) != 1:
            return None
    candidates = [j for j in all_cols if j != label_col] or all_cols
    named = [j for j in candidates if j not in entity_cols and _base_header_terms(table.header[j]) & qterms]
    target = None if len(named) >= 2 else best_column(candidates)
    if target is None and len(rows) == 1:
        # "What is the price, weight and frame of X?": report every column named.
        row = table.rows[rows[0]]
        if len(named) >= 2 and all(row[j] for j in named):
            use_cells([row[c] for c in entity_cols])
            if not well_explained():
                return None
            parts = [f"{_clean_header(table.header[j]).lower()} {_value_text(row[j], table.header[j])}" for j in named]
            return f"{row[label_col]}: " + ", ".join(parts) + "."
    if target is None:
        return None
    use_cells([table.rows[i][c] for i in rows for c in entity_cols])
    if not well_explained():
        return None
    col_name = _clean_header(table.header[target]).lower()
    if op == "compare" or len(rows) == 2:
        if len(rows) != 2:
            return None
        a, b = (table.rows[i] for i in rows)
        if not a[target] or not b[target] or a[label_col] == b[label_col]:
            return None
        va, vb = (_value_text(r[target], table.header[target]) for r in (a, b))
        text = f"The {col_name} of {a[label_col]} is {va} and of {b[label_col]} is {vb}."
        na, nb = parse_number(a[target]), parse_number(b[target])
        if na is not None and nb is not None and na.value != nb.value:
            hi = a if na.value > nb.value else b
            text += f" {hi[label_col]} has the higher {col_name}."
        return text
    if len(rows) != 1:
        return None
    row = table.rows[rows[0]]
    value = row[target]
    if not value:
        return None
    label = row[label_col] if label_col not in (target,) else row[min(entity_cols)] if entity_cols else row[0]
    value_text = _value_text(value, table.header[target])
    if _PRICE_HEAD.search(table.header[target]) and re.search(r"\bcosts?\b|\bhow much\b|\bprice\b", question, re.I):
        return f"The {label} costs {value_text}."
    return f"The {col_name} of {label} is {value_text}."


def _describe_filter(table: _Parsed, rows: list[int], qnorm: str) -> str:
    conds = []
    for j, h in enumerate(table.header):
        vals = sorted({table.rows[i][j] for i in rows if table.rows[i][j]})
        if vals and all(_norm(v) in qnorm for v in vals):
            conds.append(f"{_clean_header(h).lower()} {' or '.join(vals)}")
    return " and ".join(conds) if conds else "the named values"
