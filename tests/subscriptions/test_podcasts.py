"""Following a podcast: new episodes download once with the feed's metadata (read back from the files),
an unchanged feed costs a 304, and each subscription is a private RSS feed any podcast app can follow."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from typing import Any

import feedparser
from fastapi import FastAPI

from medianest.config import Settings
from tests.conftest import Api, bearer
from tests.downloads.mediaserver import MediaServer
from tests.subscriptions.conftest import checked, checker, downloads_of, read, subscribe
from tests.subscriptions.feedserver import Episode, FeedServer

SHOW = "/show.xml"


def podcast(feeds: FeedServer, server: MediaServer, *numbers: int) -> str:
    url = feeds.add_feed(SHOW, "Nest Talk", "Ada Host")
    for n in numbers:
        feeds.add_episode(SHOW, episode(server, n))
    return url


def episode(server: MediaServer, n: int) -> Episode:
    name = "abcdef"[n - 1]
    return Episode(guid=f"nest-{n}", title=f"Episode {n}: ünïcode", url=server.url(f"/media/{name}.mp3"),
                   published=datetime(2026, 3, n, 8, tzinfo=UTC), description=f"Show notes of episode {n}.")


async def media(api: Api, token: str, media_id: str) -> dict[str, Any]:
    r = await api.client.get(f"/api/v1/media/{media_id}", headers=bearer(token))
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()["data"]
    return data


async def test_new_episodes_download_once_with_the_feeds_metadata(
        api: Api, app: FastAPI, server: MediaServer, feeds: FeedServer, settings: Settings) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, podcast(feeds, server, 1, 2), backfill=1)
    assert (sub["kind"], sub["mode"], sub["name"]) == ("feed", "audio", "Nest Talk")
    await checked(api, token, sub["id"])
    [done] = await downloads_of(api, token, count=1)
    assert done["status"] == "completed" and done["url"] == server.url("/media/b.mp3")  # the newest only
    # Listed under the episode's title (not the file's name), and tied to its subscription.
    assert (done["title"], done["subscription_id"]) == ("Episode 2: ünïcode", sub["id"])
    item = await media(api, token, done["media_ids"][0])
    # The scanner read these from the file's tags, which the download wrote from the feed.
    assert (item["title"], item["album"], item["artist"], item["genre"]) == (
        "Episode 2: ünïcode", "Nest Talk", "Ada Host", "Podcast")
    assert item["description"] == "Show notes of episode 2."

    check = checker(app, settings)
    result = await asyncio.to_thread(check, int(sub["id"]))
    assert result is not None and result.unchanged and result.queued == 0
    assert feeds.requests(SHOW)[-1].status == 304

    feeds.add_episode(SHOW, episode(server, 3))
    result = await asyncio.to_thread(check, int(sub["id"]))
    assert result is not None and result.queued == 1
    rows = await downloads_of(api, token, count=2)
    assert sorted(d["url"] for d in rows) == [server.url("/media/b.mp3"), server.url("/media/c.mp3")]
    assert server.requests_for("/media/a.mp3") == []


async def test_the_private_feed_serves_what_was_downloaded_to_any_podcast_app(
        api: Api, app: FastAPI, server: MediaServer, feeds: FeedServer) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, podcast(feeds, server, 1), backfill=1)
    await checked(api, token, sub["id"])
    [done] = await downloads_of(api, token, count=1)
    await asyncio.to_thread(checker(api.app, api.app.state.parts.settings), int(sub["id"]))  # marks it done
    feed_url = (await read(api, token, sub["id"]))["feed_url"]

    r = await api.client.get(feed_url)  # no credentials: the token is the credential
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/rss+xml")
    parsed = feedparser.parse(r.content)
    assert parsed.feed.title == "Nest Talk" and len(parsed.entries) == 1
    enclosure = parsed.entries[0].enclosures[0]
    assert parsed.entries[0].title == "Episode 1: ünïcode" and enclosure.type == "audio/mpeg"

    part = await api.client.get(enclosure.href, headers={"Range": "bytes=0-99"})
    whole = await api.client.get(f"/api/v1/media/{done['media_ids'][0]}/stream", headers=bearer(token))
    assert part.status_code == 206 and part.content == whole.content[:100]
    assert int(enclosure.length) == len(whole.content)

    forged = feed_url[:-4] + ("0000" if not feed_url.endswith("0000") else "1111")
    assert (await api.client.get(forged)).status_code == 404
    r = await api.client.patch(f"/api/v1/subscriptions/{sub['id']}", json={"new_feed_token": True},
                               headers=bearer(token))
    assert r.status_code == 200 and r.json()["data"]["feed_url"] != feed_url
    assert (await api.client.get(feed_url)).status_code == 404  # the old URL is revoked
    assert (await api.client.get(enclosure.href)).status_code == 404
    assert (await api.client.get(r.json()["data"]["feed_url"])).status_code == 200


async def test_a_broken_feed_keeps_its_items_and_says_why(
        api: Api, app: FastAPI, server: MediaServer, feeds: FeedServer, settings: Settings) -> None:
    token = await api.setup_admin()
    sub = await subscribe(api, token, podcast(feeds, server, 1, 2))
    first = await checked(api, token, sub["id"])
    assert first["items"] == {"seen": 2}
    check = checker(app, settings)
    for mode, reason in (("garbage", "does not hold an RSS or Atom feed"), ("error", "answered 500")):
        feeds.set_mode(SHOW, mode)
        result = await asyncio.to_thread(check, int(sub["id"]))
        assert result is not None and result.error is not None and reason in result.error
        now = await read(api, token, sub["id"])
        assert reason in now["last_error"] and now["items"] == {"seen": 2}
    feeds.set_mode(SHOW, "ok")
    feeds.add_episode(SHOW, episode(server, 3))
    result = await asyncio.to_thread(check, int(sub["id"]))
    assert result is not None and result.error is None and result.queued == 1
    assert (await read(api, token, sub["id"]))["last_error"] is None


async def test_a_suspended_users_private_feed_stops(api: Api, server: MediaServer, feeds: FeedServer) -> None:
    admin = await api.setup_admin()
    token = await api.create_user(admin, "listener")
    sub = await subscribe(api, token, podcast(feeds, server, 1), backfill=1)
    await checked(api, token, sub["id"])
    await downloads_of(api, token, count=1)
    await asyncio.to_thread(checker(api.app, api.app.state.parts.settings), int(sub["id"]))
    feed_url = (await read(api, token, sub["id"]))["feed_url"]
    enclosure = feedparser.parse((await api.client.get(feed_url)).content).entries[0].enclosures[0].href
    assert (await api.client.get(enclosure)).status_code == 200

    me = (await api.client.get("/api/v1/auth/me", headers=bearer(token))).json()["data"]
    r = await api.client.patch(f"/api/v1/users/{me['id']}", json={"status": "suspended"}, headers=bearer(admin))
    assert r.status_code == 200, r.text
    for url in (feed_url, enclosure):
        r = await api.client.get(url)
        assert r.status_code == 403 and r.json()["error"]["code"] == "FORBIDDEN"
