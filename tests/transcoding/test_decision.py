"""GET /media/{id}/playback: for each file of a typical library and each client, direct play, a remux or a
transcode, with the reason in words and a URL the player can use (the real files, probed by FFmpeg)."""

from __future__ import annotations

import pytest

from medianest.transcoding.streams import _container
from tests.conftest import bearer
from tests.transcoding.conftest import World

# What a baseline browser (no capabilities sent) gets for each file: method, protocol, and words the
# reason must hold.
BASELINE = {
    "mkv_h264_ac3": ("transcode", "hls", ["Dolby Digital (AC-3)", "H.264 video copied", "encoded to AAC"]),
    "avi_mpeg4_mp3": ("transcode", "hls", ["MPEG-4 Part 2", "encoded to H.264"]),
    "m4a_alac": ("transcode", "progressive", ["ALAC", "FLAC"]),
    "wma": ("transcode", "progressive", ["WMA", "MP3 192 kbit/s"]),
    "mp4_hevc": ("transcode", "hls", ["HEVC", "encoded to H.264"]),
    "flac": ("direct", "file", ["FLAC"]),
    "ogg_opus": ("direct", "file", ["Opus", "Ogg"]),
    "wav": ("direct", "file", ["PCM", "WAV"]),
    "mp4_h264_10bit": ("transcode", "hls", ["10-bit H.264", "encoded to H.264"]),
    "mkv_two_audio": ("remux", "hls", ["Matroska", "copied"]),
}


@pytest.mark.parametrize("name", sorted(BASELINE))
async def test_a_baseline_browser_gets_what_it_can_play(world: World, name: str) -> None:
    method, protocol, words = BASELINE[name]
    d = await world.decision(name)
    assert (d["method"], d["protocol"]) == (method, protocol), d
    for word in words:
        assert word in d["reason"], (word, d["reason"])
    assert "token=" in d["url"]
    if protocol == "file":
        assert d["url"].startswith(f"/api/v1/media/{world.items[name]['id']}/stream?token=")
        r = await world.get(d["url"], headers={"range": "bytes=0-99"})
        assert r.status_code == 206
    elif protocol == "hls":
        r = await world.get(d["url"])
        assert r.status_code == 200 and r.text.startswith("#EXTM3U"), r.text
    assert d["duration_s"] == pytest.approx(14, abs=0.5)


async def test_a_client_that_plays_the_file_gets_it_directly(world: World) -> None:
    d = await world.decision("mkv_h264_ac3", containers="matroska,mp4", video="h264", audio="aac,ac3")
    assert d["method"] == "direct" and d["protocol"] == "file"
    d = await world.decision("mp4_hevc", containers="mp4", video="hevc,h264", audio="aac")
    assert d["method"] == "direct"
    d = await world.decision("m4a_alac", containers="mp4", audio="alac")
    assert d["method"] == "direct"


def test_webm_is_told_from_matroska() -> None:
    # One FFmpeg demuxer reads both; a browser plays WebM and not Matroska.
    assert _container("matroska,webm", "/m/Clip.WEBM") == "webm"
    assert _container("matroska,webm", "/m/Film.mkv") == "matroska"
    assert _container("mov,mp4,m4a,3gp,3g2,mj2", "/m/Phone.mov") == "mp4"


async def test_only_the_container_wrong_is_a_remux(world: World) -> None:
    d = await world.decision("mkv_h264_ac3", containers="mp4", video="h264", audio="aac,ac3")
    assert (d["method"], d["video_codec"], d["audio_codec"]) == ("remux", "h264", "ac3"), d
    assert "/hls/copy_copy_0/" in d["url"]
    # A client that decodes a codec plays that codec's own file type, whatever containers it lists.
    for name in ("ogg_opus", "flac", "wav"):
        d = await world.decision(name, containers="webm,mp4", audio="opus,aac,flac,pcm")
        assert d["method"] == "direct", (name, d)


async def test_limits_make_a_transcode(world: World) -> None:
    d = await world.decision("mkv_two_audio", containers="mp4,matroska", video="h264", audio="aac", max_height=144)
    assert d["method"] == "transcode" and "240p, above the client's 144p" in d["reason"], d
    assert "/hls/h264-144-" in d["url"]
    d = await world.decision("flac", max_bitrate=128)
    assert d["method"] == "transcode" and "bitrate=128" in d["url"] and "format=mp3" in d["url"], d


async def test_a_client_choosing_a_codec_gets_it(world: World) -> None:
    d = await world.decision("wma", containers="ogg", audio="opus")
    assert "format=opus" in d["url"] and d["audio_codec"] == "opus"
    d = await world.decision("m4a_alac", containers="mp4", audio="aac")  # no FLAC: a lossy one
    assert "format=aac" in d["url"]


async def test_the_audio_tracks_are_listed_and_one_can_be_chosen(world: World) -> None:
    d = await world.decision("mkv_two_audio", containers="matroska", video="h264", audio="aac")
    assert d["method"] == "direct" and d["audio_track"] == 0
    assert [(t["index"], t["language"], t["title"]) for t in d["audio_tracks"]] == [
        (0, "eng", "English"), (1, "fra", "Français")]
    d = await world.decision("mkv_two_audio", containers="matroska", video="h264", audio="aac", audio_track=1)
    assert d["method"] == "remux" and d["audio_track"] == 1 and "/hls/copy_copy_1/" in d["url"], d
    assert "another audio track" in d["reason"]
    r = await world.client.get(f"/api/v1/media/{world.items['mkv_two_audio']['id']}/playback",
                               params={"audio_track": 5}, headers=bearer(world.token))
    assert r.status_code == 422 and r.json()["error"]["code"] == "VALIDATION_ERROR"


async def test_the_decision_needs_a_signed_in_caller_and_a_real_item(world: World) -> None:
    mid = world.items["wma"]["id"]
    assert (await world.get(f"/api/v1/media/{mid}/playback")).status_code == 401
    r = await world.client.get("/api/v1/media/999999/playback", headers=bearer(world.token))
    assert r.status_code == 404 and r.json()["error"]["code"] == "NOT_FOUND"
    r = await world.client.get(f"/api/v1/media/{mid}/playback", params={"video": "H264"}, headers=bearer(world.token))
    assert r.status_code == 422  # names are lower case, as FFmpeg spells them
