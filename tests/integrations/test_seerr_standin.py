"""Self-test of the Seerr stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import quote

import httpx
import pytest

from tests.integrations.seerr import (
    FORBIDDEN,
    MEDIA_AVAILABLE,
    MEDIA_PENDING,
    MEDIA_PROCESSING,
    MEDIA_UNKNOWN,
    REQUEST_APPROVED,
    REQUEST_COMPLETED,
    REQUEST_DECLINED,
    REQUEST_PENDING,
    Seerr,
)

KEY = {"X-Api-Key": "seerr-test-key"}


@pytest.fixture
def seerr() -> Iterator[Seerr]:
    with Seerr() as server:
        server.add_movie(194, "Amélie", 2001, "A shy waitress")
        server.add_movie(603, "The Matrix", 1999)
        server.add_tv(1396, "Breaking Bad", 2008, seasons=3)
        yield server


@pytest.fixture
def http(seerr: Seerr) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=seerr.url, trust_env=False, timeout=5, headers=KEY) as client:
        yield client


def search(http: httpx.Client, text: str, extra: str = "") -> httpx.Response:
    return http.get(f"/api/v1/search?query={quote(text, safe='')}{extra}")


def test_status_is_public_and_the_rest_needs_the_key(seerr: Seerr) -> None:
    with httpx.Client(base_url=seerr.url, trust_env=False, timeout=5) as anon:
        status = anon.get("/api/v1/status")
        assert status.status_code == 200 and status.json()["version"] == "3.2.0"
        assert set(status.json()) == {"version", "commitTag", "updateAvailable", "commitsBehind", "restartRequired"}
        missing = anon.get("/api/v1/search?query=x")
        assert missing.status_code == 401
        assert missing.json()["errors"] == [{"path": "/api/v1/search", "message": "cookie 'connect.sid' required"}]
        wrong = anon.get("/api/v1/movie/194", headers={"X-Api-Key": "nope"})
        assert (wrong.status_code, wrong.json()) == (403, FORBIDDEN)
        ghost = anon.get("/api/v1/request", headers={**KEY, "X-API-User": "9"})
        assert ghost.status_code == 403
        assert anon.get("/api/v1/nowhere", headers=KEY).status_code == 404
        assert anon.put("/api/v1/request", headers=KEY).json()["message"] == "PUT method not allowed"


def test_search_matching_paging_and_encoding(seerr: Seerr, http: httpx.Client) -> None:
    body = search(http, "AMÉLIE").json()
    assert body["totalResults"] == 1 and body["results"][0]["title"] == "Amélie"
    assert body["results"][0]["releaseDate"] == "2001-01-01" and "mediaInfo" not in body["results"][0]
    tv = search(http, "bad").json()["results"][0]
    assert (tv["mediaType"], tv["name"], tv["firstAirDate"]) == ("tv", "Breaking Bad", "2008-01-01")
    assert search(http, "the matrix").json()["results"][0]["id"] == 603  # quote(): the space goes as %20
    assert search(http, "AC/DC + co").json() == {"page": 1, "totalPages": 1, "totalResults": 0, "results": []}
    plus = http.get("/api/v1/search", params={"query": "the matrix"})  # httpx form-encodes the space as '+'
    assert plus.status_code == 400 and "must be url encoded" in plus.json()["message"]
    assert http.get("/api/v1/search?query=a&bogus=1").json()["message"] == "Unknown query parameter 'bogus'"
    assert http.get("/api/v1/search").json()["message"] == "request/query must have required property 'query'"
    assert search(http, "x", "&page=abc").json()["message"] == "request/query/page must be number"
    for n in range(25):
        seerr.add_movie(1000 + n, f"Film {n}")
    first, second = search(http, "film").json(), search(http, "film", "&page=2").json()
    assert (first["totalPages"], first["totalResults"], len(first["results"])) == (2, 25, 20)
    assert (second["page"], len(second["results"])) == (2, 5)


def test_movie_request_lifecycle(seerr: Seerr, http: httpx.Client) -> None:
    made = http.post("/api/v1/request", json={"mediaType": "movie", "mediaId": 603})
    assert made.status_code == 201
    req = made.json()
    assert req["status"] == REQUEST_APPROVED and req["media"]["status"] == MEDIA_PENDING
    assert req["requestedBy"]["id"] == 1 and req["seasons"] == []
    again = http.get(f"/api/v1/request/{req['id']}").json()
    assert again["media"]["status"] == MEDIA_PROCESSING
    dup = http.post("/api/v1/request", json={"mediaType": "movie", "mediaId": 603})
    assert (dup.status_code, dup.json()["message"]) == (409, "Request for this media already exists.")
    info = search(http, "matrix").json()["results"][0]["mediaInfo"]
    assert info["tmdbId"] == 603 and info["status"] == MEDIA_PROCESSING
    details = http.get("/api/v1/movie/603").json()
    assert details["title"] == "The Matrix" and details["mediaInfo"]["requests"][0]["id"] == req["id"]
    seerr.set_media_status("movie", 603, MEDIA_AVAILABLE)
    assert seerr.requests_made()[0]["status"] == REQUEST_COMPLETED
    assert http.delete(f"/api/v1/request/{req['id']}").status_code == 204
    assert http.get(f"/api/v1/request/{req['id']}").json() == {"message": "Request not found."}
    assert search(http, "matrix").json()["results"][0]["mediaInfo"]["status"] == MEDIA_AVAILABLE


def test_request_errors(http: httpx.Client) -> None:
    unknown = http.post("/api/v1/request", json={"mediaType": "movie", "mediaId": 5})
    assert unknown.status_code == 500 and unknown.json()["message"].startswith("[TMDB] Failed to fetch movie")
    no_seasons = http.post("/api/v1/request", json={"mediaType": "tv", "mediaId": 1396})
    assert no_seasons.json()["message"] == "Cannot read properties of undefined (reading 'filter')"
    bad = http.post("/api/v1/request", json={"mediaType": "book", "mediaId": 1})
    assert bad.status_code == 400 and "allowed values" in bad.json()["message"]
    assert http.post("/api/v1/request", json={"mediaType": "tv"}).status_code == 400
    assert http.get("/api/v1/movie/1").json() == {"message": "Unable to retrieve movie."}
    assert http.get("/api/v1/tv/abc").json()["message"] == "request/params/tvId must be number"


def test_tv_seasons_and_user_rules(seerr: Seerr, http: httpx.Client) -> None:
    as_user = {"X-API-User": "2"}
    first = http.post("/api/v1/request", json={"mediaType": "tv", "mediaId": 1396, "seasons": [0, 1]},
                      headers=as_user).json()
    assert first["status"] == REQUEST_PENDING and [s["seasonNumber"] for s in first["seasons"]] == [1]
    rest = http.post("/api/v1/request", json={"mediaType": "tv", "mediaId": 1396, "seasons": "all"}).json()
    assert [s["seasonNumber"] for s in rest["seasons"]] == [2, 3]
    none_left = http.post("/api/v1/request", json={"mediaType": "tv", "mediaId": 1396, "seasons": [1, 2]})
    assert (none_left.status_code, none_left.json()["message"]) == (202, "No seasons available to request")
    mine = http.get("/api/v1/request", headers=as_user).json()
    assert [r["id"] for r in mine["results"]] == [first["id"]]
    assert http.get(f"/api/v1/request/{rest['id']}", headers=as_user).status_code == 403
    pending = http.get("/api/v1/request?filter=pending&take=1").json()
    assert pending["pageInfo"] == {"pages": 1, "pageSize": 1, "results": 1, "page": 1}
    seerr.set_request_status(first["id"], REQUEST_DECLINED)
    assert http.get("/api/v1/tv/1396").json()["mediaInfo"]["status"] == MEDIA_PROCESSING
    movie = http.post("/api/v1/request", json={"mediaType": "movie", "mediaId": 194}, headers=as_user).json()
    seerr.set_request_status(movie["id"], REQUEST_DECLINED)
    assert http.get("/api/v1/movie/194").json()["mediaInfo"]["status"] == MEDIA_UNKNOWN
    listing = http.get("/api/v1/request?take=2&skip=2").json()
    assert listing["pageInfo"] == {"pages": 2, "pageSize": 2, "results": 3, "page": 2}


def test_faults(seerr: Seerr, http: httpx.Client) -> None:
    seerr.set_faults(delay_s=0.3)
    assert http.get("/api/v1/status").status_code == 200
    seerr.set_faults(fail_status=503)
    failed = http.get("/api/v1/status")
    assert (failed.status_code, failed.json()) == (503, {"message": "Service Unavailable"})
    seerr.set_faults(garbage=True)
    assert http.get("/api/v1/status").headers["content-type"].startswith("text/html")
    seerr.set_faults(drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        http.get("/api/v1/status")
    seerr.set_faults()
    seerr.refuse()
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"{seerr.url}/api/v1/status", trust_env=False, timeout=5)
