"""Evaluation data: the common question/corpus format, its loaders and converters.

The common format is JSON Lines, one object a line.

* Corpus: ``{"id": str, "title": str, "text": str, "metadata": {...}?}``.
* Questions: ``{"id": str, "question": str, "answers": [str], "gold_doc_ids": [str]}``,
  optionally ``"qrels": {doc_id: grade}``, ``"expected_modes": [mode]`` and
  ``"meta": {...}``; any other key is kept in :attr:`Question.meta`.

  - ``answers`` and ``gold_doc_ids`` both empty: unanswerable from the corpus,
    the right response is an abstention.
  - ``answers`` empty but ``gold_doc_ids`` (or a positive ``qrels`` grade)
    given: retrieval-only question.
  - Cranfield grades run 1 (most relevant) .. 4, -1 = not relevant. BEIR scores
    run the other way (higher = more relevant); questions converted from BEIR
    carry ``meta["qrels_higher_is_better"] = True``.

Every converter reads one public data set and writes ``corpus.jsonl`` and
``questions.jsonl`` into an output folder, returning counts (see
:func:`_write_dataset`).
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import os
import random
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

__all__ = [
    "Question",
    "load_questions",
    "load_corpus",
    "write_jsonl",
    "convert_beir",
    "convert_squad",
    "convert_rgb",
    "convert_halueval_qa",
    "convert_ragas",
]

CORPUS_FILE = "corpus.jsonl"
QUESTIONS_FILE = "questions.jsonl"

_CORE_KEYS = ("id", "question", "answers", "gold_doc_ids", "qrels", "expected_modes", "meta")


@dataclass
class Question:
    """One evaluation question in the common format.

    Attributes:
        id: Unique question id.
        question: The question text.
        answers: Acceptable reference answers (any one is right); empty for
            unanswerable and retrieval-only questions.
        gold_doc_ids: Ids of corpus documents that hold the answer.
        qrels: Optional graded judgments ``{doc_id: grade}``. The scale is the
            source's: Cranfield 1 (best) .. 4, -1 = not relevant; BEIR higher is
            better (then ``meta["qrels_higher_is_better"]`` is True).
        expected_modes: Optional failure modes the question is meant to trigger.
        meta: Everything else (source, original fields, ...).
    """

    id: str
    question: str
    answers: list[str] = field(default_factory=list)
    gold_doc_ids: list[str] = field(default_factory=list)
    qrels: dict[str, int] | None = None
    expected_modes: list[str] | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @property
    def answerable(self) -> bool:
        """False when the right response is an abstention.

        That is when ``answers`` and ``gold_doc_ids`` are both empty and no
        ``qrels`` grade is positive. (A grade > 0 means relevant on both the
        Cranfield and the BEIR scale; three Cranfield queries have only
        grade-4 judgments and empty ``gold_doc_ids``.)
        """
        if self.answers or self.gold_doc_ids:
            return True
        return any(grade > 0 for grade in (self.qrels or {}).values())

    @property
    def retrieval_only(self) -> bool:
        """True when there are relevant documents but no reference answers."""
        return not self.answers and self.answerable

    def to_dict(self) -> dict[str, Any]:
        """Return the JSON-ready row; optional keys only when set."""
        row: dict[str, Any] = {
            "id": self.id,
            "question": self.question,
            "answers": list(self.answers),
            "gold_doc_ids": list(self.gold_doc_ids),
        }
        if self.qrels is not None:
            row["qrels"] = dict(self.qrels)
        if self.expected_modes is not None:
            row["expected_modes"] = list(self.expected_modes)
        if self.meta:
            row["meta"] = dict(self.meta)
        return row


# --------------------------------------------------------------------------- #
# Reading and writing the common format
# --------------------------------------------------------------------------- #


def _iter_json_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    """Yield ``(line_number, object)`` for each non-blank line of a JSONL file.

    Raises:
        ValueError: A line is not valid JSON or not a JSON object.
    """
    with path.open(encoding="utf-8-sig") as fh:
        for lineno, line in enumerate(fh, start=1):
            if not line.strip():
                continue
            try:
                obj = json.loads(line)
            except json.JSONDecodeError as exc:
                raise ValueError(f"{path}:{lineno}: invalid JSON: {exc.msg}") from None
            if not isinstance(obj, dict):
                raise ValueError(f"{path}:{lineno}: expected a JSON object, got {type(obj).__name__}")
            yield lineno, obj


def _str_list(value: Any, key: str, where: str) -> list[str]:
    """Check that ``value`` is a list of strings and return it as one."""
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ValueError(f"{where}: {key!r} must be a list of strings")
    return list(value)


def _parse_question(obj: dict[str, Any], where: str) -> Question:
    """Validate one questions.jsonl object and build a :class:`Question`."""
    for key in ("id", "question", "answers", "gold_doc_ids"):
        if key not in obj:
            raise ValueError(f"{where}: missing required key {key!r}")
    qid = obj["id"]
    if isinstance(qid, bool) or not isinstance(qid, (str, int)) or qid == "":
        raise ValueError(f"{where}: 'id' must be a non-empty string")
    if not isinstance(obj["question"], str) or not obj["question"].strip():
        raise ValueError(f"{where}: 'question' must be a non-empty string")
    answers = _str_list(obj["answers"], "answers", where)
    gold = _str_list(obj["gold_doc_ids"], "gold_doc_ids", where)

    qrels = obj.get("qrels")
    if qrels is not None:
        if not isinstance(qrels, dict):
            raise ValueError(f"{where}: 'qrels' must be an object {{doc_id: grade}}")
        for doc_id, grade in qrels.items():
            if isinstance(grade, bool) or not isinstance(grade, int):
                raise ValueError(f"{where}: qrels grade for {doc_id!r} must be an integer, got {grade!r}")
        qrels = {str(k): int(v) for k, v in qrels.items()}

    modes = obj.get("expected_modes")
    if modes is not None:
        modes = _str_list(modes, "expected_modes", where)

    meta = obj.get("meta", {})
    if not isinstance(meta, dict):
        raise ValueError(f"{where}: 'meta' must be an object")
    meta = dict(meta)
    meta.update({k: v for k, v in obj.items() if k not in _CORE_KEYS})
    return Question(
        id=str(qid),
        question=obj["question"],
        answers=answers,
        gold_doc_ids=gold,
        qrels=qrels,
        expected_modes=modes,
        meta=meta,
    )


def load_questions(path: str | os.PathLike[str]) -> list[Question]:
    """Load a questions.jsonl file in the common format.

    Keys other than the known ones are kept in :attr:`Question.meta` (merged
    with an explicit ``"meta"`` object if present). Blank lines are skipped.

    Args:
        path: The JSONL file.

    Returns:
        The questions in file order.

    Raises:
        ValueError: A line is malformed or repeats an id; the message names the
            file and the line.
    """
    path = Path(path)
    questions: list[Question] = []
    seen: dict[str, int] = {}
    for lineno, obj in _iter_json_lines(path):
        where = f"{path}:{lineno}"
        question = _parse_question(obj, where)
        if question.id in seen:
            raise ValueError(f"{where}: duplicate question id {question.id!r} (first on line {seen[question.id]})")
        seen[question.id] = lineno
        questions.append(question)
    return questions


def load_corpus(path: str | os.PathLike[str]) -> Iterator[dict[str, Any]]:
    """Stream a corpus.jsonl file in the common format.

    Args:
        path: The JSONL file.

    Yields:
        ``{"id": str, "title": str, "text": str, "metadata": dict}`` per document
        (``title`` defaults to ``""`` and ``metadata`` to ``{}``).

    Raises:
        ValueError: While iterating, on a malformed line (names file and line).
    """
    path = Path(path)
    for lineno, obj in _iter_json_lines(path):
        where = f"{path}:{lineno}"
        doc_id = obj.get("id")
        if isinstance(doc_id, bool) or not isinstance(doc_id, (str, int)) or doc_id == "":
            raise ValueError(f"{where}: 'id' must be a non-empty string")
        text = obj.get("text")
        if not isinstance(text, str):
            raise ValueError(f"{where}: 'text' must be a string")
        title = obj.get("title") or ""
        if not isinstance(title, str):
            raise ValueError(f"{where}: 'title' must be a string")
        metadata = obj.get("metadata") or {}
        if not isinstance(metadata, dict):
            raise ValueError(f"{where}: 'metadata' must be an object")
        yield {"id": str(doc_id), "title": title, "text": text, "metadata": metadata}


def write_jsonl(path: str | os.PathLike[str], rows: Iterable[Mapping[str, Any] | Question]) -> int:
    """Write rows as JSON Lines (UTF-8, non-ASCII kept), replacing the file atomically.

    Args:
        path: Destination file; parent folders are created.
        rows: Mappings or :class:`Question` objects.

    Returns:
        The number of rows written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    count = 0
    with tmp.open("w", encoding="utf-8") as fh:
        for row in rows:
            obj = row.to_dict() if isinstance(row, Question) else dict(row)
            fh.write(json.dumps(obj, ensure_ascii=False) + "\n")
            count += 1
    os.replace(tmp, path)
    return count


# --------------------------------------------------------------------------- #
# Converter helpers
# --------------------------------------------------------------------------- #


def _doc(doc_id: str, text: str, title: str = "", metadata: dict[str, Any] | None = None) -> dict[str, Any]:
    """Build one corpus row."""
    row: dict[str, Any] = {"id": doc_id, "title": title, "text": text}
    if metadata:
        row["metadata"] = metadata
    return row


def _text_id(prefix: str, text: str) -> str:
    """A stable content-derived id: ``prefix-<12 hex of sha1(text)>``."""
    return f"{prefix}-{hashlib.sha1(text.encode('utf-8')).hexdigest()[:12]}"


def _dedupe(items: Iterable[str]) -> list[str]:
    """Drop repeats, keeping first occurrences in order."""
    return list(dict.fromkeys(items))


def _read_records(path: Path) -> list[dict[str, Any]]:
    """Read a JSON array (or ``{"data"|"samples": [...]}``) or a JSONL file of objects.

    Raises:
        ValueError: The content is neither, or an entry is not an object.
    """
    text = path.read_text(encoding="utf-8-sig")
    try:
        data = json.loads(text)
    except json.JSONDecodeError:
        return [obj for _, obj in _iter_json_lines(path)]
    if isinstance(data, dict):
        for key in ("data", "samples", "examples"):
            if isinstance(data.get(key), list):
                data = data[key]
                break
        else:
            data = [data]  # a one-line JSONL file
    if not isinstance(data, list):
        raise ValueError(f"{path}: expected a JSON list of objects or JSON Lines")
    for i, obj in enumerate(data):
        if not isinstance(obj, dict):
            raise ValueError(f"{path}: entry {i} is not a JSON object")
    return data


def _write_dataset(
    out_dir: str | os.PathLike[str],
    docs: Iterable[dict[str, Any]],
    questions: Iterable[Question],
    **extra: int,
) -> dict[str, int]:
    """Write ``corpus.jsonl`` and ``questions.jsonl`` and return counts.

    Documents repeated with the same id and text are written once; the same
    id with a different text is an error.

    Returns:
        ``{"documents", "questions", "answerable", "retrieval_only",
        "unanswerable", **extra}``; ``answerable`` counts
        :attr:`Question.answerable` (retrieval-only questions included).

    Raises:
        ValueError: Conflicting documents or duplicate question ids.
    """
    unique: dict[str, dict[str, Any]] = {}
    for doc in docs:
        prev = unique.get(doc["id"])
        if prev is None:
            unique[doc["id"]] = doc
        elif prev["text"] != doc["text"]:
            raise ValueError(f"two different documents share the id {doc['id']!r}")
    qs = list(questions)
    ids = [q.id for q in qs]
    if len(set(ids)) != len(ids):
        dup = next(i for i in ids if ids.count(i) > 1)
        raise ValueError(f"duplicate question id {dup!r}")
    out = Path(out_dir)
    counts = {
        "documents": write_jsonl(out / CORPUS_FILE, unique.values()),
        "questions": write_jsonl(out / QUESTIONS_FILE, qs),
        "answerable": sum(q.answerable for q in qs),
        "retrieval_only": sum(q.retrieval_only for q in qs),
        "unanswerable": sum(not q.answerable for q in qs),
    }
    counts.update(extra)
    return counts


# --------------------------------------------------------------------------- #
# BEIR
# --------------------------------------------------------------------------- #


def _read_beir_qrels(path: Path) -> dict[str, dict[str, int]]:
    """Read a BEIR qrels TSV (``query-id  corpus-id  score``, header optional)."""
    qrels: dict[str, dict[str, int]] = {}
    with path.open(encoding="utf-8-sig", newline="") as fh:
        for lineno, row in enumerate(csv.reader(fh, delimiter="\t"), start=1):
            if not row or not "".join(row).strip():
                continue
            if lineno == 1 and row[0].strip().lower() in ("query-id", "query_id", "qid"):
                continue
            if len(row) < 3:
                raise ValueError(f"{path}:{lineno}: expected 'query-id<TAB>corpus-id<TAB>score'")
            qid, doc_id, score = row[0].strip(), row[1].strip(), row[2].strip()
            try:
                grade = int(float(score))
            except ValueError:
                raise ValueError(f"{path}:{lineno}: score {score!r} is not a number") from None
            qrels.setdefault(qid, {})[doc_id] = grade
    return qrels


def convert_beir(
    folder: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    split: str = "test",
) -> dict[str, int]:
    """Convert a BEIR data set folder into the common format.

    Reads ``corpus.jsonl`` (``_id, title, text[, metadata]``), ``queries.jsonl``
    (``_id, text``) and ``qrels/{split}.tsv``. Only queries judged in that split
    are kept. Scores are stored unchanged as ``qrels`` (BEIR: higher = more
    relevant, so ``meta["qrels_higher_is_better"] = True``); ``gold_doc_ids``
    are the docs with score > 0, best first. Queries with no positive
    judgment are skipped (they are not "unanswerable", just unjudged).

    Args:
        folder: The BEIR data set folder.
        out_dir: Where to write ``corpus.jsonl`` and ``questions.jsonl``.
        split: The qrels split file name without ``.tsv``.

    Returns:
        Counts (see :func:`_write_dataset`) plus ``skipped_no_relevant`` and
        ``gold_missing_from_corpus`` (gold ids with no corpus document).
    """
    folder = Path(folder)
    qrels = _read_beir_qrels(folder / "qrels" / f"{split}.tsv")

    docs: list[dict[str, Any]] = []
    for lineno, obj in _iter_json_lines(folder / "corpus.jsonl"):
        if "_id" not in obj or not isinstance(obj.get("text"), str):
            raise ValueError(f"{folder / 'corpus.jsonl'}:{lineno}: expected '_id' and 'text'")
        meta = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else None
        docs.append(_doc(str(obj["_id"]), obj["text"], obj.get("title") or "", meta))
    doc_ids = {d["id"] for d in docs}

    questions: list[Question] = []
    skipped = missing = 0
    for lineno, obj in _iter_json_lines(folder / "queries.jsonl"):
        if "_id" not in obj or not isinstance(obj.get("text"), str):
            raise ValueError(f"{folder / 'queries.jsonl'}:{lineno}: expected '_id' and 'text'")
        qid = str(obj["_id"])
        if qid not in qrels:
            continue
        judged = qrels[qid]
        positives = sorted((d for d, s in judged.items() if s > 0), key=lambda d: -judged[d])
        if not positives:
            skipped += 1
            continue
        missing += sum(d not in doc_ids for d in positives)
        questions.append(
            Question(
                id=qid,
                question=obj["text"],
                answers=[],
                gold_doc_ids=positives,
                qrels=dict(judged),
                meta={"source": "beir", "split": split, "qrels_higher_is_better": True},
            )
        )
    return _write_dataset(
        out_dir, docs, questions, skipped_no_relevant=skipped, gold_missing_from_corpus=missing
    )


# --------------------------------------------------------------------------- #
# SQuAD v1/v2 (and CMRC 2018)
# --------------------------------------------------------------------------- #


def convert_squad(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    id_prefix: str = "squad",
) -> dict[str, int]:
    """Convert a SQuAD v1.1/v2.0 JSON file (also CMRC 2018) into the common format.

    Each context paragraph becomes a document whose id is the paragraph's own
    ``id`` when it has one (CMRC: ``DEV_0``), else ``f"{id_prefix}-{a}-{p}"``
    (article and paragraph position in the file, so stable for a given file).
    Each qa becomes a question with the deduplicated answer texts and its
    paragraph as gold document. A v2 ``is_impossible`` question (or one
    without answers) becomes unanswerable; its ``plausible_answers`` are kept
    in meta. Note that "unanswerable" is judged against its own paragraph.

    Args:
        path: The SQuAD-format JSON file.
        out_dir: Where to write ``corpus.jsonl`` and ``questions.jsonl``.
        id_prefix: Prefix for generated document ids.

    Returns:
        Counts (see :func:`_write_dataset`).

    Raises:
        ValueError: The file lacks ``data[].paragraphs[].qas[]``.
    """
    path = Path(path)
    data = json.loads(path.read_text(encoding="utf-8-sig"))
    if not isinstance(data, dict) or not isinstance(data.get("data"), list):
        raise ValueError(f"{path}: not a SQuAD file (no 'data' list)")
    version = str(data.get("version", ""))
    docs: list[dict[str, Any]] = []
    questions: list[Question] = []
    for a, article in enumerate(data["data"]):
        title = article.get("title") or ""
        for p, para in enumerate(article.get("paragraphs", [])):
            if not isinstance(para.get("context"), str) or not isinstance(para.get("qas"), list):
                raise ValueError(f"{path}: data[{a}].paragraphs[{p}] lacks 'context' or 'qas'")
            doc_id = str(para["id"]) if para.get("id") else f"{id_prefix}-{a}-{p}"
            docs.append(_doc(doc_id, para["context"], title))
            for qa in para["qas"]:
                answers = _dedupe(x["text"] for x in qa.get("answers", []) if x.get("text"))
                meta: dict[str, Any] = {"source": "squad", "version": version, "title": title}
                if qa.get("is_impossible") or not answers:
                    plausible = _dedupe(x["text"] for x in qa.get("plausible_answers", []) if x.get("text"))
                    if plausible:
                        meta["plausible_answers"] = plausible
                    meta["context_doc_id"] = doc_id
                    answers, gold = [], []
                else:
                    gold = [doc_id]
                questions.append(
                    Question(id=str(qa["id"]), question=qa["question"], answers=answers, gold_doc_ids=gold, meta=meta)
                )
    return _write_dataset(out_dir, docs, questions)


# --------------------------------------------------------------------------- #
# RGB
# --------------------------------------------------------------------------- #


def _rgb_answer_parts(answer: Any) -> list[list[str]]:
    """RGB answers as required parts, each a list of alternatives.

    RGB's own checker reads the top-level list as parts that must *all* be
    present, a nested list as alternatives for one part; a plain string is one
    part with one alternative.
    """
    if isinstance(answer, str):
        return [[answer]]
    if not isinstance(answer, list):
        raise ValueError(f"unexpected RGB answer {answer!r}")
    parts: list[list[str]] = []
    for item in answer:
        alts = [item] if isinstance(item, str) else [str(x) for x in item]
        alts = _dedupe(a for a in alts if a.strip())
        if alts:
            parts.append(alts)
    return parts


def _flatten_passages(passages: Any) -> list[str]:
    """RGB passage lists can be nested (``*_int``: one list per answer part)."""
    out: list[str] = []
    for item in passages or []:
        if isinstance(item, list):
            out.extend(_flatten_passages(item))
        elif isinstance(item, str) and item.strip():
            out.append(item)
    return out


def _round_half_up(x: float) -> int:
    """Round to the nearest integer, halves up (0.5 -> 1, 2.5 -> 3)."""
    return int(math.floor(x + 0.5))


def _rgb_split(noise_rate: float, n: int, n_pos_avail: int, n_neg_avail: int) -> tuple[int, int]:
    """How many positives and negatives to give one RGB question.

    ``noise_rate == 1``: only negatives. Otherwise ``round(noise_rate*n)``
    negatives (at most ``n - 1``) and the rest positives; when one side runs
    short the other fills in, as RGB's own script does.
    """
    if noise_rate >= 1.0:
        return 0, min(n, n_neg_avail)
    n_neg = min(_round_half_up(noise_rate * n), n - 1)
    n_pos = n - n_neg
    if n_pos > n_pos_avail:
        n_pos = n_pos_avail
        n_neg = n - n_pos
    if n_neg > n_neg_avail:
        n_neg = n_neg_avail
        n_pos = min(n - n_neg, n_pos_avail)
    return n_pos, n_neg


def convert_rgb(
    path: str | os.PathLike[str],
    out_dir: str | os.PathLike[str],
    noise_rate: float,
    passages_per_question: int = 5,
    seed: int = 0,
    start: int = 0,
    stop: int | None = None,
) -> dict[str, int]:
    """Convert an RGB benchmark JSONL file into the common format.

    ``start``/``stop`` keep only records ``start .. stop-1`` (in file order), so
    disjoint question sets can be made for calibration and evaluation.

    Every question gets its own passages as documents, ids
    ``f"rgb-{id}-pos-{i}"`` / ``f"rgb-{id}-neg-{i}"`` (``i`` = index in the
    question's original ``positive`` / ``negative`` list, nested lists
    flattened). Which passages are taken is a seeded random sample per
    question (same seed, same corpus).

    * ``noise_rate == 1.0``: only negatives, so the question is unanswerable:
      ``answers=[]``, ``gold_doc_ids=[]`` (negative rejection).
    * ``noise_rate < 1.0``: ``round(noise_rate * n)`` negatives (halves up, at
      most ``n - 1``) and the rest positives; answerable with the positives as
      gold. A question that ends up with no positive is unanswerable.

    ``meta["original_answers"]`` keeps RGB's raw ``answer`` always. When RGB
    requires several answer parts (``zh_int``, some ``zh_refine``),
    ``answers`` lists every alternative of every part and
    ``meta["answer_parts"]`` keeps the parts, all of which are required (use
    :func:`eval.metrics.contains_answer_parts`).

    Args:
        path: RGB JSONL file (``id, query, answer, positive[], negative[]``).
        out_dir: Where to write ``corpus.jsonl`` and ``questions.jsonl``.
        noise_rate: Share of negative passages, 0.0 .. 1.0.
        passages_per_question: Passages per question (``n``).
        seed: Seed for passage sampling.

    Returns:
        Counts (see :func:`_write_dataset`).

    Raises:
        ValueError: Bad ``noise_rate`` / ``passages_per_question`` or record.
    """
    if isinstance(noise_rate, bool) or not isinstance(noise_rate, (int, float)) or not 0.0 <= noise_rate <= 1.0:
        raise ValueError(f"noise_rate must be a number in [0, 1], got {noise_rate!r}")
    if passages_per_question < 1:
        raise ValueError("passages_per_question must be >= 1")
    if start < 0 or (stop is not None and stop <= start):
        raise ValueError(f"bad record range {start}:{stop}")
    path = Path(path)
    docs: list[dict[str, Any]] = []
    questions: list[Question] = []
    for k, (lineno, rec) in enumerate(_iter_json_lines(path)):
        if k < start or (stop is not None and k >= stop):
            continue
        if "id" not in rec or not isinstance(rec.get("query"), str) or "answer" not in rec:
            raise ValueError(f"{path}:{lineno}: expected 'id', 'query' and 'answer'")
        rid = rec["id"]
        positives = _flatten_passages(rec.get("positive"))
        negatives = _flatten_passages(rec.get("negative"))
        n_pos, n_neg = _rgb_split(float(noise_rate), passages_per_question, len(positives), len(negatives))
        rng = random.Random(f"rgb:{seed}:{rid}")
        pos_idx = sorted(rng.sample(range(len(positives)), n_pos))
        neg_idx = sorted(rng.sample(range(len(negatives)), n_neg))
        pos_ids = [f"rgb-{rid}-pos-{i}" for i in pos_idx]
        for i, doc_id in zip(pos_idx, pos_ids):
            docs.append(_doc(doc_id, positives[i], metadata={"source": "rgb", "question_id": f"rgb-{rid}"}))
        for i in neg_idx:
            docs.append(
                _doc(f"rgb-{rid}-neg-{i}", negatives[i], metadata={"source": "rgb", "question_id": f"rgb-{rid}"})
            )

        parts = _rgb_answer_parts(rec["answer"])
        meta: dict[str, Any] = {
            "source": "rgb",
            "original_answers": rec["answer"],
            "noise_rate": float(noise_rate),
            "n_positive": n_pos,
            "n_negative": n_neg,
        }
        if n_pos == 0:
            answers, gold = [], []
        else:
            answers, gold = _dedupe(a for part in parts for a in part), pos_ids
            if len(parts) > 1:
                meta["answer_parts"] = parts
        questions.append(
            Question(id=f"rgb-{rid}", question=rec["query"], answers=answers, gold_doc_ids=gold, meta=meta)
        )
    return _write_dataset(out_dir, docs, questions)


# --------------------------------------------------------------------------- #
# HaluEval QA
# --------------------------------------------------------------------------- #


def convert_halueval_qa(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Convert HaluEval ``qa_data.json`` (JSON Lines) into the common format.

    Record ``i`` (``knowledge, question, right_answer, hallucinated_answer``)
    becomes document ``halueval-{i}`` (the knowledge) and question
    ``halueval-q{i}`` answerable with ``right_answer``; the hallucinated
    answer is kept in ``meta["hallucinated_answer"]``. A JSON array file works
    too.

    Args:
        path: The HaluEval QA file.
        out_dir: Where to write ``corpus.jsonl`` and ``questions.jsonl``.

    Returns:
        Counts (see :func:`_write_dataset`).

    Raises:
        ValueError: A record lacks one of the four fields.
    """
    path = Path(path)
    docs: list[dict[str, Any]] = []
    questions: list[Question] = []
    for i, rec in enumerate(_read_records(path)):
        for key in ("knowledge", "question", "right_answer"):
            if not isinstance(rec.get(key), str):
                raise ValueError(f"{path}: record {i} lacks string field {key!r}")
        doc_id = f"halueval-{i}"
        docs.append(_doc(doc_id, rec["knowledge"], metadata={"source": "halueval"}))
        questions.append(
            Question(
                id=f"halueval-q{i}",
                question=rec["question"],
                answers=[rec["right_answer"]] if rec["right_answer"].strip() else [],
                gold_doc_ids=[doc_id],
                meta={"source": "halueval", "hallucinated_answer": rec.get("hallucinated_answer")},
            )
        )
    return _write_dataset(out_dir, docs, questions)


# --------------------------------------------------------------------------- #
# ragas-style test sets
# --------------------------------------------------------------------------- #


def _first_present(rec: Mapping[str, Any], keys: tuple[str, ...]) -> tuple[str | None, Any]:
    """Return ``(key, value)`` of the first key present with a non-null value."""
    for key in keys:
        if rec.get(key) is not None:
            return key, rec[key]
    return None, None


def convert_ragas(path: str | os.PathLike[str], out_dir: str | os.PathLike[str]) -> dict[str, int]:
    """Convert a ragas-style test set (JSON list or JSONL) into the common format.

    Field names of both ragas generations are read: question from
    ``user_input`` or ``question``; reference from ``reference``,
    ``ground_truth`` or ``ground_truths`` (list); contexts from
    ``reference_contexts``, ``retrieved_contexts`` and ``contexts``. Every
    context becomes a document with a content-derived id
    (``ragas-<sha1[:12]>``), so a context shared by samples is one document.
    Gold documents are the ``reference_contexts`` when given, else the
    retrieved ones (recorded in ``meta["gold_from"]``). A sample with neither
    reference nor contexts is unanswerable; one with contexts but no
    reference is retrieval-only.

    Args:
        path: The test set file.
        out_dir: Where to write ``corpus.jsonl`` and ``questions.jsonl``.

    Returns:
        Counts (see :func:`_write_dataset`).

    Raises:
        ValueError: A sample has no question or malformed contexts.
    """
    path = Path(path)
    docs: list[dict[str, Any]] = []
    questions: list[Question] = []
    for i, rec in enumerate(_read_records(path)):
        _, question = _first_present(rec, ("user_input", "question"))
        if not isinstance(question, str) or not question.strip():
            raise ValueError(f"{path}: sample {i} has no 'user_input'/'question'")
        _, reference = _first_present(rec, ("reference", "ground_truth", "ground_truths"))
        refs = [reference] if isinstance(reference, str) else list(reference or [])
        answers = _dedupe(r for r in refs if isinstance(r, str) and r.strip())

        gold_from: str | None = None
        gold: list[str] = []
        for key in ("reference_contexts", "retrieved_contexts", "contexts"):
            contexts = rec.get(key)
            if contexts is None:
                continue
            if not isinstance(contexts, list) or not all(isinstance(c, str) for c in contexts):
                raise ValueError(f"{path}: sample {i}: {key!r} must be a list of strings")
            ids = []
            for text in contexts:
                if text.strip():
                    doc_id = _text_id("ragas", text)
                    docs.append(_doc(doc_id, text, metadata={"source": "ragas"}))
                    ids.append(doc_id)
            if gold_from is None and ids:
                gold_from, gold = key, _dedupe(ids)

        meta: dict[str, Any] = {"source": "ragas"}
        if gold_from:
            meta["gold_from"] = gold_from
        for key in ("response", "answer", "synthesizer_name"):
            if rec.get(key) is not None:
                meta[key] = rec[key]
        qid = rec.get("id")
        questions.append(
            Question(
                id=str(qid) if qid not in (None, "") else f"ragas-{i}",
                question=question,
                answers=answers,
                gold_doc_ids=gold,
                meta=meta,
            )
        )
    return _write_dataset(out_dir, docs, questions)
