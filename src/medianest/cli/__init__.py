"""The `medianest` command: one typer group per file."""

from __future__ import annotations

import typer

from medianest.cli import db, demo, download, scan, serve, user, worker

app = typer.Typer(no_args_is_help=True, add_completion=False,
                  help="MediaNest: a self-hosted media hub. Settings come from MEDIANEST_* variables.")
app.command("serve")(serve.serve)
app.command("scan")(scan.scan)
app.command("demo")(demo.demo)
app.command("download")(download.download)
app.command("worker")(worker.worker)
app.add_typer(user.app, name="user")
app.add_typer(db.app, name="db")


def main() -> None:
    app()
