"""The downloads page's text-to-speech form, in Chromium against a live server: the offline engine's languages
and voices listed, a German text spoken with a voice variant and a chosen format, the job shown in the list
like any download until it completes; Google picked without its connection says so in the form."""

from __future__ import annotations

from collections.abc import Callable

from playwright.sync_api import Page, expect

from tests.liveserver import LiveServer
from tests.loopback import http
from tests.web.conftest import allow_console_errors, shot, sign_in

WAIT_MS = 20_000


def test_speak_a_text_and_follow_it_in_the_list(new_page: Callable[..., Page], web_server: LiveServer) -> None:
    page = new_page()
    allow_console_errors(page, r"status of 503")  # Google without a connection, asked on purpose below
    sign_in(page)
    page.goto("/#/downloads")
    page.get_by_test_id("tts").locator("summary").click()
    language = page.get_by_test_id("tts-language")
    expect(language.locator("option[value=de]")).to_have_count(1, timeout=WAIT_MS)
    language.select_option("de")
    page.get_by_test_id("tts-voice").select_option("f3")
    page.get_by_test_id("tts-format").select_option("opus")
    page.get_by_test_id("tts-text").fill("Guten Abend. Dieser Text wird vorgelesen und landet in der Bibliothek.")
    shot(page, "speech-form")
    page.get_by_test_id("tts-start").click()
    row = page.get_by_test_id("download-row").filter(has_text="Guten Abend")
    expect(row).to_have_count(1)
    expect(row.get_by_test_id("download-status")).to_have_text("completed", timeout=3 * WAIT_MS)
    expect(page.get_by_test_id("tts-text")).to_have_value("")
    made = http().get(f"{web_server.base_url}/api/v1/downloads", headers=web_server.headers()).json()["data"]
    mine = [d for d in made if d["title"].startswith("Guten Abend")]
    assert [(d["url"], d["audio_format"], d["status"]) for d in mine] == [("speech:offline:de", "opus", "completed")]

    page.get_by_test_id("tts-provider").select_option("google")
    expect(page.get_by_test_id("tts-error")).to_contain_text("google_tts")
    page.get_by_test_id("tts-source-url").check()
    expect(page.get_by_test_id("tts-url")).to_be_visible()
    expect(page.get_by_test_id("tts-text")).to_be_hidden()
