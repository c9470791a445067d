"""Where state lives, how its secrets are encrypted, and the environment every Pulumi call gets.

Pure except `ensure_passphrase_file` (the one writer): building settings reads the environment
mapping it is given, never the process's, so tests pass a dict and nothing touches the disk.

Backends (https://www.pulumi.com/docs/iac/concepts/state-and-backends/):
- default: a local file backend under `data_dir()/state`, passphrase secrets provider, the
  passphrase from PULUMI_CONFIG_PASSPHRASE(_FILE) or a generated 0600 file under the data dir;
- `--backend s3://bucket/prefix` (or PROVISIONER_BACKEND) for teams, with
  `--secrets-provider awskms://...` (or PROVISIONER_SECRETS_PROVIDER), so no passphrase has to be
  shared between hosts.
"""

from __future__ import annotations

import os
import secrets
import stat
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from provisioner.errors import EnvironmentProblem, UsageError
from provisioner.spec import TenantSpec

BackendKind = Literal["local", "s3"]

BACKEND_ENV = "PROVISIONER_BACKEND"
SECRETS_PROVIDER_ENV = "PROVISIONER_SECRETS_PROVIDER"
PASSPHRASE_ENV = "PULUMI_CONFIG_PASSPHRASE"
PASSPHRASE_FILE_ENV = "PULUMI_CONFIG_PASSPHRASE_FILE"
PASSPHRASE_BYTES = 32  # 256 bits of randomness, URL-safe text of 43 characters
CONFIG_NAMESPACE = "tenant"  # stacks/tenant/__main__.py reads tenant:slug, tenant:location, ...


@dataclass(frozen=True)
class Backend:
    """A Pulumi state backend the engine may use."""

    url: str  # what PULUMI_BACKEND_URL gets: file:///abs/dir or s3://bucket/prefix
    kind: BackendKind

    def display(self) -> str:
        return self.url


def parse_backend(value: str) -> Backend:
    """A backend URL from the command line or the environment; UsageError if unsupported."""
    raw = value.strip()
    parts = urlsplit(raw)
    if parts.scheme == "s3":
        if not parts.netloc:
            raise UsageError(f"backend {value!r} names no bucket: use s3://bucket/prefix")
        return Backend(url=raw.rstrip("/"), kind="s3")
    if parts.scheme == "file":
        path = Path(parts.path)
        if parts.netloc or not path.is_absolute():
            raise UsageError(f"backend {value!r} is not an absolute file URL: use file:///abs/dir")
        return Backend(url=path.as_uri(), kind="local")
    raise UsageError(
        f"backend {value!r} is not supported: use s3://bucket/prefix (teams) or leave it unset"
        " for the local state under the data directory"
    )


def resolve_backend(option: str | None, env: Mapping[str, str], home: Path) -> Backend:
    """`--backend`, else PROVISIONER_BACKEND, else the local file backend under `home/state`."""
    chosen = option or env.get(BACKEND_ENV) or ""
    if chosen:
        return parse_backend(chosen)
    return Backend(url=(home.resolve() / "state").as_uri(), kind="local")


def parse_secrets_provider(value: str) -> str:
    """`passphrase` or an `awskms://` key URL; UsageError otherwise."""
    raw = value.strip()
    if raw == "passphrase":
        return raw
    if raw.startswith("awskms://") and len(raw) > len("awskms://"):
        return raw
    raise UsageError(
        f"secrets provider {value!r} is not supported: use awskms://alias/NAME?region=REGION"
        " (or passphrase with the local backend)"
    )


@dataclass(frozen=True)
class Passphrase:
    """Where the passphrase secrets provider gets its passphrase."""

    source: Literal["env", "env-file", "generated-file"]
    file: Path | None  # the file handed to the CLI (PULUMI_CONFIG_PASSPHRASE_FILE), if any


@dataclass(frozen=True)
class EngineSettings:
    """Everything an operation's environment is a function of. Building it writes nothing."""

    home: Path  # the data directory (PROVISIONER_HOME)
    backend: Backend
    secrets_provider: str  # "passphrase" or "awskms://..."
    passphrase: Passphrase | None  # None unless secrets_provider == "passphrase"
    pulumi_home: Path  # shared plugin cache: installed once by `doctor --install-plugins`
    work_root: Path  # one fresh directory per operation lives here
    python: str  # interpreter the CLI's Python language host runs the tenant program with

    @classmethod
    def build(
        cls,
        home: Path,
        env: Mapping[str, str],
        backend: str | None = None,
        secrets_provider: str | None = None,
        python: str | None = None,
    ) -> EngineSettings:
        """Settings from options (which win) and the environment `env`; UsageError if invalid."""
        chosen_backend = resolve_backend(backend, env, home)
        provider_value = secrets_provider or env.get(SECRETS_PROVIDER_ENV) or ""
        if provider_value:
            provider = parse_secrets_provider(provider_value)
        elif chosen_backend.kind == "s3":
            raise UsageError(
                f"backend {chosen_backend.url} is shared, so it needs a KMS key: add"
                " --secrets-provider awskms://alias/NAME?region=REGION"
                f" (or set {SECRETS_PROVIDER_ENV})"
            )
        else:
            provider = "passphrase"
        passphrase = None
        if provider == "passphrase":
            passphrase = passphrase_source(env, home)
            if chosen_backend.kind == "s3" and passphrase.source == "generated-file":
                raise UsageError(
                    "a generated passphrase stays on this host, so other hosts could not read the"
                    f" shared backend's secrets: set {PASSPHRASE_ENV} (or {PASSPHRASE_FILE_ENV})"
                    " or use --secrets-provider awskms://..."
                )
        pulumi_home = Path(env["PULUMI_HOME"]) if env.get("PULUMI_HOME") else home / "pulumi"
        return cls(
            home=home,
            backend=chosen_backend,
            secrets_provider=provider,
            passphrase=passphrase,
            pulumi_home=pulumi_home,
            work_root=home / "work",
            python=python or sys.executable,
        )

    @property
    def plugin_dir(self) -> Path:
        return self.pulumi_home / "plugins"

    def local_state_dir(self) -> Path | None:
        """The state directory of a local backend (None for S3)."""
        if self.backend.kind != "local":
            return None
        return Path(urlsplit(self.backend.url).path)


def passphrase_source(env: Mapping[str, str], home: Path) -> Passphrase:
    """The operator's passphrase wins; else a file under the data dir, generated on first write."""
    if env.get(PASSPHRASE_ENV) is not None:
        return Passphrase(source="env", file=None)
    if env.get(PASSPHRASE_FILE_ENV):
        return Passphrase(source="env-file", file=Path(env[PASSPHRASE_FILE_ENV]))
    return Passphrase(source="generated-file", file=home / "secrets" / "passphrase")


def workspace_env(settings: EngineSettings) -> dict[str, str]:
    """Environment variables every Pulumi CLI call of an operation gets (sorted, no secrets)."""
    env = {
        "PULUMI_BACKEND_URL": settings.backend.url,
        "PULUMI_HOME": str(settings.pulumi_home),
        "PULUMI_SKIP_UPDATE_CHECK": "true",
        # Plugins come from the shared PULUMI_HOME, installed ahead of use by
        # `provisioner doctor --install-plugins`: concurrent installs race (pulumi/pulumi#22784).
        "PULUMI_DISABLE_AUTOMATIC_PLUGIN_ACQUISITION": "true",
        # Work dirs are thrown away after each operation, taking Pulumi.<stack>.yaml (and its
        # encryption salt or KMS key reference) with them; this makes the CLI use the secrets
        # manager recorded in the stack's state instead (pulumi/pulumi#17236, CLI >= 3.134.0).
        "PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER": "true",
        # The language host runs stacks/tenant with this interpreter, which has the project and
        # pulumi-aws installed (otherwise it would pick whatever `python3` is on PATH).
        "PULUMI_PYTHON_CMD": settings.python,
    }
    if settings.passphrase is not None and settings.passphrase.file is not None:
        env[PASSPHRASE_FILE_ENV] = str(settings.passphrase.file)
    return dict(sorted(env.items()))


def stack_config(
    spec: TenantSpec, zone: str | None = None, suspended: bool = False
) -> dict[str, str]:
    """The stack configuration: a pure function of the spec (and a zone after a capacity retry).

    `tenant:zone` is only set when AWS refused capacity in the program's default zone; the
    program places its single-zone resources (app server and its data volume) there.
    `tenant:suspended` is always set, so every `up` states whether the service runs: a suspended
    tenant's app server is stopped and its load balancer answers 503; its data stays.
    """
    config = {
        "aws:region": spec.region,
        f"{CONFIG_NAMESPACE}:slug": spec.slug,
        f"{CONFIG_NAMESPACE}:location": spec.location.code,
        f"{CONFIG_NAMESPACE}:plan": spec.plan.name,
        f"{CONFIG_NAMESPACE}:suspended": "true" if suspended else "false",
    }
    if zone is not None:
        config[f"{CONFIG_NAMESPACE}:zone"] = zone
    if spec.pooled:  # a warm-pool instance: its names come from the instance id, not the slug
        config[f"{CONFIG_NAMESPACE}:instance-id"] = spec.instance_id
        config[f"{CONFIG_NAMESPACE}:bound"] = "true" if spec.bound else "false"
        if spec.admin_email:  # the bind's admin invitation (stacks/components/app_config.py)
            config[f"{CONFIG_NAMESPACE}:admin-email"] = spec.admin_email
    if spec.legacy_backup:  # the pre-backup-account copy is still kept (legacy_backup.py)
        config[f"{CONFIG_NAMESPACE}:legacy-backup"] = "true"
    return dict(sorted(config.items()))


def ensure_passphrase_file(passphrase: Passphrase) -> None:
    """Create the generated passphrase file (0600, directory 0700) if it does not exist yet.

    Called only by operations that write state, after the CLI was found, so a failed check
    leaves nothing behind. An existing file readable by others is refused, not silently fixed.
    """
    if passphrase.source != "generated-file" or passphrase.file is None:
        return
    path = passphrase.file
    path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
    if path.exists():
        _refuse_if_shared(path)
        return
    # Write a private temporary file, then link it into place: link() fails if the name exists,
    # so two processes starting at once never disagree on the passphrase, and no reader ever
    # sees a half-written file.
    tmp = path.with_name(f".{path.name}.{os.getpid()}.{secrets.token_hex(4)}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(secrets.token_urlsafe(PASSPHRASE_BYTES) + "\n")
    try:
        os.link(tmp, path)
    except FileExistsError:
        _refuse_if_shared(path)
    finally:
        tmp.unlink()


def _refuse_if_shared(path: Path) -> None:
    mode = stat.S_IMODE(path.stat().st_mode)
    if mode & 0o077:
        raise EnvironmentProblem(
            f"passphrase file {path} is readable by others (mode {mode:o}): run 'chmod 600 {path}'"
        )
