"""The admin invitation a bind hands the app: the signup's address in the app's configuration
parameter of the bound instance, and nowhere a log, an event, the registry's outputs or a
tenant built directly would show it."""

from __future__ import annotations

import json
import logging
from typing import Any

import pytest

from provisioner.plans import get_plan
from provisioner.regions import catalogue
from provisioner.registry import Registry
from provisioner.registry import pools as registry_pools
from provisioner.spec import TenantSpec
from provisioner.synth import synth_plan
from provisioner.worker import Worker, WorkerSettings
from tests.pools.conftest import PlanningEngine
from tests.pools.test_pools import PROGRAM, keeper, sign_up
from tests.worker.conftest import Clock

PARAMETER = "aws:ssm/parameter:Parameter"


def _app_config(plan: dict[str, Any]) -> dict[str, Any]:
    (parameter,) = [r for r in plan["resources"] if r["type"] == PARAMETER]
    return dict(json.loads(parameter["inputs"]["insecureValue"]))


def test_the_bind_writes_the_signups_admin_invitation_and_leaks_it_nowhere(
    registry: Registry, clock: Clock, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    engine = PlanningEngine()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    keeper(registry, engine, clock).step()
    (pooled_stack,) = engine.plans
    assert "admin_invitation" not in _app_config(engine.plans[pooled_stack])  # nobody yet

    instance = sign_up(registry, "acme")["instance_id"]  # the admin is ops@acme.example
    Worker(registry, engine, WorkerSettings(program_version=PROGRAM), clock=clock).run(once=True)
    assert registry.get_tenant("acme").observed_state == "active"
    config = _app_config(engine.plans[f"tenant-{instance}"])
    assert config["admin_invitation"] == {"email": "ops@acme.example"}
    assert set(config["admin_invitation"]) == {"email"}  # no token, no password: the app's own
    stack, bind = engine.diffs[-1]
    assert stack == f"tenant-{instance}" and bind["replace"] == [] and bind["delete"] == []

    shown = json.dumps(
        [registry.get_tenant("acme").outputs, [e.data for e in registry.events("acme")]],
        default=str,
    )
    assert "ops@acme.example" not in shown
    assert "ops@acme.example" not in caplog.text


def test_an_update_keeps_the_invitation_the_bind_wrote(registry: Registry, clock: Clock) -> None:
    """A later `up` (a new release) plans the same invitation: it never shows up as a change."""
    engine = PlanningEngine()
    registry_pools.set_target(registry, "de", "trial", 1, now=clock())
    keeper(registry, engine, clock).step()
    instance = sign_up(registry, "acme")["instance_id"]
    Worker(registry, engine, WorkerSettings(program_version=PROGRAM), clock=clock).run(once=True)
    binds = len(engine.diffs)
    Worker(registry, engine, WorkerSettings(program_version="test-2"), clock=clock).run(once=True)
    assert len(engine.diffs) == binds + 1  # the release update ran `up` on the bound stack
    stack, update = engine.diffs[-1]
    assert stack == f"tenant-{instance}"
    assert not [e for e in update["update"] if e["type"] == PARAMETER]
    assert _app_config(engine.plans[stack])["admin_invitation"] == {"email": "ops@acme.example"}


def test_the_stack_configuration_carries_the_invitation_only_for_a_bound_pooled_instance() -> None:
    from provisioner.engine.settings import stack_config
    from stacks.tenant_stack import spec_from_config

    pooled = TenantSpec.for_pool("pool-0a1b2c3d4e", catalogue().resolve("de"), get_plan("trial"))
    bound = pooled.bind("acme", "ops@acme.example")
    config = stack_config(bound)
    assert config["tenant:admin-email"] == "ops@acme.example"
    assert spec_from_config(lambda key: config.get(f"tenant:{key}")) == bound
    assert "ops@acme.example" not in repr(bound)  # a spec in a log line shows no address
    direct = TenantSpec.create("acme", "de", "trial", admin_email="ops@acme.example")
    assert direct.admin_email == "" and "tenant:admin-email" not in stack_config(direct)
    assert not [r for r in synth_plan(direct)["resources"] if r["type"] == PARAMETER]


def test_bind_diff_shows_the_invitation_as_an_app_config_change_only() -> None:
    from provisioner.pools.bind_diff import SAMPLE_ADMIN_EMAIL, bind_diff

    result = bind_diff("de")
    assert result.violations == ()
    (parameter,) = [e for e in result.changes["update"] if e["type"] == PARAMETER]
    (value,) = [c for c in parameter["changes"] if c["path"] == "insecureValue"]
    assert json.loads(value["after"])["admin_invitation"] == {"email": SAMPLE_ADMIN_EMAIL}
