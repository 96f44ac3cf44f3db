"""Request and response shapes of the services API (connections, tests, the status board)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, Field

from medianest.connections.clients import SECRET_OPTIONS
from medianest.connections.models import ServiceConfig
from medianest.inputs import Input

Kind = Literal["plex", "seerr", "uptime_kuma", "opensubtitles", "google_tts", "generic_http"]
Status = Literal["up", "down", "degraded", "unknown"]
MAX_OPTIONS_BYTES = 4096


def _trim_url(value: str) -> str:
    return value.rstrip("/")


def _check_options(value: dict[str, Any]) -> dict[str, Any]:
    if len(str(value)) > MAX_OPTIONS_BYTES:
        raise ValueError(f"too large (at most {MAX_OPTIONS_BYTES} characters)")
    return value


# http(s), a host name or IPv4 address, an optional port (1-65535) and a path in plain URL characters
# (percent-encode the rest); no credentials (they go in `secret`), query or fragment. All of it said in
# the pattern, so the OpenAPI document states the whole rule.
_PORT = r"(6553[0-5]|655[0-2][0-9]|65[0-4][0-9]{2}|6[0-4][0-9]{3}|[1-5][0-9]{4}|[1-9][0-9]{0,3})"
URL_PATTERN = rf"^https?://[A-Za-z0-9._~-]+(:{_PORT})?(/[A-Za-z0-9._~!$&'()*+,;=:@%/-]*)?$"
Url = Annotated[str, Field(min_length=1, max_length=2048, pattern=URL_PATTERN), AfterValidator(_trim_url)]
Options = Annotated[dict[str, Any], AfterValidator(_check_options)]


class ServiceIn(Input):
    kind: Kind
    name: str = Field(min_length=1, max_length=100)
    url: Url
    secret: str | None = Field(default=None, max_length=4096, pattern=r"^[!-~]*$",
                               description="API key or token (printable ASCII); never returned")
    enabled: bool = True
    options: Options = Field(default_factory=dict, description=(
        "per kind: uptime_kuma {slug}; opensubtitles {username, password (write-only)}; "
        "plex {path_map: {our folder: the same folder as Plex sees it}}; "
        "seerr {request_user_id: the Seerr user requests are made as (they then await approval)}"))


class ServicePatch(Input):
    name: str | None = Field(default=None, min_length=1, max_length=100)
    url: Url | None = None
    secret: str | None = Field(default=None, max_length=4096, pattern=r"^[!-~]*$", description='"" removes it')
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
