"""Library folders in a bucket: `s3://<bucket>/<prefix>` roots, listed into the same `WalkResult` a walk
of local folders makes, so the scanner plans, probes and keeps offline items the same way for both.

A listing that fails (the bucket unreachable, missing, or refusing the credentials) makes the root
offline with why, and its items are kept. A prefix with no media object is judged as a local folder is
(library/scanner.py): offline when the index has items from it, or when it replaced another prefix in the
setting (a typo) whose items would otherwise go.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import time
from dataclasses import dataclass
from pathlib import Path

from medianest.config import Settings
from medianest.errors import Unavailable
from medianest.library.walk import MEDIA_EXTENSIONS, WalkResult
from medianest.storage.objects import Bucket

# A scratch copy this old belongs to a scan that is gone (copies are read and removed at once).
SCRATCH_STALE_S = 6 * 3600


@dataclass(frozen=True)
class BucketFolders:
    """The bucket, its library folders (`s3://bucket/prefix`, no trailing slash), and where the scan
    puts a scratch copy of an object while it reads its tags."""

    bucket: Bucket
    roots: list[str]
    scratch: Path

    def prefix_of(self, root: str) -> str:
        key = self.bucket.key_of(root + "/")
        if key is None:
            raise ValueError(f"{root} is not in bucket {self.bucket.name}")
        return "" if key == "/" else key


def bucket_folders(settings: Settings, bucket: Bucket | None) -> BucketFolders | None:
    """The bucket's library folders as configured, or None when no bucket is."""
    if bucket is None or not settings.s3_roots:
        return None
    return BucketFolders(bucket, settings.s3_roots, settings.downloads_tmp_dir / "scan")


def walk_bucket(folders: BucketFolders) -> WalkResult:
    """Every media object under the roots, with size, last-modified time and ETag."""
    sweep_scratch(folders.scratch)
    result = WalkResult()
    seen: set[str] = set()
    for root in folders.roots:
        found: dict[str, tuple[int, float, str | None]] = {}
        try:
            for obj in folders.bucket.list(folders.prefix_of(root)):
                if _is_media(obj.key):
                    found[folders.bucket.url(obj.key)] = (obj.size, obj.mtime, obj.etag)
        except Unavailable as exc:
            result.offline[root] = exc.message
            continue
        result.walked_roots.append(root)
        for path, (size, mtime, etag) in found.items():
            if path not in seen:  # a root inside another root lists its objects twice
                seen.add(path)
                result.files.sizes[path], result.files.mtimes[path] = size, mtime
                if etag:
                    result.files.etags[path] = etag
    return result


def sweep_scratch(scratch: Path, now: float | None = None) -> None:
    """Remove scratch copies a killed scan left (an object's copy can be gigabytes). Only those older than
    SCRATCH_STALE_S: a scan running in another process on this host may be copying one now."""
    limit = (now or time.time()) - SCRATCH_STALE_S
    try:
        folders = [e for e in os.scandir(scratch) if e.name.startswith("object-") and e.is_dir(follow_symlinks=False)]
    except OSError:  # none yet
        return
    for folder in folders:
        with contextlib.suppress(OSError):
            if folder.stat(follow_symlinks=False).st_mtime < limit:
                shutil.rmtree(folder.path, ignore_errors=True)


def _is_media(key: str) -> bool:
    """A media file's key; never a folder marker or a hidden name (an upload's scratch object)."""
    name = key.rsplit("/", 1)[-1]
    return bool(name) and not name.startswith(".") and os.path.splitext(name)[1].lower() in MEDIA_EXTENSIONS


def merge(local: WalkResult, objects: WalkResult) -> WalkResult:
    """One walk result for the scanner from a walk of local folders and one of the bucket."""
    local.files.sizes.update(objects.files.sizes)
    local.files.mtimes.update(objects.files.mtimes)
    local.files.etags.update(objects.files.etags)
    local.walked_roots.extend(objects.walked_roots)
    local.offline.update(objects.offline)
    return local
