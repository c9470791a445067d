"""What a worker needs to apply a tenant's target release (provisioner.worker calls these).

A tenant a rollout targeted has `target_release_id`; the worker then compares releases instead
of its own program version, applies the release's program (materialised by commit, see
`program`), and records the applied release and the rollout tenant's outcome in the same
transaction as the observed state.
"""

from __future__ import annotations

from typing import Any, Protocol

from provisioner.errors import EnvironmentProblem
from provisioner.registry import Registry, Tenant
from provisioner.registry.leases import Claim
from provisioner.registry.rollouts import RecordHook
from provisioner.rollout.program import ReleaseProgram
from provisioner.spec import TenantSpec

After = RecordHook
UP_ACTIONS = ("create", "update", "resume")


class ReleaseEngine(Protocol):
    def up_release(self, spec: TenantSpec, program: ReleaseProgram) -> Any:
        """Create or update the stack with the release's program instead of this code's."""


def release_version(release_id: int | None) -> str | None:
    return None if release_id is None else f"release-{release_id}"


def versions(claim: Claim, program_version: str) -> tuple[str, str | None]:
    """(wanted, built) program versions for reconcile.decide."""
    if claim.target_release_id is None:
        return program_version, claim.program_version
    return f"release-{claim.target_release_id}", release_version(claim.release_id)


def recorded_version(claim: Claim, program_version: str) -> str:
    """The program version to record after a successful `up`."""
    return release_version(claim.target_release_id) or program_version


def up(engine: Any, spec: TenantSpec, claim: Claim, registry: Registry) -> Any:
    """`engine.up(spec)`, or for a targeted tenant `engine.up_release(spec, release)`."""
    if claim.target_release_id is None:
        return engine.up(spec)
    from provisioner.registry.releases import get_release

    release = get_release(registry, claim.target_release_id)
    up_release = getattr(engine, "up_release", None)
    if up_release is None:
        raise EnvironmentProblem(
            f"{spec.slug} targets release {release.id}, but this worker's engine cannot apply a"
            " recorded release: run `provisioner worker`"
        )
    return up_release(spec, ReleaseProgram(release.id, release.commit, release.program_hash))


def recorder(claim: Claim, action: str, error: str | None, now: Any) -> After:
    """The part of the worker's recording transaction that belongs to releases and rollouts."""

    def after(conn: Any, tenant: Tenant) -> None:  # conn: the recording transaction
        if claim.target_release_id is None or action not in UP_ACTIONS:
            return
        from provisioner.registry.rollouts import record_outcome

        record_outcome(conn, claim.slug, claim.target_release_id, error, now)

    return after


def both(first: After, second: After) -> After:
    def after(conn: Any, tenant: Tenant) -> None:  # conn: the recording transaction
        first(conn, tenant)
        second(conn, tenant)

    return after
