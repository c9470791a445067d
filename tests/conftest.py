"""Shared fixtures: an isolated PROVISIONER_HOME for every test, so nothing touches the
operator's data directory."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    home = tmp_path_factory.mktemp("provisioner-home")
    monkeypatch.setenv("PROVISIONER_HOME", str(home))
    monkeypatch.delenv("PROVISIONER_DATABASE_URL", raising=False)
    return home
