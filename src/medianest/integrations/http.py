"""The outgoing HTTP layer every integration uses.

- `http_client(settings)`: the one `httpx.AsyncClient` of a process: a shared connection pool, bounded
  time, our User-Agent, and no redirects (a configured service must not send us somewhere else).
- `Breaker`: a circuit breaker per connection. After `threshold` failed calls in a row it opens: calls
  fail at once with UNAVAILABLE instead of each waiting out a timeout, so a dead service cannot hold
  every request (and every worker) for seconds. After `cooldown_s` it lets one trial call through;
  that call's outcome closes or reopens it.
- `Upstream`: calls to one configured service through its breaker, retrying with backoff (stamina) on
  timeouts, dropped connections, 429 and 5xx, and turning what went wrong into the domain's typed
  errors: 502 UPSTREAM_ERROR (it answered badly), 503 UNAVAILABLE (down, or the breaker is open), 504
  UPSTREAM_TIMEOUT (too slow).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import httpx
import stamina
import structlog

from medianest import __version__
from medianest.config import Settings
from medianest.errors import DomainError, UpstreamError, UpstreamTimeout, UpstreamUnavailable

log = structlog.get_logger(__name__)
USER_AGENT = f"MediaNest/{__version__}"
# Statuses worth asking again: the service is overloaded or briefly broken, not refusing the request.
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# A Retry-After longer than this is not waited for inside a user's request; the call fails instead.
MAX_RETRY_AFTER_S = 5.0


def http_client(settings: Settings) -> httpx.AsyncClient:
    return httpx.AsyncClient(timeout=httpx.Timeout(settings.plex_timeout_s, connect=5.0), follow_redirects=False,
                             headers={"User-Agent": USER_AGENT},
                             limits=httpx.Limits(max_connections=50, max_keepalive_connections=10))


class Breaker:
    """closed -> (threshold failures in a row) -> open -> (cooldown) -> half-open: one trial call."""

    def __init__(self, threshold: int, cooldown_s: float, clock: Callable[[], float] = time.monotonic) -> None:
        self.threshold, self.cooldown_s, self.clock = threshold, cooldown_s, clock
        self.failures = 0
        self.opened_at: float | None = None
        self._trial = False
        self._streak_before = 0

    @property
    def state(self) -> str:
        if self.opened_at is None:
            return "closed"
        return "half-open" if self.clock() - self.opened_at >= self.cooldown_s else "open"

    def retry_in(self) -> float:
        return 0.0 if self.opened_at is None else max(0.0, self.cooldown_s - (self.clock() - self.opened_at))

    def allow(self) -> bool:
        """Whether a call may go out now; in half-open only one trial at a time does."""
        state = self.state
        if state == "closed":
            return True
        if state == "half-open" and not self._trial:
            self._trial = True
            return True
        return False

    def success(self) -> None:
        self._streak_before = self.failures
        self.failures, self.opened_at, self._trial = 0, None, False

    def success_was_failure(self) -> None:
        """The answer that counted as a success turned out unusable (HTML for JSON): a failure after all,
        continuing the streak it had broken."""
        self.failures = self._streak_before
        self.failure()

    def failure(self) -> None:
        self.failures += 1
        if self._trial or self.failures >= self.threshold:
            self.opened_at, self._trial = self.clock(), False


class Breakers:
    """One breaker per connection (by key), made on first use; kept for the process's life."""

    def __init__(self, threshold: int, cooldown_s: float) -> None:
        self.threshold, self.cooldown_s = threshold, cooldown_s
        self._by_key: dict[str, Breaker] = {}

    def get(self, key: str) -> Breaker:
        if key not in self._by_key:
            self._by_key[key] = Breaker(self.threshold, self.cooldown_s)
        return self._by_key[key]

    def forget(self, key: str) -> None:
        """A connection was edited or removed: its history says nothing about the new settings."""
        self._by_key.pop(key, None)


@dataclass(frozen=True)
class Policy:
    timeout_s: float
    attempts: int
    wait_s: float

    @classmethod
    def from_settings(cls, settings: Settings) -> Policy:
        return cls(settings.integrations_timeout_s, settings.integrations_attempts, settings.integrations_retry_wait_s)


class CredentialsRefused(UpstreamError):
    """The service is up but refuses our API key or token (401/403): a configuration problem."""

    def __init__(self, service: str, status: int) -> None:
        super().__init__(service, f"refused our credentials ({status}); check its API key or token")


class _Transient(Exception):
    """One attempt failed in a way worth retrying; `error` is what to raise if none succeeds."""

    def __init__(self, error: DomainError, wait_s: float | None = None) -> None:
        super().__init__(error.message)
        self.error, self.wait_s = error, wait_s


class Upstream:
    """HTTP calls to one configured service. `name` appears in errors ("Seerr is unavailable")."""

    def __init__(self, http: httpx.AsyncClient, name: str, base_url: str, breaker: Breaker, policy: Policy,
                 headers: dict[str, str] | None = None) -> None:
        self.http, self.name, self.breaker, self.policy = http, name, breaker, policy
        self.base_url = base_url.rstrip("/")
        self.headers = headers or {}

    async def request(self, method: str, path: str, *, retry: bool | None = None, **kwargs: Any) -> httpx.Response:
        """One call, retried when that is safe (`retry` defaults to: the method is idempotent). Any
        status below 500 other than 429 is returned for the caller to judge."""
        if not self.breaker.allow():
            raise UpstreamUnavailable(self.name, f"unavailable (it failed repeatedly; next try in "
                                                 f"{self.breaker.retry_in():.0f} s)")
        retry = method in ("GET", "HEAD", "PUT", "DELETE") if retry is None else retry
        try:
            response = await self._attempts(method, path, retry, kwargs)
        except DomainError:
            self.breaker.failure()
            raise
        self.breaker.success()
        return response

    async def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """`request`, then the body as JSON; a 4xx or a body that is not JSON is UPSTREAM_ERROR."""
        response = await self.request(method, path, **kwargs)
        self.check(response)
        return self.parse(response)

    def check(self, response: httpx.Response) -> None:
        if response.status_code in (401, 403):
            raise CredentialsRefused(self.name, response.status_code)
        if response.status_code >= 400:
            raise UpstreamError(self.name, f"answered {response.status_code}")

    def parse(self, response: httpx.Response) -> Any:
        try:
            return response.json()
        except ValueError:
            self.breaker.success_was_failure()  # a 200 with an HTML error page is a broken service
            raise UpstreamError(self.name, "answered with something that is not JSON") from None

    async def _attempts(self, method: str, path: str, retry: bool, kwargs: dict[str, Any]) -> httpx.Response:
        attempts = self.policy.attempts if retry else 1
        kwargs["headers"] = {**self.headers, **kwargs.get("headers", {})}
        try:
            async for attempt in stamina.retry_context(on=_backoff, attempts=attempts, timeout=None,
                                                       wait_initial=self.policy.wait_s, wait_max=MAX_RETRY_AFTER_S,
                                                       wait_jitter=self.policy.wait_s / 2):
                with attempt:
                    return await self._once(method, path, kwargs)
        except _Transient as exc:
            raise exc.error from None
        raise AssertionError("unreachable")

    async def _once(self, method: str, path: str, kwargs: dict[str, Any]) -> httpx.Response:
        try:
            response = await self.http.request(method, self.base_url + path, timeout=self.policy.timeout_s, **kwargs)
        except httpx.TimeoutException:
            raise _Transient(UpstreamTimeout(self.name)) from None
        except httpx.HTTPError as exc:
            reason = f"unreachable ({type(exc).__name__})"
            raise _Transient(UpstreamUnavailable(self.name, reason)) from None
        if response.status_code in RETRY_STATUSES:
            error: DomainError = UpstreamError(self.name, f"answered {response.status_code}")
            if response.status_code == 429:
                error = UpstreamUnavailable(self.name, "rate limiting us (429)")
            raise _Transient(error, _retry_after(response))
        return response


def _backoff(exc: Exception) -> bool | float:
    """stamina's retry predicate: retry our transient failures, honouring a short Retry-After."""
    if not isinstance(exc, _Transient):
        return False
    if exc.wait_s is not None:
        return exc.wait_s if exc.wait_s <= MAX_RETRY_AFTER_S else False
    return True


def _retry_after(response: httpx.Response) -> float | None:
    value = response.headers.get("Retry-After", "")
    try:
        return max(0.0, float(value))
    except ValueError:
        return None
