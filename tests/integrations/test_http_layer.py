"""The outgoing HTTP layer (integrations/http.py) and the stale cache (integrations/cache.py).

The breaker and the cache run on an injected clock; `Upstream` talks over real HTTP to a small scripted
stand-in on 127.0.0.1, whose request log counts the attempts that reached it."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Iterator
from pathlib import Path

import httpx
import pytest

from medianest.api.errors import status_of
from medianest.config import Settings
from medianest.errors import DomainError, UpstreamError, UpstreamTimeout, UpstreamUnavailable
from medianest.integrations.cache import StaleCache
from medianest.integrations.http import (
    USER_AGENT,
    Breaker,
    Breakers,
    CredentialsRefused,
    Policy,
    Upstream,
    http_client,
)
from tests.integrations.standin import Reply, Request, StandIn


class Clock:
    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class Scripted(StandIn):
    """Answers each request with the next scripted reply (a number: wait that many seconds, then answer), then
    200 `{"ok": true, "path": ...}` once the script is used up; notes when each request arrived."""

    def __init__(self) -> None:
        super().__init__()
        self.script: list[Reply | float] = []
        self.arrivals: list[float] = []

    def then(self, *replies: Reply | float) -> None:
        with self.lock:
            self.script.extend(replies)

    def answer(self, request: Request) -> Reply:
        with self.lock:
            self.arrivals.append(time.monotonic())
            step = self.script.pop(0) if self.script else None
        if isinstance(step, Reply):
            return step
        if step is not None:
            self._stopping.wait(step)
        return Reply(200, {"ok": True, "path": request.path})


# -- Breaker ----------------------------------------------------------------------------------------------------


def test_breaker_opens_after_threshold_failures_in_a_row() -> None:
    clock = Clock()
    breaker = Breaker(threshold=3, cooldown_s=30, clock=clock)
    assert breaker.state == "closed" and breaker.allow() and breaker.retry_in() == 0.0
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()
    breaker.failure()
    assert breaker.state == "open"
    assert not breaker.allow() and not breaker.allow()
    assert breaker.retry_in() == 30.0
    clock.advance(12.5)
    assert breaker.retry_in() == pytest.approx(17.5) and not breaker.allow()


def test_a_success_resets_the_count_of_failures() -> None:
    breaker = Breaker(threshold=3, cooldown_s=30, clock=Clock())
    breaker.failure()
    breaker.failure()
    breaker.success()
    breaker.failure()
    breaker.failure()
    assert breaker.state == "closed" and breaker.allow()  # 2 in a row since the success, not 4
    breaker.failure()
    assert breaker.state == "open"


def test_half_open_lets_exactly_one_trial_through_and_its_failure_reopens() -> None:
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown_s=10, clock=clock)
    breaker.failure()
    breaker.failure()
    clock.advance(9.9)
    assert breaker.state == "open" and not breaker.allow()
    clock.advance(0.1)
    assert breaker.state == "half-open" and breaker.retry_in() == 0.0
    assert breaker.allow() is True  # the trial
    assert breaker.allow() is False and breaker.allow() is False  # no second one while it runs
    breaker.failure()  # one failed trial is enough: it does not wait for `threshold` again
    assert breaker.state == "open" and not breaker.allow()
    assert breaker.retry_in() == 10.0  # a full cool-down from the trial's failure
    clock.advance(10)
    assert breaker.allow() is True and breaker.allow() is False  # the next cool-down gives one trial again


def test_a_successful_trial_closes_the_breaker() -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown_s=5, clock=clock)
    breaker.failure()
    assert breaker.state == "open"
    clock.advance(5)
    assert breaker.allow()
    breaker.success()
    assert breaker.state == "closed" and breaker.retry_in() == 0.0 and breaker.failures == 0
    assert breaker.allow() and breaker.allow()  # closed: everyone goes
    breaker.failure()
    assert breaker.state == "open"  # threshold 1 again, counted from zero


def test_breakers_keep_one_per_key_and_forget_it() -> None:
    breakers = Breakers(threshold=1, cooldown_s=60)
    first = breakers.get("7")
    assert breakers.get("7") is first and breakers.get("8") is not first
    first.failure()
    assert breakers.get("7").state == "open" and breakers.get("8").state == "closed"
    breakers.forget("7")
    assert breakers.get("7") is not first and breakers.get("7").state == "closed"
    breakers.forget("nothing")  # forgetting an unknown key is fine


def test_policy_comes_from_the_settings(tmp_path: Path) -> None:
    settings = Settings(data_dir=tmp_path, integrations_timeout_s=2.5, integrations_attempts=4,
                        integrations_retry_wait_s=0.25)
    assert Policy.from_settings(settings) == Policy(timeout_s=2.5, attempts=4, wait_s=0.25)


# -- Upstream against a scripted stand-in -----------------------------------------------------------------------


@pytest.fixture
def server() -> Iterator[Scripted]:
    with Scripted() as standin:
        yield standin


@pytest.fixture
async def http(tmp_path: Path) -> AsyncIterator[httpx.AsyncClient]:
    client = http_client(Settings(data_dir=tmp_path))
    yield client
    await client.aclose()


POLICY = Policy(timeout_s=5.0, attempts=3, wait_s=0.0)


def upstream(http: httpx.AsyncClient, server: StandIn, *, policy: Policy = POLICY,
             breaker: Breaker | None = None, headers: dict[str, str] | None = None) -> Upstream:
    return Upstream(http, "Thing", server.url + "/", breaker or Breaker(100, 30), policy, headers)


async def test_a_plain_call_carries_our_headers_and_returns_the_response(http: httpx.AsyncClient,
                                                                         server: Scripted) -> None:
    up = upstream(http, server, headers={"X-Api-Key": "k1"})
    body = await up.json("GET", "/things", headers={"X-Extra": "e"}, params={"q": "x"})
    assert body == {"ok": True, "path": "/things"}
    [request] = server.requests
    assert request.path == "/things" and request.query == {"q": ["x"]}
    assert request.headers["x-api-key"] == "k1" and request.headers["x-extra"] == "e"
    assert request.headers["user-agent"] == USER_AGENT


@pytest.mark.parametrize("status", [500, 502, 503, 504, 429])
async def test_get_is_retried_on_overload_statuses(http: httpx.AsyncClient, server: Scripted, status: int) -> None:
    server.then(Reply(status, {"message": "busy"}), Reply(status, {"message": "busy"}))
    response = await upstream(http, server).request("GET", "/x")
    assert response.status_code == 200 and response.json()["ok"] is True
    assert len(server.requests) == 3  # two failures, then the third attempt answered


@pytest.mark.parametrize("status", [500, 502, 503, 504])
async def test_a_5xx_that_persists_is_upstream_error_after_every_attempt(http: httpx.AsyncClient, server: Scripted,
                                                                         status: int) -> None:
    server.set_faults(fail_status=status)
    with pytest.raises(UpstreamError) as caught:
        await upstream(http, server).request("GET", "/x")
    assert len(server.requests) == 3
    error = caught.value
    assert type(error) is UpstreamError and status_of(error) == 502 and error.code == "UPSTREAM_ERROR"
    assert error.message == f"Thing answered {status}" and error.details == {"service": "Thing"}


async def test_a_persistent_429_is_unavailable(http: httpx.AsyncClient, server: Scripted) -> None:
    server.set_faults(fail_status=429)
    with pytest.raises(UpstreamUnavailable) as caught:
        await upstream(http, server).request("GET", "/x")
    assert len(server.requests) == 3
    assert status_of(caught.value) == 503 and caught.value.code == "UNAVAILABLE" and "429" in caught.value.message


@pytest.mark.parametrize("method", ["PUT", "DELETE", "HEAD"])
async def test_other_idempotent_methods_are_retried(http: httpx.AsyncClient, server: Scripted, method: str) -> None:
    server.set_faults(fail_status=503)
    with pytest.raises(UpstreamError):
        await upstream(http, server).request(method, "/x")
    assert [r.method for r in server.requests] == [method] * 3


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 422])
async def test_a_4xx_is_not_retried_and_is_returned(http: httpx.AsyncClient, server: Scripted, status: int) -> None:
    server.set_faults(fail_status=status)
    response = await upstream(http, server).request("GET", "/x")
    assert response.status_code == status
    assert len(server.requests) == 1


async def test_post_is_not_retried_on_500_unless_asked(http: httpx.AsyncClient, server: Scripted) -> None:
    server.set_faults(fail_status=500)
    up = upstream(http, server)
    with pytest.raises(UpstreamError):
        await up.request("POST", "/create", json={"a": 1})
    assert len(server.requests) == 1
    with pytest.raises(UpstreamError):
        await up.request("POST", "/create", json={"a": 1}, retry=True)
    assert len(server.requests) == 1 + 3
    with pytest.raises(UpstreamError):
        await up.request("GET", "/x", retry=False)
    assert len(server.requests) == 1 + 3 + 1


async def test_a_short_retry_after_is_honoured(http: httpx.AsyncClient, server: Scripted) -> None:
    # The policy waits 0 s between attempts, so only the Retry-After can make the second attempt wait.
    server.then(Reply(503, {"message": "later"}, headers={"Retry-After": "1"}))
    response = await upstream(http, server).request("GET", "/x")
    assert response.status_code == 200 and len(server.requests) == 2
    first, second = server.arrivals
    assert second - first >= 0.9  # a lower bound only: a busy machine can make it longer, never shorter


async def test_a_long_retry_after_is_not_waited_for(http: httpx.AsyncClient, server: Scripted) -> None:
    server.then(Reply(429, {"message": "slow down"}, headers={"Retry-After": "3600"}))
    with pytest.raises(UpstreamUnavailable):
        await upstream(http, server).request("GET", "/x")
    assert len(server.requests) == 1  # failed at once instead of holding the caller for an hour


async def test_a_timeout_is_retried_then_upstream_timeout(http: httpx.AsyncClient, server: Scripted) -> None:
    server.set_faults(delay_s=10)
    policy = Policy(timeout_s=0.5, attempts=2, wait_s=0.0)
    with pytest.raises(UpstreamTimeout) as caught:
        await upstream(http, server, policy=policy).request("GET", "/slow")
    assert len(server.requests) == 2
    error = caught.value
    assert status_of(error) == 504 and error.code == "UPSTREAM_TIMEOUT"
    assert error.message == "Thing did not answer in time"


async def test_a_slow_answer_then_a_fast_one_succeeds(http: httpx.AsyncClient, server: Scripted) -> None:
    server.then(10.0)  # the first attempt is held past the timeout; the second is answered at once
    response = await upstream(http, server, policy=Policy(timeout_s=0.5, attempts=3, wait_s=0.0)).request("GET", "/x")
    assert response.status_code == 200 and len(server.requests) == 2


async def test_a_dropped_connection_is_retried_then_unavailable(http: httpx.AsyncClient, server: Scripted) -> None:
    server.set_faults(drop=True)
    with pytest.raises(UpstreamUnavailable) as caught:
        await upstream(http, server).request("GET", "/x")
    assert len(server.requests) == 3
    assert status_of(caught.value) == 503 and caught.value.code == "UNAVAILABLE"
    assert "unreachable" in caught.value.message


async def test_a_refused_connection_is_unavailable(http: httpx.AsyncClient, server: Scripted) -> None:
    server.refuse()
    with pytest.raises(UpstreamUnavailable) as caught:
        await upstream(http, server).request("GET", "/x")
    error = caught.value
    assert status_of(error) == 503 and error.code == "UNAVAILABLE"
    assert error.message == "Thing is unreachable (ConnectError)"


@pytest.mark.parametrize("status", [401, 403])
async def test_json_turns_401_and_403_into_credentials_refused(http: httpx.AsyncClient, server: Scripted,
                                                               status: int) -> None:
    server.set_faults(fail_status=status)
    with pytest.raises(CredentialsRefused) as caught:
        await upstream(http, server).json("GET", "/x")
    assert isinstance(caught.value, UpstreamError) and status_of(caught.value) == 502
    assert "credentials" in caught.value.message and str(status) in caught.value.message
    assert len(server.requests) == 1


async def test_json_turns_other_4xx_into_upstream_error(http: httpx.AsyncClient, server: Scripted) -> None:
    server.set_faults(fail_status=404)
    with pytest.raises(UpstreamError) as caught:
        await upstream(http, server).json("GET", "/x")
    assert type(caught.value) is UpstreamError and caught.value.message == "Thing answered 404"


async def test_html_garbage_is_upstream_error_and_counts_against_the_breaker(http: httpx.AsyncClient,
                                                                             server: Scripted) -> None:
    server.set_faults(garbage=True)
    breaker = Breaker(threshold=2, cooldown_s=60, clock=Clock())
    up = upstream(http, server, breaker=breaker)
    assert (await up.request("GET", "/x")).status_code == 200  # it is a 200; only its body is wrong
    with pytest.raises(UpstreamError) as caught:
        await up.json("GET", "/x")
    assert status_of(caught.value) == 502 and "not JSON" in caught.value.message
    assert len(server.requests) == 2  # a 200 is not retried
    with pytest.raises(UpstreamError):
        await up.json("GET", "/x")
    assert breaker.state == "open"


async def test_redirects_are_not_followed(http: httpx.AsyncClient, server: Scripted) -> None:
    server.then(Reply(302, b"", headers={"Location": "/elsewhere"}))
    response = await upstream(http, server).request("GET", "/x")
    assert response.status_code == 302
    assert [r.path for r in server.requests] == ["/x"]


async def test_the_breaker_opens_fails_fast_and_recovers_after_the_cool_down(http: httpx.AsyncClient,
                                                                             server: Scripted) -> None:
    clock = Clock()
    breaker = Breaker(threshold=2, cooldown_s=30, clock=clock)
    up = upstream(http, server, breaker=breaker, policy=Policy(timeout_s=0.5, attempts=2, wait_s=0.0))
    server.set_faults(fail_status=500)
    for _ in range(2):  # each failed call (after its retries) counts once
        with pytest.raises(UpstreamError):
            await up.request("GET", "/x")
    assert len(server.requests) == 4 and breaker.state == "open"

    # Open: the call fails at once without reaching the server, which would otherwise hold it past the timeout.
    server.set_faults(delay_s=30)
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable) as caught:
            await up.json("GET", "/x")
        assert caught.value.code == "UNAVAILABLE" and "next try in 30 s" in caught.value.message
    assert len(server.requests) == 4

    # After the cool-down one trial goes out; it succeeds and closes the breaker.
    clock.advance(30)
    server.set_faults()
    assert await up.json("GET", "/x") == {"ok": True, "path": "/x"}
    assert len(server.requests) == 5 and breaker.state == "closed"
    assert (await up.request("GET", "/x")).status_code == 200 and len(server.requests) == 6


async def test_a_failed_trial_reopens_the_breaker(http: httpx.AsyncClient, server: Scripted) -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown_s=30, clock=clock)
    up = upstream(http, server, breaker=breaker, policy=Policy(timeout_s=5, attempts=1, wait_s=0.0))
    server.set_faults(fail_status=503)
    with pytest.raises(UpstreamError):
        await up.request("GET", "/x")
    clock.advance(30)
    with pytest.raises(UpstreamError):  # the trial reached it and failed
        await up.request("GET", "/x")
    assert len(server.requests) == 2 and breaker.state == "open"
    server.set_faults()
    with pytest.raises(UpstreamUnavailable):
        await up.request("GET", "/x")
    assert len(server.requests) == 2


async def test_half_open_sends_one_trial_while_other_calls_fail_fast(http: httpx.AsyncClient,
                                                                     server: Scripted) -> None:
    clock = Clock()
    breaker = Breaker(threshold=1, cooldown_s=30, clock=clock)
    up = upstream(http, server, breaker=breaker, policy=Policy(timeout_s=5, attempts=1, wait_s=0.0))
    server.set_faults(fail_status=500)
    with pytest.raises(UpstreamError):
        await up.request("GET", "/x")
    clock.advance(30)
    server.set_faults(delay_s=0.3)  # the trial is still out while the others ask
    results = await asyncio.gather(*(up.request("GET", "/x") for _ in range(4)), return_exceptions=True)
    answered = [r for r in results if isinstance(r, httpx.Response)]
    refused = [r for r in results if isinstance(r, DomainError)]
    assert len(answered) == 1 and answered[0].status_code == 200
    assert len(refused) == 3 and all(isinstance(r, UpstreamUnavailable) for r in refused)
    assert len(server.requests) == 2 and breaker.state == "closed"


# -- StaleCache -------------------------------------------------------------------------------------------------


def test_cache_is_fresh_within_ttl_then_stale_within_keep_then_gone() -> None:
    clock = Clock()
    cache: StaleCache[str] = StaleCache(ttl_s=60, keep_s=3600, clock=clock)
    assert cache.fresh("k") is None and cache.stale("k") is None
    cache.put("k", "v1")
    assert cache.fresh("k") == "v1" and cache.stale("k") == "v1"
    clock.advance(60)
    assert cache.fresh("k") == "v1"  # exactly ttl old still counts as fresh
    clock.advance(0.5)
    assert cache.fresh("k") is None and cache.stale("k") == "v1"
    clock.advance(3600 - 60.5)
    assert cache.stale("k") == "v1"
    clock.advance(1)
    assert cache.stale("k") is None and cache.fresh("k") is None


def test_cache_put_replaces_and_restarts_the_age() -> None:
    clock = Clock()
    cache: StaleCache[int] = StaleCache(ttl_s=10, keep_s=100, clock=clock)
    cache.put(("search", "matrix", 1), 1)
    clock.advance(50)
    cache.put(("search", "matrix", 1), 2)
    assert cache.fresh(("search", "matrix", 1)) == 2
    clock.advance(99)
    assert cache.stale(("search", "matrix", 1)) == 2 and cache.fresh(("search", "matrix", 1)) is None
    cache.clear()
    assert cache.stale(("search", "matrix", 1)) is None


def test_cache_evicts_the_least_recently_used_beyond_max_entries() -> None:
    clock = Clock()
    cache: StaleCache[str] = StaleCache(ttl_s=60, keep_s=600, max_entries=3, clock=clock)
    for key in "abc":
        cache.put(key, key.upper())
    assert cache.stale("a") == "A"  # read: now the most recently used
    cache.put("d", "D")
    assert cache.stale("b") is None  # the oldest unused one went
    assert [cache.stale(k) for k in "acd"] == ["A", "C", "D"]
    cache.put("e", "E")
    cache.put("f", "F")
    assert [cache.stale(k) for k in "acdef"] == [None, None, "D", "E", "F"]
