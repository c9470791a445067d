"""Plans for the policy tests: the real tenant stack, synthesised once per session.

Every mutation test starts from a deep copy of a real plan, so the rules are tested against
what the stack actually produces, not against a hand-written imitation of it.
"""

from __future__ import annotations

import copy
from typing import Any

import pytest

from provisioner.plans import PLANS
from provisioner.regions import LOCATION_CODES

_CACHE: dict[tuple[str, str], dict[str, Any]] = {}


def real_plan(location: str, plan: str) -> dict[str, Any]:
    """The offline plan of tenant `demo` (cached: each synth costs ~0.2-0.5 s)."""
    key = (location, plan)
    if key not in _CACHE:
        from provisioner.spec import TenantSpec
        from provisioner.synth import synth_plan

        _CACHE[key] = synth_plan(TenantSpec.create("demo", location, plan))
    return copy.deepcopy(_CACHE[key])


ALL_COMBINATIONS = [(loc, plan) for loc in LOCATION_CODES for plan in PLANS]


@pytest.fixture
def de_plan() -> dict[str, Any]:
    """Germany, standard: cross-region backups to Ireland, Performance Insights on."""
    return real_plan("de", "standard")


@pytest.fixture
def uk_plan() -> dict[str, Any]:
    """UK, standard: backups copied to a logically air-gapped vault in London."""
    return real_plan("uk", "standard")
