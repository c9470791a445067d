"""Finding the Pulumi CLI and checking its version (with a stand-in binary from conftest)."""

from __future__ import annotations

from pathlib import Path

import pytest

from provisioner.engine.pulumi_cli import (
    MIN_CLI_VERSION,
    check_version,
    find_cli,
    parse_version,
    require_cli,
)
from provisioner.errors import (
    EXIT_ENVIRONMENT,
    PULUMI_INSTALL_URL,
    PulumiCliMissing,
    PulumiCliTooOld,
)
from tests.engine.conftest import fake_pulumi


@pytest.mark.parametrize(
    ("text", "version"),
    [
        ("v3.140.0\n", (3, 140, 0)),
        ("3.134.1", (3, 134, 1)),
        ("v3.205.0-alpha.1731370000", (3, 205, 0)),
        ("garbage", None),
        ("", None),
    ],
)
def test_parse_version(text: str, version: tuple[int, int, int] | None) -> None:
    assert parse_version(text) == version


def test_version_floor() -> None:
    check_version(MIN_CLI_VERSION, Path("/bin/pulumi"))
    check_version((3, 300, 0), Path("/bin/pulumi"))
    for old in [(3, 133, 9), (2, 25, 2), (4, 0, 0), None]:
        with pytest.raises(PulumiCliTooOld) as info:
            check_version(old, Path("/bin/pulumi"))
        assert info.value.exit_code == EXIT_ENVIRONMENT
        assert PULUMI_INSTALL_URL in str(info.value)


def test_missing_cli_says_how_to_install(tmp_path: Path) -> None:
    env = {"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path)}
    assert find_cli(env) is None
    with pytest.raises(PulumiCliMissing) as info:
        require_cli(env)
    assert info.value.exit_code == EXIT_ENVIRONMENT
    assert PULUMI_INSTALL_URL in str(info.value)
    assert "provisioner doctor --install-plugins" in str(info.value)


def test_cli_on_path_is_found_and_checked(tmp_path: Path) -> None:
    binary = fake_pulumi(tmp_path / "bin", "v3.150.2")
    cli = require_cli({"PATH": str(binary.parent), "HOME": str(tmp_path)})
    assert cli.path == binary.resolve()
    assert cli.version == (3, 150, 2)
    assert cli.root == tmp_path.resolve()  # PulumiCommand(root=...) runs root/bin/pulumi


def test_installers_default_location_is_found_off_path(tmp_path: Path) -> None:
    binary = fake_pulumi(tmp_path / ".pulumi" / "bin", "v3.150.2")
    env = {"PATH": str(tmp_path / "empty"), "HOME": str(tmp_path)}
    assert find_cli(env) == binary
    assert require_cli(env).root == tmp_path / ".pulumi"


def test_old_cli_is_refused(tmp_path: Path) -> None:
    binary = fake_pulumi(tmp_path / "bin", "v3.99.0")
    with pytest.raises(PulumiCliTooOld, match=r"3\.99\.0"):
        require_cli({"PATH": str(binary.parent), "HOME": str(tmp_path)})


def test_a_symlinked_cli_resolves_to_its_install_root(tmp_path: Path) -> None:
    binary = fake_pulumi(tmp_path / ".pulumi" / "bin", "v3.150.2")
    links = tmp_path / "usr-local-bin"
    links.mkdir()
    (links / "pulumi").symlink_to(binary)
    cli = require_cli({"PATH": str(links), "HOME": str(tmp_path / "elsewhere")})
    assert cli.path == binary.resolve()
    assert cli.root == (tmp_path / ".pulumi").resolve()
