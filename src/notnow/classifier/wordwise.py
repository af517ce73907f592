"""Character n-gram counts, word by word: what scikit-learn's ``HashingVectorizer(
analyzer="char_wb")`` computes, exactly, at a fraction of the cost. Pure computation.

``char_wb`` n-grams never cross a word boundary, so a document's counts are the sum of
its words' counts. scikit-learn builds every n-gram of every word of every document as a
Python string and hashes it one at a time, which was the largest part of classifying a
message. Here each distinct word is hashed once (by scikit-learn's own hasher, so the
indices are the same) into a row of a sparse word matrix W; a batch of documents becomes
a sparse document-by-word count matrix C, and the counts are C @ W. The words seen are
kept between batches up to ``MAX_WORDS``, then forgotten all at once (a few MB).
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from typing import Any

MAX_WORDS = 1 << 15


class WordwiseCharCounts:
    """``hasher.transform(documents)`` for a char_wb ``HashingVectorizer`` without norm
    or binary counts; ``supports(hasher)`` says whether one qualifies."""

    def __init__(self, hasher: Any, max_words: int = MAX_WORDS) -> None:
        self.hasher = hasher
        self.max_words = max_words
        self._preprocess = hasher.build_preprocessor()
        self._rows: dict[str, int] = {}
        self._words: Any = None  # sparse: one row of n-gram counts per word in _rows
        self._lock = threading.Lock()  # the daemon scores from one thread per account

    @staticmethod
    def supports(hasher: Any) -> bool:
        return bool(
            type(hasher).__name__ == "HashingVectorizer"
            and hasher.analyzer == "char_wb"
            and hasher.norm is None
            and not hasher.binary
        )

    def transform(self, documents: Sequence[str]) -> Any:
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
            counts = sp.csr_array(per_word @ self._words, dtype=self.hasher.dtype)
        counts.sum_duplicates()  # also sorts the indices, as scikit-learn's output is
        return counts

    def _learn(self, words: set[str]) -> None:
        import scipy.sparse as sp

        new = [word for word in words if word not in self._rows]
        if len(self._rows) + len(new) > self.max_words:
            self._rows, self._words = {}, None
            new = list(words)
        if not new:
            return
        hashed = self.hasher._get_hasher().transform(
            self.hasher._char_wb_ngrams(word) for word in new
        )
        start = len(self._rows)
        self._rows.update((word, start + index) for index, word in enumerate(new))
        self._words = hashed if self._words is None else sp.vstack([self._words, hashed], "csr")
