"""Who may read bytes: bearer tokens, media tokens bound to one item, deleted items and missing files."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

from tests.conftest import bearer
from tests.streaming.conftest import Library


def _token(item: dict[str, object]) -> str:
    return parse_qs(urlsplit(str(item["stream_url"])).query)["token"][0]


def _assert_error(r: object, status: int, code: str) -> None:
    assert r.status_code == status, r.text  # type: ignore[attr-defined]
    assert r.json()["error"]["code"] == code  # type: ignore[attr-defined]


async def test_no_credentials_is_401(library: Library) -> None:
    item = library.item("Jóga")
    for method in ("GET", "HEAD"):
        r = await library.client.request(method, f"/api/v1/media/{item['id']}/stream")
        assert r.status_code == 401
        assert r.headers["www-authenticate"] == "Bearer"
    _assert_error(await library.client.get(f"/api/v1/media/{item['id']}/stream"), 401, "UNAUTHORIZED")
    _assert_error(await library.client.get(f"/api/v1/media/{item['id']}/artwork"), 401, "UNAUTHORIZED")


async def test_media_token_for_one_item_is_refused_for_another(library: Library) -> None:
    joga, circle = library.item("Jóga"), library.item("Circle")
    url = f"/api/v1/media/{circle['id']}/stream"
    _assert_error(await library.client.get(url, params={"token": _token(joga)}), 401, "UNAUTHORIZED")
    _assert_error(await library.client.get(f"/api/v1/media/{circle['id']}/artwork",
                                           params={"token": _token(joga)}), 401, "UNAUTHORIZED")
    r = await library.client.get(url, params={"token": _token(circle)})
    assert r.status_code == 200


async def test_tokens_are_only_good_for_their_own_scope(library: Library) -> None:
    item = library.item("Jóga")
    url = f"/api/v1/media/{item['id']}/stream"
    # An access token is not a media token, and a media token is not an access token.
    _assert_error(await library.client.get(url, params={"token": library.token}), 401, "UNAUTHORIZED")
    _assert_error(await library.client.get(url, headers=bearer(_token(item))), 401, "UNAUTHORIZED")
    for junk in ("", "garbage", _token(item)[:-2] + "xx", "a.b.c"):
        _assert_error(await library.client.get(url, params={"token": junk}), 401, "UNAUTHORIZED")
    r = await library.client.get(url, headers=bearer(library.token))
    assert r.status_code == 200


async def test_unknown_and_odd_ids_are_404(library: Library) -> None:
    for media_id in ("999999", "abc", "1.5", "٣", "9" * 40):
        r = await library.client.get(f"/api/v1/media/{media_id}/stream", headers=bearer(library.token))
        _assert_error(r, 404, "NOT_FOUND")


async def test_soft_deleted_item_is_404(own_library: Library) -> None:
    item = own_library.item("Circle")
    assert (await own_library.stream("Circle")).status_code == 200  # fills the access cache first
    assert (await own_library.client.get(item["artwork_url"])).status_code == 200
    r = await own_library.client.delete(f"/api/v1/media/{item['id']}", headers=bearer(own_library.token))
    assert r.status_code == 204
    _assert_error(await own_library.stream("Circle"), 404, "NOT_FOUND")
    _assert_error(await own_library.stream_bearer("Circle"), 404, "NOT_FOUND")
    _assert_error(await own_library.client.get(item["artwork_url"]), 404, "NOT_FOUND")
    assert (await own_library.stream("Circle", method="HEAD")).status_code == 404
    assert own_library.files["Circle"].exists()  # a soft delete keeps the file


async def test_file_deleted_from_disk_is_404_not_500(own_library: Library) -> None:
    assert (await own_library.stream("Square")).status_code == 200
    own_library.files["Square"].unlink()
    _assert_error(await own_library.stream("Square"), 404, "NOT_FOUND")
    _assert_error(await own_library.stream("Square", {"Range": "bytes=0-9"}), 404, "NOT_FOUND")
    assert (await own_library.stream("Square", method="HEAD")).status_code == 404


async def test_file_replaced_by_a_directory_is_404(own_library: Library) -> None:
    path = own_library.files["Square"]
    path.unlink()
    path.mkdir()
    _assert_error(await own_library.stream("Square"), 404, "NOT_FOUND")


async def test_suspended_user_is_refused_at_once(library: Library) -> None:
    user_token = await library.api.create_user(library.token, "listener")
    me = (await library.client.get("/api/v1/auth/me", headers=bearer(user_token))).json()["data"]
    item = (await library.client.get(f"/api/v1/media/{library.item('Jóga')['id']}",
                                     headers=bearer(user_token))).json()["data"]
    assert (await library.client.get(item["stream_url"])).status_code == 200
    r = await library.client.patch(f"/api/v1/users/{me['id']}", json={"status": "suspended"},
                                   headers=bearer(library.token))
    assert r.status_code == 200, r.text
    _assert_error(await library.client.get(item["stream_url"]), 403, "FORBIDDEN")
