"""The one Settings object. Every value can come from a MEDIANEST_* environment variable."""

from __future__ import annotations

import os
import secrets
from functools import cached_property
from ipaddress import ip_network
from pathlib import Path
from typing import Annotated, Literal

import argon2
from limits import parse as parse_rate
from platformdirs import user_data_dir
from pydantic import Field, SecretStr, computed_field, field_validator, model_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from medianest.filenames import DEFAULT_TEMPLATE, validate_template

SECRET_FILE = "secret.key"
# A configured secret shorter than this, or drawn from too few characters, is refused in production.
MIN_SECRET_LENGTH = 32
MIN_SECRET_DISTINCT = 10


def _default_data_dir() -> Path:
    return Path(user_data_dir("medianest", appauthor=False))


class Settings(BaseSettings):
    """Configuration for one MediaNest process; derived values are computed, never duplicated."""

    model_config = SettingsConfigDict(env_prefix="MEDIANEST_", extra="ignore")

    data_dir: Path = Field(default_factory=_default_data_dir)
    media_dirs: Annotated[list[Path], NoDecode] = Field(default_factory=list)
    host: str = "127.0.0.1"
    port: int = 8080
    database_url: str | None = None
    # SQLite: how long a write waits for its turn (one writer at a time) before the client gets 503 and
    # Retry-After. Long operations commit in batches well inside it.
    database_busy_timeout_s: float = Field(default=15.0, gt=0)
    redis_url: str | None = None
    env: Literal["development", "production"] = "development"
    downloads_allow_private_networks: bool = False
    plex_tv_url: str = "https://plex.tv"
    rate_limits_enabled: bool = True

    # Security (see security/). The signing secret: generated into the data dir unless given here.
    secret: SecretStr | None = None
    # After changing the secret: the earlier ones, oldest first, so sealed secrets stay readable.
    previous_secrets: Annotated[list[SecretStr], NoDecode] = Field(default_factory=list)
    # Origins allowed to call the API from a browser page served elsewhere ("*" for any); empty: none.
    cors_origins: Annotated[list[str], NoDecode] = Field(default_factory=list)
    # Reverse proxies (IPs or networks) whose X-Forwarded-For/-Proto are believed; nobody else's are.
    trusted_proxies: Annotated[list[str], NoDecode] = Field(default_factory=list)
    max_body_bytes: int = Field(default=10 * 1024 * 1024, ge=1024)
    # Time to the first byte of a response; a slower handler is stopped and answered 503.
    request_timeout_s: float = Field(default=60.0, gt=0)
    api_rate_limit: str = "100/minute"
    auth_rate_limit: str = "5/15minutes"
    requests_rate_limit: str = "20/hour"
    # Argon2id's cost for new password hashes; the defaults are argon2-cffi's own (RFC 9106's low-memory
    # profile). Hashes made at another cost keep verifying: each one records its parameters.
    password_hash_time_cost: int = Field(default=argon2.DEFAULT_TIME_COST, ge=1)
    password_hash_memory_kib: int = Field(default=argon2.DEFAULT_MEMORY_COST, ge=8)
    password_hash_parallelism: int = Field(default=argon2.DEFAULT_PARALLELISM, ge=1)

    # Plex sign-in (accounts/plex_signin.py).
    plex_auth_url: str = "https://app.plex.tv/auth"
    plex_product: str = "MediaNest"
    # Whether a Plex account with no local user yet may sign in (and so get one, with the user role).
    plex_signup: bool = True
    plex_timeout_s: float = Field(default=10.0, gt=0)

    # Outside services (integrations/): time per call, retries with backoff, and the circuit breaker
    # each connection has (it opens after `breaker_threshold` failed calls in a row and lets one trial
    # call through after `breaker_cooldown_s`).
    integrations_timeout_s: float = Field(default=10.0, gt=0)
    integrations_attempts: int = Field(default=3, ge=1, le=10)
    integrations_retry_wait_s: float = Field(default=0.5, ge=0)
    breaker_threshold: int = Field(default=5, ge=1)
    breaker_cooldown_s: float = Field(default=30.0, gt=0)
    # How often the status board checks each connection, and Seerr requests are synced. huey's periodic
    # tasks run on whole minutes, so these are multiples of 60.
    status_interval_s: int = Field(default=60, ge=60, multiple_of=60)
    requests_sync_interval_s: int = Field(default=300, ge=60, multiple_of=60)
    # A download or scan asks Plex to rescan its folder; requests this close together become one.
    plex_refresh_debounce_s: float = Field(default=10.0, ge=0)
    # Search results from outside are kept this long: Seerr's (served stale while Seerr is down) and each
    # site's page of a remote search.
    search_cache_ttl_s: float = Field(default=300.0, ge=0)
    # Connections seeded at start (each also editable under /api/v1/services).
    plex_url: str | None = None
    plex_token: SecretStr | None = None
    seerr_url: str | None = None
    seerr_api_key: SecretStr | None = None
    uptime_kuma_url: str | None = None
    uptime_kuma_slug: str | None = None
    opensubtitles_api_key: SecretStr | None = None
    opensubtitles_url: str = "https://api.opensubtitles.com"
    opensubtitles_username: str | None = None
    opensubtitles_password: SecretStr | None = None
    # SponsorBlock's API, asked by a download whose rule removes or marks sponsor segments (YouTube only).
    sponsorblock_api_url: str = "https://sponsor.ajay.app"
    # Remote search (discovery/): the sites asked, comma-separated (a test or an offline install narrows
    # it), Dailymotion's Data API, how long one site may take to answer (YouTube's search, several requests
    # by yt-dlp, gets twice this), and searches per user that reach a site (cached answers are free).
    remote_search_sites: Annotated[list[Literal["youtube", "dailymotion"]], NoDecode] = ["youtube", "dailymotion"]
    dailymotion_api_url: str = "https://api.dailymotion.com"
    remote_search_timeout_s: float = Field(default=8.0, gt=0)
    remote_search_rate_limit: str = "30/minute"

    scan_on_start: bool = True
    migrate_on_start: bool = True
    workers: int = 1
    # Connections each server process holds at once, idle ones included: players and browsers keep theirs
    # open (keep-alive, Socket.IO's WebSocket). Granian's default, 128, made the 129th client wait until
    # one of them closed.
    max_connections: int = Field(default=2048, ge=16, le=65535)
    access_token_ttl_s: int = 15 * 60
    refresh_token_ttl_s: int = 30 * 24 * 3600
    # Long enough to watch a film and seek near its end without the player losing access.
    media_token_ttl_s: int = 6 * 3600
    log_format: Literal["auto", "json", "console"] = "auto"
    log_level: str = "INFO"
    # One line per request (api/observer.py), at INFO whatever log_level says; never the query string.
    access_log: bool = False
    ffmpeg_path: str | None = None

    # Downloads (see downloads/): how many run at once per consumer, where files land, what is allowed.
    downloads_concurrency: int = Field(default=2, ge=1, le=32)
    downloads_template: str = DEFAULT_TEMPLATE
    downloads_allowed_sites: Annotated[list[str], NoDecode] = Field(default_factory=list)
    downloads_max_filesize_mb: int | None = Field(default=None, ge=1)
    downloads_rate_limit: str = "5/hour"
    downloads_retry_backoff_s: float = Field(default=2.0, ge=0)
    # A running download whose worker has not written a heartbeat for this long is queued again.
    downloads_stale_after_s: float = Field(default=60.0, ge=1)
    # Subscriptions (see subscriptions/): how many one user may have, how often each is checked by default
    # (a check is spread by up to a tenth either way, so a hundred subscriptions made at once do not all
    # ask their sites in the same minute), the shortest interval a user may set, how often the worker
    # looks for the ones due, and the most a feed may weigh.
    subscriptions_per_user: int = Field(default=50, ge=1)
    subscriptions_interval_s: int = Field(default=3600, ge=60)
    subscriptions_min_interval_s: int = Field(default=900, ge=1)
    subscriptions_due_every_s: float = Field(default=60.0, gt=0)
    subscriptions_feed_max_mb: int = Field(default=20, ge=1)
    # Transcoding (see transcoding/): finished transcodes and HLS segments are kept on disk up to this size
    # (least recently used go first); at most `transcode_max` encoders run at once in each server process
    # (one more is answered 503 with Retry-After); an encoder nobody fetches from for `transcode_idle_s`
    # is stopped. `transcode_hwaccel` picks a hardware H.264 encoder; one that does not work here falls
    # back to software (libx264) with a warning.
    transcode_cache_mb: int = Field(default=2048, ge=1)
    transcode_max: int = Field(default=4, ge=1, le=64)
    transcode_idle_s: float = Field(default=10.0, gt=0)
    transcode_hwaccel: Literal["none", "vaapi", "nvenc", "qsv"] = "none"
    transcode_vaapi_device: str = "/dev/dri/renderD128"

    # S3-compatible object storage (storage/): set `s3_bucket` to use it. Each of `s3_media_prefixes` is a
    # library folder inside the bucket (scanned like a local one); with `downloads_storage = "s3"` finished
    # downloads land under `s3_downloads_prefix`, which is then a library folder too. Streams are proxied
    # ranged GETs by default; `s3_redirect` sends players a presigned URL instead (the bucket must then
    # be reachable from the players, and play counts and access checks still happen here first).
    s3_bucket: str | None = Field(default=None, pattern=r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
    s3_endpoint_url: str | None = None
    s3_region: str = "us-east-1"
    s3_access_key_id: str | None = None
    s3_secret_access_key: SecretStr | None = None
    s3_media_prefixes: Annotated[list[str], NoDecode] = Field(default_factory=list)
    s3_downloads_prefix: str = "downloads/"
    s3_redirect: bool = False
    # The bucket's address as players reach it, for the presigned URLs of `s3_redirect` (compose's MinIO is
    # `http://minio:9000` to MediaNest and, say, `https://media.example.org` to players); default: the endpoint.
    s3_public_url: str | None = Field(default=None, pattern=r"^https?://[^/?#]+/?$")
    s3_presign_ttl_s: int = Field(default=3600, ge=60, le=7 * 24 * 3600)
    downloads_storage: Literal["local", "s3"] = "local"

    # "auto": `serve` consumes the queue itself unless Redis is set (then `medianest worker` does).
    queue_consumer: Literal["auto", "on", "off"] = "auto"
    # The queue's name in Redis: two installations (or test runs) sharing one Redis keep apart.
    queue_name: str = Field(default="medianest", pattern=r"^[A-Za-z0-9_.:-]{1,64}$")

    @field_validator("media_dirs", mode="before")
    @classmethod
    def _split_media_dirs(cls, value: object) -> object:
        if isinstance(value, str):
            return [part for part in value.split(os.pathsep) if part.strip()]
        return value

    @field_validator("downloads_allowed_sites", "cors_origins", "trusted_proxies", "previous_secrets",
                     "s3_media_prefixes", "remote_search_sites", mode="before")
    @classmethod
    def _split_sites(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("api_rate_limit", "auth_rate_limit", "requests_rate_limit", "downloads_rate_limit",
                     "remote_search_rate_limit")
    @classmethod
    def _check_rate(cls, value: str) -> str:
        parse_rate(value)  # "100/minute", "5/15minutes", "20 per hour"...
        return value

    @field_validator("trusted_proxies")
    @classmethod
    def _check_networks(cls, value: list[str]) -> list[str]:
        for net in value:
            ip_network(net, strict=False)
        return value

    @model_validator(mode="after")
    def _production_rules(self) -> Settings:
        """Production refuses what is fine on a laptop: a guessable secret, CORS left to chance."""
        if self.env != "production":
            return self
        if self.secret is not None:
            check_secret_strength(self.secret.get_secret_value())
        if "cors_origins" not in self.model_fields_set:
            raise ValueError("MEDIANEST_CORS_ORIGINS must be set in production (a comma-separated list of "
                             "origins, or empty for none)")
        return self

    @field_validator("s3_media_prefixes")
    @classmethod
    def _check_prefixes(cls, value: list[str]) -> list[str]:
        return [_s3_prefix(p) for p in value]

    @field_validator("s3_downloads_prefix")
    @classmethod
    def _check_downloads_prefix(cls, value: str) -> str:
        return _s3_prefix(value)

    @model_validator(mode="after")
    def _s3_needs_a_bucket(self) -> Settings:
        if (self.downloads_storage == "s3" or self.s3_media_prefixes) and not self.s3_bucket:
            raise ValueError("MEDIANEST_S3_BUCKET must be set to keep media in S3 (MEDIANEST_DOWNLOADS_STORAGE=s3 "
                             "or MEDIANEST_S3_MEDIA_PREFIXES)")
        return self

    @property
    def s3_roots(self) -> list[str]:
        """The library folders in the bucket as `s3://bucket/prefix` (no trailing slash), in order."""
        if not self.s3_bucket:
            return []
        prefixes = list(self.s3_media_prefixes)
        # Whatever MEDIANEST_DOWNLOADS_STORAGE says now: downloads landed there while it said s3 stay in
        # the library when it goes back to local.
        if self.s3_downloads_prefix not in prefixes:
            prefixes.append(self.s3_downloads_prefix)
        return [f"s3://{self.s3_bucket}/{p}".rstrip("/") for p in prefixes]

    @field_validator("downloads_template")
    @classmethod
    def _check_template(cls, value: str) -> str:
        validate_template(value)
        return value

    @property
    def consumes_queue(self) -> bool:
        """Whether `serve` runs download jobs itself (the embedded mode)."""
        return self.queue_consumer == "on" or (self.queue_consumer == "auto" and not self.redis_url)

    @property
    def transcode_dir(self) -> Path:
        return self.data_dir / "transcodes"

    @property
    def downloads_tmp_dir(self) -> Path:
        return self.data_dir / "downloads-tmp"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def library_dirs(self) -> list[Path]:
        """The media folders, resolved; `<data dir>/media` when none is configured."""
        dirs = self.media_dirs or [self.data_dir / "media"]
        return [Path(d).expanduser().resolve() for d in dirs]

    @computed_field  # type: ignore[prop-decorator]
    @property
    def db_url(self) -> str:
        if self.database_url:
            return self.database_url
        return f"sqlite+aiosqlite:///{self.data_dir / 'medianest.db'}"

    @computed_field  # type: ignore[prop-decorator]
    @property
    def artwork_dir(self) -> Path:
        return self.data_dir / "artwork"

    @property
    def is_sqlite(self) -> bool:
        return self.db_url.startswith("sqlite")

    @cached_property
    def secret_key(self) -> str:
        """The signing secret: `MEDIANEST_SECRET`, or generated once on first start into the data dir."""
        if self.secret is not None:
            return self.secret.get_secret_value()
        path = self.data_dir / SECRET_FILE
        if path.exists():
            key = path.read_text().strip()
            if self.env == "production":
                check_secret_strength(key, str(path))
            return key
        self.data_dir.mkdir(parents=True, exist_ok=True)
        key = secrets.token_urlsafe(48)
        # O_EXCL so two processes starting together cannot each write a different key.
        try:
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            return path.read_text().strip()
        with os.fdopen(fd, "w") as fh:
            fh.write(key)
        return key

    def ensure_dirs(self) -> None:
        """The data and artwork dirs, and `<data dir>/media` when no media folder is configured. Never a
        configured media folder: a missing one is a share not mounted yet or a typo, which creating it
        would hide (library/folders.py warns about it and keeps its items)."""
        default_media = [] if self.media_dirs else self.library_dirs
        for path in (self.data_dir, self.artwork_dir, *default_media):
            path.mkdir(parents=True, exist_ok=True)


def _s3_prefix(value: str) -> str:
    """A key prefix as a folder: no leading slash, one trailing slash ("" for the whole bucket)."""
    parts = [p for p in value.strip().split("/") if p]
    if any(p in (".", "..") or "\0" in p for p in parts):
        raise ValueError(f"not a usable S3 prefix: {value!r}")
    return "/".join(parts) + "/" if parts else ""


def check_secret_strength(secret: str, where: str = "MEDIANEST_SECRET") -> None:
    """Raise ValueError for a secret an attacker could guess (it signs every token)."""
    if len(secret) < MIN_SECRET_LENGTH:
        raise ValueError(f"{where} is too short: use at least {MIN_SECRET_LENGTH} random characters "
                         "(python3 -c 'import secrets; print(secrets.token_urlsafe(48))')")
    if len(set(secret)) < MIN_SECRET_DISTINCT:
        raise ValueError(f"{where} is too simple: use random characters")
