"""The browser starts, and the server hands it the web UI's page and its vendored Socket.IO client."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_the_home_page_loads_in_a_real_browser(page: Page) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    expect(page).to_have_title(re.compile("MediaNest"))
    vendor = page.request.get("/static/vendor/socket.io.esm.min.js")
    assert vendor.status == 200
    assert "javascript" in vendor.headers["content-type"]
