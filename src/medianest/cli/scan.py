"""`medianest scan`: scan the media folders now, with a progress bar and a summary."""

from __future__ import annotations

import asyncio

from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medianest.cli.common import console, database
from medianest.config import Settings
from medianest.library.scanner import Scanner, ScanStats


async def _scan(settings: Settings) -> ScanStats:
    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with database(settings) as sessions:
        scanner = Scanner(sessions, settings.library_dirs, settings.artwork_dir)
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("scan", total=None)

            async def report(stats: ScanStats) -> None:
                progress.update(task, total=stats.total, completed=stats.processed)

            return await scanner.run(report)


def scan() -> None:
    """Scan the media folders: add new files, update changed ones, drop removed ones."""
    settings = Settings()
    stats = asyncio.run(_scan(settings))
    table = Table("added", "updated", "removed", "failed", "unchanged", title="scan summary")
    table.add_row(*(str(v) for v in (stats.added, stats.updated, stats.removed, stats.failed, stats.unchanged)))
    console.print(table)
    if stats.failed:
        console.print("files that could not be read are listed by GET /api/v1/library/folders")
