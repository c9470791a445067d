"""`provisioner doctor [--install-plugins]`: is this machine ready for real deployments?

Reports the Pulumi CLI (presence, version), AWS credentials (where they come from, never their
values), the state backend and secrets provider, and the shared PULUMI_HOME with its plugins.
Writes nothing, unless --install-plugins installs the AWS plugin into the shared PULUMI_HOME once,
ahead of use: concurrent installs race (pulumi/pulumi#22784), so operations never install any.
Exit 0 when ready, 3 when something an operation needs is missing.
"""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from importlib import metadata
from typing import Any

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import EXIT_ENVIRONMENT, EnvironmentProblem, ProvisionerError

PLUGIN_INSTALL_TIMEOUT_SECONDS = 600  # a first download of the AWS plugin is ~200 MB


@dataclass(frozen=True)
class Check:
    name: str
    ok: bool
    detail: str
    required: bool = True  # a failed required check makes doctor exit 3

    def to_dict(self) -> dict[str, Any]:
        return {"detail": self.detail, "name": self.name, "ok": self.ok, "required": self.required}


def aws_plugin_version() -> str:
    """The AWS provider plugin version matching the installed pulumi-aws SDK."""
    return metadata.version("pulumi_aws")


def _cli_check() -> tuple[Check, Any]:
    from provisioner.engine.pulumi_cli import require_cli

    try:
        cli = require_cli()
    except ProvisionerError as exc:
        return Check("pulumi-cli", False, str(exc)), None
    return Check("pulumi-cli", True, f"{cli.path} version {cli.version_text}"), cli


def _credentials_check() -> Check:
    # Resolves the credential chain the way the AWS provider does (env, profile, SSO, IMDS);
    # no client is created and no request is made.
    import botocore.session

    try:
        creds = botocore.session.get_session().get_credentials()
    except Exception as exc:  # a broken profile raises from the chain itself
        return Check("aws-credentials", False, f"the credential chain failed: {exc}")
    if creds is None:
        return Check(
            "aws-credentials",
            False,
            "none found: set AWS_PROFILE (e.g. after 'aws configure sso') or"
            " AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY",
        )
    return Check("aws-credentials", True, f"found via {creds.method}")


def _settings_checks(backend: str | None, secrets_provider: str | None) -> tuple[list[Check], Any]:
    from provisioner.engine.settings import EngineSettings
    from provisioner.paths import data_dir

    try:
        settings = EngineSettings.build(
            data_dir(), os.environ, backend=backend, secrets_provider=secrets_provider
        )
    except ProvisionerError as exc:
        return [Check("backend", False, str(exc))], None
    checks = [Check("backend", True, f"{settings.backend.kind}: {settings.backend.url}")]
    secrets = settings.secrets_provider
    if settings.passphrase is not None:
        source = settings.passphrase.source
        if source == "env":
            secrets += " (from PULUMI_CONFIG_PASSPHRASE)"
        elif source == "env-file":
            secrets += f" (from PULUMI_CONFIG_PASSPHRASE_FILE {settings.passphrase.file})"
        elif settings.passphrase.file is not None and settings.passphrase.file.exists():
            secrets += f" (file {settings.passphrase.file})"
        else:
            secrets += f" (generated on first up into {settings.passphrase.file}, mode 0600)"
    checks.append(Check("secrets-provider", True, secrets))
    version = aws_plugin_version()
    plugin = settings.plugin_dir / f"resource-aws-v{version}"
    checks.append(
        Check(
            "plugins",
            plugin.is_dir(),
            f"aws v{version} in {settings.plugin_dir}"
            if plugin.is_dir()
            else f"aws v{version} not in {settings.plugin_dir}: run"
            " 'provisioner doctor --install-plugins'",
        )
    )
    return checks, settings


def install_plugins(cli: Any, settings: Any) -> Check:
    """`pulumi plugin install resource aws vX` into the shared PULUMI_HOME (needs the network)."""
    version = aws_plugin_version()
    settings.pulumi_home.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PULUMI_HOME": str(settings.pulumi_home), "PULUMI_SKIP_UPDATE_CHECK": "1"}
    try:
        subprocess.run(
            [str(cli.path), "plugin", "install", "resource", "aws", f"v{version}"],
            env=env,
            capture_output=True,
            text=True,
            check=True,
            timeout=PLUGIN_INSTALL_TIMEOUT_SECONDS,
        )
    except subprocess.CalledProcessError as exc:
        raise EnvironmentProblem(
            f"installing the aws plugin v{version} failed: {(exc.stderr or '').strip()}"
        ) from exc
    except (OSError, subprocess.TimeoutExpired) as exc:
        raise EnvironmentProblem(f"installing the aws plugin v{version} failed: {exc}") from exc
    return Check("plugins", True, f"installed aws v{version} into {settings.plugin_dir}")


def doctor(
    install: bool = typer.Option(
        False, "--install-plugins", help="Install the AWS plugin into the shared PULUMI_HOME."
    ),
    backend: str | None = typer.Option(None, "--backend", help="Backend to check."),
    secrets_provider: str | None = typer.Option(
        None, "--secrets-provider", help="Secrets provider to check."
    ),
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Check the Pulumi CLI, AWS credentials, backend, secrets provider and plugins."""
    cli_check, cli = _cli_check()
    checks = [cli_check, _credentials_check()]
    settings_checks, settings = _settings_checks(backend, secrets_provider)
    checks += settings_checks
    if install:
        if cli is None:
            raise EnvironmentProblem(f"cannot install plugins: {cli_check.detail}")
        if settings is None:
            raise EnvironmentProblem(f"cannot install plugins: {settings_checks[0].detail}")
        checks = [c for c in checks if c.name != "plugins"] + [install_plugins(cli, settings)]
    ready = all(c.ok for c in checks if c.required)
    if output == OutputFormat.json:
        emit_json({"checks": [c.to_dict() for c in checks], "ready": ready})
    else:
        for check in checks:
            typer.echo(f"{'ok ' if check.ok else 'NO '} {check.name:<17} {check.detail}")
        typer.echo("ready for real deployments" if ready else "not ready: fix the NO lines above")
    if not ready:
        raise typer.Exit(code=EXIT_ENVIRONMENT)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
