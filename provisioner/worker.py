"""The worker: claims tenants whose stack differs from what the registry wants, reconciles them
through the engine, and records what happened. Run by `provisioner worker`.

- Claims use leases (provisioner.registry.leases): a worker killed at any point loses nothing;
  its leases expire and another worker takes the tenants over. While an operation runs, a
  heartbeat thread extends the leases it holds.
- `concurrency` operations at once (threads: each engine operation is a Pulumi CLI subprocess),
  and at most `region_caps[region]` leases per region across all workers.
- A failed attempt is retried after an exponential, jittered delay (reconcile.retry_delay); after
  `max_attempts` at one generation the tenant is marked failed with the reason. An environment
  problem (no Pulumi CLI, no credentials) is such a failure: recorded with its actionable
  message and backed off, never a crash or a busy loop.
- Webhooks (provisioner.webhooks): each observed state change is enqueued in the same
  transaction and sent by this process's dispatcher.

The engine is a constructor argument (`StackEngine`); the CLI builds the real one
(`PulumiStackEngine` around provisioner.engine.Engine), tests pass a double.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import random
import socket
import threading
import time
import uuid
from collections.abc import Callable, Mapping
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

from provisioner import reconcile
from provisioner.errors import ProvisionerError, StackNotFound
from provisioner.policy.gate import Deployment, Gate
from provisioner.reconcile import Action
from provisioner.registry import Registry, Tenant, leases, outcomes, signup
from provisioner.retention import iso
from provisioner.rollout import apply as release_apply
from provisioner.spec import TenantSpec

log = logging.getLogger("provisioner.worker")


class StackEngine(Protocol):
    """The verbs the worker calls. Each raises provisioner.errors types on failure."""

    def up(self, spec: TenantSpec) -> Any:
        """Create or update the stack; the result has `.outputs` (name -> value or StackOutput)."""

    def suspend(self, spec: TenantSpec) -> Any:
        """Stop the tenant's app server and answer 503 at the load balancer. The database keeps
        running (RDS restarts a stopped instance after seven days); every byte of data is kept."""

    def destroy(self, spec: TenantSpec) -> Any:
        """Delete every resource of the stack (StackNotFound if there is none)."""


class PulumiStackEngine:
    """The real engine (provisioner.engine.Engine) behind the worker's StackEngine verbs."""

    def __init__(
        self,
        engine: Any,
        check: Callable[[Deployment], Any] | None = None,
        program_version: str | None = None,
    ) -> None:
        self._engine = engine
        self._check = check  # the policy check; None: the real one (offline plan + rules)
        self._program_version = program_version  # what the worker records as deployed

    def _gate(self) -> Gate:
        # The same gate as `tenants up`, on exactly what each attempt applies (suspended shape,
        # zone retries, program version): a stack that breaks a promise is never deployed by a
        # worker (there is no --force-policy here; an operator forces from the CLI).
        return Gate(check=self._check, program_version=self._program_version)

    def up(self, spec: TenantSpec) -> Any:
        return self._engine.up(spec, gate=self._gate())

    def suspend(self, spec: TenantSpec) -> Any:
        # The program's suspended shape: app server stopped, HTTPS answering 503, data kept.
        return self._engine.suspend(spec, gate=self._gate())

    def destroy(self, spec: TenantSpec) -> Any:
        return self._engine.destroy(spec)


@dataclass(frozen=True)
class WorkerSettings:
    """How a worker behaves; every duration in seconds."""

    program_version: str  # the tenant program's version (stacks.tenant_stack.PROGRAM_VERSION)
    concurrency: int = 4  # operations at once in this process
    lease_seconds: float = 120.0  # a silent worker's tenants are taken over after this
    heartbeat_seconds: float = 30.0  # how often held leases are extended
    poll_seconds: float = 2.0  # idle wait between claims when nothing is due
    max_attempts: int = 5  # attempts per generation before the tenant is marked failed
    retry_base_seconds: float = 30.0  # first retry after ~15-30 s, doubling
    retry_cap_seconds: float = 3600.0  # never wait more than an hour between attempts
    region_caps: Mapping[str, int] = field(default_factory=dict)  # region -> max leases held
    default_region_cap: int | None = None  # for regions not in region_caps (None: no cap)

    def region_cap(self, region: str) -> int | None:
        return self.region_caps.get(region, self.default_region_cap)


@dataclass
class WorkerStats:
    """What one run did (the CLI prints it; benchmarks read it)."""

    claimed: int = 0
    succeeded: int = 0
    retried: int = 0
    gave_up: int = 0
    lost: int = 0  # results dropped because another worker had taken the tenant over
    actions: dict[str, int] = field(default_factory=dict)
    engine_seconds: float = 0.0  # time inside engine calls (the rest is orchestration)
    # Warm-pool jobs of a `--once` pass: {"succeeded": {kind: n}, "failed": {kind: n}}.
    pools: dict[str, dict[str, int]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "actions": dict(sorted(self.actions.items())),
            "claimed": self.claimed,
            "engine_seconds": round(self.engine_seconds, 3),
            "gave_up": self.gave_up,
            "lost": self.lost,
            "pools": self.pools,
            "retried": self.retried,
            "succeeded": self.succeeded,
        }


def _utcnow() -> datetime:
    return datetime.now(UTC)


def default_owner() -> str:
    """Unique per process: host, pid and a random suffix (pids are reused across hosts)."""
    return f"{socket.gethostname()[:60]}:{os.getpid()}:{uuid.uuid4().hex[:6]}"


class Worker:
    def __init__(
        self,
        registry: Registry,
        engine: StackEngine,
        settings: WorkerSettings,
        *,
        owner: str | None = None,
        webhooks: Any = None,  # provisioner.webhooks.Dispatcher, or None
        pools: Any = None,  # provisioner.pools.keeper.PoolKeeper, or None
        clock: Callable[[], datetime] = _utcnow,
        rand: Callable[[], float] = random.random,
    ) -> None:
        if settings.concurrency < 1:
            raise ValueError("concurrency must be at least 1")
        self.registry = registry
        self.engine = engine
        self.settings = settings
        self.owner = owner or default_owner()
        self.webhooks = webhooks
        self.pools = pools
        self._clock = clock
        self._rand = rand
        self._held: set[str] = set()
        self._held_lock = threading.Lock()
        self._stats_lock = threading.Lock()
        self.stats = WorkerStats()

    # --- the loop -------------------------------------------------------------------------------

    def run(self, stop: threading.Event | None = None, *, once: bool = False) -> WorkerStats:
        """Reconcile until `stop` is set (or, with `once`, until nothing is due and nothing runs).

        On stop, no new tenant is claimed and running operations finish (interrupting a Pulumi
        update leaves pending operations behind); a second signal is the caller's business.
        """
        stop = stop or threading.Event()
        self.stats = WorkerStats()
        beat_stop = threading.Event()
        beat = threading.Thread(target=self._heartbeat_loop, args=(beat_stop,), daemon=True)
        beat.start()
        # Webhooks go out from a thread of their own: a slow receiver must not hold up claims.
        hooks = None
        if self.webhooks is not None:
            hooks = threading.Thread(target=self._webhook_loop, args=(beat_stop,), daemon=True)
            hooks.start()
        # Warm pools (build, update, recycle) in a thread of their own, beside tenant work; with
        # `once`, one pass of what is due (the pass ends: failed jobs back off).
        keeper = None
        if self.pools is not None:
            keeper = threading.Thread(
                target=self._pools_once if once else self.pools.loop,
                args=(stop,) if once else (beat_stop, self.settings.poll_seconds),
                daemon=True,
            )
            keeper.start()
        inflight: dict[Future[None], str] = {}
        pool = ThreadPoolExecutor(self.settings.concurrency, thread_name_prefix="reconcile")
        try:
            while not stop.is_set():
                free = self.settings.concurrency - len(inflight)
                claims = self._claim(free) if free > 0 else []
                for claim in claims:
                    with self._held_lock:
                        self._held.add(claim.slug)
                    inflight[pool.submit(self._work, claim)] = claim.slug
                if once and not claims and not inflight and not (keeper and keeper.is_alive()):
                    break
                if inflight:
                    done, _ = wait(
                        list(inflight),
                        timeout=0
                        if claims and len(inflight) < self.settings.concurrency
                        else self.settings.poll_seconds,
                        return_when=FIRST_COMPLETED,
                    )
                    for future in done:
                        inflight.pop(future)
                        future.result()  # _work never raises; surface a bug if it does
                elif not claims:
                    stop.wait(self.settings.poll_seconds)
            wait(list(inflight))
            for future in inflight:
                future.result()
        finally:
            pool.shutdown(wait=True)
            beat_stop.set()
            beat.join()
            if keeper is not None:
                keeper.join()
            if hooks is not None:
                hooks.join()
                self.webhooks.deliver_due()  # what the last operations announced
        return self.stats

    def _claim(self, limit: int) -> list[leases.Claim]:
        try:
            claims = leases.claim(
                self.registry,
                self.owner,
                now=self._clock(),
                limit=limit,
                lease_seconds=self.settings.lease_seconds,
                max_attempts=self.settings.max_attempts,
                program_version=self.settings.program_version,
                region_cap=self.settings.region_cap,
            )
        except ProvisionerError as exc:  # registry unreachable: say so, wait, try again
            log.error("cannot claim tenants: %s", exc)
            return []
        except Exception as exc:  # a database error must not kill the loop either
            log.error("cannot claim tenants: %s: %s", type(exc).__name__, _one_line(exc))
            return []
        with self._stats_lock:
            self.stats.claimed += len(claims)
        return claims

    def _webhook_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.poll_seconds):
            try:
                self.webhooks.deliver_due()
            except Exception as exc:  # keep the loop; the deliveries stay pending
                log.warning("webhook delivery failed: %s", _one_line(exc))

    def _pools_once(self, stop: threading.Event) -> None:
        try:
            self.stats.pools = self.pools.run_due(stop).to_dict()
        except Exception as exc:  # a database hiccup: the tenants' pass still completes
            log.error("pool pass failed: %s", _one_line(exc))

    def _heartbeat_loop(self, stop: threading.Event) -> None:
        while not stop.wait(self.settings.heartbeat_seconds):
            if self.pools is not None:  # the pool jobs this process runs, on the same beat
                try:
                    self.pools.heartbeat()
                except Exception as exc:  # the lease has slack for a missed beat
                    log.warning("pool heartbeat failed: %s", _one_line(exc))
            with self._held_lock:
                held = set(self._held)
            if not held:
                continue
            try:
                kept = leases.heartbeat(
                    self.registry,
                    self.owner,
                    held,
                    now=self._clock(),
                    lease_seconds=self.settings.lease_seconds,
                )
            except Exception as exc:  # keep beating; the lease has slack for a missed beat
                log.warning("heartbeat failed: %s", _one_line(exc))
                continue
            with self._held_lock:  # a tenant finished meanwhile released its lease itself
                lost = (held - kept) & self._held
            for slug in sorted(lost):
                log.warning("lease on %s was taken over by another worker", slug)

    # --- one tenant -----------------------------------------------------------------------------

    def _work(self, claim: leases.Claim) -> None:
        try:
            self.reconcile(claim)
        except Exception:  # never let one tenant take the worker down
            log.exception("unexpected error reconciling %s", claim.slug)
        finally:
            with self._held_lock:
                self._held.discard(claim.slug)

    def reconcile(self, claim: leases.Claim) -> Tenant | None:
        """Run the one action `claim` needs and record the outcome. None if the lease was lost."""
        # A tenant a rollout targeted is compared by release, not by this worker's program.
        wanted, built = release_apply.versions(claim, self.settings.program_version)
        action = reconcile.decide(
            claim.desired_state,
            claim.observed_state,
            ever_reconciled=claim.observed_generation is not None,
            program_version=wanted,
            observed_program_version=built,
            plan=claim.plan,
            observed_plan=claim.observed_plan,
        )
        log.info("%s: %s (attempt %d)", claim.slug, action.value, claim.attempt)
        started = time.monotonic()
        try:
            outcome = self._run(action, claim)
        except Exception as exc:
            self._add_engine_time(started)
            return self._failed(claim, action, exc)
        self._add_engine_time(started)
        now = self._clock()
        tenant = outcomes.complete(
            self.registry,
            claim,
            now=now,
            observed_state=claim.desired_state,
            program_version=outcome.get("program_version"),
            outputs=outcome.get("outputs"),
            deletion_evidence=outcome.get("evidence"),
            after=release_apply.both(
                self._announce(claim, now), release_apply.recorder(claim, action, None, now)
            ),
        )
        with self._stats_lock:
            if tenant is None:
                self.stats.lost += 1
            else:
                self.stats.succeeded += 1
                self.stats.actions[action.value] = self.stats.actions.get(action.value, 0) + 1
        return tenant

    def _run(self, action: Action, claim: leases.Claim) -> dict[str, Any]:
        if action is Action.NOOP:
            return {}
        # A tenant bound to a pooled instance keeps the instance's names: its create is a bind,
        # which also hands the app its admin invitation (the signup's address, until scrubbed).
        admin = signup.admin_email(self.registry, claim.slug) if claim.instance_id else None
        spec = TenantSpec.create(
            claim.slug, claim.location, claim.plan, instance_id=claim.instance_id, admin_email=admin
        )
        if claim.legacy_backup:  # keeps its pre-backup-account copy until it is retired
            spec = dataclasses.replace(spec, legacy_backup=True)
        if action in (Action.CREATE, Action.UPDATE, Action.RESUME):
            result = release_apply.up(self.engine, spec, claim, self.registry)
            return {
                "outputs": _shown(getattr(result, "outputs", None) or {}),
                "program_version": release_apply.recorded_version(
                    claim, self.settings.program_version
                ),
            }
        if action is Action.SUSPEND:
            self.engine.suspend(spec)
            return {}
        # DESTROY: the stack's resources (instances, database, volumes, backup vaults, logs) go
        # with it and its KMS key is scheduled for deletion; no stack at all is success too.
        checked: str | None = None
        try:
            result = self.engine.destroy(spec)
            existed = True
        except StackNotFound as exc:
            result, existed, checked = None, False, _one_line(exc)
        evidence: dict[str, Any] = {
            "destroyed_at": iso(self._clock()),
            "stack": spec.stack_name,
            "stack_existed": existed,
        }
        if checked is not None:
            evidence["stack_check"] = checked  # how the backend said there was none
        if result is not None and hasattr(result, "to_dict"):
            evidence["engine"] = result.to_dict()
        return {"evidence": evidence, "outputs": {}}

    def _failed(self, claim: leases.Claim, action: Action, exc: Exception) -> Tenant | None:
        message = (
            _one_line(exc)
            if isinstance(exc, ProvisionerError)
            else (f"{type(exc).__name__}: {_one_line(exc)}")
        )
        now = self._clock()
        retry_at: datetime | None = None
        if claim.attempt < self.settings.max_attempts:
            delay = reconcile.retry_delay(
                claim.attempt,
                base=self.settings.retry_base_seconds,
                cap=self.settings.retry_cap_seconds,
                rand=self._rand,
            )
            retry_at = now + timedelta(seconds=delay)
        log.warning(
            "%s: %s failed (attempt %d/%d): %s%s",
            claim.slug,
            action.value,
            claim.attempt,
            self.settings.max_attempts,
            message,
            f"; retry at {iso(retry_at)}" if retry_at else "; giving up",
        )
        tenant = outcomes.fail(
            self.registry,
            claim,
            now=now,
            error=f"{action.value}: {message}",
            retry_at=retry_at,
            after=release_apply.both(
                self._announce(claim, now, always=True),  # each give-up: a tenant.failed
                release_apply.recorder(claim, action, f"{action.value}: {message}", now),
            ),
        )
        with self._stats_lock:
            if tenant is None:
                self.stats.lost += 1
            elif retry_at is None:
                self.stats.gave_up += 1
            else:
                self.stats.retried += 1
        return tenant

    def _announce(
        self, claim: leases.Claim, now: datetime, always: bool = False
    ) -> Callable[[Any, Tenant], None]:
        """Enqueue a webhook, in the recording transaction, when the observed state changed
        (`always`: even when it did not, e.g. a tenant that fails again after `tenants retry`)."""

        def after(conn: Any, tenant: Tenant) -> None:
            if self.webhooks is None or (
                not always and tenant.observed_state == claim.observed_state
            ):
                return
            self.webhooks.enqueue(conn, tenant, now)

        return after

    def _add_engine_time(self, started: float) -> None:
        with self._stats_lock:
            self.stats.engine_seconds += time.monotonic() - started


def _shown(outputs: Mapping[str, Any]) -> dict[str, Any]:
    """Stack outputs as stored: secrets masked (the registry never holds a secret)."""
    return {k: (v.shown() if hasattr(v, "shown") else v) for k, v in sorted(outputs.items())}


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split())
    return text[:2000] if text else type(exc).__name__
