"""`medianest scan`: scan the media folders now, with a progress bar and a summary."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING

import typer
from rich.markup import escape
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from medianest import logs
from medianest.cli.common import console, warn_missing_folders
from medianest.config import Settings

if TYPE_CHECKING:
    from medianest.library.models import Scan
    from medianest.library.scanner import ScanStats


async def _scan(settings: Settings) -> tuple[Scan, ScanStats | None]:
    """The scan, recorded in the scans table like the server's (an interrupted one is reported so)."""
    from medianest.parts import open_parts  # the app's parts load when the command runs

    columns = (TextColumn("scanning"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    async with open_parts(settings) as parts:
        with Progress(*columns, console=console) as progress:
            task = progress.add_task("scan", total=None)

            async def report(stats: ScanStats) -> None:
                progress.update(task, total=stats.total, completed=stats.processed)

            return await parts.scans.scan_here(report)


def scan() -> None:
    """Scan the media folders: add new files, update changed ones, drop removed ones (never the items of
    a folder that is offline: missing, unreadable, or empty like a share not mounted)."""
    settings = Settings()
    if logs.use_json(settings):  # off a terminal: JSON lines, as serve and worker log; else the console says it
        logs.configure(settings)
    warn_missing_folders(settings)
    record, stats = asyncio.run(_scan(settings))
    if stats is None:
        console.print(f"[red]scan failed:[/] {escape(record.error or 'unknown error')}")
        raise typer.Exit(1)
    table = Table("added", "updated", "removed", "failed", "unchanged", title="scan summary")
    table.add_row(*(str(v) for v in (stats.added, stats.updated, stats.removed, stats.failed, stats.unchanged)))
    console.print(table)
    for path, why in sorted(stats.offline.items()):
        console.print(f"[yellow]offline:[/] {escape(path)}: {escape(why)}; nothing in it was removed")
    if stats.failed:
        console.print("files that could not be read are listed by GET /api/v1/library/folders")
