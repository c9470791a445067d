"""`provisioner serve [--host 127.0.0.1] [--port 8080]`: the signup API on uvicorn.

Tokens: PROVISIONER_API_TOKENS or --tokens-file / PROVISIONER_API_TOKENS_FILE (format in
provisioner/api/auth.py and the README). The registry: --database-url, else
PROVISIONER_DATABASE_URL, else SQLite in the data directory. Heavy imports happen inside.
"""

from __future__ import annotations

from pathlib import Path

import typer

from provisioner.cli.common import OUTPUT_OPTION, OutputFormat, emit_json
from provisioner.errors import EnvironmentProblem

DATABASE_URL_OPTION = typer.Option(
    None,
    "--database-url",
    help="Registry URL (sqlite:///path or postgresql://...); default: PROVISIONER_DATABASE_URL,"
    " else SQLite in the data directory.",
)


IDEMPOTENCY_TTL_OPTION = typer.Option(
    24.0,
    "--idempotency-ttl-hours",
    min=0.01,
    max=24.0 * 365,
    envvar="PROVISIONER_IDEMPOTENCY_TTL_HOURS",
    help="How long a caller's Idempotency-Key is replayed (env PROVISIONER_IDEMPOTENCY_TTL_HOURS).",
)


def serve(
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(8080, "--port", min=0, max=65535, help="TCP port."),
    database_url: str | None = DATABASE_URL_OPTION,
    tokens_file: Path | None = typer.Option(
        None, "--tokens-file", help="File of NAME:TOKEN:SCOPES lines (else the environment)."
    ),
    max_body_bytes: int = typer.Option(
        16 * 1024, "--max-body-bytes", min=256, help="Larger request bodies get 413."
    ),
    idempotency_ttl_hours: float = IDEMPOTENCY_TTL_OPTION,
    log_level: str = typer.Option("info", "--log-level", help="uvicorn log level."),
    reuse_port: bool = typer.Option(
        False,
        "--reuse-port",
        help="Let several `provisioner serve` processes share the port (SO_REUSEPORT; the"
        " kernel spreads connections): the API is stateless, one process uses one core.",
    ),
) -> None:
    """Serve the signup API (POST /v1/tenants, ...; OpenAPI at /openapi.json)."""
    import socket
    from datetime import timedelta

    import uvicorn

    from provisioner.api import Tokens, create_app
    from provisioner.registry import Registry

    tokens = Tokens.load(tokens_file)
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # IPPROTO_TCP spelled out: asyncio sets TCP_NODELAY only on sockets whose proto says TCP,
    # and accepted connections inherit it. With proto 0, Nagle's algorithm and delayed ACKs add
    # ~40 ms to every keep-alive response.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
        sock.listen(2048)  # connections queue from now on, before uvicorn's loop starts
    except OSError as exc:
        sock.close()
        raise EnvironmentProblem(
            f"cannot listen on {host}:{port}: {exc.strerror}; choose another --port or stop"
            " whatever holds it"
        ) from exc
    with Registry.open(database_url) as registry:
        app = create_app(
            registry,
            tokens,
            max_body_bytes=max_body_bytes,
            idempotency_ttl=timedelta(hours=idempotency_ttl_hours),
        )
        from provisioner.redaction import uvicorn_log_config

        config = uvicorn.Config(
            app, log_level=log_level, server_header=False, log_config=uvicorn_log_config()
        )
        typer.echo(
            f"provisioner API on http://{host}:{sock.getsockname()[1]} (registry"
            f" {registry.url}, {len(tokens)} token(s))",
            err=True,
        )
        uvicorn.Server(config).run(sockets=[sock])


def purge_idempotency_keys(
    older_than_hours: float = IDEMPOTENCY_TTL_OPTION,
    batch: int = typer.Option(1000, "--batch", min=1, max=100_000, help="Rows per transaction."),
    max_batches: int | None = typer.Option(
        None, "--max-batches", min=1, help="Stop after this many batches (default: until done)."
    ),
    database_url: str | None = DATABASE_URL_OPTION,
    output: OutputFormat = OUTPUT_OPTION,
) -> None:
    """Delete Idempotency-Keys older than the replay period, in bounded batches (run it hourly)."""
    from datetime import UTC, datetime, timedelta

    from provisioner.registry import Registry
    from provisioner.registry.signup import purge_idempotency_keys as purge

    before = datetime.now(UTC) - timedelta(hours=older_than_hours)
    with Registry.open(database_url) as registry:
        removed = purge(registry, before=before, batch=batch, max_batches=max_batches)
    if output is OutputFormat.json:
        emit_json({"purged": removed, "before": before.isoformat()})
    else:
        typer.echo(f"purged {removed} idempotency key(s) created before {before.isoformat()}")


def register(app: typer.Typer) -> None:
    app.command("serve")(serve)
    app.command("purge-idempotency-keys")(purge_idempotency_keys)
