"""Which tenant a command acts on (provisioner.resolve), shared by the stack and audit commands,
and which proofs of deletion the audit stores (provisioner.audit.batch)."""

from __future__ import annotations

from contextlib import AbstractContextManager
from datetime import UTC, datetime
from pathlib import Path

import pytest

from provisioner.audit import batch
from provisioner.errors import UsageError
from provisioner.registry import Registry, Tenant
from provisioner.resolve import resolve
from provisioner.spec import TenantSpec

T0 = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.delenv("PROVISIONER_DATABASE_URL", raising=False)
    monkeypatch.setenv("PROVISIONER_HOME", str(tmp_path / "home"))
    return tmp_path / "home"


def test_an_unregistered_tenant_needs_the_flags_and_no_registry_is_created(home: Path) -> None:
    resolved = resolve("acme", "eu-central-1", need_plan=False)
    assert (resolved.location.code, resolved.plan, resolved.tenant) == ("de", None, None)
    with pytest.raises(UsageError, match="not registered: give --location and --plan"):
        resolve("acme", None, None)
    every = r"\(us, uk, ie, de, au, sg, jp, in\)$"
    with pytest.raises(UsageError, match=rf"not registered: give --location {every}"):
        resolve("acme", None, need_plan=False)
    with pytest.raises(UsageError, match=r"not registered: give --plan$"):
        resolve("acme", "de", None)
    with pytest.raises(UsageError, match="unknown location 'mars'"):
        resolve("acme", "mars", "trial")
    assert not home.exists()  # looking up created nothing


def test_a_registered_tenant_supplies_what_the_flags_leave_out(home: Path) -> None:
    with Registry.open() as registry:
        registry.create_tenant(TenantSpec.create("acme", "de", "standard"), actor="t", at=T0)
    resolved = resolve("acme", None, None)
    assert (resolved.location.code, resolved.plan) == ("de", "standard")
    assert resolved.tenant is not None and resolved.tenant.slug == "acme"
    assert resolve("acme", "eu-central-1", "standard").location.code == "de"  # agreeing flags
    with pytest.raises(UsageError, match="registered in location de"):
        resolve("acme", "us", None, need_plan=False)
    with pytest.raises(UsageError, match="registered on plan standard"):
        resolve("acme", None, "trial")


def _tenant(home: Path, slug: str, tombstone: bool) -> Tenant:
    with Registry.open() as registry:
        tenant = registry.create_tenant(TenantSpec.create(slug, "de", "trial"), actor="t", at=T0)
        if tombstone:  # the trial's deletion date has long passed
            registry.retention_apply(T0.replace(year=2027))
            tenant = registry.get_tenant(slug)
    assert tenant.is_tombstone == tombstone
    return tenant


def test_only_a_passing_proof_of_a_decided_deletion_is_evidence(home: Path) -> None:
    live, gone = _tenant(home, "live", False), _tenant(home, "gone", True)
    assert batch.is_evidence({"passed": True}, gone)
    assert not batch.is_evidence({"passed": False}, gone)
    assert not batch.is_evidence({"passed": True}, live)
    assert not batch.is_evidence({"passed": True}, None)
    assert [work[0].slug for work in batch.targets([live, gone], deleted=True)] == ["gone"]
    assert [work[0].slug for work in batch.targets([live, gone], deleted=False)] == ["live"]

    def no_registry() -> AbstractContextManager[Registry]:
        raise AssertionError("opened the registry with nothing to store")

    proofs = [({"passed": True}, live), ({"passed": False}, gone)]
    batch.store_evidence(proofs, no_registry, "test")
    assert [proof["stored"] for proof, _ in proofs] == [False, False]
    proof = {"passed": True, "tenant": "gone"}
    batch.store_evidence([(proof, gone)], Registry.open, "test")
    assert proof["stored"] is True
    with Registry.open() as registry:
        assert registry.get_tenant("gone").deletion_evidence == {"passed": True, "tenant": "gone"}
