"""The model's features, and the trust rules of its files."""

from __future__ import annotations

import json
import zipfile
from pathlib import Path

import numpy as np
import pytest

from notnow.classifier import dataset, model
from notnow.classifier.features import document
from notnow.errors import ModelError
from notnow.message import parse


@pytest.fixture(scope="module")
def small() -> model.Classifier:
    return model.train(dataset.bundled()[5::30])


def test_word_features_are_unigrams_and_bigrams_only() -> None:
    words = model.build_pipeline().named_steps["features"].transformer_list[0][1]
    analyse = words.named_steps["hash"].build_analyzer()
    grams = analyse("we will not be moving forward")
    assert "not" in grams and "not be" in grams
    assert "will not be" not in grams  # trigrams memorised writers (docs/quality.md)


def test_a_saved_model_scores_as_before_and_records_the_format(
    small: model.Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    model.save(small, path)
    loaded = model.load(path)
    assert loaded.metadata["format"] == model.FORMAT_VERSION
    documents = [document(parse(e.raw)) for e in dataset.bundled()[::97]]
    assert np.allclose(loaded.probabilities(documents), small.probabilities(documents), atol=1e-12)
    assert (loaded.draft_threshold, loaded.review_threshold) == (
        small.draft_threshold,
        small.review_threshold,
    )


def test_a_model_of_another_format_is_refused_with_what_to_do(
    small: model.Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "old.skops"
    older = model.Classifier(small.pipeline, {**small.metadata, "format": 4})
    model.save(older, path)
    with pytest.raises(ModelError, match="retrain it with `notnow train`"):
        model.load(path)


def test_the_bundled_cache_key_names_the_format() -> None:
    assert f"-v{model.FORMAT_VERSION}-" in model.bundled_path().name


def test_a_file_that_is_no_model_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "junk.skops"
    with zipfile.ZipFile(path, "w") as archive:
        archive.writestr("schema.json", json.dumps({"not": "a model"}))
    with pytest.raises(ModelError, match="cannot be read|contains types"):
        model.load(path)


def test_other_mail_is_job_mail_or_everyday_mail() -> None:
    def example(label: str, category: str, origin: str = "corpus/other/x.txt#1") -> bool:
        return dataset.job_related(dataset.Example(b"", label, category, "en", origin))

    assert example("rejection", "ats-workday")
    assert example("other", "user")  # a user's labelled mail comes from job-mail folders
    assert example("other", "application-received")
    assert example("other", "interview-invite")
    assert example("other", "forwarded-rejection")
    assert not example("other", "list-thread")
    assert not example("other", "loan-rejection")
    assert not example("other", "bounce")
    # a category used for both kinds goes by its corpus file
    assert example("other", "personal", "corpus/other/en-near-personal.txt#4")
    assert not example("other", "personal", "corpus/other/en-everyday-personal.txt#4")
    kinds = {dataset.job_related(e) for e in dataset.bundled() if e.label == "other"}
    assert kinds == {True, False}


def test_three_classes_and_rejection_is_the_score(small: model.Classifier) -> None:
    linear = small.pipeline.named_steps["model"]
    assert list(linear.classes_) == [0, 1, 2]  # everyday, rejection, job mail
    documents = [document(parse(e.raw)) for e in dataset.bundled()[::97]]
    expected = small.pipeline.predict_proba(documents)[:, 1]
    emails = [parse(e.raw) for e in dataset.bundled()[::97]]
    assert np.allclose(small.scores(emails), expected, atol=1e-9)


def test_explain_weighs_rejection_against_the_closest_other_kind(small: model.Classifier) -> None:
    from notnow.classifier.explain import contributions, explain

    confirmation = parse(
        b"From: Jobs <jobs@acme.example>\r\nSubject: Thank you for applying\r\n\r\n"
        b"We have received your application for the position of Analyst and will review "
        b"it carefully. If your profile matches, we will be in touch.\r\n"
    )
    assert "weighed against:   other job mail; before any word" in explain(small, confirmation)
    towards, away = contributions(small, confirmation)
    assert away and all(push < 0 for _, push in away)
    assert all(push > 0 for _, push in towards)
    assert small.scores([confirmation])[0] < 0.5


@pytest.mark.parametrize("weighted", [False, True])
def test_training_equals_fitting_the_pipeline_the_plain_way(weighted: bool) -> None:
    """``model.train`` counts n-grams with ``wordwise`` and solves only over the columns
    the training mail has; the model is the one scikit-learn's own fit gives."""
    examples = dataset.bundled()[7::40]
    weights = [1.0 + (i % 3) for i in range(len(examples))] if weighted else None
    trained = model.train(examples, weights)
    plain = model.build_pipeline()
    plain.fit(
        [document(parse(e.raw)) for e in examples],
        [model._target(e) for e in examples],
        **({"model__sample_weight": weights} if weighted else {}),
    )
    linear, expected = trained.pipeline.named_steps["model"], plain.named_steps["model"]
    assert list(linear.classes_) == list(expected.classes_)
    assert linear.coef_.shape == expected.coef_.shape
    assert np.allclose(linear.coef_, expected.coef_, rtol=0, atol=1e-6)
    assert np.allclose(linear.intercept_, expected.intercept_, rtol=0, atol=1e-6)
    documents = [document(parse(e.raw)) for e in dataset.bundled()[::101]]
    assert np.allclose(
        trained.probabilities(documents), plain.predict_proba(documents), rtol=0, atol=1e-8
    )
