"""Where the project's files and the operator's data live, and which registry database is used.

The repository's top level (regions.yaml, templates/, stacks/) is found relative to this package,
so an editable install (`pip install -e .`) and a checkout behave the same.
"""

from __future__ import annotations

import os
from pathlib import Path

PROJECT_ROOT = Path(__file__).resolve().parent.parent
TEMPLATES_DIR = PROJECT_ROOT / "templates"
STACKS_DIR = PROJECT_ROOT / "stacks"
TENANT_PROGRAM_DIR = STACKS_DIR / "tenant"


def regions_file() -> Path:
    """regions.yaml; `PROVISIONER_REGIONS_FILE` points elsewhere (tests, forks)."""
    override = os.environ.get("PROVISIONER_REGIONS_FILE")
    return Path(override) if override else PROJECT_ROOT / "regions.yaml"


def data_dir() -> Path:
    """The operator's data directory: `PROVISIONER_HOME`, else the platform's user data dir.

    Not created here: callers that write create what they need, so read-only commands leave
    nothing behind.
    """
    override = os.environ.get("PROVISIONER_HOME")
    if override:
        return Path(override).expanduser()
    from platformdirs import user_data_dir  # imported late: only writers need it

    return Path(user_data_dir("provisioner", appauthor=False))


DATABASE_URL_ENV = "PROVISIONER_DATABASE_URL"


def default_registry_file() -> Path:
    """The registry when no URL is configured: SQLite in the data directory."""
    return data_dir() / "registry.db"


def database_url(url: str | None = None) -> str:
    """The registry's database URL: `url`, else PROVISIONER_DATABASE_URL, else SQLite at
    default_registry_file(). The one place this default is decided; nothing is created here."""
    if url:
        return url
    configured = os.environ.get(DATABASE_URL_ENV, "").strip()
    if configured:
        return configured
    return f"sqlite:///{default_registry_file()}"


def existing_database_url(url: str | None = None) -> str | None:
    """database_url(url) when a registry is configured (`url` or PROVISIONER_DATABASE_URL) or
    the default file exists; None when opening it would create a new registry, so commands that
    only look a tenant up leave nothing behind."""
    if url or os.environ.get(DATABASE_URL_ENV, "").strip() or default_registry_file().exists():
        return database_url(url)
    return None
