"""Against the real Pulumi CLI (marked `pulumi_cli`; skipped unless `pulumi` is on PATH).

These use a local file backend in a tmp dir and a stack without resources, so they need no AWS
account. The AWS preview at the end also needs credentials and PROVISIONER_TEST_AWS=1.

    pytest -m pulumi_cli tests/engine
"""

from __future__ import annotations

import json
import os
import socket
from pathlib import Path

import pytest

from provisioner.engine import Engine, EngineSettings, LockWait
from provisioner.engine.pulumi_cli import MIN_CLI_VERSION
from provisioner.errors import StackLocked, StackNotFound
from provisioner.spec import TenantSpec

pytestmark = pytest.mark.pulumi_cli


def real_engine(tmp_path: Path) -> Engine:
    env = {**os.environ, "PULUMI_CONFIG_PASSPHRASE": "pulumi-cli-test"}
    env.pop("PROVISIONER_BACKEND", None)
    settings = EngineSettings.build(tmp_path / "home", env)
    return Engine(settings, env=env, lock_wait=LockWait(max_total_seconds=0))


def test_the_cli_is_recent_enough(tmp_path: Path) -> None:
    assert real_engine(tmp_path).check().version >= MIN_CLI_VERSION


def test_missing_stack_is_stack_not_found_and_work_dirs_are_removed(
    tmp_path: Path, spec: TenantSpec
) -> None:
    engine = real_engine(tmp_path)
    with pytest.raises(StackNotFound):
        engine.outputs(spec)
    assert list((tmp_path / "home" / "work").iterdir()) == []


def test_a_foreign_lock_is_classified_from_the_real_message(
    tmp_path: Path, spec: TenantSpec
) -> None:
    engine = real_engine(tmp_path)
    with engine._stack(spec, "create"):  # stack init + config, no resources, no AWS
        pass
    # What another process's update leaves while it runs (pkg/backend/diy/lock.go layout).
    locks = tmp_path / "home" / "state" / ".pulumi" / "locks" / "organization" / "tenant"
    lock = locks / spec.stack_name / "00000000-0000-0000-0000-000000000001.json"
    lock.parent.mkdir(parents=True)
    lock.write_text(
        json.dumps(
            {
                "pid": 1,
                "username": "someone",
                "hostname": socket.gethostname(),
                "timestamp": "2026-11-28T03:00:00Z",
            }
        )
    )
    with pytest.raises(StackLocked, match="held by someone@"):
        engine.refresh(spec)
    lock.unlink()
    result = engine.destroy(spec)  # empty stack: nothing to delete, then the stack is removed
    assert result.change_count == 0
    with pytest.raises(StackNotFound):
        engine.outputs(spec)


@pytest.mark.skipif(os.environ.get("PROVISIONER_TEST_AWS") != "1", reason="needs AWS (opt-in)")
def test_preview_of_a_new_tenant_leaves_no_stack(tmp_path: Path, spec: TenantSpec) -> None:
    engine = real_engine(tmp_path)
    result = engine.preview(spec)
    assert result.changes.get("create", 0) > 10
    with pytest.raises(StackNotFound):
        engine.outputs(spec)
