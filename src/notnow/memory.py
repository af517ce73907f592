"""Giving freed memory back to the system. No mail logic.

glibc keeps freed small blocks for reuse instead of returning them, so a long-running
process's RSS stays at its high-water mark: what a model load or a batch of parsed
mail freed is still counted against the daemon. ``malloc_trim`` hands it back.
Elsewhere than glibc there is nothing to do.
"""

from __future__ import annotations

import contextlib
import ctypes
import functools
from typing import Any


@functools.cache
def _libc() -> Any:
    try:
        return ctypes.CDLL("libc.so.6")
    except OSError:
        return None


def release_freed_memory() -> None:
    """Return the heap's free pages to the system (a millisecond or two)."""
    libc = _libc()
    if libc is not None:
        with contextlib.suppress(AttributeError):
            libc.malloc_trim(0)
