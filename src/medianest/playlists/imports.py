"""M3U8 import: match every entry first (reads only), then write the playlist in bounded batches.

Each batch of `IMPORT_BATCH` items is its own short transaction, so other users' writes (a resume point,
a sign-in) get in between: SQLite has one write lock, and a 10,000-entry import holding it throughout
made them fail. The playlist is hidden (`importing`) until its last batch is in, and a failed or
cancelled import deletes it, so nobody ever sees half a playlist as if it were complete.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Sequence
from datetime import timedelta
from pathlib import Path

from sqlalchemy import delete, insert
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.db.base import utcnow
from medianest.playlists import m3u, matching
from medianest.playlists.models import Playlist, PlaylistItem
from medianest.text import clean_line

IMPORT_BATCH = 500  # items per write transaction: SQLite's write lock is held for milliseconds at a time
# An import runs within one request (bounded by the request timeout): a hidden one older than this was
# left by a process that died mid-import.
STALE_IMPORT = timedelta(hours=1)
DEFAULT_NAME = "Imported playlist"


async def import_m3u8(session: AsyncSession, user_id: int, text: str, name: str | None, roots: Sequence[Path],
                      ) -> tuple[Playlist, int, list[str]]:
    """Create a private playlist from M3U8 text; returns it, the number of matched entries and the
    locations of the others."""
    given_name, entries = m3u.read(text)
    found = await matching.match(session, entries, roots)
    media_ids = [m for m in found if m is not None]
    unmatched = [e.location[:1024] for e, m in zip(entries, found, strict=True) if m is None]
    title = (clean_line(name or "") or given_name or DEFAULT_NAME)[:255]
    pl = await _uncancellable(_Writes(session, user_id, title, media_ids))
    return pl, len(media_ids), unmatched


async def _uncancellable(writes: _Writes) -> Playlist:
    """Run `writes` in a task of its own, so that cancelling the request (a timeout, a client gone) never
    cuts a statement off midway: that left SQLite's write lock held by a connection nobody would use
    again. A cancelled request asks the writes to stop after the current batch, and waits for them to
    clean up."""
    task = asyncio.ensure_future(writes.run())
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        writes.stop.set()
        await asyncio.wait([task])
        raise


class _Writes:
    """Create the hidden playlist, fill it a batch at a time, then show it; on any failure, delete it."""

    def __init__(self, session: AsyncSession, user_id: int, name: str, media_ids: list[int]) -> None:
        self.session, self.user_id, self.name, self.media_ids = session, user_id, name, media_ids
        self.stop = asyncio.Event()

    async def run(self) -> Playlist:
        pl = await self._start()
        playlist_id = pl.id  # a rollback expires `pl`: reading it again would need a query
        try:
            for start in range(0, len(self.media_ids), IMPORT_BATCH):
                if self.stop.is_set():
                    raise asyncio.CancelledError
                await self._batch(pl, start)
            pl.importing = False  # complete: shown from now on
            await self.session.commit()
        except BaseException:
            await self._abandon(playlist_id)
            raise
        return pl

    async def _start(self) -> Playlist:
        """A new, hidden playlist; imports left unfinished by a dead process go first."""
        await self.session.execute(delete(Playlist).where(
            Playlist.importing.is_(True), Playlist.created_at < utcnow() - STALE_IMPORT))
        pl = Playlist(owner_id=self.user_id, name=self.name, is_public=False, importing=True)
        self.session.add(pl)
        await self.session.commit()
        return pl

    async def _batch(self, pl: Playlist, start: int) -> None:
        ids = self.media_ids[start:start + IMPORT_BATCH]
        await self.session.execute(insert(PlaylistItem), [
            {"playlist_id": pl.id, "media_id": media_id, "position": start + n} for n, media_id in enumerate(ids)])
        await self.session.commit()

    async def _abandon(self, playlist_id: int) -> None:
        """Delete the playlist (its items go with it). Should even that fail, it stays hidden and a later
        import drops it as stale."""
        with contextlib.suppress(Exception):
            await self.session.rollback()
            await self.session.execute(delete(Playlist).where(Playlist.id == playlist_id))
            await self.session.commit()
