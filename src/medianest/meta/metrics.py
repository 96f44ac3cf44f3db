"""Prometheus metrics: a pure ASGI middleware (no per-request task or body buffering) and /metrics."""

from __future__ import annotations

import time
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter("medianest_http_requests_total", "HTTP requests", ["method", "endpoint", "status"],
                                registry=self.registry)
        self.latency = Histogram("medianest_http_request_seconds", "Time to the response headers",
                                 ["endpoint"], registry=self.registry)

        # labels() lookups cost more than the increment; keep the children per label set.
        self._children: dict[tuple[str, str, int], tuple[Any, Any]] = {}

    def observe(self, method: str, endpoint: str, status: int, seconds: float) -> None:
        key = (method, endpoint, status)
        children = self._children.get(key)
        if children is None:
            children = (self.requests.labels(method, endpoint, str(status)), self.latency.labels(endpoint))
            self._children[key] = children
        children[0].inc()
        children[1].observe(seconds)

    def render(self) -> bytes:
        return generate_latest(self.registry)


class MetricsMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        start = time.perf_counter()

        async def observe(message: Message) -> None:
            if message["type"] == "http.response.start":
                endpoint = getattr(scope.get("endpoint"), "__name__", "unmatched")
                self.metrics.observe(scope["method"], endpoint, message["status"], time.perf_counter() - start)
            await send(message)

        await self.app(scope, receive, observe)
