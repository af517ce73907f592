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

Building the tables takes about a second and briefly 85 MB more than they keep, so they
are built once per py3langid version and kept in the cache directory (numpy arrays, no
pickle); a process then loads them in some tens of milliseconds.
"""

from __future__ import annotations

import bisect
import functools
import logging
import math
import unicodedata
import zipfile
from array import array
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from notnow.files import write_atomically

logger = logging.getLogger(__name__)

# The languages notnow detects and writes drafts in; the first is the fallback.
LANGUAGES = ("en", "de", "fr", "es", "nl", "pt")

# A transition to a state numbered this or higher is in the side table.
_WIDE = 0xFFFF
# Transitions renumbered at a time while the table is built.
_SLICE = 1 << 20
# From this many texts on, classify_many walks them together (numpy per byte position)
# rather than one by one (Python per byte): about 10 us a step, whatever the count.
_BATCH_WALK = 32
# Bumped when the cached tables change shape; a cache of another format is rebuilt.
_TABLES_FORMAT = 1
_TABLE_NAMES = ("ptc", "pc", "moves", "wide_at", "wide_to", "row_start", "feature", "start")


class LanguageIdentifier:
    """``classify(text) -> (language, probability)`` over ``LANGUAGES``."""

    def __init__(self, tables: dict[str, Any]) -> None:
        """From ``build_tables`` (or the cached copy ``load`` reads)."""
        self._ptc: Any = tables["ptc"]
        self._pc: Any = tables["pc"]
        # Python arrays, not numpy: the byte walk reads them one item at a time.
        self._moves = _array("H", tables["moves"])
        self._wide_at = _array("I", tables["wide_at"])
        self._wide_to = _array("I", tables["wide_to"])
        self._row_start = _array("I", tables["row_start"])
        self._feature = _array("i", tables["feature"])
        self._start = int(tables["start"])

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

    def _features_many(self, datas: Sequence[bytes]) -> list[tuple[Any, Any]]:
        """``_features`` of many texts, as (features, counts) arrays sorted by feature:
        the automaton walks all of them a byte at a time together, with numpy."""
        import numpy as np

        lengths = np.fromiter(map(len, datas), dtype=np.int64, count=len(datas))
        order = np.argsort(-lengths, kind="stable")  # those still walking: a prefix
        starts = (np.cumsum(lengths) - lengths)[order]
        buffer = np.frombuffer(b"".join(datas), dtype=np.uint8)
        steps = int(lengths.max(initial=0))
        walking = np.searchsorted(-lengths[order], -np.arange(steps), side="left")
        moves = np.frombuffer(self._moves, dtype=np.uint16)
        row_start = np.frombuffer(self._row_start, dtype=np.uint32).astype(np.int64)
        feature = np.frombuffer(self._feature, dtype=np.int32)
        wide_at = np.frombuffer(self._wide_at, dtype=np.uint32).astype(np.int64)
        wide_to = np.frombuffer(self._wide_to, dtype=np.uint32)
        state = np.full(len(datas), self._start, dtype=np.int64)
        who, what = [], []
        for step in range(steps):
            n = int(walking[step])
            at = row_start[state[:n]] + buffer[starts[:n] + step]
            moved = moves[at].astype(np.int64)
            wide = np.flatnonzero(moved == _WIDE)
            if len(wide):
                moved[wide] = wide_to[np.searchsorted(wide_at, at[wide])]
            state[:n] = moved
            found = feature[moved]
            hit = np.flatnonzero(found >= 0)
            who.append(hit)
            what.append(found[hit])
        size = max(len(self._ptc), 1)
        keys, counts = np.unique(
            order[np.concatenate(who or [np.empty(0, np.int64)])] * size
            + np.concatenate(what or [np.empty(0, np.int32)]).astype(np.int64),
            return_counts=True,
        )
        bounds = np.searchsorted(keys // size, np.arange(len(datas) + 1))
        return [
            (keys[bounds[d] : bounds[d + 1]] % size, counts[bounds[d] : bounds[d + 1]])
            for d in range(len(datas))
        ]

    def classify(self, text: str) -> tuple[str, float]:
        """The most likely language and its probability among ``LANGUAGES``."""
        import numpy as np

        data = _bytes(text)
        found = sorted(self._features(data).items())
        rows = np.fromiter((row for row, _ in found), dtype=np.intp, count=len(found))
        counts = np.fromiter((count for _, count in found), dtype=np.float32, count=len(found))
        return self._decide(rows, counts, len(data))

    def classify_many(self, texts: Sequence[str]) -> list[tuple[str, float]]:
        """``classify`` of each text: the same answers, several times faster per text
        for a batch of a few dozen or more (one at a time below ``_BATCH_WALK``)."""
        if len(texts) < _BATCH_WALK:
            return [self.classify(text) for text in texts]
        datas = [_bytes(text) for text in texts]
        return [
            self._decide(rows, counts, len(data))
            for data, (rows, counts) in zip(datas, self._features_many(datas), strict=True)
        ]

    def _decide(self, rows: Any, counts: Any, length: int) -> tuple[str, float]:
        """The language and its probability from the features of ``length`` bytes
        (``rows``, sorted, and how often each occurred)."""
        import numpy as np

        if not len(rows):
            return LANGUAGES[0], 1 / len(LANGUAGES)
        weights = np.log1p(np.asarray(counts, dtype=np.float32))
        # py3langid tempers the scores by the square root of the length in bytes.
        scores = (weights @ self._ptc[rows] + self._pc) / math.sqrt(length)
        probabilities = np.exp(scores - scores.max())
        probabilities /= probabilities.sum()
        best = int(probabilities.argmax())
        return LANGUAGES[best], float(probabilities[best])


def _bytes(text: str) -> bytes:
    """What py3langid reads of a text: lower-cased if all capitals, NFC, UTF-8."""
    if text.isupper():
        text = text.lower()
    return unicodedata.normalize("NFC", text).encode("utf-8", "surrogatepass")


def build_tables() -> dict[str, Any]:
    """The compact tables from py3langid's model (about a second, and briefly 85 MB)."""
    import numpy as np
    from py3langid.langid import MODEL_FILE
    from py3langid.langid import LanguageIdentifier as Full

    full = Full.from_model_file(MODEL_FILE)
    columns = [full.nb_classes.index(language) for language in LANGUAGES]
    ptc = np.ascontiguousarray(full.nb_ptc[:, columns], dtype=np.float32)
    pc = np.asarray(full.nb_pc[columns], dtype=np.float32)
    # moves: the shared 256-entry transition rows; rows: each state's row.
    moves = np.frombuffer(full.tk_nextmove, dtype=f"u{full.tk_nextmove.itemsize}")
    rows = np.frombuffer(full.tk_row, dtype=f"u{full.tk_row.itemsize}").astype(np.int64)
    features = np.asarray(full.tk_output, dtype=np.int32)

    # The states most transitions lead to get the small numbers. Renumbered a slice at a
    # time, straight into the 16-bit table: no full-size temporaries.
    slices = range(0, len(moves), _SLICE)
    leading_to = sum(np.bincount(moves[i : i + _SLICE], minlength=len(rows)) for i in slices)
    order = np.argsort(-leading_to, kind="stable")
    number = np.empty(len(rows), dtype=np.uint32)
    number[order] = np.arange(len(rows), dtype=np.uint32)
    table = np.empty(len(moves), dtype=np.uint16)
    wide_at, wide_to = [], []
    for begin in slices:
        targets = number[moves[begin : begin + _SLICE]]
        wide = np.flatnonzero(targets >= _WIDE)
        wide_at.append(wide + begin)
        wide_to.append(targets[wide])
        table[begin : begin + _SLICE] = np.minimum(targets, _WIDE)
    del moves, full
    row_start = np.empty(len(rows), dtype=np.uint32)
    row_start[number] = rows << 8
    feature = np.empty(len(rows), dtype=np.int32)
    feature[number] = features
    return {
        "ptc": ptc,
        "pc": pc,
        "moves": table,
        "wide_at": np.concatenate(wide_at).astype(np.uint32),
        "wide_to": np.concatenate(wide_to).astype(np.uint32),
        "row_start": row_start,
        "feature": feature,
        "start": np.array(int(number[0])),
    }


def _array(typecode: str, values: Any) -> array[Any]:
    """A Python array of a numpy array's items, copied once (no bytes in between)."""
    import numpy as np

    out = array(typecode)
    if out.itemsize != values.itemsize:
        raise ValueError(f"array {typecode!r} items are not {values.itemsize} bytes here")
    native = np.ascontiguousarray(values, dtype=values.dtype.newbyteorder("="))
    out.frombytes(native.data.cast("B"))
    return out


def _check(tables: dict[str, Any]) -> None:
    """Refuse tables that do not fit together (ValueError): every state's 256 moves, its
    feature and every feature's weights must be there."""
    states = len(tables["row_start"])
    if not (
        tables["ptc"].ndim == 2
        and tables["ptc"].shape[1] == len(LANGUAGES) == tables["pc"].shape[0]
        and len(tables["feature"]) == states > int(tables["start"]) >= 0
        and len(tables["wide_at"]) == len(tables["wide_to"])
        and int(tables["row_start"].max()) + 256 <= len(tables["moves"])
        and int(tables["feature"].max()) < tables["ptc"].shape[0]
        and (len(tables["wide_to"]) == 0 or int(tables["wide_to"].max()) < states)
    ):
        raise ValueError("the language tables do not fit together")


def _cache_path() -> Path:
    """Where the tables are kept: keyed by py3langid's version and ``LANGUAGES``."""
    from importlib.metadata import version

    from notnow.config import cache_dir

    key = "-".join([version("py3langid"), *LANGUAGES, str(_TABLES_FORMAT)])
    return cache_dir() / f"language-{key}.npz"


def load() -> LanguageIdentifier:
    """The identifier from its cached tables (some tens of milliseconds), else built from
    py3langid's model and cached for the next process (best effort)."""
    import numpy as np

    path = _cache_path()
    try:
        with np.load(path, allow_pickle=False) as data:
            cached = {name: data[name] for name in _TABLE_NAMES}
        _check(cached)
        return LanguageIdentifier(cached)
    except (OSError, ValueError, KeyError, zipfile.BadZipFile, EOFError):
        pass  # missing, damaged, or not a file this version wrote: build it
    tables = build_tables()
    try:
        write_atomically(path, lambda stream: np.savez(stream, **tables))
    except OSError as e:
        logger.info("cannot cache the language tables in %s: %s", path.parent, e)
    return LanguageIdentifier(tables)


@functools.lru_cache(maxsize=1)
def identifier() -> LanguageIdentifier:
    """The identifier, loaded on first use and kept for the life of the process."""
    return load()
