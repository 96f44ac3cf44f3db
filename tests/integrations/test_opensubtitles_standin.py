"""Self-test of the OpenSubtitles stand-in, over real HTTP on 127.0.0.1."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from tests.integrations.opensubtitles import OpenSubtitles

HEADERS = {"Api-Key": "os-test-key", "User-Agent": "MediaNest v0.1"}
HASH = "5b8f8f4e41ccb21e"


@pytest.fixture
def os_() -> Iterator[OpenSubtitles]:
    with OpenSubtitles(daily_quota=3) as server:
        server.add_subtitle(101, "en", "The Matrix", b"1\n00:00:01,000 --> 00:00:02,000\nWake up\n", year=1999,
                            file_name="The.Matrix.1999.srt", release="The.Matrix.1999.1080p")
        server.add_subtitle(102, "fr", "The Matrix", b"1\nfr\n", year=1999, moviehash=HASH)
        server.add_subtitle(201, "en", "Man of Steel", b"1\nsteel\n", year=2013, moviehash=HASH.upper())
        yield server


@pytest.fixture
def client(os_: OpenSubtitles) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=f"{os_.url}/api/v1", headers=HEADERS, trust_env=False, timeout=5) as c:
        yield c


def login(client: httpx.Client) -> str:
    reply = client.post("/login", json={"username": "nestuser", "password": "nestpass"})
    assert reply.status_code == 200
    return str(reply.json()["token"])


def test_login_shape_and_base_url(client: httpx.Client, os_: OpenSubtitles) -> None:
    reply = client.post("/login", json={"username": "nestuser", "password": "nestpass"})
    body = reply.json()
    assert reply.status_code == 200 and body["status"] == 200
    assert body["user"] == {"allowed_translations": 1, "allowed_downloads": 3, "level": "Sub leecher",
                            "user_id": 699022, "ext_installed": False, "vip": False}
    assert body["base_url"] == os_.url.removeprefix("http://")
    assert len(body["token"].split(".")) == 3
    assert reply.headers["RateLimit-Limit"] == "1"


def test_bad_login_counts_attempts(client: httpx.Client) -> None:
    for attempt in (1, 2):
        reply = client.post("/login", json={"username": "nestuser", "password": "nope"})
        assert reply.status_code == 401
        assert reply.json() == {"message": f"Error, invalid username/password failed:{attempt} "
                                           f"remaining:{10 - attempt}  ", "status": 401}


@pytest.mark.parametrize("headers", [{"User-Agent": "MediaNest v0.1"}, {**HEADERS, "Api-Key": "wrong"}])
def test_missing_or_wrong_key_is_refused(os_: OpenSubtitles, headers: dict[str, str]) -> None:
    with httpx.Client(trust_env=False, timeout=5) as c:
        reply = c.get(f"{os_.url}/api/v1/infos/formats", headers=headers)
    assert reply.status_code == 403 and reply.json() == {"message": "You cannot consume this service"}


def test_blank_user_agent_is_refused(client: httpx.Client) -> None:
    reply = client.get("/infos/formats", headers={"User-Agent": ""})
    assert reply.status_code == 403 and "User-Agent" in reply.json()["message"]


def test_search_by_query_and_language(client: httpx.Client) -> None:
    body = client.get("/subtitles?languages=en&query=matrix").json()
    assert (body["total_count"], body["total_pages"], body["per_page"], body["page"]) == (1, 1, 50, 1)
    attributes = body["data"][0]["attributes"]
    assert body["data"][0]["type"] == "subtitle" and attributes["language"] == "en"
    assert attributes["files"] == [{"file_id": 101, "cd_number": 1, "file_name": "The.Matrix.1999.srt"}]
    assert attributes["feature_details"]["title"] == "The Matrix" and attributes["feature_details"]["year"] == 1999
    assert attributes["release"] == "The.Matrix.1999.1080p" and "moviehash_match" not in attributes


def test_search_by_hash_puts_matches_first(client: httpx.Client) -> None:
    body = client.get(f"/subtitles?moviehash={HASH}&query=matrix").json()
    rows = [(d["attributes"]["files"][0]["file_id"], d["attributes"]["moviehash_match"]) for d in body["data"]]
    assert rows == [(102, True), (201, True), (101, False)]
    only = client.get(f"/subtitles?languages=en&moviehash={HASH}").json()["data"]
    assert [d["attributes"]["files"][0]["file_id"] for d in only] == [201]


def test_pages(client: httpx.Client, os_: OpenSubtitles) -> None:
    for n in range(50):
        os_.add_subtitle(1000 + n, "de", "Dark", b"x")
    first, second = (client.get(f"/subtitles?{page}query=dark").json() for page in ("", "page=2&"))
    assert (first["total_count"], first["total_pages"], len(first["data"])) == (50, 1, 50)
    assert second["data"] == [] and second["page"] == 2


@pytest.mark.parametrize(("raw", "location"), [
    ("query=matrix&languages=en", "languages=en&query=matrix"),
    ("languages=FR,EN&query=The+Matrix", "languages=en%2Cfr&query=the+matrix"),
    ("imdb_id=0133093&page=1&type=all", "imdb_id=133093"),
])
def test_unnormalised_query_is_redirected(client: httpx.Client, raw: str, location: str) -> None:
    reply = client.get(f"/subtitles?{raw}")
    assert reply.status_code == 301 and reply.content == b""
    assert reply.headers["Location"] == f"/api/v1/subtitles?{location}"
    assert client.get(f"/subtitles?{raw}", follow_redirects=True).status_code == 200


def test_download_with_token(client: httpx.Client, os_: OpenSubtitles) -> None:
    token = login(client)
    reply = client.post("/download", json={"file_id": 101, "sub_format": "webvtt"},
                        headers={"Authorization": f"Bearer {token}"})
    body = reply.json()
    assert reply.status_code == 200 and (body["requests"], body["remaining"]) == (1, 2)
    assert body["file_name"] == "The.Matrix.1999.vtt" and body["reset_time_utc"].endswith("23:59:59.999Z")
    assert body["link"].startswith(f"{os_.url}/download/") and "quota will be renewed" in body["message"]
    with httpx.Client(trust_env=False, timeout=5) as bare:
        assert bare.get(body["link"]).content == b"1\n00:00:01,000 --> 00:00:02,000\nWake up\n"
    assert os_.downloads() == [101]
    info = client.get("/infos/user", headers={"Authorization": f"Bearer {token}"}).json()["data"]
    assert (info["downloads_count"], info["remaining_downloads"], info["allowed_downloads"]) == (1, 2, 3)


def test_download_without_token_uses_the_anonymous_quota(client: httpx.Client, os_: OpenSubtitles) -> None:
    body = client.post("/download", json={"file_id": 201}).json()
    assert (body["requests"], body["remaining"], body["file_name"]) == (1, 4, "subtitle.srt")
    os_.set_remaining(0, anonymous=True)
    refused = client.post("/download", json={"file_id": 201})
    assert refused.status_code == 406 and refused.json()["message"].startswith("You have downloaded your allowed 5")
    assert os_.downloads() == [201]


def test_quota_used_up(client: httpx.Client, os_: OpenSubtitles) -> None:
    token = login(client)
    os_.set_remaining(0)
    reply = client.post("/download", json={"file_id": 101}, headers={"Authorization": f"Bearer {token}"})
    body = reply.json()
    assert reply.status_code == 406 and body["remaining"] == 0 and body["requests"] == 0
    assert set(body) == {"requests", "remaining", "message", "reset_time", "reset_time_utc"}
    assert "allowed 3 subtitles for 24h" in body["message"] and os_.downloads() == []


def test_download_errors(client: httpx.Client, os_: OpenSubtitles) -> None:
    unknown = client.post("/download", json={"file_id": 999})
    assert unknown.status_code == 400 and unknown.json() == {"message": "Invalid file_id", "status": 400}
    bad = client.post("/download", json={"file_id": 101}, headers={"Authorization": "Bearer nope"})
    assert bad.status_code == 401 and bad.json()["message"] == "invalid token"
    with httpx.Client(trust_env=False, timeout=5) as bare:
        assert bare.get(f"{os_.url}/download/ABC/subfile/x.srt").status_code == 410
    assert client.get("/nothing").json() == {"message": "no Route matched with those values"}


def test_logout_and_infos(client: httpx.Client) -> None:
    token = login(client)
    auth = {"Authorization": f"Bearer {token}"}
    assert client.get("/infos/formats").json() == {"data": {"output_formats": ["srt", "sub", "mpl", "webvtt",
                                                                               "dfxp", "txt"]}}
    assert client.get("/infos/user", headers=auth).json()["data"]["username"] == "nestuser"
    bye = client.delete("/logout", headers=auth)
    assert bye.status_code == 200 and bye.json() == {"message": "token successfully destroyed", "status": 200}
    gone = client.get("/infos/user", headers=auth)
    assert gone.status_code == 401 and gone.json() == {"errors": ["Invalid token"], "status": 401}
    assert client.delete("/logout", headers=auth).status_code == 401


def test_rate_limited(client: httpx.Client, os_: OpenSubtitles) -> None:
    os_.rate_limited = True
    for reply in (client.get("/subtitles?query=matrix"), client.post("/login", json={})):
        assert reply.status_code == 429 and reply.json() == {"message": "API rate limit exceeded"}
        assert reply.headers["RateLimit-Remaining"] == "0" and reply.headers["Retry-After"] == "1"
        assert reply.headers["RateLimit-Reset"] == "1"
    os_.rate_limited = False
    assert client.get("/subtitles?query=matrix").status_code == 200


def test_faults(client: httpx.Client, os_: OpenSubtitles) -> None:
    os_.set_faults(delay_s=0.3)
    assert client.get("/infos/formats").status_code == 200
    os_.set_faults(fail_status=503)
    failed = client.get("/infos/formats")
    assert failed.status_code == 503 and failed.json() == {"message": "Service Unavailable", "status": 503}
    os_.set_faults(garbage=True)
    garbage = client.get("/infos/formats")
    assert garbage.status_code == 200 and garbage.headers["Content-Type"].startswith("text/html")
    os_.set_faults(drop=True)
    with pytest.raises(httpx.RemoteProtocolError):
        client.get("/infos/formats")
    os_.set_faults()
    os_.refuse()
    with pytest.raises(httpx.ConnectError):
        client.get("/infos/formats")
