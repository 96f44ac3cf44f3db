"""Text to speech through the API, on the app's own queue consumer: a text becomes a tagged audio item."""

from __future__ import annotations

import av
from fastapi import FastAPI

from medianest.config import Settings
from tests.conftest import Api, bearer
from tests.downloads.conftest import wait_status
from tests.speech.conftest import speak

SHORT_EN = "The quick brown fox jumps over the lazy dog."
LONG_EN = " ".join([SHORT_EN, "It was the best of times, it was the worst of times.",
                    "Call me Ishmael. Some years ago, never mind how long precisely, having little money in my purse,"
                    " I thought I would sail about a little and see the watery part of the world."] * 2)


async def test_offline_speech_lands_as_a_tagged_audio_item(api: Api, app: FastAPI, settings: Settings) -> None:
    token = await api.setup_admin()
    queued = await speak(api, token, text=SHORT_EN, language="en-US")
    assert queued["status"] == "queued" and queued["mode"] == "audio" and queued["audio_format"] == "mp3"
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert media["kind"] == "audio" and media["title"] == SHORT_EN
    assert media["artist"] == "Text to speech" and media["album"] == "Text to speech"
    [path] = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    with av.open(str(path)) as container:
        assert [s.codec_context.name for s in container.streams] == ["mp3"]
    assert not any(settings.downloads_tmp_dir.rglob("*"))
