"""Text to speech through the API, on the app's own queue consumer: a text becomes an audio item of the
library whose tags the scanner read back from the file; long texts go to Google in pieces under its limit and
come back as one file; a cancel stops the job mid-way; Google down fails the job, not the worker."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path
from typing import Any

from fastapi import FastAPI
from sqlalchemy import select

from medianest.config import Settings
from medianest.downloads.models import Download
from medianest.library.models import Media
from medianest.speech.models import SpeechRequest
from tests.conftest import Api, bearer
from tests.downloads.conftest import wait_status
from tests.speech.conftest import connect_google, speak
from tests.speech.googletts import CLIP_S, GoogleTts
from tests.speech.probe import probe

SHORT_EN = "The quick brown fox jumps over the lazy dog."
LONG_EN = " ".join([SHORT_EN, "It was the best of times, it was the worst of times.",
                    "Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse,"
                    " I thought I would sail about a little and see the watery part of the world."] * 2)
SHORT_DE = "Guten Morgen, wie geht es dir?"
LONG_DE = " ".join([SHORT_DE, "Heute scheint die Sonne, und wir gehen am Nachmittag im Park spazieren."] * 3)


async def _media(api: Api, token: str, done: dict[str, Any]) -> dict[str, Any]:
    assert done["status"] == "completed", done
    r = await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))
    media: dict[str, Any] = r.json()["data"]
    return media


async def _file(app: FastAPI, media: dict[str, Any]) -> Path:
    """Where the item's file is, as the library indexed it."""
    async with app.state.parts.sessions() as session:
        path = await session.scalar(select(Media.path).where(Media.id == int(media["id"])))
    assert path is not None
    return Path(path)


async def test_offline_speech_in_two_languages_lands_as_tagged_audio(api: Api, app: FastAPI,
                                                                     settings: Settings) -> None:
    token = await api.setup_admin()
    lengths: dict[str, float] = {}
    for language, text in (("en-US", SHORT_EN), ("en-US", LONG_EN), ("de", SHORT_DE), ("de", LONG_DE)):
        queued = await speak(api, token, text=text, language=language)
        assert queued["status"] == "queued" and queued["mode"] == "audio" and queued["audio_format"] == "mp3"
        media = await _media(api, token, await wait_status(api, token, queued["id"], "completed", "failed"))
        # The scanner read these from the file's tags (the title is the text's first words).
        short = len(text) <= 60
        assert media["kind"] == "audio" and (media["title"] == text if short else
                                             text.startswith(media["title"].removesuffix("…")))
        assert media["artist"] == "Text to speech" and media["album"] == "Text to speech"
        probed = probe(await _file(app, media))
        assert probed.container == "mp3" and probed.audio_streams == 1 and probed.loudest > 0.05
        lengths[text] = media["duration_s"]
    assert lengths[LONG_EN] > 3 * lengths[SHORT_EN] > 0 and lengths[LONG_DE] > 3 * lengths[SHORT_DE] > 0
    assert not any(settings.downloads_tmp_dir.rglob("*"))  # the pieces are gone
    names = [e for e, _, _ in app.state.parts.notifier.recent if e.startswith("download:")]
    assert names.count("download:completed") == 4 and "download:progress" in names


async def test_the_chosen_format_and_voice(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    queued = await speak(api, token, text="Bonjour à tous.", language="fr-FR", voice="f3", audio_format="opus")
    media = await _media(api, token, await wait_status(api, token, queued["id"], "completed", "failed"))
    probed = probe(await _file(app, media))
    assert probed.container == "ogg" and probed.audio_streams == 1 and media["title"] == "Bonjour à tous."
    assert media["mime"].startswith("audio/")


async def test_a_long_text_goes_to_google_in_pieces_and_comes_back_joined(api: Api, app: FastAPI,
                                                                          google: GoogleTts) -> None:
    admin = await api.setup_admin()
    await connect_google(api, admin, google.url)
    sentence = "Über den Wolken muss die Freiheit wohl grenzenlos sein. "  # multi-byte: bytes, not characters
    text = (sentence * 220).strip()  # about 12,800 bytes: three pieces
    queued = await speak(api, admin, text=text, language="de-DE", voice="de-DE-Standard-B", provider="google")
    done = await wait_status(api, admin, queued["id"], "completed", "failed")
    media = await _media(api, admin, done)
    pieces = google.spoken
    assert len(pieces) == 3 and all(len(p.encode()) <= 5000 for p in pieces)
    assert " ".join(pieces) == text  # all of it, in order, each piece ending at a sentence
    assert all(p.endswith("sein.") for p in pieces)
    calls = google.calls("POST", "/v1/text:synthesize")
    assert {c.json()["voice"]["name"] for c in calls} == {"de-DE-Standard-B"}
    assert {c.json()["audioConfig"]["audioEncoding"] for c in calls} == {"MP3"}
    assert abs(media["duration_s"] - 3 * CLIP_S) < 0.5  # three one-second answers, joined
    assert media["artist"] == "Text to speech" and media["title"].startswith("Über den Wolken")
    # The row's progress moved piece by piece before the end (percent never going back).
    percents = [p["percent"] for e, p, _ in app.state.parts.notifier.recent
                if e == "download:progress" and p["id"] == queued["id"]]
    assert percents == sorted(percents) and percents[-1] == 100 and any(0 < p < 100 for p in percents)
    assert done["downloaded_bytes"] > 0 and done["attempts"] == 1


async def test_a_cancel_stops_a_job_mid_way(api: Api, google: GoogleTts, settings: Settings) -> None:
    admin = await api.setup_admin()
    await connect_google(api, admin, google.url)
    google.hold = threading.Event()  # the first piece is asked for, and not answered until released
    text = ("A sentence that goes to Google. " * 400).strip()
    queued = await speak(api, admin, text=text, language="en-US", provider="google")
    deadline = time.monotonic() + 30
    while not google.calls("POST", "/v1/text:synthesize"):
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    r = await api.client.delete(f"/api/v1/downloads/{queued['id']}", headers=bearer(admin))
    assert r.status_code == 200 and r.json()["data"]["status"] == "canceled"
    await wait_status(api, admin, queued["id"], "canceled")
    deadline = time.monotonic() + 30
    while any(settings.downloads_tmp_dir.rglob("*")):  # the worker has stopped and cleared the job's files
        assert time.monotonic() < deadline
        await asyncio.sleep(0.05)
    google.hold.set()
    await asyncio.sleep(1)
    assert len(google.calls("POST", "/v1/text:synthesize")) == 1  # no piece asked for after the cancel
    assert not any(p.is_file() for p in settings.library_dirs[0].rglob("*"))
    final = await wait_status(api, admin, queued["id"], "canceled")
    assert final["media_ids"] == []


async def test_google_down_fails_the_job_with_a_clear_error_and_the_worker_goes_on(
        api: Api, google: GoogleTts, settings: Settings) -> None:
    admin = await api.setup_admin()
    await connect_google(api, admin, google.url)
    google.refuse()
    queued = await speak(api, admin, text="Nobody will say this.", language="en-US", provider="google")
    failed = await wait_status(api, admin, queued["id"], "failed", "completed")
    assert failed["status"] == "failed" and "Google Cloud Text-to-Speech" in failed["error"]
    assert "unreachable" in failed["error"] or "unavailable" in failed["error"]
    assert failed["attempts"] == 3  # transient: tried again, as any download
    after = await speak(api, admin, text="The worker is still here.", language="en")
    assert (await wait_status(api, admin, after["id"], "completed", "failed"))["status"] == "completed"


async def test_a_refused_key_fails_at_once(api: Api, google: GoogleTts) -> None:
    admin = await api.setup_admin()
    await connect_google(api, admin, google.url, key="not-the-key")
    queued = await speak(api, admin, text="Hello.", language="en-US", provider="google")
    failed = await wait_status(api, admin, queued["id"], "failed", "completed")
    assert failed["attempts"] == 1 and "refused our credentials" in failed["error"]
    assert "API key not valid" in failed["error"]


async def test_the_job_and_its_text_are_one_transaction_and_removed_together(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    queued = await speak(api, token, text=SHORT_EN, language="en")
    await wait_status(api, token, queued["id"], "completed", "failed")
    async with app.state.parts.sessions() as session:
        dl = await session.get(Download, int(queued["id"]))
        request = await session.get(SpeechRequest, int(queued["id"]))
        assert dl is not None and dl.kind == "speech" and request is not None
        assert (request.text, request.language, request.voice, request.provider) == (SHORT_EN, "en", None, "offline")
        media = (await session.scalars(select(Media))).one()
        assert media.source_site == "tts" and media.source_id == f"speech-{queued['id']}"
    assert (await api.client.delete(f"/api/v1/downloads/{queued['id']}", headers=bearer(token))).status_code == 204
    async with app.state.parts.sessions() as session:
        assert await session.get(SpeechRequest, int(queued["id"])) is None  # gone with its download
