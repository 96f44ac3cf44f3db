"""Hostile input around subtitles: ids that are not ids, ids of another item, sidecars swapped for links out of
the media folders (or for things that are not files), names at the file system's limit, and languages that
would be path segments. The real app, a real database, the OpenSubtitles stand-in on 127.0.0.1."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.config import Settings
from tests.conftest import Api, bearer
from tests.integrations.opensubtitles import OpenSubtitles
from tests.subtitles.test_subtitles import (
    CUES,
    OS_KEY,
    OS_PASSWORD,
    OS_USER,
    SRT,
    connect,
    cues,
    error,
    listing,
    make_video,
    media_id,
    ready,
    token_of,
    unhandled_is_500,
)

MARKER = "MARKER-7f3c2a9e-outside-the-library"
UNICODE = "Ünïcödé 日本語 🎬 — l'été"
NAME_MAX = 255
# Stems (names without ".mkv") measured in UTF-8 bytes: with ".en.srt" (7 bytes) the first still fits in
# NAME_MAX, the second does not, though its video's own name does.
LONG_FITS = "Ω" * 60 + " " + "x" * (NAME_MAX - 7 - 2 - 121)
LONG_OVER = "Ω" * 60 + " " + "y" * (NAME_MAX - 4 - 1 - 121)


@pytest.fixture(scope="session")
def traversal_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subtitle-traversal-source") / "media"
    film = make_video(root / "Film" / "Film.mkv")
    (film.parent / "Film.en.srt").write_text(SRT, "utf-8")
    other = make_video(root / "Other" / "Other.mkv")
    (other.parent / "Other.en.srt").write_text(SRT.replace("Héllo wörld", "other film"), "utf-8")
    for folder, stem in (("Unicode", UNICODE), ("LongFits", LONG_FITS), ("LongOver", LONG_OVER)):
        (root / folder).mkdir()
        shutil.copy2(film, root / folder / f"{stem}.mkv")
    return root


@pytest.fixture
def media_dir(tmp_path: Path, traversal_source: Path) -> Path:
    """Overrides tests/conftest.py's: this module's own small library, copied for each test."""
    dest = tmp_path / "media"
    shutil.copytree(traversal_source, dest)
    return dest


@pytest.fixture
def settings(settings: Settings) -> Settings:
    return settings.model_copy(update={"integrations_retry_wait_s": 0.0, "integrations_attempts": 2,
                                       "integrations_timeout_s": 5.0, "breaker_threshold": 50})


@pytest.fixture
def osub() -> Iterator[OpenSubtitles]:
    with OpenSubtitles(api_key=OS_KEY, username=OS_USER, password=OS_PASSWORD) as standin:
        standin.add_subtitle(31, "en", "Anything", SRT.encode(), file_name="Anything.srt")
        yield standin


@pytest.fixture
def outside(tmp_path: Path) -> Path:
    """A subtitle file with a marker, outside every media folder."""
    path = tmp_path / "outside" / "secret.srt"
    path.parent.mkdir()
    path.write_text(f"1\n00:00:00,000 --> 00:00:01,000\n{MARKER}\n", "utf-8")
    return path


def leaks(r: httpx.Response) -> bool:
    return MARKER in r.text or "root:x:" in r.text or "Héllo" in r.text


async def film_subtitle(api: Api, token: str) -> tuple[str, dict[str, Any]]:
    film = await media_id(api.app, "Film.mkv")
    (sub,) = await listing(api, token, film)
    return film, sub


# -- hostile subtitle ids ----------------------------------------------------------------------------------------------

HOSTILE_IDS = [
    "..", "%2e%2e", "..%2F..%2F..%2F..%2Fetc%2Fpasswd", "%2F..%2F..%2Fetc%2Fpasswd", "..%5C..%5Cwin.ini",
    "1%00", "%00", "1%2500", "-1", "-0", "0", "+1", "%2B1", "1e3", "0x1", "1.0", "%201", "1%20", "%EF%BC%91", "١",
    "9" * 18, "9" * 19, "9" * 40, "18446744073709551617", "1;2", "1,2", "1%0A", "%0A1", "NaN", "Infinity",
    "1.vtt", "1%2Fx", "%25",
]


async def test_hostile_subtitle_ids_are_not_found_never_a_500(api: Api) -> None:
    token = await ready(api)
    film, sub = await film_subtitle(api, token)
    media_token = token_of(sub["url"])
    answers = {}
    ways: list[tuple[str, dict[str, Any]]] = [("bearer", {"headers": bearer(token)}),
                                              ("token", {"params": {"token": media_token}})]
    for sid in HOSTILE_IDS:
        for how, kwargs in ways:
            r = await unhandled_is_500(api.client.get(f"/api/v1/media/{film}/subtitles/{sid}.vtt", **kwargs))
            answers[(sid, how)] = r.status_code
            assert not leaks(r), (sid, how, r.text[:200])
            if r.status_code in (404, 422):
                assert r.json()["error"]["code"] in ("NOT_FOUND", "VALIDATION_ERROR"), (sid, r.text)
    assert {k: v for k, v in answers.items() if v not in (404, 422)} == {}
    # the same ids as media ids, and raw dot segments (whatever the client makes of them)
    for path in (f"/api/v1/media/{film}/subtitles/../../../../../etc/passwd.vtt",
                 f"/api/v1/media/{film}/subtitles/%2e%2e/%2e%2e/%2e%2e/etc/passwd.vtt",
                 f"/api/v1/media/..%2F{film}/subtitles/{sub['id']}.vtt",
                 f"/api/v1/media/{'9' * 40}/subtitles/{sub['id']}.vtt",
                 f"/api/v1/media/-{film}/subtitles/{sub['id']}.vtt"):
        r = await unhandled_is_500(api.client.get(path, headers=bearer(token)))
        assert r.status_code in (404, 422), (path, r.status_code, r.text)
        assert not leaks(r), path
    r = await api.client.get(f"/api/v1/media/{film}/subtitles/{sub['id']}.vtt", params={"token": "a\x00b"})
    assert r.status_code in (401, 422), r.text
    assert not leaks(r)
    ok = await api.client.get(sub["url"])  # and the real one still works: the refusals were about the ids
    assert ok.status_code == 200 and cues(ok.text) == CUES


async def test_a_subtitle_of_another_item_is_not_found(api: Api) -> None:
    token = await ready(api)
    film, sub = await film_subtitle(api, token)
    other = await media_id(api.app, "Other.mkv")
    (other_sub,) = await listing(api, token, other)
    cases: list[tuple[str, dict[str, Any]]] = [
        (f"/api/v1/media/{other}/subtitles/{sub['id']}.vtt", {"headers": bearer(token)}),
        (f"/api/v1/media/{other}/subtitles/{sub['id']}.vtt", {"params": {"token": token_of(other_sub["url"])}}),
        (f"/api/v1/media/{film}/subtitles/{other_sub['id']}.vtt", {"headers": bearer(token)}),
        (f"/api/v1/media/{film}/subtitles/{other_sub['id']}.vtt", {"params": {"token": token_of(sub["url"])}})]
    for url, kwargs in cases:
        r = await api.client.get(url, **kwargs)
        error(r, 404, "NOT_FOUND")
        assert "other film" not in r.text and "Héllo" not in r.text
    r = await api.client.get(f"/api/v1/media/{film}/subtitles/{int(other_sub['id']) + 100}.vtt",
                             headers=bearer(token))
    error(r, 404, "NOT_FOUND")


# -- sidecars that are not what they were ------------------------------------------------------------------------------

async def test_a_sidecar_swapped_for_a_link_out_of_the_library_is_not_followed(api: Api, media_dir: Path,
                                                                             outside: Path) -> None:
    token = await ready(api)
    film, sub = await film_subtitle(api, token)
    assert (await api.client.get(sub["url"])).status_code == 200
    sidecar = media_dir / "Film" / "Film.en.srt"
    sidecar.unlink()
    sidecar.symlink_to(outside)  # the row is the same; the file behind the name is not
    r = await api.client.get(sub["url"])
    error(r, 404, "NOT_FOUND")
    assert not leaks(r)
    r = await api.client.get(sub["url"].split("?")[0], headers=bearer(token))
    error(r, 404, "NOT_FOUND")
    assert not leaks(r)

    folder = media_dir / "Film"
    (folder / "Film.fr.srt").symlink_to("/etc/passwd")
    (folder / "Film.de.srt").symlink_to(os.path.relpath(outside, folder))
    (folder / "Film.it.srt").symlink_to(folder / "Film.nowhere.srt")  # dangling
    (folder / "Film.es.srt").symlink_to(media_dir / "Other")  # a folder inside the library
    (folder / "Film.pt.srt").mkdir()
    subs = {s["language"]: s for s in await listing(api, token, film)}
    assert {"fr", "de", "it", "es", "pt", "en"} <= subs.keys()
    for lang in ("en", "fr", "de", "it", "es", "pt"):
        r = await api.client.get(subs[lang]["url"])
        error(r, 404, "NOT_FOUND")
        assert not leaks(r), lang
    assert MARKER not in (await api.client.get(f"/api/v1/media/{film}/subtitles", headers=bearer(token))).text


async def test_a_sidecar_that_is_a_fifo_is_not_opened(api: Api, media_dir: Path) -> None:
    """Reading a named pipe would wait for a writer forever, holding a worker thread."""
    token = await ready(api)
    film = await media_id(api.app, "Film.mkv")
    fifo = media_dir / "Film" / "Film.zz.srt"
    os.mkfifo(fifo)
    (sub,) = [s for s in await listing(api, token, film) if s["language"] == "zz"]
    try:
        r = await asyncio.wait_for(api.client.get(sub["url"]), timeout=20)
    finally:
        with contextlib.suppress(OSError):  # had it been opened: a writer, so the reader returns
            fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
            os.close(fd)
    error(r, 404, "NOT_FOUND")


# -- downloads: names at the limit, languages that are paths -----------------------------------------------------------

async def post(api: Api, token: str, mid: str, **body: Any) -> httpx.Response:
    return await unhandled_is_500(
        api.client.post(f"/api/v1/media/{mid}/subtitles", json=body, headers=bearer(token)))


async def test_a_unicode_name_gets_its_subtitle_beside_it(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    token = await ready(api)
    await connect(api, token, osub)
    mid = await media_id(api.app, f"{UNICODE}.mkv")
    r = await post(api, token, mid, file_id=31, language="en")
    assert r.status_code == 201, r.text
    assert (media_dir / "Unicode" / f"{UNICODE}.en.srt").read_bytes() == SRT.encode()
    (listed,) = await listing(api, token, mid)
    assert listed["id"] == r.json()["data"]["id"] and listed["provider"] == "opensubtitles"
    assert cues((await api.client.get(listed["url"])).text) == CUES


async def test_a_name_near_the_limit_gets_its_subtitle_or_a_clear_error(api: Api, osub: OpenSubtitles,
                                                                        media_dir: Path) -> None:
    assert len(f"{LONG_FITS}.en.srt".encode()) == NAME_MAX - 2
    assert len(f"{LONG_OVER}.mkv".encode()) == NAME_MAX - 1 and len(f"{LONG_OVER}.en.srt".encode()) > NAME_MAX
    token = await ready(api)
    await connect(api, token, osub)

    fits = await media_id(api.app, f"{LONG_FITS}.mkv")
    r = await post(api, token, fits, file_id=31, language="en")
    assert r.status_code == 201, r.text
    assert (media_dir / "LongFits" / f"{LONG_FITS}.en.srt").read_bytes() == SRT.encode()
    r = await post(api, token, fits, file_id=31, language="en")  # ".en.2.srt": exactly NAME_MAX bytes
    assert r.status_code == 201, r.text
    assert (media_dir / "LongFits" / f"{LONG_FITS}.en.2.srt").is_file()
    assert len(await listing(api, token, fits)) == 2

    over = await media_id(api.app, f"{LONG_OVER}.mkv")
    r = await post(api, token, over, file_id=31, language="en")
    assert r.status_code != 500, r.text
    names = os.listdir(media_dir / "LongOver")
    if r.status_code == 201:  # some shorter name that is still found beside the video
        (listed,) = await listing(api, token, over)
        assert listed["id"] == r.json()["data"]["id"]
        assert all(len(n.encode()) <= NAME_MAX for n in names)
    else:
        assert 400 <= r.status_code < 500, r.text
        assert r.json()["error"]["message"], r.text
        assert names == [f"{LONG_OVER}.mkv"], "nothing written"


BAD_LANGUAGES = ["../x", "..", ".", "en/../../x", "en/x", "en\\x", "/etc", "en\x00", "en\n", ".en", "en.srt",
                 "en.", "", "e", "EN", "en-../x", "en-x/y", "eng-" + "a" * 20, "a" * 300, "en ", " en", "ｅｎ"]


async def test_the_language_of_a_download_must_be_a_language_tag(api: Api, osub: OpenSubtitles,
                                                                  media_dir: Path) -> None:
    token = await ready(api)
    await connect(api, token, osub)
    film = await media_id(api.app, "Film.mkv")
    before = {p: sorted(os.listdir(p)) for p in (media_dir, media_dir / "Film")}
    answers = {}
    for language in BAD_LANGUAGES:
        r = await post(api, token, film, file_id=31, language=language)
        answers[language] = r.status_code
        if r.status_code == 422:
            fields = [f["field"] for f in r.json()["error"]["details"]["fields"]]
            assert any(f.endswith("language") for f in fields), (language, fields)
    assert {k: v for k, v in answers.items() if v != 422} == {}
    for bad_id in (0, -1, 2**53 + 1, 1.5, "31x", None):
        r = await post(api, token, film, file_id=bad_id, language="en")
        error(r, 422, "VALIDATION_ERROR")
    assert osub.downloads() == [], "nothing reached OpenSubtitles"
    assert {p: sorted(os.listdir(p)) for p in before} == before
    assert not (media_dir.parent / "x").exists() and not (media_dir / "x").exists()
    r = await post(api, token, film, file_id=31, language="pt-BR")  # the refusals were about the language
    assert r.status_code == 201, r.text
    assert (media_dir / "Film" / "Film.pt-BR.srt").is_file()
