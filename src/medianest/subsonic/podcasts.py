"""getPodcasts, getNewestPodcasts, getPodcastEpisode (an OpenSubsonic extension), refreshPodcasts,
createPodcastChannel, deletePodcastChannel: the caller's podcast feed subscriptions (subscriptions/) as a
Subsonic app's podcast section.

A channel is a feed subscription ("pc-<id>"), an episode one of its items ("pe-<id>"). A downloaded episode is
a library song: it carries the song's fields and `streamId` = the song id, so an app plays it through `stream`.
Subscriptions are personal: another user's channel or episode does not exist here (70), an admin's too.
deletePodcastEpisode and downloadPodcastEpisode are not offered (the dispatcher answers "not supported"):
the subscriptions have no per-entry download or delete yet; their rule (backfill, keep, age) decides.
"""

from __future__ import annotations

from typing import Any

from medianest.library import browse
from medianest.subscriptions import service
from medianest.subscriptions.models import DONE, FAILED, FEED, QUEUED, Subscription, SubscriptionItem
from medianest.subscriptions.schemas import SubscriptionIn
from medianest.subsonic import shapes
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import NOT_FOUND, Payload, SubsonicError

# An item's state as the spec's PodcastStatus; a done item whose song is gone is "deleted".
STATUS = {DONE: "completed", QUEUED: "downloading", FAILED: "error"}
NEW_FEED_BACKFILL = 1  # a channel added from an app starts with its newest episode, as Subsonic's servers do
NEWEST_MAX = 500


async def get_podcasts(call: Call) -> Payload:
    wanted = call.params.opt("id")
    feeds = [await _channel(call, wanted)] if wanted is not None else await service.feeds_of(call.session, call.user)
    with_episodes = call.params.bool("includeEpisodes", True)
    items = await service.episodes(call.session, [f.id for f in feeds]) if with_episodes else []
    by_channel: dict[str, list[dict[str, Any]]] = {_cid(f.id): [] for f in feeds}
    for episode in await _episodes(call, items, {f.id: f for f in feeds}):
        by_channel[episode["channelId"]].append(episode)
    return {"podcasts": {"channel": [_channel_out(f, by_channel[_cid(f.id)], with_episodes) for f in feeds]}}


async def get_newest_podcasts(call: Call) -> Payload:
    count = call.params.int("count", 20, 0, NEWEST_MAX)
    feeds = {f.id: f for f in await service.feeds_of(call.session, call.user)}
    items = await service.episodes(call.session, list(feeds), done_only=True, limit=count)
    return {"newestPodcasts": {"episode": await _episodes(call, items, feeds)}}


async def get_podcast_episode(call: Call) -> Payload:
    item_id = shapes.parse_prefixed(call.params.str("id"), shapes.EPISODE, "podcast episode")
    item, sub = await service.episode(call.session, call.user, item_id)
    return {"podcastEpisode": (await _episodes(call, [item], {sub.id: sub}))[0]}


async def refresh_podcasts(call: Call) -> Payload:
    service.refresh_feeds(call.parts.subscriptions, await service.feeds_of(call.session, call.user))
    return {}


async def create_podcast_channel(call: Call) -> Payload:
    body = SubscriptionIn(url=call.params.str("url"), mode="audio", backfill=NEW_FEED_BACKFILL)
    await service.create(call.parts.subscriptions, call.session, call.user, body, only=FEED)
    return {}


async def delete_podcast_channel(call: Call) -> Payload:
    sub = await _channel(call, call.params.str("id"))
    await service.remove(call.session, call.user, sub.id)  # what it downloaded stays in the library
    return {}


async def _channel(call: Call, raw: str) -> Subscription:
    """The caller's feed a channel id names; error 70 for anything else (another user's, a video channel's)."""
    sub = await service.get(call.session, call.user, shapes.parse_prefixed(raw, shapes.CHANNEL, "podcast channel"))
    if sub.kind != FEED:
        raise SubsonicError(NOT_FOUND, "podcast channel not found")
    return sub


def _cid(sub_id: int) -> str:
    return f"{shapes.CHANNEL}{sub_id}"


def _channel_out(sub: Subscription, episodes: list[dict[str, Any]], with_episodes: bool) -> dict[str, Any]:
    cover = next((e["coverArt"] for e in episodes if "coverArt" in e), None)  # the newest episode's picture
    return {"id": _cid(sub.id), "url": sub.url, "title": sub.name, "description": sub.description,
            "coverArt": cover, "originalImageUrl": sub.image_url, "status": "error" if sub.last_error else "completed",
            "errorMessage": sub.last_error, "episode": episodes if with_episodes else None}


async def _episodes(call: Call, items: list[SubscriptionItem], feeds: dict[int, Subscription],
                    ) -> list[dict[str, Any]]:
    """Each item as a PodcastEpisode, in order: a downloaded one with its song's fields (one query for all)."""
    rows = await browse.items(call.session, call.user.id, [i.media_id for i in items if i.media_id is not None])
    songs = {m.id: shapes.child(m, s, call.parts.settings.library_dirs) for m, s in rows}
    return [_episode(i, feeds[i.subscription_id], songs.get(i.media_id) if i.media_id is not None else None)
            for i in items]


def _episode(item: SubscriptionItem, sub: Subscription, song: dict[str, Any] | None) -> dict[str, Any]:
    status = STATUS.get(item.state, "skipped")  # seen (indexed, not fetched) and skipped (by the rule) alike
    if item.state == DONE and song is None:
        status = "deleted"  # downloaded, and since removed from the library
    own = {"id": f"{shapes.EPISODE}{item.id}", "isDir": False, "title": item.title or item.url, "type": "podcast",
           "channelId": _cid(sub.id), "album": sub.name, "description": item.description, "status": status,
           "publishDate": item.published_at}
    if status != "completed" or song is None:
        return own
    return song | own | {"title": song.get("title") or own["title"], "streamId": song["id"]}


ENDPOINTS: dict[str, Handler] = {
    "getPodcasts": get_podcasts, "getNewestPodcasts": get_newest_podcasts, "getPodcastEpisode": get_podcast_episode,
    "refreshPodcasts": refresh_podcasts, "createPodcastChannel": create_podcast_channel,
    "deletePodcastChannel": delete_podcast_channel,
}
