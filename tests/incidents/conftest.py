"""Incident tests reuse the registry's per-backend databases and its CLI environment."""

from __future__ import annotations

from tests.registry.conftest import cli_env, db_url, registry  # noqa: F401  (fixtures)
