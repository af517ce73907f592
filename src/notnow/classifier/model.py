"""The classifier: build, train, score, save and load. No mailbox or network I/O.

The bundled model is a reproducible function of the bundled corpus and the scikit-learn
version: it is trained on first use and cached (skops format, never pickle) under the
user's cache directory, keyed by both. A cached or user-trained file whose versions do
not match is not trusted: it is rebuilt (bundled) or reported (user model) — never a crash.

Beside each model file it reads, ``load`` keeps the numbers scoring needs in a scoring
file (``scoring``: numpy arrays, no pickle) tied to the model file's SHA-256. A process
that only scores (the daemon, ``classify``) then never imports scikit-learn or skops:
95 MB less resident memory and 2-3 s less start-up.
"""

from __future__ import annotations

import hashlib
import io
import json
import logging
import os
import zipfile
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from notnow import text as textprep
from notnow.classifier import dataset, wordwise
from notnow.classifier.features import document
from notnow.config import cache_dir, xdg_dir
from notnow.errors import ModelError
from notnow.files import write_atomically
from notnow.memory import release_freed_memory
from notnow.message import Email, identify_languages

if TYPE_CHECKING:
    from notnow.classifier.scoring import Scorer

logger = logging.getLogger(__name__)

# Bumped whenever what a model reads changes (features, text preparation, parsing): a
# model made for another version is rebuilt (bundled) or reported (user model).
FORMAT_VERSION = 7
DEFAULT_DRAFT_THRESHOLD = 0.60
DEFAULT_REVIEW_THRESHOLD = 0.35

# Types a notnow model file may contain; anything else in a file is refused.
_TRUSTED_PREFIXES = ("sklearn.", "numpy.", "scipy.", "builtins.", "collections.")


@dataclass(frozen=True)
class Verdict:
    score: float
    label: str  # "rejection" | "other"
    lang: str
    band: str  # "draft" | "review" | "ignore"


class Classifier:
    """A fitted model and its thresholds. It scores with ``scoring.Scorer`` (no
    scikit-learn) when the model is one ``build_pipeline`` makes, else with the
    pipeline itself. A classifier ``load`` read from its scoring file alone reads the
    scikit-learn pipeline (for ``--explain``) only when asked for it."""

    def __init__(
        self,
        pipeline: Any = None,
        metadata: dict[str, Any] | None = None,
        draft_threshold: float = DEFAULT_DRAFT_THRESHOLD,
        review_threshold: float = DEFAULT_REVIEW_THRESHOLD,
        *,
        scorer: Scorer | None = None,
        source: tuple[Path, str] | None = None,
    ) -> None:
        self._pipeline = pipeline
        self.metadata = metadata if metadata is not None else {}
        self.draft_threshold = draft_threshold
        self.review_threshold = review_threshold
        self._scorer = scorer
        self._scorer_known = scorer is not None
        # (model file, its SHA-256): where the pipeline is, when it has not been read.
        self._source = source

    @property
    def pipeline(self) -> Any:
        if self._pipeline is None:
            if self._source is None:
                raise ModelError("this classifier has no pipeline")
            path, digest = self._source
            data = _read(path)
            if hashlib.sha256(data).hexdigest() != digest:
                raise ModelError(f"model file {path} changed while notnow was using it: run again")
            self._pipeline = _unpack(path, data)[0]
        return self._pipeline

    @property
    def scorer(self) -> Scorer | None:
        """The pipeline's numbers, without scikit-learn; None for a pipeline of a shape
        ``build_pipeline`` does not make (it then scores itself)."""
        if not self._scorer_known:
            from notnow.classifier.scoring import Scorer

            self._scorer = Scorer.of(self.pipeline)
            self._scorer_known = True
        return self._scorer

    def scores(self, emails: Sequence[Email]) -> list[float]:
        if not emails:
            return []
        probabilities = self.probabilities([document(email) for email in emails])
        column = self.rejection_column
        return [float(row[column]) for row in probabilities]

    @property
    def rejection_column(self) -> int:
        """Where rejections are in a row of ``probabilities`` (and in ``classes_``)."""
        classes = self.scorer.classes if self.scorer else self.pipeline.classes_
        return list(classes).index(_REJECTION)

    def probabilities(self, documents: Sequence[str]) -> Any:
        """``pipeline.predict_proba(documents)``: the same numbers (to 1e-12), computed by
        ``scoring`` where it can, several times faster."""
        if self.scorer is None:
            return self.pipeline.predict_proba(documents)
        return self.scorer.probabilities(documents)

    def classify(self, emails: Sequence[Email], languages: bool = True) -> list[Verdict]:
        """Verdicts in one batch; ``languages=False`` leaves ``lang`` empty for callers
        that only need it for the few messages they act on (``Email.lang`` has it)."""
        if languages:
            identify_languages(emails)
        return [
            self.verdict(score, email.lang if languages else "")
            for email, score in zip(emails, self.scores(emails), strict=True)
        ]

    def verdict(self, score: float, lang: str) -> Verdict:
        if score >= self.draft_threshold:
            band = "draft"
        elif score >= self.review_threshold:
            band = "review"
        else:
            band = "ignore"
        label = "rejection" if score >= self.draft_threshold else "other"
        return Verdict(round(score, 4), label, lang, band)

    def with_thresholds(self, draft: float | None, review: float | None) -> Classifier:
        other = Classifier(
            self._pipeline,
            self.metadata,
            self.draft_threshold if draft is None else draft,
            self.review_threshold if review is None else review,
            scorer=self._scorer,
            source=self._source,
        )
        other._scorer_known = self._scorer_known
        return other


def _fit_features(pipeline: Any, documents: Sequence[str]) -> Any:
    """``pipeline``'s feature union fitted on ``documents`` (TF-IDF of each family) and
    their features (CSR), with the n-grams counted by ``wordwise``."""
    import scipy.sparse as sp

    blocks = []
    for _, step in pipeline.named_steps["features"].transformer_list:
        hasher, tfidf = step.named_steps["hash"], step.named_steps["tfidf"]
        counter = wordwise.counter_for(hasher)
        counts = counter.transform(documents) if counter else hasher.transform(documents)
        blocks.append(tfidf.fit_transform(counts))
    return sp.hstack(blocks).tocsr()


WORD_PATTERN = r"(?u)\b\w[\w'’]*\b"
# Word 1- and 2-grams. Trigrams (until FORMAT_VERSION 5) did worse on corpus files the
# model never saw (grouped by file, 3 seeds: 238-273 errors against 232-255, log loss
# 0.194-0.202 against 0.186-0.194) and on the random hold-out, and cost training time:
# they mostly memorise a writer's phrasing (docs/quality.md).
WORD_NGRAMS = (1, 2)
# 2^18 buckets per feature family: as good as 2^20 in cross-validation on the corpus
# (log loss 0.188 vs 0.189) at a quarter of the memory (coefficients and IDF: 8 MB, not 32).
HASH_BITS = 18
# Character 3- to 5-grams within words. 4-grams alone cost a third of the time and did
# as well in cross-validation on the corpus, but flagged 5 of 4,150 everyday messages
# where these flag 1 (docs/quality.md): the speed was not worth it.
CHAR_NGRAMS = (3, 5)
# Whether an n-gram occurs, not how often (until FORMAT_VERSION 6: log counts). On corpus
# files the model never saw (grouped folds, seeds 0-2) the two make as many errors
# (557 / 538 / 508 against 562 / 532 / 503) with the same log loss (0.182 on average),
# but presence is the more precise of the two: 12-15 fewer false positives a seed, for
# 9-20 more misses. The first target is precision; on real job mail presence
# gives precision 0.982 and recall 0.952 at 0.60, log counts 0.956 and 0.969
# (docs/quality.md, session 7).
BINARY = True


def build_pipeline(c: float = 30.0) -> Any:
    """Word 1-2-grams and character 3-5-grams (within words), hashed, present or not,
    IDF weighted, into a logistic regression (probabilities).

    Hashing instead of a learnt vocabulary: the fitted model is only numeric arrays, so
    it saves and loads in about a second with skops (a vocabulary of ~100k terms took
    minutes), and it needs no vocabulary in memory.
    """
    from sklearn.feature_extraction.text import HashingVectorizer, TfidfTransformer
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import FeatureUnion, Pipeline

    def hashed(**options: Any) -> Any:
        vectorizer = HashingVectorizer(
            n_features=2**HASH_BITS, alternate_sign=False, norm=None, binary=BINARY, **options
        )
        return Pipeline([("hash", vectorizer), ("tfidf", TfidfTransformer())])

    features = FeatureUnion(
        [
            ("words", hashed(analyzer="word", ngram_range=WORD_NGRAMS, token_pattern=WORD_PATTERN)),
            ("chars", hashed(analyzer="char_wb", ngram_range=CHAR_NGRAMS)),
        ]
    )
    model = LogisticRegression(C=c, class_weight="balanced", max_iter=3000)
    return Pipeline([("features", features), ("model", model)])


def train(
    examples: Sequence[dataset.Example],
    weights: Sequence[float] | None = None,
) -> Classifier:
    """Fit a new classifier on labelled examples."""
    from notnow.message import parse

    if not examples:
        raise ModelError("no training examples")
    labels = {example.label for example in examples}
    if labels != set(dataset.LABELS):
        raise ModelError("training needs examples of both rejection and other mail")
    emails = [parse(example.raw) for example in examples]
    documents = [document(email) for email in emails]
    targets = [_target(example) for example in examples]
    pipeline = build_pipeline()
    features = _fit_features(pipeline, documents)
    _fit_used_columns(pipeline.named_steps["model"], features, targets, weights)
    return Classifier(pipeline, _metadata(len(examples)))


def _fit_used_columns(
    linear: Any, features: Any, targets: Sequence[int], weights: Sequence[float] | None
) -> None:
    """``linear.fit(features, targets)``, solved over the columns some document has.

    A column no training document has gets a zero coefficient either way: the L2 penalty
    is its whole gradient, zero at zero. Only the solver's work changes, which grows with
    the columns it carries: the corpus has 56 % of the 2^19, and the solver takes 20 s on
    it instead of 27. The coefficients equal a fit over all columns to 1e-10."""
    import numpy as np
    from sklearn.base import clone

    used = np.flatnonzero(features.getnnz(axis=0))
    fitted = clone(linear).fit(
        features[:, used], targets, sample_weight=None if weights is None else list(weights)
    )
    coefficients = np.zeros((fitted.coef_.shape[0], features.shape[1]))
    coefficients[:, used] = fitted.coef_
    linear.classes_ = fitted.classes_
    linear.coef_ = coefficients
    linear.intercept_ = fitted.intercept_
    linear.n_iter_ = fitted.n_iter_
    linear.n_features_in_ = features.shape[1]


# The model's classes. Rejections are 1 in every model (``Classifier.scores`` reads
# that column); other mail is two classes, job mail and everyday mail, so that the
# words job mail shares with rejections are weighed against job mail, not against the
# whole mailbox. A one-kind "other" (only job mail, say) gives a two-class model.
_EVERYDAY, _REJECTION, _JOB_MAIL = 0, 1, 2


def _target(example: dataset.Example) -> int:
    if example.label == "rejection":
        return _REJECTION
    return _JOB_MAIL if dataset.job_related(example) else _EVERYDAY


def _metadata(count: int) -> dict[str, Any]:
    import sklearn

    return {
        "format": FORMAT_VERSION,
        "sklearn": sklearn.__version__,
        "corpus": dataset.corpus_hash(),
        "examples": count,
    }


# -- files ----------------------------------------------------------------------------------


def save(classifier: Classifier, path: Path) -> None:
    """Write a model with skops (no pickle), atomically, and its scoring file."""
    import skops.io

    payload = {
        "pipeline": classifier.pipeline,
        "metadata": json.dumps(classifier.metadata),
        "thresholds": [classifier.draft_threshold, classifier.review_threshold],
    }
    buffer = io.BytesIO()
    skops.io.dump(payload, buffer, compression=zipfile.ZIP_DEFLATED)
    data = buffer.getvalue()
    write_atomically(path, lambda stream: stream.write(data))
    digest = hashlib.sha256(data).hexdigest()
    _save_scoring(classifier, path, digest)


def load(path: Path) -> Classifier:
    """Read a model saved by ``save``; refuse files with unexpected types or versions.

    From its scoring file when there is one for exactly these bytes (no scikit-learn
    import, no skops); else from the model file, and the scoring file is written for
    the next time."""
    from notnow.classifier.scoring import Scorer  # numpy: imported with the first model

    data = _read(path)
    digest = hashlib.sha256(data).hexdigest()
    found = Scorer.load(_scoring_path(path))
    if found is not None:
        scorer, header = found
        metadata, thresholds = header.get("metadata"), header.get("thresholds")
        if (
            header.get("model_sha256") == digest
            and isinstance(metadata, dict)
            and _current(metadata)
            and isinstance(thresholds, list)
            and len(thresholds) == 2
            and all(isinstance(value, int | float) for value in thresholds)
        ):
            draft, review = (float(value) for value in thresholds)
            return Classifier(None, metadata, draft, review, scorer=scorer, source=(path, digest))
    pipeline, metadata, (draft, review) = _unpack(path, data)
    classifier = Classifier(pipeline, metadata, float(draft), float(review))
    _save_scoring(classifier, path, digest)
    return classifier


def _read(path: Path) -> bytes:
    if not path.is_file():
        raise ModelError(f"model file {path} not found: train one with `notnow train`")
    try:
        return path.read_bytes()
    except OSError as e:
        raise ModelError(f"model file {path} cannot be read: {e.strerror or e}") from e


def _unpack(path: Path, data: bytes) -> tuple[Any, dict[str, Any], list[float]]:
    """(pipeline, metadata, thresholds) of a model file's bytes, checked."""
    import skops.io

    try:
        untrusted = skops.io.get_untrusted_types(data=data)
        foreign = [t for t in untrusted if not t.startswith(_TRUSTED_PREFIXES)]
        if foreign:
            raise ModelError(
                f"model file {path} contains types notnow does not load: {', '.join(foreign)}"
            )
        payload = skops.io.loads(data, trusted=untrusted)
        metadata = json.loads(payload["metadata"])
    except ModelError:
        raise
    except Exception as e:  # noqa: BLE001 - skops/zip/json raise many kinds on a bad file
        raise ModelError(
            f"model file {path} cannot be read ({type(e).__name__}): retrain it with `notnow train`"
        ) from e
    if not _current(metadata):
        raise ModelError(
            f"model file {path} was made by scikit-learn {metadata.get('sklearn')} "
            f"(format {metadata.get('format')}); this is scikit-learn {_sklearn_version()} "
            f"(format {FORMAT_VERSION}): retrain it with `notnow train`"
        )
    thresholds = payload.get("thresholds", [DEFAULT_DRAFT_THRESHOLD, DEFAULT_REVIEW_THRESHOLD])
    return payload["pipeline"], metadata, list(thresholds)


def _current(metadata: dict[str, Any]) -> bool:
    """Made for this notnow (``FORMAT_VERSION``) and this scikit-learn."""
    if metadata.get("format") != FORMAT_VERSION:
        return False
    made_with = metadata.get("sklearn")
    if made_with == _sklearn_version():
        return True
    import sklearn  # a distribution may spell its version otherwise than the module does

    return bool(made_with == sklearn.__version__)


def _sklearn_version() -> str:
    """The installed scikit-learn's version, without importing it (95 MB)."""
    from importlib.metadata import version

    return version("scikit-learn")


def _scoring_path(path: Path) -> Path:
    """Where the scoring file of the model file ``path`` is kept: beside it."""
    return path.with_name(f"{path.stem}.scoring.npz")


def _save_scoring(classifier: Classifier, path: Path, digest: str) -> None:
    """Best effort: without it (a read-only folder, a full disk) the next start reads the
    model file again, which is slower, not wrong."""
    scorer = classifier.scorer
    if scorer is None:
        return
    header = {
        "model_sha256": digest,
        "metadata": classifier.metadata,
        "thresholds": [classifier.draft_threshold, classifier.review_threshold],
    }
    try:
        scorer.save(_scoring_path(path), header)
    except OSError as e:
        logger.info("cannot keep the scoring file of %s: %s", path, e)


def user_model_path() -> Path:
    """Where `notnow train` keeps the user's model: $NOTNOW_MODEL, else the XDG data dir."""
    override = os.environ.get("NOTNOW_MODEL")
    if override:
        return Path(override)
    return xdg_dir("XDG_DATA_HOME", ".local/share") / "notnow" / "model.skops"


def bundled_path() -> Path:
    name = f"bundled-{dataset.corpus_hash()}-v{FORMAT_VERSION}-sklearn{_sklearn_version()}"
    return cache_dir() / f"{name}.skops"


_LOADED: dict[str, Classifier] = {}


def bundled() -> Classifier:
    """The model trained on the bundled corpus: from the cache, else built and cached."""
    path = bundled_path()
    key = str(path)
    if key in _LOADED:
        return _LOADED[key]
    classifier: Classifier | None = None
    if path.is_file():
        try:
            classifier = load(path)
        except ModelError as e:
            logger.warning("rebuilding the bundled model: %s", e)
    if classifier is None:
        logger.info("building the bundled model from the corpus (once per version)")
        classifier = train(dataset.bundled())
        try:
            save(classifier, path)
        except OSError as e:
            logger.warning("cannot cache the bundled model at %s: %s", path, e)
    _LOADED[key] = classifier
    return classifier


def active(model_path: Path | None = None) -> Classifier:
    """A user-given model, else the user's trained model in the cache dir, else bundled."""
    # The language identifier first: building its tables (once per cache) briefly takes
    # ~85 MB more than it keeps, which on top of a loaded model would make the peak RSS.
    textprep.load_language_identifier()
    classifier = _active(model_path)
    release_freed_memory()  # what loading freed (about 25 MB) is not kept
    return classifier


def _active(model_path: Path | None) -> Classifier:
    if model_path is not None:
        return load(model_path)
    user_model = user_model_path()
    if user_model.is_file():
        try:
            return load(user_model)
        except ModelError as e:
            logger.warning("%s; using the bundled model", e)
    return bundled()
