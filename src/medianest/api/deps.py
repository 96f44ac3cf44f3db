"""Dependencies every route uses: the DB session, the current user, pagination, ids."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Annotated, TypeVar

from fastapi import Depends, Query, Request
from fastapi.security import APIKeyHeader, HTTPAuthorizationCredentials, HTTPBearer
from sqlalchemy.ext.asyncio import AsyncSession

from medianest.accounts.api_keys import user_for_key
from medianest.accounts.models import User
from medianest.accounts.plex_signin import PlexSignIn
from medianest.accounts.service import Auth
from medianest.api.observer import add_response_headers
from medianest.config import Settings
from medianest.connections.clients import Integrations
from medianest.errors import Forbidden, InvalidInput, NotFound, Unauthorized
from medianest.events import Notifier
from medianest.inputs import NUL
from medianest.library.artwork import Artwork
from medianest.parts import Parts
from medianest.security.crypto import SecretBox
from medianest.security.limits import RateLimits
from medianest.transcoding.service import Transcoding

T = TypeVar("T")

_bearer = HTTPBearer(auto_error=False, description="An access token from /api/v1/auth/login")
_api_key = APIKeyHeader(name="X-Api-Key", auto_error=False, description="A key from /api/v1/auth/api-keys")


def parts(request: Request) -> Parts:
    """The process's parts (medianest/parts.py), made by the app's lifespan."""
    made: Parts = request.app.state.parts
    return made


async def _parts(request: Request) -> Parts:
    return parts(request)  # async: FastAPI would run a plain function in its thread pool


PartsDep = Annotated[Parts, Depends(_parts)]


async def _session(parts: PartsDep) -> AsyncIterator[AsyncSession]:
    async with parts.sessions() as session:
        yield session


SessionDep = Annotated[AsyncSession, Depends(_session)]


def _part(get: Callable[[Parts], T]) -> Callable[[Parts], Awaitable[T]]:
    """A dependency handing out one member of the Parts (typed: `get` is checked against Parts)."""
    async def dependency(parts: PartsDep) -> T:
        return get(parts)
    return dependency


SettingsDep = Annotated[Settings, Depends(_part(lambda p: p.settings))]
AuthDep = Annotated[Auth, Depends(_part(lambda p: p.auth))]
PlexDep = Annotated[PlexSignIn, Depends(_part(lambda p: p.plex_sign_in))]
IntegrationsDep = Annotated[Integrations, Depends(_part(lambda p: p.integrations))]
NotifierDep = Annotated[Notifier, Depends(_part(lambda p: p.notifier))]
LimitsDep = Annotated[RateLimits, Depends(_part(lambda p: p.limits))]
TranscodingDep = Annotated[Transcoding, Depends(_part(lambda p: p.transcoding))]
ArtworkDep = Annotated[Artwork, Depends(_part(lambda p: p.artwork))]
# The process's one SecretBox (built in parts.py with the integrations, whose secrets it seals too).
SecretBoxDep = Annotated[SecretBox, Depends(_part(lambda p: p.integrations.box))]


async def _current_user(
    request: Request, session: SessionDep, auth: AuthDep,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    api_key: Annotated[str | None, Depends(_api_key)],
) -> User:
    if credentials is not None:
        user = await auth.user_for_access_token(session, credentials.credentials)
    elif api_key:
        user = await user_for_key(session, api_key)
    else:
        raise Unauthorized("authentication required")
    await _count_api_call(request, user)
    return user


async def _count_api_call(request: Request, user: User) -> None:
    """The per-user API limit; its counters go out on every response (`RateLimit-*`)."""
    window = await parts(request).limits.hit("api", str(user.id), "API calls")
    if window is not None:
        add_response_headers(request.scope, window.headers())


CurrentUser = Annotated[User, Depends(_current_user)]


async def _admin(user: CurrentUser) -> User:
    if not user.is_admin:
        raise Forbidden("admin role required")
    return user


AdminUser = Annotated[User, Depends(_admin)]


@dataclass(frozen=True)
class Pagination:
    page: int
    per_page: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.per_page


async def _pagination(
    page: Annotated[int, Query(ge=1, le=1_000_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=100)] = 50,
) -> Pagination:
    return Pagination(page, per_page)


PageDep = Annotated[Pagination, Depends(_pagination)]


def parse_id(value: str, kind: str) -> int:
    """Ids are opaque strings to clients; anything that is not one of ours is simply not found."""
    if not value.isascii() or not value.isdigit() or len(value) > 18:
        raise NotFound(kind, value)
    return int(value)


async def no_nul_in_url(request: Request) -> None:
    """Global dependency: refuse NUL in the query string (path parameters are ids, parsed as numbers)."""
    for name, value in request.query_params.multi_items():
        if NUL in str(value):
            raise InvalidInput(name, "must not contain NUL characters")
