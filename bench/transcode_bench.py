"""Transcoding benchmark: MediaNest's on-the-fly transcodes against plain ffmpeg with the same settings.

    python3 run.py python bench/transcode_bench.py [--quick] [--requests 15] [--streams 8] [--rounds 2]
                                                   [--films 3] [--workers 1] [--audio-only|--video-only] [--keep]

The peer is the very ffmpeg binary the server runs (imageio-ffmpeg's), started directly with the same
settings; everything runs on this machine against 127.0.0.1, the server and the peer taking turns. One
real `medianest serve` (temp data dir, rate limits off, MEDIANEST_TRANSCODE_MAX=16 so the concurrency
measure is not refused) serves a folder made once and kept in bench/.work/transcode/media/:
a 3-minute FLAC (a 440 Hz sine over pink noise, 44.1 kHz stereo) and --films links to one 60 s 1080p
film (tests/transcoding/media.py's make_movie_1080p: H.264 24 fps + stereo AC3 in MKV), each link its
own library item so that every video measure starts uncached.

Audio, FLAC -> MP3 128k (`GET /api/v1/media/{id}/stream?format=mp3&bitrate=128&offset=...`):
  1. time to first byte, p50 and p95 over --requests requests read to the end, each uncached: each asks
     for another offset (k * 5 ms), and each is checked to have left one more finished transcode in the
     server's cache (a cache hit would leave none); each on a new connection. The peer: `ffmpeg -ss <offset> -i
     in.flac -c:a libmp3lame -b:a 128k -f mp3 -` from process start to its first byte on stdout. A
     reference row: the first byte of the FLAC itself through the same route (no ffmpeg);
  2. CPU seconds per minute of audio over those same requests: the server's whole process tree (its own
     CPU, its live children's and its reaped children's, from /proc/PID/stat) before and after each one,
     against the peer's rusage (wait4). Target: at most 1.1x;
  3. --streams transcodes at once, each as fast as it goes: audio seconds delivered per wall second, all
     together, against as many plain ffmpeg processes; the sustainable number of real-time streams on
     this machine is that aggregate speed (ignoring start-up bursts). --rounds rounds in turns (server
     first, then the peer first...), each side's best kept. Target: at least 0.9x.
Video, the 1080p film:
  4. remux (the client plays H.264 + AAC/MP3 in MP4: `playback?containers=mp4&video=h264&audio=aac,mp3`
     answers an HLS playlist): from the playlist request to the first media segment's last byte (the
     playlist, the init segment, segment 0). Target: at most 1.5 s. The peer's figure is plain ffmpeg's
     remux (`-c:v copy`, AAC 160k) to HLS in a temp dir, from start until its playlist lists a segment;
  5. the remux as a multiple of real time: every segment fetched in order, as fast as possible;
  6. transcode to 720p (`...&video=h264&audio=aac&max_height=720`): time to the first segment (target at
     most 3 s) and frames per second over the whole film against ffmpeg with the settings the issue names
     (libx264 veryfast CRF 23, -maxrate/-bufsize as the server's own command line has them, scale=-2:720,
     a key frame every 6 s, AAC 160k stereo, HLS fMP4 6 s segments). Target: at least 0.95x.
What each server answered is checked before it counts: the MP3 is probed (codec, duration), the HLS
segments are joined and demuxed (codecs, height, frame count: a frame two segments both carry counts
once, and is reported). The ffmpeg command lines the server ran are printed beside the peer's, and how
many ffmpeg runs a film took (a seek or a restart starts another). A last row gives the CPU seconds per
minute of film of the transcode, for the record. It prints a table and asserts nothing. The video rows are medians over
--films rounds, the server and the peer taking turns at going first; the machine's load average is
printed at the start and with the table (on a shared machine, run it twice and believe neither alone).
"""

from __future__ import annotations

import argparse
import io
import math
import os
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import urljoin

import httpx
from rich.console import Console
from rich.table import Table

sys.path.insert(0, str(Path(__file__).parent))  # range_bench beside this file
sys.path.insert(0, str(Path(__file__).parent.parent))  # tests.transcoding.media, the film's maker
from range_bench import _stop, free_port, wait_http
from tests.transcoding.media import make_movie_1080p

from medianest.library.ffmpeg import ffmpeg_exe, run_ffmpeg

WORK = Path(__file__).parent / ".work" / "transcode"
MEDIA = WORK / "media"
FLAC = MEDIA / "Bench Song.flac"
FILM = WORK / "film-1080p.mkv"  # outside the library: the library holds links to it
FLAC_SECONDS, FILM_SECONDS, FILM_FPS = 180, 60, 24
PASSWORD = "bench-password-123"
OFFSET_STEP_S = 0.005  # each audio request asks for another offset, so none is answered from the cache
TARGET_CPU, TARGET_STREAMS, TARGET_FPS = 1.1, 0.9, 0.95
TARGET_REMUX_S, TARGET_TRANSCODE_S = 1.5, 3.0
DEFAULT_MAXRATE_K = 4000  # the peer's -maxrate when the server's command line was not seen
console = Console(width=180, emoji=False)  # ffmpeg's "0:v:0" is no emoji code


# --- the media ------------------------------------------------------------------------------------

def ensure_media(films: int) -> None:
    """The FLAC and the film, made once; the library's film items are hard links (copies if need be)."""
    MEDIA.mkdir(parents=True, exist_ok=True)
    if not FLAC.exists():
        console.print(f"making {FLAC} ...")
        seconds = f"sample_rate=44100:duration={FLAC_SECONDS}"
        run_ffmpeg(["-f", "lavfi", "-i", f"sine=frequency=440:{seconds}",
                    "-f", "lavfi", "-i", f"anoisesrc=color=pink:amplitude=0.2:{seconds}",
                    "-filter_complex", "[0][1]amix=inputs=2:normalize=0,aformat=channel_layouts=stereo",
                    "-c:a", "flac", "-metadata", "title=Transcode Bench Song", "-metadata", "artist=Bench",
                    str(FLAC.with_suffix(".part.flac"))])
        FLAC.with_suffix(".part.flac").rename(FLAC)
    if not FILM.exists():
        console.print(f"making {FILM} (60 s of 1080p H.264, ~15 s on two cores) ...")
        make_movie_1080p(FILM.with_suffix(".part.mkv"), FILM_SECONDS).rename(FILM)
    for old in MEDIA.glob("Film *.mkv"):
        old.unlink()
    for n in range(films):
        link = MEDIA / f"Film {n + 1}.mkv"
        try:
            os.link(FILM, link)
        except OSError:
            shutil.copyfile(FILM, link)


# --- the server and its processes -----------------------------------------------------------------

@dataclass
class Server:
    base: str
    pid: int
    data: Path
    token: str = ""

    def headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.token}"}


@contextmanager
def medianest(args: argparse.Namespace) -> Iterator[Server]:
    data = Path(tempfile.mkdtemp(prefix="medianest-", dir=WORK))
    port = free_port()
    env = {**os.environ, "MEDIANEST_DATA_DIR": str(data), "MEDIANEST_MEDIA_DIRS": str(MEDIA),
           "MEDIANEST_PORT": str(port), "MEDIANEST_HOST": "127.0.0.1", "MEDIANEST_WORKERS": str(args.workers),
           "MEDIANEST_RATE_LIMITS_ENABLED": "false", "MEDIANEST_LOG_LEVEL": "WARNING",
           "MEDIANEST_TRANSCODE_MAX": "16", "MEDIANEST_TRANSCODE_CACHE_MB": "8192"}
    for var in ("MEDIANEST_DATABASE_URL", "MEDIANEST_REDIS_URL"):
        env.pop(var, None)
    log = WORK / f"serve-{time.strftime('%H%M%S')}.log"
    try:
        with log.open("wb") as out:
            # Its own process group, stopped as a whole (range_bench's _stop): its encoders go with it.
            proc = subprocess.Popen([sys.executable, "-m", "medianest", "serve"], env=env, stdout=out,
                                    stderr=subprocess.STDOUT, start_new_session=True)
            try:
                base = f"http://127.0.0.1:{port}"
                wait_http(f"{base}/health")
                yield Server(base, proc.pid, data)
            except Exception:
                console.print("[red]the end of the server's log:[/]\n" + log.read_text(errors="replace")[-3000:])
                raise
            finally:
                _stop(proc)
    finally:
        if args.keep:
            console.print(f"kept {data} and {log}")
        else:
            shutil.rmtree(data, ignore_errors=True)
            log.unlink(missing_ok=True)


def set_up(server: Server, films: int) -> tuple[dict[str, str], list[dict[str, str]]]:
    """The admin, then the scanned items: the FLAC's and the films'."""
    r = httpx.post(f"{server.base}/api/v1/auth/setup", json={"username": "bench", "password": PASSWORD})
    r.raise_for_status()
    server.token = str(r.json()["data"]["access_token"])
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        items = httpx.get(f"{server.base}/api/v1/media", params={"per_page": 100}, headers=server.headers(),
                          timeout=30).json()["data"]
        audio = [i for i in items if i["kind"] == "audio"]
        video = [i for i in items if i["kind"] == "video"]
        if audio and len(video) >= films:
            return audio[0], video[:films]
        time.sleep(0.3)
    raise RuntimeError("the scan did not index the bench files")


def _stat(pid: int) -> list[str] | None:
    """/proc/PID/stat's fields after the command name (which may hold spaces): [0] is field 3, the state."""
    try:
        return Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None


def _children(pid: int) -> list[int]:
    """`pid`'s children, from each of its threads' children list (cheap: no walk of all of /proc)."""
    out = []
    try:
        tasks = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return []
    for tid in tasks:
        try:
            out += [int(child) for child in Path(f"/proc/{pid}/task/{tid}/children").read_text().split()]
        except OSError:
            continue
    return out


def descendants(root: int) -> list[int]:
    """Every process below `root` (not `root` itself)."""
    out, todo = [], _children(root)
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo += _children(pid)
    return out


def tree_cpu(root: int) -> float:
    """CPU seconds of `root`'s tree: each live process's own, plus what its reaped children used."""
    ticks = 0
    for pid in (root, *descendants(root)):
        fields = _stat(pid)
        if fields is not None:
            ticks += sum(int(f) for f in fields[11:15])  # utime, stime, cutime, cstime
    return ticks / os.sysconf("SC_CLK_TCK")


def _argv(pid: int) -> list[str]:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace").split("\0")[:-1]
    except OSError:
        return []


def encoders(root: int) -> dict[int, list[str]]:
    """The ffmpeg processes in `root`'s tree: pid -> argv."""
    found = {pid: _argv(pid) for pid in descendants(root)}
    return {pid: argv for pid, argv in found.items() if argv and "ffmpeg" in Path(argv[0]).name}


class EncoderWatch:
    """Notes every ffmpeg the server starts while it is open (polled every 20 ms: an audio transcode runs
    for seconds, and the poll must not take CPU from the server it measures)."""

    def __init__(self, root: int) -> None:
        self.root, self.seen = root, dict[int, list[str]]()
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)

    def __enter__(self) -> EncoderWatch:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()

    def _poll(self) -> None:
        while not self._stop.is_set():
            self.seen.update(encoders(self.root))
            self._stop.wait(0.02)


def wait_encoders_gone(server: Server, timeout_s: float = 30) -> None:
    """Until the server runs no ffmpeg: a measure must not overlap the last one's tail."""
    deadline = time.monotonic() + timeout_s
    while encoders(server.pid) and time.monotonic() < deadline:
        time.sleep(0.02)


# --- audio ----------------------------------------------------------------------------------------

@dataclass
class Run:
    first_s: float  # to the first byte (audio) or the first complete segment (video)
    wall_s: float
    cpu_s: float = 0.0
    media_s: float = 0.0  # seconds of audio (or video) delivered
    frames: int = 0  # distinct video frames delivered
    repeated: int = 0  # video frames delivered twice (in two segments)
    argv: list[str] = field(default_factory=list)  # the (first) ffmpeg's
    encoders: int = 1  # ffmpeg processes it took


def audio_url(server: Server, item: dict[str, str], offset: float) -> str:
    return f"{server.base}{item['stream_url']}&format=mp3&bitrate=128&offset={offset:.3f}"


def fetch_audio(url: str, body: io.BytesIO | None = None) -> tuple[float, float]:
    """GET a transcode to its end: (seconds to the first byte, seconds to the last)."""
    with httpx.Client(timeout=300) as http:
        start, first = time.perf_counter(), 0.0
        with http.stream("GET", url) as r:
            if r.status_code != 200:
                raise RuntimeError(f"stream answered {r.status_code}: {r.read()[:300]!r}")
            for chunk in r.iter_raw(65536):
                first = first or time.perf_counter() - start
                if body is not None:
                    body.write(chunk)
        return first, time.perf_counter() - start


def cached_transcodes(server: Server) -> int:
    """How many finished transcodes the server's cache holds: each uncached request adds one."""
    folder = server.data / "transcodes" / "audio"
    return sum(1 for _ in folder.iterdir()) if folder.is_dir() else 0


def server_audio(server: Server, item: dict[str, str], offset: float, check: bool = False) -> Run:
    """One uncached transcode read to its end; its CPU is the server tree's, once its ffmpeg is gone."""
    cpu, cached = tree_cpu(server.pid), cached_transcodes(server)
    body = io.BytesIO() if check else None
    with EncoderWatch(server.pid) as watch:
        first, wall = fetch_audio(audio_url(server, item, offset), body)
        wait_encoders_gone(server)
    if cached_transcodes(server) != cached + 1:
        raise RuntimeError(f"offset {offset}: the server transcoded nothing new (answered from its cache?)")
    if body is not None:
        check_mp3(body.getvalue(), FLAC_SECONDS - offset)
    return Run(first, wall, tree_cpu(server.pid) - cpu, FLAC_SECONDS - offset,
               argv=next(iter(watch.seen.values())))


def peer_audio_argv(offset: float) -> list[str]:
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-ss", f"{offset:.3f}", "-i", str(FLAC),
            "-c:a", "libmp3lame", "-b:a", "128k", "-f", "mp3", "-"]


def peer_audio(offset: float) -> Run:
    """The peer to its end: first byte on stdout from process start; CPU from its rusage."""
    argv = peer_audio_argv(offset)
    start, first = time.perf_counter(), 0.0
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE)
    assert proc.stdout is not None
    while os.read(proc.stdout.fileno(), 65536):  # whatever is there: a buffered read would wait for more
        first = first or time.perf_counter() - start
    _, status, usage = os.wait4(proc.pid, 0)
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode})")
    return Run(first, time.perf_counter() - start, usage.ru_utime + usage.ru_stime, FLAC_SECONDS - offset,
               argv=argv)


def check_mp3(data: bytes, seconds: float) -> None:
    import av

    with av.open(io.BytesIO(data), mode="r", format="mp3") as container:
        stream = container.streams.audio[0]
        name, rate = stream.codec_context.name, stream.codec_context.bit_rate
        duration = math.fsum(float(p.duration * p.time_base) for p in container.demux(stream) if p.duration)
    if not name.startswith("mp3") or abs(duration - seconds) > 1 or not 120_000 <= (rate or 128_000) <= 136_000:
        raise RuntimeError(f"the server's MP3 is wrong: {name}, {duration:.1f} s (expected {seconds:.1f}), {rate}")


def concurrent_audio(offsets: list[float], one: Callable[[float], object]) -> float:
    """Transcodes at once, one per offset, each as fast as it goes: their wall seconds, first start to last end."""
    start = time.perf_counter()
    with ThreadPoolExecutor(len(offsets)) as pool:
        list(pool.map(one, offsets))
    return time.perf_counter() - start


# --- video (HLS) ----------------------------------------------------------------------------------

@dataclass
class Playlist:
    init: str | None
    segments: list[tuple[float, str]]  # (seconds, url)
    ended: bool


def parse_playlist(text: str, url: str) -> Playlist | str:
    """A media playlist, or a master playlist's first variant's url."""
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    init, segments, length = None, [], 0.0
    for n, line in enumerate(lines):
        if line.startswith("#EXT-X-STREAM-INF"):
            return urljoin(url, lines[n + 1])
        if line.startswith("#EXT-X-MAP:") and (m := re.search(r'URI="([^"]+)"', line)):
            init = urljoin(url, m.group(1))
        elif line.startswith("#EXTINF:"):
            length = float(line[8:].split(",")[0])
        elif not line.startswith("#"):
            segments.append((length, urljoin(url, line)))
    return Playlist(init, segments, "#EXT-X-ENDLIST" in lines)


def _get(http: httpx.Client, url: str, timeout_s: float = 120) -> bytes:
    """A GET that waits out "not yet" answers (404/425/503 while a segment is being made)."""
    deadline = time.monotonic() + timeout_s
    while True:
        r = http.get(url)
        if r.status_code == 200:
            return r.content
        if r.status_code not in (404, 425, 503) or time.monotonic() > deadline:
            raise RuntimeError(f"GET {url.split('?')[0]} answered {r.status_code}: {r.text[:300]}")
        time.sleep(min(0.1, float(r.headers.get("retry-after", 0.1))))


def playback(server: Server, item: dict[str, str], query: str) -> dict[str, str]:
    r = httpx.get(f"{server.base}/api/v1/media/{item['id']}/playback?{query}", headers=server.headers(), timeout=60)
    r.raise_for_status()
    return dict(r.json()["data"])


def server_hls(server: Server, item: dict[str, str], query: str, method: str, out: Path) -> Run:
    """Ask how to play `item`, then fetch its HLS stream in order as fast as possible into `out`."""
    cpu = tree_cpu(server.pid)
    with EncoderWatch(server.pid) as watch, httpx.Client(timeout=120) as http:
        decision = playback(server, item, query)
        # The video copied ("remux": the server calls it a transcode too, since AC3 becomes AAC) or encoded.
        variant = "/hls/copy_" if method == "remux" else "/hls/h264-720-"
        if decision.get("protocol") != "hls" or variant not in decision.get("url", ""):
            raise RuntimeError(f"playback?{query} answered {decision}, not a {method} over HLS")
        url = urljoin(server.base, decision["url"])
        start, first = time.perf_counter(), 0.0
        files: list[Path] = []
        seconds, got = 0.0, 0
        while True:
            playlist = parse_playlist(_get(http, url).decode(), url)
            if isinstance(playlist, str):
                url = playlist
                continue
            if playlist.init and not files:
                files.append(_save(out / "init.mp4", _get(http, playlist.init)))
            for length, segment in playlist.segments[got:]:
                files.append(_save(out / f"{got:05d}.m4s", _get(http, segment)))
                first, seconds, got = first or time.perf_counter() - start, seconds + length, got + 1
            if playlist.ended:
                break
            time.sleep(0.05)  # an event playlist: it grows as segments are made
        wall = time.perf_counter() - start
        wait_encoders_gone(server)
    runs = list(watch.seen.values())  # in the order they started
    frames, repeated = check_hls(files, method)
    return Run(first, wall, tree_cpu(server.pid) - cpu, seconds, frames, repeated, runs[0] if runs else [],
               len(runs))


def _save(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


def check_hls(files: list[Path], method: str) -> tuple[int, int]:
    """Join the init segment and the media segments, demux them: the codecs and height the method means,
    and the whole film. Returns its number of distinct video frames (by timestamp), and how many more the
    segments hold (frames two segments both carry: a player shows them twice or skips back)."""
    import av

    joined = files[0].parent / "joined.mp4"
    with joined.open("wb") as out:
        for path in files:
            out.write(path.read_bytes())
    with av.open(str(joined), mode="r") as container:
        video, audio = container.streams.video[0], container.streams.audio[0]
        facts = (video.codec_context.name, audio.codec_context.name, video.codec_context.height)
        stamps = [p.pts for p in container.demux(video) if p.size]
    frames = len(set(stamps))
    want = ("h264", "aac", 1080 if method == "remux" else 720)
    if facts != want or abs(frames - FILM_SECONDS * FILM_FPS) > FILM_FPS:
        raise RuntimeError(f"the {method} HLS stream holds {facts}, {frames} frames; expected {want}, "
                           f"{FILM_SECONDS * FILM_FPS} frames")
    return frames, len(stamps) - frames


def peer_hls_argv(method: str, maxrate_k: int, out: Path) -> list[str]:
    if method == "remux":
        video = ["-c:v", "copy"]
    else:
        video = ["-c:v", "libx264", "-preset", "veryfast", "-crf", "23", "-maxrate", f"{maxrate_k}k",
                 "-bufsize", f"{2 * maxrate_k}k", "-vf", "scale=-2:720", "-force_key_frames", "expr:gte(t,n_forced*6)"]
    return [ffmpeg_exe(), "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-i", str(FILM),
            "-map", "0:v:0", "-map", "0:a:0", *video, "-c:a", "aac", "-b:a", "160k", "-ac", "2",
            "-f", "hls", "-hls_time", "6", "-hls_segment_type", "fmp4", "-hls_list_size", "0",
            str(out / "index.m3u8")]


def peer_hls(method: str, maxrate_k: int, out: Path) -> Run:
    """Plain ffmpeg to HLS in `out`; its first segment is out when its playlist lists one."""
    argv, playlist = peer_hls_argv(method, maxrate_k, out), out / "index.m3u8"
    start, first = time.perf_counter(), 0.0
    proc = subprocess.Popen(argv)
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)
        if pid:
            break
        if not first and playlist.exists() and "#EXTINF" in playlist.read_text(errors="replace"):
            first = time.perf_counter() - start
        time.sleep(0.005)
    wall = time.perf_counter() - start
    proc.returncode = os.waitstatus_to_exitcode(status)
    if proc.returncode:
        raise RuntimeError(f"ffmpeg failed ({proc.returncode}): {' '.join(argv)}")
    parsed = parse_playlist(playlist.read_text(), playlist.as_uri())
    assert isinstance(parsed, Playlist) and parsed.init
    files = [out / Path(parsed.init).name] + [out / Path(url).name for _, url in parsed.segments]
    frames, repeated = check_hls(files, method)
    return Run(first or wall, wall, usage.ru_utime + usage.ru_stime, sum(s for s, _ in parsed.segments), frames,
               repeated, argv)


def maxrate_of(argv: list[str]) -> int | None:
    """The server's -maxrate in kbit/s ("4000k", "4M" or bits)."""
    if "-maxrate" not in argv:
        return None
    value = argv[argv.index("-maxrate") + 1].lower()
    scale = {"k": 1, "m": 1000}.get(value[-1:], 0.001)
    return round(float(value.rstrip("km")) * scale)


# --- the table ------------------------------------------------------------------------------------

@dataclass
class Row:
    measure: str
    ours: float | None
    peer: float | None
    unit: str
    ratio_goal: tuple[str, float] | None = None  # ("<=" | ">=", ratio)
    absolute_goal: float | None = None  # ours <= this
    note: str = ""


def p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))]


def _fmt(value: float | None, unit: str) -> str:
    if value is None:
        return ""
    return f"{value * 1000:.0f} ms" if unit == "ms" else f"{value:,.2f} {unit}".rstrip()


def verdict(row: Row) -> tuple[str, str, str]:
    ratio = row.ours / row.peer if row.ours is not None and row.peer else None
    shown = f"{ratio:.2f}x" if ratio is not None else ""
    if row.ratio_goal is not None and ratio is not None:
        op, goal = row.ratio_goal
        met = ratio <= goal if op == "<=" else ratio >= goal
        return shown, f"{op} {goal}x", "yes" if met else "NO"
    if row.absolute_goal is not None and row.ours is not None:
        return shown, f"<= {_fmt(row.absolute_goal, row.unit)}", "yes" if row.ours <= row.absolute_goal else "NO"
    return shown, "", ""


def print_table(rows: list[Row], args: argparse.Namespace) -> None:
    table = Table(title=f"MediaNest transcoding vs plain ffmpeg (same binary, same settings); {os.cpu_count()} cores, "
                        f"load average {os.getloadavg()[0]:.1f}; {args.requests} audio requests, {args.streams} "
                        f"concurrent streams, {args.films} film round(s)")
    for col in ("measure", "MediaNest", "plain ffmpeg", "ratio", "target", "met", "notes"):
        table.add_column(col, justify="left" if col in ("measure", "target", "notes") else "right")
    for row in rows:
        table.add_row(row.measure, _fmt(row.ours, row.unit), _fmt(row.peer, row.unit), *verdict(row), row.note)
    console.print(table)


# --- the measures ---------------------------------------------------------------------------------

def measure_audio(server: Server, item: dict[str, str], args: argparse.Namespace) -> list[Row]:
    offsets = [(k + 1) * OFFSET_STEP_S for k in range(args.requests)]
    server_audio(server, item, 0.0, check=True)  # warm-up (imports, page cache), and the MP3 is checked
    peer_audio(0.0)
    ours, theirs = [], []
    for k, offset in enumerate(offsets):  # taking turns (each first in every other round): load from elsewhere
        if k % 2:                           # hits both alike
            theirs.append(peer_audio(offset))
        ours.append(server_audio(server, item, offset))
        if not k % 2:
            theirs.append(peer_audio(offset))
        console.print(f"  audio {k + 1}/{len(offsets)}: first byte {ours[-1].first_s * 1000:.0f} ms vs "
                      f"{theirs[-1].first_s * 1000:.0f} ms; CPU {ours[-1].cpu_s:.2f} s vs {theirs[-1].cpu_s:.2f} s")
    console.print(f"  the server's ffmpeg: {' '.join(ours[0].argv[1:])}\n  the peer's:         "
                  f"{' '.join(theirs[0].argv[1:])}", markup=False)
    raw = [raw_first_byte(server, item) for _ in offsets]

    def per_minute(runs: list[Run]) -> float:
        return sum(r.cpu_s for r in runs) / sum(r.media_s for r in runs) * 60

    uncached = f"uncached: offset k*{OFFSET_STEP_S * 1000:.0f} ms, each adds a transcode to the cache; a new connection"
    return [
        Row("audio FLAC->MP3 128k: time to first byte, p50", p([r.first_s for r in ours], 0.5),
            p([r.first_s for r in theirs], 0.5), "ms", note=f"{len(offsets)} requests, {uncached}"),
        Row("audio FLAC->MP3 128k: time to first byte, p95", p([r.first_s for r in ours], 0.95),
            p([r.first_s for r in theirs], 0.95), "ms", note="nearest rank"),
        Row("  reference: the FLAC as it is, first byte, p50", p(raw, 0.5), None, "ms",
            note="GET stream_url with no format: the server's cost of a request, without ffmpeg"),
        Row("audio: CPU seconds per minute of audio", per_minute(ours), per_minute(theirs), "s",
            ("<=", TARGET_CPU), note="server: its whole process tree; peer: ffmpeg's rusage"),
        concurrent_row(server, item, args, len(offsets) + 1),
    ]


def raw_first_byte(server: Server, item: dict[str, str]) -> float:
    with httpx.Client(timeout=60) as http:
        start = time.perf_counter()
        with http.stream("GET", f"{server.base}{item['stream_url']}") as r:
            next(r.iter_raw(65536))
            return time.perf_counter() - start


def concurrent_row(server: Server, item: dict[str, str], args: argparse.Namespace, first_offset: int) -> Row:
    """--streams transcodes at once against as many ffmpeg processes, --rounds times in turns (ABBA...),
    each side's best round kept (noise from elsewhere only ever slows a round down)."""
    n, ours, theirs = args.streams, 0.0, 0.0
    wait_encoders_gone(server)
    for r in range(args.rounds):
        # Offsets no request before asked for: a finished transcode is cached.
        fresh = [(first_offset + r * n + k) * OFFSET_STEP_S for k in range(n)]
        audio_s = sum(FLAC_SECONDS - offset for offset in fresh)
        for side in ("server", "peer") if r % 2 == 0 else ("peer", "server"):
            if side == "peer":
                wall = concurrent_audio(fresh, peer_audio)
                theirs = max(theirs, audio_s / wall)
            else:
                cached = cached_transcodes(server)
                wall = concurrent_audio(fresh, lambda offset: fetch_audio(audio_url(server, item, offset)))
                wait_encoders_gone(server)
                made = cached_transcodes(server) - cached
                if made != n:
                    raise RuntimeError(f"{n} transcodes at once left {made} new ones in the cache")
                ours = max(ours, audio_s / wall)
            console.print(f"  {n} at once, round {r + 1}, {side}: {audio_s / wall:.0f}x real time in {wall:.1f} s")
    return Row(f"audio: {n} transcodes at once, audio s per wall s", ours, theirs, "x", (">=", TARGET_STREAMS),
               note=f"= sustainable real-time streams on {os.cpu_count()} cores; best of {args.rounds} rounds "
                    f"in turns; {FLAC_SECONDS} s of audio each")


def measure_video(server: Server, films: list[dict[str, str]], args: argparse.Namespace) -> list[Row]:
    runs: dict[str, list[Run]] = {"remux": [], "transcode": [], "peer remux": [], "peer transcode": []}
    queries = {"remux": "containers=mp4&video=h264&audio=aac,mp3",
               "transcode": "containers=mp4&video=h264&audio=aac&max_height=720"}
    maxrate: int | None = None
    with tempfile.TemporaryDirectory(dir=WORK) as tmp:
        for k, film in enumerate(films):
            for method, query in queries.items():
                out, peer_out = Path(tmp) / f"{method}-{k}", Path(tmp) / f"peer-{method}-{k}"
                out.mkdir()
                peer_out.mkdir()
                if k % 2:  # the peer first in every other round; its -maxrate is the server's from round 1
                    runs[f"peer {method}"].append(peer_hls(method, maxrate or DEFAULT_MAXRATE_K, peer_out))
                runs[method].append(server_hls(server, film, query, method, out))
                maxrate = maxrate or (maxrate_of(runs["transcode"][0].argv) if runs["transcode"] else None)
                if not k % 2:
                    runs[f"peer {method}"].append(peer_hls(method, maxrate or DEFAULT_MAXRATE_K, peer_out))
                ours, theirs = runs[method][-1], runs[f"peer {method}"][-1]
                console.print(f"  film {k + 1} {method}: first segment {ours.first_s:.2f} s vs {theirs.first_s:.2f} s; "
                              f"{ours.frames / ours.wall_s:.0f} fps vs {theirs.frames / theirs.wall_s:.0f} fps")
    for method in queries:
        console.print(f"  the server's {method} ffmpeg: {' '.join(runs[method][0].argv[1:])}\n"
                      f"  the peer's:  {' '.join(runs[f'peer {method}'][0].argv[1:])}", markup=False)

    def med(name: str, f: Callable[[Run], float]) -> float:
        return statistics.median(f(r) for r in runs[name])

    def first(r: Run) -> float:
        return r.first_s

    def speed(r: Run) -> float:
        return r.media_s / r.wall_s

    def fps(r: Run) -> float:
        return r.frames / r.wall_s

    def cpu(r: Run) -> float:
        return r.cpu_s / r.media_s * 60

    rounds = f"median of {len(films)}"
    return [
        Row("video 1080p remux (H.264 copy, AC3->AAC): time to first segment", med("remux", first),
            med("peer remux", first), "s", absolute_goal=TARGET_REMUX_S,
            note=f"{rounds}; playlist request -> init + segment 0 complete; peer: until its playlist lists one"),
        Row("video remux: speed, multiple of real time", med("remux", speed), med("peer remux", speed), "x",
            note="every segment fetched in order, as fast as possible; " + _extra(runs["remux"])),
        Row("video 1080p -> 720p H.264 transcode: time to first segment", med("transcode", first),
            med("peer transcode", first), "s", absolute_goal=TARGET_TRANSCODE_S, note=rounds),
        Row("video transcode to 720p: frames per second", med("transcode", fps), med("peer transcode", fps), "fps",
            (">=", TARGET_FPS), note=f"peer: libx264 veryfast crf 23, maxrate {maxrate or DEFAULT_MAXRATE_K}k"
                                     f"{'' if maxrate else ' (assumed)'}; " + _extra(runs["transcode"])),
        Row("video transcode: CPU seconds per minute of film", med("transcode", cpu), med("peer transcode", cpu), "s",
            note="for the record: no target"),
    ]


def _extra(runs: list[Run]) -> str:
    """What the server did beyond one encoder for the film: restarts, frames sent twice."""
    encoders, repeated = max(r.encoders for r in runs), max(r.repeated for r in runs)
    return f"server: {encoders} ffmpeg run(s) per film" + (f", {repeated} frames sent twice" if repeated else "")


def run(args: argparse.Namespace) -> list[Row]:
    WORK.mkdir(parents=True, exist_ok=True)
    ensure_media(args.films)
    console.print(f"load average at the start: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores")
    rows: list[Row] = []
    with medianest(args) as server:
        song, films = set_up(server, args.films)
        console.print(f"server up (pid {server.pid})")
        if not args.video_only:
            console.print("measuring audio ...")
            rows += measure_audio(server, song, args)
        if not args.audio_only:
            console.print("measuring video ...")
            rows += measure_video(server, films, args)
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--quick", action="store_true", help="a short run while developing: 5 requests, 4 streams, "
                                                             "1 film")
    parser.add_argument("--requests", type=int, default=15, help="uncached audio requests (and as many peer runs)")
    parser.add_argument("--streams", type=int, default=8, help="concurrent audio transcodes")
    parser.add_argument("--rounds", type=int, default=2, help="rounds of the concurrent measure (best kept)")
    parser.add_argument("--films", type=int, default=3, help="video rounds, each on its own uncached item")
    parser.add_argument("--workers", type=int, default=1, help="MEDIANEST_WORKERS")
    parser.add_argument("--audio-only", action="store_true")
    parser.add_argument("--video-only", action="store_true")
    parser.add_argument("--keep", action="store_true", help="keep the server's data folder and log")
    args = parser.parse_args()
    if args.quick:
        args.requests, args.streams, args.rounds, args.films = 5, 4, 1, 1
    print_table(run(args), args)


if __name__ == "__main__":
    main()
