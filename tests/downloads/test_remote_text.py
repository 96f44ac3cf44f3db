"""Text a remote site sends (a page's title, the id yt-dlp makes of its URL, its error messages) is cleaned
of NUL, control characters and bidi overrides before it is stored or becomes a file name: PostgreSQL
refuses NUL outright (`invalid byte sequence for encoding "UTF8": 0x00`), and the rest spoofs or breaks
names and one-line formats. Run on both databases (`MEDIANEST_TEST_DATABASE_URL`)."""

from __future__ import annotations

from pathlib import Path

from fastapi import FastAPI
from sqlalchemy import select

from medianest.config import Settings
from medianest.downloads.models import Download, DownloadItem
from medianest.library.models import Media
from medianest.text import BIDI_CONTROLS
from tests.conftest import Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer

TITLE = "Nul\x00Title\x07 with\x1b[31m colour \u202eevil\u2066 done\x7f\x85"
PAGE_PATH = "/watch/odd\x00id\u202e\x01"  # yt-dlp's generic extractor takes the id from the URL's last part


def is_clean(text: str | None) -> bool:
    return text is None or not any(ord(ch) < 0x20 or 0x7F <= ord(ch) < 0xA0 or ord(ch) in BIDI_CONTROLS
                                   for ch in text)


async def test_a_page_with_control_characters_in_its_title_and_id_is_stored_clean(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings) -> None:
    page = server.html_page(PAGE_PATH, "/media/clip.mp4", TITLE)
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, page))["id"], "completed", "failed")
    assert done["status"] == "completed", done
    async with app.state.parts.sessions() as session:
        dl = await session.get(Download, int(done["id"]))
        items = (await session.scalars(select(DownloadItem).where(DownloadItem.download_id == dl.id))).all()
        [media] = (await session.scalars(select(Media))).all()
    stored = [dl.title, dl.error, *(i.title for i in items), *(i.source_id for i in items), *(i.url for i in items),
              media.title, media.channel, media.source_id, media.source_url, media.source_site]
    assert all(is_clean(text) for text in stored), stored
    assert dl.title is not None and "Title" in dl.title and "done" in dl.title  # cleaned, not thrown away
    assert media.source_id is not None and media.source_id.startswith("oddid")
    [file] = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert all(is_clean(part) for part in file.relative_to(settings.library_dirs[0]).parts), file

    preview = await api.client.get("/api/v1/downloads/preview", params={"url": page}, headers=bearer(token))
    assert preview.status_code == 200, preview.text
    assert is_clean(preview.json()["data"]["title"]) and is_clean(preview.json()["data"]["url"])


async def test_an_error_message_with_control_characters_is_stored_clean(
        api: Api, server: MediaServer, tmp_path: Path) -> None:
    server.fail("/watch/gone\x00\u202eid\x1b", 404)  # the id is in yt-dlp's message
    token = await api.setup_admin()
    failed = await wait_status(api, token, (await queue(api, token, server.url("/watch/gone\x00\u202eid\x1b")))["id"],
                               "failed", "completed")
    assert failed["status"] == "failed" and "404" in failed["error"], failed
    assert is_clean(failed["error"]) and "goneid" in failed["error"], failed["error"]
