"""Pool fixtures: a registry on each backend (the registry tests' `db_url`), a hand-moved clock,
and an engine double that plans each stack offline and records what each `up` changed."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from provisioner.errors import StackNotFound
from provisioner.fleet.diff import diff_plans
from provisioner.registry import Registry
from provisioner.spec import TenantSpec
from tests.registry.conftest import db_url  # noqa: F401  (the fixture, reused)
from tests.worker.conftest import Clock


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def registry(db_url: str, clock: Clock) -> Iterator[Registry]:  # noqa: F811
    with Registry.open(db_url, clock=clock) as reg:  # signups are stamped with the test's clock
        yield reg


class CountingEngine:
    """Stacks by stack name; `up` and `destroy` only count (fast: no planning)."""

    def __init__(self, fail: set[str] | None = None) -> None:
        self.stacks: dict[str, TenantSpec] = {}
        self.ops: list[tuple[str, str]] = []
        self.fail = fail or set()

    def up(self, spec: TenantSpec) -> Any:
        self.ops.append(("up", spec.stack_name))
        if spec.instance_id in self.fail:
            raise RuntimeError(f"{spec.stack_name}: the double was told to fail")
        self.stacks[spec.stack_name] = spec
        return None

    def destroy(self, spec: TenantSpec) -> Any:
        self.ops.append(("destroy", spec.stack_name))
        if self.stacks.pop(spec.stack_name, None) is None:
            raise StackNotFound(f"no stack {spec.stack_name}")
        return None


class PlanningEngine(CountingEngine):
    """Also keeps each stack's offline plan, and per `up` the diff it made (created, updated,
    replaced, deleted resources), as `pulumi up` would apply it."""

    def __init__(self) -> None:
        super().__init__()
        self.plans: dict[str, dict[str, Any]] = {}
        self.diffs: list[tuple[str, dict[str, list[Any]]]] = []

    def up(self, spec: TenantSpec) -> Any:
        from provisioner.synth import synth_plan

        super().up(spec)
        plan = synth_plan(spec)
        self.diffs.append((spec.stack_name, diff_plans(self.plans.get(spec.stack_name), plan)))
        self.plans[spec.stack_name] = plan
        return None
