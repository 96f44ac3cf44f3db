"""Plex refreshes (connections/plex_refresh.py, connections/tasks.py): which library sections and folders a
set of changed folders becomes, the debounce that turns a burst of landed files into one refresh, Plex failing without
harm, and the whole way through the embedded huey consumer to the Plex stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
import structlog
from fastapi import FastAPI
from sqlalchemy import select, update

from medianest.connections import plex_refresh as plex
from medianest.connections.models import PlexRefresh
from medianest.connections.plex_refresh import plan_refreshes
from medianest.db.base import utcnow
from medianest.integrations.plex_server import Library
from tests.conftest import Api, bearer
from tests.integrations.plexserver import PlexServer
from tests.integrations.quiet import overrides, settings  # noqa: F401 - fixtures

TOKEN = "plex-server-token"

MOVIES = Library("1", "Movies", "movie", ["/media/movies"])
SHOWS = Library("2", "TV Shows", "show", ["/media/tv", "/mnt/more-tv"])
MUSIC = Library("3", "Music", "artist", ["/media/music"])
LIBRARIES = [MOVIES, SHOWS, MUSIC]


# -- plan_refreshes ----------------------------------------------------------------------------------------------


def test_a_folder_inside_a_location_is_refreshed_alone() -> None:
    assert plan_refreshes([Path("/media/movies/Alien (1979)")], LIBRARIES) == [("1", "/media/movies/Alien (1979)")]


def test_folders_in_one_location_refresh_their_common_folder() -> None:
    folders = [Path("/media/music/Artist/Album One"), Path("/media/music/Artist/Album Two/CD1"),
               Path("/media/music/Artist/Album One")]
    assert plan_refreshes(folders, LIBRARIES) == [("3", "/media/music/Artist")]
    assert plan_refreshes([Path("/media/movies/A"), Path("/media/movies/B")], LIBRARIES) == [("1", "/media/movies")]


def test_folders_in_two_locations_of_a_library_refresh_it_whole() -> None:
    folders = [Path("/media/tv/Show A/Season 1"), Path("/mnt/more-tv/Show B")]
    assert plan_refreshes(folders, LIBRARIES) == [("2", None)]


def test_each_library_is_planned_apart() -> None:
    folders = [Path("/media/movies/Alien (1979)"), Path("/media/music/Artist/Album")]
    assert plan_refreshes(folders, LIBRARIES) == [("1", "/media/movies/Alien (1979)"),
                                                  ("3", "/media/music/Artist/Album")]


def test_a_media_root_around_locations_refreshes_those_locations() -> None:
    assert plan_refreshes([Path("/media")], LIBRARIES) == [("1", "/media/movies"), ("2", "/media/tv"),
                                                           ("3", "/media/music")]
    assert plan_refreshes([Path("/media/movies")], LIBRARIES) == [("1", "/media/movies")]


def test_path_map_translates_our_folders_to_plexs() -> None:
    libraries = [Library("1", "Movies", "movie", ["/data/movies"]), Library("9", "Other", "movie", ["/srv/media"])]
    path_map = {"/srv/media": "/data", "/srv/media/special": "/special"}
    assert plan_refreshes([Path("/srv/media/movies/Alien")], libraries, path_map) == [("1", "/data/movies/Alien")]
    # the longest prefix wins; a folder only sharing the prefix's letters is not mapped
    assert plan_refreshes([Path("/srv/media/special/x")], libraries, path_map) == []
    assert plan_refreshes([Path("/srv/mediax/movies/Alien")], libraries, path_map) == []


def test_folders_outside_every_library_plan_nothing() -> None:
    assert plan_refreshes([Path("/home/someone/Downloads")], LIBRARIES) == []
    assert plan_refreshes([Path("/media/movies-old/Alien")], LIBRARIES) == []  # a sibling, not inside
    assert plan_refreshes([], LIBRARIES) == []


# -- the debounce, with the app ----------------------------------------------------------------------------------




@pytest.fixture
def plex_server(media_dir: Path) -> Iterator[PlexServer]:
    with PlexServer(token=TOKEN) as server:
        server.set_sections([("1", "Videos", "movie", [str(media_dir / "videos")]),
                             ("2", "Music", "artist", [str(media_dir / "music")])])
        yield server


async def connect(api: Api, admin: str, server: PlexServer, **options: Any) -> str:
    r = await api.client.post("/api/v1/services", headers=bearer(admin), json={
        "kind": "plex", "name": "Plex", "url": server.url, "secret": TOKEN, "options": options})
    assert r.status_code == 201, r.text
    service_id: str = r.json()["data"]["id"]
    return service_id


async def pending(app: FastAPI) -> list[str]:
    async with app.state.parts.sessions() as session:
        return sorted((await session.scalars(select(PlexRefresh.folder))).all())


async def run(app: FastAPI, debounce_s: float) -> float | None:
    return await plex.run_refreshes(app.state.parts.sessions, app.state.parts.integrations, debounce_s)


async def test_a_burst_of_landed_files_is_one_refresh(api: Api, plex_server: PlexServer, media_dir: Path) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    folder = media_dir / "videos" / "My Playlist"
    for _ in range(50):  # a 50-video playlist: each video's folder lands
        await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [folder])
    assert await pending(api.app) == [str(folder)]

    # Requests newer than the debounce: wait, refresh nothing, keep them.
    wait = await run(api.app, 60)
    assert wait is not None and 0 < wait <= 60
    assert plex_server.refreshes() == [] and await pending(api.app) == [str(folder)]

    await asyncio.sleep(0.3)
    assert await run(api.app, 0.2) is None
    assert plex_server.refreshes() == [("1", str(folder))]
    assert await pending(api.app) == []
    assert plex_server.calls("GET", "/library/sections/1/refresh")[0].headers["x-plex-token"] == TOKEN

    assert await run(api.app, 0.2) is None  # nothing left
    assert plex_server.refreshes() == [("1", str(folder))]


async def age(app: FastAPI, folder: Path, by: timedelta) -> None:
    """As if the request for `folder` had been made `by` ago."""
    async with app.state.parts.sessions() as session:
        await session.execute(update(PlexRefresh).where(PlexRefresh.folder == str(folder))
                              .values(requested_at=utcnow() - by))
        await session.commit()


async def test_the_newest_request_decides_the_wait(api: Api, plex_server: PlexServer, media_dir: Path) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    first, second = media_dir / "videos" / "A", media_dir / "videos" / "B"
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [first, second])
    await age(api.app, first, timedelta(hours=1))
    wait = await run(api.app, 60)  # the first is old enough, the second is not: both wait
    assert wait is not None and 0 < wait <= 60
    assert plex_server.refreshes() == [] and await pending(api.app) == sorted([str(first), str(second)])

    await age(api.app, second, timedelta(minutes=2))
    assert await run(api.app, 60) is None
    assert plex_server.refreshes() == [("1", str(media_dir / "videos"))]  # one refresh of their common folder
    assert await pending(api.app) == []


async def test_folders_of_two_libraries_refresh_each(api: Api, plex_server: PlexServer, media_dir: Path) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    video, album = media_dir / "videos" / "Clip", media_dir / "music" / "Artist" / "Album"
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [video, album])
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "elsewhere"])
    assert await run(api.app, 0) is None
    assert sorted(plex_server.refreshes()) == [("1", str(video)), ("2", str(album))]
    assert await pending(api.app) == []


async def test_path_map_reaches_plex(api: Api, plex_server: PlexServer, media_dir: Path) -> None:
    admin = await api.setup_admin()
    plex_server.set_sections([("1", "Videos", "movie", ["/data/videos"])])
    await connect(api, admin, plex_server, path_map={str(media_dir): "/data"})
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos" / "Clip"])
    assert await run(api.app, 0) is None
    assert plex_server.refreshes() == [("1", "/data/videos/Clip")]


async def test_without_a_plex_connection_nothing_is_noted(api: Api, plex_server: PlexServer,
                                                          media_dir: Path) -> None:
    admin = await api.setup_admin()
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos" / "Clip"])
    assert await pending(api.app) == []
    assert await run(api.app, 0) is None

    service_id = await connect(api, admin, plex_server)
    r = await api.client.patch(f"/api/v1/services/{service_id}", json={"enabled": False}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos" / "Clip"])
    assert await pending(api.app) == []
    assert plex_server.requests == []


@pytest.mark.parametrize("fault", ["500", "refused"])
async def test_a_failing_plex_is_logged_and_the_requests_consumed(api: Api, plex_server: PlexServer,
                                                                   media_dir: Path, fault: str) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos" / "Clip"])
    if fault == "500":
        plex_server.set_faults(fail_status=500)
    else:
        plex_server.refuse()
    with structlog.testing.capture_logs() as logs:
        assert await run(api.app, 0) is None
    assert await pending(api.app) == []
    assert plex_server.refreshes() == []
    failed = [e for e in logs if e["event"] == "plex refresh failed"]
    assert len(failed) == 1 and failed[0]["log_level"] == "warning" and "Plex" in failed[0]["error"]
    if fault == "500":
        assert plex_server.calls("GET", "/library/sections")  # it was asked
        plex_server.set_faults()
        await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos" / "Next"])
        assert await run(api.app, 0) is None
        assert plex_server.refreshes() == [("1", str(media_dir / "videos" / "Next"))]


# -- through the queue -------------------------------------------------------------------------------------------


@pytest.mark.parametrize("overrides", [{"plex_refresh_debounce_s": 0.3, "queue_consumer": "on"}])
async def test_landed_files_reach_plex_through_the_queue(api: Api, plex_server: PlexServer,
                                                          media_dir: Path) -> None:
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    folder = media_dir / "videos" / "My Playlist"
    for _ in range(8):
        await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [folder])
        await asyncio.sleep(0.05)

    deadline = time.monotonic() + 60  # against a hang, not a speed check
    while not plex_server.refreshes():
        assert time.monotonic() < deadline, "no refresh reached Plex"
        await asyncio.sleep(0.1)
    await asyncio.sleep(2)  # every job scheduled by the burst has had its turn by now
    assert plex_server.refreshes() == [("1", str(folder))]
    assert await pending(api.app) == []


async def test_a_hostile_section_key_cannot_aim_the_refresh_elsewhere(api: Api, plex_server: PlexServer,
                                                                       media_dir: Path) -> None:
    """The section key comes from Plex's answer and goes back into a URL path: quoted whole, `..` and `?`
    in it cannot turn the refresh into a call to another path of the server."""
    plex_server.set_sections([("../../identity?x=", "Videos", "movie", [str(media_dir / "videos")])])
    admin = await api.setup_admin()
    await connect(api, admin, plex_server)
    plex_server.reset_log()
    await api.app.state.parts.plex.landed(api.app.state.parts.sessions, [media_dir / "videos"])
    await run(api.app, 0)
    paths = [r.path for r in plex_server.requests]
    assert "/identity" not in paths
    assert any(p.startswith("/library/sections/") and p.endswith("/refresh") and "identity" in p for p in paths)
