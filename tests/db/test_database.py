"""The database: migrations match the models on both backends, SQLite runs in WAL with foreign keys."""

from __future__ import annotations

import asyncio

import httpx
from alembic import command
from fastapi import FastAPI
from sqlalchemy import select, text

from medianest.config import Settings
from medianest.db.engine import create_engine
from medianest.db.migrate import alembic_config
from medianest.db.models import Base
from medianest.library import catalog
from medianest.library.models import Album, Media
from tests.conftest import PASSWORD, Api, bearer


async def test_migrations_match_the_models(app: FastAPI, settings: Settings) -> None:
    # Raises if autogenerate would emit anything: a model changed without a migration.
    await asyncio.to_thread(command.check, alembic_config(settings.db_url))


async def test_every_table_meant_to_never_reuse_ids_has_autoincrement_after_all_migrations(
        app: FastAPI, settings: Settings) -> None:
    """A batch rebuild on SQLite (a new foreign key, an index) makes the table again from its reflection,
    which forgets AUTOINCREMENT unless the migration says it: then a removed download's id, which names its
    Socket.IO room, would be handed out again. PostgreSQL's sequences never reuse ids."""
    if not settings.is_sqlite:
        return
    meant = sorted(t.name for t in Base.metadata.sorted_tables if t.dialect_options["sqlite"]["autoincrement"])
    async with app.state.parts.sessions() as session:
        made = {name: sql for name, sql in (await session.execute(text(
            "SELECT name, sql FROM sqlite_master WHERE type = 'table'"))).all()}
    assert "downloads" in meant and "subscriptions" in meant
    assert [t for t in meant if "AUTOINCREMENT" not in made[t].upper()] == []


async def test_sqlite_runs_in_wal_with_foreign_keys(app: FastAPI, settings: Settings) -> None:
    async with app.state.parts.sessions() as session:
        if not settings.is_sqlite:
            assert (await session.execute(text("SELECT 1"))).scalar() == 1
            return
        assert (await session.execute(text("PRAGMA journal_mode"))).scalar() == "wal"
        assert (await session.execute(text("PRAGMA foreign_keys"))).scalar() == 1


async def test_migrations_downgrade_and_upgrade_cleanly(app: FastAPI, settings: Settings) -> None:
    await app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "base")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    await asyncio.to_thread(command.check, cfg)


async def test_rebuilding_a_table_keeps_the_rows_that_point_at_it(app: FastAPI, settings: Settings) -> None:
    """0004 rebuilds `users` on SQLite; with foreign keys on, the DROP inside would cascade-delete sessions,
    keys, plays and playlists of every user."""
    api = Api(httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver"), app)
    admin = await api.setup_admin()
    await api.client.post("/api/v1/auth/api-keys", json={"name": "k"}, headers=bearer(admin))
    await api.client.post("/api/v1/playlists", json={"name": "mine"}, headers=bearer(admin))
    await app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0003")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    engine = create_engine(settings.db_url)
    try:
        async with engine.connect() as conn:
            counts = [(await conn.execute(text(f"SELECT count(*) FROM {t}"))).scalar()  # noqa: S608 - fixed names
                      for t in ("users", "refresh_tokens", "api_keys", "playlists")]
    finally:
        await engine.dispose()
    assert counts == [1, 1, 1, 1]


async def test_a_deleted_users_id_is_never_given_again(api: Api) -> None:
    admin = await api.setup_admin()
    r = await api.client.post("/api/v1/users", json={"username": "carol", "password": PASSWORD},
                              headers=bearer(admin))
    carol = r.json()["data"]["id"]
    assert (await api.client.delete(f"/api/v1/users/{carol}", headers=bearer(admin))).status_code == 204
    r = await api.client.post("/api/v1/users", json={"username": "dave", "password": PASSWORD},
                              headers=bearer(admin))
    assert int(r.json()["data"]["id"]) > int(carol)


async def test_upgrading_to_0006_probes_again_the_items_read_differently_now(api: Api, settings: Settings) -> None:
    """Items indexed before 0006 kept decoder names (`mp3float`, `libdav1d`) and lacked the tags of some
    containers; the next scan after the upgrade reads them again, in place, and only them."""
    token = await api.setup_admin()
    await api.scan()
    before = {i["title"]: i for i in await api.all_media(token)}
    async with api.app.state.parts.sessions() as session:
        await session.execute(text("UPDATE media SET audio_codec = 'mp3float', genre = NULL WHERE title = 'Jóga'"))
        await session.execute(text("UPDATE media SET video_codec = 'libdav1d', genre = NULL WHERE title = 'Bars Clip'"))
        await session.execute(text("UPDATE media SET genre = NULL WHERE title = 'Circle'"))  # read right then
        await session.commit()
    await api.app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0005")
    await asyncio.to_thread(command.upgrade, cfg, "head")

    scan = await api.scan()

    assert (scan["updated"], scan["added"], scan["removed"]) == (2, 0, 0)
    after = {i["title"]: i for i in await api.all_media(token)}
    assert {t: i["id"] for t, i in after.items()} == {t: i["id"] for t, i in before.items()}
    for title in ("Jóga", "Bars Clip"):
        assert {k: after[title][k] for k in ("genre", "audio_codec", "video_codec")} == {
            k: before[title][k] for k in ("genre", "audio_codec", "video_codec")}
    assert after["Circle"]["genre"] is None


async def test_upgrading_to_0008_writes_the_catalog_keys_and_reads_possible_compilations_again(
        api: Api, settings: Settings) -> None:
    """Items indexed before 0008 get their album and artist keys at once (as the app computes them), and
    the audio of albums without an album artist whose tracks name several artists is read again by the
    next scan, for the compilation flag; the scan after the upgrade builds the albums."""
    token = await api.setup_admin()
    await api.scan()
    await api.app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0007")
    async with api.app.state.parts.sessions() as session:  # a mix: one album, two artists, no album artist
        await session.execute(text("UPDATE media SET album = 'Mixed', album_artist = NULL "
                                   "WHERE title IN ('Jóga', 'Circle')"))
        await session.commit()
    await api.app.state.parts.sessions.kw["bind"].dispose()
    await asyncio.to_thread(command.upgrade, cfg, "head")

    async with api.app.state.parts.sessions() as session:
        rows = (await session.scalars(select(Media))).all()
        for media in rows:
            assert {"album_key": media.album_key, "artist_key": media.artist_key,
                    "album_artist_key": media.album_artist_key} == catalog.keys_of(
                media.kind, media.artist, media.album, media.album_artist, False), media.title
        marked = {m.title for m in rows if m.mtime == -1.0}
    assert marked == {"Jóga", "Circle"}
    scan = await api.scan()
    assert scan["updated"] == 2
    async with api.app.state.parts.sessions() as session:
        albums = {a.name for a in (await session.scalars(select(Album))).all()}
    assert albums == {"Homogenic", "Loops", catalog.UNKNOWN_ALBUM}  # read again: the files say so
    assert len(await api.all_media(token)) == 10


async def test_upgrading_to_0011_keeps_every_item_findable_by_a_prefix(api: Api, settings: Settings) -> None:
    """0011 makes SQLite's search index anew (with word prefixes indexed): what was indexed before is in it."""
    token = await api.setup_admin()
    await api.scan()
    await api.app.state.parts.sessions.kw["bind"].dispose()
    cfg = alembic_config(settings.db_url)
    await asyncio.to_thread(command.downgrade, cfg, "0010")
    await asyncio.to_thread(command.upgrade, cfg, "head")
    for query, title in (("jog", "Jóga"), ("circ", "Circle"), ("ste han", "Circle")):
        r = await api.client.get("/api/v1/media", params={"q": query}, headers=bearer(token))
        assert r.status_code == 200, r.text
        assert title in [m["title"] for m in r.json()["data"]], query
    if settings.is_sqlite:
        async with api.app.state.parts.sessions() as session:
            ddl = await session.scalar(text("SELECT sql FROM sqlite_master WHERE name = 'media_fts'"))
        assert "prefix='1 2 3 4 5 6'" in ddl
