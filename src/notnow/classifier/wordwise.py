"""Hashed n-gram counts: what scikit-learn's ``HashingVectorizer.transform`` computes for
the model's two feature families, exactly, at a fraction of the cost. Pure computation.

Character n-grams (``analyzer="char_wb"``) never cross a word boundary, so a document's
counts are the sum of its words' counts. scikit-learn builds every n-gram of every word
of every document as a Python string and hashes it one at a time, which was the largest
part of classifying a message. Here each distinct word is hashed once (by scikit-learn's
own hasher, so the indices are the same) into a row of a sparse word matrix W; a batch of
documents becomes a sparse document-by-word count matrix C, and the counts are C @ W. The
words seen are kept between batches up to ``MAX_WORDS``, then forgotten all at once (a
few MB).

Word n-grams (``analyzer="word"``) are scikit-learn's own tokens and n-grams, built with
list operations instead of a Python loop per n-gram and handed to the same hasher as
(n-gram, 1) pairs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator, Sequence
from itertools import repeat
from typing import Any

MAX_WORDS = 1 << 15


def counter_for(hasher: Any) -> WordwiseCharCounts | WordNgramCounts | None:
    """The fast equivalent of ``hasher.transform``, or None if ``hasher`` has a setting
    this module does not reproduce (it is then used as it is)."""
    if WordwiseCharCounts.supports(hasher):
        return WordwiseCharCounts(hasher)
    if WordNgramCounts.supports(hasher):
        return WordNgramCounts(hasher)
    return None


def _plain(hasher: Any) -> bool:
    """A ``HashingVectorizer`` of str documents, counts as they are (no norm, no binary)."""
    return bool(
        type(hasher).__name__ == "HashingVectorizer"
        and hasher.input == "content"
        and hasher.norm is None
        and not hasher.binary
        and not callable(hasher.analyzer)
    )


def _pair_hasher(hasher: Any) -> Any:
    """scikit-learn's hasher for (feature, value) pairs with ``hasher``'s settings: the
    same murmurhash of the same strings, so the same columns."""
    from sklearn.feature_extraction import FeatureHasher

    return FeatureHasher(
        n_features=hasher.n_features,
        input_type="pair",
        dtype=hasher.dtype,
        alternate_sign=hasher.alternate_sign,
    )


def _counted(features: Iterable[list[str]]) -> Iterator[Iterable[tuple[str, int]]]:
    return (zip(names, repeat(1)) for names in features)


class WordNgramCounts:
    """``hasher.transform(documents)`` for a word ``HashingVectorizer`` with n-grams from
    1 to n and no stop words; ``supports(hasher)`` says whether one qualifies."""

    def __init__(self, hasher: Any) -> None:
        self._preprocess = hasher.build_preprocessor()
        self._tokenize = hasher.build_tokenizer()
        self._decode = hasher.decode
        self._longest = hasher.ngram_range[1]
        self._pairs = _pair_hasher(hasher)

    @staticmethod
    def supports(hasher: Any) -> bool:
        return bool(
            _plain(hasher)
            and hasher.analyzer == "word"
            and hasher.stop_words is None
            and hasher.ngram_range[0] == 1
        )

    def transform(self, documents: Sequence[str]) -> Any:
        return self._pairs.transform(_counted(map(self._ngrams, documents)))

    def _ngrams(self, document: str) -> list[str]:
        tokens = self._tokenize(self._preprocess(self._decode(document)))
        ngrams = list(tokens)
        for n in range(2, min(self._longest, len(tokens)) + 1):
            shifted = (tokens[start:] for start in range(n))
            ngrams += map(" ".join, zip(*shifted, strict=False))  # stops at the shortest
        return ngrams


class WordwiseCharCounts:
    """``hasher.transform(documents)`` for a char_wb ``HashingVectorizer``, up to the order
    of each row's columns; ``supports(hasher)`` says whether one qualifies."""

    def __init__(self, hasher: Any, max_words: int = MAX_WORDS) -> None:
        self.hasher = hasher
        self.max_words = max_words
        self._preprocess = hasher.build_preprocessor()
        self._shortest, self._longest = hasher.ngram_range
        self._pairs = _pair_hasher(hasher)
        self._rows: dict[str, int] = {}
        self._words: Any = None  # sparse: one row of n-gram counts per word in _rows
        self._lock = threading.Lock()  # the daemon scores from one thread per account

    @staticmethod
    def supports(hasher: Any) -> bool:
        return _plain(hasher) and hasher.analyzer == "char_wb"

    def transform(self, documents: Sequence[str]) -> Any:
        """The counts, with each row's columns in no particular order: C @ W has no
        duplicates, and sorting them (scikit-learn's order) cost a tenth of the time."""
        import numpy as np
        import scipy.sparse as sp

        texts = [self._preprocess(self.hasher.decode(doc)).split() for doc in documents]
        with self._lock:
            self._learn({word for words in texts for word in words})
            rows = self._rows
            columns = np.fromiter((rows[word] for words in texts for word in words), dtype=np.int64)
            pointers = np.cumsum([0, *(len(words) for words in texts)])
            shape = (len(texts), self.hasher.n_features)
            if not rows:
                return sp.csr_array(shape, dtype=self.hasher.dtype)
            per_word = sp.csr_array(
                (np.ones(len(columns)), columns, pointers), shape=(len(texts), len(rows))
            )
            return sp.csr_array(per_word @ self._words, dtype=self.hasher.dtype)

    def _ngrams(self, word: str) -> list[str]:
        """scikit-learn's ``_char_wb_ngrams`` of one word: the padded word's n-grams for
        each n, or the padded word once when it is no longer than n."""
        padded = f" {word} "
        size = len(padded)
        ngrams: list[str] = []
        for n in range(self._shortest, self._longest + 1):
            if size <= n:
                ngrams.append(padded)
                break
            ngrams += [padded[start : start + n] for start in range(size - n + 1)]
        return ngrams

    def _learn(self, words: set[str]) -> None:
        import scipy.sparse as sp

        new = [word for word in words if word not in self._rows]
        if len(self._rows) + len(new) > self.max_words:
            self._rows, self._words = {}, None
            new = list(words)
        if not new:
            return
        hashed = self._pairs.transform(_counted(map(self._ngrams, new)))
        start = len(self._rows)
        self._rows.update((word, start + index) for index, word in enumerate(new))
        self._words = hashed if self._words is None else sp.vstack([self._words, hashed], "csr")
