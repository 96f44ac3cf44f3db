"""Prometheus metrics of HTTP requests (recorded by `api.observer.RequestObserver`) and /metrics."""

from __future__ import annotations

from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest


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
