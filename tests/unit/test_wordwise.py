"""The word-by-word character n-gram counts are scikit-learn's, exactly."""

from __future__ import annotations

import numpy as np
import pytest

from notnow.classifier import dataset, model
from notnow.classifier.features import document
from notnow.classifier.wordwise import WordwiseCharCounts
from notnow.message import parse


@pytest.fixture(scope="module")
def documents() -> list[str]:
    sample = dataset.bundled()[::8]  # every 8th: every language, HTML, threads
    return [document(parse(example.raw)) for example in sample] + ["", "   ", "a", "ñ ß İ"]


@pytest.fixture(scope="module")
def small() -> model.Classifier:
    return model.train(dataset.bundled()[3::25])


def test_counts_equal_scikit_learns_across_batches_and_a_full_cache(
    documents: list[str],
) -> None:
    hasher = model.build_pipeline().named_steps["features"].transformer_list[1][1]
    hasher = hasher.named_steps["hash"]
    assert WordwiseCharCounts.supports(hasher)
    for max_words in (1 << 15, 300):  # 300: the cache is dropped and refilled many times
        counter = WordwiseCharCounts(hasher, max_words=max_words)
        for start in range(0, len(documents), 64):
            batch = documents[start : start + 64]
            expected, got = hasher.transform(batch), counter.transform(batch)
            assert got.shape == expected.shape
            assert np.array_equal(got.indptr, expected.indptr)
            assert np.array_equal(got.indices, expected.indices)
            assert np.array_equal(got.data, expected.data)


def test_probabilities_are_the_pipelines(small: model.Classifier, documents: list[str]) -> None:
    expected = small.pipeline.predict_proba(documents)
    assert np.allclose(small.probabilities(documents), expected, rtol=0, atol=1e-12)
    assert np.allclose(small.probabilities(documents), expected, rtol=0, atol=1e-12)  # warm
    assert small._wordwise, "the character n-grams went the word-by-word way"


def test_a_pipeline_of_another_shape_is_used_as_it_is(small: model.Classifier) -> None:
    from sklearn.pipeline import Pipeline

    other = model.Classifier(Pipeline([("only", small.pipeline)]))
    assert np.allclose(
        other.probabilities(["we went with another candidate"]),
        small.pipeline.predict_proba(["we went with another candidate"]),
    )
    assert not other._wordwise
