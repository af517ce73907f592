"""A file written atomically is the old one or the new one, never part of one."""

from __future__ import annotations

from pathlib import Path
from typing import BinaryIO

import pytest

from notnow.files import write_atomically


def test_the_new_content_replaces_the_old(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "file.bin"
    write_atomically(path, lambda stream: stream.write(b"old"))
    write_atomically(path, lambda stream: stream.write(b"new"))
    assert path.read_bytes() == b"new"
    assert [p.name for p in path.parent.iterdir()] == ["file.bin"]


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    path = tmp_path / "file.bin"
    path.write_bytes(b"old")

    def fail(stream: BinaryIO) -> None:
        stream.write(b"half")
        raise OSError(28, "No space left on device")

    with pytest.raises(OSError, match="No space left"):
        write_atomically(path, fail)
    assert path.read_bytes() == b"old"
    assert [p.name for p in tmp_path.iterdir()] == ["file.bin"]
