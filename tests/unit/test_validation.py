"""Every pattern that validates input matches the whole input: a trailing newline, a NUL or a
Unicode lookalike never slips through (`re.match` with `$` accepts "x\\n"; `\\d` accepts
Arabic-Indic digits)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from pydantic import ValidationError

from provisioner.api.models import SignupRequest
from provisioner.cli.main import app
from provisioner.errors import ConfigError, UsageError
from provisioner.regions import _ACCOUNT_RE, _REGION_RE, _region
from provisioner.spec import validate_slug

# Each: a valid value, and ways to spoil it that a prefix match or `\d` would let through.
SPOILERS = {
    "trailing newline": lambda v: v + "\n",
    "trailing CRLF": lambda v: v + "\r\n",
    "embedded NUL": lambda v: v[:2] + "\x00" + v[2:],
    "trailing NUL": lambda v: v + "\x00",
    "Cyrillic a": lambda v: v.replace("a", "\u0430", 1) if "a" in v else "\u0430" + v,
    "fullwidth digit": lambda v: v + "\uff11",
    "Arabic-Indic digit": lambda v: v[:-1] + "\u0661",
}


@pytest.mark.parametrize("spoil", SPOILERS.values(), ids=list(SPOILERS))
def test_slugs(spoil: Any) -> None:
    assert validate_slug("acme1") == "acme1"
    with pytest.raises(UsageError):
        validate_slug(spoil("acme1"))


@pytest.mark.parametrize("spoil", SPOILERS.values(), ids=list(SPOILERS))
def test_region_names_and_account_ids(spoil: Any) -> None:
    assert _REGION_RE.fullmatch("eu-central-1") and _ACCOUNT_RE.fullmatch("123456789012")
    assert _region(Path("regions.yaml"), "here", {"region": "eu-central-1"}, "region")
    with pytest.raises(ConfigError):
        _region(Path("regions.yaml"), "here", {"region": spoil("eu-central-1")}, "region")
    assert not _ACCOUNT_RE.fullmatch(spoil("123456789012"))


@pytest.mark.parametrize("spoil", SPOILERS.values(), ids=list(SPOILERS))
def test_signup_bodies(spoil: Any) -> None:
    good = {"slug": "acme1", "location": "de", "plan": "trial", "admin_email": "ops@acme.example"}
    SignupRequest(**good)
    with pytest.raises(ValidationError):
        SignupRequest(**{**good, "slug": spoil(good["slug"])})


CONTROL = ["trailing newline", "trailing CRLF", "embedded NUL", "trailing NUL"]


@pytest.mark.parametrize("spoiler", CONTROL)
def test_signup_emails(spoiler: str) -> None:
    # Internationalised domains are legitimate in an address, so only control characters here.
    good = {"slug": "acme1", "location": "de", "plan": "trial", "admin_email": "ops@acme.example"}
    with pytest.raises(ValidationError):
        SignupRequest(**{**good, "admin_email": SPOILERS[spoiler](good["admin_email"])})


@pytest.mark.parametrize("spoil", SPOILERS.values(), ids=list(SPOILERS))
def test_audit_residency_region(spoil: Any) -> None:
    from typer.testing import CliRunner

    result = CliRunner().invoke(
        app, ["audit", "acme1", "-l", "de", "--residency-region", spoil("eu-central-1")]
    )
    assert result.exit_code == 2, result.output
    assert "--residency-region" in result.output
