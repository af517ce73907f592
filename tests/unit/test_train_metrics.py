"""The figures `notnow train` and the half-split experiment report."""

from __future__ import annotations

import math

import pytest

from notnow.classifier.train import Metrics, verdict


def metrics(*scored: tuple[str, float]) -> Metrics:
    result = Metrics()
    for number, (label, score) in enumerate(scored):
        result.add(label, score, 0.6, f"message {number}")
    return result


def test_counts_at_the_draft_threshold_and_log_loss() -> None:
    m = metrics(("rejection", 0.9), ("rejection", 0.5), ("other", 0.6), ("other", 0.1))
    assert (m.true_positive, m.false_negative, m.false_positive, m.true_negative) == (1, 1, 1, 1)
    assert m.errors == 2 and m.count == 4
    assert m.precision == 0.5 and m.recall == 0.5
    expected = -(math.log(0.9) + math.log(0.5) + math.log(0.4) + math.log(0.9)) / 4
    assert m.log_loss == pytest.approx(expected)


def test_a_certain_mistake_has_a_finite_loss() -> None:
    assert math.isfinite(metrics(("rejection", 0.0)).log_loss)


def test_merge_adds_counts_and_losses() -> None:
    total = metrics(("rejection", 0.9))
    total.merge(metrics(("other", 0.8), ("other", 0.2)))
    assert (total.count, total.errors) == (3, 1)
    assert total.log_loss == pytest.approx(-(math.log(0.9) + math.log(0.2) + math.log(0.8)) / 3)
    assert len(total.worst) == 3


def test_verdict_says_better_only_when_it_is() -> None:
    bundled = metrics(("rejection", 0.5), ("rejection", 0.9), ("other", 0.7), ("other", 0.1))
    better = metrics(("rejection", 0.7), ("rejection", 0.9), ("other", 0.7), ("other", 0.1))
    worse = metrics(("rejection", 0.5), ("rejection", 0.5), ("other", 0.7), ("other", 0.1))
    assert "new model is better" in verdict(better, bundled)
    assert "errors 2 -> 1 of 4" in verdict(better, bundled)
    assert "new model is worse" in verdict(worse, bundled)
    assert "about as good" in verdict(bundled, bundled)
