"""The download-test media server itself: ranges, faults, logging and the ffmpeg helpers, over real sockets."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path

import av
import httpx
import pytest
import yt_dlp

from tests.downloads.mediaserver import MediaServer, make_audio, make_video

DATA = os.urandom(200_000)  # random, so a misplaced byte range can't compare equal by accident


@pytest.fixture
def server() -> Iterator[MediaServer]:
    with MediaServer() as srv:
        srv.add_bytes("/blob.bin", DATA, "application/octet-stream")
        yield srv


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    # trust_env=False: a proxy from the environment must never see (or forward) these requests
    with httpx.Client(trust_env=False, timeout=10) as c:
        yield c


def test_whole_file_with_headers(server: MediaServer, client: httpx.Client, tmp_path: Path) -> None:
    disk = tmp_path / "clip.bin"
    disk.write_bytes(DATA[:5000])
    url = server.add_file("/files/my clip.bin", disk, "video/mp4")
    r = client.get(url)
    assert r.status_code == 200
    assert r.content == DATA[:5000]
    assert r.headers["content-length"] == "5000"
    assert r.headers["content-type"] == "video/mp4"
    assert r.headers["accept-ranges"] == "bytes"
    assert r.headers["etag"].startswith('"') and r.headers["last-modified"].endswith("GMT")
    assert server.requests == [("GET", "/files/my clip.bin", None)]
    assert server.bytes_sent("/files/my clip.bin") == 5000


def test_head_sends_headers_only(server: MediaServer, client: httpx.Client) -> None:
    r = client.head(server.url("/blob.bin"))
    assert r.status_code == 200
    assert r.headers["content-length"] == str(len(DATA))
    assert r.content == b""
    assert server.bytes_sent("/blob.bin") == 0


@pytest.mark.parametrize(("header", "start", "end"), [
    ("bytes=10-19", 10, 19),
    ("bytes=150000-", 150_000, len(DATA) - 1),
    ("bytes=-7", len(DATA) - 7, len(DATA) - 1),
    ("bytes=199990-999999", 199_990, len(DATA) - 1),  # end past EOF is clamped, not refused
])
def test_single_range_is_206_exact(server: MediaServer, client: httpx.Client, header: str, start: int,
                                   end: int) -> None:
    r = client.get(server.url("/blob.bin"), headers={"Range": header})
    assert r.status_code == 206
    assert r.content == DATA[start : end + 1]
    assert r.headers["content-range"] == f"bytes {start}-{end}/{len(DATA)}"
    assert r.headers["content-length"] == str(end - start + 1)
    assert server.requests[-1] == ("GET", "/blob.bin", header)
    assert server.bytes_sent("/blob.bin") == end - start + 1


def test_range_past_end_is_416(server: MediaServer, client: httpx.Client) -> None:
    r = client.get(server.url("/blob.bin"), headers={"Range": f"bytes={len(DATA)}-"})
    assert r.status_code == 416
    assert r.headers["content-range"] == f"bytes */{len(DATA)}"
    assert server.bytes_sent("/blob.bin") == 0


def test_multi_range_gets_whole_200(server: MediaServer, client: httpx.Client) -> None:
    r = client.get(server.url("/blob.bin"), headers={"Range": "bytes=0-1,5-9"})
    assert r.status_code == 200
    assert r.content == DATA


def test_unknown_path_is_404(server: MediaServer, client: httpx.Client) -> None:
    assert client.get(server.url("/nope")).status_code == 404
    assert server.requests == [("GET", "/nope", None)]


def test_throttle_slows_a_fetch(server: MediaServer, client: httpx.Client) -> None:
    t0 = time.monotonic()
    client.get(server.url("/blob.bin"))
    fast = time.monotonic() - t0
    server.throttle("/blob.bin", 200_000)  # implies ~1 s for 200 KB
    t0 = time.monotonic()
    r = client.get(server.url("/blob.bin"))
    slow = time.monotonic() - t0
    assert r.content == DATA
    assert slow >= 0.5
    assert slow > 2 * fast
    server.throttle("/blob.bin", None)
    t0 = time.monotonic()
    client.get(server.url("/blob.bin"))
    assert time.monotonic() - t0 < slow  # switched off at runtime


def test_throttled_download_can_be_cancelled_quietly(server: MediaServer, client: httpx.Client,
                                                     capfd: pytest.CaptureFixture[str]) -> None:
    server.throttle("/blob.bin", 50_000)  # ~4 s for the whole body
    with client.stream("GET", server.url("/blob.bin")) as r:
        got = next(r.iter_raw())
    assert got
    time.sleep(0.3)  # let the server hit the closed socket
    assert 0 < server.bytes_sent("/blob.bin") < len(DATA) // 2
    assert client.get(server.url("/nope")).status_code == 404  # still serving
    err = capfd.readouterr().err
    assert "Traceback" not in err and "BrokenPipe" not in err and "ConnectionReset" not in err


def test_drop_after_cuts_the_body_then_recovers(server: MediaServer, client: httpx.Client) -> None:
    server.drop_after("/blob.bin", 50_000)
    with pytest.raises(httpx.RemoteProtocolError), client.stream("GET", server.url("/blob.bin")) as r:
        assert r.headers["content-length"] == str(len(DATA))  # the full length was promised
        r.read()
    assert server.bytes_sent("/blob.bin") == 50_000
    again = client.get(server.url("/blob.bin"))
    assert again.status_code == 200 and again.content == DATA


def test_resume_after_drop_is_visible_in_the_log(server: MediaServer, client: httpx.Client) -> None:
    server.drop_after("/blob.bin", 60_000, times=2)
    for _ in range(2):
        with pytest.raises(httpx.RemoteProtocolError):
            client.get(server.url("/blob.bin"))
    rest = client.get(server.url("/blob.bin"), headers={"Range": "bytes=60000-"})
    assert rest.status_code == 206 and rest.content == DATA[60_000:]
    assert [r.range for r in server.requests_for("/blob.bin")] == [None, None, "bytes=60000-"]
    assert server.bytes_sent("/blob.bin") == 2 * 60_000 + len(DATA) - 60_000


def test_drop_applies_to_a_range_request(server: MediaServer, client: httpx.Client) -> None:
    server.drop_after("/blob.bin", 1000)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(server.url("/blob.bin"), headers={"Range": "bytes=100000-"})
    assert server.bytes_sent("/blob.bin") == 1000


def test_fail_then_fine(server: MediaServer, client: httpx.Client) -> None:
    server.fail("/blob.bin", 404, times=1)
    assert client.get(server.url("/blob.bin")).status_code == 404
    ok = client.get(server.url("/blob.bin"))
    assert ok.status_code == 200 and ok.content == DATA


def test_fail_forever_until_cleared(server: MediaServer, client: httpx.Client) -> None:
    server.fail("/blob.bin", 500)
    assert [client.get(server.url("/blob.bin")).status_code for _ in range(3)] == [500, 500, 500]
    server.clear("/blob.bin")
    assert client.get(server.url("/blob.bin")).status_code == 200


def test_html_page_embeds_the_video(server: MediaServer, client: httpx.Client) -> None:
    server.add_bytes("/v/clip.mp4", b"not really", "video/mp4")
    page = server.html_page("/watch", "/v/clip.mp4", "A <Title> & more")
    r = client.get(page)
    assert r.headers["content-type"].startswith("text/html")
    assert f'<source src="{server.url("/v/clip.mp4")}" type="video/mp4">' in r.text
    assert "<title>A &lt;Title&gt; &amp; more</title>" in r.text


def test_stop_ends_a_throttled_transfer(client: httpx.Client) -> None:
    srv = MediaServer().start()
    srv.add_bytes("/slow", DATA, "application/octet-stream")
    srv.throttle("/slow", 10_000)  # 20 s if nothing interrupted it
    with client.stream("GET", srv.url("/slow")) as r:
        body = r.iter_raw()
        next(body)
        t0 = time.monotonic()
        srv.stop()
        with pytest.raises(httpx.RemoteProtocolError):
            b"".join(body)
    assert time.monotonic() - t0 < 3


def test_make_video_and_audio_are_real_media(tmp_path: Path) -> None:
    plain = make_video(tmp_path / "a.mp4", seconds=1, title="Hello")
    padded = make_video(tmp_path / "b.mp4", seconds=1, padding_bytes=300_000)
    assert padded.stat().st_size >= plain.stat().st_size + 300_000 - 10_000  # two encodes differ slightly
    for path in (plain, padded):
        with av.open(str(path)) as box:
            assert {s.type for s in box.streams} == {"video", "audio"}
            assert next(box.decode(video=0)).width == 320
    with av.open(str(plain)) as box:
        assert box.metadata.get("title") == "Hello"
    audio = make_audio(tmp_path / "a.mp3", seconds=1)
    with av.open(str(audio)) as box:
        assert [s.type for s in box.streams] == ["audio"]


def test_yt_dlp_generic_extractor_finds_the_video(server: MediaServer, tmp_path: Path) -> None:
    """The page goes through the generic extractor's HTML5 embed parser; a bare media URL is a direct link."""
    video = make_video(tmp_path / "clip.mp4", seconds=1)
    video_url = server.add_file("/media/clip.mp4", video, "video/mp4")
    page = server.html_page("/watch/clip", "/media/clip.mp4", "Loopback Clip")
    opts = {"quiet": True, "no_warnings": True, "proxy": "", "cachedir": False}  # proxy "": never leave loopback
    with yt_dlp.YoutubeDL(opts) as ydl:
        embedded = ydl.extract_info(page, download=False)
        direct = ydl.extract_info(video_url, download=False)
    # yt-dlp names the sole HTML5 entry "<page title> (1)" and credits the "html5" embed extractor
    assert embedded["title"].startswith("Loopback Clip")
    assert embedded["extractor_key"] in {"HTML5MediaEmbed", "Generic"}
    assert [f["url"] for f in embedded["formats"]] == [video_url]
    assert embedded["ext"] == "mp4"
    assert direct["extractor_key"] == "Generic" and direct["url"] == video_url  # recognised by Content-Type
    assert {r.path for r in server.requests} == {"/watch/clip", "/media/clip.mp4"}
