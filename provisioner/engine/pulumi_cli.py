"""Finding the Pulumi CLI and checking its version, before anything is created.

The Automation API drives the `pulumi` binary; PyPI has only the SDK. Every operation calls
`require_cli()` first, so a machine without the CLI gets exit 3 and an install hint while the
data directory stays untouched.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import PULUMI_INSTALL_URL, PulumiCliMissing, PulumiCliTooOld

# 3.134.0 is the first CLI that honours PULUMI_FALLBACK_TO_STATE_SECRETS_MANAGER
# (pulumi/pulumi#17236, CHANGELOG 3.134.0), which per-operation work dirs rely on.
MIN_CLI_VERSION = (3, 134, 0)
VERSION_TIMEOUT_SECONDS = 30  # `pulumi version` is local; a hang means a broken install
_VERSION_RE = re.compile(r"^v?(\d+)\.(\d+)\.(\d+)")


@dataclass(frozen=True)
class PulumiCli:
    """A Pulumi CLI found on this machine."""

    path: Path  # the binary
    version: tuple[int, int, int]

    @property
    def root(self) -> Path:
        """What the Automation API's PulumiCommand(root=...) expects: the dir above bin/."""
        return self.path.parent.parent

    @property
    def version_text(self) -> str:
        return ".".join(str(part) for part in self.version)


def install_hint() -> str:
    return (
        f"install it from {PULUMI_INSTALL_URL} (e.g. 'curl -fsSL https://get.pulumi.com | sh'),"
        " make sure 'pulumi' is on PATH, then run 'provisioner doctor --install-plugins'"
    )


def parse_version(text: str) -> tuple[int, int, int] | None:
    """`v3.140.0` (what `pulumi version` prints) -> (3, 140, 0); None if unrecognised."""
    match = _VERSION_RE.match(text.strip())
    if not match:
        return None
    major, minor, patch = (int(group) for group in match.groups())
    return (major, minor, patch)


def check_version(version: tuple[int, int, int] | None, path: Path) -> None:
    """Raise PulumiCliTooOld unless `version` is a 3.x at least MIN_CLI_VERSION."""
    wanted = ".".join(str(part) for part in MIN_CLI_VERSION)
    if version is None:
        raise PulumiCliTooOld(
            f"could not read the version of the Pulumi CLI at {path}: reinstall it from"
            f" {PULUMI_INSTALL_URL}"
        )
    found = ".".join(str(part) for part in version)
    if version[0] != MIN_CLI_VERSION[0] or version < MIN_CLI_VERSION:
        raise PulumiCliTooOld(
            f"the Pulumi CLI at {path} is {found}; provisioner needs {MIN_CLI_VERSION[0]}.x at"
            f" least {wanted}: upgrade it from {PULUMI_INSTALL_URL} ('pulumi version' to check)"
        )


def find_cli(env: Mapping[str, str] | None = None) -> Path | None:
    """`pulumi` on PATH, else the installer's default location ~/.pulumi/bin/pulumi."""
    environ = os.environ if env is None else env
    found = shutil.which("pulumi", path=environ.get("PATH", ""))
    if found:
        # Resolved: a /usr/local/bin/pulumi symlink into ~/.pulumi/bin must still find the
        # language plugins bundled next to the real binary (the SDK puts that dir on PATH).
        return Path(found).resolve()
    home = environ.get("HOME")
    if home:
        default = Path(home) / ".pulumi" / "bin" / "pulumi"
        if default.is_file() and os.access(default, os.X_OK):
            return default
    return None


def require_cli(env: Mapping[str, str] | None = None) -> PulumiCli:
    """The Pulumi CLI, version-checked; PulumiCliMissing / PulumiCliTooOld (exit 3) otherwise."""
    path = find_cli(env)
    if path is None:
        raise PulumiCliMissing(f"the Pulumi CLI is not installed: {install_hint()}")
    run_env = dict(os.environ if env is None else env)
    run_env["PULUMI_SKIP_UPDATE_CHECK"] = "true"
    try:
        out = subprocess.run(
            [str(path), "version"],
            capture_output=True,
            text=True,
            env=run_env,
            timeout=VERSION_TIMEOUT_SECONDS,
            check=True,
        ).stdout
    except (OSError, subprocess.SubprocessError) as exc:
        raise PulumiCliMissing(
            f"the Pulumi CLI at {path} does not run ({exc}): {install_hint()}"
        ) from exc
    version = parse_version(out)
    check_version(version, path)
    assert version is not None  # check_version raised otherwise
    return PulumiCli(path=path, version=version)
