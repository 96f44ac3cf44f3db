"""The tests' cache of FastAPI's per-app route contexts (tests/routecache.py) is in use, and sound."""

from __future__ import annotations

from pathlib import Path

import httpx

from medianest.app import create_app
from medianest.config import Settings
from tests import routecache


async def test_two_apps_share_route_contexts_and_override_nothing(settings: Settings, tmp_path: Path) -> None:
    assert routecache.share_route_contexts()  # this FastAPI has the internals the cache relies on
    first, second = create_app(settings), create_app(settings)
    counts = []
    for app in (first, second):
        async with app.router.lifespan_context(app), httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://testserver") as client:
            assert (await client.get("/api/v1/media")).status_code == 401
            assert (await client.get("/api/v1/playlists")).status_code == 401
            counts.append(routecache.shared_contexts())
    assert counts[0] > 0 and counts[1] == counts[0]  # the second app built no context anew
    # What a shared context refers to per app is its dependency overrides, which must stay unused.
    assert not first.dependency_overrides and not second.dependency_overrides
