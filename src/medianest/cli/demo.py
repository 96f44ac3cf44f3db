"""`medianest demo`: generate a small tagged library with ffmpeg so there is something to play."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.progress import Progress

from medianest.cli.common import console
from medianest.config import Settings
from medianest.library import demo as samples

DEMO_FOLDER = "MediaNest Demo"


def make_demo(settings: Settings) -> Path:
    root = settings.library_dirs[0] / DEMO_FOLDER
    with Progress(console=console, transient=True) as progress:
        task = progress.add_task("generating demo media", total=len(samples.DEMO))
        samples.generate(root, settings.ffmpeg_path, on_file=lambda _: progress.advance(task))
    return root


def demo() -> None:
    """Create demo audio and video in the first media folder (then run `medianest scan` or `serve`)."""
    root = make_demo(Settings())
    console.print(f"[green]demo library ready:[/] {root}")
    raise typer.Exit(0)
