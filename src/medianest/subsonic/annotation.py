"""star, unstar, setRating, scrobble. A song's star is its like and a scrobble is a play, the same as in
the web UI; albums and artists have stars and ratings of their own."""

from __future__ import annotations

import time
from datetime import UTC, datetime

from medianest.library.models import CATALOG_ALBUM, CATALOG_ARTIST
from medianest.playback import marks, queue
from medianest.playback.schemas import PlayIn
from medianest.playback.service import record_play, set_liked
from medianest.subsonic import shapes
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.params import as_int
from medianest.subsonic.protocol import Payload, missing

PLAYER = "c"  # the client's name, sent with every request


async def star(call: Call) -> Payload:
    await _star(call, True)
    return {}


async def unstar(call: Call) -> Payload:
    await _star(call, False)
    return {}


async def _star(call: Call, on: bool) -> None:
    p = call.params
    ids, albums, artists = p.all("id"), p.all("albumId"), p.all("artistId")
    if not ids and not albums and not artists:
        raise missing("id, albumId or artistId")
    for raw in ids:  # apps also send an album's or artist's id as `id`
        if raw.startswith(shapes.ALBUM):
            albums.append(raw)
        elif raw.startswith(shapes.ARTIST):
            artists.append(raw)
        else:
            await set_liked(call.session, call.user.id, shapes.parse_item(raw), on)
    for raw in albums:
        key = shapes.parse_key(raw, shapes.ALBUM, "album")
        await marks.mark_catalog(call.session, call.user.id, CATALOG_ALBUM, key, starred=on)
    for raw in artists:
        key = shapes.parse_key(raw, shapes.ARTIST, "artist")
        await marks.mark_catalog(call.session, call.user.id, CATALOG_ARTIST, key, starred=on)


async def set_rating(call: Call) -> Payload:
    raw, rating = call.params.str("id"), call.params.int("rating")
    if raw.startswith(shapes.ALBUM):
        key = shapes.parse_key(raw, shapes.ALBUM, "album")
        await marks.mark_catalog(call.session, call.user.id, CATALOG_ALBUM, key, rating=rating)
    elif raw.startswith(shapes.ARTIST):
        key = shapes.parse_key(raw, shapes.ARTIST, "artist")
        await marks.mark_catalog(call.session, call.user.id, CATALOG_ARTIST, key, rating=rating)
    else:
        await marks.rate_item(call.session, call.user.id, shapes.parse_item(raw), rating)
    return {}


async def scrobble(call: Call) -> Payload:
    """submission=true (the default): each item was played, as a finished play in the history;
    false: the app started playing it now (getNowPlaying)."""
    ids = call.params.all("id")
    if not ids:
        raise missing("id")
    items = [shapes.parse_item(raw) for raw in ids]
    if call.params.bool("submission", True):
        for media_id, when in zip(items, _played_at(call.params.all("time"), len(items)), strict=True):
            await record_play(call.session, call.user.id, media_id, PlayIn(completed=True), played_at=when)
    else:
        await queue.started(call.session, call.user.id, items[-1], call.params.opt(PLAYER) or "Subsonic app")
    return {}


def _played_at(raw: list[str], count: int) -> list[datetime | None]:
    """When each scrobbled item was played: `time` (ms since the epoch) per id, sent by apps that kept plays
    while offline; None (now) where there is none. Never later than now: a phone whose clock runs fast must
    not put plays ahead of the ones that follow them."""
    now_ms = time.time_ns() // 1_000_000
    stamps = [as_int(t, "time") for t in raw[:count]] + [0] * (count - len(raw[:count]))
    return [datetime.fromtimestamp(min(ms, now_ms) / 1000, UTC) if ms > 0 else None for ms in stamps]


ENDPOINTS: dict[str, Handler] = {"star": star, "unstar": unstar, "setRating": set_rating, "scrobble": scrobble}
