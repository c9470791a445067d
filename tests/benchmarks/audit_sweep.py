"""How long one tenant's live audit takes, with the residency sweep over every region moto reports
(38), run region by region (baseline) and on the audit's thread pool (8 workers).

    .venv/bin/python tests/benchmarks/audit_sweep.py [runs]

Starts moto's server (`moto_server`, a separate process, so server and audit do not share one
GIL) on 127.0.0.1, builds a compliant tenant with boto3 (tests/audit/builder.py), and prints the
median of `runs` (default 5) audits per variant, side by side. Each call to moto costs ~1-5 ms;
against AWS a call costs 20-100 ms, so the pool matters more there than here.
"""

from __future__ import annotations

import logging
import os
import socket
import statistics
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))


def main(runs: int) -> None:
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        host, port = probe.getsockname()
    server = subprocess.Popen(
        [str(Path(sys.executable).parent / "moto_server"), "-H", host, "-p", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    for _ in range(100):
        with socket.socket() as probe:
            if probe.connect_ex((host, port)) == 0:
                break
        time.sleep(0.1)
    os.environ.update(
        AWS_ENDPOINT_URL=f"http://{host}:{port}",
        AWS_ACCESS_KEY_ID="testing",
        AWS_SECRET_ACCESS_KEY="testing",
        AWS_DEFAULT_REGION="us-east-1",
    )
    from provisioner.audit.clients import Clients
    from provisioner.audit.discovery import enabled_regions
    from provisioner.audit.model import Target
    from provisioner.audit.runner import audit_tenant
    from tests.audit.builder import build_tenant, stub_selection
    from tests.audit.stubs import BackupStubs

    built = build_tenant("bench", "de")
    stubs = stub_selection(BackupStubs(), built)
    target = Target(built.slug, built.location)
    regions = enabled_regions(Clients(), built.region)
    results: dict[str, list[float]] = {"sequential (1 worker)": [], "pool (8 workers)": []}
    for _ in range(runs):
        for label, workers in (("sequential (1 worker)", 1), ("pool (8 workers)", 8)):
            clients = Clients(on_new_client=stubs.attach)
            start = time.perf_counter()
            report = audit_tenant(clients, target, regions=regions, region_workers=workers)
            results[label].append(time.perf_counter() - start)
            assert report.passed, report.to_dict()["findings"]
    print(f"audit of one tenant, residency sweep over {len(regions)} regions, {runs} runs each")
    for label, times in results.items():
        print(f"  {label:<24} median {statistics.median(times) * 1000:7.0f} ms")
    server.terminate()
    server.wait()


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 5)
