"""Everything that touches yt-dlp (the only module that imports it): options, previews, one download.

A download runs in a child process (see `process.py`), so this module's `download` is what that
child calls: it reports through `report(message)` and never touches the database. Errors come out
as `Failure(reason, transient)`: transient ones (network, 5xx, timeouts) are retried by the job with
the `.part` file resumed; permanent ones (unsupported URL, 404, private video, too large) are not.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import yt_dlp
from yt_dlp.utils import DownloadError

QUALITIES = ("2160p", "1440p", "1080p", "720p", "480p", "360p")
DEFAULT_AUDIO_QUALITY = {"mp3": "192", "m4a": "192", "opus": "160", "flac": "0"}
Report = Callable[[dict[str, Any]], None]

# Lower-cased fragments of yt-dlp's messages that mean "trying again will not help".
_PERMANENT = ("unsupported url", "http error 404", "http error 403", "http error 410", "http error 401",
              "private video", "video unavailable", "is not available", "sign in", "requires authentication",
              "not a valid url", "no video formats", "larger than max-filesize", "unable to extract",
              "downloads may not reach")  # safety.guard_connections refused a private address
# ... and those that mean the network or the server had a bad moment.
_TRANSIENT = ("http error 5", "timed out", "timeout", "connection", "incompleteread", "more expected",
              "temporarily", "reset by peer", "broken pipe", "remote end closed", "eof occurred")
_HEIGHT = re.compile(r"(\d+)p")


class _Quiet:
    """yt-dlp's logger: it prints errors to stderr even when quiet; ours are reported as `Failure`s."""

    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


@dataclass(frozen=True)
class Spec:
    """What to fetch and how; plain data so it can cross into the child process."""

    url: str
    mode: str = "video"
    quality: str = "best"
    audio_format: str | None = None
    audio_quality: str | None = None
    tmp_dir: str = "."
    ffmpeg_path: str | None = None
    max_filesize: int | None = None


@dataclass(frozen=True)
class Failure(Exception):
    reason: str
    transient: bool


def classify(exc: BaseException) -> Failure:
    """A readable reason, and whether another attempt could succeed."""
    text = _strip_prefix(str(exc))
    low = text.lower()
    if any(marker in low for marker in _PERMANENT):
        return Failure(text, transient=False)
    return Failure(text, transient=any(marker in low for marker in _TRANSIENT))


def format_selector(mode: str, quality: str) -> str:
    """yt-dlp's -f: the best at or below the chosen height (so a missing 1080p gives 720p), falling
    back to the smallest available when everything is taller."""
    if mode == "audio":
        return "bestaudio/best"
    match = _HEIGHT.fullmatch(quality)
    if match is None:
        return "bestvideo*+bestaudio/best"
    h = match.group(1)
    return f"bestvideo*[height<={h}]+bestaudio/best[height<={h}]/worstvideo*+bestaudio/worst"


def options(spec: Spec, report: Report | None = None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True, "logger": _Quiet(),
        "format": format_selector(spec.mode, spec.quality),
        # A stable name per item: a later attempt finds the `.part` file and resumes it.
        "outtmpl": {"default": f"{spec.tmp_dir}/%(id).64s.%(ext)s"},
        "paths": {"home": spec.tmp_dir, "temp": spec.tmp_dir},
        "continuedl": True, "retries": 0, "fragment_retries": 3, "socket_timeout": 20,
        "merge_output_format": "mp4/mkv", "writethumbnail": False, "cachedir": False,
        "proxy": "",  # never route through an environment proxy: the URL's host was checked, not a proxy's
    }
    if spec.ffmpeg_path:
        opts["ffmpeg_location"] = spec.ffmpeg_path
    opts["js_runtimes"] = _js_runtimes()
    if spec.max_filesize:
        opts["max_filesize"] = spec.max_filesize
    if spec.mode == "audio":
        fmt = spec.audio_format or "mp3"
        opts["postprocessors"] = [{"key": "FFmpegExtractAudio", "preferredcodec": fmt,
                                   "preferredquality": spec.audio_quality or DEFAULT_AUDIO_QUALITY[fmt]}]
    if report is not None:
        opts["progress_hooks"] = [lambda d: _on_progress(d, report)]
        opts["postprocessor_hooks"] = [lambda d: report({"type": "phase", "phase": "processing"})
                                       if d.get("status") == "started" else None]
    return opts


def entries(url: str, limit: int | None, ffmpeg_path: str | None = None) -> dict[str, Any]:
    """What `url` is, without downloading: one video, or a playlist's entries (flat, up to `limit`)."""
    opts = {"quiet": True, "no_warnings": True, "logger": _Quiet(), "extract_flat": "in_playlist",
            "skip_download": True, "cachedir": False, "proxy": "", "socket_timeout": 20, "js_runtimes": _js_runtimes()}
    if limit:
        opts["playlistend"] = limit
    if ffmpeg_path:
        opts["ffmpeg_location"] = ffmpeg_path
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.sanitize_info(ydl.extract_info(url, download=False))
    except (DownloadError, yt_dlp.utils.ExtractorError) as exc:
        raise classify(exc) from None
    return _summary(info, limit)


def download(spec: Spec, report: Report) -> dict[str, Any]:
    """Fetch one video (and convert it, in audio mode); the result names the file and its source."""
    try:
        with yt_dlp.YoutubeDL(options(spec, report)) as ydl:
            info = ydl.sanitize_info(ydl.extract_info(spec.url, download=True))
    except (DownloadError, yt_dlp.utils.ExtractorError) as exc:
        raise classify(exc) from None
    files = [d.get("filepath") for d in info.get("requested_downloads") or [] if d.get("filepath")]
    if not files:  # yt-dlp skips, without an error, a file over max_filesize
        raise Failure("the file is larger than the maximum download size", transient=False)
    return {"file": files[0], **source_fields(info)}


def source_fields(info: dict[str, Any]) -> dict[str, Any]:
    return {
        "id": str(info.get("id") or ""), "site": str(info.get("extractor_key") or "generic").lower(),
        "title": info.get("title") or info.get("id"), "url": info.get("webpage_url") or info.get("original_url"),
        "channel": info.get("channel") or info.get("uploader"), "uploaded_at": _date(info.get("upload_date")),
        "thumbnail": info.get("thumbnail"), "duration_s": info.get("duration"),
    }


def _summary(info: dict[str, Any], limit: int | None) -> dict[str, Any]:
    summary = {**source_fields(info), "views": info.get("view_count"), "qualities": _qualities(info),
               "is_playlist": info.get("_type") == "playlist", "entries": []}
    if summary["is_playlist"]:
        raw = list(info.get("entries") or [])[:limit] if limit else list(info.get("entries") or [])
        summary["entries"] = [{"url": e.get("url") or e.get("webpage_url"), "title": e.get("title"),
                               "id": str(e.get("id") or ""), "duration_s": e.get("duration")}
                              for e in raw if e and (e.get("url") or e.get("webpage_url"))]
    return summary


def _qualities(info: dict[str, Any]) -> list[str]:
    """"best" plus each of our heights that some format reaches (a 1080p-only video offers all
    lower ones too: the nearest lower quality is what the user gets)."""
    heights = [f.get("height") or 0 for f in info.get("formats") or [] if f.get("vcodec") != "none"]
    top = max(heights, default=0)
    return ["best", *(q for q in QUALITIES if int(q[:-1]) <= top)]


@functools.cache
def _js_runtimes() -> dict[str, dict[str, str]]:
    """YouTube's player challenges need a JavaScript runtime: the `deno` that came from PyPI with
    MediaNest, found even when the virtual environment's bin folder is not on PATH."""
    try:
        from deno import find_deno_bin

        return {"deno": {"path": find_deno_bin()}}
    except (ImportError, OSError, RuntimeError):
        return {"deno": {}}  # yt-dlp's default: a deno on PATH, if any


def _on_progress(d: dict[str, Any], report: Report) -> None:
    if d.get("status") != "downloading":
        return
    report({"type": "progress", "downloaded": d.get("downloaded_bytes") or 0,
            "total": d.get("total_bytes") or d.get("total_bytes_estimate"),
            "speed": d.get("speed"), "eta": d.get("eta")})


def _date(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def _strip_prefix(text: str) -> str:
    """yt-dlp's "ERROR: [generic] abc: HTTP Error 404" minus the noise a user does not need."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", text).removeprefix("ERROR: ").strip()
    return text[:500] or "download failed"
