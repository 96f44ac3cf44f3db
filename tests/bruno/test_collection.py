"""The Bruno collection (`bruno/`) run by the Bruno CLI against a live `medianest serve`: its flow (setup,
sign-in, scan, list, a ranged stream, a playlist, a download from a media server on 127.0.0.1, a token
refresh) and then a request for every public endpoint pass every assertion, the Seerr, Plex, OpenSubtitles
and Uptime Kuma ones against the stand-ins of those services on 127.0.0.1, the subscriptions against a
podcast feed the media server serves; and no endpoint of the API is left without a request there. The CLI
comes from npm, pinned, installed once into the cache folder."""

from __future__ import annotations

import contextlib
import json
import os
import re
import shutil
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from pathlib import Path
from xml.sax.saxutils import escape, quoteattr

import pytest

from medianest.app import create_app
from medianest.config import Settings
from tests.discovery.dailymotion import Dailymotion
from tests.downloads.mediaserver import MediaServer, make_audio, make_video
from tests.integrations.kuma import UP, UptimeKuma
from tests.integrations.opensubtitles import OpenSubtitles
from tests.integrations.plexserver import PlexServer
from tests.integrations.seerr import Seerr
from tests.liveserver import LiveServer, serve
from tests.media import TAGGED

BRU_VERSION = "4.1.0"
COLLECTION = Path(__file__).parents[2] / "bruno"
CACHE = Path(os.environ.get("XDG_CACHE_HOME", Path.home() / ".cache")) / "medianest" / f"bruno-cli-{BRU_VERSION}"
# A path parameter in a request's URL: a Bruno variable, the parameter's own name (in `covers:`) or a value.
PATH_PARAM = r"(\{\{\w+\}\}|\{[^}]+\}|[^/]+)"
REQUESTS = sorted([*COLLECTION.glob("flow/*.bru"), *COLLECTION.glob("endpoints/*/*.bru")])
SEERR_KEY, PLEX_TOKEN, OS_KEY, OS_USER, OS_PASSWORD = (  # the stand-ins' test credentials
    "seerr-test-key", "plex-server-token", "os-test-key", "nestuser", "nestpass")
SEERR_PLAIN_USER = 2  # the Seerr stand-in's user with the Request permission only: its requests stay pending
SRT = b"1\n00:00:01,000 --> 00:00:02,000\nA subtitle from the stand-in\n"
SHOW, EPISODES = "Nest Talk", ("Episode 1: Twigs", "Episode 2: Eggs")  # the podcast, its episodes oldest first


@dataclass
class Outside:
    """The outside services' stand-ins the collection connects under /api/v1/services."""

    seerr: Seerr
    plex: PlexServer
    opensubtitles: OpenSubtitles
    kuma: UptimeKuma

    def bruno_vars(self) -> dict[str, str]:
        """The collection's variables naming each service and its credentials (see bruno/environments)."""
        return {"seerrUrl": self.seerr.url, "seerrApiKey": SEERR_KEY, "seerrRequestUserId": str(SEERR_PLAIN_USER),
                "plexUrl": self.plex.url, "plexToken": PLEX_TOKEN,
                "opensubtitlesUrl": self.opensubtitles.url, "opensubtitlesApiKey": OS_KEY,
                "opensubtitlesUsername": OS_USER, "opensubtitlesPassword": OS_PASSWORD,
                "kumaUrl": self.kuma.url, "kumaSlug": "home"}


@contextlib.contextmanager
def outside_services() -> Iterator[Outside]:
    """The four stand-ins, each holding what the collection asks it for: films matching "alien" at Seerr, an
    English subtitle for each video of the library (OpenSubtitles searches by the video's title), a status page
    with two monitors; the Plex stand-in has its default libraries."""
    with Seerr(api_key=SEERR_KEY) as seerr, PlexServer(token=PLEX_TOKEN) as plex, \
            OpenSubtitles(api_key=OS_KEY, username=OS_USER, password=OS_PASSWORD) as osub, UptimeKuma() as kuma:
        seerr.add_movie(348, "Alien", 1979, "The crew of a space tug meets a perfect organism")
        seerr.add_movie(679, "Aliens", 1986)
        seerr.add_tv(1400, "Alien Nation", 1989)
        videos = [fx.sample.title for fx in TAGGED if fx.sample is not None and fx.sample.kind == "video"]
        for file_id, title in enumerate(videos, start=1):
            osub.add_subtitle(file_id, "en", title, SRT, file_name=f"{title}.srt", release=f"{title}.WEB")
        kuma.add_page("home", "Home")
        for monitor_id, name in ((1, "NAS"), (2, "Router")):
            kuma.add_monitor("home", monitor_id, name)
            kuma.beat(monitor_id, UP, ping=12)
        yield Outside(seerr, plex, osub, kuma)


def podcast(media: MediaServer, folder: Path) -> dict[str, str]:
    """A podcast feed (RSS 2.0, newest episode first, the shape of tests/subscriptions/feedserver.py) served
    by `media` with its two episodes' audio; the collection's variables naming it and what it holds."""
    items = []
    for n, title in reversed(list(enumerate(EPISODES, start=1))):
        audio = make_audio(folder / f"episode-{n}.mp3", seconds=1, title=title)
        url = media.add_file(f"/podcast/{n}.mp3", audio, "audio/mpeg")
        published = format_datetime(datetime(2026, 3, n, 8, tzinfo=UTC))
        items.append(f"<item><title>{escape(title)}</title><guid isPermaLink=\"false\">nest-{n}</guid>"
                     f"<pubDate>{published}</pubDate><enclosure url={quoteattr(url)} "
                     f"length=\"{audio.stat().st_size}\" type=\"audio/mpeg\"/></item>")
    rss = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?><rss version=\"2.0\"><channel>"
           f"<title>{SHOW}</title><link>https://example.invalid/</link><description>Show notes</description>"
           f"{''.join(items)}</channel></rss>")
    feed = media.add_bytes("/podcast/feed.xml", rss.encode(), "application/rss+xml")
    return {"podcastUrl": feed, "podcastTitle": SHOW, "podcastNewest": EPISODES[-1]}


@pytest.fixture(scope="module")
def bru() -> Path:
    exe = CACHE / "node_modules" / ".bin" / "bru"
    if not exe.exists():
        npm = shutil.which("npm")
        assert npm, "npm is needed for the Bruno CLI (Node is on the development and CI machines)"
        staging = CACHE.with_name(f"{CACHE.name}.partial-{os.getpid()}")
        shutil.rmtree(staging, ignore_errors=True)
        subprocess.run([npm, "install", "--no-audit", "--no-fund", "--prefix", str(staging),
                        f"@usebruno/cli@{BRU_VERSION}"], check=True, capture_output=True, timeout=600)
        try:
            staging.rename(CACHE)  # whole or not at all: an interrupted install is made again
        except OSError:  # another test run installed it meanwhile
            shutil.rmtree(staging, ignore_errors=True)
        assert exe.exists()
    return exe


@pytest.fixture(scope="module")
def dailymotion() -> Iterator[Dailymotion]:
    """Dailymotion's Data API stand-in, the server's from its start (a setting, not a connection)."""
    with Dailymotion() as server:
        server.add_video("x8bunny", "Big Buck Bunny", "Blender", duration=596, views=1200)
        yield server


@pytest.fixture(scope="module")
def fresh_server(tmp_path_factory: pytest.TempPathFactory, media_source: tuple[Path, dict[str, str]],
                 dailymotion: Dailymotion) -> Iterator[LiveServer]:
    """At first run (no user yet), downloads from 127.0.0.1 allowed: what the flow starts from."""
    env = {"MEDIANEST_DOWNLOADS_ALLOW_PRIVATE_NETWORKS": "true", "MEDIANEST_SCAN_ON_START": "false",
           "MEDIANEST_DAILYMOTION_API_URL": dailymotion.url}
    with serve(tmp_path_factory.mktemp("bruno"), media_source[0], extra_env=env, setup_admin=False) as server:
        yield server


def test_the_collection_passes_every_assertion(bru: Path, fresh_server: LiveServer, tmp_path: Path,
                                              dailymotion: Dailymotion) -> None:
    clip = make_video(tmp_path / "clip.mp4", seconds=2)
    report = tmp_path / "report.json"
    with MediaServer() as media, outside_services() as outside:
        media.add_file("/media/clip.mp4", clip, "video/mp4")
        variables = {"baseUrl": fresh_server.base_url, "downloadUrl": media.url("/media/clip.mp4"),
                     **podcast(media, tmp_path), **outside.bruno_vars()}
        # --cache-ssl-session also keeps one HTTP agent for the run, so requests share a connection as in the
        # Bruno app. Without it the CLI opens a connection per request and leaves each open and idle; the
        # server (one process) takes 128 connections at a time, so the 129th request waited about 15 s.
        # --sandbox=developer runs the collection's (our own) scripts and assertions in Node's vm instead of the
        # CLI's default QuickJS sandbox, whose assertions now and then read a response as undefined
        # (usebruno/bruno#7373; seen here once: "res.status eq 200: expected undefined" on a 200).
        run = subprocess.run(
            [str(bru), "run", "flow", "endpoints", "-r", "--env", "local", "--cache-ssl-session",
             "--sandbox=developer",
             *(arg for name, value in variables.items() for arg in ("--env-var", f"{name}={value}")),
             "--reporter-json", str(report)],
            cwd=COLLECTION, capture_output=True, text=True, timeout=300)
    assert report.exists(), run.stdout[-4000:] + run.stderr[-2000:]
    results = json.loads(report.read_text())
    run_report = results[0] if isinstance(results, list) else results
    failures = [f"{r['test']['filename']}: {a.get('lhsExpr')} {a.get('rhsExpr')}: {a.get('error')}"
                for r in run_report["results"] for a in r.get("assertionResults") or [] if a.get("status") != "pass"]
    failures += [f"{r['test']['filename']}: {r['error']}" for r in run_report["results"] if r.get("error")]
    assert not failures and run.returncode == 0, "\n".join(failures) or run.stdout[-4000:] + run.stderr[-2000:]
    summary = run_report["summary"]
    assert summary["failedRequests"] == 0 and summary["failedAssertions"] == 0, summary
    assert summary["passedAssertions"] >= 2 * len(REQUESTS)  # every request asserted, none skipped
    ran = {r["test"]["filename"] for r in run_report["results"]}
    not_run = {str(f.relative_to(COLLECTION)) for f in REQUESTS} - ran
    assert not not_run, sorted(not_run)
    # The services were asked, not only MediaNest: the request was made at Seerr as its plain user and
    # withdrawn there, one subtitle was downloaded, Plex listed its libraries, the status page was read.
    made = outside.seerr.calls("POST", "/api/v1/request")
    assert [r.headers.get("x-api-user") for r in made] == [str(SEERR_PLAIN_USER)]
    assert outside.seerr.requests_made() == []
    assert len(outside.opensubtitles.downloads()) == 1
    assert outside.plex.calls("GET", "/library/sections")
    assert outside.kuma.calls("GET", "/api/status-page/home")
    assert [r.arg("search") for r in dailymotion.searches()] == ["bunny"]
    # The subscription read the feed and downloaded its newest episode only (backfill 1).
    assert media.requests_for("/podcast/feed.xml") and media.requests_for("/podcast/2.mp3")
    assert media.requests_for("/podcast/1.mp3") == []


def _covered(bru_file: Path) -> tuple[str, str]:
    """The method and the path (query left out) a request of the collection calls; a request whose URL is
    only a variable (an HLS playlist's own links) says in its docs which path it covers."""
    text = bru_file.read_text()
    covers = re.search(r"^\s*covers: (\w+) (\S+)$", text, re.MULTILINE)
    if covers:
        return covers[1], covers[2]
    block = re.search(r"^(get|post|put|patch|delete|head|options) \{\n\s*url: (\S+)$", text, re.MULTILINE)
    assert block, f"{bru_file.name}: no request block"
    return block[1].upper(), block[2].removeprefix("{{baseUrl}}").split("?")[0]


def test_every_public_endpoint_has_a_request_in_the_collection(tmp_path: Path) -> None:
    app = create_app(Settings(data_dir=tmp_path, media_dirs=[tmp_path]))
    operations = {(method.upper(), path) for path, ops in app.openapi()["paths"].items() for method in ops}
    called = [_covered(f) for f in REQUESTS]
    missing = []
    for method, path in sorted(operations):
        pattern = re.compile("^" + re.sub(r"\\\{[^}]+\\\}", lambda _: PATH_PARAM, re.escape(path)) + "$")
        if not any(m == method and pattern.match(url) for m, url in called):
            missing.append(f"{method} {path}")
    assert not missing, f"no request in bruno/ for: {missing}"
