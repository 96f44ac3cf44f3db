"""The fast path serves only plain, allowed stream requests; everything else is left to the route."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest

from medianest.api.fastpath import _plain_stream
from tests.conftest import bearer
from tests.streaming.conftest import Library

pytestmark = pytest.mark.parametrize("variant", ["fast path"], indirect=True)


def _scope(library: Library, url: str, method: str = "GET", headers: dict[str, str] | None = None,
           ) -> dict[str, Any]:
    parts = urlsplit(url)
    raw = [(k.lower().encode(), v.encode()) for k, v in (headers or {}).items()]
    return {"type": "http", "method": method, "path": parts.path, "raw_path": parts.path.encode(),
            "query_string": parts.query.encode(), "root_path": "", "headers": raw, "app": library.api.app}


async def test_plain_requests_are_served(library: Library) -> None:
    item = library.item("Jóga")
    plain = f"/api/v1/media/{item['id']}/stream"
    for scope in (_scope(library, item["stream_url"]), _scope(library, item["stream_url"], "HEAD"),
                  _scope(library, plain, headers=bearer(library.token)),
                  _scope(library, plain, headers={"Authorization": f"bearer   {library.token}  "})):
        response = await _plain_stream(scope)
        assert response is not None
        assert response.info.path == str(library.files["Jóga"].resolve())


async def test_everything_else_falls_through_to_the_route(library: Library) -> None:
    joga, circle = library.item("Jóga"), library.item("Circle")
    token = joga["stream_url"].split("token=")[1]
    plain = f"/api/v1/media/{joga['id']}/stream"
    cases = {
        "download": joga["stream_url"] + "&download=1",
        "another parameter": joga["stream_url"] + "&x=1",
        "percent-encoded token": f"{plain}?token=%41{token}",
        "no credentials": plain,
        "junk token": f"{plain}?token=junk",
        "another item's token": f"/api/v1/media/{circle['id']}/stream?token={token}",
        "artwork": f"/api/v1/media/{joga['id']}/artwork?token={token}",
        "odd id": f"/api/v1/media/0x{joga['id']}/stream?token={token}",
        "unknown id": f"/api/v1/media/99999/stream?token={token}",
    }
    for name, url in cases.items():
        assert await _plain_stream(_scope(library, url)) is None, name
    assert await _plain_stream(_scope(library, joga["stream_url"], "POST")) is None
    assert await _plain_stream(_scope(library, plain, headers={"Authorization": f"Basic {token}"})) is None


async def test_gone_items_fall_through(own_library: Library) -> None:
    joga, square = own_library.item("Jóga"), own_library.item("Square")
    assert await _plain_stream(_scope(own_library, joga["stream_url"])) is not None
    r = await own_library.client.delete(f"/api/v1/media/{joga['id']}", headers=bearer(own_library.token))
    assert r.status_code == 204
    assert await _plain_stream(_scope(own_library, joga["stream_url"])) is None
    own_library.files["Square"].unlink()
    assert await _plain_stream(_scope(own_library, square["stream_url"])) is None
