"""YouTube's search through yt-dlp (`downloads.ytdlp.search`, no API key), run in a child process guarded
like a preview's (`downloads.process`): yt-dlp's requests pass the same address guard, and a search that
hangs is killed at its deadline instead of holding a thread."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Any

from medianest.discovery.providers import Found, Result, Site
from medianest.downloads import process
from medianest.downloads.spec import Failure
from medianest.errors import DomainError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from medianest.integrations.http import Breaker

Run = Callable[[str, tuple[Any, ...], bool, float], Awaitable[dict[str, Any]]]
_REASON_CHARS = 200  # of yt-dlp's message, in a notice a user reads


class YouTube:
    """YouTube's search has no pages: page N is the last `limit` of the first N*limit results, and one
    more than those is asked for to know whether there are more."""

    site: Site = "youtube"
    name = "YouTube"

    def __init__(self, breaker: Breaker, timeout_s: float, allow_private: bool, run: Run = process.run) -> None:
        self.breaker, self.timeout_s, self.allow_private, self.run = breaker, timeout_s, allow_private, run

    async def search(self, query: str, page: int, limit: int) -> Found:
        if not self.breaker.allow():
            raise UpstreamUnavailable(self.name, f"unavailable (it failed repeatedly; next try in "
                                                 f"{self.breaker.retry_in():.0f} s)")
        wanted = page * limit
        try:
            results = _results(await self._run(query, wanted + 1))
        except DomainError:
            self.breaker.failure()
            raise
        self.breaker.success()
        return Found(results[wanted - limit:wanted], has_more=len(results) > wanted)

    async def _run(self, query: str, count: int) -> dict[str, Any]:
        try:
            return await self.run("search", (query, count), self.allow_private, self.timeout_s)
        except TimeoutError:
            raise UpstreamTimeout(self.name) from None
        except Failure as failure:
            reason = failure.reason[:_REASON_CHARS]
            if failure.transient:
                raise UpstreamUnavailable(self.name, f"unreachable ({reason})") from None
            raise UpstreamError(self.name, f"refused the search ({reason})") from None


def _results(raw: dict[str, Any]) -> list[Result]:
    """`ytdlp.search`'s dicts (already cleaned there) as Results; a shape it never sends is an error."""
    try:
        return [Result(site="youtube", id=r["id"], url=r["url"], title=r["title"] or r["id"], channel=r["channel"],
                       duration_s=r["duration_s"], thumbnail=r["thumbnail"], views=r["views"],
                       published_at=datetime.fromisoformat(r["published_at"]) if r["published_at"] else None)
                for r in raw["results"]]
    except (KeyError, TypeError, ValueError):
        raise UpstreamError(YouTube.name, "sent search results of an unexpected shape") from None
