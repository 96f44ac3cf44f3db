"""Podcasts in Subsonic apps: the caller's podcast feed subscriptions as channels, their entries as episodes.

A server of this module's own (the downloads land in its library, which the shared `world`'s tests count)
follows feeds on 127.0.0.1 (`podcast_feeds`) whose episodes are real audio files made by ffmpeg and served by
the media stand-in; its own queue consumer checks and downloads. Answers are checked against the OpenSubsonic
schemas in JSON, and XML must say the same; the apps' view goes through py-opensonic (`libopensonic`).
"""

from __future__ import annotations

import io
import secrets
import time
from collections.abc import Callable, Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import libopensonic
import mutagen
import pytest

from tests.downloads.mediaserver import MediaServer, make_audio
from tests.liveserver import LiveServer, serve
from tests.subscriptions.feedserver import Episode, FeedServer
from tests.subsonic import spec
from tests.subsonic.accounts import Account, new_account, no_failures_logged
from tests.subsonic.conftest import LOCAL_FEEDS

NOT_FOUND, GENERIC = 70, 0
TIMEOUT_S = 90  # a deadline against hangs, not a timing assertion


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, subsonic_source: Path) -> Iterator[LiveServer]:
    with serve(tmp_path_factory.mktemp("podcasts"), subsonic_source, extra_env=LOCAL_FEEDS) as live, \
            no_failures_logged(live):
        yield live


@pytest.fixture(scope="module")
def media(tmp_path_factory: pytest.TempPathFactory) -> Iterator[MediaServer]:
    root = tmp_path_factory.mktemp("episodes")
    with MediaServer() as served:
        for n in (1, 2, 3):
            served.add_file(f"/ep{n}.mp3", make_audio(root / f"ep{n}.mp3", seconds=1, title=f"raw {n}"),
                            "audio/mpeg")
        yield served


def _episode(media: MediaServer, n: int) -> Episode:
    return Episode(guid=f"ep-{n}", title=f"Episode {n}: ünïcode", url=media.url(f"/ep{n}.mp3"),
                   published=datetime(2026, 3, n, 8, tzinfo=UTC), description=f"Notes of episode {n}.")


def _feed(feeds: FeedServer, media: MediaServer, *numbers: int) -> str:
    path = f"/show-{secrets.token_hex(4)}.xml"
    url = feeds.add_feed(path, "Nest Talk", "Ada Host")
    for n in numbers:
        feeds.add_episode(path, _episode(media, n))
    return url


def _until(what: str, get: Callable[[], Any], done: Callable[[Any], bool]) -> Any:
    deadline = time.monotonic() + TIMEOUT_S
    while True:
        value = get()
        if done(value):
            return value
        assert time.monotonic() < deadline, f"{what}: {value}"
        time.sleep(0.2)


def _channels(who: Account, **params: Any) -> list[dict[str, Any]]:
    found: list[dict[str, Any]] = who.ok("getPodcasts", params)["podcasts"].get("channel", [])
    return found


def _settled(who: Account, channel_id: str, completed: int, total: int) -> dict[str, Any]:
    """The channel once `total` episodes are listed and `completed` of them downloaded: each poll asks for a
    check (refreshPodcasts), which is what records a finished download as the episode's."""
    def get() -> dict[str, Any]:
        who.ok("refreshPodcasts")
        [channel] = _channels(who, id=channel_id)
        return channel

    def done(channel: dict[str, Any]) -> bool:
        episodes = channel.get("episode", [])
        return len(episodes) == total and sum(e["status"] == "completed" for e in episodes) == completed
    settled: dict[str, Any] = _until("the channel's episodes", get, done)
    return settled


def _same_in_xml(who: Account, endpoint: str, params: dict[str, Any]) -> dict[str, Any]:
    body = who.raw(endpoint, params).json()
    spec.validate_json(endpoint, body)
    xml = who.raw(endpoint, params, fmt="xml")
    assert xml.headers["content-type"].startswith("application/xml")
    spec.assert_same_fields(xml.content, spec.without_empty_lists(body), endpoint)
    return body


@pytest.fixture(scope="module")
def followed(server: LiveServer, podcast_feeds: FeedServer, media: MediaServer) -> tuple[Account, str, str]:
    """A user following a two-episode feed through createPodcastChannel, once the newest is downloaded:
    (the user, the channel id, the feed's URL)."""
    alice = new_account(server, "pod")
    url = _feed(podcast_feeds, media, 1, 2)
    assert alice.ok("createPodcastChannel", {"url": url})
    [channel] = _until("the new channel", lambda: _channels(alice), lambda found: len(found) == 1)
    _settled(alice, channel["id"], completed=1, total=2)
    return alice, channel["id"], url


def test_a_followed_feed_is_a_channel_with_its_newest_episode_downloaded(
        server: LiveServer, followed: tuple[Account, str, str], media: MediaServer) -> None:
    alice, channel_id, url = followed
    [channel] = _same_in_xml(alice, "getPodcasts", {})["subsonic-response"]["podcasts"]["channel"]
    assert (channel["id"], channel["url"], channel["title"], channel["status"]) == (channel_id, url, "Nest Talk",
                                                                                    "completed")
    newest, older = channel["episode"]
    assert (newest["title"], newest["status"], newest["channelId"]) == ("Episode 2: ünïcode", "completed", channel_id)
    assert newest["publishDate"] == "2026-03-02T08:00:00.000Z" and newest["description"] == "Notes of episode 2."
    assert newest["id"].startswith("pe-") and newest["streamId"] != newest["id"]
    assert channel["coverArt"] == newest["coverArt"]
    # Indexed by the first check, never fetched (backfill 1): skipped, with nothing to stream.
    assert (older["title"], older["status"]) == ("Episode 1: ünïcode", "skipped") and "streamId" not in older
    assert media.requests_for("/ep1.mp3") == []

    streamed = alice.raw("stream", {"id": newest["streamId"], "format": "raw"}, fmt="xml")
    assert streamed.status_code == 200 and streamed.headers["content-type"].startswith("audio/")
    whole = alice.api("GET", f"/api/v1/media/{newest['streamId']}/stream")
    assert streamed.content == whole.content and len(streamed.content) == newest["size"]
    tags = mutagen.File(io.BytesIO(streamed.content), easy=True)
    assert tags["title"] == ["Episode 2: ünïcode"] and tags.info.length > 0.5  # the episode's file, tagged


def test_an_app_reads_channels_episodes_and_the_newest(server: LiveServer, followed: tuple[Account, str, str],
                                                       ) -> None:
    alice, channel_id, _ = followed
    assert alice.password is not None
    port = int(server.base_url.rsplit(":", 1)[1])
    app = libopensonic.Connection("http://127.0.0.1", alice.username, alice.password, port=port, app_name="tests")
    try:
        [channel] = app.get_podcasts()
        assert channel.id == channel_id and [e.status.value for e in channel.episode] == ["completed", "skipped"]
        [bare] = app.get_podcasts(inc_episodes=False, pid=channel_id)
        assert bare.title == "Nest Talk" and not bare.episode
        [newest] = app.get_newest_podcasts(count=10)
        assert newest.id == channel.episode[0].id and newest.stream_id == channel.episode[0].stream_id
        one = app.get_podcast_episode(channel.episode[1].id)
        assert (one.id, one.status.value, one.channel_id) == (channel.episode[1].id, "skipped", channel_id)
        assert {e.name for e in app.get_open_subsonic_extensions()} >= {"getPodcastEpisode"}
        assert app.get_user(alice.username).podcast_role is True
    finally:
        app.cleanup()  # its aiohttp session and the event loop thread it runs on
    for endpoint, params in (("getNewestPodcasts", {"count": 5}), ("getPodcastEpisode", {"id": newest.id}),
                             ("getPodcasts", {"id": channel_id, "includeEpisodes": "false"})):
        _same_in_xml(alice, endpoint, params)
    assert alice.ok("getNewestPodcasts", {"count": 0})["newestPodcasts"] == {"episode": []}


def test_refresh_picks_up_a_new_episode(server: LiveServer, podcast_feeds: FeedServer, media: MediaServer) -> None:
    bea = new_account(server, "pod")
    url = _feed(podcast_feeds, media, 1)
    bea.ok("createPodcastChannel", {"url": url})
    [channel] = _until("the new channel", lambda: _channels(bea), lambda found: len(found) == 1)
    _settled(bea, channel["id"], completed=1, total=1)
    podcast_feeds.add_episode(url.removeprefix(podcast_feeds.url("")), _episode(media, 3))
    settled = _settled(bea, channel["id"], completed=2, total=2)
    assert [e["title"] for e in settled["episode"]] == ["Episode 3: ünïcode", "Episode 1: ünïcode"]
    [newest, _] = bea.ok("getNewestPodcasts")["newestPodcasts"]["episode"]
    assert newest["title"] == "Episode 3: ünïcode" and newest["status"] == "completed"


def test_another_users_channels_and_episodes_do_not_exist(server: LiveServer,
                                                         followed: tuple[Account, str, str]) -> None:
    alice, channel_id, _ = followed
    episode_id = _channels(alice)[0]["episode"][0]["id"]
    eve = new_account(server, "eve")
    assert _channels(eve) == [] and eve.ok("getNewestPodcasts")["newestPodcasts"] == {"episode": []}
    for endpoint, params in (("getPodcasts", {"id": channel_id}), ("getPodcastEpisode", {"id": episode_id}),
                             ("deletePodcastChannel", {"id": channel_id})):
        eve.failed(endpoint, params, code=NOT_FOUND)
    # A song's number is not an episode's, nor an episode's a channel's.
    alice.failed("getPodcastEpisode", {"id": _channels(alice)[0]["episode"][0]["streamId"]}, code=NOT_FOUND)
    alice.failed("getPodcasts", {"id": episode_id}, code=NOT_FOUND)
    assert [c["id"] for c in _channels(alice)] == [channel_id]  # eve's delete did nothing


def test_only_feeds_are_followed_and_once(server: LiveServer, followed: tuple[Account, str, str],
                                          media: MediaServer) -> None:
    alice, _, url = followed
    assert "already follow" in alice.failed("createPodcastChannel", {"url": url}, code=GENERIC)["message"]
    videos = "".join(f"<video src='{media.url(f'/ep{n}.mp3')}'></video>" for n in (1, 2))
    page = media.add_bytes(f"/page-{secrets.token_hex(3)}", f"<html><title>Videos</title><body>{videos}</body>"
                           "</html>".encode(), "text/html; charset=utf-8")  # a channel (a page of media)
    assert "a channel, not a feed" in alice.failed("createPodcastChannel", {"url": page}, code=GENERIC)["message"]
    assert alice.failed("createPodcastChannel", {"url": "not a url"}, code=GENERIC)["message"]
    listed = alice.api("GET", "/api/v1/subscriptions").json()["data"]
    assert [s["url"] for s in listed] == [url]  # nothing else was kept


def test_deleting_a_channel_keeps_its_downloads(server: LiveServer, podcast_feeds: FeedServer,
                                                media: MediaServer) -> None:
    cid = new_account(server, "pod")
    cid.ok("createPodcastChannel", {"url": _feed(podcast_feeds, media, 2)})
    [channel] = _until("the new channel", lambda: _channels(cid), lambda found: len(found) == 1)
    [episode] = _settled(cid, channel["id"], completed=1, total=1)["episode"]
    cid.ok("deletePodcastChannel", {"id": channel["id"]})
    assert _channels(cid) == []
    cid.failed("getPodcasts", {"id": channel["id"]}, code=NOT_FOUND)
    cid.failed("getPodcastEpisode", {"id": episode["id"]}, code=NOT_FOUND)
    cid.failed("deletePodcastChannel", {"id": channel["id"]}, code=NOT_FOUND)
    assert cid.ok("getSong", {"id": episode["streamId"]})["song"]["title"] == "Episode 2: ünïcode"
