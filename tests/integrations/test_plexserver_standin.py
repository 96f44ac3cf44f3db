"""Self-test of the Plex Media Server stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator

import httpx
import pytest

from tests.integrations.plexserver import PlexServer

TOKEN = "plex-server-token"
JSON = {"Accept": "application/json", "X-Plex-Token": TOKEN}
UNAUTHORIZED = b"<html><head><title>Unauthorized</title></head><body><h1>401 Unauthorized</h1></body></html>"


@pytest.fixture
def plex() -> Iterator[PlexServer]:
    with PlexServer() as server:
        yield server


@pytest.fixture
def client() -> Iterator[httpx.Client]:
    with httpx.Client(trust_env=False, timeout=5) as c:
        yield c


def parse_xml(body: bytes) -> ET.Element:
    return ET.fromstring(body)  # noqa: S314 - our own stand-in's output, never outside input


def test_identity_needs_no_token_json_and_xml(plex: PlexServer, client: httpx.Client) -> None:
    r = client.get(f"{plex.url}/identity", headers={"Accept": "application/json"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/json")
    mc = r.json()["MediaContainer"]
    assert mc["size"] == 0 and mc["claimed"] is True
    assert len(mc["machineIdentifier"]) == 40 and mc["version"].startswith("1.")
    x = client.get(f"{plex.url}/identity")
    assert x.headers["content-type"].startswith("text/xml") and x.text.startswith("<?xml")
    root = parse_xml(x.content)
    assert root.tag == "MediaContainer" and root.get("claimed") == "1" and root.get("size") == "0"
    assert root.get("machineIdentifier") == mc["machineIdentifier"]


def test_sections_json_shape(plex: PlexServer, client: httpx.Client) -> None:
    r = client.get(f"{plex.url}/library/sections", headers=JSON)
    assert r.status_code == 200
    mc = r.json()["MediaContainer"]
    assert (mc["size"], mc["allowSync"], mc["title1"]) == (3, False, "Plex Library")
    dirs = mc["Directory"]
    assert [(d["key"], d["title"], d["type"]) for d in dirs] == [
        ("1", "Movies", "movie"), ("2", "TV Shows", "show"), ("3", "Music", "artist")]
    assert [d["Location"] for d in dirs] == [
        [{"id": 1, "path": "/media/movies"}], [{"id": 2, "path": "/media/tv"}], [{"id": 3, "path": "/media/music"}]]
    movies = dirs[0]
    assert movies["agent"] == "tv.plex.agents.movie" and movies["scanner"] == "Plex Movie"
    assert movies["allowSync"] is True and movies["refreshing"] is False and movies["hidden"] == 0
    assert isinstance(movies["scannedAt"], int) and movies["thumb"] == "/:/resources/movie.png"


def test_sections_xml_by_default_with_query_token(plex: PlexServer, client: httpx.Client) -> None:
    r = client.get(f"{plex.url}/library/sections", params={"X-Plex-Token": TOKEN})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root = parse_xml(r.content)
    assert root.get("size") == "3" and root.get("title1") == "Plex Library" and root.get("allowSync") == "0"
    tv = root.findall("Directory")[1]
    assert (tv.get("key"), tv.get("type"), tv.get("filters")) == ("2", "show", "1")
    assert [(loc.get("id"), loc.get("path")) for loc in tv.findall("Location")] == [("2", "/media/tv")]


def test_set_sections(plex: PlexServer, client: httpx.Client) -> None:
    plex.set_sections([("7", "Films", "movie", ["/a", "/b"])])
    mc = client.get(f"{plex.url}/library/sections", headers=JSON).json()["MediaContainer"]
    assert mc["size"] == 1 and mc["Directory"][0]["key"] == "7"
    assert [loc["path"] for loc in mc["Directory"][0]["Location"]] == ["/a", "/b"]


@pytest.mark.parametrize("headers", [{}, {"X-Plex-Token": "wrong"}, {"Accept": "application/json"}])
def test_auth_failures_are_html_401(plex: PlexServer, client: httpx.Client, headers: dict[str, str]) -> None:
    for path in ("/library/sections", "/library/sections/1/refresh"):
        r = client.get(f"{plex.url}{path}", headers=headers)
        assert r.status_code == 401 and r.content == UNAUTHORIZED and len(r.content) == 91
        assert r.headers["content-type"] == "text/html"
    assert plex.refreshes() == []
    plex.token = "rotated"
    assert client.get(f"{plex.url}/library/sections", headers=JSON).status_code == 401


def test_refresh_records_key_and_path(plex: PlexServer, client: httpx.Client) -> None:
    base = f"{plex.url}/library/sections"
    r = client.get(f"{base}/2/refresh", params={"path": "/media/tv/Some Show (2020)"}, headers=JSON)
    assert r.status_code == 200 and r.content == b""
    assert client.get(f"{base}/1/refresh?force=1", headers=JSON).status_code == 200
    assert client.get(f"{base}/3/refresh?path=%2Fmedia%2Fmusic%2FA+B", headers=JSON).status_code == 200
    assert client.post(f"{base}/1/refresh", headers=JSON).status_code == 200
    assert client.delete(f"{base}/1/refresh", headers=JSON).status_code == 200  # cancel: not a refresh
    assert plex.refreshes() == [("2", "/media/tv/Some Show (2020)"), ("1", None), ("3", "/media/music/A B"),
                                ("1", None)]


def test_unknown_section_and_route_are_404(plex: PlexServer, client: httpx.Client) -> None:
    r = client.get(f"{plex.url}/library/sections/99/refresh", headers=JSON)
    assert r.status_code == 404 and b"404 Not Found" in r.content
    assert client.get(f"{plex.url}/library/nothing", headers=JSON).status_code == 404
    assert plex.refreshes() == []


def test_fault_delay_still_answers(plex: PlexServer, client: httpx.Client) -> None:
    plex.set_faults(delay_s=0.3)
    assert client.get(f"{plex.url}/identity").status_code == 200


def test_fault_fail_status(plex: PlexServer, client: httpx.Client) -> None:
    plex.set_faults(fail_status=503)
    r = client.get(f"{plex.url}/library/sections", headers=JSON)
    assert r.status_code == 503 and b"503 Service Unavailable" in r.content
    plex.set_faults()
    assert client.get(f"{plex.url}/library/sections", headers=JSON).status_code == 200


def test_fault_garbage(plex: PlexServer, client: httpx.Client) -> None:
    plex.set_faults(garbage=True)
    r = client.get(f"{plex.url}/library/sections", headers=JSON)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_fault_drop(plex: PlexServer, client: httpx.Client) -> None:
    plex.set_faults(drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get(f"{plex.url}/identity")


def test_refuse(plex: PlexServer, client: httpx.Client) -> None:
    plex.refuse()
    with pytest.raises(httpx.ConnectError):
        client.get(f"{plex.url}/identity")
