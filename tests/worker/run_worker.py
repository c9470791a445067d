"""Entry script for the crash tests: a real `provisioner.cli.worker.run` over the engine double.

    python tests/worker/run_worker.py DATABASE_URL ENGINE_DIR

Environment (read here only, never by the product): WORKER_TEST_DELAY (seconds per operation),
WORKER_TEST_LEASE (lease seconds), WORKER_TEST_CONCURRENCY.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from provisioner.cli.worker import run
from tests.worker.engine_double import DoubleEngine

if __name__ == "__main__":
    url, engine_dir = sys.argv[1], Path(sys.argv[2])
    lease = float(os.environ.get("WORKER_TEST_LEASE", "2"))
    run(
        DoubleEngine(engine_dir, delay=float(os.environ.get("WORKER_TEST_DELAY", "1"))),
        concurrency=int(os.environ.get("WORKER_TEST_CONCURRENCY", "4")),
        database_url=url,
        lease_seconds=lease,
        heartbeat_seconds=lease / 4,
        poll_seconds=0.2,
        retry_base_seconds=0.5,
        program_version="test-1",
    )
