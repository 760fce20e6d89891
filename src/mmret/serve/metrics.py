"""Prometheus metrics of one server: requests by route and status, their latency, and the index's size."""
from __future__ import annotations

from collections.abc import Callable

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
)

LATENCY_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)


class Metrics:
    def __init__(self, items: Callable[[], float], generation: Callable[[], float]):
        self.registry = CollectorRegistry()  # one per app, so several apps in a process do not collide
        self.requests = Counter("mmret_http_requests", "HTTP requests answered", ["method", "route", "status"],
                                registry=self.registry)
        self.latency = Histogram("mmret_http_request_seconds", "Time to answer a request", ["method", "route"],
                                 buckets=LATENCY_BUCKETS, registry=self.registry)
        Gauge("mmret_index_items", "Records in the collection", registry=self.registry).set_function(items)
        Gauge("mmret_index_generation", "Committed generation being read",
              registry=self.registry).set_function(generation)

    def observe(self, method: str, route: str, status: int, seconds: float) -> None:
        self.requests.labels(method, route, str(status)).inc()
        self.latency.labels(method, route).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)
