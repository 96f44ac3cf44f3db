"""Following a channel: a first check indexes without downloading, later checks download exactly what is
new - once, even when two workers check at the same moment - and keep-last-N prunes files and rows."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import func, select

from medianest.config import Settings
from medianest.downloads.models import Download
from medianest.library.models import Media
from medianest.subscriptions.checks import Checker
from tests.conftest import Api, bearer
from tests.downloads.mediaserver import MediaServer
from tests.subscriptions.conftest import channel, checked, checker, downloads_of, read, subscribe


async def count(app: FastAPI, model: type, *where: object) -> int:
    async with app.state.parts.sessions() as session:
        return int(await session.scalar(select(func.count()).select_from(model).where(*where)) or 0)


async def test_a_channel_gains_two_entries_and_exactly_those_are_downloaded_once(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings) -> None:
    token = await api.setup_admin()
    page = channel(server, "c", "b", "a")
    sub = await subscribe(api, token, page, mode="audio")
    assert sub["kind"] == "channel" and sub["name"] == "My Channel"
    first = await checked(api, token, sub["id"])
    assert first["items"] == {"seen": 3} and first["last_error"] is None
    assert await count(app, Download) == 0  # indexed, not downloaded

    channel(server, "e", "d", "c", "b", "a")
    check = checker(app, settings)
    results = await asyncio.gather(asyncio.to_thread(check, int(sub["id"])), asyncio.to_thread(check, int(sub["id"])))
    assert sum(r.queued for r in results if r is not None) == 2, results

    done = await downloads_of(api, token, count=2)
    assert sorted(d["url"] for d in done) == [server.url("/media/d.mp3"), server.url("/media/e.mp3")]
    assert all(d["status"] == "completed" for d in done), done
    assert await count(app, Media) == 2
    for old in ("a", "b", "c"):
        assert server.requests_for(f"/media/{old}.mp3") == []

    r = await api.client.post(f"/api/v1/subscriptions/{sub['id']}/check", headers=bearer(token))
    assert r.status_code == 202
    again = await checked(api, token, sub["id"], after=(await read(api, token, sub["id"]))["checked_at"])
    assert again["last_found"] == 0 and again["items"] == {"seen": 3, "done": 2}
    assert await count(app, Download) == 2


async def test_backfill_downloads_the_newest_on_the_first_check(api: Api, app: FastAPI, server: MediaServer) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "c", "b", "a"), mode="audio", backfill=1)
    await checked(api, token, sub["id"])
    done = await downloads_of(api, token, count=1)
    assert [d["url"] for d in done] == [server.url("/media/c.mp3")]


async def test_keep_last_removes_the_oldest_files_and_rows_together(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"), mode="audio", keep_last=2)
    sub_id = int(sub["id"])
    await checked(api, token, sub["id"])
    check = checker(app, settings)

    channel(server, "c", "b", "a")
    await asyncio.to_thread(check, sub_id)
    [first] = await downloads_of(api, token, count=1)
    oldest = Path(await media_path(app, int(first["media_ids"][0])))
    assert oldest.is_file()

    channel(server, "e", "d", "c", "b", "a")
    await asyncio.to_thread(check, sub_id)
    await downloads_of(api, token, count=3)
    assert await count(app, Media) == 3

    result = await asyncio.to_thread(check, sub_id)  # reads how the downloads ended, then prunes
    assert result is not None and result.pruned == 1
    assert not oldest.exists()
    assert await count(app, Media, Media.id == int(first["media_ids"][0])) == 0
    assert await count(app, Media) == 2
    items = (await read(api, token, sub["id"]))["items"]
    assert items == {"seen": 2, "done": 2, "pruned": 1}
    remaining = sorted(p.name for p in settings.library_dirs[0].rglob("*.mp3"))
    assert len(remaining) == 2 and oldest.name not in remaining


async def media_path(app: FastAPI, media_id: int) -> str:
    async with app.state.parts.sessions() as session:
        return str(await session.scalar(select(Media.path).where(Media.id == media_id)))


async def test_title_patterns_choose_what_is_downloaded(api: Api, app: FastAPI, server: MediaServer,
                                                        settings: Settings) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"), mode="audio", include="(2)| (3)", exclude="(3)")
    await checked(api, token, sub["id"])
    channel(server, "e", "d", "c", "b", "a")  # the generic extractor titles entries "My Channel (n)"
    result = await asyncio.to_thread(checker(app, settings), int(sub["id"]))
    assert result is not None and result.queued == 1
    [done] = await downloads_of(api, token, count=1)
    assert done["url"] == server.url("/media/d.mp3")  # "(2)", the second entry; "(3)" excluded
    # The first check left out "(1)" too (as skipped), and indexed "(2)" without downloading it.
    # Counted as done at once: its download has completed (the next check records it).
    assert (await read(api, token, sub["id"]))["items"] == {"seen": 1, "done": 1, "skipped": 3}


def dies_queueing() -> type[Checker]:
    """A Checker whose check dies once (a kill -9, the database gone) as it makes the download of a new entry
    (a class per test: its instances, one per check, share the state)."""

    class DiesQueueing(Checker):
        died = False

        def _download(self, *args: Any) -> Any:
            if not DiesQueueing.died:
                DiesQueueing.died = True
                raise RuntimeError("killed")
            return super()._download(*args)

    return DiesQueueing


async def test_a_check_that_dies_while_queueing_loses_no_entry(api: Api, app: FastAPI, server: MediaServer,
                                                                settings: Settings) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, channel(server, "b", "a"), mode="audio")
    await checked(api, token, sub["id"])
    channel(server, "d", "c", "b", "a")
    check = checker(app, settings, dies_queueing())
    died = await asyncio.to_thread(check, int(sub["id"]))
    assert died is not None and died.error is not None
    # Entries recorded as queued without their downloads would be taken for failed ones, never fetched.
    again = await asyncio.to_thread(check, int(sub["id"]))
    assert again is not None and again.error is None and again.queued == 2, again
    done = await downloads_of(api, token, count=2)
    assert sorted(d["url"] for d in done) == [server.url("/media/c.mp3"), server.url("/media/d.mp3")]
