"""`medianest download URL`: queue a download as the server would, and follow it with a progress bar."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn, TimeRemainingColumn, TransferSpeedColumn

from medianest.cli.common import console
from medianest.config import Settings
from medianest.errors import DomainError
from medianest.logs import configure as configure_logs

if TYPE_CHECKING:
    from sqlalchemy.ext.asyncio import AsyncSession

    from medianest.accounts.models import User
    from medianest.db.engine import SessionFactory
    from medianest.downloads.models import Download
    from medianest.downloads.schemas import DownloadIn

POLL_S = 0.25
# A running server or worker takes a queued job within a second; ten seconds of waiting means there is
# none (the queue has no heartbeat to ask), and the user should hear it rather than watch a still bar.
NOBODY_AFTER_S = 10
NOBODY = ("still queued after {s} s: no server or worker is taking jobs from the queue: start `medianest serve` or "
          "`medianest worker`, or run again with --run-here. Still waiting (Ctrl-C stops waiting; the download "
          "stays queued).")


def download(url: str,
             audio: str | None = typer.Option(None, help="audio only, converted to mp3, m4a, opus or flac"),
             quality: str = typer.Option("best", help="best, 2160p, 1440p, 1080p, 720p, 480p or 360p"),
             user: str | None = typer.Option(None, help="owner of the download [default: the first admin]"),
             run_here: bool = typer.Option(False, "--run-here",
                                           help="also run the job in this process (when no server or worker is)"),
             ) -> None:
    """Queue URL for download (a running server or worker picks it up) and show its progress."""
    from medianest.downloads.schemas import DownloadIn  # the command's heavy parts load when it runs

    settings = Settings()
    configure_logs(settings)  # at INFO by default: the job's debug lines stay out of the way
    body = DownloadIn.model_validate({"url": url, "mode": "audio" if audio else "video", "quality": quality,
                                      "audio_format": audio})
    try:
        status = asyncio.run(_download(settings, body, user, run_here))
    except DomainError as exc:  # a refused URL, the rate limit...: said plainly, no traceback
        console.print(f"[red]{exc.message}[/]")
        raise typer.Exit(2) from None
    raise typer.Exit(0 if status == "completed" else 1)


async def _download(settings: Settings, body: DownloadIn, username: str | None, run_here: bool) -> str:
    from medianest.downloads import service
    from medianest.parts import open_parts

    async with open_parts(settings) as parts:
        async with parts.sessions() as session:
            owner = await _owner(session, username)
            dl = await service.create(parts.downloads, session, owner, body)
        consumer = parts.jobs.consumer() if run_here else None
        if consumer is not None:
            consumer.start()
        try:
            return await _follow(parts.sessions, dl.id, hint_after_s=None if run_here else NOBODY_AFTER_S)
        finally:
            if consumer is not None:
                await asyncio.to_thread(parts.jobs.shutdown, consumer)


async def _owner(session: AsyncSession, username: str | None) -> User:
    """The named user, or the first admin: the CLI acts for someone, as the API always does."""
    from sqlalchemy import select

    from medianest.accounts.models import ROLE_ADMIN, User

    query = select(User).where(User.username == username) if username else \
        select(User).where(User.role == ROLE_ADMIN).order_by(User.id).limit(1)
    owner = await session.scalar(query)
    if owner is None:
        console.print("[red]no such user[/] (create one with `medianest user create`)")
        raise typer.Exit(2)
    return owner


async def _follow(sessions: SessionFactory, download_id: int, hint_after_s: float | None) -> str:
    """Show the download until it finishes; when it is still queued after `hint_after_s`, say once that
    nobody seems to be taking jobs (and keep following: one may start)."""
    from medianest.downloads.models import FINISHED, QUEUED, Download

    columns = (TextColumn("{task.description}"), BarColumn(), DownloadColumn(), TransferSpeedColumn(),
               TimeRemainingColumn())
    hint_at = None if hint_after_s is None else time.monotonic() + hint_after_s
    with Progress(*columns, console=console) as progress:
        task = progress.add_task("queued", total=None)
        while True:
            async with sessions() as session:
                dl = await session.get(Download, download_id)
            assert dl is not None
            progress.update(task, description=_label(dl), total=dl.total_bytes, completed=dl.downloaded_bytes)
            if dl.status in FINISHED:
                break
            if hint_at is not None and dl.status == QUEUED and time.monotonic() >= hint_at:
                progress.console.print(NOBODY.format(s=hint_after_s), style="yellow", markup=False)
                hint_at = None
            await asyncio.sleep(POLL_S)
    console.print(f"{dl.status}" + (f": {dl.error}" if dl.error else ""))
    return dl.status


def _label(dl: Download) -> str:
    return f"{dl.title or dl.url}"[:40] + f" [{dl.phase or dl.status}]"
