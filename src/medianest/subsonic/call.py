"""What a handler gets: the request, the process's parts, a session, the signed-in user, the parameters."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.requests import Request
from starlette.responses import Response

from medianest.accounts.models import User
from medianest.parts import Parts
from medianest.subsonic.params import Params
from medianest.subsonic.protocol import Payload


@dataclass(frozen=True)
class Call:
    request: Request
    parts: Parts
    session: AsyncSession
    user: User
    params: Params
    fmt: str


Handler = Callable[[Call], Awaitable[Payload | Response]]
