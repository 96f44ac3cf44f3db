"""`Integrations`: the client for a configured connection, wired to the shared HTTP client, the
connection's own circuit breaker, the retry policy and its (unsealed) credentials."""

from __future__ import annotations

import json

import httpx

from medianest.config import Settings
from medianest.connections.models import ServiceConfig
from medianest.errors import InvalidInput
from medianest.integrations.google_tts import GoogleTts
from medianest.integrations.http import Breakers, Policy, Upstream
from medianest.integrations.opensubtitles import OpenSubtitles
from medianest.integrations.plex_server import PlexServer
from medianest.integrations.seerr import Seerr
from medianest.integrations.uptime_kuma import UptimeKuma
from medianest.security.crypto import SecretBox

NAMES = {"plex": "Plex", "seerr": "Seerr", "uptime_kuma": "Uptime Kuma", "opensubtitles": "OpenSubtitles",
         "google_tts": "Google Cloud Text-to-Speech", "generic_http": "The service"}
# Options that are credentials: sealed with the secret, never shown (the API says only that they are set).
SECRET_OPTIONS = ("password",)


def seal_context(service_id: int) -> str:
    return f"service:{service_id}"


class Integrations:
    """`breakers` may outlive this object: a job builds one around its own HTTP client, and the process's
    breakers keep counting across jobs."""

    def __init__(self, http: httpx.AsyncClient, box: SecretBox, settings: Settings,
                 breakers: Breakers | None = None) -> None:
        self.http, self.box, self.settings = http, box, settings
        self.breakers = breakers or Breakers(settings.breaker_threshold, settings.breaker_cooldown_s)
        self.policy = Policy.from_settings(settings)
        self._login_tokens: dict[int, dict[str, str]] = {}

    def credentials(self, config: ServiceConfig) -> dict[str, str]:
        """The sealed values: `secret` (API key or token) and any SECRET_OPTIONS."""
        if not config.secret:
            return {}
        values = json.loads(self.box.open(config.secret, seal_context(config.id)))
        return {k: v for k, v in values.items() if isinstance(v, str)}

    def seal(self, config: ServiceConfig, values: dict[str, str]) -> None:
        kept = {k: v for k, v in values.items() if v}
        config.secret = self.box.seal(json.dumps(kept), seal_context(config.id)) if kept else None

    def forget(self, service_id: int) -> None:
        """The connection changed or went: its breaker's and login's history no longer applies."""
        self.breakers.forget(str(service_id))
        self._login_tokens.pop(service_id, None)

    def upstream(self, config: ServiceConfig, headers: dict[str, str] | None = None) -> Upstream:
        name = config.name if config.kind == "generic_http" else f"{NAMES[config.kind]} ({config.name})"
        return Upstream(self.http, name, config.url, self.breakers.get(str(config.id)), self.policy, headers)

    def seerr(self, config: ServiceConfig) -> Seerr:
        key = self.credentials(config).get("secret", "")
        return Seerr(self.upstream(config, {"X-Api-Key": key, "Accept": "application/json"}))

    def plex(self, config: ServiceConfig) -> PlexServer:
        token = self.credentials(config).get("secret", "")
        return PlexServer(self.upstream(config, {"X-Plex-Token": token, "Accept": "application/json",
                                                 "X-Plex-Product": self.settings.plex_product,
                                                 "X-Plex-Client-Identifier": f"medianest-{config.id}"}))

    def kuma(self, config: ServiceConfig) -> UptimeKuma:
        return UptimeKuma(self.upstream(config, {"Accept": "application/json"}))

    def opensubtitles(self, config: ServiceConfig) -> OpenSubtitles:
        creds = self.credentials(config)
        username = config.options.get("username")
        upstream = self.upstream(config, {"Api-Key": creds.get("secret", ""), "Accept": "application/json"})
        tokens = self._login_tokens.setdefault(config.id, {})
        return OpenSubtitles(upstream, username if isinstance(username, str) else None, creds.get("password"),
                             tokens)

    def google_tts(self, config: ServiceConfig) -> GoogleTts:
        key = self.credentials(config).get("secret", "")
        return GoogleTts(self.upstream(config, {"X-Goog-Api-Key": key, "Accept": "application/json"}))


def kuma_slug(config: ServiceConfig) -> str:
    slug = config.options.get("slug")
    if not isinstance(slug, str) or not slug:
        raise InvalidInput("options.slug", "an Uptime Kuma connection needs the status page's slug")
    return slug
