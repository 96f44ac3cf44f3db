"""How downloads announce themselves: which event for which status, to which rooms, with what payload."""

from __future__ import annotations

from typing import Any

from medianest import events as names
from medianest.downloads.models import CANCELED, COMPLETED, FAILED, QUEUED, RUNNING, Download
from medianest.events import Notifier

BY_STATUS = {QUEUED: names.DOWNLOAD_QUEUED, RUNNING: names.DOWNLOAD_STARTED, COMPLETED: names.DOWNLOAD_COMPLETED,
             FAILED: names.DOWNLOAD_FAILED, CANCELED: names.DOWNLOAD_CANCELED}


def rooms(dl: Download) -> list[str]:
    """The owner's room and the download's own: a client in both gets each event once."""
    return [f"user:{dl.user_id}", f"download:{dl.id}"]


def state(dl: Download) -> dict[str, Any]:
    return {"id": str(dl.id), "status": dl.status, "phase": dl.phase, "percent": dl.percent,
            "downloaded_bytes": dl.downloaded_bytes, "total_bytes": dl.total_bytes, "speed_bps": dl.speed_bps,
            "eta_s": dl.eta_s, "attempts": dl.attempts, "error": dl.error, "title": dl.title}


async def announce(notifier: Notifier, dl: Download) -> None:
    """The event of the download's current status (queued, started, completed, failed, canceled)."""
    await notifier.emit(BY_STATUS[dl.status], state(dl), rooms(dl))


async def progress(notifier: Notifier, dl: Download, values: dict[str, Any]) -> None:
    keys = ("phase", "percent", "downloaded_bytes", "total_bytes", "speed_bps", "eta_s")
    payload = {"id": str(dl.id), "status": RUNNING, **{k: values[k] for k in keys}}
    await notifier.emit(names.DOWNLOAD_PROGRESS, payload, rooms(dl))
