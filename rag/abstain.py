"""Abstention: is the evidence good enough to answer?

Retrieval scores alone cannot tell a same-topic passage that lacks the answer
from one that has it, so the evidence score reads the reader's signals too:
the best sentence-level support the generator found, the top dense cosine and,
when a trained cross-encoder is configured, its score. Uncalibrated, the score
is the mean of the two cosines against a conservative default threshold;
``rag calibrate`` fits a logistic model on labelled questions of the
collection and a threshold that balances correct refusals and answered
questions, stored with the collection.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np

FEATURES = ("dense_top", "support_top", "overlap_top", "lexical_top", "rerank_top", "dense_margin")


def features(dense_top: float, support_top: float, rerank_top: float | None, dense_margin: float,
             overlap_top: float = 0.0, lexical_top: float = 0.0) -> dict[str, float]:
    """The evidence a question has: retrieval scores and the reader's sentence-level support.

    ``overlap_top`` is the share of the question's content words found in the best
    sentence; ``lexical_top`` the top BM25 score squashed to [0, 1).
    """
    return {
        "dense_top": float(dense_top),
        "support_top": float(support_top),
        "overlap_top": float(overlap_top),
        "lexical_top": float(lexical_top) / (float(lexical_top) + 10.0),
        "rerank_top": float(rerank_top) if rerank_top is not None else 0.0,
        "dense_margin": float(dense_margin),
    }


@dataclass
class Abstainer:
    """Maps evidence features to a score in [0, 1] and compares it with a threshold."""

    weights: dict[str, float] = field(default_factory=lambda: {"dense_top": 0.5, "support_top": 0.5})
    bias: float = 0.0
    threshold: float = 0.35
    logistic: bool = False
    fitted_on: int = 0

    def score(self, feats: dict[str, float]) -> float:
        z = self.bias + sum(w * feats.get(k, 0.0) for k, w in self.weights.items())
        return 1.0 / (1.0 + math.exp(-z)) if self.logistic else z

    def should_abstain(self, feats: dict[str, float]) -> tuple[bool, float]:
        s = self.score(feats)
        return s < self.threshold, s

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict | None) -> Abstainer:
        return cls(**d) if d else cls()

    @classmethod
    def fit(cls, feats: list[dict[str, float]], answerable: list[bool], *, use_rerank: bool = False) -> tuple[Abstainer, dict]:
        """Fit on labelled questions; returns the model and a report of its fit.

        The threshold maximises balanced accuracy (the mean of the share of
        unanswerable questions refused and answerable ones answered).
        """
        y = np.array(answerable, dtype=int)
        if len(set(y.tolist())) < 2:
            raise ValueError("calibration needs both answerable and unanswerable questions")
        names = [f for f in FEATURES if use_rerank or f != "rerank_top"]
        X = np.array([[f[n] for n in names] for f in feats], dtype=float)
        from sklearn.linear_model import LogisticRegression

        lr = LogisticRegression(C=10.0, class_weight="balanced", max_iter=1000).fit(X, y)
        model = cls(weights={n: float(w) for n, w in zip(names, lr.coef_[0])}, bias=float(lr.intercept_[0]),
                    logistic=True, fitted_on=len(y))
        scores = np.array([model.score(f) for f in feats])
        best_t, best_ba = 0.5, -1.0
        for t in np.unique(np.concatenate([scores, [0.5]])):
            refused_neg = np.mean(scores[y == 0] < t)
            answered_pos = np.mean(scores[y == 1] >= t)
            ba = (refused_neg + answered_pos) / 2
            if ba > best_ba + 1e-9:
                best_t, best_ba = float(t), float(ba)
        model.threshold = best_t
        neg, pos = scores[y == 0], scores[y == 1]
        rep = {"n": int(len(y)), "n_answerable": int(y.sum()), "n_unanswerable": int((1 - y).sum()),
               "threshold": best_t, "balanced_accuracy": best_ba,
               "refused_unanswerable": float(np.mean(neg < best_t)), "answered_answerable": float(np.mean(pos >= best_t))}
        return model, rep
