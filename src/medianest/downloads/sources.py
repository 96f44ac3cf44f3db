"""Where a download's files come from, by the download's `kind`.

A download of kind "media" is fetched by yt-dlp in a child process (the runner's own path). Other kinds
register a `Source` through the composition root (parts.py): speech/ makes a text into audio. The runner
treats their items like any other - claimed, retried, canceled, stored and indexed the same way - so a
new kind of download is one module and one line in parts.py, and downloads/ imports none of them.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any, Protocol

from medianest.downloads.models import Download, DownloadItem
from medianest.jobs.context import JobContext

# A source's progress: {"type": "progress", "downloaded": n, "total": n | None} or {"type": "phase", ...},
# the same messages a yt-dlp child sends.
Report = Callable[[dict[str, Any]], None]


class Source(Protocol):
    async def entries(self, context: JobContext, dl: Download) -> dict[str, Any]:
        """What the download holds, shaped like a preview: `title`, `site`, and `entries` (each with
        `url`, `title`, `id`), stored once as the download's items."""
        ...

    async def fetch(self, context: JobContext, dl: Download, item: DownloadItem, tmp: Path,
                    report: Report) -> dict[str, Any]:
        """Make the item's file inside `tmp`. The result is shaped like `ytdlp.download`'s: `file`,
        `bytes`, `id`, `site`, `title`, `url`, `channel`, `uploaded_at`. A `Failure` says whether another
        attempt could help; the task is cancelled when the user cancels or the process stops."""
        ...


Sources = dict[str, Source]
