"""``murmur`` hashes many strings at once exactly as scikit-learn hashes one."""

from __future__ import annotations

import random

import numpy as np
import pytest
from sklearn.utils import murmurhash3_32

from notnow.classifier import murmur


def _one_by_one(strings: list[bytes]) -> list[int]:
    return [murmurhash3_32(s, seed=0, positive=False) for s in strings]


def _at_once(strings: list[bytes]) -> list[int]:
    lengths = np.array([len(s) for s in strings], dtype=np.int64)
    starts = np.cumsum(lengths) - lengths
    buffer = np.frombuffer(b"".join(strings), dtype=np.uint8)
    return murmur.murmurhash3_32(buffer, starts, lengths).tolist()


def test_every_length_and_byte_value_hashes_as_scikit_learn_does() -> None:
    generator = random.Random(5)  # noqa: S311 - test data, not a secret
    lengths = [*range(0, 40), 63, 64, 65, 255, 256, 257, 1000]  # both sides of WIDEST
    strings = [generator.randbytes(n) for n in lengths for _ in range(20)]
    strings += [b"\x00" * n for n in range(9)] + [b"\xff" * n for n in range(9)]
    generator.shuffle(strings)
    assert _at_once(strings) == _one_by_one(strings)


def test_overlapping_slices_of_one_buffer() -> None:
    text = "  ñandú Straße naïve café 漢字 😀 end ".encode()
    buffer = np.frombuffer(text, dtype=np.uint8)
    starts = [s for s in range(len(text)) for _ in range(1, 6)]
    lengths = [min(n, len(text) - s) for s in range(len(text)) for n in range(1, 6)]
    got = murmur.murmurhash3_32(buffer, starts, lengths).tolist()
    assert got == _one_by_one([text[s : s + n] for s, n in zip(starts, lengths, strict=True)])


def test_no_strings() -> None:
    assert murmur.murmurhash3_32(np.zeros(0, np.uint8), [], []).tolist() == []


@pytest.mark.parametrize("text", ["", "plain ascii", "ñ ß İ 漢字 😀 ́combining"])
def test_utf8_offsets_are_where_each_character_starts(text: str) -> None:
    buffer, at = murmur.utf8(text)
    assert bytes(buffer) == text.encode()
    assert at.tolist() == [len(text[:i].encode()) for i in range(len(text) + 1)]


def test_columns_and_signs_follow_scikit_learn() -> None:
    hashes = np.array([0, 5, -5, 2**31 - 1, -(2**31)], dtype=np.int32)
    assert murmur.columns(hashes, 2**18).tolist() == [0, 5, 5, (2**31 - 1) % 2**18, 0]
    assert murmur.columns(hashes, 1000).tolist() == [0, 5, 5, (2**31 - 1) % 1000, 2**31 % 1000]
    assert murmur.signs(hashes).tolist() == [1.0, 1.0, -1.0, 1.0, -1.0]


def test_one_long_string_hashes_as_scikit_learn_does() -> None:
    generator = random.Random(9)  # noqa: S311 - test data, not a secret
    strings = [generator.randbytes(n) for n in (0, 1, 2, 3, 4, 5, 257, 258, 259, 260, 4099)]
    assert [murmur.hash_one(s) for s in strings] == _one_by_one(strings)
