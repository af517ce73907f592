"""``notnow classify --explain``: which words and phrases pushed a decision, and how far.

The model is linear, so each n-gram's push is its TF-IDF weight in this message times
its coefficient. Features are hashed, so the n-grams are recovered by running each
vectorizer's own analyzer over the message and hashing every n-gram the same way
scikit-learn does (signed MurmurHash3, seed 0, modulo the table size).
"""

from __future__ import annotations

from typing import Any

from notnow.classifier.features import document
from notnow.classifier.model import Classifier
from notnow.message import Email


def contributions(
    classifier: Classifier, email: Email, top: int = 8
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(n-grams pushing towards "rejection", n-grams pushing away), strongest first."""
    text = document(email)
    coefficients, _, _ = _comparison(classifier, classifier.probabilities([text])[0])
    return _pushes(classifier, text, coefficients, top)


def _pushes(
    classifier: Classifier, text: str, coefficients: Any, top: int
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    from sklearn.utils import murmurhash3_32

    pipeline = classifier.pipeline
    pushes: dict[str, float] = {}
    offset = 0
    for name, step in pipeline.named_steps["features"].transformer_list:
        hasher: Any = step.named_steps["hash"]
        size = hasher.n_features
        vector = step.transform([text]).tocsr()
        weights = dict(zip(vector.indices.tolist(), vector.data.tolist(), strict=True))
        for gram in set(hasher.build_analyzer()(text)):
            index = abs(murmurhash3_32(gram, seed=0)) % size
            # Character n-grams of three letters say little to a reader.
            if index in weights and (name == "words" or len(gram.strip()) >= 4):
                label = gram if name == "words" else f"…{gram.strip()}…"
                push = weights[index] * coefficients[offset + index]
                # Character n-grams inside a word repeat the word's story; keep the largest.
                if abs(push) > abs(pushes.get(label, 0.0)):
                    pushes[label] = float(push)
        offset += size
    towards = sorted(((g, p) for g, p in pushes.items() if p > 0), key=lambda i: -i[1])
    away = sorted(((g, p) for g, p in pushes.items() if p < 0), key=lambda i: i[1])
    return towards[:top], away[:top]


# What the rejection class is weighed against, by class number (model._target).
_RIVALS = {0: "everyday mail", 2: "other job mail"}


def _comparison(classifier: Classifier, probabilities: Any) -> tuple[Any, float, str]:
    """(per feature, how far one unit of it moves the log-odds of "rejection"; those
    log-odds before any feature; what they are the odds against). With three classes
    (rejection, job mail, everyday mail), against the other class this message most
    resembles (``probabilities``, its row of class probabilities): that is the
    comparison the decision turns on."""
    linear = classifier.pipeline.named_steps["model"]
    classes = list(linear.classes_)
    rejection = classifier.rejection_column
    if len(linear.coef_) == 1:  # binary: one row, for classes_[1]
        sign = 1.0 if rejection == 1 else -1.0
        return linear.coef_[0] * sign, float(linear.intercept_[0]) * sign, "other mail"
    rival = max((i for i in range(len(classes)) if i != rejection), key=lambda i: probabilities[i])
    return (
        linear.coef_[rejection] - linear.coef_[rival],
        float(linear.intercept_[rejection] - linear.intercept_[rival]),
        _RIVALS.get(classes[rival], "other mail"),
    )


def explain(classifier: Classifier, email: Email, top: int = 8) -> str:
    text = document(email)
    probabilities = classifier.probabilities([text])[0]  # scored once, for both uses
    verdict = classifier.verdict(float(probabilities[classifier.rejection_column]), email.lang)
    coefficients, before, against = _comparison(classifier, probabilities)
    towards, away = _pushes(classifier, text, coefficients, top)

    def show(items: list[tuple[str, float]]) -> str:
        return ", ".join(f"{gram!r} {push:+.2f}" for gram, push in items) or "nothing"

    return "\n".join(
        [
            f"  label {verdict.label}, score {verdict.score:.3f} (band {verdict.band}), "
            f"language {verdict.lang}",
            f"  weighed against:   {against}; before any word {before:+.2f}",
            f"  towards rejection: {show(towards)}",
            f"  away from it:      {show(away)}",
        ]
    )
