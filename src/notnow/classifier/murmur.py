"""MurmurHash3 (x86, 32 bits, seed 0) of many byte strings at once, with numpy. Pure
computation.

scikit-learn's hashing vectorizers put an n-gram in column ``|h| mod n_features`` where
``h`` is the signed MurmurHash3 of its UTF-8 bytes. To hash a string from Python, the
string must exist: building every n-gram as a str, encoding it and passing it in one at a
time cost several times the hashing. Here every string of a batch is a slice
``[start, start + length)`` of one byte buffer, and the hash runs as a handful of array
operations over all of them (about 0.15 us a string, what scikit-learn's hash alone takes
on a ready bytes object): the same numbers as ``sklearn.utils.murmurhash3_32``.
"""

from __future__ import annotations

import struct
from typing import Any

import numpy as np

_C1 = np.uint32(0xCC9E2D51)
_C2 = np.uint32(0x1B873593)
_M = np.uint32(5)
_N = np.uint32(0xE6546B64)
_F1 = np.uint32(0x85EBCA6B)
_F2 = np.uint32(0xC2B2AE35)
_TAIL_MASK = np.array([0, 0xFF, 0xFFFF, 0xFFFFFF], dtype=np.uint32)

# Strings longer than this are hashed one at a time: a few long tokens (URLs, ids) would
# otherwise add a round of array operations per 4 bytes for the whole batch.
WIDEST = 256


def _rotl(x: Any, r: int) -> Any:
    return (x << np.uint32(r)) | (x >> np.uint32(32 - r))


def _scramble(k: Any) -> Any:
    return _rotl(k * _C1, 15) * _C2


def murmurhash3_32(buffer: Any, starts: Any, lengths: Any) -> Any:
    """The signed 32-bit hash (int32 array) of each slice of ``buffer`` (uint8 array)."""
    starts = np.asarray(starts, dtype=np.int64)
    lengths = np.asarray(lengths, dtype=np.int64)
    long = lengths > WIDEST
    hashes = np.empty(len(starts), dtype=np.int32)
    hashes[~long] = _hash_short(buffer, starts[~long], lengths[~long])
    if long.any():
        data = bytes(buffer)
        for index in np.flatnonzero(long):
            start, end = int(starts[index]), int(starts[index] + lengths[index])
            hashes[index] = hash_one(data[start:end])
    return hashes


_MASK = 0xFFFFFFFF


def hash_one(data: bytes) -> int:
    """The signed MurmurHash3 of one byte string, in plain Python (a long one: a 40 kB
    string takes 7 ms), so that scoring never needs scikit-learn."""

    def scramble(k: int) -> int:
        k = (k * 0xCC9E2D51) & _MASK
        return (((k << 15) | (k >> 17)) & _MASK) * 0x1B873593 & _MASK

    h = 0
    whole = len(data) & ~3
    for (k,) in struct.iter_unpack("<I", data[:whole]):
        h ^= scramble(k)
        h = ((((h << 13) | (h >> 19)) & _MASK) * 5 + 0xE6546B64) & _MASK
    if whole < len(data):
        h ^= scramble(int.from_bytes(data[whole:], "little"))
    h ^= len(data)
    h ^= h >> 16
    h = (h * 0x85EBCA6B) & _MASK
    h ^= h >> 13
    h = (h * 0xC2B2AE35) & _MASK
    h ^= h >> 16
    return h - (1 << 32) if h & 0x80000000 else h


def _hash_short(buffer: Any, starts: Any, lengths: Any) -> Any:
    count = len(starts)
    if not count:
        return np.empty(0, dtype=np.int32)
    # Little-endian 32-bit words at every byte offset: word[i] is bytes i..i+3.
    padded = np.zeros(len(buffer) + 4, dtype=np.uint32)
    padded[: len(buffer)] = buffer
    word = padded[:-3] | padded[1:-2] << 8 | padded[2:-1] << 16 | padded[3:] << 24
    # Longest first: the strings that still have a block b are a prefix of the order.
    full = lengths // 4
    order = np.argsort(-full)
    starts, lengths, full = starts[order], lengths[order], full[order]
    blocks = int(full[0])
    having = np.searchsorted(-full, -np.arange(blocks), side="left")  # full > block
    h = np.zeros(count, dtype=np.uint32)
    for block in range(blocks):
        n = int(having[block])
        h[:n] = _rotl(h[:n] ^ _scramble(word[starts[:n] + 4 * block]), 13) * _M + _N
    # The last 1-3 bytes, zero-padded; none (a zero word, which changes nothing) if the
    # length is a multiple of 4.
    h ^= _scramble(word[starts + 4 * full] & _TAIL_MASK[lengths & 3])
    h ^= lengths.astype(np.uint32)
    h ^= h >> np.uint32(16)
    h *= _F1
    h ^= h >> np.uint32(13)
    h *= _F2
    h ^= h >> np.uint32(16)
    hashes = np.empty(count, dtype=np.int32)
    hashes[order] = h.view(np.int32)
    return hashes


def columns(hashes: Any, n_features: int) -> Any:
    """scikit-learn's column for each hash: ``|h| mod n_features`` (|-2^31| is 2^31)."""
    return np.abs(hashes.astype(np.int64)) % n_features


def signs(hashes: Any) -> Any:
    """scikit-learn's sign with ``alternate_sign``: +1 for h >= 0, else -1."""
    return np.where(hashes >= 0, 1.0, -1.0)


def utf8(text: str) -> tuple[Any, Any]:
    """``text`` as UTF-8 bytes (uint8 array) and where each of its characters starts in
    them (int64 array, one entry more than ``text`` has characters: the end)."""
    points = np.frombuffer(text.encode("utf-32-le"), dtype="<u4")
    sizes = 1 + (points >= 0x80).astype(np.int64) + (points >= 0x800) + (points >= 0x10000)
    starts = np.zeros(len(points) + 1, dtype=np.int64)
    np.cumsum(sizes, out=starts[1:])
    return np.frombuffer(text.encode("utf-8"), dtype=np.uint8), starts
