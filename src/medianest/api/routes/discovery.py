"""Routes: /api/v1/search/remote (videos on YouTube and Dailymotion, found by words)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from medianest.api.deps import CurrentUser, parts
from medianest.api.envelope import errors
from medianest.discovery.providers import Site
from medianest.discovery.schemas import RemoteSearchOut
from medianest.discovery.service import RemoteSearch
from medianest.inputs import NO_NUL

router = APIRouter(prefix="/api/v1/search", tags=["search"], responses=errors(401))


async def _remote_search(request: Request) -> RemoteSearch:
    return parts(request).remote_search


RemoteSearchDep = Annotated[RemoteSearch, Depends(_remote_search)]


@router.get("/remote", responses=errors(422, 429, 503))
async def remote(user: CurrentUser, search: RemoteSearchDep,
                 q: Annotated[str, Query(min_length=1, max_length=200, pattern=NO_NUL)],
                 site: Site | None = None,
                 page: Annotated[int, Query(ge=1, le=10)] = 1,
                 limit: Annotated[int, Query(ge=1, le=50)] = 20) -> RemoteSearchOut:
    """Videos matching `q` on one site, or on every configured site interleaved when `site` is left out:
    title, channel, duration, thumbnail, views, date, and the `url` to preview or download. Answers are
    cached for 5 minutes. A site that fails is named in `meta.failed` and `meta.notice`, and the other
    site's results stand in; 503 when no site answered."""
    outcome = await search.search(str(user.id), q, site, page, limit)
    return RemoteSearchOut.of(outcome, page, limit)
