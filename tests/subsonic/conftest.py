"""A real `medianest serve` with a library for Subsonic apps, two users with Subsonic passwords and an API
key, and ways to call it: raw HTTP (checked against the OpenSubsonic schemas) and the real client
libraries, py-opensonic (`libopensonic`) and py-sonic (`libsonic`).

The library is the shared test library (tests/media.py) plus what albums are made of: a two-disc album,
a compilation whose tracks name different artists, an LRC sidecar and embedded lyrics.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
import libopensonic
import libsonic
import pytest
from mutagen.id3 import ID3, TCMP, TPE2, TPOS, USLT

from medianest.library.demo import Sample, make_sample
from tests.conftest import PASSWORD
from tests.liveserver import LiveServer, rescan, serve
from tests.loopback import http
from tests.media import build_library
from tests.subscriptions.feedserver import FeedServer
from tests.subsonic import spec

ADMIN_PW, BOB_PW = "admin-subsonic-pw", "bob-subsonic-pw"
# The podcast endpoints follow feeds served on 127.0.0.1 (`podcast_feeds`), which the server refuses by default.
LOCAL_FEEDS = {"MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true"}
SYNCED_LRC = "[ar:Steady Hands]\n[ti:Circle]\n[00:00.50]first line\n[00:01.75]second line\n"
EMBEDDED_LYRICS = "Unsynced words\nof Jóga"


def _tone(root: Path, rel: str, title: str, artist: str, album: str, track: int) -> Path:
    return make_sample(Sample(rel, "audio", title, artist, album, track, "Swing", 2001, 2, 330 + 40 * track),
                       root / rel)


def _retag(path: Path, **frames: Any) -> None:
    tags = ID3(path)
    tags.delall("TPE2")  # make_sample writes the artist as album artist too
    for frame in frames.values():
        tags.add(frame)
    tags.save(path)


def build_subsonic_library(root: Path) -> dict[str, Path]:
    files = build_library(root)
    for disc in (1, 2):
        path = _tone(root, f"Music/Big Band/Two Discs/{disc}-01 Disc {disc}.mp3", f"Disc {disc} Opener", "Big Band",
                     "Two Discs", 1)
        _retag(path, disc=TPOS(encoding=3, text=f"{disc}/2"), by=TPE2(encoding=3, text="Big Band"))
    for n, artist in enumerate(("Artist A", "Artist B"), start=1):
        path = _tone(root, f"Music/Various/Summer Mix/0{n} Song {n}.mp3", f"Summer Song {n}", artist, "Summer Mix", n)
        _retag(path, compilation=TCMP(encoding=3, text="1"))
    (root / "Music/Steady Hands/Loops/01 Circle.lrc").write_text(SYNCED_LRC)
    tags = ID3(files["Jóga"])
    tags.add(USLT(encoding=3, lang="eng", desc="", text=EMBEDDED_LYRICS))
    tags.save(files["Jóga"])
    return files


@dataclass
class World:
    server: LiveServer
    port: int
    api_key: str
    bob_token: str

    @property
    def base(self) -> str:
        return self.server.base_url

    def auth(self, user: str = "admin") -> dict[str, str]:
        return {"u": user, "p": ADMIN_PW if user == "admin" else BOB_PW, "c": "tests", "v": "1.16.1"}

    def raw(self, endpoint: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None, *,
            user: str | None = "admin", fmt: str = "json", method: str = "GET") -> httpx.Response:
        items = list(params.items() if isinstance(params, dict) else params or [])
        if user is not None:
            items += list(self.auth(user).items())
        if fmt == "json":
            items.append(("f", "json"))
        url = f"{self.base}/rest/{endpoint}"
        if method == "POST":  # a form body (formPost), repeated names kept
            return http().post(url, content=urlencode(items),
                              headers={"content-type": "application/x-www-form-urlencoded"})
        return http().get(url, params=items)

    def ok(self, endpoint: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None, *,
           user: str = "admin") -> dict[str, Any]:
        """A successful JSON answer, checked against the OpenSubsonic schema; its `subsonic-response`."""
        r = self.raw(endpoint, params, user=user)
        assert r.status_code == 200, r.text
        body = r.json()
        spec.validate_json(endpoint, body)
        response: dict[str, Any] = body["subsonic-response"]
        assert response["status"] == "ok", response
        return response

    def failed(self, endpoint: str, params: dict[str, Any] | list[tuple[str, Any]] | None = None, *,
               user: str | None = "admin", code: int | None = None) -> dict[str, Any]:
        r = self.raw(endpoint, params, user=user)
        assert r.status_code == 200, r.text
        body = r.json()
        spec.validate_error(body, code)
        error: dict[str, Any] = body["subsonic-response"]["error"]
        return error

    def opensonic(self, user: str = "admin", **kwargs: Any) -> libopensonic.Connection:
        password = ADMIN_PW if user == "admin" else BOB_PW
        return libopensonic.Connection("http://127.0.0.1", user, password, port=self.port, app_name="tests",
                                       **kwargs)

    def opensonic_key(self) -> libopensonic.Connection:
        return libopensonic.Connection("http://127.0.0.1", api_key=self.api_key, port=self.port, app_name="tests")

    def pysonic(self, user: str = "admin", **kwargs: Any) -> libsonic.Connection:
        password = ADMIN_PW if user == "admin" else BOB_PW
        return libsonic.Connection("http://127.0.0.1", user, password, port=self.port, appName="tests", **kwargs)

    def api(self, method: str, path: str, user: str = "admin", **kwargs: Any) -> httpx.Response:
        """The REST API, as the web UI calls it."""
        token = self.server.token if user == "admin" else self.bob_token
        return http().request(method, f"{self.base}{path}", headers={"Authorization": f"Bearer {token}"},
                             timeout=30, **kwargs)


@pytest.fixture(scope="session")
def subsonic_source(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("subsonic-source")
    build_subsonic_library(root)
    return root


@pytest.fixture(scope="session")
def world(tmp_path_factory: pytest.TempPathFactory, subsonic_source: Path) -> Iterator[World]:
    with serve(tmp_path_factory.mktemp("subsonic"), subsonic_source, extra_env=LOCAL_FEEDS) as server:
        headers = server.headers()
        rescan(server)  # the start-up scan (or one after it) has ended: the catalog is complete
        r = httpx.post(f"{server.base_url}/api/v1/users", headers=headers,
                       json={"username": "bob", "password": PASSWORD, "role": "user"})
        r.raise_for_status()
        bob = httpx.post(f"{server.base_url}/api/v1/auth/login", json={"username": "bob", "password": PASSWORD})
        bob.raise_for_status()
        bob_token = bob.json()["data"]["access_token"]
        for token, password in ((server.token, ADMIN_PW), (bob_token, BOB_PW)):
            httpx.post(f"{server.base_url}/api/v1/auth/subsonic-password", json={"password": password},
                       headers={"Authorization": f"Bearer {token}"}).raise_for_status()
        key = httpx.post(f"{server.base_url}/api/v1/auth/api-keys", headers=headers, json={"name": "subsonic"})
        key.raise_for_status()
        yield World(server, int(server.base_url.rsplit(":", 1)[1]), key.json()["data"]["key"], bob_token)


@pytest.fixture(scope="session")
def podcast_feeds() -> Iterator[FeedServer]:
    """Podcast feeds on 127.0.0.1 for the `world` server to follow (tests add feeds of their own paths)."""
    with FeedServer() as feeds:
        yield feeds
