"""The browser starts, and the server hands it the web UI's page and its vendored libraries (the Socket.IO
client, and hls.js with its licence, which the player loads for HLS where the browser has no HLS of its own)."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect


def test_the_home_page_loads_in_a_real_browser(page: Page) -> None:
    response = page.goto("/")
    assert response is not None and response.status == 200
    expect(page).to_have_title(re.compile("MediaNest"))
    for script in ("socket.io.esm.min.js", "hls.light.min.mjs"):
        vendor = page.request.get(f"/static/vendor/{script}")
        assert vendor.status == 200, script
        assert "javascript" in vendor.headers["content-type"], script  # a module script needs a JavaScript type
    assert "Apache License" in page.request.get("/static/vendor/hls.js.LICENSE").text()
    # The module loads in the browser and finds what it needs here (Media Source Extensions).
    assert page.evaluate("import('/static/vendor/hls.light.min.mjs').then(m => m.default.isSupported())")
