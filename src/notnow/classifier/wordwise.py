"""Hashed n-gram counts: what scikit-learn's ``HashingVectorizer.transform`` computes for
the model's two feature families, exactly, at a fraction of the cost. Pure computation.

scikit-learn builds every n-gram of every document as a Python string and hashes it one
at a time, which was the largest part of classifying a message. Here an n-gram is never
a string of its own: it is a slice of one text per batch, and all of a batch's slices
are hashed at once (``murmur``: the same MurmurHash3 as scikit-learn's, so the same
columns).

Character n-grams (``analyzer="char_wb"``) never cross a word boundary, so a document's
counts are the sum of its words' counts. Each distinct word is hashed once into a row of
a sparse word matrix W; a batch of documents becomes a sparse document-by-word count
matrix C, and the counts are C @ W. The words seen are kept between batches up to
``MAX_WORDS``, then forgotten all at once (a few MB).

Word n-grams (``analyzer="word"``) are scikit-learn's own tokens, joined by single
spaces: an n-gram of n tokens is then one slice of the joined text.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass
from itertools import chain
from typing import Any

MAX_WORDS = 1 << 15


@dataclass(frozen=True)
class Hashing:
    """What counting needs of a scikit-learn ``HashingVectorizer``, as plain values:
    scoring (``scoring``) counts with these and never imports scikit-learn."""

    analyzer: str  # "word" or "char_wb"
    ngram_range: tuple[int, int]
    n_features: int
    binary: bool = False
    alternate_sign: bool = False
    lowercase: bool = True
    token_pattern: str = ""  # for "word"

    @classmethod
    def of(cls, hasher: Any) -> Hashing | None:
        """The settings of ``hasher``, or None if it has one this module does not
        reproduce (it is then used as it is): a ``HashingVectorizer`` of str documents,
        analyzer "word" (n-grams from 1, no stop words) or "char_wb", no norm, float64
        counts (or 1 for any count with ``binary``; not both ``binary`` and
        ``alternate_sign``, where scikit-learn also sets to 1 the counts that cancelled
        out), and no accent stripping, custom preprocessor or tokenizer."""
        import numpy as np

        if not (
            type(hasher).__name__ == "HashingVectorizer"
            and hasher.input == "content"
            and hasher.norm is None
            and hasher.dtype == np.float64
            and not (hasher.binary and hasher.alternate_sign)
            and hasher.strip_accents is None
            and hasher.preprocessor is None
            and hasher.tokenizer is None
        ):
            return None
        if hasher.analyzer == "word":
            if hasher.stop_words is not None or hasher.ngram_range[0] != 1:
                return None
            if re.compile(hasher.token_pattern).groups > 1:
                return None  # scikit-learn refuses it
        elif hasher.analyzer != "char_wb":
            return None
        return cls(
            analyzer=hasher.analyzer,
            ngram_range=(int(hasher.ngram_range[0]), int(hasher.ngram_range[1])),
            n_features=int(hasher.n_features),
            binary=bool(hasher.binary),
            alternate_sign=bool(hasher.alternate_sign),
            lowercase=bool(hasher.lowercase),
            token_pattern=hasher.token_pattern if hasher.analyzer == "word" else "",
        )

    def preprocess(self, document: str) -> str:
        return document.lower() if self.lowercase else document


def counter(hashing: Hashing) -> WordwiseCharCounts | WordNgramCounts:
    """What ``hasher.transform`` computes, for the hasher ``hashing`` describes."""
    if hashing.analyzer == "char_wb":
        return WordwiseCharCounts(hashing)
    return WordNgramCounts(hashing)


def counter_for(hasher: Any) -> WordwiseCharCounts | WordNgramCounts | None:
    """The fast equivalent of ``hasher.transform``, or None if ``hasher`` has a setting
    this module does not reproduce (``Hashing.of``)."""
    hashing = Hashing.of(hasher)
    return None if hashing is None else counter(hashing)


class WordNgramCounts:
    """``hasher.transform(documents)`` for a word ``HashingVectorizer`` with n-grams from
    1 to n and no stop words."""

    def __init__(self, hashing: Hashing) -> None:
        self.hashing = hashing
        self._tokenize = re.compile(hashing.token_pattern).findall
        self._longest = hashing.ngram_range[1]

    def transform(self, documents: Sequence[str]) -> Any:
        """Every document's tokens, joined by single spaces into one text: each n-gram
        (tokens ``i`` to ``i + n - 1`` joined by spaces) is then a slice of it, hashed
        with all the others at once."""
        import numpy as np

        preprocess = self.hashing.preprocess
        tokens = [self._tokenize(preprocess(doc)) for doc in documents]
        sizes = np.fromiter(map(len, chain.from_iterable(tokens)), dtype=np.int64)
        ends = np.cumsum(sizes + 1) - 1  # where each token ends in the joined text
        starts = ends - sizes
        per_document = np.fromiter(map(len, tokens), dtype=np.int64, count=len(tokens))
        first = np.cumsum(per_document) - per_document  # each document's first token
        rows, begin, end = [], [], []
        for n in range(1, self._longest + 1):
            # The n-grams of a document start at its tokens but the last n - 1.
            document_of, offset = _ranges(np.maximum(per_document - n + 1, 0))
            token = first[document_of] + offset
            rows.append(document_of)
            begin.append(starts[token])
            end.append(ends[token + n - 1])
        text = " ".join(chain.from_iterable(tokens))
        return _binary(self.hashing, _hashed(self.hashing, text, rows, begin, end, len(tokens)))


class WordwiseCharCounts:
    """``hasher.transform(documents)`` for a char_wb ``HashingVectorizer``, up to the order
    of each row's columns."""

    def __init__(self, hashing: Hashing, max_words: int = MAX_WORDS) -> None:
        self.hashing = hashing
        self.max_words = max_words
        self._shortest, self._longest = hashing.ngram_range
        self._rows: dict[str, int] = {}
        self._words: Any = None  # sparse: one row of n-gram counts per word in _rows
        self._lock = threading.Lock()  # the daemon scores from one thread per account

    def transform(self, documents: Sequence[str]) -> Any:
        """The counts, with each row's columns in no particular order: C @ W has no
        duplicates, and sorting them (scikit-learn's order) cost a tenth of the time."""
        import numpy as np
        import scipy.sparse as sp

        texts = [self.hashing.preprocess(doc).split() for doc in documents]
        with self._lock:
            self._learn(set(chain.from_iterable(texts)))
            rows = self._rows
            pointers = np.cumsum([0, *map(len, texts)])
            columns = np.fromiter(
                map(rows.__getitem__, chain.from_iterable(texts)),
                dtype=np.int64,
                count=int(pointers[-1]),
            )
            shape = (len(texts), self.hashing.n_features)
            if not rows:
                return sp.csr_array(shape, dtype=np.float64)
            per_word = sp.csr_array(
                (np.ones(len(columns)), columns, pointers), shape=(len(texts), len(rows))
            )
            counts = sp.csr_array(per_word @ self._words, dtype=np.float64)
            return _binary(self.hashing, counts)

    def _learn(self, words: set[str]) -> None:
        import scipy.sparse as sp

        new = [word for word in words if word not in self._rows]
        if len(self._rows) + len(new) > self.max_words:
            self._rows, self._words = {}, None
            new = list(words)
        if not new:
            return
        hashed = self._counts(new)
        start = len(self._rows)
        self._rows.update((word, start + index) for index, word in enumerate(new))
        self._words = hashed if self._words is None else sp.vstack([self._words, hashed], "csr")

    def _counts(self, words: list[str]) -> Any:
        """One row of n-gram counts per word: scikit-learn's ``_char_wb_ngrams`` of each
        word padded with a space on both sides, all of its n-grams for each n, or the
        padded word once when it is no longer than n (and no longer n then). The n-grams
        are never built as strings: each is a slice of the words' UTF-8 bytes, hashed
        with all the others at once (``murmur``)."""
        import numpy as np

        padded = [f" {word} " for word in words]
        sizes = np.fromiter(map(len, padded), dtype=np.int64, count=len(padded))
        first = np.cumsum(sizes) - sizes  # where each padded word starts, in characters
        rows, starts, ends = [], [], []
        alive = np.ones(len(words), dtype=bool)  # still counting n-grams at this n
        for n in range(self._shortest, self._longest + 1):
            whole = np.flatnonzero(alive & (sizes <= n))
            rows.append(whole)
            starts.append(first[whole])
            ends.append(first[whole] + sizes[whole])
            alive[whole] = False
            word_of, offset = _ranges(np.where(alive, sizes - n + 1, 0))
            rows.append(word_of)
            starts.append(first[word_of] + offset)
            ends.append(first[word_of] + offset + n)
        return _hashed(self.hashing, "".join(padded), rows, starts, ends, len(words))


def _binary(hashing: Hashing, counts: Any) -> Any:
    """``counts`` as the hasher gives them: every stored count 1 if it is ``binary``."""
    if hashing.binary:
        counts.data[:] = 1
    return counts


def _ranges(counts: Any) -> tuple[Any, Any]:
    """For each i, ``counts[i]`` entries: (i, 0), (i, 1), ... as two arrays, owners and
    offsets."""
    import numpy as np

    owners = np.repeat(np.arange(len(counts)), counts)
    return owners, np.arange(len(owners)) - (np.cumsum(counts) - counts)[owners]


def _hashed(
    hashing: Hashing, text: str, rows: list[Any], starts: list[Any], ends: list[Any], height: int
) -> Any:
    """The sparse counts (``height`` rows) of the features ``text[starts[i]:ends[i]]``,
    each added to its row ``rows[i]``, in the column and with the sign the hasher gives."""
    import numpy as np
    import scipy.sparse as sp

    from notnow.classifier import murmur

    buffer, at = murmur.utf8(text)
    start = at[np.concatenate(starts)]
    hashes = murmur.murmurhash3_32(buffer, start, at[np.concatenate(ends)] - start)
    values = murmur.signs(hashes) if hashing.alternate_sign else np.ones(len(hashes))
    counts = sp.csr_array(
        (values, (np.concatenate(rows), murmur.columns(hashes, hashing.n_features))),
        shape=(height, hashing.n_features),
        dtype=np.float64,
    )
    counts.sum_duplicates()
    return counts
