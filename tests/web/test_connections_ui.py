"""The pages that appear with outside services: requests through a Seerr connection (the Seerr stand-in on
127.0.0.1) and the status board."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from playwright.sync_api import Page, expect

from tests.integrations.seerr import Seerr
from tests.liveserver import LiveServer
from tests.web.conftest import allow_console_errors, shot, sign_in


@pytest.fixture
def seerr(web_server: LiveServer) -> Iterator[Seerr]:
    """Seerr with one film, connected to the shared server for this test only."""
    with Seerr() as standin:
        standin.add_movie(603, "The Matrix", 1999, "A hacker learns what the world really is.")
        r = httpx.post(f"{web_server.base_url}/api/v1/services", headers=web_server.headers(),
                       json={"kind": "seerr", "name": "Seerr", "url": standin.url, "secret": standin.api_key})
        assert r.status_code == 201, r.text
        service = f"{web_server.base_url}/api/v1/services/{r.json()['data']['id']}"
        try:
            yield standin
        finally:
            httpx.delete(service, headers=web_server.headers())


def test_search_and_request_a_film_then_see_it_on_the_board(page: Page, web_server: LiveServer, seerr: Seerr) -> None:
    # Posters come from TMDB's image host, as Seerr names them; the test browser's closed proxy refuses it.
    allow_console_errors(page, r"ERR_PROXY_CONNECTION_FAILED \(https://image\.tmdb\.org/")
    sign_in(page)
    nav = page.get_by_test_id("nav")
    expect(nav.get_by_role("link", name="Requests")).to_be_visible()  # only with a Seerr connection
    # The search is kept in the address (reload and Back show it again): open it from there.
    page.goto("/#/requests?q=matrix")
    expect(page.get_by_test_id("request-search")).to_have_value("matrix")
    result = page.get_by_test_id("search-result").filter(has_text="The Matrix")
    # The server asks Seerr: on a loaded CI machine that may take longer than expect's default 5 s.
    expect(result.get_by_test_id("availability")).to_contain_text("not requested", ignore_case=True,
                                                                  timeout=30_000)
    result.get_by_test_id("request-button").click()
    expect(page.get_by_test_id("request-row").filter(has_text="The Matrix")).to_be_visible(timeout=30_000)
    assert [r.json()["mediaId"] for r in seerr.calls("POST", "/api/v1/request")] == [603]
    shot(page, "requests")
    nav.get_by_role("link", name="Status").click()
    card = page.get_by_test_id("status-card").filter(has_text="Seerr")
    expect(card).to_be_visible()
    shot(page, "status-board")
