"""Desired versus observed: what a worker must do to a tenant's stack, and how long to wait after
a failure. Pure: no database, no engine, no clock (the instant is passed in).

    desired   observed                         action
    active    none / failed before any success create   (engine up)
    active    suspended / closed                resume   (engine up)
    active    active, older program or plan     update   (engine up)
    suspended none (never built)                noop     (nothing to stop)
    or closed active / failed                   suspend  (engine suspend; data kept)
    deleted   anything but deleted              destroy  (engine destroy; data deletion)

After success the observed state is the desired state. `suspended` and `closed` are the same
stack shape (stopped, data kept): closing is a billing fact, not another stack operation.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from datetime import datetime
from enum import StrEnum
from typing import Protocol

from provisioner.lifecycle import ACTIVE, CLOSED, DELETED, FAILED, SUSPENDED

_STOPPED = {SUSPENDED, CLOSED}


class Action(StrEnum):
    CREATE = "create"
    UPDATE = "update"
    RESUME = "resume"
    SUSPEND = "suspend"
    DESTROY = "destroy"
    NOOP = "noop"


def decide(
    desired_state: str,
    observed_state: str | None,
    *,
    ever_reconciled: bool,
    program_version: str,
    observed_program_version: str | None,
    plan: str,
    observed_plan: str | None,
) -> Action:
    """The one action that moves the stack from `observed_state` to `desired_state`.

    `ever_reconciled`: a reconcile of this tenant succeeded once (observed_generation is set),
    so a stack exists unless it was destroyed.
    """
    if desired_state == DELETED:
        return Action.NOOP if observed_state == DELETED else Action.DESTROY
    if desired_state in _STOPPED:
        if observed_state is None or observed_state in _STOPPED:
            return Action.NOOP
        return Action.SUSPEND  # also after a failure: a failed create may have left it running
    if desired_state != ACTIVE:
        raise ValueError(f"unknown desired state {desired_state!r}")
    if observed_state is None or (observed_state == FAILED and not ever_reconciled):
        return Action.CREATE
    if observed_state in _STOPPED:
        return Action.RESUME
    if (
        observed_state == FAILED
        or observed_program_version != program_version
        or observed_plan != plan
    ):
        return Action.UPDATE
    return Action.NOOP


def retry_delay(
    attempt: int, *, base: float, cap: float, rand: Callable[[], float] = random.random
) -> float:
    """Seconds to wait after failed attempt number `attempt` (1-based): exponential, capped,
    with "equal jitter" (half fixed, half random) so a fleet that failed together (a missing
    CLI, an AWS outage) does not retry in lockstep, yet never retries sooner than half the step.
    https://aws.amazon.com/blogs/architecture/exponential-backoff-and-jitter/
    """
    step = min(cap, base * 2 ** max(0, attempt - 1))
    return step / 2 + rand() * step / 2


class Reconciled(Protocol):
    """What status_of reads of a tenant (provisioner.registry.Tenant has it all)."""

    @property
    def desired_state(self) -> str: ...
    @property
    def observed_state(self) -> str | None: ...
    @property
    def generation(self) -> int: ...
    @property
    def observed_generation(self) -> int | None: ...
    @property
    def lease_owner(self) -> str | None: ...
    @property
    def lease_expires_at(self) -> datetime | None: ...
    @property
    def last_error(self) -> str | None: ...
    @property
    def attempt_generation(self) -> int | None: ...
    @property
    def next_attempt_at(self) -> datetime | None: ...


def gave_up(tenant: Reconciled) -> bool:
    """The workers spent the attempts of the tenant's current generation and stopped:
    `tenants retry` (or a new desired state) grants fresh ones."""
    return bool(
        tenant.observed_state == FAILED
        and tenant.attempt_generation == tenant.generation
        and tenant.next_attempt_at is None
    )


def status_of(tenant: Reconciled, now: datetime) -> str:
    """One word for the signup service: pending, reconciling, retrying, ready, suspended, closed,
    deleting, deleted or failed."""
    observed, desired = tenant.observed_state, tenant.desired_state
    leased = tenant.lease_owner and tenant.lease_expires_at and tenant.lease_expires_at > now
    if observed == FAILED:
        # Failed only while nobody will try again: after `tenants retry`, a new desired state or
        # between the attempts of a retry, the signup service sees the attempts going on.
        if leased:
            return "reconciling"
        return "failed" if gave_up(tenant) else "retrying"
    settled = observed == desired and tenant.observed_generation == tenant.generation
    if desired == DELETED:
        return "deleted" if observed == DELETED else "deleting"
    if settled:
        return {ACTIVE: "ready"}.get(desired, desired)
    if leased:
        return "reconciling"
    return "retrying" if tenant.last_error else "pending"
