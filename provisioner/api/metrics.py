"""Prometheus metrics of the API: requests by route and status, latency, and (read at scrape
time from the registry) tenants by desired and observed state, webhook deliveries by status."""

from __future__ import annotations

import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from prometheus_client import CollectorRegistry, Counter, Histogram
from prometheus_client.core import GaugeMetricFamily
from starlette.types import ASGIApp, Message, Receive, Scope, Send

if TYPE_CHECKING:
    from provisioner.registry import Registry


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.requests = Counter(
            "provisioner_api_requests_total",
            "HTTP requests answered, by method, route template and status code.",
            ("method", "route", "status"),
            registry=self.registry,
        )
        self.latency = Histogram(
            "provisioner_api_request_duration_seconds",
            "Time to answer a request, by method and route template.",
            ("method", "route"),
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5),
            registry=self.registry,
        )

    def watch_registry(self, registry: Registry) -> None:
        self.registry.register(_RegistryCollector(registry))


class _RegistryCollector:
    def __init__(self, registry: Registry) -> None:
        self._registry = registry

    def describe(self) -> list[Any]:
        return []  # collected lazily; nothing to describe up front

    def collect(self) -> Iterator[GaugeMetricFamily]:
        from provisioner.registry import webhooks

        states = GaugeMetricFamily(
            "provisioner_tenants",
            "Tenants by desired and observed state.",
            labels=("desired_state", "observed_state"),
        )
        hooks = GaugeMetricFamily(
            "provisioner_webhook_deliveries", "Webhook deliveries by status.", labels=("status",)
        )
        try:
            tenant_counts = self._registry.state_counts()
            delivery_counts = webhooks.status_counts(self._registry)
        except Exception:  # a scrape must not fail because the registry is down; /readyz says so
            return
        for (desired, observed), count in tenant_counts.items():
            states.add_metric((desired, observed or "none"), count)
        for status, count in delivery_counts.items():
            hooks.add_metric((status,), count)
        yield states
        yield hooks


class MetricsMiddleware:
    """Counts and times every request under its route template (never the raw path, whose
    slugs would make unbounded label values)."""

    def __init__(self, app: ASGIApp, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500

        async def tracking_send(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        finally:
            route = getattr(scope.get("route"), "path", None) or "unmatched"
            method = scope.get("method", "")
            self.metrics.requests.labels(method, route, str(status)).inc()
            self.metrics.latency.labels(method, route).observe(time.perf_counter() - started)
