"""Reading feeds: a conditional GET that costs a 304 when nothing changed, every redirect hop checked,
a capped body, and clear errors for what is not a feed."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import urlsplit

import pytest

from medianest.config import Settings
from medianest.downloads import safety
from medianest.subscriptions.feeds import FeedError, FeedRequest, feed_client, fetch_feed, parse
from tests.subscriptions.feedserver import Episode, FeedServer

SETTINGS = Settings(scan_on_start=False, downloads_allow_private_networks=True)  # the stand-in is local


def episode(n: int, **extra: object) -> Episode:
    return Episode(guid=f"ep-{n}", title=f"Episode {n} ✓", url=f"http://127.0.0.1:9/ep{n}.mp3",
                   published=datetime(2026, 1, n, 12, tzinfo=UTC), description=f"<p>Notes of <b>{n}</b> &amp; more</p>",
                   length=1000 * n, **extra)  # type: ignore[arg-type]


async def test_an_unchanged_feed_costs_a_304_and_a_changed_one_is_read_again(feeds: FeedServer) -> None:
    url = feeds.add_feed("/show.xml", "Nest Talk", "Ada Host", image="http://127.0.0.1:9/cover.jpg")
    feeds.add_episode("/show.xml", episode(1))
    feeds.add_episode("/show.xml", episode(2))
    async with feed_client(SETTINGS) as http:
        first = await fetch_feed(http, FeedRequest(url, allow_private=True))
        assert [e.key for e in first.entries] == ["ep-2", "ep-1"]  # newest first
        assert first.title == "Nest Talk" and first.author == "Ada Host"
        assert first.image_url == "http://127.0.0.1:9/cover.jpg"
        assert first.entries[0].title == "Episode 2 ✓" and first.entries[0].url.endswith("/ep2.mp3")
        assert first.entries[0].description == "Notes of 2 & more"  # HTML as plain text
        assert first.entries[0].published_at == datetime(2026, 1, 2, 12, tzinfo=UTC)
        assert first.etag and first.last_modified

        again = await fetch_feed(http, FeedRequest(url, first.etag, first.last_modified, allow_private=True))
        assert again.unchanged and again.entries == [] and again.etag == first.etag
        feeds.add_episode("/show.xml", episode(3))
        changed = await fetch_feed(http, FeedRequest(url, first.etag, first.last_modified, allow_private=True))
    assert not changed.unchanged and changed.entries[0].key == "ep-3"
    assert [r.status for r in feeds.requests("/show.xml")] == [200, 304, 200]


async def test_a_redirect_to_a_metadata_service_is_refused_before_it_is_fetched(feeds: FeedServer) -> None:
    url = feeds.redirect("/moved.xml", "http://169.254.169.254/latest/meta-data/")
    async with feed_client(SETTINGS) as http:
        with pytest.raises(FeedError, match="metadata") as caught:
            await fetch_feed(http, FeedRequest(url, allow_private=True))
    assert caught.value.transient is False


async def test_a_local_address_is_refused_unless_private_networks_are_allowed(feeds: FeedServer) -> None:
    url = feeds.add_feed("/show.xml", "Show", "Host")
    async with feed_client(SETTINGS) as http:
        with pytest.raises(FeedError, match="private or local network"):
            await fetch_feed(http, FeedRequest(url, allow_private=False))
    assert feeds.requests() == []


@pytest.mark.parametrize(("mode", "reason", "transient"), [
    ("garbage", "does not hold an RSS or Atom feed", False), ("error", "answered 500", True)])
async def test_what_is_not_a_feed_is_a_clear_error(feeds: FeedServer, mode: str, reason: str, transient: bool) -> None:
    url = feeds.add_feed("/show.xml", "Show", "Host")
    feeds.set_mode("/show.xml", mode)
    async with feed_client(SETTINGS) as http:
        with pytest.raises(FeedError, match=reason) as caught:
            await fetch_feed(http, FeedRequest(url, allow_private=True))
    assert caught.value.transient is transient


async def test_a_feed_over_the_size_cap_is_refused(feeds: FeedServer) -> None:
    url = feeds.add_feed("/show.xml", "Show", "Host")
    for n in range(1, 20):
        feeds.add_episode("/show.xml", episode(n))
    async with feed_client(SETTINGS) as http:
        with pytest.raises(FeedError, match="larger than"):
            await fetch_feed(http, FeedRequest(url, allow_private=True, max_bytes=2000))


def test_entries_without_media_or_link_are_left_out_and_long_guids_are_hashed() -> None:
    guid = "g" * 400
    body = (f"<rss version='2.0'><channel><title>T</title>"
            f"<item><title>no media</title></item>"
            f"<item><title>long</title><guid>{guid}</guid><enclosure url='http://h/a.mp3' type='audio/mpeg'/></item>"
            f"<item><title>pdf</title><enclosure url='http://h/a.pdf' type='application/pdf'/><link>http://h/p</link>"
            f"</item></channel></rss>").encode()
    listing = parse(body)
    assert [e.title for e in listing.entries] == ["long", "pdf"]
    assert listing.entries[0].key.startswith("sha256:") and len(listing.entries[0].key) <= 255
    assert listing.entries[1].url == "http://h/p"  # not a media enclosure: the item's link


def test_atom_feeds_are_read_too() -> None:
    body = b"""<?xml version='1.0'?><feed xmlns='http://www.w3.org/2005/Atom'><title>A channel</title>
    <entry><id>yt:video:abc</id><title>New video</title><link href='http://h/watch?v=abc'/>
    <published>2026-02-03T04:05:06+00:00</published></entry></feed>"""
    [entry] = parse(body).entries
    assert (entry.key, entry.url, entry.published_at) == ("yt:video:abc", "http://h/watch?v=abc",
                                                          datetime(2026, 2, 3, 4, 5, 6, tzinfo=UTC))


async def test_a_name_that_resolves_to_a_local_address_as_it_connects_is_refused(
        feeds: FeedServer, monkeypatch: pytest.MonkeyPatch) -> None:
    url = feeds.add_feed("/show.xml", "Show", "Host")
    answers = iter([["93.184.216.34"]])  # what the check sees: a public address

    async def rebinding(host: str, port: int) -> list[str]:  # DNS rebinding: a TTL of 0, another answer
        return next(answers, ["127.0.0.1"])

    monkeypatch.setattr(safety, "system_resolver", rebinding)
    async with feed_client(Settings(scan_on_start=False)) as http:
        with pytest.raises(FeedError, match="private or local network") as caught:
            await fetch_feed(http, FeedRequest(f"http://rebind.test:{urlsplit(url).port}/show.xml"))
    assert caught.value.transient is False and feeds.requests() == []


async def test_the_downloads_allowed_sites_bound_feeds_too(feeds: FeedServer) -> None:
    url = feeds.add_feed("/show.xml", "Show", "Host")
    async with feed_client(SETTINGS) as http:
        with pytest.raises(FeedError, match="allowed") as caught:
            await fetch_feed(http, FeedRequest(url, allow_private=True, allowed_sites=("example.com",)))
    assert caught.value.transient is False and feeds.requests() == []
