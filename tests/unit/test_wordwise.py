"""The n-gram counts of ``wordwise`` are scikit-learn's, exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from notnow.classifier import dataset, model
from notnow.classifier.features import document
from notnow.classifier.wordwise import Hashing, WordNgramCounts, WordwiseCharCounts, counter_for
from notnow.message import parse


@pytest.fixture(scope="module")
def documents() -> list[str]:
    sample = dataset.bundled()[::8]  # every 8th: every language, HTML, threads
    return [document(parse(example.raw)) for example in sample] + ["", "   ", "a", "ñ ß İ"]


@pytest.fixture(scope="module")
def small() -> model.Classifier:
    return model.train(dataset.bundled()[3::25])


def _hasher(family: str) -> Any:
    union = model.build_pipeline().named_steps["features"]
    return dict(union.transformer_list)[family].named_steps["hash"]


def _settings(hasher: Any) -> Hashing:
    settings = Hashing.of(hasher)
    assert settings is not None
    return settings


def _assert_same_counts(got: Any, expected: Any) -> None:
    """Equal matrices; the character counts leave each row's columns unsorted."""
    got = got.copy()
    got.sort_indices()
    assert got.shape == expected.shape
    assert np.array_equal(got.indptr, expected.indptr)
    assert np.array_equal(got.indices, expected.indices)
    assert np.array_equal(got.data, expected.data)


def test_character_counts_equal_scikit_learns_across_batches_and_a_full_cache(
    documents: list[str],
) -> None:
    hasher = _hasher("chars")
    assert isinstance(counter_for(hasher), WordwiseCharCounts)
    for max_words in (1 << 15, 300):  # 300: the cache is dropped and refilled many times
        counter = WordwiseCharCounts(_settings(hasher), max_words=max_words)
        for start in range(0, len(documents), 64):
            batch = documents[start : start + 64]
            _assert_same_counts(counter.transform(batch), hasher.transform(batch))


def test_word_counts_equal_scikit_learns(documents: list[str]) -> None:
    hasher = _hasher("words")
    assert isinstance(counter_for(hasher), WordNgramCounts)
    counter = WordNgramCounts(_settings(hasher))
    for start in range(0, len(documents), 64):
        batch = documents[start : start + 64]
        _assert_same_counts(counter.transform(batch), hasher.transform(batch))


@pytest.mark.parametrize("ngrams", [(1, 1), (1, 3)])
def test_word_counts_for_other_ngram_lengths(documents: list[str], ngrams: tuple[int, int]) -> None:
    hasher = _hasher("words").set_params(ngram_range=ngrams)
    counter = WordNgramCounts(_settings(hasher))
    _assert_same_counts(counter.transform(documents), hasher.transform(documents))


def test_settings_this_does_not_reproduce_keep_scikit_learns_way() -> None:
    assert counter_for(_hasher("words").set_params(stop_words=["the"])) is None
    assert counter_for(_hasher("words").set_params(ngram_range=(2, 2))) is None
    assert counter_for(_hasher("chars").set_params(norm="l2")) is None
    assert counter_for(_hasher("chars").set_params(alternate_sign=True)) is None  # binary
    assert counter_for(_hasher("chars").set_params(analyzer="char")) is None
    assert counter_for(_hasher("chars").set_params(strip_accents="unicode")) is None
    assert counter_for(_hasher("words").set_params(token_pattern=r"(a)(b)")) is None


def test_probabilities_are_the_pipelines(small: model.Classifier, documents: list[str]) -> None:
    expected = small.pipeline.predict_proba(documents)
    assert np.allclose(small.probabilities(documents), expected, rtol=0, atol=1e-12)
    assert np.allclose(small.probabilities(documents), expected, rtol=0, atol=1e-12)  # warm
    assert small.scorer is not None, "scored without the pipeline"


def test_a_pipeline_of_another_shape_is_used_as_it_is(small: model.Classifier) -> None:
    from sklearn.pipeline import Pipeline

    other = model.Classifier(Pipeline([("only", small.pipeline)]))
    assert np.allclose(
        other.probabilities(["we went with another candidate"]),
        small.pipeline.predict_proba(["we went with another candidate"]),
    )
    assert other.scorer is None


@pytest.mark.parametrize("setting", [{"binary": False}, {"binary": False, "alternate_sign": True}])
@pytest.mark.parametrize("family", ["words", "chars"])
def test_counts_with_other_settings(
    documents: list[str], family: str, setting: dict[str, bool]
) -> None:
    hasher = _hasher(family).set_params(**setting)
    counter = counter_for(hasher)
    assert counter is not None
    got, expected = counter.transform(documents), hasher.transform(documents)
    assert abs(got - expected).max() == 0
