"""The library listing pages by keyset: every sort and order, across the remembered positions, with ties and
items without a sort key, gives exactly the pages the plain ORDER BY ... OFFSET query gives; and the totals
follow every write, in this process or another one."""

from __future__ import annotations

import asyncio
import contextlib
import random
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import ColumnElement, delete, insert, select, update
from sqlalchemy.engine import make_url

from medianest.app import create_app
from medianest.config import Settings
from medianest.library import listing
from medianest.library.models import Media, MediaGeneration
from tests.conftest import BACKENDS, Api, bearer, make_settings

# More items than two of the listing's strides, so pages start and end on both sides of remembered
# positions; half the albums are missing, so the segment without a key spans a remembered position too.
ITEMS = 2 * listing.STRIDE + 234
PER_PAGE = 97  # no divisor of the stride: pages straddle its positions
SORTS = {"title": Media.title, "artist": Media.artist, "album": Media.album, "added_at": Media.added_at,
         "duration": Media.duration_s}
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)


def _row(n: int) -> dict[str, Any]:
    """An item as a scan writes one, with many equal keys and many missing ones."""
    return {
        "kind": "video" if n % 10 == 0 else "audio", "title": f"Same {n % 7}" if n % 3 else f"Song {n:05d}",
        "artist": None if n % 4 == 0 else f"Artist {n % 13}", "album": None if n % 2 == 0 else f"Album {n % 17}",
        "genre": ("Rock", "Jazz", None)[n % 3], "duration_s": None if n % 3 == 0 else float(n % 11),
        "mime": "audio/mpeg", "path": f"/media/item-{n:05d}.mp3", "size": 1000 + n, "mtime": 1.7e9,
        "search_text": f"item {n}", "added_at": EPOCH + timedelta(seconds=n // 40),  # a batch shares a time
        "updated_at": EPOCH,
    }


async def _insert(app: FastAPI, numbers: range) -> None:
    async with app.state.parts.sessions() as session:
        await session.execute(insert(Media), [_row(n) for n in numbers])
        await session.commit()


@pytest.fixture
def settings(tmp_path: Path, database_url: str) -> Settings:
    """No media files (the items are written as a scan writes them) and no rate limits: these tests page
    through the whole listing many times."""
    (tmp_path / "media").mkdir()
    return make_settings(tmp_path, tmp_path / "media", database_url).model_copy(update={"rate_limits_enabled": False})


@pytest.fixture
async def admin(api: Api, app: FastAPI) -> str:
    token = await api.setup_admin()
    await _insert(app, range(ITEMS))
    return token


async def _expected(app: FastAPI, sort: str, order: str, **filters: str) -> list[str]:
    """Every matching id in the order of the plain query the listing used to send."""
    column = SORTS[sort]
    ordering = ([column.desc().nulls_last(), Media.id.desc()] if order == "desc"
                else [column.asc().nulls_last(), Media.id.asc()])
    where: list[ColumnElement[bool]] = [getattr(Media, name) == value for name, value in filters.items()]
    async with app.state.parts.sessions() as session:
        ids = await session.scalars(select(Media.id).where(Media.deleted_at.is_(None), *where).order_by(*ordering))
        return [str(i) for i in ids]


async def _page(api: Api, token: str, page: int, per_page: int = PER_PAGE, **params: Any) -> dict[str, Any]:
    r = await api.client.get("/api/v1/media", params={"page": page, "per_page": per_page, **params},
                             headers=bearer(token))
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


async def _assert_pages(api: Api, token: str, expected: list[str], pages: list[int], per_page: int = PER_PAGE,
                        **params: Any) -> None:
    for page in pages:
        body = await _page(api, token, page, per_page, **params)
        start = (page - 1) * per_page
        assert [i["id"] for i in body["data"]] == expected[start:start + per_page], (params, page)
        assert body["meta"] == {"page": page, "per_page": per_page, "total": len(expected),
                                "has_more": start + per_page < len(expected)}, (params, page)


def _orders(count: int, per_page: int = PER_PAGE) -> list[int]:
    """Every page and one past the end: the last first (nothing remembered yet), then from the first,
    then shuffled (jumps back and forth between remembered positions)."""
    pages = list(range(1, -(-count // per_page) + 2))
    shuffled = pages[:]
    random.Random(count).shuffle(shuffled)
    return [pages[-2], *pages, *shuffled]


@pytest.mark.parametrize("sort", list(SORTS))
async def test_every_sort_and_order_pages_as_the_plain_query_does(api: Api, app: FastAPI, admin: str,
                                                                  sort: str) -> None:
    for order in ("asc", "desc"):
        expected = await _expected(app, sort, order)
        assert len(expected) == ITEMS
        await _assert_pages(api, admin, expected, _orders(ITEMS), sort=sort, order=order)


async def test_the_default_order_of_each_sort(api: Api, app: FastAPI, admin: str) -> None:
    for sort, order in (("title", "asc"), ("added_at", "desc"), ("duration", "asc")):
        expected = await _expected(app, sort, order)
        await _assert_pages(api, admin, expected, [1, 7, 13], sort=sort)
    await _assert_pages(api, admin, await _expected(app, "title", "asc"), [1, 12])  # no sort: by title


@pytest.mark.parametrize("filters", [{"kind": "video"}, {"kind": "audio"}, {"genre": "Jazz"},
                                     {"artist": "Artist 3"}, {"album": "Album 5", "kind": "audio"}])
async def test_filters_page_as_the_plain_query_does(api: Api, app: FastAPI, admin: str,
                                                    filters: dict[str, str]) -> None:
    for sort in ("title", "artist", "album", "duration"):
        for order in ("asc", "desc"):
            expected = await _expected(app, sort, order, **filters)
            await _assert_pages(api, admin, expected, _orders(len(expected), 41), 41, sort=sort, order=order,
                                **filters)


async def test_the_callers_own_state_and_search_still_page_correctly(api: Api, app: FastAPI, admin: str) -> None:
    ids = await _expected(app, "title", "asc")
    for media_id in ids[5:300:3]:
        await api.client.put(f"/api/v1/media/{media_id}/like", headers=bearer(admin))
    for media_id in ids[:40]:
        r = await api.client.post(f"/api/v1/media/{media_id}/plays", headers=bearer(admin),
                                  json={"position_s": 1, "listened_s": 1, "completed": True})
        assert r.status_code in (200, 201, 204), r.text
    liked = await _all(api, admin, liked="true", sort="title")
    assert liked == [i for i in ids if i in set(ids[5:300:3])]
    not_liked = await _all(api, admin, liked="false", sort="artist")
    assert sorted(not_liked) == sorted(set(ids) - set(ids[5:300:3]))
    played = await _all(api, admin, sort="play_count")
    assert set(played[:40]) == set(ids[:40]) and len(played) == ITEMS
    found = await _all(api, admin, q="item", sort="title")
    assert found == ids


async def _all(api: Api, token: str, **params: Any) -> list[str]:
    out: list[str] = []
    page = 1
    while True:
        body = await _page(api, token, page, 100, **params)
        out += [i["id"] for i in body["data"]]
        if not body["meta"]["has_more"]:
            return out
        page += 1


async def test_totals_and_pages_follow_every_write(api: Api, app: FastAPI, admin: str) -> None:
    async def check(**params: str) -> None:
        expected = await _expected(app, "title", "asc", **params)
        await _assert_pages(api, admin, expected, [1, -(-len(expected) // PER_PAGE), 6], sort="title", **params)

    await check()
    await check(kind="video")
    await _insert(app, range(ITEMS, ITEMS + 30))  # a scan adds items
    await check()
    await check(kind="video")
    ids = await _expected(app, "title", "asc")
    assert (await api.client.delete(f"/api/v1/media/{ids[600]}", headers=bearer(admin))).status_code == 204
    await check()
    r = await api.client.delete(f"/api/v1/media/{ids[3]}", params={"purge": "true"}, headers=bearer(admin))
    assert r.status_code == 204
    await check()
    async with app.state.parts.sessions() as session:  # a scan removes the items whose files are gone
        await session.execute(delete(Media).where(Media.id.in_([int(i) for i in ids[700:720]])))
        await session.commit()
    await check()
    await check(kind="video")
    r = await api.client.patch(f"/api/v1/media/{ids[-1]}", json={"title": "Aaa first now"}, headers=bearer(admin))
    assert r.status_code == 200
    await check()
    assert (await _page(api, admin, 1, sort="title"))["data"][0]["id"] == ids[-1]
    async with app.state.parts.sessions() as session:  # a rescan re-reads a file's tags
        await session.execute(update(Media).where(Media.id == int(ids[10])).values(artist=None, kind="video"))
        await session.commit()
    await check(kind="video")
    expected = await _expected(app, "artist", "asc")
    await _assert_pages(api, admin, expected, _orders(len(expected)), sort="artist", order="asc")


@contextlib.asynccontextmanager
async def _another_process(settings: Settings) -> AsyncIterator[Api]:
    """A second app on the same database: its own engine and its own remembered listings, as another
    server process has."""
    other = create_app(settings)
    async with other.router.lifespan_context(other), httpx.AsyncClient(
            transport=httpx.ASGITransport(app=other), base_url="http://testserver") as client:
        yield Api(client, other)


async def test_a_write_in_another_process_is_seen_at_once(api: Api, app: FastAPI, admin: str,
                                                          settings: Settings) -> None:
    async with _another_process(settings) as other:
        for who in (api, other):  # both remember the listing
            assert (await _page(who, admin, 9, sort="album"))["meta"]["total"] == ITEMS
        ids = await _expected(app, "album", "asc")
        assert (await other.client.delete(f"/api/v1/media/{ids[0]}", headers=bearer(admin))).status_code == 204
        await _insert(other.app, range(ITEMS, ITEMS + 3))
        expected = await _expected(app, "album", "asc")
        assert len(expected) == ITEMS + 2
        for who in (api, other):
            await _assert_pages(who, admin, expected, [9, 1, 12, 13], sort="album")


async def _generation(app: FastAPI) -> int:
    async with app.state.parts.sessions() as session:
        return int(await session.scalar(select(MediaGeneration.generation)) or 0)


async def test_every_transaction_writing_media_moves_the_generation(app: FastAPI, settings: Settings) -> None:
    before = await _generation(app)
    await _insert(app, range(10))
    inserted = await _generation(app)
    if settings.is_sqlite:
        assert inserted > before
    else:
        assert inserted == before + 1  # once per transaction, however many rows
    async with app.state.parts.sessions() as session:
        await session.execute(update(Media).where(Media.id == 1).values(title="x"))
        await session.commit()
    updated = await _generation(app)
    assert updated > inserted
    async with app.state.parts.sessions() as session:
        await session.execute(delete(Media).where(Media.id == 2))
        await session.commit()
    settled = await _generation(app)
    assert settled > updated
    async with app.state.parts.sessions() as session:
        await session.execute(update(Media).where(Media.id == 3).values(title="y"))
        await session.rollback()
    assert await _generation(app) == settled  # a rollback bumps nothing


@pytest.mark.parametrize("database_url", [b for b in BACKENDS if b == "postgresql"], indirect=True)
async def test_two_writers_locking_each_others_rows_do_not_deadlock_over_the_generation(
        app: FastAPI, settings: Settings) -> None:
    """PostgreSQL (SQLite has one writer at a time): the counter is bumped at commit, so a writer never
    holds it while waiting for rows."""
    await _insert(app, range(2))
    dsn = make_url(settings.db_url).set(drivername="postgresql").render_as_string(hide_password=False)
    first, second = await asyncpg.connect(dsn), await asyncpg.connect(dsn)
    try:
        ids = [r["id"] for r in await first.fetch("SELECT id FROM media ORDER BY id")]
        await first.execute("BEGIN")
        await second.execute("BEGIN")
        await first.execute("UPDATE media SET title = 'a' WHERE id = $1", ids[0])
        # Were the counter bumped at once, the second writer would now wait for the first's lock on it,
        # the first for the second's row below, and PostgreSQL would abort one of them as a deadlock.
        own_row = asyncio.create_task(second.execute("UPDATE media SET title = 'b' WHERE id = $1", ids[1]))
        await asyncio.sleep(0.2)
        waiting = asyncio.create_task(first.execute("UPDATE media SET title = 'c' WHERE id = $1", ids[1]))
        await asyncio.sleep(0.2)
        assert not waiting.done()  # it waits for the second writer's row
        await asyncio.wait_for(own_row, 5)
        await second.execute("COMMIT")
        await asyncio.wait_for(waiting, 5)
        await first.execute("COMMIT")
    finally:
        await first.close()
        await second.close()
    assert await _generation(app) >= 3
