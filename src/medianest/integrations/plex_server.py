"""A client of a Plex Media Server (its local HTTP API, usually on port 32400).

  GET /identity                                   machine id and version (no token): the board's probe
  GET /library/sections                           the libraries, each with its folders (`Location`)
  GET /library/sections/{key}/refresh?path=...    rescan one folder of a library (what python-plexapi's
                                                  `LibrarySection.update(path)` does)
The token travels in `X-Plex-Token`, never in the URL (URLs end up in logs); JSON is asked for with
`Accept`, since the server answers XML otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from medianest.errors import UpstreamError
from medianest.integrations.http import Upstream
from medianest.text import clean_line, clean_optional


@dataclass(frozen=True)
class Library:
    key: str
    title: str
    type: str
    paths: list[str]


class PlexServer:
    def __init__(self, upstream: Upstream) -> None:
        self.upstream = upstream

    async def identity(self) -> dict[str, Any]:
        body = await self.upstream.json("GET", "/identity")
        container = body.get("MediaContainer") if isinstance(body, dict) else None
        if not isinstance(container, dict) or not container.get("machineIdentifier"):
            raise UpstreamError(self.upstream.name, "answered /identity without a machine identifier")
        return container

    async def libraries(self) -> list[Library]:
        body = await self.upstream.json("GET", "/library/sections")
        try:
            return [_library(d) for d in body["MediaContainer"].get("Directory") or []]
        except (AttributeError, KeyError, TypeError):
            raise UpstreamError(self.upstream.name, "sent libraries of an unexpected shape") from None

    async def refresh(self, key: str, path: str | None) -> None:
        params = {"path": path} if path else None
        # The key comes from Plex's own answer; quoted whole so a hostile one ("../..", "1?x=") cannot aim
        # the call at another path of the server.
        response = await self.upstream.request("GET", f"/library/sections/{quote(key, safe='')}/refresh",
                                               params=params)
        self.upstream.check(response)


def _library(raw: dict[str, Any]) -> Library:
    # Paths stay exactly as Plex knows them (they are compared with ours); names are for people: cleaned.
    paths = [str(loc["path"]) for loc in raw.get("Location") or [] if loc.get("path")]
    key = str(raw["key"])  # sent back to Plex as it is
    return Library(key=key, title=clean_optional(raw.get("title"), 255) or clean_line(key),
                   type=clean_optional(raw.get("type"), 32) or "", paths=paths)
