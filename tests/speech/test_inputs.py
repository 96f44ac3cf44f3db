"""What POST /api/v1/tts accepts and refuses (in the contract's error envelope), a web page's readable text
as the text, other users' jobs, and the voices each provider lists."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit

import pytest
from fastapi import FastAPI
from sqlalchemy import select

from medianest.downloads import safety
from medianest.speech.models import SpeechRequest
from medianest.speech.schemas import MAX_TEXT_CHARS
from tests.conftest import Api, bearer
from tests.downloads.conftest import wait_status
from tests.integrations.standin import Reply, Request, StandIn
from tests.speech.conftest import connect_google, refused, speak
from tests.speech.googletts import GoogleTts

ARTICLE = """<!DOCTYPE html><html><head><meta charset="utf-8"><title>Night Trains Return | The Daily Rail</title></head>
<body><nav><a href="/">Home</a> <a href="/sports">Sports</a> <a href="/login">Sign in</a></nav>
<div class="ad">Buy one ticket, get one free! Subscribe now!</div>
<article><h1>Night trains return</h1>
<p>After a decade away, night trains are back on the main lines of the continent. Travellers board in the
evening, sleep in a quiet couchette and wake up in another country with a coffee in hand.</p>
<p>Operators say demand has doubled in two years, driven by people who would rather not fly short distances.
New carriages offer private cabins with showers, and the booking systems finally talk to each other.</p>
<p>Critics point to the cost of tickets, which remains higher than a budget flight on most routes, and to the
slow pace of building the tracks and stations the trains need.</p></article>
<footer>Copyright The Daily Rail. Cookie settings. Terms of use.</footer></body></html>"""


class Pages(StandIn):
    """Web pages on 127.0.0.1: path -> Reply."""

    def __init__(self) -> None:
        self.pages: dict[str, Reply] = {}
        super().__init__()

    def answer(self, request: Request) -> Reply:
        return self.pages.get(request.path, Reply(404, b"not found", content_type="text/plain"))

    def html(self, path: str, body: str | bytes, content_type: str = "text/html; charset=utf-8") -> None:
        self.pages[path] = Reply(200, body.encode() if isinstance(body, str) else body, content_type=content_type)


def _fields(error: dict[str, Any]) -> list[str]:
    return [f["field"].removeprefix("body.") for f in error["details"]["fields"]]


async def test_bad_texts_languages_and_voices_are_refused_with_the_field_named(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    cases: list[tuple[dict[str, Any], str]] = [
        ({"text": "Hello\x00there", "language": "en"}, "text"),  # NUL: never stored
        ({"text": "   \n\t  ", "language": "en"}, "text"),  # nothing left after stripping
        ({"text": "\x07\x1b ... !!", "language": "en"}, "text"),  # controls and punctuation say nothing
        ({"text": "x" * (MAX_TEXT_CHARS + 1), "language": "en"}, "text"),  # too long
        ({"text": "", "language": "en"}, "text"),
        ({"language": "en"}, "text"),  # neither text nor url
        ({"text": "Hi", "url": "http://127.0.0.1/a", "language": "en"}, "text"),  # both
        ({"text": "Hi", "language": "tlh"}, "language"),  # Klingon: eSpeak does not speak it
        ({"text": "Hi", "language": "en US"}, "language"),
        ({"text": "Hi", "language": "en", "voice": "nobody"}, "voice"),
        ({"text": "Hi", "language": "en", "voice": "en+f3"}, "voice"),  # no variant smuggled in the name
        ({"text": "Hi", "language": "en", "provider": "festival"}, "provider"),
        ({"text": "Hi", "language": "en", "audio_format": "wma"}, "audio_format"),
    ]
    for body, field in cases:
        error = await refused(api, token, 422, **body)
        assert error["code"] == "VALIDATION_ERROR" and field in _fields(error), (body, error)
    listed = (await api.client.get("/api/v1/downloads", headers=bearer(token))).json()
    assert listed["meta"]["total"] == 0  # nothing queued by any of them
    async with app.state.parts.sessions() as session:
        assert (await session.scalars(select(SpeechRequest))).all() == []


async def test_google_needs_its_connection_and_a_well_formed_voice(api: Api, google: GoogleTts) -> None:
    admin = await api.setup_admin()
    error = await refused(api, admin, 503, text="Hi", language="en-US", provider="google")
    assert error["code"] == "UNAVAILABLE" and "google_tts" in error["message"]
    await connect_google(api, admin, google.url)
    for body, field in (({"language": "en_US"}, "language"), ({"language": "en-US", "voice": "de-DE-Standard-B"},
                                                               "voice")):
        error = await refused(api, admin, 422, text="Hi", provider="google", **body)
        assert field in _fields(error)
    assert google.calls("POST", "/v1/text:synthesize") == []  # refused before Google was asked


async def test_a_web_page_is_read_for_its_article(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    with Pages() as site:
        site.html("/news/night-trains", ARTICLE.replace("quiet couchette", "quiet\x00 couchette"))  # a NUL too
        site.pages["/short/nt"] = Reply(301, b"", {"Location": "/news/night-trains"})
        queued = await speak(api, token, url=f"{site.url}/short/nt", language="en")
    assert queued["url"] == f"{site.url}/news/night-trains"  # where the text was found, after the redirect
    assert queued["title"].startswith("Night Trains Return")  # the page's <title>
    async with app.state.parts.sessions() as session:
        request = await session.get(SpeechRequest, int(queued["id"]))
    assert request is not None
    assert "night trains are back on the main lines" in request.text and "quiet couchette" in request.text
    assert "tracks and stations the trains need." in request.text
    for chrome in ("Sign in", "Subscribe now", "Cookie settings", "\x00"):
        assert chrome not in request.text
    done = await wait_status(api, token, queued["id"], "completed", "failed")
    assert done["status"] == "completed", done
    media = (await api.client.get(f"/api/v1/media/{done['media_ids'][0]}", headers=bearer(token))).json()["data"]
    assert media["title"] == queued["title"] and media["source_url"] == f"{site.url}/news/night-trains"


async def test_pages_that_cannot_be_read(api: Api) -> None:
    token = await api.setup_admin()
    with Pages() as site:
        site.html("/empty", "<html><head><title>Nothing</title></head><body><script>var a = 1;</script>"
                            "<p> \u00a0 ... </p></body></html>")
        site.html("/huge", "<html><body><p>" + "word " * (MAX_TEXT_CHARS // 4) + "</p></body></html>")
        site.html("/image", b"\x89PNG\r\n\x1a\n", content_type="image/png")
        for n in range(7):
            site.pages[f"/loop{n}"] = Reply(302, b"", {"Location": f"/loop{n + 1}"})
        assert "url" in _fields(await refused(api, token, 422, url=f"{site.url}/empty", language="en"))
        assert "url" in _fields(await refused(api, token, 422, url=f"{site.url}/huge", language="en"))
        assert "url" in _fields(await refused(api, token, 422, url=f"{site.url}/image", language="en"))
        assert (await refused(api, token, 400, url=f"{site.url}/missing", language="en"))["code"] == "BAD_REQUEST"
        assert "redirects" in (await refused(api, token, 400, url=f"{site.url}/loop0", language="en"))["message"]
        assert len(site.calls("GET", "/loop6")) == 0  # five redirects followed, no more


async def test_a_plain_text_page_and_private_addresses(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    with Pages() as site:
        site.html("/plain", "Plain words\x00 to\tsay.\n\nTwo lines.", content_type="text/plain; charset=utf-8")
        plain = await speak(api, token, url=f"{site.url}/plain", language="en")
        # Private addresses are refused unless the admin allows them (as for any download URL).
        app.state.parts.settings.downloads_allow_private_networks = False
        assert "url" in _fields(await refused(api, token, 422, url=f"{site.url}/plain", language="en"))
        metadata = await refused(api, token, 422, url="http://169.254.169.254/latest/meta-data/", language="en")
        assert "url" in _fields(metadata)
        assert len(site.calls("GET", "/plain")) == 1  # the refused one was never fetched
    async with app.state.parts.sessions() as session:
        request = await session.get(SpeechRequest, int(plain["id"]))
    assert request is not None and request.text == "Plain words to say.\nTwo lines."
    assert plain["title"] == "Plain words to say. Two lines."


async def test_a_page_whose_name_resolves_to_a_local_address_as_it_connects_is_refused(
        api: Api, app: FastAPI, monkeypatch: pytest.MonkeyPatch) -> None:
    token = await api.setup_admin()
    app.state.parts.settings.downloads_allow_private_networks = False
    answers = iter([["93.184.216.34"]])  # what the URL's check sees: a public address

    async def rebinding(host: str, port: int) -> list[str]:  # DNS rebinding: a TTL of 0, another answer
        return next(answers, ["127.0.0.1"])

    monkeypatch.setattr(safety, "system_resolver", rebinding)
    with Pages() as site:
        site.html("/admin", "Secrets of the local admin page.", content_type="text/plain")
        port = urlsplit(site.url).port
        body = await refused(api, token, 422, url=f"http://rebind.test:{port}/admin", language="en")
        assert "url" in _fields(body) and "private" in body["message"], body
        assert site.calls("GET", "/admin") == []


async def test_other_users_speech_jobs_are_invisible(api: Api) -> None:
    admin = await api.setup_admin()
    alice = await api.create_user(admin, "alice")
    bob = await api.create_user(admin, "bob")
    queued = await speak(api, alice, text="A secret only Alice hears.", language="en")
    assert (await api.client.get(f"/api/v1/downloads/{queued['id']}", headers=bearer(bob))).status_code == 404
    assert (await api.client.delete(f"/api/v1/downloads/{queued['id']}", headers=bearer(bob))).status_code == 404
    assert (await api.client.get("/api/v1/downloads", headers=bearer(bob))).json()["meta"]["total"] == 0
    mine = (await api.client.get("/api/v1/downloads", headers=bearer(alice))).json()["data"]
    assert [d["id"] for d in mine] == [queued["id"]]
    assert (await api.client.post("/api/v1/tts", json={"text": "Hi", "language": "en"})).status_code == 401


async def test_speech_counts_against_the_downloads_rate_limit(api: Api, app: FastAPI) -> None:
    token = await api.setup_admin()
    assert app.state.parts.settings.downloads_rate_limit == "5/hour"
    await api.client.post("/api/v1/downloads", json={"url": "http://127.0.0.1:9/a.mp4"}, headers=bearer(token))
    for _ in range(4):
        await speak(api, token, text="Once more.", language="en")
    error = await refused(api, token, 429, text="Once more.", language="en")
    assert error["code"] == "RATE_LIMITED"


async def test_the_voices_of_each_provider(api: Api, google: GoogleTts) -> None:
    admin = await api.setup_admin()
    r = await api.client.get("/api/v1/tts/voices", headers=bearer(admin))
    offline = r.json()["data"]
    codes = {lang["code"] for lang in offline["languages"]}
    assert offline["provider"] == "offline" and {"en", "en-us", "de", "fr"} <= codes
    assert {"f3", "m1"} <= {v["id"] for v in offline["voices"]}
    german = (await api.client.get("/api/v1/tts/voices", params={"language": "de-DE"}, headers=bearer(admin)))
    assert [lang["code"] for lang in german.json()["data"]["languages"]] == ["de"]
    missing = await api.client.get("/api/v1/tts/voices", params={"provider": "google"}, headers=bearer(admin))
    assert missing.status_code == 503
    await connect_google(api, admin, google.url)
    found = (await api.client.get("/api/v1/tts/voices", params={"provider": "google", "language": "en-US"},
                                  headers=bearer(admin))).json()["data"]
    assert [v["id"] for v in found["voices"]] == ["en-US-Standard-A", "en-US-Wavenet-F"]
    assert found["languages"] == [{"code": "en-US", "name": "en-US"}]
    google.refuse()
    down = await api.client.get("/api/v1/tts/voices", params={"provider": "google"}, headers=bearer(admin))
    assert down.status_code == 503 and down.json()["error"]["code"] == "UNAVAILABLE"
