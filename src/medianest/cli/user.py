"""`medianest user create|list|passwd`: manage accounts from the shell."""

from __future__ import annotations

import asyncio

import typer
from rich.table import Table

from medianest.cli.common import console, database
from medianest.config import Settings
from medianest.errors import DomainError

app = typer.Typer(no_args_is_help=True, help="Manage user accounts.")


def _password(value: str | None) -> str:
    return value or typer.prompt("Password", hide_input=True, confirmation_prompt=True)


@app.command()
def create(username: str, admin: bool = typer.Option(False, "--admin", help="give the admin role"),
           password: str | None = typer.Option(None, help="omit to be asked")) -> None:
    """Create a user."""
    secret = _password(password)
    from medianest.accounts import users  # accounts (JWT, Argon2) load when the command runs
    from medianest.accounts.models import ROLE_ADMIN, ROLE_USER

    async def run() -> None:
        async with database(Settings()) as sessions, sessions() as session:
            await users.add_user(session, None, username, secret, ROLE_ADMIN if admin else ROLE_USER)

    _run(run(), f"created {username}")


@app.command("list")
def list_() -> None:
    """List users."""
    from medianest.accounts import users

    async def run() -> None:
        async with database(Settings()) as sessions, sessions() as session:
            rows, _ = await users.list_users(session, 0, 10_000)
        table = Table("id", "username", "role", "status", "last sign-in")
        for u in rows:
            table.add_row(str(u.id), u.username, u.role, u.status, str(u.last_login_at or "-"))
        console.print(table)

    _run(run())


@app.command()
def passwd(username: str, password: str | None = typer.Option(None, help="omit to be asked")) -> None:
    """Set a user's password (signs them out everywhere)."""
    secret = _password(password)
    from medianest.accounts import users

    async def run() -> None:
        async with database(Settings()) as sessions, sessions() as session:
            await users.set_password(session, username, secret)

    _run(run(), f"password changed for {username}")


def _run(coro: object, done: str | None = None) -> None:
    try:
        asyncio.run(coro)  # type: ignore[arg-type]
    except DomainError as exc:
        console.print(f"[red]error:[/] {exc.message}")
        raise typer.Exit(1) from exc
    if done:
        console.print(f"[green]{done}[/]")
