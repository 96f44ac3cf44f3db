"""Path traversal: nothing a client sends makes the server read, list or name a file outside its folders.

A "secret" audio file and image (each ending in a marker) sit beside the media folder, and no response
may ever carry the marker, or the first line of /etc/passwd.

- Stream and artwork: ids spelling paths (percent-encoded, double-encoded, backslashes, absolute, NUL,
  and literal `..` segments sent raw to the ASGI app, as a proxy that does not normalise would) are
  404/400/422 error envelopes; so is a media row whose stored path, or artwork name, points outside the
  folders; and a media file replaced by a symlink to a file outside is not served, whether or not the
  item was just streamed (the access cache holds resolved paths for a moment).
- M3U import: entries naming files outside the media folders (relative, absolute, Windows, `file://`,
  percent-encoded, or through a symlink in the media folder) match nothing, and the answer does not say
  whether the outside file exists.
- Downloads: `render_template` and `place` keep hostile titles, channels and ids (`../`, `..\\`,
  absolute, percent-encoded, NUL, `.`, `..`, empty, very long Unicode) inside the target folder.
- Scan: a symlinked folder pointing out of the media folder is not followed (one pointing inside is).
"""

from __future__ import annotations

import asyncio
import os
import shutil
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any
from urllib.parse import quote, unquote

import httpx
import pytest
from fastapi import FastAPI
from sqlalchemy import select, update
from starlette.types import Message

from medianest.downloads.placement import place
from medianest.filenames import DEFAULT_TEMPLATE, MAX_COMPONENT_BYTES, render_template
from medianest.library.models import Media
from medianest.library.walk import walk
from tests.conftest import Api, bearer

MARKER = b"MEDIANEST-TRAVERSAL-SECRET-7f3a91c2"
PASSWD = b"root:x:0:0"
NOT_SERVED = (400, 404, 422)


@dataclass(frozen=True)
class Outside:
    """Files beside the media folder (in the test's tmp dir, next to `media/` and `data/`)."""

    folder: Path
    audio: Path  # a real, playable MP3 with MARKER appended
    image: Path  # JPEG magic bytes and MARKER


@pytest.fixture
def outside(tmp_path: Path, media_files: dict[str, Path]) -> Outside:
    folder = tmp_path / "outside"
    folder.mkdir()
    audio = folder / "secret.mp3"
    audio.write_bytes(media_files["untagged"].read_bytes() + MARKER)
    image = folder / "secret.jpg"
    image.write_bytes(b"\xff\xd8\xff\xe0" + MARKER)
    return Outside(folder, audio, image)


@dataclass
class Lib:
    api: Api
    admin: str
    items: dict[str, dict[str, Any]]  # title -> media item as the admin sees it

    @property
    def client(self) -> httpx.AsyncClient:
        return self.api.client

    def id(self, title: str) -> str:
        return str(self.items[title]["id"])


async def _scanned(api: Api) -> Lib:
    admin = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    return Lib(api, admin, {item["title"]: item for item in await api.all_media(admin)})


@pytest.fixture
async def lib(api: Api, outside: Outside) -> Lib:
    return await _scanned(api)


def _leaks(body: bytes) -> bool:
    return MARKER in body or PASSWD in body


def _refusal(r: httpx.Response) -> tuple[int, str] | None:
    """None when `r` is a proper refusal (an error envelope with a not-served status, no secret bytes)."""
    is_json = r.headers.get("content-type", "").startswith("application/json")
    if r.status_code in NOT_SERVED and is_json and "error" in r.json() and not _leaks(r.content):
        return None
    return r.status_code, r.content[:80].decode("latin-1")


async def _bytes_routes(lib: Lib, media_id: str) -> dict[str, httpx.Response]:
    """The item's stream through the fast path and through the route, and its artwork, as the admin."""
    base, auth = f"/api/v1/media/{media_id}", bearer(lib.admin)
    return {"stream (fast path)": await lib.client.get(f"{base}/stream", headers=auth),
            "stream (route)": await lib.client.get(f"{base}/stream", params={"download": "false"}, headers=auth),
            "artwork": await lib.client.get(f"{base}/artwork", headers=auth)}


# --- stream and artwork: ids that spell paths ------------------------------------------------------------

BAD_IDS = [
    "..%2f..%2fetc%2fpasswd", "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "%252e%252e%252fetc%252fpasswd",
    "..%5c..%5cetc%5cpasswd", "..\\..\\etc\\passwd", "%2fetc%2fpasswd", "%00", "1%00", "1%00.mp3", "..", ".",
    "%2e%2e", "1%2f..%2f..%2f..%2fetc%2fpasswd", "~root", "1;%2fetc%2fpasswd", "%c0%ae%c0%ae%2fetc%2fpasswd",
]


async def test_ids_that_spell_paths_are_not_found(lib: Lib, outside: Outside) -> None:
    assert {k: r.status_code for k, r in (await _bytes_routes(lib, lib.id("Jóga"))).items()} == dict.fromkeys(
        ["stream (fast path)", "stream (route)", "artwork"], 200)
    ids = [*BAD_IDS, quote(str(outside.audio), safe=""), quote(str(outside.image), safe="")]
    bad = {}
    for media_id in ids:
        for where, r in (await _bytes_routes(lib, media_id)).items():
            if (why := _refusal(r)) is not None:
                bad[f"{media_id} @ {where}"] = why
    for url in ("/api/v1/media//etc/passwd/stream", "/api/v1/media//etc/passwd/artwork",
                f"/api/v1/media/{quote(str(outside.audio))}/stream"):
        if (why := _refusal(await lib.client.get(url, headers=bearer(lib.admin)))) is not None:
            bad[url] = why
    assert bad == {}


async def _raw_get(app: FastAPI, raw_path: bytes, token: str) -> tuple[int, bytes]:
    """A GET with `raw_path` exactly as given: httpx (like browsers) removes `..` segments before sending,
    a hand-written client or a non-normalising proxy does not."""
    scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1", "method": "GET", "scheme": "http",
             "path": unquote(raw_path.decode("latin-1")), "raw_path": raw_path, "root_path": "", "query_string": b"",
             "headers": [(b"host", b"testserver"), (b"authorization", f"Bearer {token}".encode())],
             "client": ("127.0.0.1", 50000), "server": ("testserver", 80)}
    messages: list[Message] = []
    requested = False

    async def receive() -> Message:
        nonlocal requested
        if not requested:
            requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await asyncio.Event().wait()  # never disconnects
        raise AssertionError("unreachable")

    async def send(message: Message) -> None:
        messages.append(message)

    await app(scope, receive, send)
    status = next(m["status"] for m in messages if m["type"] == "http.response.start")
    return status, b"".join(m.get("body", b"") for m in messages if m["type"] == "http.response.body")


async def test_literal_dot_segments_sent_raw_are_not_found(lib: Lib, media_files: dict[str, Path],
                                                           outside: Outside) -> None:
    mid = lib.id("Circle").encode()
    status, body = await _raw_get(lib.api.app, b"/api/v1/media/" + mid + b"/stream", lib.admin)
    assert (status, body) == (200, media_files["Circle"].read_bytes())  # the helper reaches the route
    relative_secret = os.path.relpath(outside.audio, media_files["Circle"].parent).encode()
    paths = [b"/api/v1/media/../../../../../../etc/passwd", b"/api/v1/media/../../../../../../etc/passwd/stream",
             b"/api/v1/media/" + mid + b"/stream/../../../../../../etc/passwd", b"/api/v1/media/../stream",
             b"/api/v1/media/" + mid + b"/../" + mid + b"/stream", b"/api/v1/media/%2e%2e/artwork",
             b"/api/v1/media/" + mid + b"/stream/" + relative_secret, b"/api/v1/media/.%2e/.%2e/stream",
             b"/api/v1/media/..%5c..%5c/stream", b"/" + relative_secret]
    got = {p: await _raw_get(lib.api.app, p, lib.admin) for p in paths}
    assert {p: s for p, (s, b) in got.items() if s not in NOT_SERVED or _leaks(b)} == {}


async def test_hostile_media_tokens_in_the_query(lib: Lib) -> None:
    url = f"/api/v1/media/{lib.id('Circle')}/stream"
    for token, status in (("../../../../etc/passwd", 401), ("%2e%2e%2fetc%2fpasswd", 401),
                          ("/etc/passwd", 401), ("\x00", 422), ("x\x00/../../etc/passwd", 422)):
        r = await lib.client.get(url, params={"token": token})
        assert (r.status_code, _leaks(r.content)) == (status, False), token


# --- stream and artwork: what the database or the disk points at ------------------------------------------

async def _set(lib: Lib, media_id: str, **values: Any) -> None:
    async with lib.api.app.state.parts.sessions() as session:  # its commit also drops the access cache
        await session.execute(update(Media).where(Media.id == int(media_id)).values(**values))
        await session.commit()


async def test_a_stored_path_outside_the_media_folders_is_not_served(lib: Lib, media_dir: Path,
                                                                   outside: Outside) -> None:
    mid = lib.id("Circle")
    assert (await lib.client.get(f"/api/v1/media/{mid}/stream", headers=bearer(lib.admin))).status_code == 200
    bad = {}
    for path in (str(outside.audio), f"{media_dir}/../outside/secret.mp3", "/etc/passwd", "../outside/secret.mp3",
                 f"{media_dir}/Music/../../outside/secret.mp3", f"{media_dir}\\..\\outside\\secret.mp3", "/",
                 str(media_dir)):
        await _set(lib, mid, path=path)
        for where, r in (await _bytes_routes(lib, mid)).items():
            if where.startswith("stream") and (why := _refusal(r)) is not None:
                bad[f"{path} @ {where}"] = why
    assert bad == {}


async def test_a_stored_artwork_name_never_leaves_the_artwork_cache(lib: Lib, outside: Outside) -> None:
    mid = lib.id("Jóga")
    assert (await _bytes_routes(lib, mid))["artwork"].status_code == 200
    bad = {}
    for name in ("../../outside/secret.jpg", str(outside.image), "..\\..\\outside\\secret.jpg", "..", ".", "",
                 "%2e%2e%2f%2e%2e%2foutside%2fsecret.jpg", "/etc/passwd", "../../../../../../etc/passwd",
                 "./../../outside/secret.jpg", "..%5c..%5coutside%5csecret.jpg"):
        await _set(lib, mid, artwork=name)
        if (why := _refusal((await _bytes_routes(lib, mid))["artwork"])) is not None:
            bad[name] = why
    assert bad == {}


def _swap_for_symlink(path: Path, target: Path) -> None:
    path.unlink()
    path.symlink_to(target)


async def test_a_media_file_swapped_for_a_symlink_to_outside_is_not_served(
        lib: Lib, media_files: dict[str, Path], outside: Outside) -> None:
    assert (await _bytes_routes(lib, lib.id("Square")))["stream (fast path)"].status_code == 200
    _swap_for_symlink(media_files["Circle"], outside.audio)
    got = await _bytes_routes(lib, lib.id("Circle"))
    assert {w: _refusal(r) for w, r in got.items() if w.startswith("stream")} == {
        "stream (fast path)": None, "stream (route)": None}


async def test_a_media_file_swapped_for_a_symlink_right_after_a_play_is_not_served(
        lib: Lib, media_files: dict[str, Path], outside: Outside) -> None:
    """The access cache keeps an item's resolved path for a moment (streaming/access.py); a file turned
    into a link to outside the media folders in that moment must still not be served through it."""
    mid = lib.id("Circle")
    first = await lib.client.get(f"/api/v1/media/{mid}/stream", headers=bearer(lib.admin))
    assert first.content == media_files["Circle"].read_bytes()
    _swap_for_symlink(media_files["Circle"], outside.audio)
    got = await _bytes_routes(lib, mid)
    assert {w: _refusal(r) for w, r in got.items() if w.startswith("stream")} == {
        "stream (fast path)": None, "stream (route)": None}


# --- M3U import -----------------------------------------------------------------------------------------

async def _import(lib: Lib, text: str) -> dict[str, Any]:
    r = await lib.client.post("/api/v1/playlists/import", content=text.encode(),
                              headers={**bearer(lib.admin), "content-type": "audio/x-mpegurl"})
    assert r.status_code == 201, r.text
    assert not _leaks(r.content)
    data: dict[str, Any] = r.json()["data"]
    return data


async def _titles(lib: Lib, playlist_id: str) -> list[str]:
    r = await lib.client.get(f"/api/v1/playlists/{playlist_id}", headers=bearer(lib.admin))
    assert r.status_code == 200, r.text
    return [item["media"]["title"] for item in r.json()["data"]["items"]]


def _outside_entries(media_dir: Path, target: Path) -> list[str]:
    """Ways an M3U entry can name `target`, a file beside the media folder."""
    name, rel = target.name, f"{target.parent.name}/{target.name}"
    return [
        "../../../../etc/passwd", "/etc/passwd", f"..\\..\\{name}", "file:///etc/passwd", str(target),
        "file://" + quote(str(target)), f"../{rel}", f"{media_dir}/../{rel}", f"%2e%2e/%2e%2e/{rel}",
        f"file://{quote(str(media_dir))}/..%2f{quote(rel)}", f"file://{media_dir}/../{rel}",
        f"C:\\..\\..\\{rel.replace('/', chr(92))}", f"..%2f..%2f{name}", f"%2e%2e%5c{name}",
    ]


async def test_m3u_entries_pointing_outside_match_nothing(api: Api, media_dir: Path, media_files: dict[str, Path],
                                                          outside: Outside) -> None:
    link = media_dir / "Links" / "secret.mp3"  # in the library before the scan, which refuses it
    link.parent.mkdir()
    link.symlink_to(outside.audio)
    lib = await _scanned(api)
    hostile = [*_outside_entries(media_dir, outside.audio), str(link), "file://" + quote(str(link)),
               "Links/secret.mp3", "../Links/secret.mp3", f"{media_dir}/Links/../Links/secret.mp3"]
    control = os.path.realpath(media_files["Jóga"])
    data = await _import(lib, "\n".join(["#EXTM3U", *hostile, control]) + "\n")
    assert (data["matched"], data["unmatched"]) == (1, hostile)
    assert await _titles(lib, data["playlist"]["id"]) == ["Jóga"]


async def test_m3u_import_does_not_reveal_whether_an_outside_file_exists(lib: Lib, media_dir: Path,
                                                                         outside: Outside) -> None:
    absent = outside.folder / "absent.mp3"  # the same length as secret.mp3
    assert outside.audio.exists() and not absent.exists() and len(absent.name) == len(outside.audio.name)
    existing = await _import(lib, "\n".join(_outside_entries(media_dir, outside.audio)))
    missing = await _import(lib, "\n".join(_outside_entries(media_dir, absent)))

    def shape(data: dict[str, Any]) -> Any:
        playlist = {k: v for k, v in data["playlist"].items() if k not in ("id", "created_at", "updated_at")}
        return data["matched"], [u.replace("absent", "secret") for u in data["unmatched"]], playlist

    assert shape(existing) == shape(missing)
    assert existing["matched"] == 0


# --- downloads: names and placement ------------------------------------------------------------------------

HOSTILE = [
    "../../x", "..\\..\\x", "/etc/x", "%2e%2e%2fx", "%2e%2e%5cx", "x\x00/../../y", "\x00", "..\x00/x", ".", "..",
    "...", "", " ", " .. ", "../", "./", "//", "....//....//x", "~/x", "C:\\Windows\\x", "\\\\server\\share\\x",
    "\u202e../x", "..\u2215..\u2215x", "．．／x",
]
# Values that fill a 255-byte file name on their own (the template cuts them to fit).
LONG = ["Ω" * 300, "🎵" * 200, "日本語/" * 100, "x/" * 200, "../" * 100, "a" * 1000]
TEMPLATES = [DEFAULT_TEMPLATE, "{site}/{uploader}/{channel}/{playlist}/{upload_date}/{title} [{id}].{ext}",
             "{title}.{ext}", "{channel}/{id}.{ext}"]


def _assert_contained(root: Path, rel: PurePosixPath, template: str) -> None:
    parts = rel.parts
    assert not rel.is_absolute() and len(parts) == template.count("/") + 1, rel
    assert all(p not in ("", ".", "..") and "/" not in p and "\\" not in p and "\x00" not in p for p in parts), parts
    assert all(len(p.encode()) <= MAX_COMPONENT_BYTES for p in parts), parts
    full = os.path.normpath(root / rel)
    assert full.startswith(str(root) + os.sep), full


def _label(value: str) -> str:
    return ascii(value)[1:-1][:24] or "empty"


@pytest.mark.parametrize("value", HOSTILE + LONG, ids=_label)
def test_rendered_download_paths_stay_inside_the_library(value: str, tmp_path: Path) -> None:
    root = tmp_path / "library"
    for template in TEMPLATES:
        for field in ("channel", "title", "id", "site", "uploader", "upload_date", "playlist"):
            _assert_contained(root, render_template(template, {field: value}, "mp4"), template)
        everything = dict.fromkeys(("channel", "title", "id", "site", "uploader", "upload_date", "playlist"), value)
        _assert_contained(root, render_template(template, everything, value), template)


def _files(folder: Path) -> set[str]:
    return {str(p) for p in folder.rglob("*")}


def _place(tmp_path: Path, source: dict[str, Any], template: str = DEFAULT_TEMPLATE) -> tuple[Path, Path]:
    """`place` a small file from an incoming folder into `tmp_path/library`; (library root, destination)."""
    root, incoming = tmp_path / "library", tmp_path / "incoming"
    root.mkdir(parents=True)
    incoming.mkdir()
    src = incoming / "download.mp4"
    src.write_bytes(b"video bytes")
    before = _files(tmp_path)
    dest = place(src, root, template, source)
    assert dest.resolve().is_relative_to(root.resolve()), dest
    assert dest.read_bytes() == b"video bytes" and not src.exists()
    assert {p for p in _files(tmp_path) - before if not Path(p).is_relative_to(root)} == set()
    return root, dest


@pytest.mark.parametrize("value", HOSTILE, ids=_label)
def test_placed_downloads_land_inside_the_library(value: str, tmp_path: Path) -> None:
    _, dest = _place(tmp_path, {"title": value, "channel": value, "id": value, "site": value, "uploaded_at": value})
    assert dest.name.endswith(".mp4")


@pytest.mark.parametrize("value", LONG, ids=_label)
def test_a_download_with_very_long_names_is_placed(value: str, tmp_path: Path) -> None:
    """The rendered file name is cut to 255 bytes (names.py); placing it must not need a longer one. A
    single value is cut to 180 bytes, so it takes two long values in one component to fill 255."""
    source = {"title": value, "channel": "Channel", "id": "abc123"}
    root, dest = _place(tmp_path / "one", source)
    assert dest.parent == root / "Downloads" / "Channel" and dest.name.endswith(" [abc123].mp4")
    # Cut on a character boundary: up to 3 bytes short of the limit with multi-byte characters.
    _, dest = _place(tmp_path / "two", {**source, "channel": value}, "{channel} - {title}.{ext}")
    assert MAX_COMPONENT_BYTES - 3 <= len(dest.name.encode()) <= MAX_COMPONENT_BYTES
    _, dest = _place(tmp_path / "all", {**source, "channel": value, "id": value})
    assert MAX_COMPONENT_BYTES - 3 <= len(dest.name.encode()) <= MAX_COMPONENT_BYTES


def test_placement_never_writes_through_a_symlink_at_the_destination(tmp_path: Path) -> None:
    root, incoming = tmp_path / "library", tmp_path / "incoming"
    incoming.mkdir()
    victim = tmp_path / "victim.txt"
    victim.write_bytes(b"keep me")
    source = {"title": "Clip", "channel": "Chan", "id": "abc"}
    taken = root / render_template(DEFAULT_TEMPLATE, source, "mp4")
    taken.parent.mkdir(parents=True)
    taken.symlink_to(victim)
    src = incoming / "clip.mp4"
    src.write_bytes(b"new bytes")
    dest = place(src, root, DEFAULT_TEMPLATE, source)
    assert dest != taken and dest.parent == taken.parent and dest.read_bytes() == b"new bytes"
    assert victim.read_bytes() == b"keep me" and taken.is_symlink()


# --- scan: symlinked folders ----------------------------------------------------------------------------

async def test_a_scan_does_not_follow_a_symlinked_folder_out_of_the_media_folder(
        api: Api, media_dir: Path, media_files: dict[str, Path], outside: Outside, tmp_path: Path) -> None:
    album = outside.folder / "album"
    album.mkdir()
    shutil.copyfile(outside.audio, album / "escaped.mp3")
    (media_dir / "Escape").symlink_to(album)
    (media_dir / "Up").symlink_to(tmp_path)  # the media folder's parent: outside, and holds it
    (media_dir / "Root").symlink_to("/")
    hidden = media_dir / ".hidden" / "kept"  # hidden folders are skipped: reachable only through the link
    hidden.mkdir(parents=True)
    shutil.copyfile(media_files["untagged"], hidden / "linked in.mp3")
    (media_dir / "Shown").symlink_to(hidden)  # inside: followed
    root = media_dir.resolve()
    listed = walk([root]).files
    top = {Path(p).relative_to(root).parts[0] for p in listed}
    assert "Shown" in top and not top & {"Escape", "Up", "Root"}, top
    token = await api.setup_admin()
    scan = await api.scan()
    assert scan["status"] == "completed", scan
    async with api.app.state.parts.sessions() as session:
        paths = list(await session.scalars(select(Media.path)))
    assert str(root / "Shown" / "linked in.mp3") in paths
    escaped = [p for p in paths if not os.path.realpath(p).startswith(str(root) + os.sep)]
    assert escaped == [] and not [p for p in paths if "escaped" in p or "secret" in p]
    listing = await api.client.get("/api/v1/media", params={"per_page": 100}, headers=bearer(token))
    assert listing.status_code == 200 and b"escaped" not in listing.content and not _leaks(listing.content)
