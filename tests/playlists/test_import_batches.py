"""A large M3U8 import commits in bounded batches: other users keep writing while it runs, and a failed
import leaves no playlist behind."""

from __future__ import annotations

import asyncio
import os
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import event, func, select, update

from medianest.db.base import utcnow
from medianest.playlists.imports import IMPORT_BATCH, STALE_IMPORT
from medianest.playlists.models import Playlist, PlaylistItem
from tests.conftest import PASSWORD, bearer
from tests.playback.conftest import Library
from tests.playlists.test_playlists import PL, detail

ENTRIES = 10_000


def _entries(lib: Library, media_files: dict[str, Path], media_dir: Path) -> tuple[str, list[str]]:
    """A 10,000-entry playlist cycling through the library by absolute and relative paths and by tags."""
    titles = sorted(t for t in media_files if t in lib.ids)
    lines, expected = ["#EXTM3U"], []
    for n in range(ENTRIES):
        title = titles[(n * 7) % len(titles)]
        path = os.path.realpath(media_files[title])
        if n % 3 == 1:
            path = os.path.relpath(path, os.path.realpath(media_dir))
        lines += [f"#EXTINF:3,{title}", path]
        expected.append(lib.ids[title])
    return "\n".join(lines) + "\n", expected


async def _import(lib: Library, text: str) -> Any:
    return await lib.api.client.post(f"{PL}/import", content=text.encode(), headers={
        **bearer(lib.a), "content-type": "audio/x-mpegurl"}, timeout=600)


def _on_first_item_insert(lib: Library) -> asyncio.Event:
    """An event set when the import starts writing its items."""
    engine = lib.api.app.state.parts.sessions.kw["bind"].sync_engine
    started, loop = asyncio.Event(), asyncio.get_running_loop()

    def seen(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        if statement.lstrip().upper().startswith("INSERT INTO PLAYLIST_ITEMS"):
            loop.call_soon_threadsafe(started.set)

    event.listen(engine, "before_cursor_execute", seen)
    return started


async def test_large_import_lets_other_users_write(lib: Library, media_files: dict[str, Path],
                                                   media_dir: Path) -> None:
    text, expected = _entries(lib, media_files, media_dir)
    started = _on_first_item_insert(lib)
    importing = asyncio.create_task(_import(lib, text))
    await asyncio.wait_for(started.wait(), timeout=600)
    # Another user writes while the import fills its playlist: none of these may fail with a 500.
    others = [lib.api.client.put(f"/api/v1/media/{lib.ids[t]}/progress", json={"position_s": 1.5},
                                 headers=bearer(lib.b), timeout=600) for t in ("Circle", "Jóga", "Square")]
    login = lib.api.client.post("/api/v1/auth/login", json={"username": "bob", "password": PASSWORD},
                                timeout=600)
    answers = await asyncio.gather(*others, login)
    assert [r.status_code for r in answers] == [200] * 4, [r.text for r in answers]
    r = await importing
    assert r.status_code == 201, r.text
    assert (r.json()["data"]["matched"], r.json()["data"]["unmatched"]) == (ENTRIES, [])
    pl = await detail(lib, lib.a, r.json()["data"]["playlist"]["id"])
    assert [i["media_id"] for i in pl["items"]] == expected
    assert [i["position"] for i in pl["items"]] == list(range(ENTRIES))


def _fail_on(lib: Library, nth_insert: int, failure: str, cancel: Any = None) -> Any:
    """Make the import's `nth_insert` batch of items fail: an error, or `cancel()` (the server giving up
    on the request). `failure="dead"` also fails the clean-up, as a killed process would."""
    engine = lib.api.app.state.parts.sessions.kw["bind"].sync_engine
    inserts = 0

    def fail(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        nonlocal inserts
        words = statement.lstrip().upper()
        if words.startswith("INSERT INTO PLAYLIST_ITEMS"):
            inserts += 1
            if inserts == nth_insert and failure == "cancel":
                cancel()
            elif inserts == nth_insert:
                raise OSError("disk full")
        elif failure == "dead" and inserts >= nth_insert and words.startswith("DELETE FROM PLAYLISTS"):
            raise OSError("gone")

    event.listen(engine, "before_cursor_execute", fail)
    return lambda: event.remove(engine, "before_cursor_execute", fail)


async def _count(lib: Library, model: Any) -> int:
    async with lib.api.app.state.parts.sessions() as session:
        return await session.scalar(select(func.count()).select_from(model)) or 0


@pytest.mark.parametrize("failure", ["error", "cancel"])
async def test_failed_import_leaves_no_playlist(lib: Library, media_files: dict[str, Path], media_dir: Path,
                                                failure: str) -> None:
    text, _ = _entries(lib, media_files, media_dir)
    importing = asyncio.create_task(_import(lib, text))
    stop = _fail_on(lib, 3, failure, importing.cancel)  # after two batches are in
    with pytest.raises(OSError if failure == "error" else asyncio.CancelledError):
        await importing
    stop()
    assert (await lib.get(lib.a, PL))["data"] == []
    # A cancelled request cleans up after its answer is gone: wait for it.
    for _ in range(600):
        if (await _count(lib, Playlist), await _count(lib, PlaylistItem)) == (0, 0):
            break
        await asyncio.sleep(0.1)
    assert (await _count(lib, Playlist), await _count(lib, PlaylistItem)) == (0, 0)


async def test_import_left_by_a_dead_process_stays_hidden_then_goes(
        lib: Library, media_files: dict[str, Path], media_dir: Path) -> None:
    text, _ = _entries(lib, media_files, media_dir)
    stop = _fail_on(lib, 3, "dead")
    with pytest.raises(OSError):
        await _import(lib, text)
    stop()
    async with lib.api.app.state.parts.sessions() as session:
        left = (await session.scalars(select(Playlist))).one()
    assert await _count(lib, PlaylistItem) == 2 * IMPORT_BATCH  # two batches were in
    assert (await lib.get(lib.a, PL))["data"] == []
    assert (await lib.get(lib.a, PL, mine="true"))["data"] == []
    r = await lib.api.client.get(f"{PL}/{left.id}", headers=bearer(lib.a))
    assert r.status_code == 404, r.text
    r = await lib.api.client.post(f"{PL}/{left.id}/items", json={"media_id": lib.ids["Circle"]},
                                  headers=bearer(lib.a))
    assert r.status_code == 404, r.text
    # A later import drops it once it is older than any import can take.
    async with lib.api.app.state.parts.sessions() as session:
        await session.execute(update(Playlist).values(created_at=utcnow() - STALE_IMPORT - timedelta(seconds=1)))
        await session.commit()
    r = await _import(lib, "#EXTM3U\n")
    assert r.status_code == 201, r.text
    assert await _count(lib, Playlist) == 1 and await _count(lib, PlaylistItem) == 0
    assert [p["id"] for p in (await lib.get(lib.a, PL))["data"]] == [r.json()["data"]["playlist"]["id"]]


class _Transactions:
    """Statements and item rows of each write transaction, seen from the engine."""

    def __init__(self) -> None:
        self.closed: list[tuple[int, int]] = []  # (statements after the first write, item rows)
        self.statements = self.rows = 0
        self.writing = False

    def execute(self, _conn: Any, _cursor: Any, statement: str, parameters: Any, _context: Any,
                executemany: bool) -> None:
        verb = statement.lstrip().split(None, 1)[0].upper()
        self.writing = self.writing or verb in ("INSERT", "UPDATE", "DELETE")
        self.statements += self.writing
        if statement.lstrip().upper().startswith("INSERT INTO PLAYLIST_ITEMS"):
            self.rows += len(parameters) if executemany else max(1, statement.upper().count("), ("))

    def end(self, _conn: Any) -> None:
        if self.writing:
            self.closed.append((self.statements, self.rows))
        self.statements = self.rows = 0
        self.writing = False


async def test_large_import_commits_in_bounded_batches(lib: Library, media_files: dict[str, Path],
                                                      media_dir: Path) -> None:
    text, _ = _entries(lib, media_files, media_dir)
    engine = lib.api.app.state.parts.sessions.kw["bind"].sync_engine
    seen = _Transactions()
    event.listen(engine, "before_cursor_execute", seen.execute)
    event.listen(engine, "commit", seen.end)
    event.listen(engine, "rollback", seen.end)
    try:
        r = await _import(lib, text)
    finally:
        event.remove(engine, "before_cursor_execute", seen.execute)
        event.remove(engine, "commit", seen.end)
        event.remove(engine, "rollback", seen.end)
    assert r.status_code == 201, r.text
    assert sum(rows for _, rows in seen.closed) == ENTRIES
    # Each write transaction is short: a few statements, at most one batch of items.
    assert max(statements for statements, _ in seen.closed) <= 5, seen.closed
    assert max(rows for _, rows in seen.closed) <= 500, seen.closed
