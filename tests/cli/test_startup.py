"""CLI start-up stays light: the root app imports no heavy library until a command needs it.

`provisioner plan` must start in well under a second; every heavy import at the top of a CLI
module is paid by every command. (Measured by tests/benchmarks/plan_speed.py, not here.)
"""

from __future__ import annotations

import subprocess
import sys

HEAVY = (
    "pulumi", "pulumi_aws", "boto3", "botocore", "sqlalchemy", "alembic", "fastapi", "uvicorn",
    "rich", "httpx", "jinja2", "pydantic", "psycopg", "prometheus_client", "moto",
)  # fmt: skip


def test_importing_the_cli_loads_no_heavy_library() -> None:
    probe = (
        "import sys, provisioner.cli.main; "
        f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], check=True, capture_output=True, text=True
    ).stdout.split()
    assert loaded == []
