"""The plex.tv stand-in itself: pins, approval, expiry, the user call and the faults, over real sockets."""

from __future__ import annotations

import string
import threading
import time
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from tests.accounts.plextv import PlexTv, PlexUser, auth_url_params, running

CLIENT = "medianest-test-install"
HEADERS = {"Accept": "application/json", "X-Plex-Product": "MediaNest", "X-Plex-Version": "0.1.0",
           "X-Plex-Client-Identifier": CLIENT}


@pytest.fixture
def tv() -> Iterator[PlexTv]:
    with running() as server:
        yield server


@pytest.fixture
def http() -> Iterator[httpx.Client]:
    # trust_env=False: no proxy from the environment may see these requests
    with httpx.Client(trust_env=False, timeout=5) as c:
        yield c


def create_pin(tv: PlexTv, http: httpx.Client, strong: bool = True, **headers: str) -> dict[str, Any]:
    r = http.post(f"{tv.url}/api/v2/pins", params={"strong": "true"} if strong else None,
                  headers={**HEADERS, **headers})
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


def poll(tv: PlexTv, http: httpx.Client, pin_id: int, client: str = CLIENT) -> httpx.Response:
    return http.get(f"{tv.url}/api/v2/pins/{pin_id}", headers={**HEADERS, "X-Plex-Client-Identifier": client})


def test_binds_loopback_only(tv: PlexTv) -> None:
    assert tv.url.startswith("http://127.0.0.1:") and tv.port > 0


def test_strong_pin_has_plex_shape(tv: PlexTv, http: httpx.Client) -> None:
    pin = create_pin(tv, http)
    assert set(pin) == {"id", "code", "product", "trusted", "qr", "clientIdentifier", "location", "expiresIn",
                        "createdAt", "expiresAt", "authToken", "newRegistration"}
    assert isinstance(pin["id"], int) and len(pin["code"]) == 25 and pin["code"].isalnum()
    assert pin["clientIdentifier"] == CLIENT and pin["product"] == "MediaNest" and pin["trusted"] is False
    assert pin["authToken"] is None and pin["newRegistration"] is None
    assert 1795 <= pin["expiresIn"] <= 1800
    assert pin["createdAt"].endswith("Z") and pin["expiresAt"] > pin["createdAt"]
    record = tv.pins[pin["id"]]
    assert record.strong and record.headers["x-plex-version"] == "0.1.0"


def test_link_pin_is_four_characters_for_fifteen_minutes(tv: PlexTv, http: httpx.Client) -> None:
    pin = create_pin(tv, http, strong=False)
    assert len(pin["code"]) == 4 and set(pin["code"]) <= set(string.ascii_uppercase + string.digits)
    assert 895 <= pin["expiresIn"] <= 900


@pytest.mark.parametrize("missing", ["X-Plex-Client-Identifier", "X-Plex-Product"])
def test_pin_without_identity_is_400(tv: PlexTv, http: httpx.Client, missing: str) -> None:
    headers = {k: v for k, v in HEADERS.items() if k != missing}
    r = http.post(f"{tv.url}/api/v2/pins?strong=true", headers=headers)
    assert r.status_code == 400
    assert r.json() == {"errors": [{"code": 1000, "message": f"{missing} is missing", "status": 400}]}
    assert tv.pins == {}


def test_identity_may_come_as_query_params(tv: PlexTv, http: httpx.Client) -> None:
    r = http.post(f"{tv.url}/api/v2/pins", params={"strong": "true", "X-Plex-Product": "MediaNest",
                                                   "X-Plex-Client-Identifier": CLIENT},
                  headers={"Accept": "application/json"})
    assert r.status_code == 201 and len(r.json()["code"]) == 25


def test_full_sign_in(tv: PlexTv, http: httpx.Client) -> None:
    user = tv.add_user("alice", email="alice@example.org")
    pin = create_pin(tv, http)
    waiting = poll(tv, http, pin["id"])
    assert waiting.status_code == 200 and waiting.json()["authToken"] is None

    auth_url = f"https://app.plex.tv/auth#?clientID={CLIENT}&code={pin['code']}&context%5Bdevice%5D%5Bproduct%5D=MediaNest"
    params = auth_url_params(auth_url)
    assert params == {"clientID": CLIENT, "code": pin["code"], "context[device][product]": "MediaNest"}
    tv.authorize(params["code"], user)

    done = poll(tv, http, pin["id"]).json()
    assert done["authToken"] == user.auth_token and done["newRegistration"] is False
    me = http.get(f"{tv.url}/api/v2/user", headers={**HEADERS, "X-Plex-Token": done["authToken"]})
    assert me.status_code == 200
    body = me.json()
    assert (body["id"], body["uuid"], body["username"], body["title"], body["email"], body["thumb"]) == (
        user.id, user.uuid, "alice", "alice", "alice@example.org", user.thumb)
    assert body["authToken"] == user.auth_token


def test_other_client_identifier_or_unknown_id_is_1020(tv: PlexTv, http: httpx.Client) -> None:
    pin = create_pin(tv, http)
    gone = {"errors": [{"code": 1020, "message": "Code not found or expired"}]}
    for r in (poll(tv, http, pin["id"], client="someone-else"), poll(tv, http, pin["id"] + 1)):
        assert r.status_code == 404 and r.json() == gone


def test_expire_now_and_by_time(http: httpx.Client) -> None:
    with PlexTv(pin_ttl_s=0.5) as tv:
        user = tv.add_user()
        early, late = create_pin(tv, http), create_pin(tv, http)
        tv.expire(early["id"])
        assert poll(tv, http, early["id"]).status_code == 404
        assert poll(tv, http, late["id"]).status_code == 200
        time.sleep(0.6)
        r = poll(tv, http, late["id"])
        assert r.status_code == 404 and r.json()["errors"][0]["code"] == 1020
        with pytest.raises(ValueError, match="expired"):
            tv.authorize(late["id"], user)


def test_authorized_pin_expires_too(tv: PlexTv, http: httpx.Client) -> None:
    user = tv.add_user()
    pin = create_pin(tv, http)
    tv.authorize(pin["id"], user)
    tv.expire(pin["id"])
    assert poll(tv, http, pin["id"]).status_code == 404


@pytest.mark.parametrize("token", [None, "not-a-token"])
def test_user_needs_a_valid_token(tv: PlexTv, http: httpx.Client, token: str | None) -> None:
    headers = {**HEADERS, **({"X-Plex-Token": token} if token else {})}
    r = http.get(f"{tv.url}/api/v2/user", headers=headers)
    assert r.status_code == 401
    assert r.json() == {"errors": [{"code": 1001, "message": "User could not be authenticated", "status": 401}]}


def test_token_as_query_param_works_and_is_logged(tv: PlexTv, http: httpx.Client) -> None:
    user = tv.add_user()
    r = http.get(f"{tv.url}/api/v2/user", params={"X-Plex-Token": user.auth_token}, headers=HEADERS)
    assert r.status_code == 200
    assert tv.requests[-1].query == {"X-Plex-Token": [user.auth_token]}


def test_revoked_token_is_401(tv: PlexTv, http: httpx.Client) -> None:
    user = tv.add_user()
    tv.revoke(user)
    r = http.get(f"{tv.url}/api/v2/user", headers={**HEADERS, "X-Plex-Token": user.auth_token})
    assert r.status_code == 401
    with pytest.raises(ValueError):
        tv.authorize(create_pin(tv, http)["id"], user)


def test_request_log(tv: PlexTv, http: httpx.Client) -> None:
    pin = create_pin(tv, http)
    poll(tv, http, pin["id"])
    log = tv.requests
    assert [(r.method, r.path, r.query) for r in log] == [
        ("POST", "/api/v2/pins", {"strong": ["true"]}), ("GET", f"/api/v2/pins/{pin['id']}", {})]
    assert {r.headers["x-plex-client-identifier"] for r in log} == {CLIENT}
    tv.reset_log()
    assert tv.requests == []


def test_without_json_accept_answers_xml(tv: PlexTv, http: httpx.Client) -> None:
    r = http.post(f"{tv.url}/api/v2/pins", headers={k: v for k, v in HEADERS.items() if k != "Accept"})
    assert r.status_code == 201 and r.headers["content-type"] == "application/xml"
    assert r.text.startswith("<?xml") and "<pin " in r.text


def test_unknown_endpoint_is_404(tv: PlexTv, http: httpx.Client) -> None:
    r = http.get(f"{tv.url}/api/v2/resources", headers=HEADERS)
    assert r.status_code == 404 and r.json()["errors"][0]["code"] == 1002


@pytest.mark.parametrize(("status", "code"), [(500, 1007), (503, 1013), (429, 1003)])
def test_fail_status(tv: PlexTv, http: httpx.Client, status: int, code: int) -> None:
    tv.fail_status = status
    r = http.post(f"{tv.url}/api/v2/pins?strong=true", headers=HEADERS)
    assert r.status_code == status
    [error] = r.json()["errors"]
    assert error["code"] == code and error["status"] == status and error["message"]
    assert tv.pins == {}
    tv.reset_failures()
    assert create_pin(tv, http)["id"] in tv.pins


def test_garbage(tv: PlexTv, http: httpx.Client) -> None:
    tv.garbage = True
    r = http.get(f"{tv.url}/api/v2/user", headers=HEADERS)
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    with pytest.raises(ValueError):
        r.json()


def test_drop(tv: PlexTv, http: httpx.Client) -> None:
    tv.drop = True
    with pytest.raises(httpx.RemoteProtocolError):
        http.post(f"{tv.url}/api/v2/pins?strong=true", headers=HEADERS)
    assert len(tv.requests) == 1  # it was received, just not answered
    tv.drop = False
    create_pin(tv, http)


def test_delay(tv: PlexTv, http: httpx.Client) -> None:
    tv.delay_s = 1.0
    with pytest.raises(httpx.ReadTimeout):
        http.get(f"{tv.url}/api/v2/user", headers=HEADERS, timeout=0.2)
    tv.delay_s = 0.3
    started = time.monotonic()
    assert http.get(f"{tv.url}/api/v2/user", headers=HEADERS).status_code == 401
    assert time.monotonic() - started >= 0.3


def test_stop_cuts_a_delayed_request_short(http: httpx.Client) -> None:
    tv = PlexTv().start()
    tv.delay_s = 30
    errors: list[BaseException] = []

    def call() -> None:
        try:
            http.get(f"{tv.url}/api/v2/user", headers=HEADERS)
        except httpx.HTTPError as exc:
            errors.append(exc)

    worker = threading.Thread(target=call)
    worker.start()
    time.sleep(0.2)
    started = time.monotonic()
    tv.stop()
    worker.join(timeout=5)
    assert not worker.is_alive() and time.monotonic() - started < 5
    assert errors and isinstance(errors[0], httpx.RemoteProtocolError)


def test_users_are_distinct(tv: PlexTv) -> None:
    a, b = tv.add_user(), tv.add_user()
    assert isinstance(a, PlexUser) and a.id != b.id and a.uuid != b.uuid and a.auth_token != b.auth_token
    assert len(a.auth_token) == 20 and a.title == a.username
    with pytest.raises(ValueError):
        tv.add_user(auth_token=a.auth_token)


def test_auth_url_params_rejects_other_shapes() -> None:
    with pytest.raises(ValueError):
        auth_url_params("https://app.plex.tv/auth?clientID=x&code=y")
    assert auth_url_params("https://app.plex.tv/auth/#!?code=y")["code"] == "y"
