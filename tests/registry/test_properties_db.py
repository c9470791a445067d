"""Property tests through a real database (hypothesis, both backends): for random fleets and
histories, `retention apply` twice at one instant changes nothing the second time, the plan the
database gives equals the pure rules over the stored facts, and nothing is applied early."""

from __future__ import annotations

import itertools
from datetime import timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from provisioner import retention
from provisioner.errors import UsageError
from provisioner.registry import Registry
from provisioner.spec import TenantSpec
from tests.registry.conftest import T0

_serial = itertools.count()  # examples share the test's database: fresh slugs each time

histories = st.lists(
    st.tuples(
        st.sampled_from(("trial", "free", "standard")),
        st.lists(
            st.tuples(
                st.sampled_from(
                    (
                        "converted",
                        "cancelled",
                        "payment_failed",
                        "payment_recovered",
                        "activity",
                        "suspend",
                        "resume",
                    )
                ),
                st.integers(min_value=0, max_value=100 * 24 * 3600),
            ),
            max_size=5,
        ),
    ),
    min_size=1,
    max_size=4,
)


def state(reg: Registry, slugs: list[str]) -> object:
    return [(reg.get_tenant(s), reg.events(s), reg.billing_records(s)) for s in slugs]


@settings(
    max_examples=15,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(fleet=histories, sweep_after=st.integers(min_value=0, max_value=400 * 24 * 3600))
def test_apply_twice_changes_nothing_the_second_time(
    registry: Registry, fleet: list[tuple[str, list[tuple[str, int]]]], sweep_after: int
) -> None:
    slugs, latest = [], T0
    for plan, events in fleet:
        slug = f"t{next(_serial):06d}"
        slugs.append(slug)
        registry.create_tenant(TenantSpec.create(slug, "ie", plan), actor="p", at=T0)
        now = T0
        for kind, seconds in events:
            now += timedelta(seconds=seconds)
            try:
                if kind in ("suspend", "resume"):
                    getattr(registry, kind)(slug, actor="p", at=now)
                else:
                    registry.record_billing_event(slug, kind, actor="p", at=now)
            except UsageError:
                pass  # refused, changed nothing
            latest = max(latest, now)
    at = latest + timedelta(seconds=sweep_after)

    planned = [a for a in registry.retention_plan(at) if a.tenant in slugs]
    pure = [a for s in slugs for a in retention.due(registry.get_tenant(s).facts(), at)]
    assert sorted(planned, key=repr) == sorted(pure, key=repr)
    assert all(a.due <= at for a in planned)

    first = registry.retention_apply(at)
    mine = [a for a in first.applied if a.tenant in slugs]
    assert sorted(mine, key=repr) == sorted(planned, key=repr)  # plan == what apply does
    before = state(registry, slugs)
    second = registry.retention_apply(at)
    assert [a for a in second.applied if a.tenant in slugs] == []
    assert state(registry, slugs) == before
