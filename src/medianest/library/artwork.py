"""The artwork cache: cover art and thumbnails stored once per distinct image, named by content hash.

With a bucket configured, each image is also put in it (under `.medianest/artwork/`), and a host that
lacks an image fetches it from there: the API hosts of a scaled setup serve the covers a worker on
another host found, with no shared file system. The local folder is then a cache of the bucket's.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import tempfile
import time
from pathlib import Path

import structlog

from medianest.errors import Unavailable
from medianest.storage.objects import Bucket, ObjectChanged

log = structlog.get_logger(__name__)

SHARED = ".medianest/artwork/"
# After a bucket call for a cover fails, covers are kept on this host only for this long (a scan of many
# new covers during an outage would otherwise wait for the bucket once per cover).
OUTAGE_S = 60.0

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
    if not _ours(name):
        return None
    path = cache / name
    return path if path.is_file() else None


def _ours(name: str) -> bool:
    return bool(name) and "/" not in name and "\\" not in name and not name.startswith(".")


class Artwork:
    """The artwork cache of this host, backed by the bucket when there is one."""

    def __init__(self, cache: Path, bucket: Bucket | None = None) -> None:
        self.cache = cache
        self.bucket = bucket
        self._shared: set[str] = set()  # names this process knows the bucket has
        self._down_until = 0.0  # after a failed call, covers are not offered to the bucket for a while

    def store(self, data: bytes) -> str:
        """`store` into the cache, and into the bucket once (blocking: the scan's probe thread calls it)."""
        name = store(self.cache, data)
        if self.bucket is not None and name not in self._shared and time.monotonic() >= self._down_until:
            key = SHARED + name
            try:
                if not self.bucket.exists_now(key):
                    self.bucket.put_now(self.cache / name, key)
            except Unavailable as exc:  # the item is indexed all the same, its cover kept on this host
                log.warning("artwork not shared to the bucket", reason=exc.message)
                self._down_until = time.monotonic() + OUTAGE_S  # one wait per outage, not one per cover
                return name
            self._shared.add(name)
        return name

    async def file(self, name: str) -> Path | None:
        """The image's file on this host, fetched from the bucket first if another host stored it."""
        path = path_of(self.cache, name)
        if path is None and self.bucket is not None and _ours(name):
            await asyncio.to_thread(self._fetch, name)
            path = path_of(self.cache, name)
        return path

    def _fetch(self, name: str) -> None:
        self.cache.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=self.cache, prefix=".tmp-")
        os.close(fd)
        try:
            assert self.bucket is not None
            self.bucket.fetch(SHARED + name, Path(tmp))
            os.replace(tmp, self.cache / name)
        except ObjectChanged:  # not in the bucket either: no artwork
            pass
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
