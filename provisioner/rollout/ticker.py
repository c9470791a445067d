"""Every `provisioner worker` advances the rollouts: a thread that ticks the driver over the
registry each poll interval (the registry's row lock makes one process step a rollout at a
time; the others skip it). A failed tick is logged and retried at the next interval."""

from __future__ import annotations

import logging
import threading
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from provisioner.registry import Registry
from provisioner.registry.rollouts import RegistryStore
from provisioner.rollout.driver import Driver
from provisioner.rollout.health import HealthCheck

log = logging.getLogger("provisioner.rollout")


class RolloutTicker:
    def __init__(
        self,
        registry: Registry,
        checks: Sequence[HealthCheck],
        poll_seconds: float,
        hooks: Any = None,  # provisioner.webhooks.WebhookConfig, or None
        owner: str = "",
    ) -> None:
        store = RegistryStore(registry, actor=f"worker:{owner}" if owner else "rollout",
                              webhook_url=hooks.url if hooks else None)
        self.driver = Driver(store, checks)
        self.poll_seconds = poll_seconds
        self._done = threading.Event()
        self._thread: threading.Thread | None = None

    def tick(self) -> None:
        try:
            report = self.driver.tick(datetime.now(UTC))
        except Exception as exc:  # the registry may be unreachable: the next tick retries
            log.warning("rollout tick failed: %s: %s", type(exc).__name__, exc)
            return
        for transition in report.transitions:
            log.info("rollout %s", transition)

    def start(self, stop: threading.Event) -> None:
        def loop() -> None:
            while not stop.is_set() and not self._done.is_set():
                self.tick()
                stop.wait(self.poll_seconds)

        self._thread = threading.Thread(target=loop, name="rollouts", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._done.set()
        if self._thread is not None:
            self._thread.join()
