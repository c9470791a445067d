"""Engine fixtures: a tenant spec, an environment without any Pulumi CLI, a fake `pulumi` binary.

Tests marked `pulumi_cli` drive the real CLI and are skipped unless `pulumi` is on PATH.
"""

from __future__ import annotations

import os
import shutil
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from provisioner.spec import TenantSpec


@pytest.fixture(autouse=True)
def _skip_without_pulumi(request: pytest.FixtureRequest) -> None:
    if request.node.get_closest_marker("pulumi_cli") and shutil.which("pulumi") is None:
        pytest.skip("needs the Pulumi CLI on PATH (https://www.pulumi.com/docs/install/)")


@pytest.fixture
def spec() -> TenantSpec:
    return TenantSpec.create("demo", "de", "trial")


@pytest.fixture
def sandbox(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """PROVISIONER_HOME, HOME and PATH pointing into an empty tmp dir: no CLI, no registry.

    Yields the sandbox root; a test asserts it is still empty to prove nothing was written.
    """
    root = tmp_path / "sandbox"
    root.mkdir()
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PROVISIONER_HOME", str(root / "home"))
    monkeypatch.setenv("HOME", str(root))
    monkeypatch.setenv("PATH", str(empty_bin))
    # No instance-metadata probe from `doctor`'s credential lookup: this is not an EC2 host.
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    for name in ("AWS_PROFILE", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    for name in (
        "PULUMI_CONFIG_PASSPHRASE",
        "PULUMI_CONFIG_PASSPHRASE_FILE",
        "PULUMI_HOME",
        "PROVISIONER_BACKEND",
        "PROVISIONER_SECRETS_PROVIDER",
        "PROVISIONER_DATABASE_URL",
    ):
        monkeypatch.delenv(name, raising=False)
    yield root


def fake_pulumi(directory: Path, version: str) -> Path:
    """A stand-in `pulumi` that only answers `pulumi version` (for the CLI check tests)."""
    directory.mkdir(parents=True, exist_ok=True)
    script = directory / "pulumi"
    script.write_text(f"#!/bin/sh\necho {version}\n")
    script.chmod(script.stat().st_mode | stat.S_IXUSR | stat.S_IXGRP | stat.S_IXOTH)
    return script


def tree(root: Path) -> list[str]:
    """Every path under root, relative and sorted (empty list: nothing was written)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*"))


def env_without(*names: str) -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in names}
