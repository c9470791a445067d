"""POST /v1/tenants on loopback: latency at a fixed 200 requests/s (open loop: requests are sent
on schedule whether or not earlier ones have answered), and the closed-loop throughput; beside it,
GET /healthz at the same rate as the baseline (HTTP, uvicorn and the event loop, no registry).

    PROVISIONER_TEST_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:55432/postgres \\
        .venv/bin/python tests/benchmarks/api_signup.py [--runs 3] [--seconds 5] [--rate 200] \\
        [--pool N] [--backend sqlite|postgresql]

`provisioner serve` runs as its own process(es) (access log off; `--servers N` starts N sharing
the port with --reuse-port), the load comes from this one.
Target: p99 under 50 ms at 200 requests/s. Prints medians over the runs. `--pool N` puts N ready
warm-pool instances in location de first, so each signup also claims one (FOR UPDATE SKIP LOCKED
on PostgreSQL, a conditional UPDATE on SQLite) in its transaction; the last column says how many
signups were answered "pooled".
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import re
import signal
import socket
import statistics
import subprocess
import sys
import time
import uuid
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from tests.benchmarks._databases import backends, database, percentile

TOKEN = "bench-" + "t" * 40
_POOLED = re.compile(rb'"provisioning":\s*"pooled"')
PROVISIONER = str(Path(sys.executable).parent / "provisioner")


def start_servers(url: str, count: int) -> tuple[list[subprocess.Popen[str]], str]:
    """`count` serve processes sharing one port (--reuse-port)."""
    env = {
        **os.environ,
        "PROVISIONER_API_TOKENS": f"bench:{TOKEN}:*",
        "PROVISIONER_DATABASE_URL": url,
    }
    port, procs = "0", []
    for _ in range(count):
        proc = subprocess.Popen(
            [PROVISIONER, "serve", "--port", port, "--log-level", "warning", "--reuse-port"],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        procs.append(proc)
        assert proc.stderr is not None
        while True:
            line = proc.stderr.readline()
            found = re.search(r"on (http://127\.0\.0\.1:(\d+))", line)
            if found:
                base, port = found.group(1), found.group(2)
                break
            if not line:
                raise SystemExit("provisioner serve did not start")
    time.sleep(0.5)  # let every process reach its accept loop
    return procs, base


class Pool:
    """A minimal HTTP/1.1 keep-alive client on asyncio streams: the load generator must cost far
    less than the server it measures (httpx's async client alone took milliseconds here)."""

    def __init__(self, base: str, size: int) -> None:
        host, port = base.removeprefix("http://").split(":")
        self.host, self.port, self.size = host, int(port), size
        self.pooled = 0  # answers saying "provisioning": "pooled"
        self.idle: asyncio.Queue[tuple[asyncio.StreamReader, asyncio.StreamWriter]] = (
            asyncio.Queue()
        )

    async def open(self) -> None:
        for _ in range(self.size):
            reader, writer = await asyncio.open_connection(self.host, self.port)
            writer.get_extra_info("socket").setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.idle.put_nowait((reader, writer))

    async def request(self, method: str, path: str, body: bytes = b"", key: str = "") -> int:
        reader, writer = await self.idle.get()
        try:
            head = (
                f"{method} {path} HTTP/1.1\r\nHost: {self.host}\r\n"
                f"Authorization: Bearer {TOKEN}\r\nContent-Length: {len(body)}\r\n"
            )
            if body:
                head += "Content-Type: application/json\r\n"
            if key:
                head += f"Idempotency-Key: {key}\r\n"
            writer.write(head.encode() + b"\r\n" + body)
            status_line = await reader.readline()
            length = 0
            while (line := await reader.readline()) not in (b"\r\n", b""):
                name, _, value = line.decode().partition(":")
                if name.lower() == "content-length":
                    length = int(value)
            answer = await reader.readexactly(length)
            self.pooled += bool(_POOLED.search(answer))
            return int(status_line.split()[1])
        finally:
            self.idle.put_nowait((reader, writer))

    async def close(self) -> None:
        while not self.idle.empty():
            _, writer = self.idle.get_nowait()
            writer.close()


def fill_pool(url: str, size: int) -> None:
    """`size` ready instances in the de/trial pool."""
    from provisioner.registry import Registry
    from tests.benchmarks._pools import fill_ready

    with Registry.open(url) as registry:
        fill_ready(registry, size)


def signup_body(prefix: str) -> tuple[bytes, str]:
    slug = f"{prefix}{uuid.uuid4().hex[:12]}"
    body = {"slug": slug, "location": "de", "plan": "trial", "admin_email": "a@b.io"}
    return json.dumps(body).encode(), slug


async def open_loop(base: str, rate: float, seconds: float, kind: str) -> dict[str, float]:
    pool = Pool(base, 64)
    await pool.open()
    latencies: list[float] = []
    errors = 0

    async def one() -> None:
        nonlocal errors
        started = time.perf_counter()
        if kind == "signup":
            body, slug = signup_body("t")
            ok = await pool.request("POST", "/v1/tenants", body, key=slug) == 202
        else:
            ok = await pool.request("GET", "/healthz") == 200
        latencies.append(time.perf_counter() - started)
        errors += 0 if ok else 1

    total = int(rate * seconds)
    t0 = time.perf_counter()
    tasks = []
    for i in range(total):
        delay = t0 + i / rate - time.perf_counter()
        if delay > 0:
            await asyncio.sleep(delay)
        tasks.append(asyncio.create_task(one()))
    await asyncio.gather(*tasks)
    elapsed = time.perf_counter() - t0
    await pool.close()
    return {
        "rps": total / elapsed,
        "p50_ms": percentile(latencies, 0.50) * 1000,
        "p95_ms": percentile(latencies, 0.95) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
        "errors": errors,
        "pooled": pool.pooled,
    }


async def closed_loop(base: str, seconds: float, concurrency: int = 16) -> float:
    pool = Pool(base, concurrency)
    await pool.open()
    done = 0
    deadline = time.perf_counter() + seconds

    async def loop() -> None:
        nonlocal done
        while time.perf_counter() < deadline:
            body, _ = signup_body("c")
            if await pool.request("POST", "/v1/tenants", body) == 202:
                done += 1

    start = time.perf_counter()
    await asyncio.gather(*(loop() for _ in range(concurrency)))
    rate = done / (time.perf_counter() - start)
    await pool.close()
    return rate


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--seconds", type=float, default=5.0)
    parser.add_argument("--rate", type=float, default=200.0)
    parser.add_argument("--servers", type=int, default=1, help="serve processes, one port")
    parser.add_argument("--pool", type=int, default=0, help="ready pooled instances first")
    parser.add_argument("--backend", choices=("sqlite", "postgresql"), help="only this one")
    args = parser.parse_args()
    print(
        f"{args.rate:.0f} requests/s for {args.seconds:.0f} s, {args.runs} runs, {args.servers}"
        f" serve process(es), {args.pool} pooled instances ready; medians"
    )
    print(
        f"{'backend':<11}{'request':<18}{'rps':>8}{'p50 ms':>9}{'p95 ms':>9}{'p99 ms':>9}"
        f"{'errors':>8}{'pooled':>8}"
    )
    for backend in backends():
        if args.backend and backend != args.backend:
            continue
        rows: dict[str, list[dict[str, float]]] = {"GET /healthz": [], "POST /v1/tenants": []}
        throughput: list[float] = []
        for _ in range(args.runs):
            with database(backend) as url:
                if args.pool:
                    fill_pool(url, args.pool)
                servers, base = start_servers(url, args.servers)
                try:
                    rows["GET /healthz"].append(
                        asyncio.run(open_loop(base, args.rate, args.seconds, "healthz"))
                    )
                    rows["POST /v1/tenants"].append(
                        asyncio.run(open_loop(base, args.rate, args.seconds, "signup"))
                    )
                    throughput.append(asyncio.run(closed_loop(base, args.seconds)))
                finally:
                    for server in servers:
                        server.send_signal(signal.SIGTERM)
                        server.wait(15)
        for name, runs in rows.items():
            med = {k: statistics.median(r[k] for r in runs) for k in runs[0]}
            print(
                f"{backend:<11}{name:<18}{med['rps']:>8.0f}{med['p50_ms']:>9.1f}{med['p95_ms']:>9.1f}"
                f"{med['p99_ms']:>9.1f}{med['errors']:>8.0f}{med['pooled']:>8.0f}"
            )
        print(
            f"{backend:<11}{'POST max (16 conc)':<18}{statistics.median(throughput):>8.0f}"
            "   requests/s, closed loop"
        )


if __name__ == "__main__":
    main()
