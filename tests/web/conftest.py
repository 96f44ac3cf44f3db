"""Browser tests: a real `medianest serve`, a real Chromium driven by Playwright (sync API), real media.

Fixtures
  web_server     (session)  LiveServer with the admin ("admin", tests.conftest.PASSWORD), the start-up scan done,
                            downloads allowed from private networks and from any site (so http://127.0.0.1:<port>/).
  fresh_server   (function) LiveServer at first run: no user at all (`token` is None).
  media_server   (session)  WebMedia: a MediaServer on 127.0.0.1 serving a real 2 s mp4 made by ffmpeg.
  browser        (module)   Debian's Chromium, headless.
  new_page       (function) factory `new_page(base_url=None, *, phone=False, **context_options) -> Page`; every
                            call opens a fresh context (own cookies and storage): two users, two calls.
  page           (function) new_page() on web_server, 1280x800.
  phone_page     (function) new_page(phone=True) on web_server, 390x844, is_mobile, has_touch.

Every page collects its context's console errors and uncaught page errors in `page.console_errors`; when the
test body ends, any not allowed by `allow_console_errors(page, pattern, ...)` fail the test. When a test fails,
each of its pages is screenshotted to tests/artifacts/failed-<test>-<n>.png.

Helpers: `shot(page, name)`, `sign_in(page, username, password)`, `create_user(server, username, ...)`,
`api_token(server, username, password)`.

The Playwright sync API cannot run while an asyncio loop runs in the same thread: tests here are plain `def`.
"""

from __future__ import annotations

import contextlib
import importlib.metadata
import os
import re
import shutil
import subprocess
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import (
    Browser,
    BrowserContext,
    ConsoleMessage,
    Page,
    Playwright,
    WebError,
    expect,
    sync_playwright,
)
from playwright.sync_api import Error as PlaywrightError

from tests.conftest import PASSWORD
from tests.downloads.mediaserver import MediaServer, make_video
from tests.liveserver import ADMIN, CLOSED_PROXY, LiveServer, serve
from tests.loopback import http

CHROMIUM = os.environ.get("MEDIANEST_TEST_CHROMIUM", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"  # gitignored
DESKTOP = {"width": 1280, "height": 800}
PHONE = {"width": 390, "height": 844}
LAUNCH_ARGS = ["--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run", "--disable-background-networking",
               "--disable-component-update", "--disable-sync", "--autoplay-policy=no-user-gesture-required"]
WEB_ENV = {"MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true",
           "MEDIANEST_DOWNLOADS_ALLOWED_SITES": ""}  # empty: every site (overrides one set in the environment)

_PAGES = pytest.StashKey[list[Page]]()
# Assertions wait up to 20 s (Playwright's default is 5): on a loaded CI machine a server round trip (a scan,
# a Seerr search, a download) can take longer. A wait, not a timing check: they pass as soon as it is true.
expect.set_options(timeout=20_000)


# -- servers -------------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def web_server(tmp_path_factory: pytest.TempPathFactory,
               media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    with serve(tmp_path_factory.mktemp("web"), media_source[0], extra_env=WEB_ENV) as server:
        yield server


@pytest.fixture
def fresh_server(tmp_path: Path, media_source: tuple[Path, dict[str, str]]) -> Iterator[LiveServer]:
    with serve(tmp_path / "fresh", media_source[0], extra_env=WEB_ENV, setup_admin=False) as server:
        yield server


@dataclass(frozen=True)
class WebMedia:
    server: MediaServer
    base_url: str  # http://127.0.0.1:<port>
    video_url: str  # the mp4 itself (video/mp4, ranges, ETag)
    page_url: str  # an HTML page titled `title` embedding the video, as a video site's page would
    video: Path  # the file served at video_url
    title: str  # the video's title metadata and the page's <title>


@pytest.fixture(scope="session")
def media_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebMedia]:
    title = "Web Clip"
    video = make_video(tmp_path_factory.mktemp("web-media") / "web-clip.mp4", seconds=2, title=title)
    with MediaServer() as media:
        video_url = media.add_file("/media/web-clip.mp4", video, "video/mp4")
        page_url = media.html_page("/watch/web-clip", "/media/web-clip.mp4", title)
        yield WebMedia(media, media.base_url, video_url, page_url, video, title)


# -- browser -------------------------------------------------------------------------------------------------


# Per module, not per session: while Playwright's sync API runs it holds an event loop in this thread, and
# no asyncio test collected after tests/web could start its own. Starting Chromium costs about a second.
@pytest.fixture(scope="module")
def playwright() -> Iterator[Playwright]:
    try:
        pw = sync_playwright().start()
    except Exception as exc:  # never a skip: in CI these tests must run
        pytest.fail(f"Playwright {_version()} failed to start its driver: {exc!r}", pytrace=False)
    yield pw
    pw.stop()


@pytest.fixture(scope="module")
def browser(playwright: Playwright) -> Iterator[Browser]:
    if not os.access(CHROMIUM, os.X_OK):
        _install_chromium()
    if not os.access(CHROMIUM, os.X_OK):
        pytest.fail(f"no Chromium at {CHROMIUM}: install Debian's `chromium` package (or point "
                    "MEDIANEST_TEST_CHROMIUM at a Chromium binary); browser tests never skip", pytrace=False)
    try:
        # launch() always starts Chromium on a fresh temporary user-data dir of its own (and refuses a
        # --user-data-dir in args), so no profile, cache or storage survives between runs.
        # The proxy is a closed local port with loopback exempt: anything the UI would fetch from beyond
        # 127.0.0.1 (a web font, a CDN script) fails - and shows up as a console error - instead of going out.
        b = playwright.chromium.launch(
            executable_path=CHROMIUM, headless=True, args=LAUNCH_ARGS, timeout=60_000,
            proxy={"server": CLOSED_PROXY, "bypass": "127.0.0.1,localhost,[::1]"})
    except PlaywrightError as exc:
        pytest.fail(f"Chromium at {CHROMIUM} failed to launch under Playwright {_version()}:\n{exc.message}",
                    pytrace=False)
    yield b
    b.close()


@pytest.fixture
def new_page(browser: Browser, request: pytest.FixtureRequest) -> Iterator[Callable[..., Page]]:
    """`new_page(base_url=None, *, phone=False, **context_options)`: a page in a new context of its own.

    `base_url` defaults to web_server's (started on first use), so `page.goto("/#/login")` works.
    """
    contexts: list[BrowserContext] = []
    pages = request.node.stash.setdefault(_PAGES, [])

    def make(base_url: str | None = None, *, phone: bool = False, **context_options: Any) -> Page:
        if base_url is None:
            base_url = request.getfixturevalue("web_server").base_url
        options: dict[str, Any] = {"viewport": DESKTOP, "base_url": base_url}
        if phone:
            options |= {"viewport": PHONE, "is_mobile": True, "has_touch": True}
        context = browser.new_context(**(options | context_options))
        contexts.append(context)
        errors: list[str] = []
        context.on("console", lambda msg: _on_console(errors, msg))
        context.on("weberror", lambda err: _on_weberror(errors, err))
        page = context.new_page()
        page.console_errors = errors  # type: ignore[attr-defined]
        page.allowed_console_errors = []  # type: ignore[attr-defined]
        pages.append(page)
        return page

    yield make
    for context in contexts:
        context.close()


@pytest.fixture
def page(new_page: Callable[..., Page]) -> Page:
    return new_page()


@pytest.fixture
def phone_page(new_page: Callable[..., Page]) -> Page:
    return new_page(phone=True)


def _on_console(errors: list[str], msg: ConsoleMessage) -> None:
    if msg.type == "error":
        where = msg.location.get("url", "")
        if where:
            where = f" ({where}:{msg.location.get('lineNumber', 0)})"
        errors.append(f"console error: {msg.text}{where}")


def _on_weberror(errors: list[str], err: WebError) -> None:
    errors.append(f"uncaught page error: {err.error.message}\n{err.error.stack or ''}".rstrip())


def console_errors(page: Page) -> list[str]:
    """The errors collected on `page`'s context that are not allowed by `allow_console_errors`."""
    allowed: list[re.Pattern[str]] = getattr(page, "allowed_console_errors", [])
    return [e for e in getattr(page, "console_errors", []) if not any(p.search(e) for p in allowed)]


def allow_console_errors(page: Page, *patterns: str) -> None:
    """Let errors matching these regexes (re.search) pass, e.g. the browser's own line for an expected 401:
    `allow_console_errors(page, r"status of 401")`."""
    page.allowed_console_errors.extend(re.compile(p) for p in patterns)  # type: ignore[attr-defined]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_call(item: pytest.Item) -> Generator[None, object, object]:
    """After the test body: fail on browser errors; on failure, screenshot every page the test opened."""
    try:
        result = yield
    except pytest.skip.Exception:
        raise
    except BaseException:
        _failure_screenshots(item, item.stash.get(_PAGES, []))
        _report_errors(item, item.stash.get(_PAGES, []))
        raise
    pages = item.stash.get(_PAGES, [])
    if errors := _report_errors(item, pages):
        _failure_screenshots(item, pages)
        pytest.fail("the browser reported errors (the UI must run without console errors):\n"
                    + "\n".join(f"  - {e}" for e in errors), pytrace=False)
    return result


def _report_errors(item: pytest.Item, pages: list[Page]) -> list[str]:
    errors = [e for page in pages for e in console_errors(page)]
    if errors:
        item.add_report_section("call", "browser console errors", "\n".join(errors))
    return errors


def _failure_screenshots(item: pytest.Item, pages: list[Page]) -> None:
    name = re.sub(r"[^A-Za-z0-9_.-]+", "_", item.name)
    for n, page in enumerate(pages, 1):
        if page.is_closed():
            continue
        with contextlib.suppress(PlaywrightError):  # a crashed page: the failure itself says more
            shot(page, f"failed-{name}-{n}")


# -- helpers -------------------------------------------------------------------------------------------------


def shot(page: Page, name: str) -> Path:
    """A full-page screenshot at tests/artifacts/<name>.png (the folder is gitignored); returns its path."""
    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=path, full_page=True)
    return path


def sign_in(page: Page, username: str = ADMIN, password: str = PASSWORD) -> None:
    """Sign in through the UI's login form; returns once the navigation is visible."""
    page.goto("/#/login")
    page.locator("input[name=username]").fill(username)
    page.locator("input[name=password]").fill(password)
    page.locator("button[type=submit]").click()
    page.locator("[data-testid=nav]").wait_for(state="visible")


def create_user(server: LiveServer, username: str, password: str = PASSWORD, role: str = "user") -> dict[str, Any]:
    """Create a user through the API with the admin's token; returns the created user."""
    r = http().post(f"{server.base_url}/api/v1/users", json={"username": username, "password": password, "role": role},
                   headers=server.headers())
    assert r.status_code == 201, r.text
    user: dict[str, Any] = r.json()["data"]
    return user


def api_token(server: LiveServer, username: str, password: str = PASSWORD) -> str:
    """An access token for `username`, for arranging state through the API."""
    r = http().post(f"{server.base_url}/api/v1/auth/login", json={"username": username, "password": password})
    assert r.status_code == 200, r.text
    token: str = r.json()["data"]["access_token"]
    return token


def _install_chromium() -> None:
    """The README's test command sets everything up: on Debian or Ubuntu, as root, Debian's Chromium is
    installed the way `.ci/run` does it. Elsewhere the browser fixture fails, saying what to install."""
    if CHROMIUM != "/usr/bin/chromium" or not shutil.which("apt-get") or os.geteuid() != 0:
        return
    install = ["apt-get", "install", "-y", "-q", "chromium"]
    if subprocess.run(install, capture_output=True, timeout=1800).returncode != 0:
        subprocess.run(["apt-get", "update", "-q"], capture_output=True, timeout=1800)
        subprocess.run(install, capture_output=True, timeout=1800)


def _version() -> str:
    return importlib.metadata.version("playwright")
