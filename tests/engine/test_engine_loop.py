"""The Engine's own decisions (lock wait, zone retry, pending operations) against a scripted stack.

`ScriptedEngine` swaps the two seams that need a real CLI (finding it, opening a stack) for a
stand-in stack whose calls fail with the SDK's own CommandError carrying real CLI texts, so the
classifier and the retry loop run exactly as they would against Pulumi.
"""

from __future__ import annotations

import contextlib
import stat
from collections.abc import Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import pytest
from pulumi.automation import CommandResult, OpType, OutputValue
from pulumi.automation.errors import create_command_error

from provisioner.engine import Engine, EngineSettings, LockWait
from provisioner.engine.progress import EventRecord, Progress
from provisioner.engine.pulumi_cli import MIN_CLI_VERSION, PulumiCli
from provisioner.engine.runner import project_name, workspace_settings_file
from provisioner.errors import (
    CapacityUnavailable,
    PendingOperations,
    PulumiCliMissing,
    QuotaExceeded,
    StackLocked,
    StackNotFound,
)
from provisioner.spec import TenantSpec
from tests.engine.conftest import tree
from tests.engine.test_classify import (
    DIY_LOCK,
    PENDING_REFUSAL,
    VCPU_QUOTA,
)


def cli_failure(stderr: str, stdout: str = "") -> Exception:
    return create_command_error(CommandResult(stdout=stdout, stderr=stderr, code=255))


def capacity_text(zone: str, suggested: str) -> str:
    # The EC2 message (openshift/installer#7088) for the tenant's instance type and region.
    return (
        "error: creating EC2 Instance: InsufficientInstanceCapacity: We currently do not have"
        f" sufficient t3.small capacity in the Availability Zone you requested ({zone}). Our"
        " system will be working on provisioning additional capacity. You can currently get"
        " t3.small capacity by not specifying an Availability Zone in your request or choosing"
        f" {suggested}."
    )


class ScriptedStack:
    """Answers each call with the next scripted outcome (an exception or a value)."""

    def __init__(self, script: list[Any], pending: list[dict[str, Any]] | None = None) -> None:
        self.script = list(script)
        self.pending = pending or []
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def _next(self, verb: str, **kwargs: Any) -> Any:
        self.calls.append((verb, kwargs))
        outcome = self.script.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        return outcome

    def up(self, **kwargs: Any) -> Any:
        return self._next("up", **kwargs)

    def preview(self, **kwargs: Any) -> Any:
        return self._next("preview", **kwargs)

    def destroy(self, **kwargs: Any) -> Any:
        return self._next("destroy", **kwargs)

    def refresh(self, **kwargs: Any) -> Any:
        self.calls.append(("refresh", kwargs))
        self.pending = []
        return SimpleNamespace(summary=SimpleNamespace(resource_changes={"same": 3}))

    def export_stack(self) -> Any:
        self.calls.append(("export", {}))
        return SimpleNamespace(version=3, deployment={"pending_operations": list(self.pending)})


class ScriptedEngine(Engine):
    def __init__(self, home: Path, stack: ScriptedStack, **kwargs: Any) -> None:
        self.sleeps: list[float] = []
        self.zones: list[str | None] = []
        self.suspended: list[bool] = []
        self.stack = stack
        ticks = iter(range(0, 10_000, 7))
        super().__init__(
            EngineSettings.build(home, {}),
            sleep=self.sleeps.append,
            clock=lambda: float(next(ticks)),
            **kwargs,
        )

    def check(self) -> PulumiCli:
        return PulumiCli(path=Path("/opt/pulumi/bin/pulumi"), version=MIN_CLI_VERSION)

    @contextlib.contextmanager
    def _stack(
        self, spec: TenantSpec, mode: str, zone: str | None = None, suspended: bool = False
    ) -> Iterator[Any]:
        self.zones.append(zone)
        self.suspended.append(suspended)
        yield self.stack, False


def up_ok(**changes: int) -> Any:
    return SimpleNamespace(
        summary=SimpleNamespace(resource_changes={OpType(k): v for k, v in changes.items()}),
        outputs={
            "url": OutputValue("https://demo.crm.example.com", False),
            "db_password": OutputValue("hunter2", True),
        },
    )


def test_up_returns_changes_outputs_and_duration(tmp_path: Path, spec: TenantSpec) -> None:
    engine = ScriptedEngine(tmp_path, ScriptedStack([up_ok(create=30, same=1)]))
    result = engine.up(spec)
    assert result.changes == {"create": 30, "same": 1}
    assert result.change_count == 30
    assert result.outputs["db_password"].shown() == "[secret]"
    assert result.outputs["url"].shown() == "https://demo.crm.example.com"
    assert result.duration_seconds == 7.0  # two ticks of the injected clock
    assert result.to_dict()["outputs"] == {
        "db_password": "[secret]",
        "url": "https://demo.crm.example.com",
    }
    assert (result.stack, result.attempts, result.zone) == ("tenant-demo", 1, None)


def test_a_locked_stack_is_waited_for_with_backoff(tmp_path: Path, spec: TenantSpec) -> None:
    stack = ScriptedStack([cli_failure(DIY_LOCK), cli_failure(DIY_LOCK), up_ok(update=2)])
    engine = ScriptedEngine(tmp_path, stack)
    events: list[tuple[EventRecord, Progress]] = []
    result = engine.up(spec, on_event=lambda r, p: events.append((r, p)))
    assert engine.sleeps == [5.0, 10.0]
    assert result.attempts == 3
    assert result.notices == ("stack locked; waited 5s", "stack locked; waited 10s")
    waits = [r.message for r, _ in events if r.kind == "notice"]
    assert waits == [
        "tenant-demo is locked by another update; retrying in 5s",
        "tenant-demo is locked by another update; retrying in 10s",
    ]


def test_a_lock_that_never_clears_fails_after_the_bound(tmp_path: Path, spec: TenantSpec) -> None:
    stack = ScriptedStack([cli_failure(DIY_LOCK)] * 10)
    engine = ScriptedEngine(tmp_path, stack, lock_wait=LockWait(5, 2, 60, 40))
    with pytest.raises(StackLocked) as info:
        engine.up(spec)
    assert engine.sleeps == [5.0, 10.0, 20.0]
    assert "still locked after waiting 35s" in str(info.value)
    assert "provisioner tenants cancel demo --yes" in str(info.value)
    assert "worker@host-a (pid 4242)" in str(info.value)


def test_capacity_is_retried_in_another_zone_of_the_same_region(
    tmp_path: Path, spec: TenantSpec
) -> None:
    stack = ScriptedStack(
        [cli_failure("error: update failed", capacity_text("eu-central-1a", "eu-central-1b")),
         up_ok(create=1)]
    )  # fmt: skip
    engine = ScriptedEngine(tmp_path, stack)
    result = engine.up(spec)
    assert engine.zones == [None, "eu-central-1b"]  # the retry sets tenant:zone
    assert result.zone == "eu-central-1b"
    assert result.notices == ("no capacity in eu-central-1a; retried in eu-central-1b",)


def test_capacity_everywhere_in_the_region_fails_without_leaving_it(
    tmp_path: Path, spec: TenantSpec
) -> None:
    stack = ScriptedStack(
        [
            # AWS's suggestion points outside the tenant's zones: it must not be followed.
            cli_failure(capacity_text("eu-central-1a", "eu-central-1c")),
            cli_failure(capacity_text("eu-central-1b", "eu-central-1c")),
        ]
    )
    engine = ScriptedEngine(tmp_path, stack)
    with pytest.raises(CapacityUnavailable) as info:
        engine.up(spec)
    assert engine.zones == [None, "eu-central-1b"]
    assert "tried eu-central-1a, eu-central-1b" in str(info.value)
    assert all(z is None or z.startswith("eu-central-1") for z in engine.zones)


def test_capacity_during_preview_is_not_retried(tmp_path: Path, spec: TenantSpec) -> None:
    stack = ScriptedStack([cli_failure(capacity_text("eu-central-1a", "eu-central-1b"))])
    with pytest.raises(CapacityUnavailable):
        ScriptedEngine(tmp_path, stack).preview(spec)


def test_a_quota_fails_at_once(tmp_path: Path, spec: TenantSpec) -> None:
    engine = ScriptedEngine(tmp_path, ScriptedStack([cli_failure("", VCPU_QUOTA)]))
    with pytest.raises(QuotaExceeded):
        engine.up(spec)
    assert engine.zones == [None] and engine.sleeps == []


PENDING = [
    {
        "resource": {"urn": "urn:pulumi:tenant-demo::tenant::aws:rds/instance:Instance::t-demo-db"},
        "type": "creating",
    }
]


def test_pending_operations_are_cleared_after_a_backup(tmp_path: Path, spec: TenantSpec) -> None:
    stack = ScriptedStack([up_ok(create=1)], pending=PENDING)
    engine = ScriptedEngine(tmp_path, stack)
    events: list[EventRecord] = []
    result = engine.up(spec, on_event=lambda r, p: events.append(r))
    assert [verb for verb, _ in stack.calls] == ["export", "refresh", "up"]
    assert stack.calls[1][1]["clear_pending_creates"] is True
    backups = list((tmp_path / "backups").iterdir())
    assert len(backups) == 1 and backups[0].name.startswith("tenant-demo-")
    assert stat.S_IMODE(backups[0].stat().st_mode) == 0o600
    assert "t-demo-db" in backups[0].read_text()
    assert result.notices == ("cleared 1 pending operation(s)",)
    (message,) = [r.message for r in events if r.kind == "notice"]
    assert "t-demo-db (creating)" in message and "tenant=demo" in message


def test_an_old_cli_refusing_over_pending_operations_is_recovered_once(
    tmp_path: Path, spec: TenantSpec
) -> None:
    stack = ScriptedStack([cli_failure(PENDING_REFUSAL), up_ok(create=1)])
    engine = ScriptedEngine(tmp_path, stack)
    result = engine.up(spec)
    assert result.attempts == 2
    stack = ScriptedStack([cli_failure(PENDING_REFUSAL), cli_failure(PENDING_REFUSAL)])
    with pytest.raises(PendingOperations):
        ScriptedEngine(tmp_path, stack).up(spec)


def test_preview_leaves_pending_operations_alone(tmp_path: Path, spec: TenantSpec) -> None:
    preview = SimpleNamespace(change_summary={OpType.CREATE: 5})
    stack = ScriptedStack([preview], pending=PENDING)
    result = ScriptedEngine(tmp_path, stack).preview(spec)
    assert [verb for verb, _ in stack.calls] == ["preview"]
    assert result.changes == {"create": 5}


def test_destroy_removes_the_stack(tmp_path: Path, spec: TenantSpec) -> None:
    done = SimpleNamespace(summary=SimpleNamespace(resource_changes={"delete": 31}))
    stack = ScriptedStack([done])
    checkpoint = tmp_path / "state" / ".pulumi" / "stacks" / "tenant" / f"{spec.stack_name}.json"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_text("{}")  # the stack exists in the backend
    result = ScriptedEngine(tmp_path, stack).destroy(spec)
    assert stack.calls[-1][0] == "destroy" and stack.calls[-1][1]["remove"] is True
    assert result.change_count == 31


def test_without_the_cli_the_api_raises_before_writing(sandbox: Path, spec: TenantSpec) -> None:
    engine = Engine()
    for verb in ("preview", "up", "refresh"):
        with pytest.raises(PulumiCliMissing):
            getattr(engine, verb)(spec)
    with pytest.raises(StackNotFound, match="without the Pulumi CLI"):
        engine.destroy(spec)  # the backend says no stack was ever built: no CLI needed
    with pytest.raises(PulumiCliMissing):
        engine.outputs(spec)
    with pytest.raises(PulumiCliMissing):
        engine.cancel(spec)
    assert tree(sandbox) == []


def test_reading_a_tenant_from_an_empty_local_backend_is_stack_not_found(
    tmp_path: Path, spec: TenantSpec
) -> None:
    class CliOnly(Engine):
        def check(self) -> PulumiCli:
            return PulumiCli(path=Path("/opt/pulumi/bin/pulumi"), version=MIN_CLI_VERSION)

    engine = CliOnly(EngineSettings.build(tmp_path / "home", {}))
    with pytest.raises(StackNotFound, match="provisioner tenants up"):
        engine.outputs(spec)
    with pytest.raises(StackNotFound):
        engine.destroy(spec)
    assert not (tmp_path / "home").exists()


def test_workspace_file_name_follows_pulumis_layout() -> None:
    # <project>-<sha1 of the absolute Pulumi.yaml path>-workspace.json under PULUMI_HOME.
    path = workspace_settings_file(Path("/srv/pulumi"), "tenant", Path("/srv/work/tenant-demo-abc"))
    assert path == Path(
        "/srv/pulumi/workspaces/tenant-255255b92222f2445a0d07873f2773b6494c76d1-workspace.json"
    )


def test_project_name_comes_from_the_tenant_program() -> None:
    assert project_name() == "tenant"  # stacks/tenant/Pulumi.yaml
    assert project_name(Path("/nonexistent")) == "tenant"


def test_zone_retries_end_even_if_the_program_ignores_the_zone(
    tmp_path: Path, spec: TenantSpec
) -> None:
    same_failure = cli_failure(capacity_text("eu-central-1a", "eu-central-1b"))
    stack = ScriptedStack([same_failure] * 5)
    engine = ScriptedEngine(tmp_path, stack)
    with pytest.raises(CapacityUnavailable, match="tried eu-central-1a, eu-central-1b"):
        engine.up(spec)
    assert engine.zones == [None, "eu-central-1b"]


def test_suspend_is_an_up_of_the_suspended_shape_and_up_resumes(
    tmp_path: Path, spec: TenantSpec
) -> None:
    engine = ScriptedEngine(tmp_path, ScriptedStack([up_ok(update=2), up_ok(update=2)]))
    assert engine.suspend(spec).verb == "up"
    engine.up(spec)
    assert engine.suspended == [True, False]
