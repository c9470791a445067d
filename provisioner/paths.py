"""Where the project's files and the operator's data live.

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
