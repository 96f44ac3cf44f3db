"""A finished download's file landed in the bucket (MEDIANEST_DOWNLOADS_STORAGE=s3) instead of a folder.

The key is `<downloads prefix><template>` (a free one: `stem (2).ext` when an indexed object, another
download or a file put there by someone else has it), chosen once per item and recorded before the
upload. A worker killed after uploading leaves the key recorded; the run that takes the download over
uploads to the same key again (a PUT replaces), so no second object is left. An upload that fails or is
killed halfway leaves no object at all: S3 shows one only when its last part is committed.
"""

from __future__ import annotations

import itertools
from pathlib import Path, PurePosixPath
from typing import Any

from medianest.db.engine import SessionFactory
from medianest.downloads import rows
from medianest.downloads.spec import Failure
from medianest.errors import Unavailable
from medianest.filenames import numbered, render_template
from medianest.library.walk import FileStat
from medianest.storage.objects import Bucket


class ObjectLanding:
    def __init__(self, sessions: SessionFactory, bucket: Bucket, prefix: str, template: str) -> None:
        self.sessions, self.bucket, self.prefix, self.template = sessions, bucket, prefix, template

    async def upload(self, download_id: int, item_id: int, claim: str | None, src: Path,
                     source: dict[str, Any]) -> FileStat:
        """Put `src` at the item's key; the object as the index records it. `Failure` (transient: the
        download is retried) when the bucket cannot be reached."""
        key = await self._key(download_id, item_id, claim, src, source)
        try:
            stored = await self.bucket.upload(src, key)
        except Unavailable as exc:
            raise Failure(f"the download could not be stored: {exc.message}", transient=True) from None
        return FileStat(self.bucket.url(key), stored.size, stored.mtime, stored.etag)

    async def remove(self, stat: FileStat) -> None:
        """Take back an object that will not be indexed (its file is not playable media)."""
        key = self.bucket.key_of(stat.path)
        if key is not None:
            await self.bucket.delete(key)

    async def discard(self, download_id: int) -> None:
        """A download that failed for good: the objects its items were uploaded to and that were never
        indexed go (a retry starts over and chooses anew)."""
        for item_id, key in await rows.unindexed_targets(self.sessions, download_id):
            if not await rows.key_indexed(self.sessions, self.bucket.url(key)):
                await self.bucket.delete(key)
            await rows.forget_target(self.sessions, item_id)

    async def _key(self, download_id: int, item_id: int, claim: str | None, src: Path,
                   source: dict[str, Any]) -> str:
        chosen = await rows.target_of(self.sessions, item_id)
        if chosen is not None:
            return chosen
        key = await self._free(self.prefix + str(self._relative(src, source)))
        if not await rows.set_target(self.sessions, download_id, item_id, claim, key):
            chosen = await rows.target_of(self.sessions, item_id)
            if chosen is None:  # not recorded because the download was taken back: that run lands it
                raise Failure("the download was taken over by another worker", transient=True)
            return chosen
        return key

    def _relative(self, src: Path, source: dict[str, Any]) -> PurePosixPath:
        fields = {"channel": source.get("channel"), "title": source.get("title"), "id": source.get("id"),
                  "site": source.get("site"), "uploader": source.get("channel"),
                  "upload_date": (source.get("uploaded_at") or "")[:10] or None}
        return render_template(self.template, fields, src.suffix.lstrip("."))

    async def _free(self, key: str) -> str:
        folder, _, name = key.rpartition("/")
        for n in itertools.count(1):
            candidate = key if n == 1 else f"{folder}/{numbered(name, n)}" if folder else numbered(name, n)
            try:
                taken = await self.bucket.exists(candidate)
            except Unavailable as exc:
                raise Failure(f"the download could not be stored: {exc.message}", transient=True) from None
            if not taken and not await rows.key_taken(self.sessions, self.bucket.url(candidate), candidate):
                return candidate
        raise AssertionError("unreachable")
