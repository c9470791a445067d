"""The real tenant program planned offline, once per session, for every location and plan."""

from __future__ import annotations

from typing import Any

import pytest

from provisioner.plans import PLANS
from provisioner.regions import LOCATION_CODES, catalogue
from provisioner.spec import TenantSpec
from provisioner.synth import mock_arn, synth_plan

ALL = [(loc, plan) for loc in LOCATION_CODES for plan in PLANS]


class Plan:
    """A planned tenant with the lookups the stack tests need."""

    def __init__(self, spec: TenantSpec, data: dict[str, Any]) -> None:
        self.spec = spec
        self.data = data
        self.resources: list[dict[str, Any]] = data["resources"]
        self.account = catalogue().offline_account_id

    def of_type(self, token: str) -> list[dict[str, Any]]:
        return [r for r in self.resources if r["type"] == token]

    def one(self, token: str, name_suffix: str = "") -> dict[str, Any]:
        found = [r for r in self.of_type(token) if r["name"].endswith(name_suffix)]
        assert len(found) == 1, f"expected one {token} *{name_suffix}, found {len(found)}"
        return found[0]

    def arn(self, res: dict[str, Any], account: str | None = None) -> str:
        """The ARN the mocks give `res` (what other resources receive as a reference); pass
        `account` for a resource of the backup account."""
        return mock_arn(res["type"], res["name"], res["region"], account or self.account,
                        res["inputs"])

    @property
    def backup_account(self) -> str:
        return self.spec.location.backup.account_id

    def id(self, res: dict[str, Any]) -> str:
        return f"{res['name']}-id"

    @property
    def tenant_key(self) -> dict[str, Any]:
        return self.one("aws:kms/key:Key", "keys-key")

    @property
    def backup_key(self) -> dict[str, Any]:
        return self.one("aws:kms/key:Key", "keys-backup-key")

    @property
    def tenant_key_arn(self) -> str:
        return self.arn(self.tenant_key)


@pytest.fixture(scope="session")
def plans() -> dict[tuple[str, str], Plan]:
    result = {}
    for loc, plan in ALL:
        spec = TenantSpec.create(f"acme-{loc}", loc, plan)
        result[(loc, plan)] = Plan(spec, synth_plan(spec))
    return result


@pytest.fixture(params=ALL, ids=[f"{loc}-{plan}" for loc, plan in ALL])
def planned(request: pytest.FixtureRequest, plans: dict[tuple[str, str], Plan]) -> Plan:
    return plans[request.param]
