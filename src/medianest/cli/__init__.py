"""The `medianest` command: one typer group per file."""

from __future__ import annotations

import typer
from pydantic import ValidationError

from medianest.cli import db, demo, download, scan, serve, user, worker
from medianest.cli.common import console

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
    try:
        app()
    except ValidationError as exc:  # a bad MEDIANEST_* setting: say which and why, without a traceback
        if exc.title != "Settings":
            raise
        for err in exc.errors():
            field = ".".join(str(p) for p in err["loc"])
            name = f"MEDIANEST_{field.upper()}: " if field else ""
            console.print(f"[red]configuration error[/] {name}{err['msg'].removeprefix('Value error, ')}")
        raise SystemExit(2) from None
