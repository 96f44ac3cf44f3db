"""The catalog (albums and artists from tags) on both databases: made by scans, kept in step by edits,
deletes and downloads, safe when two processes refresh one album at once."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from mutagen.id3 import ID3, TCMP, TPOS
from sqlalchemy import select

from medianest.library import catalog
from medianest.library.demo import Sample, make_sample
from medianest.library.models import Album, Artist, Media
from tests.conftest import Api, bearer


def test_keys_ignore_case_unicode_form_and_spaces_but_not_diacritics() -> None:
    assert catalog.key("Big  Band") == catalog.key("big band") == catalog.key("BIG BAND ")
    assert catalog.key("Cafe\u0301") == catalog.key("Café")  # decomposed and composed é
    assert catalog.key("Björk") != catalog.key("Bjork")
    assert catalog.key("A", "B") != catalog.key("A B")  # the separator keeps names apart


def test_an_items_keys_name_its_album_artist() -> None:
    plain = catalog.keys_of("audio", "Solo", "First", None, False)
    assert plain["album_artist_key"] == plain["artist_key"] == catalog.key("Solo")
    assert plain["album_key"] == catalog.key("Solo", "First")
    mix = catalog.keys_of("audio", "Artist A", "Summer Mix", None, True)
    assert mix["album_artist_key"] == catalog.key(catalog.VARIOUS_ARTISTS)
    assert mix["album_key"] == catalog.keys_of("audio", "Artist B", "Summer Mix", None, True)["album_key"]
    tagged = catalog.keys_of("audio", "Guest", "Duets", "Host", True)  # an album artist tag wins
    assert tagged["album_artist_key"] == catalog.key("Host")
    unknown = catalog.keys_of("audio", None, None, None, False)
    assert unknown["album_key"] == catalog.key(catalog.UNKNOWN_ARTIST, catalog.UNKNOWN_ALBUM)
    assert catalog.keys_of("video", "Cam", "Clips", None, False) == {
        "album_key": None, "artist_key": None, "album_artist_key": None}


def test_sort_names_fold_and_skip_articles_for_artists() -> None:
    assert catalog.sort_name("Élan Vital") == "elan vital"
    assert catalog.sort_name("The Beatles", articles=True) == "beatles"
    assert catalog.sort_name("The", articles=True) == "the"  # a name that is only an article keeps it
    assert catalog.sort_name("The Beatles") == "the beatles"  # albums keep their article


def _tone(root: Path, rel: str, title: str, artist: str, album: str, track: int) -> Path:
    sample = Sample(rel, "audio", title, artist, album, track, "Swing", 2001, 1, 300 + 50 * track)
    return make_sample(sample, root / rel)


def _retag(path: Path, *frames: Any) -> None:
    tags = ID3(path)
    tags.delall("TPE2")
    for frame in frames:
        tags.add(frame)
    tags.save(path)


def _add_albums(media_dir: Path) -> None:
    for disc in (1, 2):
        path = _tone(media_dir, f"Big Band/Two Discs/{disc}-01.mp3", f"Disc {disc}", "Big Band", "Two Discs", 1)
        _retag(path, TPOS(encoding=3, text=f"{disc}/2"))
    for n, artist in enumerate(("Artist A", "Artist B"), start=1):
        _retag(_tone(media_dir, f"Various/Summer Mix/0{n}.mp3", f"Sun {n}", artist, "Summer Mix", n),
               TCMP(encoding=3, text="1"))


async def _albums(api: Api) -> dict[str, Album]:
    async with api.app.state.parts.sessions() as session:
        return {a.name: a for a in (await session.scalars(select(Album))).all()}


async def _artists(api: Api) -> dict[str, Artist]:
    async with api.app.state.parts.sessions() as session:
        return {a.name: a for a in (await session.scalars(select(Artist))).all()}


async def test_a_scan_builds_albums_and_artists_from_tags(api: Api, media_dir: Path) -> None:
    _add_albums(media_dir)
    await api.setup_admin()
    await api.scan()
    albums = await _albums(api)
    two = albums["Two Discs"]
    assert (two.artist, two.song_count, two.year, two.compilation) == ("Big Band", 2, 2001, False)
    mix = albums["Summer Mix"]
    assert (mix.artist, mix.song_count, mix.compilation) == ("Various Artists", 2, True)
    assert mix.artist_key == catalog.key("Various Artists")
    assert albums["Homogenic"].artwork is not None  # its tracks have cover art
    artists = await _artists(api)
    assert artists["Various Artists"].album_count == 1
    assert "Artist A" not in artists  # a track artist only: found through media.artist_key
    assert artists["Big Band"].song_count == 2
    assert not any(a.name == "Clips" for a in albums.values()), "videos belong to no album"


async def test_edits_and_deletes_move_tracks_between_albums(api: Api, media_dir: Path) -> None:
    _add_albums(media_dir)
    token = await api.setup_admin()
    await api.scan()
    disc2 = await api.media_by_title(token, "Disc 2")
    r = await api.client.patch(f"/api/v1/media/{disc2['id']}", json={"album": "Encore"}, headers=bearer(token))
    assert r.status_code == 200, r.text
    albums = await _albums(api)
    assert albums["Two Discs"].song_count == 1 and albums["Encore"].song_count == 1
    assert (await _artists(api))["Big Band"].album_count == 2
    r = await api.client.delete(f"/api/v1/media/{disc2['id']}", headers=bearer(token))
    assert r.status_code == 204
    assert "Encore" not in await _albums(api)
    disc1 = await api.media_by_title(token, "Disc 1")
    r = await api.client.delete(f"/api/v1/media/{disc1['id']}", params={"purge": "true"}, headers=bearer(token))
    assert r.status_code == 204
    assert "Two Discs" not in await _albums(api)
    assert "Big Band" not in await _artists(api), "an artist with no album left is gone"


async def test_a_rescan_follows_files_removed_and_retagged(api: Api, media_dir: Path) -> None:
    _add_albums(media_dir)
    await api.setup_admin()
    await api.scan()
    (media_dir / "Various/Summer Mix/02.mp3").unlink()
    tags = ID3(media_dir / "Big Band/Two Discs/2-01.mp3")
    tags.delall("TALB")
    tags.save()
    await api.scan()
    albums = await _albums(api)
    assert albums["Summer Mix"].song_count == 1
    assert albums["Two Discs"].song_count == 1
    assert albums[catalog.UNKNOWN_ALBUM].artist == "Big Band"


async def test_two_refreshes_of_one_album_at_once_both_succeed(api: Api, media_dir: Path) -> None:
    """Two processes (a download landing, a tag edit) refresh one album at the same moment: upserts, so
    neither fails on the other's row."""
    _add_albums(media_dir)
    await api.setup_admin()
    await api.scan()
    sessions = api.app.state.parts.sessions
    key = (await _albums(api))["Two Discs"].id

    async def refresh() -> None:
        async with sessions() as session:
            await catalog.refresh(session, [key])
            await session.commit()

    await asyncio.gather(*(refresh() for _ in range(4)))
    assert (await _albums(api))["Two Discs"].song_count == 2


async def test_an_ingested_file_lands_in_its_album_at_once(api: Api, media_dir: Path) -> None:
    """A finished download is indexed by `ingest`, not a scan: its album is refreshed with it (so it is
    in the next "newest" list)."""
    await api.setup_admin()
    await api.scan()
    path = _tone(media_dir, "Downloads/Fresh/01.mp3", "Fresh One", "New Act", "Fresh", 1)
    media_id = await _ingest(api, path)
    albums = await _albums(api)
    assert albums["Fresh"].song_count == 1 and albums["Fresh"].artist == "New Act"
    async with api.app.state.parts.sessions() as session:
        newest = (await session.scalars(select(Album).order_by(Album.added_at.desc()).limit(1))).one()
        media = await session.get(Media, media_id)
    assert newest.name == "Fresh" and media is not None and media.album_key == newest.id


async def _ingest(api: Api, path: Path) -> int:
    from medianest.library.scanner import Scanner

    parts = api.app.state.parts
    scanner = Scanner(parts.sessions, parts.settings.library_dirs, parts.settings.artwork_dir)
    return await scanner.ingest(path)
