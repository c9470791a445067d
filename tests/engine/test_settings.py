"""Backends, secrets providers, passphrase handling, and the environment each operation gets."""

from __future__ import annotations

import stat
import sys
from pathlib import Path

import pytest

from provisioner.engine.settings import (
    EngineSettings,
    Passphrase,
    ensure_passphrase_file,
    parse_backend,
    resolve_backend,
    stack_config,
    workspace_env,
)
from provisioner.errors import EnvironmentProblem, UsageError
from provisioner.spec import TenantSpec

HOME = Path("/srv/provisioner")


def test_default_backend_is_local_files_under_the_data_dir() -> None:
    backend = resolve_backend(None, {}, HOME)
    assert backend.kind == "local"
    assert backend.url == "file:///srv/provisioner/state"


def test_option_beats_environment_beats_default() -> None:
    env = {"PROVISIONER_BACKEND": "s3://from-env/prefix"}
    assert resolve_backend(None, env, HOME).url == "s3://from-env/prefix"
    assert resolve_backend("s3://from-flag/x", env, HOME).url == "s3://from-flag/x"


@pytest.mark.parametrize(
    "value",
    ["https://api.pulumi.com", "s3://", "file://relative/dir", "gs://bucket", "bucket/prefix"],
)
def test_unsupported_backends_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        parse_backend(value)


def test_s3_backend_keeps_prefix_and_query() -> None:
    backend = parse_backend("s3://state-bucket/provisioner/?region=eu-central-1")
    assert backend.kind == "s3"
    assert backend.url == "s3://state-bucket/provisioner/?region=eu-central-1"


def test_local_backend_uses_a_passphrase_generated_under_the_data_dir() -> None:
    settings = EngineSettings.build(HOME, {}, python="/usr/bin/python3")
    assert settings.secrets_provider == "passphrase"
    assert settings.passphrase == Passphrase("generated-file", HOME / "secrets" / "passphrase")
    assert settings.pulumi_home == HOME / "pulumi"
    assert settings.plugin_dir == HOME / "pulumi" / "plugins"
    assert settings.work_root == HOME / "work"
    assert settings.local_state_dir() == HOME / "state"


def test_operator_passphrase_wins_over_the_generated_file() -> None:
    env = {"PULUMI_CONFIG_PASSPHRASE": "correct horse"}
    assert EngineSettings.build(HOME, env).passphrase == Passphrase("env", None)
    env = {"PULUMI_CONFIG_PASSPHRASE_FILE": "/run/secrets/pp"}
    assert EngineSettings.build(HOME, env).passphrase == Passphrase(
        "env-file", Path("/run/secrets/pp")
    )
    # An empty passphrase is a deliberate choice Pulumi accepts; it still wins.
    assert EngineSettings.build(HOME, {"PULUMI_CONFIG_PASSPHRASE": ""}).passphrase == Passphrase(
        "env", None
    )


def test_s3_backend_requires_a_kms_secrets_provider() -> None:
    with pytest.raises(UsageError, match="--secrets-provider awskms://"):
        EngineSettings.build(HOME, {}, backend="s3://bucket/prefix")
    settings = EngineSettings.build(
        HOME,
        {},
        backend="s3://bucket/prefix",
        secrets_provider="awskms://alias/provisioner?region=eu-central-1",
    )
    assert settings.secrets_provider == "awskms://alias/provisioner?region=eu-central-1"
    assert settings.passphrase is None
    assert settings.local_state_dir() is None


def test_secrets_provider_from_environment() -> None:
    env = {
        "PROVISIONER_BACKEND": "s3://bucket/p",
        "PROVISIONER_SECRETS_PROVIDER": "awskms://1234abcd-12ab-34cd-56ef-1234567890ab",
    }
    assert EngineSettings.build(HOME, env).secrets_provider.startswith("awskms://1234abcd")


def test_s3_with_a_host_local_passphrase_is_refused() -> None:
    with pytest.raises(UsageError, match="other hosts"):
        EngineSettings.build(HOME, {}, backend="s3://b/p", secrets_provider="passphrase")
    shared = EngineSettings.build(
        HOME, {"PULUMI_CONFIG_PASSPHRASE": "x"}, backend="s3://b/p", secrets_provider="passphrase"
    )
    assert shared.passphrase == Passphrase("env", None)


@pytest.mark.parametrize("value", ["awskms://", "gcpkms://projects/p", "hashivault://k", "plain"])
def test_unsupported_secrets_providers_are_usage_errors(value: str) -> None:
    with pytest.raises(UsageError):
        EngineSettings.build(HOME, {}, secrets_provider=value)


def test_workspace_env_points_the_cli_at_backend_home_and_interpreter() -> None:
    settings = EngineSettings.build(HOME, {}, python="/opt/venv/bin/python")
    env = workspace_env(settings)
    assert env == {
        "PULUMI_BACKEND_URL": "file:///srv/provisioner/state",
        "PULUMI_CONFIG_PASSPHRASE_FILE": "/srv/provisioner/secrets/passphrase",
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true",
        "PULUMI_HOME": "/srv/provisioner/pulumi",
        "PULUMI_PYTHON_CMD": "/opt/venv/bin/python",
        "PULUMI_SKIP_UPDATE_CHECK": "true",
    }
    assert list(env) == sorted(env)


def test_workspace_env_never_carries_the_passphrase_itself() -> None:
    settings = EngineSettings.build(HOME, {"PULUMI_CONFIG_PASSPHRASE": "s3cret"})
    env = workspace_env(settings)
    assert "s3cret" not in env.values()
    assert "PULUMI_CONFIG_PASSPHRASE_FILE" not in env  # the CLI inherits the operator's variable


def test_shared_pulumi_home_from_environment() -> None:
    settings = EngineSettings.build(HOME, {"PULUMI_HOME": "/opt/pulumi"})
    assert workspace_env(settings)["PULUMI_HOME"] == "/opt/pulumi"


def test_default_interpreter_is_this_one() -> None:
    assert EngineSettings.build(HOME, {}).python == sys.executable


def test_stack_config_is_a_function_of_the_spec(spec: TenantSpec) -> None:
    assert stack_config(spec) == {
        "aws:region": "eu-central-1",
        "tenant:location": "de",
        "tenant:plan": "trial",
        "tenant:slug": "demo",
        "tenant:suspended": "false",
    }
    assert stack_config(spec, zone="eu-central-1b")["tenant:zone"] == "eu-central-1b"
    assert stack_config(spec, suspended=True)["tenant:suspended"] == "true"


def test_passphrase_file_is_private_and_stable(tmp_path: Path) -> None:
    source = Passphrase("generated-file", tmp_path / "home" / "secrets" / "passphrase")
    ensure_passphrase_file(source)
    assert source.file is not None
    first = source.file.read_text()
    assert len(first.strip()) >= 43  # 32 random bytes, URL-safe base64
    assert stat.S_IMODE(source.file.stat().st_mode) == 0o600
    assert stat.S_IMODE(source.file.parent.stat().st_mode) == 0o700
    ensure_passphrase_file(source)  # a second call never replaces it
    assert source.file.read_text() == first
    assert [p.name for p in source.file.parent.iterdir()] == ["passphrase"]  # no temp left


def test_passphrase_file_readable_by_others_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "passphrase"
    path.write_text("x\n")
    path.chmod(0o644)
    with pytest.raises(EnvironmentProblem, match="chmod 600"):
        ensure_passphrase_file(Passphrase("generated-file", path))


def test_operator_passphrase_file_is_never_written(tmp_path: Path) -> None:
    path = tmp_path / "operator-pp"
    ensure_passphrase_file(Passphrase("env-file", path))
    assert not path.exists()
