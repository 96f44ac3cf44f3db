"""One hub, one truth: a finished download is in the next Subsonic "newest albums" list, with no scan."""

from __future__ import annotations

from tests.conftest import Api, bearer
from tests.downloads.conftest import queue, wait_status
from tests.downloads.mediaserver import MediaServer

PASSWORD = "subsonic-pass-1"


async def _rest(api: Api, endpoint: str, **params: str) -> dict:  # type: ignore[type-arg]
    r = await api.client.get(f"/rest/{endpoint}", params={"u": "admin", "p": PASSWORD, "f": "json", "c": "t",
                                                          "v": "1.16.1", **params})
    body = r.json()["subsonic-response"]
    assert r.status_code == 200 and body["status"] == "ok", body
    return body  # type: ignore[no-any-return]


async def test_a_download_that_lands_is_the_newest_album(api: Api, server: MediaServer) -> None:
    token = await api.setup_admin()
    r = await api.client.post("/api/v1/auth/subsonic-password", json={"password": PASSWORD}, headers=bearer(token))
    assert r.status_code == 200, r.text
    await api.scan()
    before = (await _rest(api, "getAlbumList2", type="newest", size="50"))["albumList2"].get("album", [])

    queued = await queue(api, token, server.url("/media/clip.mp4"), mode="audio", audio_format="mp3")
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    [media_id] = done["media_ids"]

    newest = (await _rest(api, "getAlbumList2", type="newest", size="50"))["albumList2"]["album"]
    assert len(newest) == len(before) + 1
    album = (await _rest(api, "getAlbum", id=newest[0]["id"]))["album"]
    assert [song["id"] for song in album["song"]] == [media_id]
    song = (await _rest(api, "getSong", id=media_id))["song"]
    assert song["albumId"] == newest[0]["id"] and song["suffix"] == "mp3"
