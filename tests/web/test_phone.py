"""The web UI on a phone (390x844, touch) in the real Chromium: the player bar's controls all on screen, the
mini video player with close and expand controls that covers nothing of the page, the admin's users and audit
pages without sideways overflow or words broken mid-word, and the top bar's search placeholder read whole.
Screenshots of each land in tests/artifacts/."""

from __future__ import annotations

import re
import shutil
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Locator, Page, expect

from tests.liveserver import LiveServer, rescan
from tests.web.conftest import PHONE, create_user, shot, sign_in

# Slows playback so a 3-4 s fixture does not end (and change the page) while a test looks at it.
SLOW = "el => { el.defaultPlaybackRate = 0.0625; el.playbackRate = 0.0625; }"
ROWS = 14  # enough list rows that the library scrolls on a phone


def _inside_screen(locator: Locator) -> dict[str, Any] | None:
    box = locator.bounding_box()
    assert box is not None, f"{locator} has no box"
    inside = (box["x"] >= 0 and box["y"] >= 0 and box["x"] + box["width"] <= PHONE["width"]
              and box["y"] + box["height"] <= PHONE["height"])
    return None if inside else dict(box)


def test_every_player_bar_control_is_on_a_phone_screen(phone_page: Page, web_server: LiveServer) -> None:
    page = phone_page
    sign_in(page)
    page.goto("/#/library?kind=audio&q=circle")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")
    page.get_by_test_id("audio").evaluate(SLOW)
    page.get_by_test_id("media-item").click()
    expect(page.get_by_test_id("now-playing-title")).to_have_text("Circle")
    bar = page.locator("#player")
    named = {"seek": bar.get_by_test_id("seek"), "play/pause": bar.get_by_test_id("play-pause"),
             "next": bar.get_by_role("button", name="Next", exact=True),
             "previous": bar.get_by_role("button", name="Previous"),
             "elapsed": bar.locator(".np-time").first, "duration": bar.locator(".np-time").last}
    for name, control in named.items():
        expect(control, name).to_be_visible()
    shown = [c for c in bar.locator("button, input, .np-time").all() if c.is_visible()]
    outside = {c.evaluate("el => el.getAttribute('aria-label') || el.className"): box
               for c in [*named.values(), *shown] if (box := _inside_screen(c))}
    shot(page, "phone-player-bar")
    assert not outside, f"player bar controls beyond the 390x844 screen: {outside}"
    # The page scrolls above the bar, never under it.
    content = page.locator("main").bounding_box()
    top = bar.bounding_box()
    assert content and top and content["y"] + content["height"] <= top["y"] + 0.5, (content, top)


@pytest.fixture
def many_rows(web_server: LiveServer, media_source: tuple[Path, dict[str, str]]) -> str:
    """ROWS more audio items, titled "Phoneline NN" by their file names; returns the query that lists them."""
    folder = web_server.media_dir / "Phonelines"
    if not folder.exists():
        folder.mkdir()
        for n in range(ROWS):
            shutil.copyfile(media_source[0] / media_source[1]["untagged"], folder / f"Phoneline {n:02}.mp3")
        assert rescan(web_server)["status"] == "completed"
    return "phoneline"


_COVERED_ACTIONS = """root => {
    // Each row action, scrolled to the bottom of the page's scroll area, then to its top: what the finger
    // would touch at its centre must be the action itself.
    const covered = [];
    for (const action of root.querySelectorAll("[data-testid=media-item] button")) {
        for (const block of ["end", "start"]) {
            action.scrollIntoView({ block });
            const r = action.getBoundingClientRect();
            const hit = document.elementFromPoint(r.x + r.width / 2, r.y + r.height / 2);
            if (!hit || !action.contains(hit)) {
                const under = hit ? hit.className || hit.tagName : "nothing";
                covered.push(`${action.getAttribute("aria-label")} (${block}) under ${under}`);
            }
        }
    }
    return covered;
}"""


def test_the_mini_player_closes_expands_and_covers_no_row_action(phone_page: Page, web_server: LiveServer,
                                                                 many_rows: str) -> None:
    page = phone_page
    sign_in(page)
    page.goto("/#/library?kind=video&q=bars")
    expect(page.get_by_test_id("result-count")).to_have_text("1 item")
    page.get_by_test_id("video").evaluate(SLOW)
    page.get_by_test_id("media-item").click()
    expect(page).to_have_url(re.compile(r"#/watch/\d+$"))
    watch_url = page.url
    video = page.get_by_test_id("video")
    video.evaluate("v => v.currentTime > 0 || new Promise(ok => v.addEventListener('timeupdate', ok, {once: true}))")
    src = video.evaluate("v => v.src")

    # Leaving the page: the video goes on in the mini player, which has its own controls.
    page.evaluate("localStorage.setItem('medianest.view', 'list')")
    page.goto(f"/#/library?q={many_rows}&sort=title")
    expect(page.get_by_test_id("result-count")).to_have_text(f"{ROWS} items")
    mini = page.get_by_test_id("mini-player")
    expect(mini).to_be_visible()
    expect(mini.get_by_test_id("video")).to_be_visible()
    close = mini.get_by_role("button", name="Close the video")
    expand = mini.get_by_role("button", name="Expand the video")
    expect(close).to_be_visible()
    expect(expand).to_be_visible()
    assert video.evaluate("v => !v.paused")
    shot(page, "phone-mini-player")
    covered = page.locator("[data-testid=media-list]").evaluate(_COVERED_ACTIONS)
    assert not covered, f"row actions covered: {covered}"

    # Expand: back to the watch page, the same video going on (not restarted).
    expand.click()
    expect(page).to_have_url(watch_url)
    expect(page.get_by_test_id("stage").get_by_test_id("video")).to_be_visible()
    expect(mini).to_be_hidden()
    assert video.evaluate("v => v.src") == src

    # Close: the video stops and the mini player and the player bar go away.
    page.goto(f"/#/library?q={many_rows}")
    expect(mini).to_be_visible()
    close.click()
    expect(mini).to_be_hidden()
    expect(page.locator("#player")).to_be_hidden()
    assert video.evaluate("v => v.paused")


# Elements wider than their box (a table scrolling sideways inside its wrapper counts), and words drawn on two
# lines (each word's text range must sit on one line box).
_OVERFLOW_AND_BROKEN_WORDS = """root => {
    const wide = [], broken = [];
    const vw = document.documentElement.clientWidth;
    for (const el of [root, ...root.querySelectorAll("*")]) {
        if (!el.getClientRects().length) continue;
        const r = el.getBoundingClientRect();
        const style = getComputedStyle(el);
        const clipsOnPurpose = style.textOverflow === "ellipsis";
        if (r.right > vw + 0.5 || r.left < -0.5) wide.push(`${el.tagName}.${el.className} spans ${r.left}..${r.right}`);
        else if (el.clientWidth && el.scrollWidth > el.clientWidth + 1 && !clipsOnPurpose) {
            wide.push(`${el.tagName}.${el.className} scrolls ${el.scrollWidth} > ${el.clientWidth}`);
        }
    }
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT);
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
        for (const m of node.data.matchAll(/\\S+/g)) {
            const range = document.createRange();
            range.setStart(node, m.index);
            range.setEnd(node, m.index + m[0].length);
            const tops = new Set([...range.getClientRects()].filter((q) => q.width > 0).map((q) => Math.round(q.top)));
            if (tops.size > 1) broken.push(m[0]);
        }
    }
    return { wide, broken };
}"""


def test_admin_users_and_audit_fit_a_phone_without_breaking_words(phone_page: Page, web_server: LiveServer) -> None:
    for name in ("maximilian.mustermann", "phone.person@example.org"):
        create_user(web_server, name)
    page = phone_page
    sign_in(page)
    for hash_, rows in (("#/admin/users", "user-row"), ("#/admin/audit", "audit-row")):
        page.goto("/" + hash_)
        expect(page.get_by_test_id(rows).first).to_be_visible()
        expect(page.locator("main[aria-busy]")).to_have_count(0)
        found = page.locator("main").evaluate(_OVERFLOW_AND_BROKEN_WORDS)
        shot(page, f"phone-{hash_.rsplit('/', 1)[-1]}")
        assert found == {"wide": [], "broken": []}, (hash_, found)


def test_the_search_placeholder_reads_whole_on_a_phone(phone_page: Page, web_server: LiveServer) -> None:
    page = phone_page
    sign_in(page)
    search = page.get_by_test_id("global-search")
    expect(search).to_have_value("")
    placeholder = search.get_attribute("placeholder")
    assert placeholder and placeholder.strip()
    # The placeholder's text drawn in the input's font against the room inside the input.
    fits = search.evaluate("""el => {
        const s = getComputedStyle(el);
        const ctx = document.createElement("canvas").getContext("2d");
        ctx.font = `${s.fontStyle} ${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
        const room = el.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
        return { text: ctx.measureText(el.placeholder).width, room, scroll: el.scrollWidth, client: el.clientWidth };
    }""")
    shot(page, "phone-search")
    assert fits["text"] <= fits["room"], (placeholder, fits)
    assert fits["scroll"] <= fits["client"], (placeholder, fits)
