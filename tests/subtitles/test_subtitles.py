"""Subtitles on real files: the scanner finds sidecars and embedded streams, the listing follows the disk,
every text format comes back as WebVTT, the moviehash, and OpenSubtitles search and download against the
stand-in on 127.0.0.1 - the real app, a real database, videos made by ffmpeg."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import struct
from collections.abc import AsyncIterator, Awaitable, Iterator
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select

from medianest.app import create_app
from medianest.config import Settings
from medianest.integrations.opensubtitles import moviehash
from medianest.library.ffmpeg import run_ffmpeg
from medianest.library.models import Media
from medianest.subtitles.models import Subtitle
from tests.conftest import Api, bearer
from tests.integrations.opensubtitles import OpenSubtitles, normalised

SRT = "1\n00:00:00,500 --> 00:00:01,500\nHéllo wörld\n\n2\n00:00:01,600 --> 00:00:02,000\n<i>second</i>\n"
CUES = [(500, 1500, "Héllo wörld"), (1600, 2000, "<i>second</i>")]
ASS = ("[Script Info]\nScriptType: v4.00+\n\n"
       "[V4+ Styles]\nFormat: Name, Fontname, Fontsize\nStyle: Default,Arial,20\n\n"
       "[Events]\nFormat: Layer, Start, End, Style, Name, MarginL, MarginR, MarginV, Effect, Text\n"
       "Dialogue: 0,0:00:00.25,0:00:01.75,Default,,0,0,0,,Hallo Welt\n"
       "Dialogue: 0,0:00:02.00,0:00:02.50,Default,,0,0,0,,Tschüss\n")
VTT = "WEBVTT\n\n00:00:00.100 --> 00:00:00.900\nbonjour\n\n00:00:01.000 --> 00:00:01.200\nau revoir\n"
ACCENTED = "1\n00:00:00,300 --> 00:00:00,800\nCafé déjà vu, naïve façade\n"
HTML = b"<!DOCTYPE html>\n<html><head><title>Just a moment...</title></head><body>Checking your browser</body></html>\n"
OS_KEY, OS_USER, OS_PASSWORD = "os-test-key", "nestuser", "nestpass"
_CHUNK = 64 * 1024


# -- media made by ffmpeg --------------------------------------------------------------------------------------------

def make_video(dest: Path, *, subtitle: Path | None = None, noisy: bool = False, copy_sub: bool = False) -> Path:
    """A 2 s 160x120 video; with `subtitle` it carries that file as a stream (text, or copied as it is);
    `noisy` makes it large enough (well over 128 KiB) for a moviehash."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    source = "testsrc=size=160x120:rate=10:duration=2" + (",noise=alls=60:allf=t+u" if noisy else "")
    args = ["-f", "lavfi", "-i", source]
    if subtitle is not None:
        args += ["-i", str(subtitle), "-map", "0", "-map", "1"]
    args += ["-c:v", "libx264", "-preset", "ultrafast", "-pix_fmt", "yuv420p"] + (["-qp", "0"] if noisy else [])
    if subtitle is not None:
        args += ["-c:s", "copy" if copy_sub else "srt", "-metadata:s:s:0", "language=fra"]
    run_ffmpeg([*args, str(dest)])
    return dest


def make_audio(dest: Path) -> Path:
    dest.parent.mkdir(parents=True, exist_ok=True)
    run_ffmpeg(["-f", "lavfi", "-i", "sine=frequency=440:duration=2", "-c:a", "libmp3lame", "-b:a", "64k", str(dest)])
    return dest


def pgs_stream(dest: Path) -> Path:
    """A tiny HDMV PGS (.sup) file - two display sets with a presentation composition each - that ffmpeg's sup
    demuxer reads and can copy into a Matroska file: a picture-based subtitle stream without an encoder."""
    def segment(pts: int, kind: int, data: bytes) -> bytes:
        return b"PG" + struct.pack(">IIBH", pts, 0, kind, len(data)) + data

    def display_set(pts: int, state: int) -> bytes:
        composition = struct.pack(">HHBHBBBB", 160, 120, 0x10, 0, state, 0, 0, 0)
        return segment(pts, 0x16, composition) + segment(pts, 0x80, b"")

    dest.write_bytes(display_set(45000, 0x80) + display_set(135000, 0x00))
    return dest


def build_source(root: Path) -> None:
    """Film: an embedded SRT stream (French) and sidecars of every naming; Feature: large enough to hash, nothing
    beside it; Talk: a plain video for the format tests; Pictures: a PGS stream; an audio file with a stray .srt."""
    scratch = root.parent / f"{root.name}-scratch"
    scratch.mkdir()
    (scratch / "embedded.srt").write_text(SRT, "utf-8")
    make_video(root / "Movies" / "Film" / "Film.mkv", subtitle=scratch / "embedded.srt")
    film = root / "Movies" / "Film"
    for name in ("Film.en.srt", "Film.eng.forced.srt", "Film.en.sdh.srt", "Film.srt", "Film.pt-BR.cc.forced.ass",
                 "Other.en.srt", "Filmography.en.srt", "Film.en.txt"):
        (film / name).write_text(ASS if name.endswith(".ass") else SRT, "utf-8")
    make_video(root / "Movies" / "Feature" / "Feature.mkv", noisy=True)
    make_video(root / "Movies" / "Talk" / "Talk.mkv")
    make_video(root / "Movies" / "Pictures" / "Pictures.mkv", subtitle=pgs_stream(scratch / "pictures.sup"),
               copy_sub=True)
    make_audio(root / "Music" / "song.mp3")
    (root / "Music" / "song.en.srt").write_text(SRT, "utf-8")
    shutil.rmtree(scratch)


@pytest.fixture(scope="session")
def subtitle_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subtitle-source") / "media"
    build_source(root)
    return root


@pytest.fixture
def media_dir(tmp_path: Path, subtitle_source: Path) -> Path:
    """Overrides tests/conftest.py's: this module's own small library, copied for each test."""
    dest = tmp_path / "media"
    shutil.copytree(subtitle_source, dest)
    return dest


@pytest.fixture
def settings(settings: Settings) -> Settings:
    """No backoff waits, two attempts per call, a generous timeout (the slow test starts its own app), and a
    breaker that does not open within one test."""
    return settings.model_copy(update={"integrations_retry_wait_s": 0.0, "integrations_attempts": 2,
                                       "integrations_timeout_s": 5.0, "breaker_threshold": 50})


@pytest.fixture
def osub() -> Iterator[OpenSubtitles]:
    with OpenSubtitles(api_key=OS_KEY, username=OS_USER, password=OS_PASSWORD) as standin:
        yield standin


@contextlib.asynccontextmanager
async def started(settings: Settings) -> AsyncIterator[Api]:
    """The app with its lifespan and a client bound to it, as tests/conftest.py makes them."""
    app = create_app(settings)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app), httpx.AsyncClient(transport=transport,
                                                                   base_url="http://testserver") as c:
        yield Api(c, app)


# -- helpers -----------------------------------------------------------------------------------------------------------

async def ready(api: Api) -> str:
    """An admin's token, after a full scan."""
    token = await api.setup_admin()
    scan = await api.scan()
    assert scan["failed"] == 0, scan
    return token


async def media_id(app: FastAPI, name: str) -> str:
    """The id of the item whose file is called `name`."""
    async with app.state.parts.sessions() as session:
        rows = (await session.scalars(select(Media))).all()
    found = [m.id for m in rows if Path(m.path).name == name]
    assert len(found) == 1, (name, [m.path for m in rows])
    return str(found[0])


async def listing(api: Api, token: str, mid: str) -> list[dict[str, Any]]:
    r = await api.client.get(f"/api/v1/media/{mid}/subtitles", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: list[dict[str, Any]] = r.json()["data"]
    return data


def token_of(url: str) -> str:
    return dict(parse_qsl(urlsplit(url).query))["token"]


def error(r: httpx.Response, status: int, code: str) -> dict[str, Any]:
    assert r.status_code == status, r.text
    body: dict[str, Any] = r.json()["error"]
    assert body["code"] == code, body
    return body


_TIME = r"(?:(\d+):)?(\d{2}):(\d{2})\.(\d{3})"


def _ms(h: str | None, m: str, s: str, ms: str) -> int:
    return ((int(h or 0) * 60 + int(m)) * 60 + int(s)) * 1000 + int(ms)


def cues(vtt: str) -> list[tuple[int, int, str]]:
    """(start ms, end ms, text) of each cue of a WebVTT document."""
    assert vtt.startswith("WEBVTT"), vtt[:80]
    out = []
    for block in re.split(r"\n\s*\n", vtt.replace("\r\n", "\n")):
        lines = block.strip("\n").split("\n")
        for i, line in enumerate(lines):
            m = re.match(rf"^{_TIME} --> {_TIME}", line)
            if m:
                g = m.groups()
                out.append((_ms(*g[:4]), _ms(*g[4:]), "\n".join(lines[i + 1:])))
                break
    return out


async def get_vtt(api: Api, url: str, **kwargs: Any) -> httpx.Response:
    r = await api.client.get(url, **kwargs)
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("text/vtt")
    return r


async def unhandled_is_500(call: Awaitable[httpx.Response]) -> httpx.Response:
    """The answer; an exception the app did not handle (the in-process transport re-raises it after the
    server's 500) becomes that 500, so a loop over cases reports every case instead of stopping at one."""
    try:
        return await call
    except Exception as exc:  # exactly what a 500 is
        return httpx.Response(500, json={"error": {"code": "INTERNAL_ERROR", "message": repr(exc)}})


def shape(sub: dict[str, Any]) -> tuple[Any, ...]:
    return sub["source"], sub["format"], sub["language"], sub["forced"], sub["hearing_impaired"]


# -- the scanner and the listing ---------------------------------------------------------------------------------------

async def test_scan_indexes_sidecars_and_embedded_streams_with_tags_parsed_from_names(api: Api) -> None:
    token = await ready(api)
    film = await media_id(api.app, "Film.mkv")
    async with api.app.state.parts.sessions() as session:  # the scanner's hook wrote them, before anyone listed
        rows = (await session.scalars(select(Subtitle).where(Subtitle.media_id == int(film)))).all()
    assert sorted(Path(r.path).name for r in rows if r.path) == sorted(
        ["Film.en.srt", "Film.eng.forced.srt", "Film.en.sdh.srt", "Film.srt", "Film.pt-BR.cc.forced.ass"])
    assert [(r.source, r.language, r.stream_index) for r in rows if r.path is None] == [("embedded", "fra", 1)]

    subs = await listing(api, token, film)
    sidecars = sorted((shape(s) for s in subs if s["source"] == "sidecar"), key=str)
    assert sidecars == sorted([("sidecar", "srt", "en", False, False), ("sidecar", "srt", "eng", True, False),
                               ("sidecar", "srt", "en", False, True), ("sidecar", "srt", None, False, False),
                               ("sidecar", "ass", "pt-br", True, True)], key=str)
    embedded = [s for s in subs if s["source"] == "embedded"]
    assert len(embedded) == 1 and embedded[0]["language"] == "fra" and embedded[0]["format"] in ("srt", "subrip")
    assert len(subs) == 6, "Other.en.srt, Filmography.en.srt and Film.en.txt are not Film's subtitles"
    for sub in subs:
        assert sub["convertible"] is True and sub["provider"] is None
        assert sub["url"].startswith(f"/api/v1/media/{film}/subtitles/{sub['id']}.vtt?token=")


async def test_listing_follows_the_disk_without_a_rescan(api: Api, media_dir: Path) -> None:
    token = await ready(api)
    film = await media_id(api.app, "Film.mkv")
    before = {s["id"] for s in await listing(api, token, film)}
    folder = media_dir / "Movies" / "Film"
    (folder / "Film.de.srt").write_text(SRT, "utf-8")
    (folder / "Film.en.sdh.srt").unlink()

    subs = await listing(api, token, film)
    new = [s for s in subs if s["id"] not in before]
    assert [shape(s) for s in new] == [("sidecar", "srt", "de", False, False)]
    assert ("sidecar", "srt", "en", False, True) not in [shape(s) for s in subs], "the deleted sidecar is gone"
    assert len(subs) == len(before)
    async with api.app.state.parts.sessions() as session:
        paths = {r.path for r in (await session.scalars(select(Subtitle))).all()}
    assert str(folder / "Film.de.srt") in paths and str(folder / "Film.en.sdh.srt") not in paths
    r = await get_vtt(api, new[0]["url"])
    assert cues(r.text) == CUES


async def test_audio_items_have_no_subtitles_even_with_a_sidecar_beside_them(api: Api) -> None:
    token = await ready(api)
    song = await media_id(api.app, "song.mp3")
    assert await listing(api, token, song) == []
    async with api.app.state.parts.sessions() as session:
        assert (await session.scalars(select(Subtitle).where(Subtitle.media_id == int(song)))).all() == []


async def test_listing_an_unknown_item_is_404_and_needs_auth(api: Api) -> None:
    token = await ready(api)
    error(await api.client.get("/api/v1/media/999999/subtitles", headers=bearer(token)), 404, "NOT_FOUND")
    film = await media_id(api.app, "Film.mkv")
    error(await api.client.get(f"/api/v1/media/{film}/subtitles"), 401, "UNAUTHORIZED")


# -- WebVTT ------------------------------------------------------------------------------------------------------------

FORMATS: dict[str, tuple[str, bytes, list[tuple[int, int, str]]]] = {
    "en": ("srt", SRT.encode("utf-8"), CUES),
    "fr": ("srt", "\ufeff".encode() + SRT.encode("utf-8"), CUES),
    "es": ("srt", ACCENTED.encode("cp1252"), [(300, 800, "Café déjà vu, naïve façade")]),
    "de": ("srt", SRT.encode("utf-16"), CUES),  # Python writes the BOM (little-endian here)
    "it": ("srt", b"\xfe\xff" + SRT.encode("utf-16-be"), CUES),
    "ja": ("ass", ASS.encode("utf-8"), [(250, 1750, "Hallo Welt"), (2000, 2500, "Tschüss")]),
    "ko": ("vtt", VTT.encode("utf-8"), [(100, 900, "bonjour"), (1000, 1200, "au revoir")]),
}


async def test_every_text_format_and_encoding_comes_back_as_webvtt(api: Api, media_dir: Path) -> None:
    token = await ready(api)
    talk = await media_id(api.app, "Talk.mkv")
    for lang, (ext, raw, _) in FORMATS.items():
        (media_dir / "Movies" / "Talk" / f"Talk.{lang}.{ext}").write_bytes(raw)
    subs = {s["language"]: s for s in await listing(api, token, talk)}
    assert subs.keys() == FORMATS.keys()
    for lang, (ext, _, expected) in FORMATS.items():
        assert subs[lang]["format"] == ext
        r = await get_vtt(api, subs[lang]["url"])  # the listing's ?token= alone, no other auth
        assert "\ufeff" not in r.text and "\x00" not in r.text, lang
        assert cues(r.text) == expected, (lang, r.text)


async def test_an_embedded_text_stream_is_extracted_as_webvtt(api: Api) -> None:
    token = await ready(api)
    film = await media_id(api.app, "Film.mkv")
    (embedded,) = [s for s in await listing(api, token, film) if s["source"] == "embedded"]
    first = await get_vtt(api, embedded["url"])
    assert cues(first.text) == CUES
    again = await get_vtt(api, embedded["url"])  # from the cache this time: the same document
    assert again.text == first.text


async def test_the_vtt_needs_this_items_token_or_credentials(api: Api) -> None:
    token = await ready(api)
    film, talk = await media_id(api.app, "Film.mkv"), await media_id(api.app, "Talk.mkv")
    sub = next(s for s in await listing(api, token, film) if s["language"] == "en" and not s["hearing_impaired"])
    r = await api.client.get(f"/api/v1/media/{talk}", headers=bearer(token))  # Talk's own media token
    talk_token = token_of(r.json()["data"]["stream_url"])
    path = sub["url"].split("?")[0]

    assert cues((await get_vtt(api, sub["url"])).text) == CUES
    assert cues((await get_vtt(api, path, headers=bearer(token))).text) == CUES
    r = await api.client.get(path)
    error(r, 401, "UNAUTHORIZED")
    r = await api.client.get(path, params={"token": talk_token})
    assert r.status_code in (401, 403), r.text
    assert "Héllo" not in r.text
    r = await api.client.get(path, params={"token": token_of(sub["url"])[:-4] + "AAAA"})
    assert r.status_code in (401, 403), r.text
    r = await api.client.get(path, params={"token": token})  # an access token is not a media token
    assert r.status_code in (401, 403), r.text


async def test_a_picture_stream_is_listed_but_not_convertible(api: Api) -> None:
    token = await ready(api)
    pictures = await media_id(api.app, "Pictures.mkv")
    (sub,) = await listing(api, token, pictures)
    assert sub["source"] == "embedded" and sub["format"] in ("pgssub", "hdmv_pgs_subtitl")
    assert sub["convertible"] is False and sub["url"] is None
    r = await api.client.get(f"/api/v1/media/{pictures}/subtitles/{sub['id']}.vtt", headers=bearer(token))
    error(r, 400, "BAD_REQUEST")


CORRUPT: dict[str, tuple[str, bytes]] = {  # language tag: (extension, content)
    "aa": ("srt", os.urandom(3000)),
    "ab": ("srt", b""),
    "ac": ("ass", b"[Script Info]\n\x00\x01\x02 not really\n[Events]\nDialogue: broken\n"),
    "ad": ("vtt", b"\x89PNG\r\n\x1a\n" + os.urandom(500)),
    "ae": ("vtt", b""),
    "af": ("ssa", os.urandom(2000)),
    # a UTF-16 file cut short (an odd number of bytes), and one that is nothing but its BOM and a stray byte
    "ag": ("srt", b"\xff\xfe" + "1\n00:00:00,500 --> 00:00:01,500\nx\n".encode("utf-16-le") + b"A"),
    "ah": ("srt", b"\xfe\xff\x00"),
}


@pytest.mark.filterwarnings("ignore:Failed to parse:RuntimeWarning")
async def test_a_corrupt_or_empty_sidecar_is_a_clear_answer_not_a_500(api: Api, media_dir: Path) -> None:
    """Each answer is 400 BAD_REQUEST or a valid WebVTT document (what pysubs2 makes of junk), never a 500."""
    token = await ready(api)
    talk = await media_id(api.app, "Talk.mkv")
    for lang, (ext, raw) in CORRUPT.items():
        (media_dir / "Movies" / "Talk" / f"Talk.{lang}.{ext}").write_bytes(raw)
    subs = {s["language"]: s for s in await listing(api, token, talk)}
    assert subs.keys() == CORRUPT.keys()
    answers: dict[str, Any] = {}
    for lang, sub in subs.items():
        r = await unhandled_is_500(api.client.get(sub["url"]))
        answers[lang] = r.status_code
        if r.status_code == 200:
            assert r.headers["content-type"].startswith("text/vtt"), lang
            cues(r.text)  # starts with WEBVTT: a document a player can read
        elif r.status_code == 400:
            error(r, 400, "BAD_REQUEST")
    assert {lang: status for lang, status in answers.items() if status not in (200, 400)} == {}, answers
    assert answers["ab"] == 200 and cues((await api.client.get(subs["ab"]["url"])).text) == []


# -- moviehash ---------------------------------------------------------------------------------------------------------

def reference_moviehash(data: bytes) -> str:
    """The published algorithm (trac.opensubtitles.org HashSourceCodes), written independently: the size plus
    every little-endian unsigned 64-bit word of the first and the last 64 KiB, modulo 2**64."""
    words = data[:_CHUNK] + data[-_CHUNK:]
    total = len(data) + sum(int.from_bytes(words[i:i + 8], "little") for i in range(0, len(words), 8))
    return format(total % 2**64, "016x")


def test_moviehash_matches_the_published_algorithm(tmp_path: Path) -> None:
    ones = tmp_path / "ones.bin"
    ones.write_bytes(b"\xff" * (2 * _CHUNK))
    # 16384 words of 2**64-1 wrap around to -16384: 131072 - 16384 = 114688 = 0x1c000
    assert moviehash(ones) == "000000000001c000"
    zeros = tmp_path / "zeros.bin"
    zeros.write_bytes(bytes(300_000))
    assert moviehash(zeros) == format(300_000, "016x")
    for size in (2 * _CHUNK, 2 * _CHUNK + 1, 200_001, 1_000_003):
        data = os.urandom(size)
        path = tmp_path / f"random-{size}.bin"
        path.write_bytes(data)
        assert moviehash(path) == reference_moviehash(data), size
        assert re.fullmatch(r"[0-9a-f]{16}", moviehash(path))


def test_moviehash_of_a_generated_video(subtitle_source: Path) -> None:
    video = subtitle_source / "Movies" / "Feature" / "Feature.mkv"
    assert moviehash(video) == reference_moviehash(video.read_bytes())


@pytest.mark.parametrize("size", [0, 1, _CHUNK, 2 * _CHUNK - 1])
def test_moviehash_refuses_files_under_128_kib(tmp_path: Path, size: int) -> None:
    path = tmp_path / "small.bin"
    path.write_bytes(os.urandom(size))
    with pytest.raises(ValueError):
        moviehash(path)


# -- OpenSubtitles search ----------------------------------------------------------------------------------------------

async def connect(api: Api, token: str, standin: OpenSubtitles, **body: Any) -> None:
    r = await api.client.post("/api/v1/services", headers=bearer(token), json={
        "kind": "opensubtitles", "name": "OS", "url": standin.url, "secret": OS_KEY,
        "options": {"username": OS_USER, "password": OS_PASSWORD}, **body})
    assert r.status_code == 201, r.text


def feature_hash(media_dir: Path) -> str:
    return reference_moviehash((media_dir / "Movies" / "Feature" / "Feature.mkv").read_bytes())


def stock(standin: OpenSubtitles, digest: str) -> None:
    """11: the title only; 12: made for this very file; 13: the same, in German; 14, 15: other films."""
    standin.add_subtitle(11, "en", "Feature", b"1\n00:00:01,000 --> 00:00:02,000\nby title\n",
                         file_name="Feature.2019.WEB.srt", release="Feature.2019.WEB")
    standin.add_subtitle(12, "en", "Feature", SRT.encode(), moviehash=digest, file_name="Feature.2019.BluRay.srt",
                         release="Feature.2019.BluRay")
    standin.add_subtitle(13, "de", "Feature", SRT.encode(), moviehash=digest, file_name="Feature.de.srt")
    standin.add_subtitle(14, "en", "Something Else", SRT.encode(), file_name="Else.srt")
    standin.add_subtitle(15, "en", "Unrelated", SRT.encode(), moviehash="0123456789abcdef", file_name="U.srt")
    standin.add_subtitle(16, "en", "Feature", HTML, file_name="Feature.portal.srt")
    standin.add_subtitle(17, "en", "Feature", b"\xff\xfe" + "1\n00:00:00,500 --> 00".encode("utf-16-le") + b"A",
                         file_name="Feature.cut.srt")


async def search(api: Api, token: str, mid: str, **params: str) -> httpx.Response:
    return await api.client.get(f"/api/v1/media/{mid}/subtitles/search", params=params, headers=bearer(token))


def assert_canonical_queries(standin: OpenSubtitles) -> list[dict[str, str]]:
    """Every search went out as the API wants it (so it never answered 301); returns their parameters."""
    calls = standin.calls("GET", "/api/v1/subtitles")
    assert calls
    for call in calls:
        pairs = parse_qsl(call.raw_query, keep_blank_values=True)
        assert pairs == normalised(call.path, pairs), call.raw_query
        assert all(k == k.lower() and v == v.lower() for k, v in pairs), call.raw_query
        assert call.headers.get("api-key") == OS_KEY and "MediaNest" in call.headers.get("user-agent", "")
    return [dict(parse_qsl(c.raw_query)) for c in calls]


async def test_search_by_hash_and_title_hash_matches_first(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    token = await ready(api)
    digest = feature_hash(media_dir)
    stock(osub, digest)
    await connect(api, token, osub)
    feature = await media_id(api.app, "Feature.mkv")

    r = await search(api, token, feature, lang="en")
    assert r.status_code == 200, r.text
    found = r.json()["data"]
    assert [f["file_id"] for f in found][:2] == [12, 11]
    assert {f["file_id"] for f in found} == {11, 12, 16, 17}, "English only, Feature only, each once"
    assert found[0]["hash_match"] is True and not any(f["hash_match"] for f in found[1:])
    assert (found[0]["file_name"], found[0]["release"], found[0]["title"], found[0]["language"]) == (
        "Feature.2019.BluRay.srt", "Feature.2019.BluRay", "Feature", "en")
    assert assert_canonical_queries(osub) == [{"languages": "en", "moviehash": digest},
                                              {"languages": "en", "query": "feature"}]

    osub.reset_log()
    r = await search(api, token, feature, lang="en,de")
    assert r.status_code == 200, r.text
    ids = [f["file_id"] for f in r.json()["data"]]
    assert ids[:2] in ([12, 13], [13, 12]) and set(ids) == {11, 12, 13, 16, 17}
    assert [q["languages"] for q in assert_canonical_queries(osub)] == ["de,en", "de,en"]

    r = await search(api, token, feature, lang="de")
    assert [(f["file_id"], f["hash_match"]) for f in r.json()["data"]] == [(13, True)]
    assert osub.downloads() == [], "a search downloads nothing"


async def test_search_of_a_file_too_small_to_hash_goes_by_title(api: Api, osub: OpenSubtitles,
                                                                 media_dir: Path) -> None:
    token = await ready(api)
    assert (media_dir / "Movies" / "Talk" / "Talk.mkv").stat().st_size < 2 * _CHUNK
    osub.add_subtitle(21, "en", "Talk", SRT.encode(), file_name="Talk.srt")
    osub.add_subtitle(22, "en", "Talkative", SRT.encode(), file_name="Talkative.srt")
    await connect(api, token, osub)
    r = await search(api, token, await media_id(api.app, "Talk.mkv"))  # lang defaults to en
    assert r.status_code == 200, r.text
    assert sorted(f["file_id"] for f in r.json()["data"]) == [21, 22]
    assert assert_canonical_queries(osub) == [{"languages": "en", "query": "talk"}]


async def test_search_without_a_connection_is_503(api: Api, osub: OpenSubtitles) -> None:
    token = await ready(api)
    feature = await media_id(api.app, "Feature.mkv")
    body = error(await search(api, token, feature), 503, "UNAVAILABLE")
    assert "opensubtitles" in body["message"].lower()
    await connect(api, token, osub, enabled=False)
    error(await search(api, token, feature), 503, "UNAVAILABLE")
    assert osub.requests == []


async def test_search_refuses_a_bad_language_list(api: Api, osub: OpenSubtitles) -> None:
    token = await ready(api)
    await connect(api, token, osub)
    feature = await media_id(api.app, "Feature.mkv")
    for lang in ("EN", "english", "en,", "../x", "en;de", "", "e", "en\n", "en,de,fr,it,es,pt,nl,sv,da,fi,no"):
        error(await search(api, token, feature, lang=lang), 422, "VALIDATION_ERROR")
    assert osub.requests == []


async def test_search_when_opensubtitles_misbehaves(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    """Each failure is its own error envelope naming OpenSubtitles (the breaker's threshold is out of reach here)."""
    token = await ready(api)
    stock(osub, feature_hash(media_dir))
    await connect(api, token, osub)
    feature = await media_id(api.app, "Feature.mkv")
    for fault, status, code in (({"fail_status": 500}, 502, "UPSTREAM_ERROR"),
                                ({"fail_status": 503}, 502, "UPSTREAM_ERROR"),
                                ({"garbage": True}, 502, "UPSTREAM_ERROR"),
                                ({"drop": True}, 503, "UNAVAILABLE")):
        osub.set_faults(**fault)
        body = error(await search(api, token, feature), status, code)
        assert "OpenSubtitles" in body["message"] and OS_KEY not in body["message"], fault
    osub.set_faults()
    assert (await search(api, token, feature)).status_code == 200
    osub.refuse()
    body = error(await search(api, token, feature), 503, "UNAVAILABLE")
    assert "OpenSubtitles" in body["message"]


async def test_search_with_a_refused_api_key_is_502(api: Api, osub: OpenSubtitles) -> None:
    token = await ready(api)
    r = await api.client.post("/api/v1/services", headers=bearer(token), json={
        "kind": "opensubtitles", "name": "OS", "url": osub.url, "secret": "not-the-key"})
    assert r.status_code == 201, r.text
    body = error(await search(api, token, await media_id(api.app, "Feature.mkv")), 502, "UPSTREAM_ERROR")
    assert "credentials" in body["message"] and "not-the-key" not in body["message"]


async def test_search_when_opensubtitles_is_too_slow_is_504(settings: Settings, osub: OpenSubtitles) -> None:
    slow = settings.model_copy(update={"integrations_timeout_s": 0.5, "integrations_attempts": 1})
    async with started(slow) as api:
        token = await ready(api)
        await connect(api, token, osub)
        osub.set_faults(delay_s=5)
        error(await search(api, token, await media_id(api.app, "Feature.mkv")), 504, "UPSTREAM_TIMEOUT")
        assert len(osub.calls("GET", "/api/v1/subtitles")) == 1, "one attempt, abandoned"


async def test_search_while_rate_limited_is_a_clear_error(api: Api, osub: OpenSubtitles) -> None:
    token = await ready(api)
    await connect(api, token, osub)
    with osub.lock:
        osub.rate_limited = True
    r = await search(api, token, await media_id(api.app, "Feature.mkv"))
    assert r.status_code in (429, 503), r.text
    body = r.json()["error"]
    assert body["code"] in ("RATE_LIMITED", "UNAVAILABLE")
    assert "rate" in body["message"].lower() or "429" in body["message"]
    with osub.lock:
        osub.rate_limited = False
    r = await search(api, token, await media_id(api.app, "Feature.mkv"))
    assert r.status_code == 200, r.text


# -- OpenSubtitles download --------------------------------------------------------------------------------------------

async def download(api: Api, token: str, mid: str, **body: Any) -> httpx.Response:
    return await api.client.post(f"/api/v1/media/{mid}/subtitles", json=body, headers=bearer(token))


async def test_download_writes_a_sidecar_beside_the_video(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    token = await ready(api)
    stock(osub, feature_hash(media_dir))
    await connect(api, token, osub)
    feature = await media_id(api.app, "Feature.mkv")
    folder = media_dir / "Movies" / "Feature"

    r = await download(api, token, feature, file_id=12, language="en")
    assert r.status_code == 201, r.text
    first = r.json()["data"]
    assert (first["source"], first["format"], first["language"], first["provider"], first["convertible"]) == (
        "sidecar", "srt", "en", "opensubtitles", True)
    assert (folder / "Feature.en.srt").read_bytes() == SRT.encode()
    assert cues((await get_vtt(api, first["url"])).text) == CUES

    r = await download(api, token, feature, file_id=11, language="en")
    assert r.status_code == 201, r.text
    second = r.json()["data"]
    assert (folder / "Feature.en.2.srt").read_bytes() == b"1\n00:00:01,000 --> 00:00:02,000\nby title\n"
    assert cues((await get_vtt(api, second["url"])).text) == [(1000, 2000, "by title")]

    r = await download(api, token, feature, file_id=13)  # no language: no tag in the name
    assert r.status_code == 201, r.text
    assert r.json()["data"]["language"] is None
    assert sorted(os.listdir(folder)) == ["Feature.en.2.srt", "Feature.en.srt", "Feature.mkv", "Feature.srt"]
    assert osub.downloads() == [12, 11, 13]
    assert len(osub.calls("POST", "/api/v1/login")) == 1, "the login token is kept between downloads"

    subs = {s["id"]: s for s in await listing(api, token, feature)}
    assert subs.keys() == {first["id"], second["id"], r.json()["data"]["id"]}
    assert {(s["language"], s["provider"]) for s in subs.values()} == {("en", "opensubtitles"),
                                                                       (None, "opensubtitles")}
    assert (await api.scan())["failed"] == 0  # a rescan keeps them as they are
    assert {s["id"]: s["provider"] for s in await listing(api, token, feature)} == {
        k: "opensubtitles" for k in subs}


async def test_download_when_the_daily_quota_is_used_up_is_429(api: Api, osub: OpenSubtitles,
                                                               media_dir: Path) -> None:
    token = await ready(api)
    stock(osub, feature_hash(media_dir))
    await connect(api, token, osub)
    osub.set_remaining(0)
    before = sorted(os.listdir(media_dir / "Movies" / "Feature"))
    r = await download(api, token, await media_id(api.app, "Feature.mkv"), file_id=12, language="en")
    body = error(r, 429, "RATE_LIMITED")
    assert "quota" in body["message"].lower()
    assert int(r.headers["Retry-After"]) >= 1
    assert sorted(os.listdir(media_dir / "Movies" / "Feature")) == before
    assert osub.downloads() == []


async def test_download_of_an_unknown_file_is_404(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    token = await ready(api)
    await connect(api, token, osub)
    before = sorted(os.listdir(media_dir / "Movies" / "Feature"))
    r = await download(api, token, await media_id(api.app, "Feature.mkv"), file_id=424242, language="en")
    error(r, 404, "NOT_FOUND")
    assert sorted(os.listdir(media_dir / "Movies" / "Feature")) == before


async def test_a_failed_download_writes_nothing(api: Api, osub: OpenSubtitles, media_dir: Path) -> None:
    """The stand-in failing, or sending something that is not a subtitle (a captive portal's page saved as .srt,
    a UTF-16 file cut short): an error envelope, never a 500, and no file beside the video."""
    token = await ready(api)
    stock(osub, feature_hash(media_dir))
    await connect(api, token, osub)
    feature = await media_id(api.app, "Feature.mkv")
    folder = media_dir / "Movies" / "Feature"
    before = sorted(os.listdir(folder))
    problems: dict[str, Any] = {}
    for case, fault, file_id in (("fail-500", {"fail_status": 500}, 12), ("garbage", {"garbage": True}, 12),
                                 ("drop", {"drop": True}, 12), ("html-content", {}, 16),
                                 ("truncated-utf16-content", {}, 17)):
        osub.set_faults(**fault)
        r = await unhandled_is_500(download(api, token, feature, file_id=file_id, language="en"))
        osub.set_faults()
        code = r.json().get("error", {}).get("code") if r.status_code >= 400 else None
        if r.status_code not in (400, 502, 503) or code not in ("BAD_REQUEST", "UPSTREAM_ERROR", "UNAVAILABLE"):
            problems[case] = (r.status_code, code)
        if sorted(os.listdir(folder)) != before:
            problems[f"{case}: written"] = sorted(set(os.listdir(folder)) - set(before))
            for name in set(os.listdir(folder)) - set(before):
                (folder / name).unlink()
    assert problems == {}
    assert await listing(api, token, feature) == []
