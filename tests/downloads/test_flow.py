"""The download flow through the API: yt-dlp in a child process, the queue consumed inside the app."""

from __future__ import annotations

import asyncio
import re
import time
from pathlib import Path

import av
import httpx
from fastapi import FastAPI

from medianest.app import create_app
from medianest.config import Settings
from tests.conftest import Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer


async def test_a_video_lands_in_the_library_and_streams(api: Api, app: FastAPI, server: MediaServer,
                                                        sources: dict[str, Path], settings: Settings) -> None:
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/clip.mp4"))
    assert queued["status"] == "queued" and queued["percent"] == 0

    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert done["percent"] == 100 and done["attempts"] == 1 and len(done["media_ids"]) == 1

    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert media["kind"] == "video" and media["source_url"] == server.url("/media/clip.mp4")
    body = (await api.client.get(media["stream_url"])).content
    assert body == sources["clip"].read_bytes()  # the very bytes the site served
    files = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert len(files) == 1 and files[0].relative_to(settings.library_dirs[0]).parts[0] == "Downloads"
    assert files[0].name.endswith("].mp4")
    assert not any(settings.downloads_tmp_dir.rglob("*"))  # no temporary file left behind

    events = [(e, p) for e, p, _ in app.state.parts.notifier.recent if e.startswith("download:")]
    names = [e for e, _ in events]
    assert names[0] == "download:queued" and names[1] == "download:started" and names[-1] == "download:completed"
    percents = [p["percent"] for e, p in events if e == "download:progress"]
    assert percents == sorted(percents)  # never goes back
    assert any(e == "library:updated" for e, _, _ in app.state.parts.notifier.recent)


async def test_audio_mode_converts_to_the_chosen_format(api: Api, server: MediaServer, settings: Settings) -> None:
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/clip.mp4"), mode="audio", audio_format="opus")
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert media["kind"] == "audio"
    [path] = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    with av.open(str(path)) as container:  # the real codec, not the file name
        assert [s.codec_context.name for s in container.streams] == ["opus"]


async def test_private_addresses_are_refused_by_default(api: Api, app: FastAPI, server: MediaServer) -> None:
    app.state.parts.settings.downloads_allow_private_networks = False  # the default, which the fixture turned off
    token = await api.setup_admin()
    for url in (server.url("/media/clip.mp4"), "http://169.254.169.254/latest/meta-data/", "file:///etc/passwd"):
        r = await api.client.post("/api/v1/downloads", json={"url": url}, headers=bearer(token))
        assert r.status_code == 422, r.text
        assert r.json()["error"]["details"]["fields"][0]["field"] in ("url", "body.url")
    listed = (await api.client.get("/api/v1/downloads", headers=bearer(token))).json()
    assert listed["meta"]["total"] == 0 and server.requests == []  # nothing stored, nothing fetched


async def test_cancel_stops_the_download_within_two_seconds(api: Api, app: FastAPI, server: MediaServer,
                                                           settings: Settings) -> None:
    server.throttle("/media/big.mp4", 200_000)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/big.mp4"))
    deadline = time.monotonic() + 60
    while server.bytes_sent("/media/big.mp4") < 200_000:
        assert time.monotonic() < deadline
        await asyncio.sleep(0.1)

    r = await api.client.delete(f"/api/v1/downloads/{queued['id']}", headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"]["status"] == "canceled"
    await asyncio.sleep(2)
    sent = server.bytes_sent("/media/big.mp4")
    await asyncio.sleep(1)
    assert server.bytes_sent("/media/big.mp4") == sent  # the child was killed: nothing more is fetched
    assert not any(settings.downloads_tmp_dir.rglob("*"))  # its partial file is gone
    assert not any(p.is_file() for p in settings.library_dirs[0].rglob("*"))
    final = await wait_status(api, token, queued["id"], "canceled")
    assert final["media_ids"] == []
    recent = app.state.parts.notifier.recent
    canceled = [e for e, p, _ in recent if e == "download:canceled" and p["id"] == queued["id"]]
    assert len(canceled) == 1  # announced once, by the cancel, not again by the stopping worker


async def test_a_dropped_connection_is_resumed(api: Api, server: MediaServer, sources: dict[str, Path]) -> None:
    # Two GETs only look at what the URL is (the job's, then yt-dlp's own before it downloads; each reads
    # little); the third is the download, and it drops after 1 MB.
    server.drop_after("/media/big.mp4", 1_000_000, times=3)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/big.mp4"))
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed" and done["attempts"] == 2, (done["error"], done)
    ranges = [r.range for r in server.requests_for("/media/big.mp4") if r.method == "GET" and r.range]
    assert ranges and int(ranges[-1].removeprefix("bytes=").split("-")[0]) > 0  # resumed, not restarted
    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert (await api.client.get(media["stream_url"])).content == sources["big"].read_bytes()


async def test_a_missing_file_fails_at_once_and_can_be_retried(api: Api, server: MediaServer) -> None:
    server.fail("/media/clip.mp4", 404, times=10)
    token = await api.setup_admin()
    queued = await queue(api, token, server.url("/media/clip.mp4"))
    failed = await wait_status(api, token, queued["id"], "failed", "completed")
    assert failed["status"] == "failed" and failed["attempts"] <= 1 and "404" in failed["error"]

    server.clear("/media/clip.mp4")
    r = await api.client.post(f"/api/v1/downloads/{queued['id']}/retry", headers=bearer(token))
    assert r.status_code == 202 and r.json()["data"]["status"] == "queued"
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    again = await api.client.post(f"/api/v1/downloads/{queued['id']}/retry", headers=bearer(token))
    assert again.status_code == 409


async def test_the_same_source_is_linked_not_downloaded_twice(api: Api, server: MediaServer,
                                                              settings: Settings) -> None:
    token = await api.setup_admin()
    first = await wait_status(api, token, (await queue(api, token, server.url("/media/song.mp3"), mode="audio"))["id"],
                              "completed", "failed")
    fetched = server.bytes_sent("/media/song.mp3")
    second = await wait_status(api, token, (await queue(api, token, server.url("/media/song.mp3"), mode="audio"))["id"],
                               "completed", "failed")
    assert first["status"] == second["status"] == "completed"
    assert second["media_ids"] == first["media_ids"]
    assert len([p for p in settings.library_dirs[0].rglob("*") if p.is_file()]) == 1
    assert server.bytes_sent("/media/song.mp3") - fetched < 1_000_000 // 10  # a look, not a second download


async def test_others_downloads_are_invisible(api: Api, server: MediaServer) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    mine = await queue(api, alice, server.url("/media/clip.mp4"))
    for method in ("GET", "DELETE"):
        r = await api.client.request(method, f"/api/v1/downloads/{mine['id']}", headers=bearer(bob))
        assert r.status_code == 404
    r = await api.client.post(f"/api/v1/downloads/{mine['id']}/retry", headers=bearer(bob))
    assert r.status_code == 404
    assert (await api.client.get("/api/v1/downloads", headers=bearer(bob))).json()["meta"]["total"] == 0
    assert (await api.client.get("/api/v1/downloads", headers=bearer(admin))).json()["meta"]["total"] == 1
    await wait_status(api, alice, mine["id"], "completed", "failed")


async def test_the_rate_limit_answers_429_with_retry_after(api: Api, app: FastAPI, server: MediaServer) -> None:
    token = await api.setup_admin()
    for _ in range(5):
        await app.state.parts.limits.hit("downloads", "1")  # five downloads this hour already (the default limit)
    r = await api.client.post("/api/v1/downloads", json={"url": server.url("/media/clip.mp4")}, headers=bearer(token))
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED"
    assert 0 < int(r.headers["retry-after"]) <= 3600
    assert (await api.client.get("/api/v1/downloads", headers=bearer(token))).json()["meta"]["total"] == 0


async def test_preview_describes_a_url_without_downloading_it(api: Api, server: MediaServer,
                                                              settings: Settings) -> None:
    token = await api.setup_admin()
    page = server.html_page("/watch/clip", "/media/clip.mp4", "A Page Title")
    r = await api.client.get("/api/v1/downloads/preview", params={"url": page}, headers=bearer(token))
    assert r.status_code == 200, r.text
    info = r.json()["data"]
    assert info["title"].startswith("A Page Title") and info["is_playlist"] is False
    assert info["qualities"][0] == "best" and info["audio_formats"] == ["mp3", "m4a", "opus", "flac"]
    assert server.requests_for("/media/clip.mp4") == []  # the page was read; the video never fetched
    assert not any(p.is_file() for p in settings.library_dirs[0].rglob("*"))
    r = await api.client.get("/api/v1/downloads/preview", params={"url": server.url("/nothing")},
                             headers=bearer(token))
    assert r.status_code == 400 and r.json()["error"]["code"] == "BAD_REQUEST"


async def test_a_page_with_two_videos_becomes_one_download_with_two_items(api: Api, server: MediaServer) -> None:
    html = (f"<html><head><title>Two Clips</title></head><body>"
            f"<video src='{server.url('/media/clip.mp4')}'></video>"
            f"<video src='{server.url('/media/big.mp4')}'></video></body></html>")
    page = server.add_bytes("/watch/two", html.encode(), "text/html; charset=utf-8")
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, page))["id"], "completed", "failed")
    assert done["status"] == "completed", done
    assert [i["position"] for i in done["items"]] == [0, 1] and len(set(done["media_ids"])) == 2


async def test_health_reports_the_queue(api: Api, app: FastAPI) -> None:
    health = (await api.client.get("/health")).json()
    # The count is what the store says now: the periodic jobs (status, request sync) queue themselves
    # as the consumer starts, so it need not be 0.
    assert health["checks"]["queue"]["status"] == "ok"
    assert re.fullmatch(r"sqlite, \d+ waiting", health["checks"]["queue"]["detail"]), health

    def broken() -> int:
        raise OSError("queue store unreachable")

    app.state.parts.jobs.huey.pending_count = broken
    r = await api.client.get("/health")
    assert r.status_code == 503 and r.json()["checks"]["queue"]["status"] == "fail"


async def test_server_errors_are_retried_with_backoff(api: Api, server: MediaServer) -> None:
    server.fail("/media/clip.mp4", 503, times=2)  # the look at the URL fails twice, then all is well
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, server.url("/media/clip.mp4")))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    statuses = [r.method for r in server.requests_for("/media/clip.mp4")]
    assert len(statuses) >= 4  # two refused, then the look and the download


async def test_clear_removes_finished_downloads_but_keeps_their_media(api: Api, app: FastAPI,
                                                                      server: MediaServer) -> None:
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, server.url("/media/clip.mp4")))["id"],
                             "completed", "failed")
    r = await api.client.delete("/api/v1/downloads", headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"]["removed"] == 1
    assert f"download:{done['id']}" in app.state.parts.notifier.closed_rooms  # nobody stays subscribed to it
    assert (await api.client.get("/api/v1/downloads", headers=bearer(token))).json()["meta"]["total"] == 0
    media = await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))
    assert media.status_code == 200


async def test_a_file_over_the_size_limit_fails_and_leaves_nothing(api: Api, app: FastAPI, server: MediaServer,
                                                                   settings: Settings) -> None:
    app.state.parts.settings.downloads_max_filesize_mb = 1  # the big file is 3 MB
    token = await api.setup_admin()
    failed = await wait_status(api, token, (await queue(api, token, server.url("/media/big.mp4")))["id"],
                               "failed", "completed")
    assert failed["status"] == "failed" and "larger than" in failed["error"] and failed["attempts"] == 1
    assert not any(p.is_file() for p in settings.library_dirs[0].rglob("*"))
    assert not any(settings.downloads_tmp_dir.rglob("*"))


async def test_a_playlist_limit_keeps_the_first_entries(api: Api, server: MediaServer) -> None:
    videos = "".join(f"<video src='{server.url(p)}'></video>"
                     for p in ("/media/clip.mp4", "/media/song.mp3", "/media/big.mp4"))
    page = server.add_bytes("/watch/three", f"<html><title>Three</title><body>{videos}</body></html>".encode(),
                            "text/html; charset=utf-8")
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, page, playlist_limit=2))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    assert [i["url"] for i in done["items"]] == [server.url("/media/clip.mp4"), server.url("/media/song.mp3")]
    assert server.requests_for("/media/big.mp4") == []


async def test_a_server_stopped_mid_download_resumes_it_on_the_next_start(
        settings: Settings, server: MediaServer, sources: dict[str, Path]) -> None:
    """Embedded mode: stopping `serve` hands a running download back to the queue with its `.part`
    file; the next start picks it up and resumes it with a Range request."""
    path = "/media/big.mp4"
    server.throttle(path, 400_000)
    first = create_app(settings)
    async with first.router.lifespan_context(first), _client(first) as client:
        api = Api(client, first)
        token = await api.setup_admin()
        queued = await queue(api, token, server.url(path))
        deadline = time.monotonic() + 60
        while server.bytes_sent(path) < 1_200_000:
            assert time.monotonic() < deadline
            await asyncio.sleep(0.1)
    assert any(settings.downloads_tmp_dir.rglob("*.part"))  # kept for the next start

    server.throttle(path, None)
    second = create_app(settings)
    async with second.router.lifespan_context(second), _client(second) as client:
        api = Api(client, second)
        done = await wait_status(api, await api.login("admin"), queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    resumed = [r.range for r in server.requests_for(path) if r.method == "GET" and r.range]
    assert resumed and int(resumed[-1].removeprefix("bytes=").split("-")[0]) > 0
    [file] = [p for p in settings.library_dirs[0].rglob("*") if p.is_file()]
    assert file.read_bytes() == sources["big"].read_bytes()


def _client(app: FastAPI) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
