"""Paging through every track (a Subsonic app's sync) with keyset cursors remembered per process: pages
served by different processes (several workers) are the same pages one process serves."""

from __future__ import annotations

from medianest.library import browse
from tests.conftest import Api


async def _walk(api: Api, user_id: int, processes: list[browse.Cursors], size: int) -> list[list[int]]:
    pages, offset, turn = [], 0, 0
    async with api.app.state.parts.sessions() as session:
        while True:
            rows = await browse.everything(session, processes[turn % len(processes)], user_id, offset, size)
            if not rows:
                return pages
            pages.append([media.id for media, _ in rows])
            offset, turn = offset + len(rows), turn + 1


async def test_pages_served_by_alternating_processes_are_one_process_s_pages(api: Api) -> None:
    token = await api.setup_admin()
    await api.scan()
    me = (await api.client.get("/api/v1/auth/me", headers={"Authorization": f"Bearer {token}"})).json()["data"]
    user_id = int(me["id"])
    alone = await _walk(api, user_id, [browse.Cursors()], 2)
    ids = [i for page in alone for i in page]
    assert len(alone) >= 3 and ids == sorted(ids) and len(set(ids)) == len(ids)
    assert await _walk(api, user_id, [browse.Cursors(), browse.Cursors()], 2) == alone
    assert await _walk(api, user_id, [browse.Cursors(), browse.Cursors(), browse.Cursors()], 2) == alone
    # A process that knows nothing answers any page alone (counted from the start).
    async with api.app.state.parts.sessions() as session:
        deep = await browse.everything(session, browse.Cursors(), user_id, 4, 2)
    assert [m.id for m, _ in deep] == ids[4:6]


def test_the_nearest_known_page_end_below_an_offset() -> None:
    cursors = browse.Cursors()
    assert cursors.below(1000) == (0, 0)
    cursors.put(500, 41)
    cursors.put(1500, 99)
    cursors.put(1000, 77)
    assert cursors.below(1000) == (500, 41)  # strictly below: the page at 1000 itself is `get`'s
    assert cursors.below(1001) == (1000, 77)
    assert cursors.below(10_000) == (1500, 99)
    assert cursors.below(500) == (0, 0)
