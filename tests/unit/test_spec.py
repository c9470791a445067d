"""TenantSpec and slug validation."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from provisioner.errors import UsageError
from provisioner.plans import PLANS
from provisioner.spec import RESERVED_SLUGS, TenantSpec, validate_slug


@given(st.from_regex(r"[a-z][a-z0-9]{2,20}(-[a-z0-9]{1,8}){0,2}", fullmatch=True))
def test_dns_labels_that_are_not_reserved_are_valid(slug: str) -> None:
    if slug not in RESERVED_SLUGS:
        assert validate_slug(slug) == slug


@given(st.text(max_size=60))
def test_any_accepted_slug_is_a_safe_dns_label(text: str) -> None:
    try:
        slug = validate_slug(text)
    except UsageError:
        return
    assert 3 <= len(slug) <= 40
    assert slug[0].isalpha() and slug[-1] != "-" and "--" not in slug
    assert all(c.islower() or c.isdigit() or c == "-" for c in slug)
    assert slug.isascii()


def test_names_in_the_cloud_derive_from_the_slug() -> None:
    spec = TenantSpec.create("acme", "de", "trial")
    assert spec.stack_name == "tenant-acme"
    assert spec.tags() == {"tenant": "acme", "location": "de", "plan": "trial",
                           "managed-by": "provisioner"}  # fmt: skip


def test_there_are_trial_free_and_paid_plans() -> None:
    assert {"trial", "free"} <= set(PLANS)
    assert any(p.paid for p in PLANS.values())
    assert all(not PLANS[p].paid for p in ("trial", "free"))


def test_unknown_plan_is_a_usage_error() -> None:
    with pytest.raises(UsageError, match="unknown plan 'platinum'"):
        TenantSpec.create("acme", "de", "platinum")
