"""The corpus hold-outs: grouped folds keep each corpus file on one side."""

from __future__ import annotations

import math
from collections import Counter

import pytest

from notnow.classifier import dataset, evaluate


@pytest.fixture(scope="module")
def corpus() -> list[dataset.Example]:
    return dataset.bundled()


def test_corpus_file_drops_the_message_number() -> None:
    example = dataset.Example(b"", "other", "x", "en", "corpus/other/en-ack-short.txt#12")
    assert evaluate.corpus_file(example) == "corpus/other/en-ack-short.txt"


def test_grouped_folds_never_split_a_file(corpus: list[dataset.Example]) -> None:
    folds = evaluate.grouped_folds(corpus, folds=5, seed=0)
    assert len(folds) == 5
    tested = Counter(i for _, test in folds for i in test)
    assert sorted(tested) == list(range(len(corpus)))  # every message tested ...
    assert set(tested.values()) == {1}  # ... exactly once
    for train, test in folds:
        assert not set(train) & set(test)
        assert len(train) + len(test) == len(corpus)
        train_files = {evaluate.corpus_file(corpus[i]) for i in train}
        test_files = {evaluate.corpus_file(corpus[i]) for i in test}
        assert not train_files & test_files
        # Both labels in every fold's test side, and English and another language.
        assert {corpus[i].label for i in test} == set(dataset.LABELS)
        assert {corpus[i].lang == "en" for i in test} == {True, False}


def test_grouped_folds_depend_on_the_seed(corpus: list[dataset.Example]) -> None:
    first = evaluate.grouped_folds(corpus, folds=5, seed=0)
    assert first == evaluate.grouped_folds(corpus, folds=5, seed=0)
    assert first != evaluate.grouped_folds(corpus, folds=5, seed=1)


def test_log_loss_is_the_mean_negative_log_of_the_true_labels_probability() -> None:
    result = evaluate.SetResult("x", [("a", "rejection", 0.8), ("b", "other", 0.1)])
    assert result.log_loss() == pytest.approx(-(math.log(0.8) + math.log(0.9)) / 2)
    assert math.isnan(evaluate.SetResult("empty").log_loss())
    sure_and_wrong = evaluate.SetResult("y", [("c", "rejection", 0.0)])
    assert sure_and_wrong.log_loss() == pytest.approx(-math.log(1e-15))


def test_holdout_by_file_scores_every_message_once(corpus: list[dataset.Example]) -> None:
    # Every 10th message: all six languages, both labels, many files; two quick folds.
    sample = corpus[::10]
    text = evaluate.corpus_holdout(by_file=True, folds=2, examples=sample)
    lines = {line.split(",")[1].split()[0]: line for line in text.splitlines() if "n=" in line}
    assert {"en", "de", "fr", "es", "nl", "pt", "non-English", "all"} <= set(lines)
    assert f"n={len(sample):5d}" in lines["all"]
    assert "log_loss=" in lines["all"]
    english = sum(1 for example in sample if example.lang == "en")
    assert f"n={english:5d}" in lines["en"]
    assert f"n={len(sample) - english:5d}" in lines["non-English"]
