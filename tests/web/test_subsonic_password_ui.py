"""The account page's "Subsonic apps" section: generate a Subsonic password and see it once (with the server
address and username to type into the app, each with a copy button), set one's own, remove it."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable

import httpx
from playwright.sync_api import Page, expect

from tests.liveserver import LiveServer
from tests.web.conftest import api_token, create_user, shot, sign_in

GENERATED = re.compile(r"^[A-HJ-NP-Za-km-np-z2-9]{6}(-[A-HJ-NP-Za-km-np-z2-9]{6}){3}$")


def _is_set(server: LiveServer, token: str) -> bool:
    r = httpx.get(f"{server.base_url}/api/v1/auth/subsonic-password", headers={"Authorization": f"Bearer {token}"})
    assert r.status_code == 200, r.text
    value: bool = r.json()["data"]["set"]
    return value


def _subsonic_ping(server: LiveServer, username: str, password: str) -> dict[str, object]:
    """/rest/ping with token auth (t = md5(password + salt)), as a Subsonic app signs in."""
    salt = secrets.token_hex(6)
    params = {"u": username, "t": hashlib.md5((password + salt).encode()).hexdigest(), "s": salt,  # noqa: S324
              "v": "1.16.1", "c": "medianest-tests", "f": "json"}
    r = httpx.get(f"{server.base_url}/rest/ping.view", params=params)
    assert r.status_code == 200, r.text
    answer: dict[str, object] = r.json()["subsonic-response"]
    return answer


def test_generate_a_subsonic_password_see_it_once_then_set_ones_own_and_remove_it(
        new_page: Callable[..., Page], web_server: LiveServer) -> None:
    create_user(web_server, "sonic-fan")
    token = api_token(web_server, "sonic-fan")
    page = new_page(permissions=["clipboard-read", "clipboard-write"])
    sign_in(page, "sonic-fan")
    page.goto("/#/account")
    section = page.get_by_test_id("subsonic")
    expect(section.get_by_test_id("subsonic-state")).to_have_text("Not set")
    expect(section.get_by_test_id("subsonic-server")).to_have_text(web_server.base_url)
    expect(page.get_by_test_id("subsonic-remove")).to_have_count(0)

    page.get_by_test_id("subsonic-generate").click()
    password_box = page.get_by_test_id("subsonic-password-value")
    expect(password_box).to_be_visible()
    password = password_box.input_value()
    assert GENERATED.match(password), password
    expect(page.get_by_test_id("subsonic-server-value")).to_have_value(web_server.base_url)
    expect(page.get_by_test_id("subsonic-username-value")).to_have_value("sonic-fan")
    page.get_by_test_id("copy-subsonic-password-value").click()
    expect(page.get_by_test_id("copy-subsonic-password-value")).to_have_text("Copied")
    assert page.evaluate("navigator.clipboard.readText()") == password
    shot(page, "subsonic-password-generated")
    page.get_by_role("button", name="Done").click()
    expect(password_box).to_have_count(0)
    expect(section.get_by_test_id("subsonic-state")).to_have_text("Set")
    assert _is_set(web_server, token)
    assert _subsonic_ping(web_server, "sonic-fan", password)["status"] == "ok"  # what an app would do with it

    page.reload()  # shown once: nowhere on the page after that
    expect(section.get_by_test_id("subsonic-state")).to_have_text("Set")
    assert password not in page.content()

    # A new one replaces it only after a confirmation.
    page.get_by_test_id("subsonic-generate").click()
    page.get_by_role("button", name="Cancel").click()
    expect(password_box).to_have_count(0)

    own = page.get_by_test_id("subsonic-own")
    own.fill("short")
    page.get_by_test_id("subsonic-save").click()  # the browser's own check refuses it: nothing is sent
    assert own.evaluate("el => el.validity.tooShort")
    own.fill("my own subsonic password")
    page.get_by_test_id("subsonic-save").click()
    expect(page.locator(".toast")).to_contain_text("Your Subsonic password was set.")
    expect(own).to_have_value("")
    assert _subsonic_ping(web_server, "sonic-fan", "my own subsonic password")["status"] == "ok"
    assert _subsonic_ping(web_server, "sonic-fan", password)["status"] == "failed"  # the generated one is gone

    page.get_by_test_id("subsonic-remove").click()
    page.get_by_role("dialog").get_by_role("button", name="Remove").click()
    expect(section.get_by_test_id("subsonic-state")).to_have_text("Not set")
    expect(page.get_by_test_id("subsonic-remove")).to_have_count(0)
    assert not _is_set(web_server, token)
    assert _subsonic_ping(web_server, "sonic-fan", "my own subsonic password")["status"] == "failed"
    shot(page, "subsonic-password-removed")


def test_on_a_phone_the_section_and_the_reveal_fit_the_screen(phone_page: Page, web_server: LiveServer) -> None:
    create_user(web_server, "sonic-phone")
    sign_in(phone_page, "sonic-phone")
    phone_page.goto("/#/account")
    expect(phone_page.get_by_test_id("subsonic-state")).to_have_text("Not set")
    phone_page.get_by_test_id("subsonic-generate").click()
    password_box = phone_page.get_by_test_id("subsonic-password-value")
    expect(password_box).to_be_in_viewport(ratio=1)
    expect(phone_page.get_by_test_id("copy-subsonic-password-value")).to_be_in_viewport(ratio=1)
    assert GENERATED.match(password_box.input_value())
    shot(phone_page, "subsonic-password-generated-phone")
    phone_page.get_by_role("button", name="Done").click()
    expect(phone_page.get_by_test_id("subsonic-remove")).to_be_visible()
    width = phone_page.evaluate("document.documentElement.scrollWidth")
    assert width <= phone_page.viewport_size["width"], width  # type: ignore[index]
    shot(phone_page, "subsonic-section-phone")
