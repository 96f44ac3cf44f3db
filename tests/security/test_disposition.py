"""`Content-Disposition` names carry no invisible characters: a title with a bidi override (U+202E) could
otherwise save "evil<U+202E>gpj.exe" shown as "evilexe.jpg". Every place that names a file is checked: a
stream with `?download=1` and a playlist's export."""

from __future__ import annotations

import re
import unicodedata
from urllib.parse import unquote

import pytest
from sqlalchemy import update

from medianest.library.models import Media
from medianest.playlists.models import Playlist
from medianest.streaming.response import content_disposition
from tests.conftest import Api, bearer

# An override, an isolate, a zero-width space and joiner, a BOM, a left-to-right mark, and two controls.
HOSTILE = "evil\u202egpj\u2066.\u200bx\u200d\ufeff\u200ey\x07\x1b"


def _names(header: str) -> tuple[str, str]:
    """The ASCII `filename` and the decoded `filename*` of a Content-Disposition header."""
    plain = re.search(r'filename="([^"]*)"', header)
    encoded = re.search(r"filename\*=UTF-8''(\S+)", header)
    assert plain and encoded, header
    return plain.group(1), unquote(encoded.group(1), errors="strict")


def _invisible(name: str) -> list[str]:
    return [f"U+{ord(c):04X}" for c in name if unicodedata.category(c) in ("Cf", "Cc", "Cs")]


@pytest.mark.parametrize("name", [HOSTILE + ".mp3", "\u202e", "caf\u00e9 \u0645\u0648\u0633\u064a\u0642\u0649.mp3",
                                  "lone \ud800 surrogate.mp3"])
def test_a_disposition_never_names_an_invisible_character(name: str) -> None:
    plain, exact = _names(content_disposition(name))
    assert _invisible(exact) == [] and plain.isascii() and plain
    assert exact.replace(" ", "").strip()


def test_visible_characters_are_kept() -> None:
    _, exact = _names(content_disposition("caf\u00e9 \u0645\u0648\u0633\u064a\u0642\u0649.mp3"))
    assert exact == "caf\u00e9 \u0645\u0648\u0633\u064a\u0642\u0649.mp3"
    assert _names(content_disposition(HOSTILE + ".mp3"))[1] == "evilgpj.xy.mp3"


async def test_a_downloaded_file_is_named_without_them(api: Api) -> None:
    admin = await api.setup_admin()
    await api.scan()
    item = (await api.all_media(admin))[0]
    async with api.app.state.parts.sessions() as session:
        await session.execute(update(Media).where(Media.id == int(item["id"])).values(title=HOSTILE))
        await session.commit()
    r = await api.client.get(f"/api/v1/media/{item['id']}/stream?download=1", headers=bearer(admin))
    assert r.status_code == 200
    exact = _names(r.headers["content-disposition"])[1]
    assert _invisible(exact) == [] and exact.startswith("evilgpj.xy.")
    assert "%E2%80%AE" not in r.headers["content-disposition"].upper()


async def test_an_exported_playlist_is_named_without_them(api: Api) -> None:
    admin = await api.setup_admin()
    r = await api.client.post("/api/v1/playlists", json={"name": "mix"}, headers=bearer(admin))
    assert r.status_code == 201, r.text
    playlist_id = r.json()["data"]["id"]
    async with api.app.state.parts.sessions() as session:
        await session.execute(update(Playlist).where(Playlist.id == int(playlist_id)).values(name=HOSTILE))
        await session.commit()
    r = await api.client.get(f"/api/v1/playlists/{playlist_id}/export.m3u8", headers=bearer(admin))
    assert r.status_code == 200
    exact = _names(r.headers["content-disposition"])[1]
    assert _invisible(exact) == [] and exact == "evilgpj.xy.m3u8"
