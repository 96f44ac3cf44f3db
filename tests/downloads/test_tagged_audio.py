"""Audio downloads land as tagged tracks, and the library takes every tag and the cover from the file.

The "site" is a page on the local `MediaServer` that yt-dlp's generic extractor reads as a real site's:
schema.org VideoObject data (title, author, upload date, description, a thumbnail and chapters as `hasPart`
clips), as many video sites publish. What the library shows is what the scanner read back from the file
(a row deleted and rescanned comes back the same), and the file is opened with mutagen and PyAV directly.
"""

from __future__ import annotations

import base64
import hashlib
import io
import json
import stat
from pathlib import Path
from typing import Any

import av
import mutagen
import pytest
from fastapi import FastAPI
from mutagen.flac import Picture
from mutagen.id3 import COMM, ID3
from mutagen.mp4 import MP4Tags
from sqlalchemy import delete, select

from medianest.config import Settings
from medianest.downloads import ytdlp
from medianest.downloads.models import Download
from medianest.downloads.spec import Spec
from medianest.library.ffmpeg import ffmpeg_exe, run_ffmpeg
from medianest.library.models import Media
from medianest.library.probe import probe
from tests.conftest import Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer, make_audio, make_video
from tests.downloads.test_ssrf import Tripwired

COVER = (64, 48)  # the thumbnail's size: the embedded cover is that picture, re-encoded as JPEG
CHAPTERS = [("Intro", 0, 1), ("Main part", 1, 3)]


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("tagged-sources")
    cover = root / "cover.png"
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc=size={COVER[0]}x{COVER[1]}:rate=1:duration=1", "-frames:v", "1",
                str(cover)])
    return {"video": make_video(root / "episode.mp4", seconds=3), "cover": cover,
            "chaptered": _with_chapters(make_video(root / "plain.mp4", seconds=3), root / "chaptered.mp4"),
            "long": _keyframed(root / "long.mp4", seconds=6)}


def _keyframed(path: Path, seconds: int) -> Path:
    """A video with a keyframe every 1/3 s: a cut without re-encoding lands within that of its time."""
    run_ffmpeg(["-f", "lavfi", "-i", f"testsrc=size=160x120:rate=15:duration={seconds}",
                "-f", "lavfi", "-i", f"sine=frequency=440:duration={seconds}", "-g", "5", "-c:v", "mpeg4",
                "-c:a", "aac", "-shortest", str(path)])
    return path


def _with_chapters(source: Path, out: Path) -> Path:
    """`source` with chapters of its own (FFmpeg metadata), as a site may serve a file."""
    meta = out.with_suffix(".txt")
    meta.write_text(";FFMETADATA1\n" + "".join(
        f"[CHAPTER]\nTIMEBASE=1/1000\nSTART={a * 1000}\nEND={b * 1000}\ntitle={t}\n" for t, a, b in CHAPTERS))
    run_ffmpeg(["-i", str(source), "-i", str(meta), "-map", "0", "-map_chapters", "1", "-c", "copy", str(out)])
    return out


def _page(server: MediaServer, path: str, video: str, **extra: Any) -> str:
    """A page describing `video` the way sites do for search engines (schema.org VideoObject)."""
    data = {"@context": "https://schema.org", "@type": "VideoObject", "name": "Episode One",
            "description": "First line\nSecond line", "thumbnailUrl": server.url("/img/cover.png"),
            "uploadDate": "2024-03-05T10:00:00Z", "author": {"@type": "Person", "name": "The Channel"},
            "contentUrl": server.url(video), "duration": "PT3S",
            "hasPart": [{"@type": "Clip", "name": t, "startOffset": a, "endOffset": b} for t, a, b in CHAPTERS],
            **extra}
    html = (f"<html><head><title>{data['name']}</title><script type='application/ld+json'>{json.dumps(data)}"
            "</script></head><body></body></html>")
    return server.add_bytes(path, html.encode(), "text/html; charset=utf-8")


@pytest.fixture
def site(server: MediaServer, made: dict[str, Path]) -> MediaServer:
    server.add_file("/media/episode.mp4", made["video"], "video/mp4")
    server.add_file("/media/chaptered.mp4", made["chaptered"], "video/mp4")
    server.add_file("/img/cover.png", made["cover"], "image/png")
    return server


# --- reading a file ourselves -----------------------------------------------------------------------------

def _cover(path: Path) -> bytes:
    """The embedded front cover: ID3 APIC, MP4 covr or an Ogg METADATA_BLOCK_PICTURE."""
    tags = mutagen.File(path).tags
    if isinstance(tags, ID3):
        return bytes(tags.getall("APIC")[0].data)
    if isinstance(tags, MP4Tags):
        return bytes(tags["covr"][0])
    return bytes(Picture(base64.b64decode(tags["metadata_block_picture"][0])).data)


def _image_size(data: bytes) -> tuple[int, int]:
    """Decoded, not guessed: the bytes must be a picture a decoder reads."""
    with av.open(io.BytesIO(data)) as container:
        frame = next(container.decode(video=0))
        return frame.width, frame.height


def _chapters(path: Path) -> list[str]:
    with av.open(str(path)) as container:
        return [c["metadata"].get("title", "") for c in container.chapters()]


def _tag(path: Path, name: str) -> str:
    """One tag as the file's own format spells it."""
    tags = mutagen.File(path).tags
    spelled = {ID3: {"title": "TIT2", "artist": "TPE1", "album": "TALB", "track": "TRCK", "date": "TDRC",
                     "genre": "TCON", "description": "TXXX:description", "album_artist": "TPE2"},
               MP4Tags: {"title": "\xa9nam", "artist": "\xa9ART", "album": "\xa9alb", "track": "trkn",
                         "date": "\xa9day", "genre": "\xa9gen", "description": "ldes", "album_artist": "aART"}}
    for kind, names in spelled.items():
        if isinstance(tags, kind):
            value = tags.get(names[name])
            if value is None:
                return ""
            first = value.text[0] if hasattr(value, "text") else value[0]
            return str(first[0] if isinstance(first, tuple) else first)
    key = {"track": "tracknumber", "album_artist": "albumartist"}.get(name, name)
    return str((tags.get(key) or [""])[0])


async def _file_of(app: FastAPI, media_id: str) -> Path:
    async with app.state.parts.sessions() as session:
        return Path(await session.scalar(select(Media.path).where(Media.id == int(media_id))))


async def _media(api: Api, token: str, media_id: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/media/{media_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


# --- through the app's queue --------------------------------------------------------------------------------

@pytest.mark.parametrize("fmt", ["mp3", "m4a", "opus"])
async def test_an_audio_download_lands_as_a_tagged_track_with_its_cover_and_chapters(
        api: Api, app: FastAPI, site: MediaServer, fmt: str) -> None:
    token = await api.setup_admin()
    page = _page(site, "/watch/episode-one", "/media/episode.mp4")
    done = await wait_status(api, token, (await queue(api, token, page, mode="audio", audio_format=fmt))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    [media_id] = done["media_ids"]
    path = await _file_of(app, media_id)

    # The file itself, as any player reads it.
    assert path.suffix == f".{fmt}"
    assert [_tag(path, t) for t in ("title", "artist", "album", "album_artist", "date")] == [
        "Episode One", "The Channel", "The Channel", "The Channel", "2024-03-05"]
    assert _tag(path, "description") == "First line\nSecond line"
    cover = _cover(path)
    assert cover[:2] == b"\xff\xd8" and _image_size(cover) == COVER  # the PNG thumbnail, as a JPEG
    assert _chapters(path) == [t for t, _, _ in CHAPTERS]
    assert site.requests_for("/img/cover.png")  # fetched by yt-dlp in the guarded child, never by ffmpeg

    # The library, as the scanner read it from the file.
    media = await _media(api, token, media_id)
    assert (media["kind"], media["title"], media["artist"], media["album"], media["album_artist"], media["year"]) == (
        "audio", "Episode One", "The Channel", "The Channel", "The Channel", 2024)
    assert media["description"] == "First line\nSecond line" and media["uploaded_at"].startswith("2024-03-05")
    art = await api.client.get(media["artwork_url"])
    assert art.status_code == 200 and _image_size(art.content) == COVER


async def test_the_library_reads_tags_and_cover_back_from_the_file_not_from_its_rows(
        api: Api, app: FastAPI, site: MediaServer) -> None:
    """The row is deleted and the folder scanned: the item comes back with every tag and its cover,
    which only the file can have given."""
    token = await api.setup_admin()
    page = _page(site, "/watch/episode-one", "/media/episode.mp4", keywords="funny,cats")
    done = await wait_status(api, token, (await queue(api, token, page, mode="audio"))["id"], "completed", "failed")
    before = await _media(api, token, done["media_ids"][0])
    async with app.state.parts.sessions() as session:
        await session.execute(delete(Media))
        await session.commit()
    await api.scan()
    [after] = await api.all_media(token)
    assert after["id"] != before["id"] and after["source_url"] is None  # a new row, nothing of the download's
    fields = ("title", "artist", "album", "album_artist", "track", "year", "genre", "description", "duration_s")
    assert {k: after[k] for k in fields} == {k: before[k] for k in fields}
    assert (after["title"], after["artist"], after["album"], after["year"], after["description"]) == (
        "Episode One", "The Channel", "The Channel", 2024, "First line\nSecond line")
    assert after["genre"] is None  # the page's keywords are no genre
    art = await api.client.get(after["artwork_url"])
    assert art.status_code == 200 and _image_size(art.content) == COVER


async def test_chapters_in_the_served_file_are_kept(api: Api, app: FastAPI, site: MediaServer) -> None:
    """A direct link to a file with chapters: the generic extractor reports none, ffmpeg keeps the file's."""
    token = await api.setup_admin()
    url = site.url("/media/chaptered.mp4")
    done = await wait_status(api, token, (await queue(api, token, url, mode="audio", audio_format="m4a"))["id"],
                             "completed", "failed")
    assert done["status"] == "completed", done
    assert _chapters(await _file_of(app, done["media_ids"][0])) == [t for t, _, _ in CHAPTERS]


async def test_a_playlist_downloaded_as_audio_is_an_album_numbered_in_its_order(
        api: Api, app: FastAPI, site: MediaServer) -> None:
    videos = "".join(f"<video src='{site.url(p)}'></video>" for p in ("/media/clip.mp4", "/media/episode.mp4"))
    page = site.add_bytes("/watch/mix", f"<html><title>Road Trip Mix</title><body>{videos}</body></html>".encode(),
                          "text/html; charset=utf-8")
    token = await api.setup_admin()
    done = await wait_status(api, token, (await queue(api, token, page, mode="audio"))["id"], "completed", "failed")
    assert done["status"] == "completed", done
    tracks = [await _media(api, token, i) for i in done["media_ids"]]
    assert [(m["album"], m["track"]) for m in tracks] == [("Road Trip Mix", 1), ("Road Trip Mix", 2)]
    files = [await _file_of(app, i) for i in done["media_ids"]]
    assert [(_tag(f, "album"), _tag(f, "track")) for f in files] == [("Road Trip Mix", "1"), ("Road Trip Mix", "2")]
    albums = (await api.client.get("/api/v1/albums", headers=bearer(token))).json()["data"]
    assert [(a["name"], a["media_count"]) for a in albums] == [("Road Trip Mix", 2)]  # one album, not two


async def test_a_podcast_episode_gets_its_feeds_tags_and_lists_under_podcasts(
        api: Api, app: FastAPI, site: MediaServer, sources: dict[str, Path]) -> None:
    """What a feed subscription queues: the enclosure's URL and the episode's metadata as the tags. The
    episodes are listed as the Podcasts section lists them, newest first, and their shows as albums."""
    token = await api.setup_admin()
    user_id = (await api.client.get("/api/v1/auth/me", headers=bearer(token))).json()["data"]["id"]
    episodes = [("Ep. 1: Pilot", "2023-11-02", "1"), ("Ep. 2: Second", "2023-11-09", "2")]
    for title, day, number in episodes:
        enclosure = site.add_file(f"/feed/episode-{number}.mp3", sources["song"], "audio/mpeg")
        tags = {"title": title, "album": "The Show", "artist": "Show Host", "album_artist": "Show Host",
                "date": day, "genre": "Podcast", "track": number, "description": f"Notes for {title}\nwith links"}
        download_id = await _queue_row(app, int(user_id), enclosure, tags, audio_format="m4a")
        app.state.parts.downloads.queue.enqueue(download_id)
        assert (await wait_status(api, token, str(download_id), "completed", "failed"))["status"] == "completed"
    listed = await api.all_media(token, genre="Podcast", sort="uploaded_at")
    assert [m["title"] for m in listed] == ["Ep. 2: Second", "Ep. 1: Pilot"]  # newest first
    for media, (title, day, number) in zip(listed, reversed(episodes), strict=True):
        assert (media["album"], media["artist"], media["track"], media["year"]) == ("The Show", "Show Host",
                                                                                      int(number), 2023)
        assert media["description"] == f"Notes for {title}\nwith links"
        assert media["uploaded_at"].startswith(day)  # the feed's date, not the file server's
        path = await _file_of(app, media["id"])
        assert (_tag(path, "genre"), _tag(path, "date"), _tag(path, "title")) == ("Podcast", day, title)
    shows = (await api.client.get("/api/v1/albums", params={"genre": "Podcast"}, headers=bearer(token))).json()
    assert [(s["name"], s["artist"], s["media_count"]) for s in shows["data"]] == [("The Show", "Show Host", 2)]


async def _queue_row(app: FastAPI, user_id: int, url: str, tags: dict[str, str], **columns: Any) -> int:
    """A queued audio download with `tags`, written as a subscription writes it (not yet enqueued)."""
    async with app.state.parts.sessions() as session:
        dl = Download(user_id=user_id, url=url, mode="audio", quality="best", status="queued", tags=tags,
                      percent=0.0, downloaded_bytes=0, attempts=0, **columns)
        session.add(dl)
        await session.commit()
        return dl.id


async def test_a_video_download_is_left_as_it_was_served(api: Api, site: MediaServer, made: dict[str, Path],
                                                         settings: Settings) -> None:
    token = await api.setup_admin()
    page = _page(site, "/watch/episode-one", "/media/episode.mp4")
    done = await wait_status(api, token, (await queue(api, token, page))["id"], "completed", "failed")
    assert done["status"] == "completed", done
    media = await _media(api, token, done["media_ids"][0])
    assert media["kind"] == "video" and media["album"] is None and media["description"] is None
    assert (await api.client.get(media["stream_url"])).content == made["video"].read_bytes()  # not remuxed
    assert site.requests_for("/img/cover.png") == []  # no thumbnail fetched for a video


async def test_ffmpeg_is_only_ever_given_local_files(api: Api, app: FastAPI, site: MediaServer,
                                                     tmp_path: Path) -> None:
    """Every ffmpeg an audio download runs (convert the cover, extract, tag, chapters, embed) reads files
    by `file:` path, each behind the local-only protocol list; the cover's URL never reaches it."""
    log = tmp_path / "ffmpeg.log"
    wrapper = tmp_path / "bin" / "ffmpeg"
    wrapper.parent.mkdir()
    # Each run's arguments NUL-separated, runs separated by \\001 (a description has newlines).
    wrapper.write_text(f'#!/bin/sh\nprintf "%s\\0" "$@" >> {log}\nprintf "\\001" >> {log}\nexec {ffmpeg_exe()} "$@"\n')
    wrapper.chmod(wrapper.stat().st_mode | stat.S_IEXEC)
    app.state.parts.settings.ffmpeg_path = str(wrapper)
    token = await api.setup_admin()
    for fmt in ("mp3", "opus"):
        page = _page(site, f"/watch/{fmt}", "/media/episode.mp4")
        done = await wait_status(api, token, (await queue(api, token, page, mode="audio", audio_format=fmt))["id"],
                                 "completed", "failed")
        assert done["status"] == "completed", done
    runs = [run.split("\0")[:-1] for run in log.read_text().split("\1")[:-1]]
    inputs = [(args, i) for args in runs for i, a in enumerate(args) if a == "-i"]
    assert len(inputs) >= 8  # cover, extraction, tags + chapters, embedding: for each of the two
    for args, i in inputs:
        assert args[i + 1].startswith("file:"), args
        if "-loglevel" in args:  # a conversion; the others only print what a file holds
            assert args[i - 2:i] == ["-protocol_whitelist", "file,pipe,crypto,data"], args
    assert not any("127.0.0.1" in a and not a.startswith(("purl=", "comment=")) for args in runs for a in args)


async def test_a_cover_on_a_metadata_address_is_never_fetched_and_the_track_still_lands(
        site: MediaServer, tmp_path: Path) -> None:
    """The thumbnail is fetched like any URL of a download: in the guarded child, which refuses a cloud
    metadata service even with private networks allowed. The track lands without a cover. (Behind
    test_ssrf's tripwire: a broken guard is recorded, not let out.)"""
    page = _page(site, "/watch/bad-cover", "/media/episode.mp4",
                 thumbnailUrl="http://169.254.169.254/latest/meta-data/cover.jpg")
    attempts = tmp_path / "attempts"
    attempts.touch()
    spec = Spec(url=page, mode="audio", tmp_dir=str(tmp_path / "tmp"), ffmpeg_path=ffmpeg_exe())
    outcome = await Tripwired("download", (spec,), attempts, {}).outcome()
    assert attempts.read_text() == ""  # refused before any connection
    assert outcome["type"] == "done", outcome
    path = Path(outcome["result"]["file"])
    assert _tag(path, "title") == "Episode One" and not mutagen.File(path).tags.getall("APIC")


# --- descriptions as other taggers write them ------------------------------------------------------------------

def _ogg(path: Path) -> Path:
    run_ffmpeg(["-f", "lavfi", "-i", "sine=duration=1", "-c:a", "libopus", str(path)])
    return path


def _tag_comment_only(path: Path) -> None:
    """Notes in the plain comment each format has, as a music tagger leaves them (no description tag)."""
    audio = mutagen.File(path)
    if isinstance(audio.tags, ID3):
        audio.tags.add(COMM(encoding=3, lang="eng", desc="", text=["Line one\nLine two"]))
    elif isinstance(audio.tags, MP4Tags):
        audio.tags["\xa9cmt"] = ["Line one\nLine two"]
    else:
        audio["COMMENT"] = ["Line one\nLine two"]
    audio.save()


@pytest.mark.parametrize("name", ["notes.mp3", "notes.m4a", "notes.opus"])
def test_a_plain_comment_is_read_as_the_description(tmp_path: Path, name: str) -> None:
    path = _ogg(tmp_path / name) if name.endswith(".opus") else make_audio(tmp_path / name)
    assert probe(path).description is None
    _tag_comment_only(path)
    assert probe(path).description == "Line one\nLine two"


# --- SponsorBlock ---------------------------------------------------------------------------------------------

# yt-dlp asks SponsorBlock for YouTube videos only (its SponsorBlockPP.EXTRACTORS), so these tests hand yt-dlp
# the result of a YouTube extraction (formats on the local server) and answer from a stand-in of SponsorBlock's
# API (GET /api/skipSegments/<first 4 hex of the id's SHA-256>, https://wiki.sponsor.ajay.app/w/API_Docs).
VIDEO_ID = "dQw4w9WgXcQ"


def _youtube_result(server: MediaServer) -> dict[str, Any]:
    return {"id": VIDEO_ID, "title": "A Sponsored Video", "extractor": "youtube", "extractor_key": "Youtube",
            "webpage_url": f"https://www.youtube.com/watch?v={VIDEO_ID}", "duration": 6, "channel": "Creator",
            "upload_date": "20240110", "formats": [{"format_id": "18", "url": server.url("/media/long.mp4"),
                                                    "ext": "mp4", "vcodec": "avc1", "acodec": "mp4a"}]}


def _segments(server: MediaServer, *segments: tuple[str, float, float]) -> None:
    prefix = hashlib.sha256(VIDEO_ID.encode()).hexdigest()[:4]
    answer = [{"videoID": VIDEO_ID, "hash": hashlib.sha256(VIDEO_ID.encode()).hexdigest(), "segments": [
        {"segment": [a, b], "UUID": f"uuid-{n}", "category": category, "videoDuration": 6.0,
         "actionType": "skip", "locked": 0, "votes": 3, "description": ""}
        for n, (category, a, b) in enumerate(segments)]},
        {"videoID": "someOtherId", "segments": [{"segment": [0.0, 5.0], "category": "sponsor"}]}]
    server.add_bytes(f"/api/skipSegments/{prefix}", json.dumps(answer).encode(), "application/json")


def _run(spec: Spec, server: MediaServer) -> Path:
    with ytdlp.downloader(spec) as ydl:
        info = ydl.process_ie_result(_youtube_result(server), download=True)
    return Path(info["requested_downloads"][0]["filepath"])


def _duration(path: Path) -> float:
    with av.open(str(path)) as container:
        return float(container.duration or 0) / 1_000_000


@pytest.mark.parametrize("mode", ["audio", "video"])
def test_sponsorblock_remove_cuts_the_segments_out(server: MediaServer, made: dict[str, Path],
                                                         tmp_path: Path, mode: str) -> None:
    server.add_file("/media/long.mp4", made["long"], "video/mp4")
    _segments(server, ("sponsor", 2.0, 4.0), ("filler", 4.5, 5.5))  # filler is not removed (yt-dlp's default)
    spec = Spec(url="unused", mode=mode, tmp_dir=str(tmp_path), ffmpeg_path=ffmpeg_exe(), sponsorblock="remove",
                sponsorblock_api=server.base_url)
    out = _run(spec, server)
    assert server.requests_for(f"/api/skipSegments/{hashlib.sha256(VIDEO_ID.encode()).hexdigest()[:4]}")
    assert 3.5 < _duration(out) < 4.5  # 6 s less the sponsor's 2 (cut at packets, not samples)


def test_sponsorblock_mark_makes_the_segments_chapters(server: MediaServer, made: dict[str, Path],
                                                            tmp_path: Path) -> None:
    server.add_file("/media/long.mp4", made["long"], "video/mp4")
    _segments(server, ("sponsor", 2.0, 4.0))
    spec = Spec(url="unused", mode="audio", audio_format="mp3", tmp_dir=str(tmp_path), ffmpeg_path=ffmpeg_exe(),
                sponsorblock="mark", sponsorblock_api=server.base_url)
    out = _run(spec, server)
    assert _duration(out) > 5.5  # nothing cut
    titles = _chapters(out)
    assert len(titles) == 3 and "Sponsor" in titles[1], titles
    assert _tag(out, "artist") == "Creator" and _tag(out, "date") == "2024-01-10"


def test_without_sponsorblock_no_segment_is_asked_for() -> None:
    audio, video = Spec(url="unused", mode="audio", ffmpeg_path=ffmpeg_exe()), Spec(url="unused")
    with ytdlp.downloader(audio) as ydl:
        names = [type(pp).__name__ for pp, _ in ytdlp.postprocessors(audio, ydl)]
        assert names == ["_Tags", "FFmpegThumbnailsConvertorPP", "FFmpegExtractAudioPP", "_Metadata",
                         "EmbedThumbnailPP"]
        assert ytdlp.postprocessors(video, ydl) == []  # a video is left as it was served
