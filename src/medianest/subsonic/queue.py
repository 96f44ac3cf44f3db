"""getBookmarks, createBookmark, deleteBookmark (a bookmark is the item's resume point, the same one the
web player resumes from), and the saved play queue: getPlayQueue, savePlayQueue and their index-based
variants (the indexBasedQueue extension: a queue may hold one song twice)."""

from __future__ import annotations

from typing import Any

from medianest.library import browse
from medianest.playback import marks, queue
from medianest.subsonic import shapes
from medianest.subsonic.browsing import songs_out
from medianest.subsonic.call import Call, Handler
from medianest.subsonic.protocol import NOT_FOUND, Payload, SubsonicError, missing

MAX_POSITION_MS = 864_000_000  # ten days


async def get_bookmarks(call: Call) -> Payload:
    rows = await marks.bookmarks(call.session, call.user.id)
    songs = songs_out(call, rows)
    return {"bookmarks": {"bookmark": [
        {"position": int((state.position_s or 0) * 1000), "username": call.user.username,
         "comment": state.bookmark_comment, "created": state.updated_at, "changed": state.updated_at, "entry": song}
        for (_, state), song in zip(rows, songs, strict=True)]}}


async def create_bookmark(call: Call) -> Payload:
    media_id = shapes.parse_item(call.params.str("id"))
    position_ms = call.params.int("position", None, 0, MAX_POSITION_MS)
    await marks.set_bookmark(call.session, call.user.id, media_id, position_ms / 1000, call.params.opt("comment"))
    return {}


async def delete_bookmark(call: Call) -> Payload:
    await marks.delete_bookmark(call.session, call.user.id, shapes.parse_item(call.params.str("id")))
    return {}


async def save_play_queue(call: Call) -> Payload:
    ids = [shapes.parse_item(raw) for raw in call.params.all("id")]
    current = call.params.opt("current")
    index = None
    if ids:
        if current is None:
            raise missing("current")
        index = _index_of(ids, shapes.parse_item(current))
    await _save(call, ids, index)
    return {}


def _index_of(ids: list[int], current: int) -> int:
    if current not in ids:
        raise SubsonicError(NOT_FOUND, "current is not in the queue")
    return ids.index(current)


async def save_play_queue_by_index(call: Call) -> Payload:
    ids = [shapes.parse_item(raw) for raw in call.params.all("id")]
    index = call.params.int("currentIndex") if ids else None
    await _save(call, ids, index)
    return {}


async def _save(call: Call, ids: list[int], index: int | None) -> None:
    position = call.params.int("position", 0, 0, MAX_POSITION_MS)
    await queue.save_queue(call.session, call.user.id, ids, index, position, call.params.opt("c") or "")


async def get_play_queue(call: Call) -> Payload:
    body = await _queue(call)
    if body and "currentIndex" in body:
        index = body.pop("currentIndex")
        body["current"] = body["entry"][index]["id"] if index is not None and index < len(body["entry"]) else None
    return {"playQueue": body}


async def get_play_queue_by_index(call: Call) -> Payload:
    return {"playQueueByIndex": await _queue(call)}


async def _queue(call: Call) -> dict[str, Any]:
    saved = await queue.saved_queue(call.session, call.user.id)
    if saved is None:  # nothing saved: an empty queue (the schema still wants who and when)
        return {"username": call.user.username, "changed": call.user.created_at, "changedBy": "", "entry": []}
    rows = await browse.items(call.session, call.user.id, saved.media_ids)
    index = saved.current_index
    if index is not None and len(rows) != len(saved.media_ids):  # items removed since: follow the current one
        current = saved.media_ids[index]
        alive = [m.id for m, _ in rows]
        index = alive.index(current) if current in alive else (0 if alive else None)
    return {"currentIndex": index, "position": saved.position_ms, "username": call.user.username,
            "changed": saved.changed_at, "changedBy": saved.changed_by, "entry": songs_out(call, rows)}


ENDPOINTS: dict[str, Handler] = {
    "getBookmarks": get_bookmarks, "createBookmark": create_bookmark, "deleteBookmark": delete_bookmark,
    "getPlayQueue": get_play_queue, "savePlayQueue": save_play_queue, "getPlayQueueByIndex": get_play_queue_by_index,
    "savePlayQueueByIndex": save_play_queue_by_index,
}
