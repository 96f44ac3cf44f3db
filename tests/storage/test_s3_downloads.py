"""Downloads that land in the bucket (MEDIANEST_DOWNLOADS_STORAGE=s3): a real yt-dlp against the local
media server, the app's own queue consumer, moto's S3 server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.library.scanner import Scanner
from tests.conftest import CHEAP_PASSWORDS, Api, bearer
from tests.downloads.conftest import queue, server, sources, wait_status  # noqa: F401 - fixtures
from tests.downloads.mediaserver import MediaServer
from tests.storage.s3server import S3Server


@pytest.fixture
def settings(tmp_path: Path, database_url: str, s3: S3Server, bucket: str) -> Settings:
    library = tmp_path / "library"
    library.mkdir()
    return Settings(data_dir=tmp_path / "data", media_dirs=[library], database_url=database_url,
                    scan_on_start=False, log_format="console", log_level="WARNING",
                    downloads_allow_private_networks=True, downloads_retry_backoff_s=0.2,
                    api_rate_limit="100000/minute", downloads_storage="s3",
                    **s3.settings(bucket), **CHEAP_PASSWORDS)  # type: ignore[arg-type]


def local_files(settings: Settings) -> list[Path]:
    return [p for d in (settings.library_dirs[0], settings.downloads_tmp_dir) for p in d.rglob("*") if p.is_file()]


async def test_a_download_lands_in_the_bucket_and_streams_from_it(
        api: Api, app: FastAPI, server: MediaServer, sources: dict[str, Path], settings: Settings,  # noqa: F811
        s3: S3Server, bucket: str) -> None:
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, server.url("/media/clip.mp4")))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    [key] = s3.keys(bucket, "downloads/")
    assert key.startswith("downloads/Downloads/") and key.endswith("].mp4")
    assert s3.get(bucket, key) == sources["clip"].read_bytes()
    assert local_files(settings) == []  # nothing kept on the worker's disk
    assert s3.uploads_in_progress(bucket) == 0
    assert len(s3.keys(bucket, ".medianest/artwork/")) == 1  # its thumbnail, for the other hosts

    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert media["kind"] == "video" and media["title"] == "Clip Title" and media["available"]
    ranged = await api.client.get(media["stream_url"], headers={"Range": "bytes=10-99"})
    assert ranged.status_code == 206 and ranged.content == sources["clip"].read_bytes()[10:100]

    again = await api.scan()  # the object is already indexed: a scan finds it unchanged
    assert (again["added"], again["updated"], again["removed"]) == (0, 0, 0), again


async def test_the_same_name_twice_gets_a_second_key(
        api: Api, server: MediaServer, s3: S3Server, bucket: str) -> None:  # noqa: F811
    token = await api.setup_admin()
    first = await wait_status(api, token, (await queue(api, token, server.url("/media/song.mp3"),
                                                       mode="audio", audio_format="mp3"))["id"], "completed", "failed")
    assert first["status"] == "completed", first
    [key] = s3.keys(bucket, "downloads/")
    s3.delete(bucket, key)
    s3.put(bucket, key, b"someone else's file, not indexed yet")  # taken: a free name is chosen
    second = await wait_status(api, token, (await queue(api, token, server.url("/media/clip.mp4"), mode="audio",
                                                        audio_format="mp3"))["id"], "completed", "failed")
    assert second["status"] == "completed", second
    assert len(s3.keys(bucket, "downloads/")) == 2 and s3.get(bucket, key) == b"someone else's file, not indexed yet"


async def test_a_download_that_fails_after_uploading_leaves_no_object_and_retries_to_one(
        api: Api, server: MediaServer, s3: S3Server, bucket: str, monkeypatch: pytest.MonkeyPatch) -> None:  # noqa: F811
    real = Scanner.ingest
    calls: list[Any] = []

    async def crash_once(self: Scanner, *args: Any, **kwargs: Any) -> int:
        calls.append(args)
        if len(calls) == 1:
            raise RuntimeError("the worker fell over after the upload")
        return await real(self, *args, **kwargs)

    monkeypatch.setattr(Scanner, "ingest", crash_once)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/clip.mp4"))
    failed = await wait_status(api, token, queued["id"], "completed", "failed")
    assert failed["status"] == "failed" and "internal error" in failed["error"], failed
    assert s3.keys(bucket, "downloads/") == []  # the uploaded object, never indexed, was taken back

    r = await api.client.post(f"/api/v1/downloads/{queued['id']}/retry", headers=bearer(token))
    assert r.status_code in (200, 202), r.text
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert len(s3.keys(bucket, "downloads/")) == 1 and len(calls) == 2


async def test_an_unreachable_bucket_fails_the_download_with_why_and_keeps_nothing(
        api: Api, app: FastAPI, server: MediaServer, settings: Settings) -> None:  # noqa: F811
    settings.s3_endpoint_url = "http://127.0.0.1:9"  # read by the job's context when the job runs
    settings.downloads_retry_backoff_s = 0
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, server.url("/media/song.mp3")))["id"],
                             "completed", "failed", timeout_s=120)
    assert done["status"] == "failed" and "the bucket cannot be reached" in done["error"], done
    assert local_files(settings) == []
