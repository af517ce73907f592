"""Scoring without scikit-learn gives the pipeline's probabilities, and its file is
trusted only for the model bytes it was made from."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from notnow.classifier import dataset, model, scoring
from notnow.classifier.features import document
from notnow.errors import ModelError
from notnow.message import parse


@pytest.fixture(scope="module")
def small() -> model.Classifier:
    return model.train(dataset.bundled()[4::30])


@pytest.fixture(scope="module")
def documents() -> list[str]:
    sample = [document(parse(e.raw)) for e in dataset.bundled()[::41]]
    return [*sample, "", "   ", "a", "ñ ß İ", "x" * 300 + " " + "y" * 300]


def test_probabilities_equal_the_pipelines(small: model.Classifier, documents: list[str]) -> None:
    scorer = scoring.Scorer.of(small.pipeline)
    assert scorer is not None
    expected = small.pipeline.predict_proba(documents)
    assert np.allclose(scorer.probabilities(documents), expected, rtol=0, atol=1e-12)
    assert np.allclose(scorer.probabilities(documents[:1]), expected[:1], rtol=0, atol=1e-12)


def test_a_two_class_model_scores_as_its_pipeline(documents: list[str]) -> None:
    """Without everyday mail in training, "other" is one class: the logistic function,
    not the softmax."""
    examples = [
        e for e in dataset.bundled()[2::20] if e.label == "rejection" or dataset.job_related(e)
    ]
    two = model.train(examples)
    assert len(two.pipeline.classes_) == 2
    scorer = scoring.Scorer.of(two.pipeline)
    assert scorer is not None
    expected = two.pipeline.predict_proba(documents)
    assert np.allclose(scorer.probabilities(documents), expected, rtol=0, atol=1e-12)


def test_the_scoring_file_holds_the_same_numbers(
    small: model.Classifier, documents: list[str], tmp_path: Path
) -> None:
    scorer = scoring.Scorer.of(small.pipeline)
    assert scorer is not None
    scorer.save(tmp_path / "s.npz", {"note": "x"})
    found = scoring.Scorer.load(tmp_path / "s.npz")
    assert found is not None
    again, header = found
    assert header["note"] == "x"
    assert np.array_equal(again.probabilities(documents), scorer.probabilities(documents))


def test_a_damaged_or_foreign_scoring_file_is_not_used(tmp_path: Path) -> None:
    (tmp_path / "junk.npz").write_bytes(b"PK\x03\x04 not really")
    assert scoring.Scorer.load(tmp_path / "junk.npz") is None
    assert scoring.Scorer.load(tmp_path / "missing.npz") is None
    np.savez(tmp_path / "other.npz", coef=np.zeros(3))
    assert scoring.Scorer.load(tmp_path / "other.npz") is None


def test_load_reads_the_scoring_file_and_the_pipeline_only_when_asked(
    small: model.Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    model.save(small, path)
    assert (tmp_path / "model.scoring.npz").is_file()
    loaded = model.load(path)
    assert loaded._pipeline is None  # scored from the scoring file alone
    assert loaded.pipeline.named_steps["model"].coef_.shape == (3, 2 * 2**model.HASH_BITS)


def test_a_scoring_file_of_other_model_bytes_is_replaced(
    small: model.Classifier, tmp_path: Path, documents: list[str]
) -> None:
    first, second = tmp_path / "a.skops", tmp_path / "b.skops"
    model.save(small, first)
    other = model.train(dataset.bundled()[6::30])
    model.save(other, second)
    # a's scoring file beside b's model: tied to a's bytes, so not trusted for b's
    (tmp_path / "a.scoring.npz").replace(tmp_path / "b.scoring.npz")
    loaded = model.load(second)
    assert loaded._pipeline is not None  # read from the model file
    expected = other.pipeline.predict_proba(documents)
    assert np.allclose(loaded.probabilities(documents), expected, rtol=0, atol=1e-12)
    assert model.load(second)._pipeline is None  # and the scoring file rewritten for it


def test_a_model_file_changed_after_loading_is_not_mixed_with_the_old_numbers(
    small: model.Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    model.save(small, path)
    loaded = model.load(path)
    model.save(model.train(dataset.bundled()[8::30]), path)
    with pytest.raises(ModelError, match="changed while notnow was using it"):
        _ = loaded.pipeline


def test_scoring_a_saved_model_never_imports_scikit_learn(
    small: model.Classifier, tmp_path: Path
) -> None:
    path = tmp_path / "model.skops"
    model.save(small, path)
    code = (
        "import sys\n"
        "from pathlib import Path\n"
        "from notnow.classifier import model\n"
        "from notnow.message import parse\n"
        f"classifier = model.load(Path({str(path)!r}))\n"
        "email = parse(b'From: a@b.example\\r\\nSubject: Your application\\r\\n\\r\\n"
        "We decided to move forward with other candidates.\\r\\n')\n"
        "print(classifier.classify([email])[0].score)\n"
        "assert not [m for m in sys.modules if m.startswith(('sklearn', 'skops'))], 'imported'\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, done.stderr
    assert 0.0 <= float(done.stdout) <= 1.0


def test_a_scoring_file_with_odd_contents_is_not_used(
    small: model.Classifier, tmp_path: Path
) -> None:
    scorer = scoring.Scorer.of(small.pipeline)
    assert scorer is not None
    scorer.save(tmp_path / "s.npz", {})
    with np.load(tmp_path / "s.npz") as data:
        arrays = {name: data[name] for name in data.files}
    odd = [
        {"header": np.array("[1, 2]")},  # not an object
        {"families": np.array('[{"hashing": {"analyzer": "word"}}]')},  # settings missing
        {"families": np.array("[]")},  # no family
        {"coef": arrays["coef"][:, :10]},  # does not fit the families
        {"idf0": arrays["idf0"][:10]},
    ]
    for change in odd:
        np.savez(tmp_path / "odd.npz", **{**arrays, **change})
        assert scoring.Scorer.load(tmp_path / "odd.npz") is None, change


def test_the_coefficients_are_held_once(small: model.Classifier, tmp_path: Path) -> None:
    scorer = scoring.Scorer.of(small.pipeline)
    assert scorer is not None
    scorer.save(tmp_path / "s.npz", {})
    found = scoring.Scorer.load(tmp_path / "s.npz")
    assert found is not None
    again = found[0]
    assert np.shares_memory(again.coef, again._weights)
    assert again._weights.flags["C_CONTIGUOUS"]
    assert np.array_equal(again.coef, small.pipeline.named_steps["model"].coef_)


def test_a_pipeline_with_another_tfidf_norm_scores_itself(small: model.Classifier) -> None:
    import copy

    other = copy.deepcopy(small.pipeline)
    assert scoring.Scorer.of(other) is not None
    other.set_params(features__words__tfidf__norm="l1")
    assert scoring.Scorer.of(other) is None
