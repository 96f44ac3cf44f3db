"""GET /api/v1/search/remote against the Dailymotion stand-in on 127.0.0.1 and YouTube's search made offline
(tests/discovery/youtube.py): results mapped from each site, unicode words, pages, the cache, a site that is
down, slow, broken or behind an open breaker degrading to the other with a notice, both down (503), bad input,
the rate limit, sites turned off, and sign-in required."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from medianest.config import Settings
from medianest.discovery.dailymotion import FIELDS
from medianest.discovery.dailymotion import Dailymotion as DailymotionProvider
from medianest.errors import UpstreamError
from medianest.integrations.http import Breaker, Policy, Upstream
from tests.conftest import Api, bearer
from tests.discovery.dailymotion import Dailymotion
from tests.discovery.youtube import FakeYouTube
from tests.integrations.quiet import QUIET

SEARCH = "/api/v1/search/remote"
CREATED = 1_700_000_000  # 2023-11-14T22:13:20Z


@pytest.fixture
def extra() -> dict[str, Any]:
    """Settings a test changes (parametrize `extra`)."""
    return {}


@pytest.fixture
def settings(settings: Settings, dailymotion: Dailymotion, extra: dict[str, Any]) -> Settings:
    return settings.model_copy(update={
        **QUIET, "dailymotion_api_url": dailymotion.url, "remote_search_sites": ["youtube", "dailymotion"],
        "remote_search_timeout_s": 0.5, **extra})


class Searcher:
    def __init__(self, api: Api, token: str) -> None:
        self.api, self.token = api, token

    async def get(self, expect: int = 200, **params: Any) -> dict[str, Any]:
        r = await self.api.client.get(SEARCH, params=params, headers=bearer(self.token))
        assert r.status_code == expect, r.text
        body: dict[str, Any] = r.json()
        return body


@pytest.fixture
async def searcher(api: Api, app: FastAPI, youtube: FakeYouTube, dailymotion: Dailymotion) -> Searcher:
    youtube_provider = app.state.parts.remote_search.providers.get("youtube")
    if youtube_provider is not None:
        youtube_provider.run = youtube.run  # yt-dlp in this process, where its result pages are made up
    for n in range(3):
        youtube.add(f"yt{n:09d}", f"Cats playing piano {n}", "YT Cats", duration=100 + n, views=5000 + n)
        dailymotion.add_video(f"x8dm{n}", f"Cats playing piano {n}", "DM Cats", duration=200 + n, views=70 + n,
                              created_time=CREATED + n)
    return Searcher(api, await api.setup_admin())


def sites(body: dict[str, Any]) -> list[str]:
    return [r["site"] for r in body["data"]]


async def test_dailymotion_results_are_mapped_from_the_fields_asked_for(searcher: Searcher,
                                                                      dailymotion: Dailymotion) -> None:
    body = await searcher.get(q="cats piano", site="dailymotion", limit=2)
    assert body["data"][0] == {
        "site": "dailymotion", "id": "x8dm0", "url": "https://www.dailymotion.com/video/x8dm0",
        "title": "Cats playing piano 0", "channel": "DM Cats", "duration_s": 200.0,
        "thumbnail": "https://s1.dmcdn.net/v/x8dm0/x360", "views": 70, "published_at": "2023-11-14T22:13:20Z"}
    assert body["meta"] == {"page": 1, "per_page": 2, "has_more": True, "sites": ["dailymotion"], "failed": [],
                            "notice": None}
    [asked] = dailymotion.searches()
    assert (asked.arg("search"), asked.arg("fields"), asked.arg("page"), asked.arg("limit")) == (
        "cats piano", ",".join(FIELDS), "1", "2")


async def test_youtube_results_are_mapped_from_yt_dlp(searcher: Searcher, youtube: FakeYouTube,
                                                     dailymotion: Dailymotion) -> None:
    body = await searcher.get(q="piano", site="youtube", limit=2)
    assert body["data"][1] == {
        "site": "youtube", "id": "yt000000001", "url": "https://www.youtube.com/watch?v=yt000000001",
        "title": "Cats playing piano 1", "channel": "YT Cats", "duration_s": 101.0,
        "thumbnail": "https://i.ytimg.com/vi/yt000000001/hq720.jpg?sqp=b", "views": 5001,
        "published_at": "2023-11-14T22:13:20Z"}
    assert body["meta"]["has_more"] and body["meta"]["sites"] == ["youtube"]
    assert youtube.asked == ["ytsearch3:piano"] and dailymotion.searches() == []


async def test_without_a_site_both_are_asked_and_interleaved(searcher: Searcher) -> None:
    body = await searcher.get(q="cats", limit=2)
    assert sites(body) == ["youtube", "dailymotion", "youtube", "dailymotion"]
    assert [r["id"] for r in body["data"]] == ["yt000000000", "x8dm0", "yt000000001", "x8dm1"]
    assert body["meta"]["sites"] == ["youtube", "dailymotion"] and body["meta"]["notice"] is None


async def test_unicode_words_reach_both_sites_intact(searcher: Searcher, youtube: FakeYouTube,
                                                    dailymotion: Dailymotion) -> None:
    youtube.add("ytunicode01", "東京 Café night ☕", "チャンネル")
    dailymotion.add_video("x8tokyo", "東京 café night ☕", "Ünïcödé")
    body = await searcher.get(q="  東京   CAFÉ ☕ ", limit=5)
    assert [(r["id"], r["channel"]) for r in body["data"]] == [("ytunicode01", "チャンネル"), ("x8tokyo", "Ünïcödé")]
    assert youtube.searched == ["東京 CAFÉ ☕"]  # spaces collapsed, nothing else changed
    assert [r.arg("search") for r in dailymotion.searches()] == ["東京 CAFÉ ☕"]


async def test_pages(searcher: Searcher, dailymotion: Dailymotion, youtube: FakeYouTube) -> None:
    second = await searcher.get(q="cats", limit=2, page=2)
    assert [r["id"] for r in second["data"]] == ["yt000000002", "x8dm2"]
    assert second["meta"]["page"] == 2 and second["meta"]["has_more"] is False
    assert [(r.arg("page"), r.arg("limit")) for r in dailymotion.searches()] == [("2", "2")]
    assert youtube.asked == ["ytsearch5:cats"]


async def test_answers_are_cached_per_site_words_page_and_limit(searcher: Searcher, dailymotion: Dailymotion,
                                                               youtube: FakeYouTube) -> None:
    first = await searcher.get(q="Cats  Piano", limit=2)
    again = await searcher.get(q="cats piano", limit=2)  # the same words, spelled otherwise
    assert again == first
    assert len(dailymotion.searches()) == 1 and len(youtube.asked) == 1
    only_dm = await searcher.get(q="cats piano", limit=2, site="dailymotion")  # that site's cached page
    assert only_dm["data"] == [r for r in first["data"] if r["site"] == "dailymotion"]
    assert len(dailymotion.searches()) == 1
    await searcher.get(q="cats piano", limit=2, page=2)
    await searcher.get(q="cats piano", limit=3)
    assert len(dailymotion.searches()) == 3 and len(youtube.asked) == 3


FAULTS = {"down": lambda dm: dm.refuse(), "slow": lambda dm: dm.set_faults(delay_s=5),
          "garbage": lambda dm: dm.set_faults(garbage=True), "5xx": lambda dm: dm.set_faults(fail_status=503),
          "wrong shape": lambda dm: setattr(dm, "mangled", True), "dropped": lambda dm: dm.set_faults(drop=True)}
REASONS = {"down": "Dailymotion is unreachable", "slow": "Dailymotion did not answer in time",
           "garbage": "Dailymotion answered with something that is not JSON", "5xx": "Dailymotion answered 503",
           "wrong shape": "Dailymotion sent search results of an unexpected shape",
           "dropped": "Dailymotion is unreachable"}


@pytest.mark.parametrize("fault", list(FAULTS))
async def test_a_failing_dailymotion_degrades_to_youtube_with_a_notice(searcher: Searcher, dailymotion: Dailymotion,
                                                                      fault: str) -> None:
    FAULTS[fault](dailymotion)
    body = await searcher.get(q="cats", site="dailymotion", limit=3)
    assert sites(body) == ["youtube"] * 3 and body["meta"]["sites"] == ["youtube"]
    [failed] = body["meta"]["failed"]
    assert failed["site"] == "dailymotion" and failed["message"].startswith(REASONS[fault])
    assert failed["code"] == ("UPSTREAM_TIMEOUT" if fault == "slow" else "UNAVAILABLE" if fault in ("down", "dropped")
                              else "UPSTREAM_ERROR")
    assert body["meta"]["notice"] == f"{failed['message']}. Showing results from YouTube only."
    both = await searcher.get(q="cats", limit=3)  # nothing cached from the failure: asked again, still failing
    assert sites(both) == ["youtube"] * 3 and both["meta"]["failed"][0]["site"] == "dailymotion"


async def test_a_failing_youtube_degrades_to_dailymotion(searcher: Searcher, youtube: FakeYouTube) -> None:
    youtube.timeout = True
    body = await searcher.get(q="cats", site="youtube", limit=2)
    assert sites(body) == ["dailymotion"] * 2
    assert body["meta"]["notice"] == "YouTube did not answer in time. Showing results from Dailymotion only."


@pytest.mark.parametrize("extra", [{"breaker_threshold": 2}])
async def test_an_open_breaker_answers_for_dailymotion_without_asking_it(searcher: Searcher,
                                                                         dailymotion: Dailymotion) -> None:
    dailymotion.set_faults(fail_status=500)
    for words in ("cats", "piano"):
        await searcher.get(q=words, site="dailymotion")
    asked = len(dailymotion.searches())
    body = await searcher.get(q="playing", site="dailymotion")
    assert len(dailymotion.searches()) == asked
    assert body["meta"]["failed"][0]["message"].startswith("Dailymotion is unavailable (it failed repeatedly")
    assert sites(body) and set(sites(body)) == {"youtube"}


async def test_both_sites_down_is_a_503_naming_each(searcher: Searcher, dailymotion: Dailymotion,
                                                   youtube: FakeYouTube) -> None:
    dailymotion.refuse()
    youtube.error = "HTTP Error 500: Internal Server Error"
    for params in ({"q": "cats"}, {"q": "cats", "site": "youtube"}, {"q": "cats", "site": "dailymotion"}):
        error = (await searcher.get(expect=503, **params))["error"]
        assert error["code"] == "UNAVAILABLE" and error["request_id"]
        assert error["message"].startswith("Remote search is unavailable: ")
        assert {f["site"] for f in error["details"]["failed"]} == {"youtube", "dailymotion"}
        assert "YouTube is unreachable (HTTP Error 500" in error["message"] and "Dailymotion is unreachable" in \
            error["message"]


@pytest.mark.parametrize("extra", [{"remote_search_sites": ["dailymotion"]}])
async def test_a_site_turned_off_is_never_asked(searcher: Searcher, youtube: FakeYouTube) -> None:
    body = await searcher.get(q="cats", site="youtube", limit=2)
    assert sites(body) == ["dailymotion"] * 2
    assert body["meta"]["failed"] == [{"site": "youtube", "code": "UNAVAILABLE",
                                       "message": "YouTube search is turned off on this server"}]
    assert sites(await searcher.get(q="cats", limit=2)) == ["dailymotion"] * 2
    assert youtube.asked == []


@pytest.mark.parametrize("extra", [{"remote_search_sites": []}])
async def test_every_site_turned_off_is_a_503(searcher: Searcher) -> None:
    error = (await searcher.get(expect=503, q="cats"))["error"]
    assert error["message"] == "Remote search is turned off on this server (MEDIANEST_REMOTE_SEARCH_SITES is empty)"


@pytest.mark.parametrize("params", [
    {}, {"q": ""}, {"q": "x" * 201}, {"q": "a\x00b"}, {"q": "cats", "limit": 0}, {"q": "cats", "limit": 51},
    {"q": "cats", "page": 0}, {"q": "cats", "page": 11}, {"q": "cats", "site": "vimeo"}, {"q": "cats", "limit": "x"},
])
async def test_bad_input_is_a_validation_error(searcher: Searcher, dailymotion: Dailymotion, youtube: FakeYouTube,
                                               params: dict[str, Any]) -> None:
    error = (await searcher.get(expect=422, **params))["error"]
    assert error["code"] == "VALIDATION_ERROR" and error["request_id"]
    named = [f["field"] for f in error["details"]["fields"]]
    assert named and all(f.removeprefix("query.") in ("q", "limit", "page", "site") for f in named), named
    assert dailymotion.searches() == [] and youtube.asked == []


async def test_no_words_find_nothing_without_asking(searcher: Searcher, dailymotion: Dailymotion,
                                                    youtube: FakeYouTube) -> None:
    for q in (" \t\n ", "\x01\u202e", "\u2028"):
        body = await searcher.get(q=q)
        assert body["data"] == [] and body["meta"]["sites"] == [] and body["meta"]["notice"] is None
    assert dailymotion.searches() == [] and youtube.asked == []
    await searcher.get(q="\x1bcats\u202e  piano\x7f")  # controls left out, the words kept
    assert youtube.searched == ["cats piano"] and dailymotion.searches()[0].arg("search") == "cats piano"


@pytest.mark.parametrize("extra", [{"remote_search_rate_limit": "2/minute"}])
async def test_searches_that_reach_a_site_are_rate_limited(searcher: Searcher) -> None:
    await searcher.get(q="cats one")
    await searcher.get(q="cats two")
    await searcher.get(q="cats one")  # from the cache: not counted
    r = await searcher.api.client.get(SEARCH, params={"q": "cats three"}, headers=bearer(searcher.token))
    assert r.status_code == 429 and r.json()["error"]["code"] == "RATE_LIMITED" and int(r.headers["retry-after"]) > 0


async def test_sign_in_is_required(api: Api, dailymotion: Dailymotion) -> None:
    await api.setup_admin()
    r = await api.client.get(SEARCH, params={"q": "cats"})
    assert r.status_code == 401 and r.json()["error"]["code"] == "UNAUTHORIZED"
    r = await api.client.get(SEARCH, params={"q": "cats"}, headers=bearer("not-a-token"))
    assert r.status_code == 401
    assert dailymotion.searches() == []


async def test_the_stand_in_answers_as_the_documentation_says(dailymotion: Dailymotion) -> None:
    """Dailymotion's error shape for a bad parameter, and its message surfacing in the provider's error."""
    dailymotion.add_video("x8abc", "Some video")
    async with httpx.AsyncClient() as http:
        r = await http.get(f"{dailymotion.url}/videos", params={"search": "some", "fields": "id,nope"})
        assert r.status_code == 400 and r.json()["error"]["type"] == "invalid_parameter"
        r = await http.get(f"{dailymotion.url}/videos", params={"search": "some"})
        assert r.json()["list"] == [{"id": "x8abc", "title": "Some video", "channel": "news", "owner": "xsome channel"}]
        upstream = Upstream(http, "Dailymotion", dailymotion.url, Breaker(5, 30), Policy(5, 1, 0))
        with pytest.raises(UpstreamError, match=r"Dailymotion refused the search \(400: Invalid value for `limit'"):
            await DailymotionProvider(upstream).search("some", 1, 101)
