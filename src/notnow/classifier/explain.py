"""``notnow classify --explain``: which words and phrases pushed a decision, and how far.

For the linear model each feature's contribution is its TF-IDF weight in this message
times the model's coefficient; the largest in each direction are shown.
"""

from __future__ import annotations

from notnow.classifier.features import document
from notnow.classifier.model import Classifier
from notnow.message import Email


def contributions(
    classifier: Classifier, email: Email, top: int = 8
) -> tuple[list[tuple[str, float]], list[tuple[str, float]]]:
    """(features pushing towards "rejection", features pushing away), largest first."""
    pipeline = classifier.pipeline
    features = pipeline.named_steps["features"]
    linear = pipeline.named_steps["model"]
    vector = features.transform([document(email)]).tocsr()
    names = features.get_feature_names_out()
    coefficients = linear.coef_[0]
    sign = 1.0 if list(linear.classes_).index(1) == 1 else -1.0
    scored = [
        (str(names[index]), float(value * coefficients[index] * sign))
        for index, value in zip(vector.indices, vector.data, strict=True)
    ]
    # Word n-grams read better than character n-grams; merge both, words first on ties.
    towards = sorted((s for s in scored if s[1] > 0), key=lambda s: -s[1])[:top]
    away = sorted((s for s in scored if s[1] < 0), key=lambda s: s[1])[:top]
    return towards, away


def explain(classifier: Classifier, email: Email, top: int = 8) -> str:
    verdict = classifier.classify([email])[0]
    towards, away = contributions(classifier, email, top)

    def show(name: str) -> str:
        kind, _, text = name.partition("__")
        return repr(text) + (" (letters)" if kind == "chars" else "")

    lines = [
        f"  label {verdict.label}, score {verdict.score:.3f} (band {verdict.band}), "
        f"language {verdict.lang}",
        "  towards rejection: "
        + (", ".join(f"{show(n)} {w:+.2f}" for n, w in towards) or "nothing"),
        "  away from it:      " + (", ".join(f"{show(n)} {w:+.2f}" for n, w in away) or "nothing"),
    ]
    return "\n".join(lines)
