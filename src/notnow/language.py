"""py3langid's language model for the six languages notnow writes in, held compactly.

py3langid (a fork of langid.py) reads text as UTF-8 bytes through an automaton whose
states mark byte n-gram features, and scores the features with naive Bayes over 97
languages. It keeps the automaton's transitions as 32-bit state numbers: 39 MB, the
largest thing a daemon carries after its classifier, for months.

Here the same model answers the same question for ``LANGUAGES`` only. States are
renumbered by how many transitions lead to them, so that 99.6 % of the transitions fit
16 bits; the other 0.4 % (one per deep, rarely reached state) are looked up in a sorted
side table. The decisions and confidences are py3langid's own (the walk, the log1p
counts, the length-tempered softmax), to within float rounding, in 20 MB less.
"""

from __future__ import annotations

import bisect
import functools
import math
import unicodedata
from array import array
from collections import Counter
from typing import Any

# The languages notnow detects and writes drafts in; the first is the fallback.
LANGUAGES = ("en", "de", "fr", "es", "nl", "pt")

# A transition to a state numbered this or higher is in the side table.
_WIDE = 0xFFFF
# Transitions renumbered at a time while the table is built.
_SLICE = 1 << 20


class LanguageIdentifier:
    """``classify(text) -> (language, probability)`` over ``LANGUAGES``."""

    def __init__(self) -> None:
        import numpy as np
        from py3langid.langid import MODEL_FILE
        from py3langid.langid import LanguageIdentifier as Full

        full = Full.from_model_file(MODEL_FILE)
        columns = [full.nb_classes.index(language) for language in LANGUAGES]
        self._ptc: Any = np.ascontiguousarray(full.nb_ptc[:, columns], dtype=np.float32)
        self._pc: Any = np.asarray(full.nb_pc[columns], dtype=np.float32)
        # moves: the shared 256-entry transition rows; rows: each state's row.
        moves = np.frombuffer(full.tk_nextmove, dtype=f"u{full.tk_nextmove.itemsize}")
        rows = np.frombuffer(full.tk_row, dtype=f"u{full.tk_row.itemsize}").astype(np.int64)
        features = np.asarray(full.tk_output, dtype=np.int32)

        # The states most transitions lead to get the small numbers. Renumbered a slice
        # at a time, straight into the 16-bit table: no full-size temporaries.
        slices = range(0, len(moves), _SLICE)
        leading_to = sum(np.bincount(moves[i : i + _SLICE], minlength=len(rows)) for i in slices)
        order = np.argsort(-leading_to, kind="stable")
        number = np.empty(len(rows), dtype=np.uint32)
        number[order] = np.arange(len(rows), dtype=np.uint32)
        self._moves = array("H", [0]) * len(moves)
        table = np.frombuffer(self._moves, dtype=np.uint16)
        wide_at, wide_to = [], []
        for begin in slices:
            targets = number[moves[begin : begin + _SLICE]]
            wide = np.flatnonzero(targets >= _WIDE)
            wide_at.append(wide + begin)
            wide_to.append(targets[wide])
            table[begin : begin + _SLICE] = np.minimum(targets, _WIDE)
        del table, moves, full
        self._wide_at = array("I", np.concatenate(wide_at).astype(np.uint32).tobytes())
        self._wide_to = array("I", np.concatenate(wide_to).astype(np.uint32).tobytes())
        row_start = np.empty(len(rows), dtype=np.uint32)
        row_start[number] = rows << 8
        feature = np.empty(len(rows), dtype=np.int32)
        feature[number] = features
        self._row_start = array("I", row_start.tobytes())
        self._feature = array("i", feature.tobytes())
        self._start = int(number[0])

    def _features(self, data: bytes) -> Counter[int]:
        """How often each feature occurs in ``data`` (py3langid's ``visit_counts``)."""
        moves, row_start, feature = self._moves, self._row_start, self._feature
        wide_at, wide_to, find = self._wide_at, self._wide_to, bisect.bisect_left
        state = self._start
        found: list[int] = []
        append = found.append
        for byte in data:
            at = row_start[state] + byte
            state = moves[at]
            if state == _WIDE:
                state = wide_to[find(wide_at, at)]
            if feature[state] >= 0:
                append(feature[state])
        return Counter(found)

    def classify(self, text: str) -> tuple[str, float]:
        """The most likely language and its probability among ``LANGUAGES``."""
        import numpy as np

        if text.isupper():
            text = text.lower()
        data = unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")
        counts = self._features(data)
        if not counts:
            return LANGUAGES[0], 1 / len(LANGUAGES)
        rows = np.fromiter(counts.keys(), dtype=np.intp, count=len(counts))
        weights = np.log1p(np.fromiter(counts.values(), dtype=np.float32, count=len(counts)))
        # py3langid tempers the scores by the square root of the length in bytes.
        scores = (weights @ self._ptc[rows] + self._pc) / math.sqrt(len(data))
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        return LANGUAGES[best], float(probabilities[best])


@functools.lru_cache(maxsize=1)
def identifier() -> LanguageIdentifier:
    """The identifier, built on first use and kept for the life of the process."""
    return LanguageIdentifier()
