"""M3U8 export and import through the HTTP API, with the real library paths and tags."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import quote

import pytest
from sqlalchemy import event

from medianest.library.models import Media
from tests.conftest import bearer
from tests.playback.conftest import Library
from tests.playlists.test_playlists import PL, _error, add, create, detail, order


def _path(media_files: dict[str, Path], key: str) -> str:
    return os.path.realpath(media_files[key])


def _relative(media_files: dict[str, Path], media_dir: Path, key: str) -> str:
    return os.path.relpath(_path(media_files, key), os.path.realpath(media_dir))


async def _import(lib: Library, token: str, body: bytes | str, **params: Any) -> Any:
    content = body.encode() if isinstance(body, str) else body
    return await lib.api.client.post(f"{PL}/import", content=content, params=params,
                                     headers={**bearer(token), "content-type": "audio/x-mpegurl"})


async def _export(lib: Library, token: str, pid: str) -> str:
    r = await lib.api.client.get(f"{PL}/{pid}/export.m3u8", headers=bearer(token))
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("audio/x-mpegurl")
    assert "charset=utf-8" in r.headers["content-type"]
    return r.text


async def _playlist(lib: Library, titles: list[str], name: str = "Trip") -> dict[str, Any]:
    pl = await create(lib, lib.a, name)
    for t in titles:
        await add(lib, lib.a, pl["id"], t)
    return await detail(lib, lib.a, pl["id"])


async def test_export_lists_entries_in_order(lib: Library, media_files: dict[str, Path], media_dir: Path,
                                             ) -> None:
    lib.ids["untagged"] = lib.ids["my untagged song"]
    pl = await _playlist(lib, ["Circle", "Jóga", "untagged"], name="Trip / Ünï")
    r = await lib.api.client.get(f"{PL}/{pl['id']}/export.m3u8", headers=bearer(lib.a))
    assert "filename*=UTF-8''" + quote("Trip / Ünï.m3u8", safe="") in r.headers["content-disposition"]
    lines = (await _export(lib, lib.a, pl["id"])).splitlines()
    durations = {i["media"]["title"]: round(i["media"]["duration_s"]) for i in pl["items"]}
    assert lines == [
        "#EXTM3U", "#PLAYLIST:Trip / Ünï",
        f"#EXTINF:{durations['Circle']},Steady Hands - Circle", _relative(media_files, media_dir, "Circle"),
        f"#EXTINF:{durations['Jóga']},Björk Tribute - Jóga", _relative(media_files, media_dir, "Jóga"),
        f"#EXTINF:{durations['my untagged song']},my untagged song", _relative(media_files, media_dir, "untagged"),
    ]
    assert durations["Circle"] == 3


async def test_export_then_import_for_another_user_matches_by_path(lib: Library) -> None:
    lib.ids["unicode"] = next(i for t, i in lib.ids.items() if t.startswith("Ünïcödé"))
    titles = ["Bars Clip", "Jóga", "unicode", "Circle", "Jóga"]
    pl = await _playlist(lib, titles)
    text = await _export(lib, lib.a, pl["id"])
    # Strip the tags: only the paths can match now.
    bare = "\n".join(line for line in text.splitlines() if not line.startswith("#EXTINF"))
    r = await _import(lib, lib.b, bare)
    assert r.status_code == 201, r.text
    result = r.json()["data"]
    assert (result["matched"], result["unmatched"]) == (5, [])
    assert result["playlist"]["name"] == "Trip" and result["playlist"]["is_public"] is False
    mine = await detail(lib, lib.b, result["playlist"]["id"])
    assert [i["media_id"] for i in mine["items"]] == [lib.ids[t] for t in titles]
    assert mine["owner_id"] != pl["owner_id"]
    assert order(mine) == order(pl)
    assert mine["duration_s"] == pl["duration_s"]
    # The importer owns it: it is private, so the exporter cannot see it.
    _error(await lib.api.client.get(f"{PL}/{mine['id']}", headers=bearer(lib.a)), 404, "NOT_FOUND")


async def test_path_with_runs_of_spaces_survives_export(lib: Library, media_files: dict[str, Path],
                                                        media_dir: Path) -> None:
    odd = media_dir / "Odd  Names" / "two  spaces  .mp3"
    odd.parent.mkdir()
    shutil.copy(media_files["untagged"], odd)
    await lib.api.scan()
    lib.ids = {m["title"]: m["id"] for m in await lib.api.all_media(lib.admin)}
    odd_id = next(m["id"] for m in await lib.api.all_media(lib.admin) if m["title"].startswith("two spaces"))
    pl = await create(lib, lib.a)
    r = await lib.api.client.post(f"{PL}/{pl['id']}/items", json={"media_id": odd_id}, headers=bearer(lib.a))
    assert r.status_code == 201, r.text
    text = await _export(lib, lib.a, pl["id"])
    assert "Odd  Names/two  spaces  .mp3" in text.splitlines()
    bare = "\n".join(line for line in text.splitlines() if not line.startswith("#EXTINF"))
    result = (await _import(lib, lib.b, bare)).json()["data"]
    assert (result["matched"], result["unmatched"]) == (1, [])


async def test_import_matches_by_artist_and_title_and_reports_the_rest(lib: Library) -> None:
    unicode_title = next(t for t in lib.ids if t.startswith("Ünïcödé"))
    text = "\r\n".join([
        "#EXTM3U",
        "#PLAYLIST:From elsewhere",
        "#EXTINF:3,Steady Hands - Circle", "/somewhere/else/circle.flac",
        "#EXTINF:200,Nobody - Nothing", "/somewhere/else/nothing.mp3",
        "#EXTINF:-1,BJÖRK TRIBUTE - jóga", r"C:\Music\joga.mp3",  # case-insensitive, Windows path
        # The title alone is not enough when the artist differs.
        "#EXTINF:3,Wrong Artist - Square", "/x/square.opus",
        f"#EXTINF:2,{unicode_title.upper()}", "/x/u.mp3",  # no artist in the label: the title decides
        "#EXTINF:3,Steady Hands - Square", "file:///elsewhere/Square.opus",
        "Music/Steady Hands/Loops/01 Circle.flac",  # a relative path matches the library path's tail
        "http://radio.example/stream",
        "",
    ])
    r = await _import(lib, lib.a, text.encode("utf-8-sig"))
    assert r.status_code == 201, r.text
    result = r.json()["data"]
    assert result["unmatched"] == ["/somewhere/else/nothing.mp3", "/x/square.opus", "http://radio.example/stream"]
    assert result["matched"] == 5
    pl = await detail(lib, lib.a, result["playlist"]["id"])
    assert pl["name"] == "From elsewhere"
    assert order(pl) == ["Circle", "Jóga", unicode_title, "Square", "Circle"]


async def test_import_matches_file_uris_and_relative_paths(lib: Library, media_files: dict[str, Path],
                                                           ) -> None:
    joga = _path(media_files, "Jóga")
    text = "\n".join(["file://" + quote(joga), "./Steady Hands/Loops/01 Circle.flac",
                      r"..\Loops\01 Circle.flac", "Loops/nothing.flac"])
    r = await _import(lib, lib.a, text)
    assert r.status_code == 201, r.text
    assert (r.json()["data"]["matched"], r.json()["data"]["unmatched"]) == (3, ["Loops/nothing.flac"])
    pl = await detail(lib, lib.a, r.json()["data"]["playlist"]["id"])
    assert order(pl) == ["Jóga", "Circle", "Circle"]
    assert "Circle" not in joga  # the path matched, not a tag (there are no #EXTINF lines)


async def test_import_name_parameter_wins_and_default_name(lib: Library) -> None:
    r = await _import(lib, lib.a, "#EXTM3U\n#PLAYLIST:Inside\n", name="Given")
    assert r.status_code == 201, r.text
    assert r.json()["data"]["playlist"]["name"] == "Given"
    r = await _import(lib, lib.a, "#EXTM3U\n")
    assert r.json()["data"]["playlist"]["name"] == "Imported playlist"
    assert r.json()["data"]["playlist"]["item_count"] == 0


async def test_windows_1252_playlist_is_read(lib: Library, media_files: dict[str, Path]) -> None:
    text = "#EXTM3U\r\n#EXTINF:3,Björk Tribute - Jóga\r\nD:\\Musik\\Jóga.mp3\r\n"
    r = await _import(lib, lib.a, text.encode("cp1252"))
    assert r.status_code == 201, r.text
    assert r.json()["data"]["matched"] == 1


@pytest.mark.parametrize("body", [
    os.urandom(4096),
    b"\x00\x01\x02binary\x00" * 100,
    b"\xff\xd8\xff\xe0\x00\x10JFIF\x00\x01" + bytes(range(256)) * 4,  # a JPEG by mistake
    b"#EXTM3U\n/music/a\x00b.mp3\n",
    b"\x81\x8d\x8f\x90\x9d",  # neither UTF-8 nor Windows-1252
], ids=["random", "nul", "jpeg", "nul-in-path", "undecodable"])
async def test_garbage_body_is_a_clear_400(lib: Library, body: bytes) -> None:
    r = await _import(lib, lib.a, body)
    err = _error(r, 400, "BAD_REQUEST")
    assert "playlist" in err["message"].lower()
    assert (await lib.get(lib.a, PL))["data"] == []  # nothing half-created


async def test_empty_body_is_400(lib: Library) -> None:
    for body in (b"", b"  \n\r\n"):
        _error(await _import(lib, lib.a, body), 400, "BAD_REQUEST")


async def test_huge_body_is_413(lib: Library) -> None:
    line = b"/music/" + b"x" * 200 + b".mp3\n"
    r = await _import(lib, lib.a, line * (3 * 1024 * 1024 // len(line)))
    _error(r, 413, "PAYLOAD_TOO_LARGE")
    assert (await lib.get(lib.a, PL))["data"] == []


@pytest.mark.parametrize("name", ["x" * 300, "", "   ", "a\nb"])
async def test_import_name_is_validated(lib: Library, name: str) -> None:
    r = await _import(lib, lib.a, "#EXTM3U\n", name=name)
    assert _error(r, 422, "VALIDATION_ERROR")["details"]["fields"]


async def test_export_skips_soft_deleted_media(lib: Library) -> None:
    pl = await _playlist(lib, ["Circle", "Square"])
    r = await lib.api.client.delete(f"/api/v1/media/{lib.ids['Circle']}", headers=bearer(lib.admin))
    assert r.status_code == 204
    text = await _export(lib, lib.a, pl["id"])
    assert "Circle" not in text and "Square" in text


# --- bounded input, no LIKE pattern from user text ------------------------------------------------------

@contextlib.contextmanager
def _statements(lib: Library) -> Iterator[list[str]]:
    """Every SQL statement the app sends while the block runs."""
    engine = lib.api.app.state.parts.sessions.kw["bind"].sync_engine
    seen: list[str] = []

    def record(_conn: Any, _cursor: Any, statement: str, *_: Any) -> None:
        seen.append(statement)

    event.listen(engine, "before_cursor_execute", record)
    try:
        yield seen
    finally:
        event.remove(engine, "before_cursor_execute", record)


@pytest.mark.parametrize("line", [
    "/music/" + "x" * 60_000 + ".mp3",
    "Artist/" + "x" * 60_000 + ".mp3",
    "#EXTINF:3,Someone - " + "x" * 60_000,
    "#PLAYLIST:" + "x" * 60_000,
], ids=["absolute", "relative", "extinf", "playlist-name"])
async def test_absurdly_long_line_is_a_clear_422(lib: Library, line: str) -> None:
    r = await _import(lib, lib.a, f"#EXTM3U\n{line}\nSteady Hands/Loops/01 Circle.flac\n")
    err = _error(r, 422, "VALIDATION_ERROR")
    assert err["details"]["fields"][0]["field"] == "body"
    assert "line 2" in err["message"]
    assert (await lib.get(lib.a, PL))["data"] == []  # nothing half-created


async def test_long_multibyte_lines_within_the_limit_import(lib: Library) -> None:
    # 15,000 four-byte characters: within the line limit, but 60 kB, past SQLite's 50,000-byte LIKE limit.
    notes = "🎵" * 15_000
    text = "\n".join(["#EXTM3U", f"#EXTINF:3,{notes}", f"Music/{notes}.mp3",
                      f"#EXTINF:3,Steady Hands - {notes}", f"/x/{notes}%_.flac",
                      "#EXTINF:3,Steady Hands - Circle", f"{notes}/nothing.flac"])
    r = await _import(lib, lib.a, text)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["matched"] == 1 and len(r.json()["data"]["unmatched"]) == 2


async def test_import_matches_without_like_patterns(lib: Library, media_files: dict[str, Path]) -> None:
    text = "\n".join(["#EXTINF:3,Steady Hands - Circle", "/elsewhere/circle.flac",  # by tags
                      "./Steady Hands/Loops/01 Circle.flac",  # by the path's tail
                      "Steady%Hands/Loops/01_Circle.flac",  # wildcards are plain characters
                      _path(media_files, "Jóga")])
    with _statements(lib) as seen:
        r = await _import(lib, lib.a, text)
    assert r.status_code == 201, r.text
    assert r.json()["data"]["unmatched"] == ["Steady%Hands/Loops/01_Circle.flac"]
    assert order(await detail(lib, lib.a, r.json()["data"]["playlist"]["id"])) == ["Circle", "Circle", "Jóga"]
    assert not [s for s in seen if re.search(r"\b(I?LIKE|GLOB)\b", s, re.IGNORECASE)]


# --- export: no server paths, one-line titles, a round trip ---------------------------------------------

async def test_export_shows_no_server_path_and_imports_back(lib: Library, media_dir: Path) -> None:
    lib.ids["unicode"] = next(i for t, i in lib.ids.items() if t.startswith("Ünïcödé"))
    lib.ids["long"] = next(i for t, i in lib.ids.items() if "very long name" in t)
    titles = ["Bars Clip", "Jóga", "unicode", "long", "Circle", "Jóga"]
    pl = await _playlist(lib, titles)
    text = await _export(lib, lib.a, pl["id"])
    server = os.path.realpath(media_dir)
    assert server not in text and os.path.dirname(server) not in text
    locations = [line for line in text.splitlines() if not line.startswith("#")]
    assert len(locations) == len(titles) and not [p for p in locations if p.startswith("/")]
    # The same user imports it back on the same server, without the tags: the same items in the same order.
    bare = "\n".join(line for line in text.splitlines() if not line.startswith("#EXTINF"))
    r = await _import(lib, lib.a, bare)
    assert r.status_code == 201, r.text
    assert (r.json()["data"]["matched"], r.json()["data"]["unmatched"]) == (len(titles), [])
    again = await detail(lib, lib.a, r.json()["data"]["playlist"]["id"])
    assert [i["media_id"] for i in again["items"]] == [i["media_id"] for i in pl["items"]]


async def test_export_titles_are_one_line(lib: Library) -> None:
    pl = await _playlist(lib, ["Circle"])
    async with lib.api.app.state.parts.sessions() as session:
        media = await session.get(Media, int(lib.ids["Circle"]))
        assert media is not None
        media.title, media.artist = "Bad\nTitle\x1b[31m\u202e\x07", "Some\u2028One\r"
        await session.commit()
    lines = (await _export(lib, lib.a, pl["id"])).splitlines()
    assert len(lines) == 4 and lines[2].startswith("#EXTINF:")
    assert lines[2].split(",", 1)[1] == "Some One - Bad Title[31m"


async def test_import_limits_are_in_the_openapi_document(lib: Library) -> None:
    r = await lib.api.client.get("/api/openapi.json")
    assert r.status_code == 200, r.text
    operation = r.json()["paths"]["/api/v1/playlists/import"]["post"]
    assert {"400", "413", "422"} <= set(operation["responses"])
    assert "16384 characters is refused (422)" in operation["requestBody"]["description"]
