"""Fixtures for the cost tests: real offline plans (one per location x plan, cached for the
session) and a test price snapshot.

The test snapshot's figures are test data, chosen so that every price key the rules charge has
a value and bigger sizes cost more; they are not AWS's prices and never leave tests/.
"""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest

from provisioner.cost.snapshot import Price, PriceSnapshot, build_snapshot
from provisioner.cost.usage import UsageBook, load_usage

TEST_SOURCE = "test data (tests/cost/conftest.py)"
_PLANS: dict[tuple[str, str], dict[str, Any]] = {}


def plan_of(location: str, plan: str) -> dict[str, Any]:
    """A deep copy of the offline plan of a tenant `demo` (synthesised once per session)."""
    if (location, plan) not in _PLANS:
        from provisioner.cost.fleet import synth_plan_of

        _PLANS[(location, plan)] = synth_plan_of("demo", location, plan)
    return copy.deepcopy(_PLANS[(location, plan)])


# Per-unit test figures by price key; variants get their own below.
_FLAT = {
    "ebs.gb_month": 0.1, "rds.backup_gb_month": 0.1, "elb.alb_hour": 0.02,
    "elb.alb_lcu_hour": 0.01, "elb.nlb_hour": 0.02, "elb.nlb_lcu_hour": 0.01,
    "vpc.nat_gateway_hour": 0.05, "vpc.nat_gateway_gb": 0.05, "vpc.public_ipv4_hour": 0.005,
    "kms.key_month": 1.0, "kms.requests_10k": 0.03, "logs.ingest_gb": 0.5,
    "logs.storage_gb_month": 0.03, "waf.web_acl_month": 5.0, "waf.rule_month": 1.0,
    "waf.requests_million": 0.6, "secretsmanager.secret_month": 0.4,
    "secretsmanager.api_10k": 0.05, "backup.warm_gb_month": 0.05, "backup.cross_region_gb": 0.02,
    "transfer.internet_out_gb": 0.09, "s3.standard_gb_month": 0.02,
    "route53.hosted_zone_month": 0.5, "route53.queries_million": 0.4,
}  # fmt: skip
_EC2 = {"t3.small": 0.02, "t3.large": 0.08, "m6i.xlarge": 0.2}
_RDS = {"db.t4g.micro": 0.016, "db.t4g.medium": 0.065, "db.m6g.xlarge": 0.3}


def make_snapshot(
    regions: list[str], multi_az_prices: bool = False, scale: float = 1.0
) -> PriceSnapshot:
    prices: list[Price] = []

    def add(region: str, key: str, variant: str, usd: float) -> None:
        prices.append(Price(region, key, variant, usd * scale, "unit", TEST_SOURCE, "2026-01-01"))

    for region in regions:
        for key, usd in _FLAT.items():
            add(region, key, "gp3" if key == "ebs.gb_month" else "", usd)
        for kind, usd in _EC2.items():
            add(region, "ec2.instance_hour", kind, usd)
        for klass, usd in _RDS.items():
            add(region, "rds.instance_hour", f"mysql|{klass}|Single-AZ", usd)
            if multi_az_prices:
                add(region, "rds.instance_hour", f"mysql|{klass}|Multi-AZ", usd * 2.1)
        add(region, "rds.storage_gb_month", "gp3|Single-AZ", 0.115)
        add(region, "cloudwatch.alarm_month", "standard", 0.1)
    return build_snapshot(prices, regions, "2026-01-01", "test data")


ALL_REGIONS = [
    "us-east-1", "us-west-2", "eu-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2",
    "ap-southeast-4", "ap-southeast-1", "ap-northeast-1", "ap-northeast-3", "ap-south-1",
    "ap-south-2", "global",
]  # fmt: skip


@pytest.fixture
def full_prices() -> PriceSnapshot:
    """Every key priced in every region the locations use."""
    return make_snapshot(ALL_REGIONS)


@pytest.fixture
def usage_book() -> UsageBook:
    return load_usage()


@pytest.fixture
def plan_for() -> Callable[[str, str], dict[str, Any]]:
    return plan_of
