"""YouTube's search up to the network: `ytdlp.search` through yt-dlp's real search extractor (only the result
pages are made up, see tests/discovery/youtube.py), the provider's paging and errors, and the child process
that runs it. What cannot be tested offline: that youtube.com answers as yt-dlp expects."""

from __future__ import annotations

import pytest

from medianest.discovery.youtube import YouTube
from medianest.downloads import process, ytdlp
from medianest.downloads.spec import Failure
from medianest.errors import UpstreamError, UpstreamTimeout, UpstreamUnavailable
from medianest.integrations.http import Breaker
from tests.discovery.youtube import FakeYouTube


def provider(fake: FakeYouTube, threshold: int = 5) -> YouTube:
    return YouTube(Breaker(threshold, 60), timeout_s=30, allow_private=False, run=fake.run)


def test_search_asks_yt_dlp_for_n_results_of_the_words_flat_with_dates(youtube: FakeYouTube) -> None:
    for n in range(8):
        youtube.add(f"vid{n:08d}", f"Café talk {n}", duration=60 + n, views=10 * n, timestamp=1_700_000_000 + n)
    found = ytdlp.search("café   TALK", 3)
    assert youtube.asked == ["ytsearch3:café   TALK"]
    assert youtube.searched == ["café   TALK"]
    assert [r["id"] for r in found] == ["vid00000000", "vid00000001", "vid00000002"]
    assert found[1] == {
        "id": "vid00000001", "url": "https://www.youtube.com/watch?v=vid00000001", "title": "Café talk 1",
        "channel": "A Channel", "duration_s": 61, "views": 10,
        "thumbnail": "https://i.ytimg.com/vi/vid00000001/hq720.jpg?sqp=b",  # the widest
        "published_at": "2023-11-14T22:13:21+00:00"}  # approximate_date reached the extractor


def test_search_cleans_text_and_leaves_out_live_streams_and_entries_without_an_id(youtube: FakeYouTube) -> None:
    youtube.add("abcdefghijk", "Evil\u202etxt.exe\x00 clip\n", channel="Chan\x1b[31mnel")
    youtube.add("livelivelive", "Live clip", live=True)
    youtube.add("", "No id clip")
    youtube.add("lmnopqrstuv", "Fine clip", duration=None, views=None, timestamp=None)
    found = ytdlp.search("clip", 10)
    assert [r["id"] for r in found] == ["abcdefghijk", "lmnopqrstuv"]
    assert found[0]["title"] == "Eviltxt.exe clip" and found[0]["channel"] == "Chan[31mnel"
    assert found[1] | {"thumbnail": None} == {"id": "lmnopqrstuv", "url": "https://www.youtube.com/watch?v=lmnopqrstuv",
                                              "title": "Fine clip", "channel": "A Channel", "duration_s": None,
                                              "thumbnail": None, "views": None, "published_at": None}


def test_a_refusal_by_yt_dlp_is_a_classified_failure(youtube: FakeYouTube) -> None:
    youtube.error = "HTTP Error 503: Service Unavailable"
    with pytest.raises(Failure) as caught:
        ytdlp.search("anything", 5)
    assert caught.value.transient and "503" in caught.value.reason


async def test_the_provider_pages_through_the_first_n_results(youtube: FakeYouTube) -> None:
    for n in range(5):
        youtube.add(f"vid{n:08d}", f"Clip {n}")
    yt = provider(youtube)
    first, second, third = [await yt.search("clip", page, 2) for page in (1, 2, 3)]
    assert youtube.asked == ["ytsearch3:clip", "ytsearch5:clip", "ytsearch7:clip"]  # one more than the page's end
    assert [r.id for r in first.results] == ["vid00000000", "vid00000001"] and first.has_more
    assert [r.id for r in second.results] == ["vid00000002", "vid00000003"] and second.has_more
    assert [r.id for r in third.results] == ["vid00000004"] and not third.has_more
    r = first.results[0]
    assert (r.site, r.url, r.title, r.channel, r.duration_s, r.views) == (
        "youtube", "https://www.youtube.com/watch?v=vid00000000", "Clip 0", "A Channel", 212, 1234)
    assert r.published_at is not None and r.published_at.isoformat() == "2023-11-14T22:13:20+00:00"


@pytest.mark.parametrize(("fault", "error", "words"), [
    ("HTTP Error 503: Service Unavailable", UpstreamUnavailable, "YouTube is unreachable (HTTP Error 503"),
    ("This video is private", UpstreamError, "YouTube refused the search (This video is private"),
    ("timeout", UpstreamTimeout, "YouTube did not answer in time"),
])
async def test_provider_failures_are_typed_and_open_the_breaker(youtube: FakeYouTube, fault: str,
                                                                error: type[Exception], words: str) -> None:
    youtube.add("vid00000000", "Clip")
    if fault == "timeout":
        youtube.timeout = True
    else:
        youtube.error = fault
    yt = provider(youtube, threshold=2)
    for _ in range(2):
        with pytest.raises(error) as caught:
            await yt.search("clip", 1, 5)
        assert str(caught.value).startswith(words)
    asked = len(youtube.asked)
    youtube.error, youtube.timeout = None, False
    with pytest.raises(UpstreamUnavailable, match="failed repeatedly"):
        await yt.search("clip", 1, 5)
    assert len(youtube.asked) == asked  # the open breaker answered: yt-dlp was not run


async def test_the_child_process_runs_the_search_target() -> None:
    """The real child (fork server, address guard) given a search it cannot make offline-safely otherwise:
    "ytsearch0:" is no search to yt-dlp, and its URL scheme is refused before any request. The reason naming
    it shows that "search" reached `ytdlp.search` (as "entries", the words would be an invalid URL)."""
    with pytest.raises(Failure) as caught:
        await process.run("search", ("offline words", 0), False, 60)
    assert 'Unsupported url scheme: "ytsearch0"' in caught.value.reason
    assert not caught.value.transient
