"""How bytes are read: on the event loop from the page cache, in a thread when the disk must be read."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from medianest.streaming.response import CHUNK, _in_page_cache
from tests.streaming.conftest import Library


def _evict(path: Path) -> int:
    """Open `path` with its pages dropped from the page cache (where the file system allows it)."""
    fd = os.open(path, os.O_RDWR)
    os.fsync(fd)  # dirty pages cannot be dropped
    os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
    return fd


def test_page_cache_probe(tmp_path: Path) -> None:
    path = tmp_path / "data.bin"
    path.write_bytes(os.urandom(3 * CHUNK))
    fd = _evict(path)
    try:
        if _in_page_cache(fd, 0, 4096):
            pytest.skip("this file system keeps files in memory (tmpfs?) or lacks RWF_NOWAIT")
        assert not _in_page_cache(fd, CHUNK, CHUNK)
        os.pread(fd, 2 * CHUNK, 0)
        assert _in_page_cache(fd, 0, CHUNK)
        assert _in_page_cache(fd, CHUNK, CHUNK)
    finally:
        os.close(fd)


async def test_cold_file_is_served_right(library: Library) -> None:
    path = library.files["Bars Clip"]
    content = path.read_bytes()
    for spec, expected in (("bytes=1000-5095", content[1000:5096]), ("bytes=10-", content[10:]),
                           ("bytes=0-9,-10", None)):
        os.close(_evict(path))
        r = await library.stream("Bars Clip", {"Range": spec})
        assert r.status_code == 206
        if expected is not None:
            assert r.content == expected
    os.close(_evict(path))
    assert (await library.stream("Bars Clip")).content == content
