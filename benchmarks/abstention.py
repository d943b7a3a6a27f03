"""Abstention on PubMedQA with a share of the abstracts withheld from the index.

Every question's gold document is its own abstract. A random 20% of the
abstracts are left out of the collection, so their questions become
unanswerable. ``rag calibrate`` is fitted on half of the questions (both
kinds), and the other half measures: the share of withheld questions that
abstained, and the share of present questions that were answered. As a
baseline, the same calibration with the top dense score alone (the usual
"similarity threshold" a user would set).

    python benchmarks/abstention.py [--withhold 0.2] [--seed 0]
"""

from __future__ import annotations

import argparse
import random
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from benchmarks._common import DATASETS, console, print_table, write_json  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--withhold", type=float, default=0.2)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--dataset", default="pubmedqa")
    args = ap.parse_args()

    from connectors import JsonlConnector
    from rag.abstain import Abstainer
    from rag.labels import LabelledQuestion, load_labelled
    from rag.service import RAGService, ServiceConfig

    folder = DATASETS / "converted" / args.dataset
    from rag.types import Document

    docs = [d for d in JsonlConnector(folder / "corpus.jsonl").load() if isinstance(d, Document)]
    rng = random.Random(args.seed)
    withheld = set(rng.sample([d.id for d in docs], int(len(docs) * args.withhold)))
    qs = load_labelled(folder / "questions.jsonl")
    labelled = [LabelledQuestion(q.id, q.question, [] if set(q.gold_doc_ids) <= withheld else q.answers,
                                 [] if set(q.gold_doc_ids) <= withheld else q.gold_doc_ids) for q in qs]
    rng.shuffle(labelled)
    fit_qs, test_qs = labelled[: len(labelled) // 2], labelled[len(labelled) // 2:]
    with tempfile.TemporaryDirectory() as tmp:
        svc = RAGService(ServiceConfig(data_dir=Path(tmp)))
        svc.ingest("abst", [d for d in docs if d.id not in withheld])
        rep = svc.calibrate("abst", fit_qs, tune_fusion=False)
        pipe = svc.pipeline("abst")
        traces = pipe.run_many([q.question for q in test_qs])
        feats = [tr.query_flags["evidence_features"] for tr in traces]
        rows = []

        def measure(name: str, abstained: list[bool]) -> None:
            neg = [a for a, q in zip(abstained, test_qs) if not q.answerable]
            pos = [a for a, q in zip(abstained, test_qs) if q.answerable]
            rows.append({"system": name, "withheld_abstained": sum(neg) / len(neg),
                         "present_answered": 1 - sum(pos) / len(pos), "n_withheld": len(neg), "n_present": len(pos)})

        measure("ours (reader support + dense, calibrated)", [tr.answer.abstained for tr in traces])
        # baseline: a single similarity threshold on the top dense score, fitted on the same half
        fit_traces = pipe.run_many([q.question for q in fit_qs])
        only_dense = [{"dense_top": tr.query_flags["evidence_features"]["dense_top"]} for tr in fit_traces]
        from rag.abstain import FEATURES

        base, _ = Abstainer.fit([{**{n: 0.0 for n in FEATURES}, **f} for f in only_dense],
                                [q.answerable for q in fit_qs])
        base.weights = {"dense_top": base.weights["dense_top"]}
        measure("baseline: top dense-score threshold", [base.should_abstain(f)[0] for f in feats])
    print_table(f"abstention on {args.dataset}, {args.withhold:.0%} of documents withheld", rows,
                ["system", "withheld_abstained", "present_answered", "n_withheld", "n_present"])
    console.print(f"calibration: {rep['abstention']}")
    write_json("abstention.json", {"command": "python benchmarks/abstention.py " + " ".join(sys.argv[1:]),
                                   "rows": rows, "calibration": rep["abstention"]})


if __name__ == "__main__":
    main()
