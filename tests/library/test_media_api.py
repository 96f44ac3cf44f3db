"""Browsing the library: search, filters, sort, pagination, edits, deletes, artists and albums."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy import text

from medianest.config import Settings
from medianest.db.migrate import alembic_config
from medianest.library.scanner import Scanner
from tests.conftest import Api, bearer


@pytest.fixture
async def admin(api: Api, media_files: dict[str, Path]) -> str:
    token = await api.setup_admin()
    await api.scan()
    return token


async def _titles(api: Api, token: str, **params: object) -> list[str]:
    r = await api.client.get("/api/v1/media", params={"per_page": 100, **params}, headers=bearer(token))
    assert r.status_code == 200, r.text
    return [i["title"] for i in r.json()["data"]]


@pytest.mark.parametrize(("query", "expected"), [
    ("bjork", {"Jóga", "Bachelorette"}),           # diacritics folded
    ("BJÖRK homo", {"Jóga", "Bachelorette"}),      # several words must all match; case folded
    ("bache", {"Bachelorette"}),                   # prefix
    ("electronique", {"Jóga", "Bachelorette"}),    # genre is searched too
    ("日本語", {"Ünïcödé 日本語 🎵"}),
    ("camera two", {"Matroska Sample"}),
    ("nothing-like-this", set()),
])
async def test_search(api: Api, admin: str, query: str, expected: set[str]) -> None:
    assert set(await _titles(api, admin, q=query)) == expected


@pytest.mark.parametrize("query", ['"', "*", "AND OR NOT", "a:b", "'; DROP TABLE media; --", "(", "^", "-x"])
async def test_search_syntax_is_never_interpreted(api: Api, admin: str, query: str) -> None:
    r = await api.client.get("/api/v1/media", params={"q": query}, headers=bearer(admin))
    assert r.status_code == 200


async def test_punctuation_splits_words_on_both_databases(api: Api, admin: str, settings: Settings) -> None:
    """PostgreSQL's parser read "MPEG-4" as "mpeg" and "-4" and "Mr.Bungle" as a host name, so "4" and
    "bungle" found nothing there; items indexed before 0007 are written again by its upgrade."""
    item = await api.media_by_title(admin, "Circle")
    r = await api.client.patch(f"/api/v1/media/{item['id']}", json={"title": "Mr.Bungle MPEG-4 Clip"},
                               headers=bearer(admin))
    assert r.status_code == 200
    for query in ("MPEG-4", "4", "bungle", "mr bungle", "Mr.Bungle MPEG-4 Clip"):
        assert await _titles(api, admin, q=query) == ["Mr.Bungle MPEG-4 Clip"], query
    async with api.app.state.parts.sessions() as session:  # as 0006 and before indexed it
        await session.execute(text("UPDATE media SET search_text = 'mr.bungle mpeg-4 clip' WHERE id = :id"),
                              {"id": int(item["id"])})
        await session.commit()
    await api.app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0006")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    assert await _titles(api, admin, q="bungle 4") == ["Mr.Bungle MPEG-4 Clip"]


async def test_filters(api: Api, admin: str) -> None:
    assert set(await _titles(api, admin, kind="video")) == {"Bars Clip", "Motion Study", "Matroska Sample"}
    assert set(await _titles(api, admin, artist="Steady Hands")) == {"Circle", "Square"}
    assert set(await _titles(api, admin, album="Homogenic", kind="audio")) == {"Jóga", "Bachelorette"}
    assert set(await _titles(api, admin, genre="Ambient")) == {"Circle", "Square"}
    square = await api.media_by_title(admin, "Square")
    await api.client.put(f"/api/v1/media/{square['id']}/like", headers=bearer(admin))
    assert await _titles(api, admin, liked="true") == ["Square"]
    assert "Square" not in await _titles(api, admin, liked="false")


async def test_sort_and_order(api: Api, admin: str) -> None:
    titles = await _titles(api, admin, kind="video", sort="title")
    assert titles == ["Bars Clip", "Matroska Sample", "Motion Study"]
    assert await _titles(api, admin, kind="video", sort="title", order="desc") == titles[::-1]
    durations = [i["duration_s"] for i in (await api.client.get(
        "/api/v1/media", params={"sort": "duration", "order": "desc"}, headers=bearer(admin))).json()["data"]]
    assert durations == sorted(durations, reverse=True)


async def test_pagination_meta(api: Api, admin: str) -> None:
    r = await api.client.get("/api/v1/media", params={"per_page": 3, "page": 2, "sort": "title"},
                             headers=bearer(admin))
    body = r.json()
    assert body["meta"] == {"page": 2, "per_page": 3, "total": 10, "has_more": True}
    all_titles = await _titles(api, admin, sort="title")
    assert [i["title"] for i in body["data"]] == all_titles[3:6]
    last = await api.client.get("/api/v1/media", params={"per_page": 3, "page": 4}, headers=bearer(admin))
    assert last.json()["meta"]["has_more"] is False and len(last.json()["data"]) == 1
    for bad in ({"per_page": 101}, {"page": 0}, {"sort": "size"}, {"kind": "image"}):
        r = await api.client.get("/api/v1/media", params=bad, headers=bearer(admin))
        assert r.status_code == 422 and r.json()["error"]["details"]["fields"], bad


async def test_admin_edits_tags_and_search_follows(api: Api, admin: str) -> None:
    item = await api.media_by_title(admin, "Circle")
    r = await api.client.patch(f"/api/v1/media/{item['id']}", json={"title": "Perfect Circle", "year": 1999},
                               headers=bearer(admin))
    assert r.status_code == 200 and r.json()["data"]["title"] == "Perfect Circle"
    assert await _titles(api, admin, q="perfect") == ["Perfect Circle"]
    user = await api.create_user(admin, "dave")
    denied = await api.client.patch(f"/api/v1/media/{item['id']}", json={"title": "x"}, headers=bearer(user))
    assert denied.status_code == 403


async def test_soft_delete_hides_and_survives_rescan_purge_removes_file(
        api: Api, admin: str, media_files: dict[str, Path]) -> None:
    square = await api.media_by_title(admin, "Square")
    assert (await api.client.delete(f"/api/v1/media/{square['id']}", headers=bearer(admin))).status_code == 204
    assert (await api.client.get(f"/api/v1/media/{square['id']}", headers=bearer(admin))).status_code == 404
    await api.scan()
    assert "Square" not in await _titles(api, admin)
    assert media_files["Square"].exists()

    joga = await api.media_by_title(admin, "Jóga")
    r = await api.client.delete(f"/api/v1/media/{joga['id']}", params={"purge": "true"}, headers=bearer(admin))
    assert r.status_code == 204
    assert not media_files["Jóga"].exists()
    bachelorette = await api.media_by_title(admin, "Bachelorette")  # shares the cover: it must survive
    assert (await api.client.get(bachelorette["artwork_url"])).status_code == 200


async def test_artists_and_albums_with_counts(api: Api, admin: str) -> None:
    artists = (await api.client.get("/api/v1/artists", headers=bearer(admin))).json()
    assert {"name": "Steady Hands", "media_count": 2} in artists["data"]
    albums = (await api.client.get("/api/v1/albums", params={"artist": "Björk Tribute"},
                                   headers=bearer(admin))).json()["data"]
    assert albums == [{"name": "Homogenic", "artist": "Björk Tribute", "year": 2020, "media_count": 2,
                       "duration_s": pytest.approx(6.0, abs=0.5)}]


async def test_scan_endpoint_runs_in_the_background(api: Api, admin: str) -> None:
    r = await api.client.post("/api/v1/library/scans", headers=bearer(admin))
    assert r.status_code == 202
    scan_id = r.json()["data"]["id"]
    await api.app.state.parts.scans.wait()
    done = (await api.client.get(f"/api/v1/library/scans/{scan_id}", headers=bearer(admin))).json()["data"]
    assert done["status"] == "completed" and done["failed"] == 3 and done["total"] == 13
    events = [e for e, _, _ in api.app.state.parts.notifier.recent]
    assert "library:scan-progress" in events
    missing = await api.client.get("/api/v1/library/scans/99999", headers=bearer(admin))
    assert missing.status_code == 404


async def test_a_failing_scan_is_recorded_and_announced(api: Api, admin: str, monkeypatch: pytest.MonkeyPatch) -> None:
    async def broken(self: Scanner, progress: object) -> None:
        raise OSError("the disk went away")

    monkeypatch.setattr(Scanner, "run", broken)  # the scanner the queued task makes
    r = await api.client.post("/api/v1/library/scans", headers=bearer(admin))
    scan_id = r.json()["data"]["id"]
    await api.app.state.parts.scans.wait()
    done = (await api.client.get(f"/api/v1/library/scans/{scan_id}", headers=bearer(admin))).json()["data"]
    assert done["status"] == "failed" and done["error"] == "the disk went away"
    ends = [p for e, p, _ in api.app.state.parts.notifier.recent if e == "library:scan-progress" and p["id"] == scan_id]
    assert ends[-1] == {"id": scan_id, "status": "failed", "error": "the disk went away"}
