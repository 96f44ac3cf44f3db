"""A bucket prefix as a library folder: scanned (incrementally, by ETag, size and time), streamed with
Range, If-Range and conditional GETs as a local file is, transcoded by ffmpeg reading the object, and
kept (unavailable) when the bucket cannot be reached. Against moto's S3 server on 127.0.0.1."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import av
import httpx
import pytest

from medianest.app import create_app
from medianest.config import Settings
from medianest.errors import Unavailable
from medianest.storage.objects import Bucket
from tests.conftest import CHEAP_PASSWORDS, Api, bearer, serving
from tests.storage.s3server import S3Server, s3_server

PREFIX = "music/"


def s3_settings(tmp_path: Path, database_url: str, s3: S3Server, bucket: str, **extra: Any) -> Settings:
    local = tmp_path / "local"
    local.mkdir(parents=True, exist_ok=True)
    return Settings(data_dir=tmp_path / "data", media_dirs=[local], database_url=database_url, scan_on_start=False,
                    log_format="console", log_level="WARNING", plex_tv_url="http://127.0.0.1:9",
                    s3_media_prefixes=[PREFIX], **s3.settings(bucket), **extra, **CHEAP_PASSWORDS)  # type: ignore[arg-type]


@pytest.fixture
def settings(tmp_path: Path, database_url: str, s3: S3Server, bucket: str) -> Settings:
    return s3_settings(tmp_path, database_url, s3, bucket)


def upload_library(s3: S3Server, bucket: str, source: tuple[Path, dict[str, str]]) -> dict[str, bytes]:
    """The generated library under PREFIX, by title (and name for the untagged ones): the bytes put."""
    root, files = source
    put = {}
    for name, rel in files.items():
        data = (root / rel).read_bytes()
        s3.put(bucket, PREFIX + rel, data)
        put[name] = data
    s3.put(bucket, PREFIX + "Unsorted/notes.txt", b"not media")
    s3.put(bucket, PREFIX + "Unsorted/.hidden.mp3", put["untagged"])  # hidden names are skipped
    return put


async def stream_url(api: Api, token: str, title: str) -> str:
    url: str = (await api.media_by_title(token, title))["stream_url"]
    return url


async def test_a_bucket_prefix_is_scanned_and_streams_with_ranges(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]]) -> None:
    put = upload_library(s3, bucket, media_source)
    token = await api.setup_admin()
    stats = await api.scan()
    assert stats["status"] == "completed", stats
    assert (stats["added"], stats["failed"]) == (10, 3)  # 7 tagged + 3 untagged; corrupt, corrupt video, empty
    titles = {m["title"] for m in await api.all_media(token)}
    assert {"Jóga", "Circle", "Bars Clip", "my untagged song", "Ünïcödé 日本語 🎵"} <= titles
    data = put["Jóga"]
    url = await stream_url(api, token, "Jóga")

    whole = await api.client.get(url)
    assert whole.status_code == 200 and whole.content == data
    assert whole.headers["content-type"] == "audio/mpeg" and whole.headers["accept-ranges"] == "bytes"
    etag, modified = whole.headers["etag"], whole.headers["last-modified"]

    part = await api.client.get(url, headers={"Range": "bytes=100-1123"})
    assert part.status_code == 206 and part.content == data[100:1124]
    assert part.headers["content-range"] == f"bytes 100-1123/{len(data)}"
    suffix = await api.client.get(url, headers={"Range": "bytes=-10"})
    assert suffix.status_code == 206 and suffix.content == data[-10:]

    multi = await api.client.get(url, headers={"Range": "bytes=0-9,200-209"})
    assert multi.status_code == 206 and multi.headers["content-type"].startswith("multipart/byteranges")
    assert data[0:10] in multi.content and data[200:210] in multi.content

    assert (await api.client.get(url, headers={"If-None-Match": etag})).status_code == 304
    assert (await api.client.get(url, headers={"If-Modified-Since": modified})).status_code == 304
    stale = await api.client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another-version"'})
    assert stale.status_code == 200 and stale.content == data  # If-Range no longer matches: the whole file
    fresh = await api.client.get(url, headers={"Range": "bytes=0-9", "If-Range": etag})
    assert fresh.status_code == 206 and fresh.content == data[:10]

    beyond = await api.client.get(url, headers={"Range": f"bytes={len(data)}-"})
    assert beyond.status_code == 416 and beyond.headers["content-range"] == f"bytes */{len(data)}"
    assert beyond.json()["error"]["code"] == "RANGE_NOT_SATISFIABLE"
    malformed = await api.client.get(url, headers={"Range": "bytes=9-1"})
    assert malformed.status_code == 200 and malformed.content == data  # ignored, as for a local file
    head = await api.client.head(url, headers={"Range": "bytes=0-9"})
    assert head.status_code == 206 and head.content == b"" and head.headers["content-length"] == "10"


async def test_rescans_probe_only_what_changed_by_etag_size_and_time(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]]) -> None:
    put = upload_library(s3, bucket, media_source)
    token = await api.setup_admin()
    first = await api.scan()
    again = await api.scan()
    assert (again["added"], again["updated"], again["removed"], again["failed"]) == (0, 0, 0, 3), again
    assert again["processed"] == again["total"] == 13

    files = media_source[1]
    s3.put(bucket, PREFIX + files["Jóga"], put["untagged"])  # rewritten with other bytes
    s3.delete(bucket, PREFIX + files["Circle"])
    changed = await api.scan()
    assert (changed["added"], changed["updated"], changed["removed"]) == (0, 1, 1), changed
    assert first["added"] == 10
    titles = {m["title"] for m in await api.all_media(token)}
    assert "Circle" not in titles and "Jóga" not in titles  # retitled from its new (untagged) bytes
    url = await stream_url(api, token, "01 Jóga")
    assert (await api.client.get(url)).content == put["untagged"]


async def test_an_object_rewritten_after_the_scan_is_never_served_mixed(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]]) -> None:
    put = upload_library(s3, bucket, media_source)
    token = await api.setup_admin()
    await api.scan()
    url = await stream_url(api, token, "Jóga")
    s3.put(bucket, PREFIX + media_source[1]["Jóga"], put["Circle"])
    r = await api.client.get(url, headers={"Range": "bytes=0-99"})
    # The index announces the old version's size and validators: its bytes are not served under them.
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    await api.scan()
    after = await api.client.get(url, headers={"Range": "bytes=0-99"})  # same item, its new version
    assert after.status_code == 206 and after.content == put["Circle"][:100]


async def test_an_unreachable_bucket_keeps_every_item_and_says_why(
        tmp_path: Path, database_url: str, media_source: tuple[Path, dict[str, str]]) -> None:
    with s3_server() as own:  # a server of its own, to stop
        bucket = own.new_bucket()
        upload_library(own, bucket, media_source)
        async with serving(create_app(s3_settings(tmp_path, database_url, own, bucket))) as api:
            token = await api.setup_admin()
            await api.scan()
            url = await stream_url(api, token, "Circle")
            own.process.kill()
            own.process.wait()
            stats = await api.scan()
            assert stats["removed"] == 0 and sorted(stats["offline_folders"], key=str) == [
                {"path": f"s3://{bucket}/{prefix}", "reason": "the bucket cannot be reached"}
                for prefix in ("downloads", "music")], stats
            items = await api.all_media(token)
            assert len(items) == 10 and not any(m["available"] for m in items)
            r = await api.client.get(url, headers={"Range": "bytes=0-9"})
            assert r.status_code == 503 and r.headers["retry-after"] == "30"
            assert r.json()["error"]["details"]["reason"] == "the bucket cannot be reached"


async def test_ffmpeg_transcodes_an_object_it_reads_from_the_bucket(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]], tmp_path: Path) -> None:
    upload_library(s3, bucket, media_source)
    token = await api.setup_admin()
    await api.scan()
    url = await stream_url(api, token, "Circle")  # FLAC: transcoded to MP3 on the fly
    r = await api.client.get(f"{url}&format=mp3&bitrate=128")
    assert r.status_code == 200 and r.headers["content-type"] == "audio/mpeg", r.text
    out = tmp_path / "circle.mp3"
    out.write_bytes(r.content)
    with av.open(str(out)) as container:
        [stream] = container.streams.audio
        assert stream.codec_context.name in ("mp3", "mp3float")  # the decoder FFmpeg picks for MP3
        assert 2.5 < float(container.duration or 0) / 1_000_000 < 3.5


async def test_redirect_mode_sends_a_presigned_url_that_serves_the_ranges(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    put = upload_library(s3, bucket, media_source)
    async with serving(create_app(s3_settings(tmp_path / "r", database_url, s3, bucket, s3_redirect=True))) as api:
        token = await api.setup_admin()
        await api.scan()
        url = await stream_url(api, token, "Jóga")
        r = await api.client.get(url)
        assert r.status_code == 307 and "X-Amz-Signature=" in r.headers["location"]
        assert (await api.client.get(url.split("?")[0])).status_code == 401  # access is still checked first
        async with httpx.AsyncClient(timeout=10) as plain:  # no credentials: only the signature
            bytes_ = await plain.get(r.headers["location"], headers={"Range": "bytes=5-14"})
        assert bytes_.status_code == 206 and bytes_.content == put["Jóga"][5:15]


def test_settings_refuse_s3_media_without_a_bucket() -> None:
    with pytest.raises(ValueError, match="MEDIANEST_S3_BUCKET"):
        Settings(downloads_storage="s3")
    with pytest.raises(ValueError, match="not a usable S3 prefix"):
        Settings(s3_bucket="media-x", s3_media_prefixes=["music/../secrets"])
    assert Settings(s3_bucket="media-x", s3_media_prefixes=["/a//b", ""]).s3_roots == [
        "s3://media-x/a/b", "s3://media-x", "s3://media-x/downloads"]


async def indexed_once(tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
                       media_source: tuple[Path, dict[str, str]]) -> tuple[str, str]:
    """The library put in the bucket and scanned by a server that is then stopped: the admin's token and
    Jóga's stream URL, for a server started next on other settings."""
    upload_library(s3, bucket, media_source)
    async with serving(create_app(s3_settings(tmp_path, database_url, s3, bucket))) as api:
        token = await api.setup_admin()
        await api.scan()
        return token, await stream_url(api, token, "Jóga")


async def test_items_of_a_prefix_no_longer_configured_are_not_streamed(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    token, url = await indexed_once(tmp_path, database_url, s3, bucket, media_source)
    other = s3_settings(tmp_path, database_url, s3, bucket)
    other.s3_media_prefixes = ["elsewhere/"]
    async with serving(create_app(other)) as api:
        r = await api.client.get(url, headers=bearer(token))
        assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"


async def test_a_cover_found_by_one_host_is_served_by_another_through_the_bucket(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    upload_library(s3, bucket, media_source)
    secret = "a-shared-secret-for-both-hosts-0123456789"
    scanner = s3_settings(tmp_path / "worker", database_url, s3, bucket, secret=secret)
    async with serving(create_app(scanner)) as api:
        token = await api.setup_admin()
        await api.scan()
        joga = await api.media_by_title(token, "Jóga")
        here = (await api.client.get(joga["artwork_url"], headers=bearer(token))).content
    assert [k for k in s3.keys(bucket, ".medianest/artwork/")], "the cover was shared to the bucket"
    other = s3_settings(tmp_path / "api", database_url, s3, bucket, secret=secret)
    assert not other.artwork_dir.exists() or not any(other.artwork_dir.iterdir())
    async with serving(create_app(other)) as api:
        r = await api.client.get(joga["artwork_url"], headers=bearer(token))
        assert r.status_code == 200 and r.content == here and r.headers["content-type"] == "image/jpeg"


async def test_purging_an_item_deletes_its_object_so_no_scan_brings_it_back(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]]) -> None:
    upload_library(s3, bucket, media_source)
    token = await api.setup_admin()
    await api.scan()
    joga = await api.media_by_title(token, "Jóga")
    r = await api.client.delete(f"/api/v1/media/{joga['id']}", params={"purge": "true"}, headers=bearer(token))
    assert r.status_code == 204, r.text
    assert PREFIX + media_source[1]["Jóga"] not in s3.keys(bucket, PREFIX)
    await api.scan()
    assert "Jóga" not in {m["title"] for m in await api.all_media(token)}


async def test_objects_that_could_not_be_fetched_are_tried_again_at_the_next_scan(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]],
        monkeypatch: pytest.MonkeyPatch) -> None:
    upload_library(s3, bucket, media_source)
    token = await api.setup_admin()

    def down(*_: Any) -> None:
        raise Unavailable("bucket", bucket, "the bucket cannot be reached")

    with monkeypatch.context() as patched:
        patched.setattr(Bucket, "fetch", down)  # listed fine, then the bucket went away mid-scan
        first = await api.scan()
    assert (first["added"], first["failed"]) == (0, 13), first
    second = await api.scan()  # nothing changed in the bucket: what failed for the bucket's sake is read now
    assert (second["added"], second["failed"]) == (10, 3), second
    assert len(await api.all_media(token)) == 10


async def test_a_webm_object_is_webm_to_the_playback_decision_and_no_signed_url_leaks(
        api: Api, s3: S3Server, bucket: str, media_source: tuple[Path, dict[str, str]]) -> None:
    upload_library(s3, bucket, media_source)
    s3.put(bucket, PREFIX + "Broken/fake.webm", b"\x1aE\xdf\xa3 not really a webm")
    token = await api.setup_admin()
    await api.scan()
    motion = await api.media_by_title(token, "Motion Study")  # a .webm (VP8), which browsers play as it is
    r = await api.client.get(f"/api/v1/media/{motion['id']}/playback", headers=bearer(token),
                             params={"containers": "webm,mp4", "video": "vp8,vp9,h264", "audio": "opus,vorbis,aac"})
    assert r.status_code == 200, r.text
    assert (r.json()["data"]["method"], r.json()["data"]["container"]) == ("direct", "webm"), r.json()
    fake = [m for m in await api.all_media(token) if m["title"] == "fake"]
    assert fake == []  # not media: listed as unreadable, never indexed


async def test_a_mistyped_prefix_keeps_the_items_of_the_one_it_replaced(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    token, _ = await indexed_once(tmp_path, database_url, s3, bucket, media_source)
    typo = s3_settings(tmp_path, database_url, s3, bucket)
    typo.s3_media_prefixes = ["Music/"]  # S3 keys are case-sensitive: nothing is there
    async with serving(create_app(typo)) as api:
        stats = await api.scan()
        assert stats["removed"] == 0, stats
        items = await api.all_media(token)
        assert len(items) == 10 and not any(m["available"] for m in items)
    async with serving(create_app(s3_settings(tmp_path, database_url, s3, bucket))) as api:
        stats = await api.scan()
        assert (stats["removed"], stats["added"]) == (0, 0), stats
        assert all(m["available"] for m in await api.all_media(token))


async def test_downloads_landed_in_the_bucket_stay_when_downloads_go_back_to_local(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    s3.put(bucket, "downloads/Downloads/x/clip.mp3", (media_source[0] / media_source[1]["untagged"]).read_bytes())
    settings = s3_settings(tmp_path, database_url, s3, bucket)  # downloads_storage: local (the default)
    assert f"s3://{bucket}/downloads" in settings.s3_roots
    async with serving(create_app(settings)) as api:
        token = await api.setup_admin()
        await api.scan()
        assert "clip" in {m["title"] for m in await api.all_media(token)}


async def test_redirect_mode_signs_for_the_address_players_use(
        tmp_path: Path, database_url: str, s3: S3Server, bucket: str,
        media_source: tuple[Path, dict[str, str]]) -> None:
    """MediaNest reaches the bucket at one address (compose: http://minio:9000) and players at another:
    the redirect names the players' one, signed for it. Here: 127.0.0.1 for MediaNest, localhost for them."""
    put = upload_library(s3, bucket, media_source)
    public = s3.endpoint.replace("127.0.0.1", "localhost")
    settings = s3_settings(tmp_path, database_url, s3, bucket, s3_redirect=True, s3_public_url=public)
    async with serving(create_app(settings)) as api:
        token = await api.setup_admin()
        await api.scan()
        r = await api.client.get(await stream_url(api, token, "Jóga"))
        assert r.status_code == 307 and r.headers["location"].startswith(public + "/"), r.headers
        async with httpx.AsyncClient(timeout=10) as player:
            got = await player.get(r.headers["location"], headers={"Range": "bytes=0-9"})
        assert got.status_code == 206 and got.content == put["Jóga"][:10]  # served at that address

