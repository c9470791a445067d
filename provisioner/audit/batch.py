"""Auditing many tenants at once, and which proofs of deletion become registry evidence.

`targets` picks what `audit --all` covers (live tenants to audit, or tombstones whose deletion
is to be proved); `run` audits them on a bounded thread pool (tenants are independent; each
audit sweeps its regions on a small pool of its own); `store_evidence` records each passing
proof of a tenant whose deletion the registry decided, after the audits, from one thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import AbstractContextManager
from datetime import datetime
from typing import TYPE_CHECKING, Any

from provisioner.audit.model import Target

if TYPE_CHECKING:
    from provisioner.registry import Registry, Tenant

Work = tuple[Target, "Tenant | None"]


def targets(tenants: Iterable[Tenant], *, deleted: bool) -> list[Work]:
    """Live tenants to audit, or (with `deleted`) the tombstones whose deletion is proved."""
    from provisioner.regions import catalogue

    regions = catalogue()
    return [
        (Target(t.slug, regions.resolve(t.location), t.instance_id or ""), t)
        for t in tenants
        if t.is_tombstone == deleted
    ]


def audit_one(
    target: Target, *, deleted: bool, sweep: Sequence[str] | None, at: datetime
) -> dict[str, Any]:
    """One tenant's audit report, or (with `deleted`) its proof of deletion, as a dict."""
    from provisioner.audit import default_clients

    clients = default_clients()
    if not deleted:
        from provisioner.audit.runner import audit_tenant

        return audit_tenant(clients, target, regions=list(sweep) if sweep else None).to_dict()
    from provisioner.audit.deletion import prove_deletion

    return prove_deletion(clients, target, at).to_dict()


def run(
    work: Sequence[Work],
    *,
    deleted: bool,
    sweep: Sequence[str] | None,
    at: datetime,
    jobs: int,
) -> list[dict[str, Any]]:
    """Every tenant of `work` audited (or proved deleted), `jobs` at once, in `work`'s order."""
    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return list(
            pool.map(lambda item: audit_one(item[0], deleted=deleted, sweep=sweep, at=at), work)
        )


def is_evidence(proof: dict[str, Any], tenant: Tenant | None) -> bool:
    """A proof is stored only when it passed and the registry decided the tenant's deletion
    (a tombstone): evidence for a live tenant would be a contradiction."""
    return bool(proof["passed"]) and tenant is not None and tenant.is_tombstone


def store_evidence(
    proofs: Sequence[tuple[dict[str, Any], Tenant | None]],
    open_registry: Callable[[], AbstractContextManager[Registry]],
    actor: str,
) -> None:
    """Record each proof that `is_evidence`; mark every proof with whether it was stored. The
    registry is opened only when there is something to store."""
    storable = [(proof, tenant) for proof, tenant in proofs if is_evidence(proof, tenant)]
    if storable:
        with open_registry() as reg:
            for proof, tenant in storable:
                assert tenant is not None
                reg.record_deletion_evidence(tenant.slug, dict(proof), actor=actor)
    stored = {id(proof) for proof, _ in storable}
    for proof, _ in proofs:
        proof["stored"] = id(proof) in stored
