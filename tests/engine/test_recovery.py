"""Lock backoff, zone choice after a capacity error, pending operations in exported state."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.engine.recovery import (
    LockWait,
    backoff_delays,
    next_zone,
    pending_operations,
    region_of_zone,
)
from provisioner.engine.results import PendingOperation


def test_default_backoff_doubles_caps_and_stops_within_ten_minutes() -> None:
    delays = backoff_delays(LockWait())
    assert delays[:5] == (5.0, 10.0, 20.0, 40.0, 60.0)
    assert all(d <= 60.0 for d in delays)
    assert sum(delays) <= 600.0
    assert sum(delays) + 60.0 > 600.0  # it waits as long as the bound allows


@given(
    first=st.floats(0.1, 30),
    factor=st.floats(1.0, 4.0),
    cap=st.floats(1, 120),
    total=st.floats(0, 3600),
)
def test_backoff_is_always_bounded(first: float, factor: float, cap: float, total: float) -> None:
    delays = backoff_delays(LockWait(first, factor, cap, total))
    assert sum(delays) <= total + 1e-9
    assert all(d > 0 for d in delays)
    assert len(delays) < 100_000


def test_no_wait_configured_means_no_retry() -> None:
    assert backoff_delays(LockWait(max_total_seconds=0)) == ()


@pytest.mark.parametrize(
    ("zone", "region"),
    [("eu-central-1a", "eu-central-1"), ("us-east-1f", "us-east-1"), ("ap-south-2c", "ap-south-2")],
)
def test_region_of_zone(zone: str, region: str) -> None:
    assert region_of_zone(zone) == region


ZONES = ("eu-central-1a", "eu-central-1b", "eu-central-1c")


def test_next_zone_prefers_awss_suggestion_within_the_tenants_zones() -> None:
    assert next_zone("eu-central-1", ZONES, ["eu-central-1a"], ["eu-central-1c"]) == "eu-central-1c"


def test_next_zone_never_leaves_the_region() -> None:
    # AWS suggests zones of its own region only, but a bad parse or a mixed list must not move
    # a tenant's data: other regions are ignored even if suggested.
    suggested = ["eu-west-1a", "eu-central-2a"]
    assert next_zone("eu-central-1", ZONES, ["eu-central-1a"], suggested) == "eu-central-1b"
    mixed = ("eu-central-1a", "eu-west-1b")
    assert next_zone("eu-central-1", mixed, ["eu-central-1a"]) is None


def test_next_zone_never_repeats_and_runs_out() -> None:
    assert next_zone("eu-central-1", ZONES, ["eu-central-1a"]) == "eu-central-1b"
    assert next_zone("eu-central-1", ZONES, ["eu-central-1a", "eu-central-1b"]) == "eu-central-1c"
    assert next_zone("eu-central-1", ZONES, ZONES) is None


@given(tried=st.lists(st.sampled_from((*ZONES, "eu-west-1a"))), suggested=st.lists(st.text()))
def test_next_zone_is_an_untried_zone_of_the_region(tried: list[str], suggested: list[str]) -> None:
    chosen = next_zone("eu-central-1", ZONES, tried, suggested)
    if chosen is not None:
        assert chosen in ZONES and chosen not in tried
    else:
        assert set(ZONES) <= set(tried)


def test_pending_operations_from_an_exported_deployment() -> None:
    # The shape of `pulumi stack export` (apitype.DeploymentV3): pending_operations entries hold
    # the resource state and the operation type.
    deployment = {
        "manifest": {"time": "2026-11-28T03:00:00Z"},
        "resources": [{"urn": "urn:pulumi:tenant-demo::tenant::pulumi:pulumi:Stack::x"}],
        "pending_operations": [
            {
                "resource": {
                    "urn": "urn:pulumi:tenant-demo::tenant::aws:rds/instance:Instance::db"
                },
                "type": "creating",
            },
            {
                "resource": {"urn": "urn:pulumi:tenant-demo::tenant::aws:ec2/vpc:Vpc::vpc"},
                "type": "updating",
            },
        ],
    }
    assert pending_operations(deployment) == (
        PendingOperation("urn:pulumi:tenant-demo::tenant::aws:ec2/vpc:Vpc::vpc", "updating"),
        PendingOperation(
            "urn:pulumi:tenant-demo::tenant::aws:rds/instance:Instance::db", "creating"
        ),
    )
    assert pending_operations({"resources": []}) == ()
    assert pending_operations(None) == ()
