"""Request and response shapes of the services API (connections, tests, the status board)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, Field

from medianest.api.inputs import Input
from medianest.services.clients import SECRET_OPTIONS
from medianest.services.models import ServiceConfig

Kind = Literal["plex", "seerr", "uptime_kuma", "opensubtitles", "generic_http"]
Status = Literal["up", "down", "degraded", "unknown"]
MAX_OPTIONS_BYTES = 4096


def _check_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise ValueError("must be an http:// or https:// URL with a host")
    if parts.username or parts.password:
        raise ValueError("must not carry credentials (put them in `secret`)")
    if parts.query or parts.fragment:
        raise ValueError("must not have a query or fragment")
    return value.rstrip("/")


def _check_options(value: dict[str, Any]) -> dict[str, Any]:
    if len(str(value)) > MAX_OPTIONS_BYTES:
        raise ValueError(f"too large (at most {MAX_OPTIONS_BYTES} characters)")
    return value


Url = Annotated[str, Field(min_length=1, max_length=2048), AfterValidator(_check_url)]
Options = Annotated[dict[str, Any], AfterValidator(_check_options)]


class ServiceIn(Input):
    kind: Kind
    name: str = Field(min_length=1, max_length=100)
    url: Url
    secret: str | None = Field(default=None, max_length=4096, description="API key or token; never returned")
    enabled: bool = True
    options: Options = Field(default_factory=dict, description=(
        "per kind: uptime_kuma {slug}; opensubtitles {username, password (write-only)}; "
        "plex {path_map: {our folder: the same folder as Plex sees it}}; "
        "seerr {request_user_id: the Seerr user requests are made as (they then await approval)}"))


class ServicePatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: Url | None = None
    secret: str | None = Field(default=None, max_length=4096, description='"" removes it')
    enabled: bool | None = None
    options: Options | None = None


class ServiceOut(BaseModel):
    id: str
    kind: Kind
    name: str
    url: str
    enabled: bool
    has_secret: bool
    secret_options: list[str] = Field(description="write-only options that are set (e.g. password)")
    options: dict[str, Any]
    seeded: bool
    status: Status
    response_ms: float | None
    detail: str | None
    checked_at: datetime | None
    created_at: datetime
    updated_at: datetime

    @classmethod
    def of(cls, config: ServiceConfig, sealed: set[str]) -> ServiceOut:
        return cls(id=str(config.id), kind=config.kind, name=config.name, url=config.url,
                   enabled=config.enabled, has_secret="secret" in sealed,
                   secret_options=sorted(sealed & set(SECRET_OPTIONS)),
                   options={k: v for k, v in config.options.items() if k not in SECRET_OPTIONS},
                   seeded=config.seeded, status=config.status,
                   response_ms=config.response_ms, detail=config.detail, checked_at=config.checked_at,
                   created_at=config.created_at, updated_at=config.updated_at)


class TestResult(BaseModel):
    ok: bool
    status: Status
    response_ms: float | None
    detail: str = Field(description="what the service answered (its version, libraries, monitors...) or the error")


class BoardEntry(BaseModel):
    id: str = Field(description="the connection's id, or `<connection id>:<monitor id>` for a Kuma monitor")
    name: str
    kind: str = Field(description="a connection kind, or uptime_kuma_monitor")
    group: str | None = None
    status: Status
    response_ms: float | None
    checked_at: datetime | None
    uptime_24h: float | None = Field(description="fraction of checks up (0..1) over 24 hours; null without any")
    uptime_7d: float | None


class PlexLibraryOut(BaseModel):
    key: str
    title: str
    type: str
    paths: list[str]
    service_id: str
