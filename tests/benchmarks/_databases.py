"""Throwaway databases for the benchmarks: a SQLite file, and a fresh PostgreSQL schema (when
PROVISIONER_TEST_POSTGRES_URL is set) selected through the URL's search_path, made the way the
tests make theirs."""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


def backends() -> list[str]:
    names = ["sqlite"]
    if os.environ.get("PROVISIONER_TEST_POSTGRES_URL", "").strip():
        names.append("postgresql")
    return names


@contextmanager
def database(backend: str) -> Iterator[str]:
    """The tests' throwaway database (tests/registry/conftest.py), in a temporary folder."""
    from tests.registry.conftest import fresh_database

    with (
        tempfile.TemporaryDirectory(prefix="bench-") as folder,
        fresh_database(backend, Path(folder)) as url,
    ):
        yield url


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]
