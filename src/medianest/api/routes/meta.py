"""Routes: GET /health (no auth), GET /api/v1/version, GET /metrics."""

from __future__ import annotations

import asyncio
import time
from typing import Any, Literal

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from redis.asyncio import Redis
from sqlalchemy import select, text

from medianest import __version__
from medianest.api.deps import parts
from medianest.api.envelope import Envelope, ok
from medianest.connections.models import ServiceConfig

router = APIRouter(tags=["meta"])
QUEUE_CHECK_TIMEOUT_S = 3


class Check(BaseModel):
    status: Literal["ok", "fail", "unknown"]
    critical: bool
    latency_ms: float | None = None
    detail: str | None = None


class Health(BaseModel):
    status: Literal["ok", "fail"]
    checks: dict[str, Check]


class Version(BaseModel):
    name: str
    version: str
    database: str


async def _database(request: Request) -> Check:
    start = time.perf_counter()
    try:
        async with parts(request).sessions() as session:
            await session.execute(text("SELECT 1"))
    except Exception as exc:  # any failure to reach the DB is what this check reports
        return Check(status="fail", critical=True, detail=type(exc).__name__)
    return Check(status="ok", critical=True, latency_ms=round((time.perf_counter() - start) * 1000, 2))


async def _queue(request: Request) -> Check:
    """The download queue answers (its SQLite file, or Redis), and how many jobs wait in it."""
    queue = parts(request).jobs
    start = time.perf_counter()
    try:
        pending = await asyncio.wait_for(asyncio.to_thread(queue.huey.pending_count), QUEUE_CHECK_TIMEOUT_S)
    except Exception as exc:  # an unreachable Redis, a locked or broken file: the check reports it
        return Check(status="fail", critical=True, detail=type(exc).__name__)
    kind = "redis" if parts(request).settings.redis_url else "sqlite"
    return Check(status="ok", critical=True, latency_ms=round((time.perf_counter() - start) * 1000, 2),
                 detail=f"{kind}, {pending} waiting")


async def _redis(url: str) -> Check:
    """Redis itself (rate limits and Socket.IO fan-out use it beside the queue)."""
    start = time.perf_counter()
    client = Redis.from_url(url, socket_timeout=QUEUE_CHECK_TIMEOUT_S, socket_connect_timeout=QUEUE_CHECK_TIMEOUT_S)
    try:
        await client.ping()
    except Exception as exc:  # down, refusing, wrong password: the check reports it
        return Check(status="fail", critical=True, detail=type(exc).__name__)
    finally:
        await client.aclose()
    return Check(status="ok", critical=True, latency_ms=round((time.perf_counter() - start) * 1000, 2))


async def _services(request: Request) -> dict[str, Check]:
    """Each enabled connection as its last periodic check found it: informational, never a reason for 503
    (and never asked live: /health must answer fast whatever the outside world does)."""
    try:
        async with parts(request).sessions() as session:
            configs = (await session.scalars(select(ServiceConfig).where(ServiceConfig.enabled))).all()
    except Exception:  # the database check already says what is wrong
        return {}
    return {f"service:{c.name}": Check(status=_SERVICE_CHECK[c.status], critical=False, latency_ms=c.response_ms,
                                       detail=f"{c.kind}: {c.status}" + (f" ({c.detail})" if c.detail else ""))
            for c in configs}


_SERVICE_CHECK: dict[str, Literal["ok", "fail", "unknown"]] = {
    "up": "ok", "degraded": "ok", "down": "fail", "unknown": "unknown"}


async def _library(request: Request) -> Check:
    """The media folders as the last scan found them: informational, never a reason for 503 (the
    items of an offline folder are kept, only unplayable). Offline folders are named, not given by
    path: anyone may read /health, and the server's folder layout is not theirs to see."""
    try:
        offline = await parts(request).scans.offline()
    except Exception:  # the database check already says what is wrong
        return Check(status="unknown", critical=False)
    if not offline.folders:
        return Check(status="ok", critical=False, detail=f"{len(parts(request).settings.library_dirs)} "
                                                          "media folder(s), none offline")
    listed = "; ".join(f"{name} ({why})" for name, why in offline.names())
    return Check(status="fail", critical=False, detail=f"offline: {listed}")


@router.get("/health", response_model=Health, responses={503: {"model": Health, "description": "unhealthy"}})
async def health(request: Request) -> Any:
    """Liveness and readiness: 503 when a critical dependency (database, queue, Redis) fails; the media
    folders (`library`: offline ones by name) and outside services are listed for information."""
    checks = {"database": await _database(request), "queue": await _queue(request)}
    if redis_url := parts(request).settings.redis_url:
        checks["redis"] = await _redis(redis_url)
    checks["library"] = await _library(request)
    checks.update(await _services(request))
    bad = any(c.status != "ok" and c.critical for c in checks.values())
    body = Health(status="fail" if bad else "ok", checks=checks)
    return JSONResponse(body.model_dump(), status_code=503 if bad else 200)


@router.get("/api/v1/version")
async def version(request: Request) -> Envelope[Version]:
    dialect = "sqlite" if parts(request).settings.is_sqlite else "postgresql"
    return ok(Version(name="medianest", version=__version__, database=dialect))


@router.get("/metrics", response_class=Response,
            responses={200: {"content": {"text/plain": {"schema": {"type": "string"}}}, "description": "Prometheus"}})
async def metrics(request: Request) -> Response:
    return Response(parts(request).metrics.render(), media_type="text/plain; version=0.0.4")
