"""The artwork cache: cover art and thumbnails stored once per distinct image, named by content hash."""

from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path

JPEG, PNG = b"\xff\xd8", b"\x89PNG"


def extension(data: bytes) -> str:
    return ".png" if data.startswith(PNG) else ".jpg"


def store(cache: Path, data: bytes) -> str:
    """Write `data` to the cache (atomically, once) and return its file name."""
    name = hashlib.sha256(data).hexdigest()[:40] + extension(data)
    # os.path, not pathlib: this runs for every file with a cover, mostly to find it already stored,
    # and building Path objects cost more than the check itself.
    dest = os.path.join(cache, name)
    if not os.path.exists(dest):
        cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=cache, prefix=".tmp-")
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        os.replace(tmp, dest)
    return name


def path_of(cache: Path, name: str) -> Path | None:
    """The cached file for a stored name; None for names that are not ours (no traversal)."""
    if not name or "/" in name or "\\" in name or name.startswith("."):
        return None
    path = cache / name
    return path if path.is_file() else None
