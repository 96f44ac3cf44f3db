"""The OpenSubsonic contract at /rest, endpoint by endpoint, on the live `world` server.

- Every endpoint of `medianest.subsonic.app.ENDPOINTS` has cases here (a guard fails on a new one without):
  valid calls built from real ids, each answered in JSON that validates against the OpenSubsonic schemas and
  in XML that says the same (`spec.assert_same_fields`); the binary ones (stream, download, getCoverArt,
  getAvatar) answer their bytes.
- `/rest/x` and `/rest/x.view`, GET and a POST form body (`formPost`) give the same answer.
- Garbage on every parameter of every endpoint (ids that do not exist or are of the wrong kind, huge,
  negative and non-numbers, NUL bytes, 10 KB strings, unicode, paths, repeated parameters) and missing
  required parameters give the spec's errors: HTTP 200, a failed answer with a message and the right code,
  in the format asked for (binary endpoints included), never an internal error and never a traceback in the
  server's log. Unknown endpoints and methods get the spec's error too.
- Authentication: every mechanism and every way to get it wrong, suspended users, revoked keys, and failed
  attempts counting toward the sign-in limit (on a server of its own, with rate limits on).

Calls go out as accounts of this module's own (`tests.subsonic.accounts`), so the stars, plays, queues and
playlists made here are nobody else's on the shared server.
"""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import pytest

from medianest.subsonic.app import ENDPOINTS
from tests.liveserver import LiveServer, serve
from tests.subscriptions.feedserver import Episode, FeedServer
from tests.subsonic import spec
from tests.subsonic.accounts import Account, Params, as_admin, new_account, no_failures_logged, send
from tests.subsonic.conftest import ADMIN_PW, World

JSON, XML = "application/json", "application/xml"
BINARY_TYPES = ("audio/", "video/", "image/")
INTERNAL = "internal error"
WRONG = 40


@pytest.fixture(autouse=True)
def quiet_log(world: World) -> Iterator[None]:
    with no_failures_logged(world.server):
        yield


# --- real ids --------------------------------------------------------------------------------------------


@dataclass
class Ids:
    me: Account  # an admin of this module's own
    album: str  # Homogenic: two songs with cover art, one with embedded lyrics
    two_discs: str
    compilation: str
    artist: str  # Homogenic's artist
    artist_name: str
    song: str  # Jóga
    song2: str  # Bachelorette
    lrc_song: str  # Circle, with a synced .lrc beside it
    video: str
    genre: str
    playlist: str  # one of `me`'s, with two songs
    feeds: FeedServer | None = None  # podcast feeds on 127.0.0.1
    channel: str = ""  # one of `me`'s podcast channels, with one episode indexed and never downloaded
    episode: str = ""

    def new_feed(self) -> str:
        """A feed without episodes: following it downloads nothing into the shared library."""
        assert self.feeds is not None
        return self.feeds.add_feed(f"/contract-{secrets.token_hex(4)}.xml", "Contract Show", "Contract Host")

    def new_channel(self) -> str:
        url = self.new_feed()
        self.me.ok("createPodcastChannel", {"url": url})
        return next(c["id"] for c in self.me.ok("getPodcasts", {"includeEpisodes": "false"})["podcasts"]["channel"]
                    if c["url"] == url)

    def new_playlist(self, public: bool = False) -> str:
        made = self.me.ok("createPlaylist", [("name", f"pl {secrets.token_hex(3)}"), ("songId", self.song),
                                             ("songId", self.song2)])
        playlist_id: str = made["playlist"]["id"]
        if public:
            self.me.ok("updatePlaylist", {"playlistId": playlist_id, "public": "true"})
        return playlist_id


def _podcast(made: Ids) -> None:
    """A channel of `me`'s with one episode, followed without backfill: indexed, never downloaded."""
    url = made.new_feed()
    assert made.feeds is not None
    made.feeds.add_episode(url.removeprefix(made.feeds.url("")), Episode(
        guid="contract-1", title="Contract Episode", url=made.feeds.url("/nothing-here.mp3"),
        published=datetime(2026, 1, 2, tzinfo=UTC), description="Never fetched."))
    r = made.me.api("POST", "/api/v1/subscriptions", json={"url": url, "backfill": 0})
    assert r.status_code == 201, r.text
    made.channel = f"pc-{r.json()['data']['id']}"
    for _ in range(600):
        channel = made.me.ok("getPodcasts", {"id": made.channel})["podcasts"]["channel"][0]
        if channel.get("episode"):
            made.episode = channel["episode"][0]["id"]
            return
        time.sleep(0.1)
    raise AssertionError("the podcast's first check did not end")


@pytest.fixture(scope="module")
def ids(world: World, podcast_feeds: FeedServer) -> Ids:
    me = new_account(world.server, "contract", role="admin")
    albums = {a["name"]: a for a in me.ok("getAlbumList2", {"type": "alphabeticalByName", "size": 500})
              ["albumList2"]["album"]}
    homogenic = me.ok("getAlbum", {"id": albums["Homogenic"]["id"]})["album"]
    songs = {s["title"]: s["id"] for s in homogenic["song"]}
    loops = me.ok("getAlbum", {"id": albums["Loops"]["id"]})["album"]
    circle = next(s["id"] for s in loops["song"] if s["title"] == "Circle")
    video = me.ok("getVideos")["videos"]["video"][0]["id"]
    made = Ids(me, homogenic["id"], albums["Two Discs"]["id"], albums["Summer Mix"]["id"], homogenic["artistId"],
                     homogenic["artist"], songs["Jóga"], songs["Bachelorette"], circle, video, "Swing", "")
    made.playlist = made.new_playlist()
    made.feeds = podcast_feeds
    _podcast(made)
    # Something in every per-user list: a play (frequent, recent), a star and a rating (starred, highest).
    me.ok("scrobble", {"id": made.song})
    me.ok("star", {"albumId": made.album})
    me.ok("setRating", {"id": made.album, "rating": 4})
    return made


# --- the valid calls -------------------------------------------------------------------------------------

Case = Callable[[Ids], Params]
LIST_TYPES = ("random", "newest", "highest", "frequent", "recent", "alphabeticalByName", "alphabeticalByArtist",
              "starred", "byYear", "byGenre")


def _none(i: Ids) -> Params:
    return {}


def _list(kind: str) -> Case:
    def case(i: Ids) -> Params:
        return {"type": kind, "size": 500, "offset": 0, "fromYear": 1990, "toYear": 2030, "genre": i.genre}
    return case


def _starred(i: Ids) -> Params:
    i.me.ok("star", {"id": i.song, "albumId": i.album, "artistId": i.artist})
    return {}


def _now_playing(i: Ids) -> Params:
    i.me.ok("scrobble", {"id": i.song2, "submission": "false"})
    return {}


def _bookmarked(i: Ids) -> Params:
    i.me.ok("createBookmark", {"id": i.song, "position": 1500, "comment": "halfway"})
    return {}


def _queued(i: Ids) -> Params:
    i.me.ok("savePlayQueue", [("id", i.song), ("id", i.song2), ("current", i.song2), ("position", 1234)])
    return {}


def _queued_by_index(i: Ids) -> Params:
    i.me.ok("savePlayQueueByIndex", [("id", i.song), ("id", i.song), ("id", i.song2), ("currentIndex", 1),
                                     ("position", 99)])
    return {}


def _bookmark_to_delete(i: Ids) -> Params:
    i.me.ok("createBookmark", {"id": i.song2, "position": 10})
    return {"id": i.song2}


# Each JSON endpoint's valid calls; the first is also the base the garbage tests spoil one parameter of.
CASES: dict[str, list[Case]] = {
    "ping": [_none],
    "getLicense": [_none],
    "getOpenSubsonicExtensions": [_none],
    "getMusicFolders": [_none],
    "getScanStatus": [_none],
    "startScan": [_none],
    "getUser": [lambda i: {"username": i.me.username}, lambda i: {"username": "bob"}],
    "getUsers": [_none],
    "getIndexes": [lambda i: {"ifModifiedSince": 0, "musicFolderId": 1}, _none],
    "getArtists": [lambda i: {"musicFolderId": 1}, _none],
    "getArtist": [lambda i: {"id": i.artist}],
    "getAlbum": [lambda i: {"id": i.album}, lambda i: {"id": i.two_discs}, lambda i: {"id": i.compilation}],
    "getSong": [lambda i: {"id": i.song}],
    "getMusicDirectory": [lambda i: {"id": i.album}, lambda i: {"id": i.artist}],
    "getGenres": [_none],
    "getArtistInfo2": [lambda i: {"id": i.artist, "count": 5, "includeNotPresent": "false"}],
    "getAlbumInfo": [lambda i: {"id": i.album}],
    "getAlbumInfo2": [lambda i: {"id": i.album}, lambda i: {"id": i.song}],
    "getTopSongs": [lambda i: {"artist": i.artist_name, "count": 5}],
    "getSimilarSongs2": [lambda i: {"id": i.artist, "count": 10}],
    "getVideos": [_none],
    "getVideoInfo": [lambda i: {"id": i.video}],
    "getAlbumList": [_list(kind) for kind in ("byYear", *LIST_TYPES)],
    "getAlbumList2": [_list(kind) for kind in ("byYear", *LIST_TYPES)],
    "getRandomSongs": [lambda i: {"size": 500, "fromYear": 1990, "toYear": 2030, "genre": i.genre},
                       lambda i: {"genre": i.genre}],  # fewer than the default size: the same set each time
    "getSongsByGenre": [lambda i: {"genre": i.genre, "count": 500, "offset": 0}],
    "getStarred": [_starred],
    "getStarred2": [_starred],
    "search2": [lambda i: {"query": "a", "artistCount": 5, "artistOffset": 0, "albumCount": 5, "albumOffset": 0,
                           "songCount": 5, "songOffset": 0}, lambda i: {"query": ""}],
    "search3": [lambda i: {"query": "", "artistCount": 500, "artistOffset": 0, "albumCount": 500,
                           "albumOffset": 0, "songCount": 500, "songOffset": 0},
                lambda i: {"query": '""'}, lambda i: {"query": "Jóga"}],
    "getNowPlaying": [_now_playing],
    "star": [lambda i: {"id": i.song2, "albumId": i.two_discs, "artistId": i.artist}],
    "unstar": [lambda i: {"id": i.song2, "albumId": i.two_discs, "artistId": i.artist}],
    "setRating": [lambda i: {"id": i.song, "rating": 5}, lambda i: {"id": i.artist, "rating": 2}],
    "scrobble": [lambda i: {"id": i.song, "time": int(time.time() * 1000), "submission": "true"},
                 lambda i: {"id": i.song, "submission": "false"}],
    "getPlaylists": [lambda i: {"username": i.me.username}, _none],
    "getPlaylist": [lambda i: {"id": i.playlist}],
    "createPlaylist": [lambda i: [("name", "Ωmega ✓"), ("songId", i.song2)],
                       lambda i: [("playlistId", i.playlist), ("songId", i.song), ("songId", i.song2)]],
    "updatePlaylist": [lambda i: [("playlistId", i.playlist), ("name", "contract"), ("comment", "words"),
                                  ("public", "false"), ("songIdToAdd", i.song), ("songIndexToRemove", 0)]],
    "deletePlaylist": [lambda i: {"id": i.new_playlist()}],
    "getLyrics": [lambda i: {"artist": i.artist_name, "title": "Jóga"}, lambda i: {"title": "no such song"}],
    "getLyricsBySongId": [lambda i: {"id": i.lrc_song}, lambda i: {"id": i.song}],
    "getBookmarks": [_bookmarked],
    "createBookmark": [lambda i: {"id": i.song, "position": 2500, "comment": "here"}],
    "deleteBookmark": [_bookmark_to_delete],
    "getPlayQueue": [_queued],
    "savePlayQueue": [lambda i: [("id", i.song), ("id", i.song2), ("current", i.song), ("position", 10)]],
    "getPlayQueueByIndex": [_queued_by_index],
    "savePlayQueueByIndex": [lambda i: [("id", i.song2), ("id", i.song2), ("currentIndex", 0), ("position", 0)]],
    "getPodcasts": [lambda i: {"id": i.channel, "includeEpisodes": "true"},
                    lambda i: {"id": i.channel, "includeEpisodes": "false"}],
    "getNewestPodcasts": [lambda i: {"count": 5}],
    "getPodcastEpisode": [lambda i: {"id": i.episode}],
    "refreshPodcasts": [_none],
    "createPodcastChannel": [lambda i: {"url": i.new_feed()}],
    "deletePodcastChannel": [lambda i: {"id": i.new_channel()}],
}
# The binary endpoints' valid calls and the type of what they answer.
BINARY: dict[str, list[tuple[Case, str]]] = {
    "stream": [(lambda i: {"id": i.song}, "audio/"), (lambda i: {"id": i.song, "format": "raw"}, "audio/"),
               (lambda i: {"id": i.song, "format": "mp3", "maxBitRate": 64, "estimateContentLength": "true"},
                "audio/mpeg"),
               (lambda i: {"id": i.video}, "video/")],
    "download": [(lambda i: {"id": i.song}, "audio/"), (lambda i: {"id": i.video}, "video/")],
    "getCoverArt": [(lambda i: {"id": i.album, "size": 64}, "image/"), (lambda i: {"id": i.album}, "image/"),
                    (lambda i: {"id": f"mf-{i.song}"}, "image/")],
    "getAvatar": [(lambda i: {"username": i.me.username}, "image/png")],
}


def test_every_endpoint_has_cases() -> None:
    """A new endpoint needs valid calls here, and its parameters in PARAMS for the garbage tests."""
    assert set(CASES) | set(BINARY) == set(ENDPOINTS), (
        f"without cases: {sorted(set(ENDPOINTS) - set(CASES) - set(BINARY))}; "
        f"cases of no endpoint: {sorted(set(CASES) | set(BINARY) - set(ENDPOINTS))}")
    assert not set(CASES) & set(BINARY)
    assert set(PARAMS) == set(ENDPOINTS), f"without PARAMS: {sorted(set(ENDPOINTS) - set(PARAMS))}"


def _json_cases() -> Iterator[Any]:
    for endpoint, cases in CASES.items():
        for n, case in enumerate(cases):
            yield pytest.param(endpoint, case, id=f"{endpoint}-{n}")


def _binary_cases() -> Iterator[Any]:
    for endpoint, cases in BINARY.items():
        for n, (case, kind) in enumerate(cases):
            yield pytest.param(endpoint, case, kind, id=f"{endpoint}-{n}")


def _wait_for_scan(i: Ids) -> None:
    """startScan's scan has ended (a rescan of the same files: the catalog is as it was)."""
    for _ in range(600):
        if not i.me.ok("getScanStatus")["scanStatus"]["scanning"]:
            return
        time.sleep(0.1)
    raise AssertionError("the scan did not end")


# What may differ between two calls a moment apart, taken out of both answers before they are compared.
def _drop(body: dict[str, Any], path: str, *keys: str) -> None:
    node = body.get(path)
    if isinstance(node, dict):
        for key in keys:
            node.pop(key, None)


def _sort(body: dict[str, Any], path: str, key: str) -> None:
    node = body.get(path)
    if isinstance(node, dict) and isinstance(node.get(key), list):
        node[key].sort(key=lambda item: item["id"])


def _mine(i: Ids) -> Callable[[dict[str, Any]], None]:
    """Now playing: only this module's entry (others come and go), without its minutes."""
    def normalise(body: dict[str, Any]) -> None:
        entries = [e for e in body.get("nowPlaying", {}).get("entry", []) if e["username"] == i.me.username]
        for entry in entries:
            entry.pop("minutesAgo")
        body["nowPlaying"] = {"entry": entries}
    return normalise


Normaliser = Callable[[Ids], Callable[[dict[str, Any]], None]]
VOLATILE: dict[str, Normaliser] = {
    "getScanStatus": lambda i: lambda body: _drop(body, "scanStatus", "count", "scanning"),
    "startScan": lambda i: lambda body: _drop(body, "scanStatus", "count", "scanning"),
    "createPlaylist": lambda i: lambda body: _drop(body, "playlist", "id", "created", "changed"),
    "getRandomSongs": lambda i: lambda body: _sort(body, "randomSongs", "song"),
    "getSimilarSongs2": lambda i: lambda body: _sort(body, "similarSongs2", "song"),
    "getAlbumList": lambda i: lambda body: _sort(body, "albumList", "album"),
    "getAlbumList2": lambda i: lambda body: _sort(body, "albumList2", "album"),
    "getNowPlaying": _mine,
}


# The calls that use up what they name (a playlist to delete): their cases make a new one for every call.
FRESH_EACH = frozenset({"deletePlaylist", "deleteBookmark", "createPodcastChannel", "deletePodcastChannel"})


def _as_xml_says_it(json_node: Any, xml_node: Any) -> Any:
    """The JSON answer as its XML form can say it where the schema gives no type (fields beyond the spec's,
    such as an album's songCount in getAlbumList's Child entries): such an attribute is only text, and a
    list of one such element is that element. Typed fields are left alone, so they must match exactly."""
    if isinstance(json_node, dict) and isinstance(xml_node, dict):
        return {k: _as_xml_says_it(v, xml_node[k]) if k in xml_node else v for k, v in json_node.items()}
    if isinstance(json_node, list):
        if isinstance(xml_node, list) and len(xml_node) == len(json_node):
            return [_as_xml_says_it(j, x) for j, x in zip(json_node, xml_node, strict=True)]
        if len(json_node) == 1 and not isinstance(xml_node, list):
            return _as_xml_says_it(json_node[0], xml_node)
        return json_node
    if isinstance(xml_node, str) and isinstance(json_node, bool | int | float):
        return ("true" if json_node else "false") if isinstance(json_node, bool) else str(json_node)
    return json_node


def _assert_same(endpoint: str, ids: Ids, xml: bytes, body: dict[str, Any]) -> None:
    fields = spec.xml_fields(xml, endpoint)
    if endpoint not in VOLATILE:
        spec.assert_same_fields(xml, _as_xml_says_it(spec.without_empty_lists(body), fields), endpoint)
        return
    VOLATILE[endpoint](ids)(fields["subsonic-response"])
    assert fields["subsonic-response"] == _as_xml_says_it(_comparable(endpoint, ids, body),
                                                          fields["subsonic-response"])


def _comparable(endpoint: str, ids: Ids, body: dict[str, Any]) -> dict[str, Any]:
    inner: dict[str, Any] = spec.without_empty_lists(body)["subsonic-response"]
    if endpoint in VOLATILE:
        VOLATILE[endpoint](ids)(inner)
    return inner


def _json_ok(endpoint: str, r: httpx.Response) -> dict[str, Any]:
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(JSON), r.headers
    body: dict[str, Any] = r.json()
    spec.validate_json(endpoint, body)
    assert body["subsonic-response"]["status"] == "ok", body
    return body


@pytest.mark.parametrize(("endpoint", "case"), list(_json_cases()))
def test_valid_call_answers_the_schema_in_json_and_the_same_in_xml(ids: Ids, endpoint: str, case: Case) -> None:
    params = case(ids)
    body = _json_ok(endpoint, ids.me.raw(endpoint, params))
    xml = ids.me.raw(endpoint, case(ids) if endpoint in FRESH_EACH else params, fmt="xml")
    assert xml.status_code == 200
    assert xml.headers["content-type"].startswith(XML), xml.headers
    _assert_same(endpoint, ids, xml.content, body)
    if endpoint == "startScan":
        _wait_for_scan(ids)


@pytest.mark.parametrize(("endpoint", "case", "kind"), list(_binary_cases()))
def test_binary_endpoint_answers_bytes(ids: Ids, endpoint: str, case: Case, kind: str) -> None:
    r = ids.me.raw(endpoint, case(ids), fmt="xml")
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith(kind), (r.headers, r.content[:300])
    assert len(r.content) > 100


def test_answers_say_who_and_what_they_are(ids: Ids) -> None:
    body = _json_ok("ping", ids.me.raw("ping"))["subsonic-response"]
    assert body | {"serverVersion": "x"} == {"status": "ok", "version": "1.16.1", "type": "medianest",
                                             "serverVersion": "x", "openSubsonic": True}
    root = spec.xml_fields(ids.me.raw("ping", fmt="xml").content, "ping")["subsonic-response"]
    assert root == body


def test_some_answers_have_content(ids: Ids) -> None:
    """The comparisons above are not of empty lists: the cases set up what they list."""
    me = ids.me
    assert {s["id"] for s in me.ok("getStarred2")["starred2"]["song"]} >= {ids.song}
    assert me.ok("getBookmarks")["bookmarks"]["bookmark"]
    assert me.ok("getAlbumList2", {"type": "frequent"})["albumList2"]["album"]
    assert me.ok("getAlbumList2", {"type": "highest"})["albumList2"]["album"]
    assert me.ok("getPlayQueue")["playQueue"]["entry"]
    lines = me.ok("getLyricsBySongId", {"id": ids.lrc_song})["lyricsList"]["structuredLyrics"][0]
    assert lines["synced"] is True and lines["line"]
    assert me.ok("getLyrics", {"artist": ids.artist_name, "title": "Jóga"})["lyrics"]["value"]


# --- /rest/x, /rest/x.view, GET and POST ----------------------------------------------------------------

WAYS = (("", "GET"), (".view", "GET"), ("", "POST"), (".view", "POST"))


@pytest.mark.parametrize(("endpoint", "case"), list(_json_cases()))
def test_view_suffix_and_form_post_give_the_same_answer(ids: Ids, endpoint: str, case: Case) -> None:
    answers = []
    params = case(ids)
    for suffix, method in WAYS:
        if endpoint in FRESH_EACH:
            params = case(ids)
        body = _json_ok(endpoint, ids.me.raw(endpoint + suffix, params, method=method))
        answers.append(_comparable(endpoint, ids, body))
    if endpoint == "startScan":
        _wait_for_scan(ids)
    assert all(answer == answers[0] for answer in answers), answers


@pytest.mark.parametrize("endpoint", ["download", "getCoverArt", "getAvatar", "stream"])
def test_view_suffix_and_form_post_give_the_same_bytes(ids: Ids, endpoint: str) -> None:
    case = BINARY[endpoint][0][0]
    contents = set()
    for suffix, method in WAYS:
        r = ids.me.raw(endpoint + suffix, case(ids), fmt="xml", method=method)
        assert r.status_code == 200 and r.headers["content-type"].startswith(BINARY_TYPES), r.text[:300]
        contents.add(r.content)
    assert len(contents) == 1


def test_form_post_reads_the_query_string_too(ids: Ids) -> None:
    """Apps that POST may keep the credentials in the URL and the rest in the body, or the other way round."""
    url = f"{ids.me.base}/rest/getAlbum.view"
    r = httpx.post(url, params={**ids.me.creds(), "f": "json"}, data={"id": ids.album}, timeout=30)
    assert _json_ok("getAlbum", r)["subsonic-response"]["album"]["id"] == ids.album
    r = httpx.post(url, params={"id": ids.album}, data={**ids.me.creds(), "f": "json"}, timeout=30)
    assert _json_ok("getAlbum", r)["subsonic-response"]["album"]["id"] == ids.album


def test_a_broken_form_body_is_an_error_not_a_crash(ids: Ids) -> None:
    for body, ctype in ((b"\xff\xfe%%%=&&==\x00", "application/x-www-form-urlencoded"),
                        (b"--x\r\nbroken", "multipart/form-data; boundary=x"),
                        (b'{"id": 1}', "application/json")):
        r = httpx.post(f"{ids.me.base}/rest/getAlbum", params={**ids.me.creds(), "f": "json"}, content=body,
                       headers={"content-type": ctype}, timeout=30)
        assert r.status_code == 200, r.text
        spec.validate_error(r.json())
        assert INTERNAL not in r.json()["subsonic-response"]["error"]["message"]


# --- garbage and missing parameters ----------------------------------------------------------------------

# What a parameter holds. An id parameter names which kinds of ids it takes: "song", "video", "album",
# "artist" (the others are the wrong kind for it), "playlist" ids, "podcast channel" or "podcast episode" ids
# (every library id is the wrong kind for those), or "user" names.
ID_KINDS = ("song", "video", "album", "artist")
INT, BOOL, TEXT, TYPE = "int", "bool", "text", "type"
IGNORED = "ignored"  # taken but not read (with these calls): anything goes
SONG, MEDIA, ALBUM, ARTIST, PLAYLIST = ("song",), ("song", "video"), ("album",), ("artist",), ("playlist",)
CHANNEL, EPISODE = ("podcast channel",), ("podcast episode",)
AUDIO_ANY = ("song", "album", "artist")
ANY = ("song", "video", "album", "artist")

PARAMS: dict[str, dict[str, Any]] = {
    "ping": {}, "getLicense": {}, "getOpenSubsonicExtensions": {}, "getMusicFolders": {}, "getScanStatus": {},
    "startScan": {}, "getUsers": {}, "getGenres": {}, "getVideos": {}, "getNowPlaying": {}, "getStarred": {},
    "getStarred2": {}, "getBookmarks": {}, "getPlayQueue": {}, "getPlayQueueByIndex": {},
    "getUser": {"username": TEXT},
    "getIndexes": {"ifModifiedSince": INT, "musicFolderId": IGNORED},
    "getArtists": {"musicFolderId": IGNORED},
    "getArtist": {"id": ARTIST},
    "getAlbum": {"id": ALBUM},
    "getSong": {"id": SONG},
    "getMusicDirectory": {"id": ("album", "artist")},
    "getArtistInfo2": {"id": AUDIO_ANY, "count": IGNORED, "includeNotPresent": IGNORED},
    "getAlbumInfo": {"id": ("album", "song")},
    "getAlbumInfo2": {"id": ("album", "song")},
    "getTopSongs": {"artist": TEXT, "count": INT},
    "getSimilarSongs2": {"id": AUDIO_ANY, "count": INT},
    "getVideoInfo": {"id": ("video",)},
    "getAlbumList": {"type": TYPE, "size": INT, "offset": INT, "fromYear": INT, "toYear": INT, "genre": TEXT},
    "getAlbumList2": {"type": TYPE, "size": INT, "offset": INT, "fromYear": INT, "toYear": INT, "genre": TEXT},
    "getRandomSongs": {"size": INT, "fromYear": INT, "toYear": INT, "genre": TEXT},
    "getSongsByGenre": {"genre": TEXT, "count": INT, "offset": INT},
    "search2": {"query": TEXT, "artistCount": INT, "artistOffset": INT, "albumCount": INT, "albumOffset": INT,
                "songCount": INT, "songOffset": INT},
    "search3": {"query": TEXT, "artistCount": INT, "artistOffset": INT, "albumCount": INT, "albumOffset": INT,
                "songCount": INT, "songOffset": INT},
    "star": {"id": ANY, "albumId": ALBUM, "artistId": ARTIST},
    "unstar": {"id": ANY, "albumId": ALBUM, "artistId": ARTIST},
    "setRating": {"id": ANY, "rating": INT},
    "scrobble": {"id": MEDIA, "time": IGNORED, "submission": BOOL, "c": IGNORED},
    "getPlaylists": {"username": TEXT},
    "getPlaylist": {"id": PLAYLIST},
    "createPlaylist": {"name": TEXT, "playlistId": PLAYLIST, "songId": MEDIA},
    "updatePlaylist": {"playlistId": PLAYLIST, "name": TEXT, "comment": TEXT, "public": BOOL, "songIdToAdd": MEDIA,
                       "songIndexToRemove": INT},
    "deletePlaylist": {"id": PLAYLIST},
    "stream": {"id": MEDIA, "maxBitRate": INT, "format": TEXT, "timeOffset": INT, "estimateContentLength": IGNORED},
    "download": {"id": MEDIA},
    "getCoverArt": {"id": ANY, "size": INT},
    "getAvatar": {"username": TEXT},
    "getLyrics": {"artist": TEXT, "title": TEXT},
    "getLyricsBySongId": {"id": MEDIA},
    "createBookmark": {"id": MEDIA, "position": INT, "comment": TEXT},
    "deleteBookmark": {"id": MEDIA},
    "savePlayQueue": {"id": MEDIA, "current": MEDIA, "position": INT, "c": TEXT},
    "savePlayQueueByIndex": {"id": MEDIA, "currentIndex": INT, "position": INT},
    "getPodcasts": {"id": CHANNEL, "includeEpisodes": BOOL}, "getNewestPodcasts": {"count": INT},
    "getPodcastEpisode": {"id": EPISODE}, "refreshPodcasts": {}, "createPodcastChannel": {"url": TEXT},
    "deletePodcastChannel": {"id": CHANNEL},
}
# Parameters whose absence is error 10, each group taken away together (star needs one of its three).
REQUIRED: dict[str, list[tuple[str, ...]]] = {
    "getUser": [("username",)], "getArtist": [("id",)], "getAlbum": [("id",)], "getSong": [("id",)],
    "getMusicDirectory": [("id",)], "getArtistInfo2": [("id",)], "getAlbumInfo": [("id",)],
    "getAlbumInfo2": [("id",)], "getTopSongs": [("artist",)], "getSimilarSongs2": [("id",)],
    "getVideoInfo": [("id",)], "getAlbumList": [("type",), ("fromYear",), ("toYear",)],
    "getAlbumList2": [("type",), ("fromYear",), ("toYear",)], "getSongsByGenre": [("genre",)],
    "star": [("id", "albumId", "artistId")], "unstar": [("id", "albumId", "artistId")],
    "setRating": [("id",), ("rating",)], "scrobble": [("id",)], "getPlaylist": [("id",)],
    "createPlaylist": [("playlistId", "name")], "updatePlaylist": [("playlistId",)], "deletePlaylist": [("id",)],
    "stream": [("id",)], "download": [("id",)], "getCoverArt": [("id",)], "getAvatar": [("username",)],
    "getLyricsBySongId": [("id",)], "createBookmark": [("id",), ("position",)], "deleteBookmark": [("id",)],
    "savePlayQueue": [("current",)], "savePlayQueueByIndex": [("currentIndex",)],
    "getPodcastEpisode": [("id",)], "createPodcastChannel": [("url",)], "deletePodcastChannel": [("id",)],
}

NUL = "1\x00"
NOT_IDS = {  # none of these names anything, whatever the parameter
    "absent": "987654321", "absent album": "al-0000000000000000", "absent artist": "ar-0000000000000000",
    "absent cover": "mf-987654321", "playlist cover": "pl-1", "huge": "9" * 40, "18 digits": "9" * 18,
    "negative": "-1", "very negative": "-99999999999", "word": "abc", "decimal": "1.5", "hex": "0x10",
    "exponent": "1e3", "spaced": " 1 ", "10 KB": "x" * 10240, "10 KB digits": "9" * 10240,
    "unicode": "日本語 🎵 Ünïcödé", "rtl": "\u202e1", "path": "../../etc/passwd", "absolute path": "/etc/passwd",
    "encoded path": "..%2F..%2Fetc%2Fpasswd", "windows path": "C:\\Windows\\win.ini", "markup": "<x a=\"'\">&amp;</x>",
    "sql": "1' OR '1'='1", "sql 2": "1; DROP TABLE media; --", "NUL": NUL, "only NUL": "\x00", "empty": "",
    "control": "\x01\x1b[31m", "newline": "1\r\nX-Injected: yes",
}
# What each kind of parameter is sent: an id every value (ids are where a path, a number or a prefix could
# name something); the others the values that differ for their parser (to a number parser a path, markup
# and SQL are all one more word).
VALUES_FOR = {
    INT: ("absent", "huge", "18 digits", "negative", "very negative", "word", "decimal", "hex", "exponent",
          "spaced", "10 KB digits", "unicode", "NUL", "only NUL", "empty", "newline"),
    TEXT: ("huge", "unicode", "rtl", "10 KB", "path", "markup", "sql", "NUL", "only NUL", "empty", "control",
           "newline"),
    BOOL: ("huge", "word", "unicode", "sql", "10 KB", "NUL", "only NUL", "empty"),
    IGNORED: ("word", "unicode", "10 KB", "NUL", "only NUL", "empty"),
}
VALUES_FOR[TYPE] = VALUES_FOR[BOOL]
REPEATED = ("absent", "word", "NUL", "10 KB")  # the values also sent after, and before, a valid one
NOT_NUMBERS = {name for name in NOT_IDS if name not in ("absent", "18 digits", "negative", "very negative",
                                                        "spaced", "empty")}
JUNK = {"musicFolderId": "../../etc/passwd", "id": "x\x00", "size": "9" * 40, "zzz": "日本語"}


def _expected_codes(kind: Any, value_name: str, required: bool) -> set[int] | None:
    """The codes a spoiled parameter must fail with; None: success or any proper failure will do."""
    if kind == IGNORED:
        return None
    if value_name in ("NUL", "only NUL"):
        return {0}  # refused as it is read, whatever the parameter
    if isinstance(kind, tuple):  # an id: nothing in NOT_IDS names anything
        return {10, 70} if value_name == "empty" else {70}
    if kind == INT and value_name in NOT_NUMBERS:
        return {0}
    if kind == INT and value_name == "empty":
        return {10} if required else None
    if kind == BOOL and value_name != "empty":
        return {0}
    if kind == TYPE:
        return {0, 10}
    return None


def _wrong_kinds(ids: Ids, kind: tuple[str, ...]) -> dict[str, str]:
    """Real ids of the kinds this parameter does not take."""
    real = {"song": ids.song, "video": ids.video, "album": ids.album, "artist": ids.artist}
    if kind == PLAYLIST:  # song and video ids are numbers, as playlist ids are: they may name one
        return {"a real album id": ids.album, "a real artist id": ids.artist}
    return {f"a real {k} id": real[k] for k in ID_KINDS if k not in kind}


@dataclass
class Problem:
    what: str
    detail: str

    def __str__(self) -> str:
        return f"{self.what}: {self.detail}"


class Checker:
    """Calls an endpoint with a spoiled parameter in both formats and notes every answer that is not the
    spec's: not HTTP 200, not a valid answer, an internal error, a failure without a message or with the
    wrong code, XML that says something else than JSON, or a binary endpoint's error in the wrong format."""

    def __init__(self, ids: Ids, endpoint: str, client: httpx.Client) -> None:
        self.ids, self.endpoint, self.client = ids, endpoint, client
        self.binary = endpoint in BINARY
        self.problems: list[Problem] = []

    def call(self, what: str, params: Params, codes: set[int] | None) -> None:
        answers = {}
        for fmt in ("json", "xml"):
            r = self.ids.me.raw(self.endpoint, params, fmt=fmt, client=self.client)
            answers[fmt] = r
            if r.status_code != 200:
                self.problems.append(Problem(f"{what} ({fmt})", f"HTTP {r.status_code}: {r.text[:200]}"))
                return
        self._check(what, answers["json"], answers["xml"], codes)

    def _check(self, what: str, as_json: httpx.Response, as_xml: httpx.Response, codes: set[int] | None) -> None:
        ctype = as_json.headers.get("content-type", "")
        if self.binary and ctype.startswith(BINARY_TYPES):
            if codes is not None:
                self.problems.append(Problem(what, f"answered {ctype}, expected error {codes}"))
            return
        if not ctype.startswith(JSON) or not as_xml.headers.get("content-type", "").startswith(XML):
            self.problems.append(Problem(what, f"answered {ctype} / {as_xml.headers.get('content-type')} "
                                               "with f=json / without"))
            return
        body = as_json.json()
        try:
            if self.binary:
                spec.validate_error(body)
            else:
                spec.validate_json(self.endpoint, body)
            inner = body["subsonic-response"]
            if inner["status"] == "failed":
                spec.assert_same_fields(as_xml.content, body)
        except AssertionError as exc:
            self.problems.append(Problem(what, str(exc)[:500]))
            return
        self._check_outcome(what, inner, codes)

    def _check_outcome(self, what: str, inner: dict[str, Any], codes: set[int] | None) -> None:
        if inner["status"] == "ok":
            if codes is not None:
                self.problems.append(Problem(what, f"succeeded, expected error {sorted(codes)}"))
            return
        error = inner["error"]
        if INTERNAL in error.get("message", "") or not error.get("message"):
            self.problems.append(Problem(what, f"error {error}"))
        elif codes is not None and error["code"] not in codes:
            self.problems.append(Problem(what, f"error {error}, expected code {sorted(codes)}"))

    def assert_none(self) -> None:
        assert not self.problems, f"{len(self.problems)} wrong answer(s):\n" + "\n".join(
            f"  {p}" for p in self.problems[:40])


def _base(ids: Ids, endpoint: str) -> list[tuple[str, Any]]:
    case = BINARY[endpoint][0][0] if endpoint in BINARY else CASES[endpoint][0]
    params = case(ids)
    return list(params.items() if isinstance(params, dict) else params)


def _with(base: list[tuple[str, Any]], name: str, *values: Any) -> list[tuple[str, Any]]:
    return [(k, v) for k, v in base if k != name] + [(name, v) for v in values]


@pytest.fixture(scope="module")
def client() -> Iterator[httpx.Client]:
    with httpx.Client(timeout=60) as http:
        yield http


@pytest.mark.parametrize("endpoint", sorted(ENDPOINTS))
def test_garbage_in_every_parameter_is_the_specs_error(ids: Ids, client: httpx.Client, endpoint: str) -> None:
    check = Checker(ids, endpoint, client)
    base = _base(ids, endpoint)
    if not PARAMS[endpoint]:  # parameters it does not read are ignored
        check.call(f"junk {sorted(JUNK)}", base + list(JUNK.items()), None)
    for name, kind in PARAMS[endpoint].items():
        required = any(name in group and len(group) == 1 for group in REQUIRED.get(endpoint, []))
        values = (dict(NOT_IDS) | _wrong_kinds(ids, kind) if isinstance(kind, tuple)
                  else {value_name: NOT_IDS[value_name] for value_name in VALUES_FOR[kind]})
        valid = next((v for k, v in base if k == name), None)
        for value_name, value in values.items():
            expected = _expected_codes(kind, value_name, required)
            if value_name.startswith("a real"):
                expected = {70}
            check.call(f"{name}={value_name}", _with(base, name, value), expected)
            if valid is not None and value_name in REPEATED:  # after a valid value, and before it
                check.call(f"{name}=valid&{name}={value_name}", _with(base, name, valid, value), None)
                check.call(f"{name}={value_name}&{name}=valid", _with(base, name, value, valid), None)
    check.assert_none()
    if endpoint == "startScan":
        _wait_for_scan(ids)


@pytest.mark.parametrize("endpoint", sorted(REQUIRED))
def test_a_missing_required_parameter_is_error_10(ids: Ids, client: httpx.Client, endpoint: str) -> None:
    check = Checker(ids, endpoint, client)
    base = _base(ids, endpoint)
    for group in REQUIRED[endpoint]:
        check.call(f"without {'/'.join(group)}", [(k, v) for k, v in base if k not in group], {10})
    if endpoint not in ("savePlayQueue", "savePlayQueueByIndex"):  # with nothing: the queue is emptied
        check.call("without any parameter", [], {10})
    check.assert_none()


@pytest.mark.parametrize(("kind", "needs"), [("byYear", "fromYear"), ("byYear", "toYear"), ("byGenre", "genre")])
@pytest.mark.parametrize("endpoint", ["getAlbumList", "getAlbumList2"])
def test_an_album_list_type_without_its_parameter_is_error_10(ids: Ids, endpoint: str, kind: str,
                                                              needs: str) -> None:
    """fromYear and toYear are required with byYear, genre with byGenre (getAlbumList2.md)."""
    params = {k: v for k, v in _list(kind)(ids).items() if k != needs}  # type: ignore[union-attr]
    ids.me.failed(endpoint, params, code=10)


@pytest.mark.parametrize("path", ["nope", "nope.view", "getSong.xml", "ping.view.view", "a/b", "", ".view",
                                  "%2e%2e%2f%2e%2e%2fetc%2fpasswd", "ping%00", "%F0%9F%8E%B5", "x" * 2000])
@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_endpoint_is_the_specs_error(ids: Ids, path: str, fmt: str) -> None:
    r = send(ids.me.base, path, list(ids.me.creds().items()), fmt=fmt)
    assert r.status_code == 200, r.text
    body = r.json() if fmt == "json" else spec.xml_fields(r.content)
    spec.validate_error(body, 0)
    assert "not supported" in body["subsonic-response"]["error"]["message"]


def test_an_unknown_endpoint_answers_without_credentials_too(world: World) -> None:
    r = send(world.base, "nope", [], fmt="json")
    assert r.status_code == 200
    spec.validate_error(r.json())


@pytest.mark.parametrize("method", ["PUT", "DELETE", "PATCH", "OPTIONS", "HEAD", "TRACE"])
@pytest.mark.parametrize("endpoint", ["ping", "getAlbum", "deletePlaylist", "stream"])
def test_other_http_methods_do_not_fail(ids: Ids, endpoint: str, method: str) -> None:
    r = ids.me.raw(endpoint, {"id": ids.album}, method=method)
    assert r.status_code in (200, 204, 405), r.text
    if method not in ("HEAD", "OPTIONS") and r.status_code == 200:
        spec.validate_error(r.json(), 0)


# --- authentication --------------------------------------------------------------------------------------

@pytest.fixture(scope="module")
def someone(world: World) -> Account:
    """A user whose Subsonic password has non-ASCII characters (UTF-8 in `enc:` and in the token's MD5)."""
    return new_account(world.server, "zoë", password=f"pässwörd-日本-{secrets.token_hex(3)}")


def _ping(base: str, params: dict[str, str], fmt: str = "json") -> dict[str, Any]:
    r = send(base, "ping", list(params.items()), fmt=fmt)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json() if fmt == "json" else spec.xml_fields(r.content, "ping")
    spec.validate_json("ping", body)
    return body["subsonic-response"]


def _token(password: str, salt: str) -> str:
    return hashlib.md5((password + salt).encode(), usedforsecurity=False).hexdigest()  # the protocol's token


def _ways_in(user: str, password: str, api_key: str | None = None) -> dict[str, dict[str, str]]:
    salt = secrets.token_hex(6)
    ways = {"plain": {"u": user, "p": password}, "enc": {"u": user, "p": "enc:" + password.encode().hex()},
            "enc upper-case": {"u": user, "p": "enc:" + password.encode().hex().upper()},
            "token": {"u": user, "t": _token(password, salt), "s": salt},
            "name in other case": {"u": user.upper(), "p": password}}
    if api_key is not None:
        ways["apiKey"] = {"apiKey": api_key}
    return ways


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_each_way_in_signs_in(world: World, someone: Account, fmt: str) -> None:
    for who, password, key in (("admin", ADMIN_PW, world.api_key), (someone.username, someone.password, None)):
        assert password is not None
        for way, params in _ways_in(who, password, key).items():
            answer = _ping(world.base, params | {"c": "tests", "v": "1.16.1"}, fmt)
            assert answer["status"] == "ok", (who, way, answer)


def test_an_api_key_signs_in_its_owner(world: World) -> None:
    me = new_account(world.server, "keyed")
    key = me.api("POST", "/api/v1/auth/api-keys", json={"name": "app"}).json()["data"]["key"]
    r = send(world.base, "getUser", [("apiKey", key), ("username", me.username)])
    assert _json_ok("getUser", r)["subsonic-response"]["user"]["username"] == me.username


def _refusals(user: str, password: str, api_key: str) -> dict[str, tuple[dict[str, str], int]]:
    salt = secrets.token_hex(6)
    return {
        "apiKey with u": ({"apiKey": api_key, "u": user}, 43),
        "apiKey with p": ({"apiKey": api_key, "u": user, "p": password}, 43),
        "apiKey with t and s": ({"apiKey": api_key, "t": _token(password, salt), "s": salt}, 43),
        "p and t together": ({"u": user, "p": password, "t": _token(password, salt), "s": salt}, 43),
        "wrong password": ({"u": user, "p": password + "x"}, WRONG),
        "wrong enc password": ({"u": user, "p": "enc:" + (password + "x").encode().hex()}, WRONG),
        "enc that is not hex": ({"u": user, "p": "enc:zz" + password}, WRONG),
        "the password's hex without enc:": ({"u": user, "p": password.encode().hex()}, WRONG),
        "wrong token": ({"u": user, "t": _token(password + "x", salt), "s": salt}, WRONG),
        "token with another salt": ({"u": user, "t": _token(password, salt), "s": salt + "1"}, WRONG),
        "the login password": ({"u": user, "p": "correct-horse-battery"}, WRONG),
        "empty password": ({"u": user, "p": ""}, WRONG),
        "missing u": ({"p": password}, 10),
        "empty u": ({"u": "", "p": password}, WRONG),
        "missing p, t and apiKey": ({"u": user}, 10),
        "t without s": ({"u": user, "t": _token(password, salt)}, 10),
        "nothing": ({}, 10),
        "unknown user": ({"u": f"ghost-{salt}", "p": password}, WRONG),
        "unknown user, token": ({"u": f"ghost-{salt}", "t": _token(password, salt), "s": salt}, WRONG),
        "bad apiKey": ({"apiKey": "mn_" + salt}, 44),
        "empty apiKey": ({"apiKey": ""}, 44),
        "NUL in u": ({"u": user + "\x00", "p": password}, 0),
        "NUL in p": ({"u": user, "p": password + "\x00"}, 0),
        "10 KB u": ({"u": "u" * 10240, "p": password}, WRONG),
        "10 KB apiKey": ({"apiKey": "k" * 10240}, 44),
    }


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_every_wrong_way_in_is_refused_with_its_code(world: World, fmt: str) -> None:
    wrong_message = None
    for way, (params, code) in _refusals("bob", "bob-subsonic-pw", world.api_key).items():
        answer = _ping(world.base, params | {"c": "tests"}, fmt)
        assert answer["status"] == "failed" and answer["error"]["code"] == code, (way, answer)
        assert answer["error"]["message"], way
        if code == WRONG:  # one message for every wrong name or password: no telling who has an account
            wrong_message = wrong_message or answer["error"]["message"]
            assert answer["error"]["message"] == wrong_message, way


@pytest.mark.parametrize("endpoint", ["ping", "getAlbum", "stream", "getCoverArt", "createPlaylist", "nope"])
def test_without_credentials_nothing_answers(world: World, endpoint: str) -> None:
    for fmt in ("json", "xml"):
        r = send(world.base, endpoint, [("id", "1"), ("name", "x")], fmt=fmt)
        body = r.json() if fmt == "json" else spec.xml_fields(r.content)
        spec.validate_error(body, 10)


def test_extensions_answer_without_credentials(world: World) -> None:
    for fmt in ("json", "xml"):
        r = send(world.base, "getOpenSubsonicExtensions", [], fmt=fmt)
        body = r.json() if fmt == "json" else spec.xml_fields(r.content, "getOpenSubsonicExtensions")
        spec.validate_json("getOpenSubsonicExtensions", body)
        assert body["subsonic-response"]["status"] == "ok"
    # and with wrong ones: an app asks before it has the right ones
    r = send(world.base, "getOpenSubsonicExtensions", [("u", "ghost"), ("p", "x")])
    assert r.json()["subsonic-response"]["status"] == "ok"


def test_a_user_without_a_subsonic_password_is_refused(world: World) -> None:
    plain = new_account(world.server, "nopw", password=None)
    for params in ({"u": plain.username, "p": ""}, {"u": plain.username, "p": "correct-horse-battery"},
                   {"u": plain.username, "t": _token("", "s1"), "s": "s1"}):
        assert _ping(world.base, params)["error"]["code"] == WRONG


def test_a_removed_subsonic_password_no_longer_signs_in(world: World) -> None:
    gone = new_account(world.server, "removed")
    assert gone.ok("ping")["status"] == "ok"
    assert gone.api("DELETE", "/api/v1/auth/subsonic-password").status_code == 204
    assert gone.failed("ping", code=WRONG)


def test_a_suspended_user_is_refused_and_restored(world: World) -> None:
    user = new_account(world.server, "suspend")
    key = user.api("POST", "/api/v1/auth/api-keys", json={"name": "app"}).json()["data"]["key"]
    assert user.ok("ping")["status"] == "ok"
    assert _ping(world.base, {"apiKey": key})["status"] == "ok"
    _set_status(world, user, "suspended")
    assert user.password is not None
    salt = "abc"
    for params in (user.creds(), {"u": user.username, "t": _token(user.password, salt), "s": salt}):
        error = _ping(world.base, params)["error"]
        assert error["code"] in (40, 50) and "suspended" in error["message"], error
    assert _ping(world.base, {"u": user.username, "p": "wrong"})["error"]["code"] == WRONG
    assert _ping(world.base, {"apiKey": key})["error"]["code"] == 44  # suspension revoked the key
    _set_status(world, user, "active")
    assert user.ok("ping")["status"] == "ok"


def _set_status(world: World, user: Account, status: str) -> None:
    r = as_admin(world.server, "PATCH", f"/api/v1/users/{user.id}", json={"status": status})
    assert r.status_code == 200, r.text


def test_a_revoked_api_key_is_error_44(world: World) -> None:
    user = new_account(world.server, "revoke")
    made = user.api("POST", "/api/v1/auth/api-keys", json={"name": "app"}).json()["data"]
    assert _ping(world.base, {"apiKey": made["key"]})["status"] == "ok"
    assert user.api("DELETE", f"/api/v1/auth/api-keys/{made['id']}").status_code == 204
    assert _ping(world.base, {"apiKey": made["key"]})["error"]["code"] == 44


# --- the sign-in limit -----------------------------------------------------------------------------------

AUTH_LIMIT = 3


@pytest.fixture(scope="module")
def limited(tmp_path_factory: pytest.TempPathFactory, subsonic_source: Path) -> Iterator[LiveServer]:
    """A server with rate limits on and a sign-in limit of 3 a minute, behind a "proxy" (127.0.0.1 is trusted
    to name the client in X-Forwarded-For), so that tests can be several addresses."""
    env = {"MEDIANEST_RATE_LIMITS_ENABLED": "true", "MEDIANEST_AUTH_RATE_LIMIT": f"{AUTH_LIMIT}/minute",
           "MEDIANEST_TRUSTED_PROXIES": "127.0.0.1"}
    with serve(tmp_path_factory.mktemp("subsonic-limited"), subsonic_source, extra_env=env) as server:
        yield server


def _ping_from(base: str, address: str, params: dict[str, str]) -> dict[str, Any]:
    r = send(base, "ping", list(params.items()), headers={"X-Forwarded-For": address})
    assert r.status_code == 200, r.text
    spec.validate_json("ping", r.json())
    answer: dict[str, Any] = r.json()["subsonic-response"]
    return answer


def test_failed_sign_ins_count_toward_the_limit(limited: LiveServer) -> None:
    """Per account and per client address, as the web sign-in counts them (and with the same counters): at
    the limit even the right password is refused, with a message that says to wait."""
    carol = new_account(limited, "carol")
    dave = new_account(limited, "dave")
    assert carol.password is not None and dave.password is not None
    guesser, elsewhere, third = "203.0.113.7", "198.51.100.9", "192.0.2.33"
    for _ in range(AUTH_LIMIT):
        assert _ping_from(limited.base_url, guesser, {"u": carol.username, "p": "guess"})["error"]["code"] == WRONG
    held = _ping_from(limited.base_url, guesser, carol.creds())
    assert held["status"] == "failed", held
    assert "too many" in held["error"]["message"] and "try again in" in held["error"]["message"], held
    # the account is held from anywhere, by token too; and the web sign-in shares the count
    salt = "s4lt"
    assert _ping_from(limited.base_url, elsewhere, carol.creds())["status"] == "failed"
    token = {"u": carol.username, "t": _token(carol.password, salt), "s": salt}
    assert _ping_from(limited.base_url, elsewhere, token)["status"] == "failed"
    web = httpx.post(f"{limited.base_url}/api/v1/auth/login", json={"username": carol.username, "password": "x"},
                     headers={"X-Forwarded-For": third}, timeout=30)
    assert web.status_code == 429, web.text
    # the guesser's address is held for every account; another account from elsewhere signs in
    assert _ping_from(limited.base_url, guesser, dave.creds())["status"] == "failed"
    assert _ping_from(limited.base_url, elsewhere, dave.creds())["status"] == "ok"


def test_failed_api_keys_count_toward_the_limit(limited: LiveServer) -> None:
    erin = new_account(limited, "erin")
    key = erin.api("POST", "/api/v1/auth/api-keys", json={"name": "app"}).json()["data"]["key"]
    guesser, elsewhere = "203.0.113.99", "198.51.100.99"
    for n in range(AUTH_LIMIT):
        assert _ping_from(limited.base_url, guesser, {"apiKey": f"mn_guess{n}"})["error"]["code"] == 44
    held = _ping_from(limited.base_url, guesser, {"apiKey": key})
    assert held["status"] == "failed" and "too many" in held["error"]["message"], held
    assert _ping_from(limited.base_url, elsewhere, {"apiKey": key})["status"] == "ok"
