"""Scoring without scikit-learn: a fitted model's numbers, and the arithmetic of its
``predict_proba``. numpy and scipy.sparse only.

A running notnow only scores. Importing scikit-learn and loading a model with skops
costs about 95 MB of resident memory and 2-3 s at every start; the numbers scoring
needs (per feature family: how its n-grams are hashed, the IDF weights; then the
coefficients) are 17 MB in a ``.npz`` file. ``model.load`` keeps one beside each model
file it has read (tied to the file's SHA-256), and reads that instead of the model
whenever it can.

What is computed is the pipeline's: hashed n-gram counts (``wordwise``), times IDF,
each family's rows scaled to unit length, side by side; then the logistic regression's
softmax (three classes) or logistic function (two). ``tests/unit/test_scoring.py``
holds the probabilities equal to ``pipeline.predict_proba`` to 1e-12.
"""

from __future__ import annotations

import json
import logging
import re
import zipfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np

from notnow.classifier import wordwise
from notnow.classifier.wordwise import Hashing
from notnow.files import write_atomically

logger = logging.getLogger(__name__)

# Bumped when what a scoring file holds changes; a file of another format is rebuilt.
FORMAT = 1


@dataclass(frozen=True)
class Family:
    """One feature family: its n-grams hashed (``hashing``), then TF-IDF weighted."""

    hashing: Hashing
    idf: Any  # float64 array, one weight per column; None without IDF
    sublinear_tf: bool = False
    norm: str | None = "l2"


class Scorer:
    """``pipeline.predict_proba`` for a pipeline ``model.build_pipeline`` made."""

    def __init__(self, families: Sequence[Family], coef: Any, intercept: Any, classes: Any):
        import scipy.sparse  # noqa: F401 - loaded with the model, not on the first message

        self.families = list(families)
        # X @ weights with weights row-major (features x classes): scipy reads it in
        # place; the transpose of a row-major coef_ would be copied for every batch.
        # coef is the same memory seen the other way (saved so, it loads so: no copy).
        self._weights = np.ascontiguousarray(np.asarray(coef, dtype=np.float64).T)
        self.coef = self._weights.T
        self.intercept = np.asarray(intercept, dtype=np.float64)
        self.classes = np.asarray(classes)
        self._counters = [wordwise.counter(family.hashing) for family in self.families]
        _check(self)

    @classmethod
    def of(cls, pipeline: Any) -> Scorer | None:
        """The scorer of a fitted pipeline, or None for one of another shape (a pipeline
        not made by ``build_pipeline``, or a setting ``wordwise`` does not reproduce)."""
        try:
            union = pipeline.named_steps["features"]
            linear = pipeline.named_steps["model"]
            if (
                len(pipeline.steps) != 2
                or union.transformer_weights
                or type(linear).__name__ != "LogisticRegression"
            ):
                return None
            families = []
            for _, step in union.transformer_list:
                if [key for key, _ in step.steps] != ["hash", "tfidf"]:
                    return None
                hashing = Hashing.of(step.named_steps["hash"])
                tfidf = step.named_steps["tfidf"]
                if hashing is None:
                    return None
                idf = np.asarray(tfidf.idf_, dtype=np.float64) if tfidf.use_idf else None
                # A norm other than l2 or none is refused by _check: a ValueError, below.
                families.append(Family(hashing, idf, bool(tfidf.sublinear_tf), tfidf.norm))
            return cls(families, linear.coef_, linear.intercept_, linear.classes_)
        except (AttributeError, KeyError, TypeError, ValueError):
            return None

    def features(self, documents: Sequence[str]) -> Any:
        """The pipeline's feature matrix (CSR) for ``documents``."""
        import scipy.sparse as sp

        blocks = []
        for family, counter in zip(self.families, self._counters, strict=True):
            counts = counter.transform(documents).tocsr()
            if family.sublinear_tf:
                np.log(counts.data, counts.data)
                counts.data += 1.0
            if family.idf is not None:
                counts.data *= family.idf[counts.indices]
            if family.norm == "l2":
                _scale_rows_to_unit_length(counts)
            blocks.append(counts)
        return sp.hstack(blocks, format="csr")

    def probabilities(self, documents: Sequence[str]) -> Any:
        """One row per document, one column per class (``classes``)."""
        decision = self.features(documents) @ self._weights + self.intercept
        if len(self.classes) <= 2:  # one row of coefficients, for classes[1]
            positive = 1.0 / (1.0 + np.exp(-decision[:, 0]))
            return np.stack([1.0 - positive, positive], axis=1)
        decision -= decision.max(axis=1, keepdims=True)
        np.exp(decision, out=decision)
        decision /= decision.sum(axis=1, keepdims=True)
        return decision

    # -- files -------------------------------------------------------------------------

    def save(self, path: Path, header: dict[str, Any]) -> None:
        """Write the numbers to ``path`` (a .npz, no pickle) with ``header`` (JSON-able:
        what the caller needs to trust the file later), atomically."""
        arrays: dict[str, Any] = {
            "header": np.array(json.dumps({**header, "scoring": FORMAT})),
            "families": np.array(
                json.dumps(
                    [
                        {
                            "hashing": asdict(family.hashing),
                            "idf": family.idf is not None,
                            "sublinear_tf": family.sublinear_tf,
                            "norm": family.norm,
                        }
                        for family in self.families
                    ]
                )
            ),
            "coef": self.coef,
            "intercept": self.intercept,
            "classes": self.classes,
        }
        for index, family in enumerate(self.families):
            if family.idf is not None:
                arrays[f"idf{index}"] = family.idf
        write_atomically(path, lambda stream: np.savez(stream, **arrays))

    @classmethod
    def load(cls, path: Path) -> tuple[Scorer, dict[str, Any]] | None:
        """(the scorer, its header) from a file ``save`` wrote; None for a missing,
        unreadable or inconsistent file, or one of another ``FORMAT``: the caller then
        reads the model itself."""
        try:
            with np.load(path, allow_pickle=False) as data:
                header = json.loads(str(data["header"]))
                if header.get("scoring") != FORMAT:
                    return None
                families = [
                    Family(
                        _hashing(spec["hashing"]),
                        data[f"idf{index}"] if spec["idf"] else None,
                        bool(spec["sublinear_tf"]),
                        spec["norm"],
                    )
                    for index, spec in enumerate(json.loads(str(data["families"])))
                ]
                scorer = cls(families, data["coef"], data["intercept"], data["classes"])
        except _UNUSABLE as e:  # missing, damaged or foreign
            logger.debug("not using the scoring file %s: %s", path, e)
            return None
        return scorer, header


# What reading a scoring file that is missing, damaged or not one of ours raises.
_UNUSABLE = (
    OSError,
    EOFError,
    zipfile.BadZipFile,
    ValueError,
    re.error,
    LookupError,
    TypeError,
    AttributeError,
)


def _scale_rows_to_unit_length(matrix: Any) -> None:
    """scikit-learn's ``normalize(norm="l2")`` in place: each row's squares summed in the
    same order, so the same lengths; rows of zeros stay zeros."""
    per_row = np.diff(matrix.indptr)
    row_of = np.repeat(np.arange(matrix.shape[0]), per_row)
    lengths = np.sqrt(np.bincount(row_of, weights=matrix.data**2, minlength=matrix.shape[0]))
    lengths[lengths == 0] = 1.0
    matrix.data /= np.repeat(lengths, per_row)


def _hashing(spec: dict[str, Any]) -> Hashing:
    return Hashing(**{**spec, "ngram_range": tuple(spec["ngram_range"])})


def _check(scorer: Scorer) -> None:
    """Refuse numbers that do not fit together (a damaged or foreign file)."""
    width = sum(family.hashing.n_features for family in scorer.families)
    rows = 1 if len(scorer.classes) <= 2 else len(scorer.classes)
    if (
        not scorer.families
        or scorer.coef.shape != (rows, width)
        or scorer.intercept.shape != (rows,)
        or len(scorer.classes) < 2
        or any(
            family.idf is not None and family.idf.shape != (family.hashing.n_features,)
            for family in scorer.families
        )
        or any(family.norm not in ("l2", None) for family in scorer.families)
        or any(family.hashing.analyzer not in ("word", "char_wb") for family in scorer.families)
        or any(
            family.hashing.n_features < 1
            or not 1 <= family.hashing.ngram_range[0] <= family.hashing.ngram_range[1]
            for family in scorer.families
        )
    ):
        raise ValueError("the scoring numbers do not fit together")
