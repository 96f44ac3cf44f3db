"""Routes: /api/v1/auth/* and the admin /api/v1/users/*."""

from __future__ import annotations

from fastapi import APIRouter, Response

from medianest.accounts import api_keys, sessions, subsonic, users
from medianest.accounts.models import ApiKey
from medianest.accounts.schemas import (
    ApiKeyIn,
    ApiKeyOut,
    Credentials,
    Done,
    NewAccount,
    NewApiKeyOut,
    PlexPinOut,
    PlexPinStatus,
    RefreshIn,
    SessionOut,
    SetupState,
    SubsonicPasswordIn,
    SubsonicPasswordOut,
    SubsonicPasswordState,
    TokenPair,
    UserCreate,
    UserOut,
    UserPatch,
)
from medianest.api.deps import AdminUser, AuthDep, CurrentUser, PageDep, PlexDep, SecretBoxDep, SessionDep, parse_id
from medianest.api.envelope import Envelope, Page, errors, ok, page

auth_router = APIRouter(prefix="/api/v1/auth", tags=["auth"])
users_router = APIRouter(prefix="/api/v1/users", tags=["users"], responses=errors(401, 403))


@auth_router.get("/setup")
async def setup_state(session: SessionDep, auth: AuthDep) -> Envelope[SetupState]:
    """Whether the server still needs its first (admin) account: the web UI's first-run page asks."""
    return ok(SetupState(required=await auth.setup_required(session)))


@auth_router.post("/setup", status_code=201, responses=errors(409))
async def setup(body: NewAccount, session: SessionDep, auth: AuthDep) -> Envelope[TokenPair]:
    """Create the first (admin) account; only while the server has no user."""
    return ok(await auth.setup(session, body.username, body.password))


@auth_router.post("/login", responses=errors(401, 403, 429))
async def login(body: Credentials, session: SessionDep, auth: AuthDep) -> Envelope[TokenPair]:
    return ok(await auth.login(session, body.username, body.password))


@auth_router.post("/refresh", responses=errors(401))
async def refresh(body: RefreshIn, session: SessionDep, auth: AuthDep) -> Envelope[TokenPair]:
    """Rotate a refresh token; presenting an already-used one revokes its whole family."""
    return ok(await auth.refresh(session, body.refresh_token))


@auth_router.post("/logout")
async def logout(body: RefreshIn, session: SessionDep, auth: AuthDep) -> Envelope[Done]:
    await auth.logout(session, body.refresh_token)
    return ok(Done())


@auth_router.post("/plex/pins", status_code=201, responses=errors(429, 502, 504))
async def start_plex_sign_in(session: SessionDep, plex: PlexDep) -> Envelope[PlexPinOut]:
    """Create a Plex PIN: open `auth_url` for the person to approve it, then poll the PIN by `id`."""
    return ok(await plex.start(session))


@auth_router.get("/plex/pins/{pin_id}", responses=errors(403, 404, 502, 504))
async def poll_plex_sign_in(pin_id: str, session: SessionDep, plex: PlexDep) -> Envelope[PlexPinStatus]:
    """`waiting`, `expired`, or `authorized` with a token pair (given once; later polls say `expired`)."""
    return ok(await plex.poll(session, pin_id))


@auth_router.get("/sessions", responses=errors(401, 403))
async def list_sessions(user: CurrentUser, session: SessionDep) -> Envelope[list[SessionOut]]:
    """The caller's signed-in sessions (one per sign-in, across token refreshes)."""
    return ok([SessionOut(**vars(s)) for s in await sessions.list_sessions(session, user)])


@auth_router.delete("/sessions", status_code=204, responses=errors(401, 403))
async def revoke_all_sessions(user: CurrentUser, session: SessionDep) -> Response:
    """Sign out everywhere: every session of the caller (this one too) ends, and the access tokens, stream
    URLs and sockets they were given stop working at once. API keys stay (revoke them one by one)."""
    await sessions.revoke_all(session, user)
    return Response(status_code=204)


@auth_router.delete("/sessions/{session_id}", status_code=204, responses=errors(401, 403, 404))
async def revoke_session(session_id: str, user: CurrentUser, session: SessionDep) -> Response:
    """Sign one session out (its refresh token stops working at once)."""
    await sessions.revoke_session(session, user, session_id)
    return Response(status_code=204)


@auth_router.get("/me", responses=errors(401, 403))
async def me(user: CurrentUser) -> Envelope[UserOut]:
    return ok(UserOut.of(user))


@users_router.get("")
async def list_users(_: AdminUser, session: SessionDep, paging: PageDep) -> Page[UserOut]:
    rows, total = await users.list_users(session, paging.offset, paging.per_page)
    return page([UserOut.of(u) for u in rows], page=paging.page, per_page=paging.per_page, total=total)


@users_router.post("", status_code=201, responses=errors(409))
async def create_user(body: UserCreate, admin: AdminUser, session: SessionDep) -> Envelope[UserOut]:
    return ok(UserOut.of(await users.add_user(session, admin, body.username, body.password, body.role)))


@users_router.get("/{user_id}", responses=errors(404))
async def get_user(user_id: str, _: AdminUser, session: SessionDep) -> Envelope[UserOut]:
    return ok(UserOut.of(await users.get_user(session, parse_id(user_id, "user"))))


@users_router.patch("/{user_id}", responses=errors(404, 409))
async def patch_user(user_id: str, body: UserPatch, admin: AdminUser, session: SessionDep) -> Envelope[UserOut]:
    """Change role, status (suspending revokes sessions and API keys) or password (revokes sessions)."""
    return ok(UserOut.of(await users.patch_user(session, admin, parse_id(user_id, "user"), body)))


@users_router.delete("/{user_id}", status_code=204, responses=errors(404, 409))
async def delete_user(user_id: str, admin: AdminUser, session: SessionDep) -> Response:
    await users.delete_user(session, admin, parse_id(user_id, "user"))
    return Response(status_code=204)


def _key_out(row: ApiKey) -> ApiKeyOut:
    return ApiKeyOut(id=str(row.id), name=row.name, prefix=row.prefix, created_at=row.created_at,
                     last_used_at=row.last_used_at)


@auth_router.get("/api-keys", responses=errors(401, 403))
async def list_api_keys(user: CurrentUser, session: SessionDep) -> Envelope[list[ApiKeyOut]]:
    """The caller's live keys (never the keys themselves)."""
    return ok([_key_out(k) for k in await api_keys.list_keys(session, user)])


@auth_router.post("/api-keys", status_code=201, responses=errors(401, 403, 422))
async def create_api_key(body: ApiKeyIn, user: CurrentUser, session: SessionDep) -> Envelope[NewApiKeyOut]:
    """A new key for `X-Api-Key`; `key` appears in this response only."""
    row, key = await api_keys.create_key(session, user, body.name)
    return ok(NewApiKeyOut(**_key_out(row).model_dump(), key=key))


@auth_router.delete("/api-keys/{key_id}", status_code=204, responses=errors(401, 403, 404))
async def revoke_api_key(key_id: str, user: CurrentUser, session: SessionDep) -> Response:
    await api_keys.revoke_key(session, user, parse_id(key_id, "api key"))
    return Response(status_code=204)


@auth_router.get("/subsonic-password", responses=errors(401, 403))
async def subsonic_password_state(user: CurrentUser) -> Envelope[SubsonicPasswordState]:
    """Whether the caller has a Subsonic password (never the password itself)."""
    return ok(SubsonicPasswordState(set=subsonic.has_password(user)))


@auth_router.post("/subsonic-password", responses=errors(401, 403, 422))
async def set_subsonic_password(user: CurrentUser, session: SessionDep, box: SecretBoxDep,
                                body: SubsonicPasswordIn | None = None) -> Envelope[SubsonicPasswordOut]:
    """Set the password Subsonic apps sign in with (apart from the login password): `{password}` sets that
    one; an empty body (or `{}`) generates one. Either way it is returned, in this response only."""
    password = await subsonic.set_password(session, box, user, body.password if body else None)
    return ok(SubsonicPasswordOut(password=password))


@auth_router.delete("/subsonic-password", status_code=204, responses=errors(401, 403))
async def delete_subsonic_password(user: CurrentUser, session: SessionDep) -> Response:
    """Remove the caller's Subsonic password: their Subsonic apps stop signing in with it (API keys stay)."""
    await subsonic.clear_password(session, user)
    return Response(status_code=204)
