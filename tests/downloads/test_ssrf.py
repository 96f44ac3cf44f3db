"""Every hop and every process that fetches for a download is guarded, not only the URL a user pasted.

- ffmpeg is a separate process, beyond the Python-level address guard: yt-dlp must never hand it a network
  URL. A live HLS playlist (no `#EXT-X-ENDLIST`) is where yt-dlp would, so live streams are refused; and an
  ffmpeg that yt-dlp still runs (its native HLS downloader delegates "unsupported features") reads local
  input only. The segments sit on a second local server that must never receive a request.
- Cloud metadata addresses stay refused at connect time in the download child even when private networks
  are allowed: a redirect from an allowed URL to 169.254.169.254 is not followed.

Nothing here leaves 127.0.0.1. The metadata tests run the real child entry point (`process._main`) behind a
tripwire: a connection to anything but loopback is recorded and refused instead of made, and names resolve
only from a table (numeric hosts stay numeric, no DNS), so even a broken guard cannot reach the outside.
"""

from __future__ import annotations

import asyncio
import socket
import time
from collections.abc import Iterator
from contextlib import suppress
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

import pytest

from medianest.downloads import process
from medianest.downloads.ytdlp import Failure, Spec
from medianest.library.ffmpeg import ffmpeg_exe
from tests.downloads.mediaserver import MediaServer, make_hls

HLS = "application/vnd.apple.mpegurl"
LOOPBACK = ("127.0.0.1", "::1")


@pytest.fixture(scope="module")
def hls(tmp_path_factory: pytest.TempPathFactory, sources: dict[str, Path]) -> tuple[str, list[Path]]:
    return make_hls(sources["clip"], tmp_path_factory.mktemp("hls"))


@pytest.fixture
def segments() -> Iterator[MediaServer]:
    """The second server, where the segments live: a request here is a fetch past the guard."""
    with MediaServer() as other:
        yield other


def _playlist(text: str, files: list[Path], where: MediaServer, *, live: bool, key: str | None = None) -> bytes:
    """The HLS playlist with its segments on `where`; `live` drops the end marker, `key` adds an
    `#EXT-X-KEY` line before the first segment."""
    for file in files:
        where.add_file(f"/{file.name}", file, "video/mp2t")
        text = text.replace(f"\n{file.name}\n", f"\n{where.url('/' + file.name)}\n")
    if live:
        text = text.replace("#EXT-X-ENDLIST\n", "")
    if key:
        text = text.replace("#EXTINF", f"{key}\n#EXTINF", 1)
    return text.encode()


def _spec(url: str, tmp: Path) -> Spec:
    return Spec(url=url, tmp_dir=str(tmp), ffmpeg_path=ffmpeg_exe())


async def test_a_live_hls_stream_is_refused_and_ffmpeg_never_fetches_it(
        server: MediaServer, segments: MediaServer, hls: tuple[str, list[Path]], tmp_path: Path) -> None:
    url = server.add_bytes("/live/index.m3u8", _playlist(*hls, segments, live=True), HLS)
    for target, args in (("download", (_spec(url, tmp_path),)), ("entries", (url, None, None))):
        with pytest.raises((Failure, TimeoutError)) as refused:  # a live ffmpeg would run until the deadline
            await process.run(target, args, allow_private=True, timeout_s=90)
        assert segments.requests == [], target  # checked first: this is the SSRF
        assert isinstance(refused.value, Failure) and "live" in refused.value.reason, refused.value
        assert not refused.value.transient
    assert server.requests_for("/live/index.m3u8")  # the playlist itself was read, by yt-dlp in Python
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


async def test_a_finished_hls_stream_still_downloads_by_yt_dlp_itself(
        server: MediaServer, segments: MediaServer, hls: tuple[str, list[Path]], tmp_path: Path) -> None:
    # An ffmpeg fetching it would be refused (local input only): the file comes from the native downloader.
    url = server.add_bytes("/vod/index.m3u8", _playlist(*hls, segments, live=False), HLS)
    result = await process.run("download", (_spec(url, tmp_path),), allow_private=True, timeout_s=120)
    assert Path(result["file"]).stat().st_size > 0 and result["bytes"] > 0
    assert [r.path for r in segments.requests] == [f"/{file.name}" for file in hls[1]]


async def test_an_ffmpeg_run_by_yt_dlp_cannot_read_the_network(
        server: MediaServer, segments: MediaServer, hls: tuple[str, list[Path]], tmp_path: Path) -> None:
    # SAMPLE-AES is a feature yt-dlp's native HLS downloader hands over to ffmpeg, with the playlist's URL.
    key = f'#EXT-X-KEY:METHOD=SAMPLE-AES,URI="{segments.url("/key")}",IV=0x{"0" * 32}'
    url = server.add_bytes("/vod/index.m3u8", _playlist(*hls, segments, live=False, key=key), HLS)
    with pytest.raises((Failure, TimeoutError)):
        await process.run("download", (_spec(url, tmp_path),), allow_private=True, timeout_s=90)
    assert segments.requests == []
    assert not any(p.is_file() and p.stat().st_size > 0 for p in tmp_path.rglob("*"))


# --- cloud metadata, behind the tripwire -----------------------------------------------------------------


def _tripwired(target: str, args: tuple[Any, ...], allow_private: bool, conn: Connection, attempts: str,
               aliases: dict[str, int]) -> None:
    """The download child's own entry point in a process that cannot leave the loopback (module doc)."""
    resolve, connect = socket.getaddrinfo, socket.socket.connect

    def table_only(host: Any, port: Any, family: int = 0, type: int = 0, proto: int = 0, flags: int = 0) -> Any:
        name = host.decode() if isinstance(host, bytes) else str(host)
        if name in aliases:  # what DNS would answer for a metadata name: here, a local stand-in
            return resolve("127.0.0.1", aliases[name], family, type, proto, flags)
        return resolve(host, port, family, type, proto, flags | socket.AI_NUMERICHOST)

    def loopback_only(sock: socket.socket, address: Any) -> None:
        if address[0] not in LOOPBACK:
            with open(attempts, "a") as out:
                out.write(f"{address[0]}\n")
            raise ConnectionRefusedError(f"tripwire: {address[0]}")
        connect(sock, address)

    socket.getaddrinfo = table_only  # type: ignore[assignment]
    socket.socket.connect = loopback_only  # type: ignore[method-assign]
    process._main(target, args, allow_private, conn)


class Tripwired(process.Child):
    def __init__(self, target: str, args: tuple[Any, ...], attempts: Path, aliases: dict[str, int]) -> None:
        self._conn, child_end = process._CTX.Pipe(duplex=False)
        self.process = process._CTX.Process(target=_tripwired, daemon=True, args=(
            target, args, True, child_end, str(attempts), aliases))
        self.process.start()
        child_end.close()

    async def outcome(self, timeout_s: float = 120) -> dict[str, Any]:
        deadline = time.monotonic() + timeout_s
        try:
            while time.monotonic() < deadline:
                for message in self.messages():
                    if message["type"] in ("done", "failed"):
                        return message
                await asyncio.sleep(0.05)
            raise TimeoutError
        finally:
            self.kill()


METADATA = ["http://169.254.169.254/latest/meta-data/", "http://[fd00:ec2::254]/latest/meta-data/",
            "http://100.100.100.200/latest/meta-data/", "http://metadata.google.internal/computeMetadata/v1/"]


@pytest.mark.parametrize("location", METADATA)
async def test_a_redirect_to_a_metadata_service_is_refused_even_with_private_networks_allowed(
        server: MediaServer, segments: MediaServer, tmp_path: Path, location: str) -> None:
    stand_in = segments  # where the metadata name would lead: it must hear nothing
    url = server.redirect("/go", location)
    attempts = tmp_path / "attempts"
    attempts.touch()
    child = Tripwired("download", (_spec(url, tmp_path),), attempts, {"metadata.google.internal": stand_in.port})
    outcome = await child.outcome()
    assert attempts.read_text() == "" and stand_in.requests == []  # refused before any connection
    assert server.requests_for("/go")  # the allowed first hop was made
    assert outcome["type"] == "failed" and "metadata" in outcome["reason"], outcome
    assert not outcome["transient"]


async def test_a_preview_does_not_follow_a_redirect_to_a_metadata_service(
        server: MediaServer, tmp_path: Path) -> None:
    url = server.redirect("/look", METADATA[0])
    attempts = tmp_path / "attempts"
    attempts.touch()
    outcome = await Tripwired("entries", (url, None, None), attempts, {}).outcome()
    assert attempts.read_text() == ""
    assert outcome["type"] == "failed" and "metadata" in outcome["reason"], outcome


def test_the_tripwire_itself_refuses_the_outside(tmp_path: Path) -> None:
    """The harness must hold on its own, or a broken guard would reach the real metadata address."""
    attempts = tmp_path / "attempts"
    conn_out, conn_in = process._CTX.Pipe(duplex=False)
    child = process._CTX.Process(target=_probe_outside, args=(str(attempts), conn_in), daemon=True)
    child.start()
    conn_in.close()
    with suppress(EOFError):
        assert conn_out.recv() == "refused"
    child.join(30)
    assert attempts.read_text() == "169.254.169.254\n"


def _probe_outside(attempts: str, conn: Connection) -> None:
    def noop(*args: Any) -> None:
        raise AssertionError("the tripwire must refuse before the child runs")

    process._main = noop  # type: ignore[assignment]
    with suppress(AssertionError):
        _tripwired("entries", (), True, conn, attempts, {})
    try:
        socket.create_connection(("169.254.169.254", 80), timeout=1)
    except ConnectionRefusedError:
        conn.send("refused")
    finally:
        conn.close()
