"""How the UI's files are served, asked of the real server without a browser: the page, its modules and
styles, revalidation, and nothing outside the static folder. (Plain `def` tests: once Playwright's sync API
runs in this session, an asyncio test here could not start its loop.)"""

from __future__ import annotations

import httpx

from medianest import __version__
from tests.liveserver import LiveServer


def test_the_page_loads_its_versioned_entry_points(web_server: LiveServer) -> None:
    r = httpx.get(f"{web_server.base_url}/")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert r.headers["cache-control"] == "no-cache"
    assert f"/static/js/main.js?v={__version__}" in r.text and f"/static/css/app.css?v={__version__}" in r.text
    js = httpx.get(f"{web_server.base_url}/static/js/main.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    # Modules import each other by plain URLs: the browser must revalidate them, not keep stale ones.
    assert js.headers["cache-control"] == "no-cache" and js.headers["etag"]
    again = httpx.get(f"{web_server.base_url}/static/js/main.js", headers={"If-None-Match": js.headers["etag"]})
    assert again.status_code == 304


def test_nothing_outside_the_static_folder_is_served(web_server: LiveServer) -> None:
    for path in ("/static/../web/routes.py", "/static/%2e%2e/routes.py", "/static/..%2froutes.py",
                 "/static/js/%2e%2e/%2e%2e/routes.py", "/static/nope.js"):
        r = httpx.get(f"{web_server.base_url}{path}")
        assert r.status_code == 404, path
        assert r.json()["error"]["code"] == "NOT_FOUND"  # the contract's envelope, like any other 404
