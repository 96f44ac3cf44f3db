"""Request and response shapes of the accounts API."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, Field, field_validator

from medianest.accounts import subsonic
from medianest.accounts.models import User
from medianest.accounts.passwords import MAX_PASSWORD_LENGTH, MIN_PASSWORD_LENGTH
from medianest.inputs import Input

USERNAME_PATTERN = r"^[\w.@+-]{1,64}$"
NEW_PASSWORD = Field(min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH,
                     description=f"at least {MIN_PASSWORD_LENGTH} characters")


class Credentials(Input):
    username: str = Field(min_length=1, max_length=64, pattern=USERNAME_PATTERN)
    password: str = Field(min_length=1, max_length=MAX_PASSWORD_LENGTH)


class NewAccount(Credentials):
    password: str = NEW_PASSWORD


class RefreshIn(Input):
    refresh_token: str = Field(min_length=1, max_length=512)


class UserOut(BaseModel):
    id: str
    username: str
    role: Literal["admin", "user"]
    status: Literal["active", "suspended"]
    created_at: datetime | None = None
    last_login_at: datetime | None = None

    @classmethod
    def of(cls, user: User) -> UserOut:
        return cls(id=str(user.id), username=user.username, role=user.role,
                   status=user.status, created_at=user.created_at,
                   last_login_at=user.last_login_at)


class SetupState(BaseModel):
    required: bool


class TokenPair(BaseModel):
    access_token: str
    refresh_token: str
    token_type: Literal["bearer"] = "bearer"
    expires_in: int
    user: UserOut


class UserCreate(NewAccount):
    role: Literal["admin", "user"] = "user"


class UserPatch(Input):
    role: Literal["admin", "user"] | None = None
    status: Literal["active", "suspended"] | None = None
    password: str | None = Field(default=None, min_length=MIN_PASSWORD_LENGTH, max_length=MAX_PASSWORD_LENGTH)


class Done(BaseModel):
    ok: bool = True


class ApiKeyIn(Input):
    name: str = Field(min_length=1, max_length=100)


class ApiKeyOut(BaseModel):
    id: str
    name: str
    prefix: str = Field(description="the key's first characters, to tell keys apart")
    created_at: datetime
    last_used_at: datetime | None


class NewApiKeyOut(ApiKeyOut):
    key: str = Field(description="the key itself: shown only in this response")


class PlexPinOut(BaseModel):
    id: str = Field(description="poll GET /api/v1/auth/plex/pins/{id} with it")
    code: str
    auth_url: str = Field(description="open it for the person to approve the sign-in at app.plex.tv")
    expires_at: datetime


class PlexPinStatus(BaseModel):
    """`waiting` until the person approves at app.plex.tv; `authorized` carries our token pair, once."""

    status: Literal["waiting", "authorized", "expired"]
    access_token: str | None = None
    refresh_token: str | None = None
    token_type: Literal["bearer"] | None = None
    expires_in: int | None = None
    user: UserOut | None = None


class SessionOut(BaseModel):
    id: str
    signed_in_at: datetime
    last_active_at: datetime = Field(description="when its token was last refreshed")
    expires_at: datetime
    ip: str | None
    user_agent: str | None


class SubsonicPasswordIn(Input):
    """Omit `password` (or send no body at all) to have one generated."""

    password: str | None = Field(
        default=None, min_length=subsonic.MIN_LENGTH, max_length=subsonic.MAX_LENGTH,
        json_schema_extra={"pattern": subsonic.NO_CONTROL},
        description=f"{subsonic.MIN_LENGTH} to {subsonic.MAX_LENGTH} characters, no control characters; "
                    "omitted or null: the server generates one")

    @field_validator("password")
    @classmethod
    def _no_control(cls, value: str | None) -> str | None:
        if value is not None and (reason := subsonic.problem(value)):
            raise ValueError(reason)
        return value


class SubsonicPasswordOut(BaseModel):
    password: str = Field(description="the password to type into Subsonic apps: shown in this response only")


class SubsonicPasswordState(BaseModel):
    set: bool = Field(description="whether a Subsonic password is set (the password itself is never shown again)")
