"""`/api/docs` works without internet: Swagger UI, its style sheet and the favicon come from the server itself,
and a real Chromium with every outside request refused renders the list of operations."""

from __future__ import annotations

import re
from collections.abc import Iterator
from urllib.parse import urljoin, urlsplit

import httpx
import pytest
from playwright.sync_api import Browser, Route, expect, sync_playwright

from tests.server.conftest import LiveServer
from tests.web.conftest import CHROMIUM, LAUNCH_ARGS

LOCAL = "127.0.0.1"
TYPES = {".js": "text/javascript", ".css": "text/css", ".svg": "image/svg+xml", ".png": "image/png"}


def _referenced(html: str) -> list[str]:
    return re.findall(r'(?:src|href)="([^"]+)"', html)


def test_the_docs_page_references_only_this_server(live_server: LiveServer) -> None:
    r = httpx.get(f"{live_server.base_url}/api/docs")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assets = _referenced(r.text)
    assert len(assets) == 3  # the script, the style sheet, the favicon
    assert not re.search(r"https?://", r.text), "the docs page names another host"
    for asset in assets:
        url = urljoin(r.url.__str__(), asset)
        assert urlsplit(url).hostname == LOCAL
        served = httpx.get(url)
        assert served.status_code == 200, asset
        suffix = asset[asset.rindex("."):]
        assert served.headers["content-type"].split(";")[0] == TYPES[suffix], asset


def test_the_docs_policy_allows_only_this_server_and_its_own_start_up_script(live_server: LiveServer) -> None:
    csp = httpx.get(f"{live_server.base_url}/api/docs").headers["content-security-policy"]
    script_src = re.search(r"script-src ([^;]+)", csp)
    assert script_src and "'unsafe-inline'" not in script_src.group(1) and "'sha256-" in script_src.group(1)
    assert "http" not in csp  # no outside host at all, not even for images


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    # Per module: Playwright's sync API keeps an event loop in this thread while it runs.
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, timeout=60_000)
        yield b
        b.close()


def test_swagger_ui_renders_every_operation_with_the_outside_world_unreachable(
        live_server: LiveServer, browser: Browser) -> None:
    operations = sum(len(ops) for ops in httpx.get(f"{live_server.base_url}/api/openapi.json").json()["paths"].values())
    outside: list[str] = []
    problems: list[str] = []

    def only_local(route: Route) -> None:
        if urlsplit(route.request.url).hostname == LOCAL:
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    context = browser.new_context()
    try:
        context.route("**/*", only_local)
        page = context.new_page()
        page.on("console", lambda msg: problems.append(msg.text) if msg.type == "error" else None)
        page.on("pageerror", lambda err: problems.append(str(err)))
        page.goto(f"{live_server.base_url}/api/docs")
        expect(page.locator(".opblock").first).to_be_visible(timeout=30_000)
        expect(page.locator(".opblock")).to_have_count(operations)
        expect(page.locator(".opblock-summary-path", has_text="/api/v1/media/{media_id}/stream").first).to_be_visible()
    finally:
        context.close()
    assert outside == [], f"the docs page tried to reach beyond {LOCAL}"
    assert problems == []  # no CSP refusal, no script error
