"""Every page renders in both themes, on a desktop and on a phone, without console errors (the fixtures fail a
test on any), and its screenshot is saved to tests/artifacts/. Plus the admin's scan with live progress."""

from __future__ import annotations

import re
import shutil
from collections.abc import Callable
from pathlib import Path

import pytest
from playwright.sync_api import Page, expect

from tests.liveserver import LiveServer, rescan
from tests.web.conftest import allow_console_errors, shot, sign_in

PAGES = [("library", "#/library", "Library"), ("music", "#/library?kind=audio", "Music"),
         ("liked", "#/me/favorites", "Liked"), ("history", "#/me/history", "History"),
         ("playlists", "#/playlists", "Playlists"), ("downloads", "#/downloads", "Downloads"),
         ("subscriptions", "#/subscriptions", "Subscriptions"),
         ("podcasts", "#/library?genre=Podcast&sort=uploaded_at", "Podcasts"),
         ("status", "#/status", "Status"), ("account", "#/account", "Account"),
         ("admin-users", "#/admin/users", "Users"), ("admin-services", "#/admin/services", "Services"),
         ("admin-library", "#/admin/library", "Library"), ("admin-audit", "#/admin/audit", "Audit")]


@pytest.mark.parametrize("phone", [False, True], ids=["desktop", "phone"])
def test_every_page_renders_in_both_themes(new_page: Callable[..., Page], web_server: LiveServer, phone: bool) -> None:
    page = new_page(phone=phone)
    sign_in(page)
    for theme in ("dark", "light"):
        if page.locator("html").get_attribute("data-theme") != theme:
            page.get_by_test_id("theme-toggle").click()
        expect(page.locator("html")).to_have_attribute("data-theme", theme)
        for name, hash_, heading in PAGES:
            page.goto("/" + hash_)
            expect(page.locator("main h1").first).to_contain_text(heading, ignore_case=True)
            expect(page.locator("main[aria-busy]")).to_have_count(0)
            # Nothing sticks out sideways: the layout fits the screen it is on.
            width = page.evaluate("document.documentElement.scrollWidth")
            assert width <= page.viewport_size["width"], (name, width)  # type: ignore[index]
            shot(page, f"{name}-{theme}-{'phone' if phone else 'desktop'}")
    # The theme is remembered across a reload.
    page.reload()
    expect(page.locator("html")).to_have_attribute("data-theme", "light")


def test_phone_navigation_opens_as_a_drawer(phone_page: Page, web_server: LiveServer) -> None:
    sign_in(phone_page)
    nav = phone_page.get_by_test_id("nav")
    expect(nav).not_to_be_in_viewport()
    phone_page.get_by_role("button", name="Menu").click()
    expect(nav).to_be_in_viewport()
    nav.get_by_role("link", name="Playlists").click()
    expect(phone_page).to_have_url(re.compile("#/playlists$"))
    expect(nav).not_to_be_in_viewport()


def test_an_admin_scan_shows_live_progress_to_the_end(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    page.goto("/#/admin/library")
    page.get_by_test_id("scan-now").click()
    progress = page.get_by_test_id("scan-progress")
    expect(progress).to_have_attribute("data-status", "completed", timeout=30_000)
    expect(progress).to_have_attribute("data-percent", re.compile(r"^100(\.0+)?$"))
    shot(page, "admin-scan")


def test_an_unknown_page_says_so_instead_of_a_blank_page(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    page.goto("/#/no-such-page")
    expect(page.get_by_role("heading", name="Page not found")).to_be_visible()
    expect(page.get_by_role("link", name="Back to the library")).to_be_visible()


def test_a_missing_item_reads_as_an_error_not_a_blank_page(page: Page, web_server: LiveServer) -> None:
    sign_in(page)
    allow_console_errors(page, r"status of 404")  # the browser's own line for the refused request
    page.goto("/#/watch/999999")
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("could not be loaded")
    expect(alert).to_contain_text("not found", ignore_case=True)
    expect(alert.get_by_role("button", name="Try again")).to_be_visible()
    page.goto("/#/library")
    allow_console_errors(page, r"status of 4\d\d")
    page.goto("/#/watch/%E0%A4")  # a broken escape, typed by hand: still words, not an exception
    expect(page.get_by_role("alert")).to_contain_text("could not be loaded")


def test_the_library_loads_more_as_you_scroll(page: Page, web_server: LiveServer,
                                              media_source: tuple[Path, dict[str, str]]) -> None:
    """60 matches: the first 50 come at once, the rest when the end of the list comes into view."""
    folder = web_server.media_dir / "Filler"
    folder.mkdir(exist_ok=True)
    for n in range(60):  # untagged: each is titled by its file name
        shutil.copyfile(media_source[0] / media_source[1]["untagged"], folder / f"Zz Filler {n:03}.mp3")
    assert rescan(web_server)["status"] == "completed"
    sign_in(page)
    page.goto("/#/library?q=filler&sort=title")
    expect(page.get_by_test_id("result-count")).to_have_text("60 items")
    items = page.get_by_test_id("media-item")
    expect(items).to_have_count(50)
    items.nth(49).scroll_into_view_if_needed()
    expect(items).to_have_count(60)
    expect(items.last).to_contain_text("Zz Filler 059")
