"""The compact identifier answers exactly as py3langid does over the six languages."""

from __future__ import annotations

from pathlib import Path

import pytest
from py3langid.langid import MODEL_FILE
from py3langid.langid import LanguageIdentifier as Full

from notnow import language
from notnow.classifier import dataset
from notnow.message import parse
from notnow.text import detect_language


@pytest.fixture(scope="module")
def py3langid() -> Full:
    full = Full.from_model_file(MODEL_FILE, norm_probs=True)
    full.set_languages(list(language.LANGUAGES))
    return full


def _corpus_samples() -> list[str]:
    """Every 13th corpus message's subject and new text, all six languages among them."""
    samples = []
    for example in dataset.bundled()[::13]:
        email = parse(example.raw)
        samples.append((email.subject + "\n" + email.new_text)[:600])
    return samples


HAND_WRITTEN = [
    "Thank you for your interest; we have decided to move forward with another candidate.",
    "Leider müssen wir Ihnen mitteilen, dass wir uns für eine andere Bewerberin entschieden haben.",
    "Nous avons le regret de vous informer que votre candidature n'a pas été retenue.",
    "Lamentamos informarle que hemos seleccionado a otro candidato para el puesto.",
    "Helaas moeten wir je laten weten dat we voor een andere kandidaat hebben gekozen.",
    "Infelizmente, decidimos seguir com outro candidato para esta vaga.",
    "ÜBERPRÜFUNG ABGESCHLOSSEN",  # all capitals: lower-cased first, as py3langid does
    "😀 naïve café – ½",  # non-ASCII bytes and rare states
    "",
]


def test_same_language_and_probability_as_py3langid(py3langid: Full) -> None:
    compact = language.identifier()
    samples = HAND_WRITTEN + _corpus_samples()
    seen = set()
    for sample in samples:
        expected, expected_probability = py3langid.classify(sample)
        detected, probability = compact.classify(sample)
        if sample:
            assert detected == expected, sample
        assert probability == pytest.approx(expected_probability, abs=1e-5), sample
        seen.add(detected)
    assert seen == set(language.LANGUAGES)


def test_the_identifier_is_built_once() -> None:
    detect_language("Bonjour, merci pour votre candidature.")
    assert language.identifier() is language.identifier()


def test_transitions_are_held_in_sixteen_bits() -> None:
    compact = language.identifier()
    assert compact._moves.itemsize == 2
    assert len(compact._wide_at) < len(compact._moves) // 100


def test_the_tables_are_cached_and_a_bad_cache_is_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("NOTNOW_CACHE_DIR", str(tmp_path))
    built = language.load()  # builds, then writes the cache
    (cached,) = tmp_path.glob("language-*.npz")
    loaded = language.load()
    for sample in HAND_WRITTEN:
        assert loaded.classify(sample) == built.classify(sample)
    cached.write_bytes(b"not a numpy file")
    assert language.load().classify(HAND_WRITTEN[1]) == built.classify(HAND_WRITTEN[1])
    assert cached.stat().st_size > 1_000_000  # rebuilt


def test_tables_that_do_not_fit_together_are_rebuilt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import numpy as np

    monkeypatch.setenv("NOTNOW_CACHE_DIR", str(tmp_path))
    built = language.load()
    (cached,) = tmp_path.glob("language-*.npz")
    with np.load(cached) as data:
        tables = {name: data[name] for name in data.files}
    tables["moves"] = tables["moves"][:1000]  # cut short: states would read past its end
    np.savez(cached, **tables)
    assert language.load().classify(HAND_WRITTEN[2]) == built.classify(HAND_WRITTEN[2])
    with np.load(cached) as data:
        assert len(data["moves"]) > 1000  # rebuilt


def test_many_texts_walked_together_get_the_same_answers_as_one_by_one() -> None:
    compact = language.identifier()
    samples = HAND_WRITTEN + _corpus_samples() + ["", "a", "Ab", "x" * 700]
    assert len(samples) >= language._BATCH_WALK
    assert compact.classify_many(samples) == [compact.classify(s) for s in samples]
    assert compact.classify_many(samples[:3]) == [compact.classify(s) for s in samples[:3]]
    assert compact.classify_many([]) == []


def test_languages_of_many_messages_are_each_ones() -> None:
    from notnow.message import identify_languages

    emails = [parse(example.raw) for example in dataset.bundled()[::29]]
    expected = [detect_language(e.subject + "\n" + e.text) for e in emails]
    fresh = [parse(example.raw) for example in dataset.bundled()[::29]]
    identify_languages(fresh)
    assert [e.lang for e in fresh] == [e.lang for e in emails]
    assert len(set(expected)) > 1
