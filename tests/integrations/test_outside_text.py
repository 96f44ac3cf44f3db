"""Text other services send (names, titles, releases) is cleaned of NUL, control characters and bidi
overrides before it is stored or shown: OpenSubtitles results and plex.tv accounts here, against their
stand-ins on 127.0.0.1 and a real database (Seerr, Plex Media Server and Uptime Kuma are tested with their
capabilities, in tests/requests and tests/connections)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import select

from medianest.accounts.models import User
from medianest.config import Settings
from medianest.connections.models import ServiceConfig
from tests.accounts.plextv import PlexTv, running
from tests.accounts.test_plex_signin import sign_in
from tests.conftest import Api, bearer
from tests.integrations.opensubtitles import OpenSubtitles

# NUL (PostgreSQL refuses it), a bidi override ("exe.jpg" shown for "gpj.exe"), an escape sequence, a bell.
DIRTY = "Evil\x00 Name\u202egpj.exe\x1b[31m\x07"
CLEAN = "Evil Namegpj.exe[31m"
SRT = b"1\n00:00:01,000 --> 00:00:02,000\nhello\n"


@pytest.fixture
def osub() -> Iterator[OpenSubtitles]:
    with OpenSubtitles() as server:
        yield server


@pytest.fixture
def tv() -> Iterator[PlexTv]:
    with running() as server:
        yield server


@pytest.fixture
def settings(settings: Settings, tv: PlexTv) -> Settings:
    return settings.model_copy(update={"plex_tv_url": tv.url, "integrations_retry_wait_s": 0})


async def test_opensubtitles_results_are_cleaned(api: Api, osub: OpenSubtitles) -> None:
    admin = await api.setup_admin()
    osub.add_subtitle(31, "en", DIRTY, SRT, year=2020, file_name=f"{DIRTY}.srt", release=DIRTY)
    r = await api.client.post("/api/v1/services", headers=bearer(admin), json={
        "kind": "opensubtitles", "name": "OS", "url": osub.url, "secret": osub.api_key,
        "options": {"username": osub.username, "password": osub.password}})
    assert r.status_code == 201, r.text
    async with api.app.state.parts.sessions() as session:
        config = await session.get(ServiceConfig, int(r.json()["data"]["id"]))
    assert config is not None
    client = api.app.state.parts.integrations.opensubtitles(config)
    found = await client.search(None, "evil", ["en"])
    assert [(f.title, f.release, f.file_name, f.language) for f in found] == [(CLEAN, CLEAN, f"{CLEAN}.srt", "en")]
    name, content = await client.download(31)
    assert (name, content) == (f"{CLEAN}.srt", SRT)


async def test_plex_tv_names_are_cleaned_before_they_are_stored(client: httpx.AsyncClient, api: Api,
                                                               tv: PlexTv) -> None:
    person = tv.add_user(DIRTY, title=DIRTY, email="evil@example.org")
    status = await sign_in(client, tv, person)
    assert status["user"]["username"] == "Evil_Namegpj.exe_31m"
    async with api.app.state.parts.sessions() as session:
        user = await session.scalar(select(User).where(User.plex_id == str(person.id)))
    assert user is not None and (user.username, user.plex_username) == ("Evil_Namegpj.exe_31m", CLEAN)
