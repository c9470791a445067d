"""Starting a rollout: the tenants to move, their change groups, the danger check, the waves.

    rollout_id = start(registry, release_id, strategy, planner=FleetChanges(url), actor=...,
                       reason=..., approve_dangerous=None, now=now)
"""

from __future__ import annotations

from collections import defaultdict
from datetime import datetime

from provisioner.errors import DangerousChange, UsageError
from provisioner.plans import PLANS
from provisioner.registry import Registry
from provisioner.registry.releases import get_release, release_commits, tenants_not_on
from provisioner.registry.rollouts import start_rollout
from provisioner.rollout.changes import ChangePlanner, ReleaseRef
from provisioner.rollout.strategy import Candidate, Strategy, plan_waves


def candidates(
    registry: Registry, release_id: int
) -> tuple[list[Candidate], dict[str, int | None]]:
    """Tenants not on `release_id` that still have a stack to update (not deleted), and the
    release each is on now."""
    rows = tenants_not_on(registry, release_id)
    found = [
        Candidate(r.slug, r.location, r.plan, PLANS[r.plan].paid if r.plan in PLANS else True,
                  bool(r.canary))
        for r in rows
    ]
    return found, {r.slug: r.release_id for r in rows}


def start(
    registry: Registry,
    release_id: int,
    strategy: Strategy,
    *,
    planner: ChangePlanner,
    actor: str,
    reason: str,
    approve_dangerous: str | None,
    now: datetime,
    webhook_url: str | None = None,
) -> int:
    release = get_release(registry, release_id)
    found, current = candidates(registry, release.id)
    if not found:
        raise UsageError(f"every tenant is already on release {release.id}: nothing to roll out")
    commits = release_commits(registry)
    # A tenant on no recorded release yet was built by the workers' own code: the latest
    # release recorded before this one is the best estimate of what it runs.
    earlier = [rid for rid in commits if rid < release.id]
    unknown = ReleaseRef(max(earlier), commits[max(earlier)]) if earlier else None
    moves: dict[ReleaseRef | None, list[str]] = defaultdict(list)
    for slug, rid in current.items():
        moves[ReleaseRef(rid, commits[rid]) if rid is not None else unknown].append(slug)
    changes = planner.changes(dict(moves), ReleaseRef(release.id, release.commit))
    if changes.dangerous and not approve_dangerous:
        shown = ", ".join(changes.dangerous[:5]) + (" ..." if len(changes.dangerous) > 5 else "")
        raise DangerousChange(
            f"release {release.id} makes a dangerous change to {len(changes.dangerous)}"
            f" tenant(s) ({shown}): review `provisioner fleet plan`, then start again with"
            " --approve-dangerous REASON"
        )
    waves = plan_waves(found, changes.groups, strategy)
    return start_rollout(
        registry,
        release_id=release.id,
        waves=waves,
        from_releases=current,
        strategy=strategy,
        actor=actor,
        reason=reason,
        dangerous_reason=approve_dangerous if changes.dangerous else None,
        now=now,
        webhook_url=webhook_url,
    )
