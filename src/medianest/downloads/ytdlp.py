"""Everything that touches yt-dlp (the only module that imports it): options, previews, one download.

A download runs in a child process (see `process.py`), so this module's `download` is what that
child calls: it reports through `report(message)` and never touches the database. Errors come out
as `Failure(reason, transient)`: transient ones (network, 5xx, timeouts) are retried by the job with
the `.part` file resumed; permanent ones (unsupported URL, 404, private video, too large) are not.

Everything that comes back from a site (titles, ids, channels, URLs, error texts) is cleaned of control
characters, NUL and bidi overrides here, before anyone stores it or makes a file name of it.

Only yt-dlp's own Python downloaders fetch: the child's address guard (`safety.guard_connections`)
lives in Python, and ffmpeg, a separate program, would resolve and fetch past it. So live streams, which
yt-dlp hands to ffmpeg, are refused; formats that need another program are refused; and any ffmpeg that
still runs (merging, converting, a stream the HLS downloader gives up on) may read local input only.

An audio download lands as a tagged track: title, artist (the site's artist, else the channel), album (the
download's tags, else the channel), album artist, date, track number, genre, description, chapters and the
thumbnail as cover art, written by yt-dlp's own post-processors in the order of its command line. The
thumbnail is fetched by yt-dlp's urlopen in this process (guarded like any fetch); ffmpeg only ever reads
the local copy. The library reads all of it back from the file (library/probe.py).
"""

from __future__ import annotations

import functools
import os
import re
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import yt_dlp
import yt_dlp.postprocessor
from yt_dlp.downloader import DashSegmentsFD, F4mFD, HlsFD, HttpFD, IsmFD, MhtmlFD, get_suitable_downloader
from yt_dlp.postprocessor import (
    EmbedThumbnailPP,
    FFmpegExtractAudioPP,
    FFmpegMetadataPP,
    FFmpegThumbnailsConvertorPP,
    ModifyChaptersPP,
    PostProcessor,
    SponsorBlockPP,
)
from yt_dlp.postprocessor.ffmpeg import FFmpegPostProcessor
from yt_dlp.utils import DownloadCancelled, DownloadError

from medianest.downloads.spec import Failure, Spec
from medianest.text import clean_optional, clean_text

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
# Column sizes of what is stored (downloads.title, media.source_id, media.source_site...).
_TITLE_CHARS, _ID_CHARS, _SITE_CHARS = 1024, 255, 64
# Put before every input of every ffmpeg yt-dlp runs: local files only (`crypto` and `data` for a local
# HLS playlist's keys and inline parts, `pipe` for stdin), never http, tcp, udp, rtmp or any other way out.
_LOCAL_INPUT = ["-protocol_whitelist", "file,pipe,crypto,data"]
# The downloaders that fetch in this process, through the guarded resolver (never a program of their own).
_IN_PROCESS = (HttpFD, HlsFD, DashSegmentsFD, IsmFD, F4mFD, MhtmlFD)
_LIVE = ("is_live", "is_upcoming")


class Refused(DownloadCancelled):
    """Raised by the match filter; yt-dlp lets a `DownloadCancelled` through instead of skipping."""


class LiveStream(Refused):
    msg = "live streams cannot be downloaded (a recording can, once the stream has ended)"


class NeedsAnotherProgram(Refused):
    msg = ("this stream would be fetched by another program (ffmpeg or an external downloader), "
           "which MediaNest does not allow")


class _Quiet:
    """yt-dlp's logger: it prints errors to stderr even when quiet; ours are reported as `Failure`s."""

    def debug(self, msg: str) -> None: ...
    def info(self, msg: str) -> None: ...
    def warning(self, msg: str) -> None: ...
    def error(self, msg: str) -> None: ...


def classify(exc: BaseException) -> Failure:
    """A readable reason, and whether another attempt could succeed."""
    if isinstance(exc, Refused):
        return Failure(exc.msg, transient=False)
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


@functools.cache
def fetch_options() -> dict[str, Any]:
    """What keeps every fetch in this process, for previews and downloads alike (see the module doc)."""
    ffmpeg_pps: list[Any] = [cls for cls in vars(yt_dlp.postprocessor).values()
                             if isinstance(cls, type) and issubclass(cls, FFmpegPostProcessor)]
    return {
        "proxy": "",  # never route through an environment proxy: the URL's host was checked, not a proxy's
        "external_downloader": {"default": "native"}, "hls_prefer_native": True,
        "external_downloader_args": {"ffmpeg_i": _LOCAL_INPUT},
        # The keys yt-dlp reads input arguments from: `<postprocessor>+ffmpeg_i` (no catch-all exists).
        "postprocessor_args": {f"{pp.pp_key().lower()}+ffmpeg_i": _LOCAL_INPUT for pp in ffmpeg_pps},
        "writethumbnail": False, "cachedir": False, "socket_timeout": 20,
    }


def options(spec: Spec, fetched: Fetched | None = None) -> dict[str, Any]:
    opts: dict[str, Any] = {
        **fetch_options(),
        "quiet": True, "no_warnings": True, "noprogress": True, "noplaylist": True, "logger": _Quiet(),
        "format": format_selector(spec.mode, spec.quality),
        # A stable name per item: a later attempt finds the `.part` file and resumes it.
        "outtmpl": {"default": f"{spec.tmp_dir}/%(id).64s.%(ext)s"},
        "paths": {"home": spec.tmp_dir, "temp": spec.tmp_dir},
        "continuedl": True, "retries": 0, "fragment_retries": 3,
        "merge_output_format": "mp4/mkv",
    }
    opts["match_filter"] = functools.partial(_refuse_unsafe, opts, skip=False)
    if spec.ffmpeg_path:
        opts["ffmpeg_location"] = spec.ffmpeg_path
    opts["js_runtimes"] = _js_runtimes()
    if spec.max_filesize:
        opts["max_filesize"] = spec.max_filesize
    if spec.mode == "audio":
        opts["writethumbnail"] = True  # the cover art: fetched by yt-dlp's urlopen here, through the guard
    if fetched is not None:
        report = fetched.report
        opts["progress_hooks"] = [fetched.update]
        opts["postprocessor_hooks"] = [lambda d: report({"type": "phase", "phase": "processing"})
                                       if d.get("status") == "started" else None]
    return opts


def downloader(spec: Spec, fetched: Fetched | None = None) -> yt_dlp.YoutubeDL:
    """A YoutubeDL with `options(spec)` and the post-processors `spec` asks for (`postprocessors`)."""
    ydl = yt_dlp.YoutubeDL(options(spec, fetched))
    for pp, when in postprocessors(spec, ydl):
        ydl.add_post_processor(pp, when=when)
    return ydl


def postprocessors(spec: Spec, ydl: yt_dlp.YoutubeDL) -> list[tuple[PostProcessor, str]]:
    """(post-processor, when) in the order of yt-dlp's own command line (its `get_postprocessors`):
    SponsorBlock's segments looked up, the cover converted to JPEG (what every tag format and player
    takes), the audio extracted, segments cut or turned into chapters, then tags and chapters written and
    the cover embedded. A video download gets none of it unless SponsorBlock is asked for (its chapters,
    and no other tag, are written then). Each is made for `ydl`, whose options say where ffmpeg is."""
    pps: list[tuple[PostProcessor, str]] = []
    if spec.sponsorblock:
        pps.append((SponsorBlockPP(ydl, categories=_SPONSOR_CATEGORIES, api=spec.sponsorblock_api), "after_filter"))
    if spec.mode == "audio":
        fmt = spec.audio_format or "mp3"
        quality = spec.audio_quality or DEFAULT_AUDIO_QUALITY[fmt]
        pps += [(_Tags(spec.tags), "pre_process"), (FFmpegThumbnailsConvertorPP(ydl, format="jpg"), "before_dl"),
                (FFmpegExtractAudioPP(ydl, preferredcodec=fmt, preferredquality=quality), "post_process")]
    if spec.sponsorblock:
        removed = _SPONSOR_CATEGORIES if spec.sponsorblock == "remove" else ()
        pps.append((_ModifyChapters(ydl, remove_sponsor_segments=removed), "post_process"))
    if spec.mode == "audio" or spec.sponsorblock:
        pps.append((_Metadata(ydl, add_metadata=spec.mode == "audio", add_chapters=True, add_infojson=False),
                    "post_process"))
    if spec.mode == "audio":
        pps.append((EmbedThumbnailPP(ydl, already_have_thumbnail=False), "post_process"))
    return pps


# SponsorBlock's categories a rule removes or marks: all that can be skipped, less "filler" (yt-dlp's own
# default, after SponsorBlock's advice: it is aggressive, often the talk people came for).
_SPONSOR_CATEGORIES = tuple(sorted(set(SponsorBlockPP.CATEGORIES) - set(SponsorBlockPP.NON_SKIPPABLE_CATEGORIES)
                                   - {"filler"}))
# The tags a download's `tags` may set, as yt-dlp's FFmpegMetadata names them (its `meta_<name>` fields).
_TAG_NAMES = ("title", "artist", "album", "album_artist", "track", "date", "genre", "description")


class _Tags(PostProcessor):
    """Sets the tags FFmpegMetadata writes, as its `meta_<tag>` fields: the download's `tags` over what the
    site gives. The artist is the site's artist, else the channel (FFmpegMetadata would take the uploader's
    id before the channel); the album, when nothing names one, is the channel, which is then the album
    artist too, so a channel's downloads make one album; the date is YYYY-MM-DD (what every tag format
    reads as a date; ID3v2.3 splits it into its year and day frames); the genre is the site's category, never
    its keyword list. The description also goes into the comment, which the page's URL would fill."""

    def __init__(self, tags: dict[str, str] | None) -> None:
        super().__init__(None)
        self.tags = {k: str(v) for k, v in (tags or {}).items() if k in _TAG_NAMES and v not in (None, "")}

    def run(self, info: dict[str, Any]) -> tuple[list[str], dict[str, Any]]:
        meta = _site_tags(info) | self.tags
        channel = _text(info, "channel", "uploader")
        if not meta.get("album") and channel:
            meta["album"] = channel
            meta.setdefault("album_artist", channel)
        # An empty value drops the tag (ffmpeg's -metadata key=): no genre, rather than the keywords.
        meta["synopsis"] = meta["comment"] = meta.get("description", "")
        for name, value in meta.items():
            text = clean_text(value)  # tabs and newlines stay (a description's lines); controls go
            info[f"meta_{name}"] = text if name in _MULTILINE_TAGS else " ".join(text.split())
        return [], info


_MULTILINE_TAGS = ("description", "synopsis", "comment")


def _site_tags(info: dict[str, Any]) -> dict[str, str]:
    categories = info.get("categories") or []
    found = {"title": _text(info, "track", "title"), "artist": _text(info, "artist", "creator", "channel", "uploader"),
             "album": _text(info, "album"), "track": _text(info, "track_number", "playlist_index"),
             "date": _iso_day(info.get("upload_date")) or "", "description": _text(info, "description"),
             "genre": _text(info, "genre") or (str(categories[0]) if categories else "")}
    return {k: v for k, v in found.items() if v or k == "genre"}


def _text(info: dict[str, Any], *keys: str) -> str:
    """The first of `keys` `info` has a value for, as text ("" when none)."""
    return next((str(info[k]) for k in keys if info.get(k) not in (None, "")), "")


def _iso_day(value: object) -> str | None:
    stamp = _date(value)
    return stamp[:10] if stamp else None


class _Probed(FFmpegPostProcessor):
    """yt-dlp measures a file with ffprobe, which the bundled ffmpeg comes without: PyAV reads the
    duration instead (of a local file: nothing here opens a URL)."""

    def _get_real_video_duration(self, filepath: str, fatal: bool = True) -> float | None:
        import av

        try:
            with av.open(filepath) as container:
                return container.duration / 1_000_000 if container.duration else None
        except (av.error.FFmpegError, OSError) as exc:
            if fatal:
                raise yt_dlp.utils.PostProcessingError(f"Unable to determine the duration: {exc}") from exc
            return None


class _ModifyChapters(_Probed, ModifyChaptersPP):
    @classmethod
    def pp_key(cls) -> str:  # its ffmpeg's arguments (the local-input rule) are looked up by this key
        return str(ModifyChaptersPP.pp_key())


class _Metadata(_Probed, FFmpegMetadataPP):
    @classmethod
    def pp_key(cls) -> str:
        return str(FFmpegMetadataPP.pp_key())


def entries(url: str, limit: int | None, ffmpeg_path: str | None = None) -> dict[str, Any]:
    """What `url` is, without downloading: one video, or a playlist's entries (flat, up to `limit`)."""
    opts = {**fetch_options(), "quiet": True, "no_warnings": True, "logger": _Quiet(),
            "extract_flat": "in_playlist", "skip_download": True, "js_runtimes": _js_runtimes(),
            "check_formats": False}  # a preview downloads nothing, not even a test of a format
    opts["match_filter"] = functools.partial(_refuse_unsafe, opts, skip=True)
    if limit:
        opts["playlistend"] = limit
    if ffmpeg_path:
        opts["ffmpeg_location"] = ffmpeg_path
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.sanitize_info(ydl.extract_info(url, download=False))
    except (DownloadError, yt_dlp.utils.ExtractorError, Refused) as exc:
        raise classify(exc) from None
    return _summary(info, limit)


def download(spec: Spec, report: Report) -> dict[str, Any]:
    """Fetch one video (and convert it and tag it, in audio mode); the result names the file, the bytes
    fetched for it and its source (its date the tags' date, when they give one)."""
    fetched = Fetched(report)
    try:
        with downloader(spec, fetched) as ydl:
            info = ydl.sanitize_info(ydl.extract_info(spec.url, download=True))
    except (DownloadError, yt_dlp.utils.ExtractorError, Refused) as exc:
        raise classify(exc) from None
    files = [d.get("filepath") for d in info.get("requested_downloads") or [] if d.get("filepath")]
    if not files:  # yt-dlp skips, without an error, a file over max_filesize
        raise Failure("the file is larger than the maximum download size", transient=False)
    found = source_fields(info)
    if _tagged_day(spec):  # a feed's publication date, over what the file's server says
        found["uploaded_at"] = _tagged_day(spec)
    return {"file": files[0], "bytes": fetched.total() or os.path.getsize(files[0]), **found}


def _tagged_day(spec: Spec) -> str | None:
    day = (spec.tags or {}).get("date") if spec.mode == "audio" else None
    return _date(str(day).replace("-", "")) if day else None


def source_fields(info: dict[str, Any]) -> dict[str, Any]:
    """Where a video came from, cleaned and cut to the sizes it is stored in."""
    return {
        "id": clean_optional(info.get("id"), _ID_CHARS) or "",
        "site": clean_optional(str(info.get("extractor_key") or "generic").lower(), _SITE_CHARS) or "generic",
        "title": clean_optional(info.get("title") or info.get("id"), _TITLE_CHARS),
        "url": clean_optional(info.get("webpage_url") or info.get("original_url")),
        "channel": clean_optional(info.get("channel") or info.get("uploader"), _TITLE_CHARS),
        "uploaded_at": _date(info.get("upload_date")), "thumbnail": clean_optional(info.get("thumbnail")),
        "duration_s": info.get("duration"),
    }


def _summary(info: dict[str, Any], limit: int | None) -> dict[str, Any]:
    summary = {**source_fields(info), "views": info.get("view_count"), "qualities": _qualities(info),
               "is_playlist": info.get("_type") == "playlist", "entries": []}
    if summary["is_playlist"]:
        raw = list(info.get("entries") or [])[:limit] if limit else list(info.get("entries") or [])
        entries = ({"url": clean_optional(e.get("url") or e.get("webpage_url")),
                    "title": clean_optional(e.get("title"), _TITLE_CHARS),
                    "id": clean_optional(e.get("id"), _ID_CHARS) or "", "duration_s": e.get("duration")}
                   for e in raw if e)
        summary["entries"] = [e for e in entries if e["url"]]
    return summary


def _refuse_unsafe(params: dict[str, Any], info: dict[str, Any], *, incomplete: object = False,
                   skip: bool) -> str | None:
    """yt-dlp's match filter: a live stream, or a format some other program would fetch, is refused
    (`skip`: a live playlist entry, only known by its URL in a preview, is left out instead). yt-dlp
    calls it before the formats are chosen too (`incomplete`), when only liveness can be judged."""
    if info.get("live_status") in _LIVE or info.get("is_live"):
        if skip and info.get("_type") in ("url", "url_transparent"):
            return LiveStream.msg
        raise LiveStream
    if incomplete:
        return None
    for fmt in info.get("requested_formats") or [info]:
        if fmt.get("url") and get_suitable_downloader(dict(fmt), params) not in _IN_PROCESS:
            raise NeedsAnotherProgram
    return None


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


class Fetched:
    """The bytes of one item, summed over its files (a video and an audio stream to merge, each counted
    from 0 by yt-dlp), so the count reported never starts again at the second file."""

    def __init__(self, report: Report) -> None:
        self.report = report
        self.files: dict[str, tuple[int, int | None]] = {}  # file -> (bytes so far, expected size)

    def update(self, d: dict[str, Any]) -> None:
        """yt-dlp's progress hook."""
        name = str(d.get("filename") or "")
        if d.get("status") == "finished":  # the real size, also when the file was already complete
            size = int(d.get("total_bytes") or d.get("downloaded_bytes") or 0)
            self.files[name] = (size, size)
        elif d.get("status") == "downloading":
            self.files[name] = (int(d.get("downloaded_bytes") or 0),
                                d.get("total_bytes") or d.get("total_bytes_estimate"))
        else:
            return
        totals = [total for _, total in self.files.values()]
        self.report({"type": "progress", "downloaded": self.total(),
                "total": int(sum(totals)) if all(totals) else None,  # type: ignore[arg-type]
                "speed": d.get("speed"), "eta": d.get("eta")})

    def total(self) -> int:
        return sum(done for done, _ in self.files.values())


def _date(value: object) -> str | None:
    if not isinstance(value, str) or len(value) != 8 or not value.isdigit():
        return None
    try:
        return datetime.strptime(value, "%Y%m%d").replace(tzinfo=UTC).isoformat()
    except ValueError:
        return None


def _strip_prefix(text: str) -> str:
    """yt-dlp's "ERROR: [generic] abc: HTTP Error 404" minus the noise a user does not need (its colours,
    and the control characters a site's id or title can bring into it)."""
    text = clean_text(re.sub(r"\x1b\[[0-9;]*m", "", text)).removeprefix("ERROR: ").strip()
    return text[:500] or "download failed"


def search(query: str, limit: int) -> list[dict[str, Any]]:
    """YouTube's first `limit` videos for `query` (yt-dlp's search: no API key), flat, nothing fetched
    beyond the result pages. Each: {id, url, title, channel, duration_s, thumbnail, views, published_at}.
    Live streams are left out (they cannot be downloaded); text is cleaned as for a preview."""
    opts = {**fetch_options(), "quiet": True, "no_warnings": True, "logger": _Quiet(),
            "extract_flat": "in_playlist", "skip_download": True,
            # Flat entries carry "3 years ago", turned into a timestamp only when asked to.
            "extractor_args": {"youtubetab": {"approximate_date": [""]}}}
    opts["match_filter"] = functools.partial(_refuse_unsafe, opts, skip=True)
    try:
        with yt_dlp.YoutubeDL(opts) as ydl:
            info = ydl.sanitize_info(ydl.extract_info(f"ytsearch{limit}:{query}", download=False))
    except yt_dlp.utils.YoutubeDLError as exc:  # its networking's errors too, which reach here unwrapped
        raise classify(exc) from None
    found = (_search_result(e) for e in (info or {}).get("entries") or [] if isinstance(e, dict))
    return [r for r in found if r["id"] and r["url"]][:limit]


def _search_result(entry: dict[str, Any]) -> dict[str, Any]:
    thumbs = [t for t in entry.get("thumbnails") or [] if isinstance(t, dict) and t.get("url")]
    best = max(thumbs, key=lambda t: t.get("width") or 0, default={}).get("url") or entry.get("thumbnail")
    stamp = entry.get("timestamp")
    return {
        "id": clean_optional(entry.get("id"), _ID_CHARS) or "", "url": clean_optional(entry.get("url")),
        "title": clean_optional(entry.get("title") or entry.get("id"), _TITLE_CHARS),
        "channel": clean_optional(entry.get("channel") or entry.get("uploader"), _TITLE_CHARS),
        "duration_s": entry.get("duration") if isinstance(entry.get("duration"), int | float) else None,
        "thumbnail": clean_optional(best),
        "views": entry.get("view_count") if isinstance(entry.get("view_count"), int) else None,
        "published_at": datetime.fromtimestamp(stamp, UTC).isoformat() if isinstance(stamp, int | float) else None,
    }
