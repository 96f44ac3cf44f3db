"""At a worker's start, the temporary folders of downloads that are over are removed: a worker killed
mid-download leaves its partial files, and the download may have been finished by a worker elsewhere."""

from __future__ import annotations

from fastapi import FastAPI

from medianest.config import Settings
from medianest.downloads.models import COMPLETED, FAILED, QUEUED, RUNNING, Download
from medianest.downloads.tasks import sweep
from tests.conftest import Api


async def test_leftover_folders_of_finished_downloads_go_and_live_ones_stay(
        api: Api, app: FastAPI, settings: Settings) -> None:
    await api.setup_admin()
    sessions = app.state.parts.sessions
    async with sessions() as session:
        rows = [Download(user_id=1, url="https://example.org/v", status=status)
                for status in (QUEUED, RUNNING, COMPLETED, FAILED)]
        session.add_all(rows)
        await session.commit()
        ids = [row.id for row in rows]
    tmp = settings.downloads_tmp_dir
    for name in [*map(str, ids), "999999", "scan"]:  # 999999: a download removed since
        (tmp / name / "0").mkdir(parents=True)
        (tmp / name / "0" / "video.mp4.part").write_bytes(b"partial")
    await sweep(sessions, tmp)
    assert sorted(p.name for p in tmp.iterdir()) == sorted([str(ids[0]), str(ids[1]), "scan"])
    await sweep(sessions, tmp / "missing")  # no folder yet: nothing to do
