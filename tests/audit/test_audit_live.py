"""The live audit against moto's server: a compliant tenant passes; each violation is caught."""

from __future__ import annotations

from provisioner.audit.clients import Clients
from provisioner.audit.model import Target

from .builder import Built

REGIONS = ["eu-central-1", "eu-west-1", "us-east-1"]  # own, backup, one foreign


def audit(clients: Clients, built: Built):
    from provisioner.audit.runner import audit_tenant

    return audit_tenant(clients, Target(built.slug, built.location), regions=REGIONS)


def test_compliant_tenant_passes(clients: Clients, tenant: Built) -> None:
    report = audit(clients, tenant)
    assert report.findings == []
    print(report.to_dict())
