"""The statements that create the application's MySQL user, and the checks that it is right.

Run once per database by the bootstrap function as the master user; idempotent, so running it
again (a replaced database, new function code) converges instead of failing:
- `CREATE USER IF NOT EXISTS ... IDENTIFIED WITH AWSAuthenticationPlugin AS 'RDS' REQUIRE SSL`:
  IAM database authentication, so the user has no password (RDS user guide, "Creating a database
  account using IAM authentication"); TLS required for this user as for the server;
- `ALTER USER` with the same clauses: a user that already existed (made by hand, with a password)
  is brought back to IAM authentication and TLS;
- `GRANT` of the app's privileges on its own schema only: data and the schema changes its
  migrations make; nothing on `*.*`, no GRANT OPTION, no routines, files or administration.
Then it reads back what the server holds (`mysql.user`, `SHOW GRANTS`) and fails if the user has
a password plugin, no TLS requirement, or any privilege beyond its schema's: the deployment
stops instead of leaving an over-privileged user behind.

Standard library only: this module is also imported by the tests and the orchestrator's
planner, which have no database driver.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

IAM_PLUGIN = "AWSAuthenticationPlugin"
HOST = "%"  # IAM tokens are checked by the plugin, from any address the security group allows
# Data, and the schema changes of the app's own migrations; no EXECUTE/ROUTINE, FILE, PROCESS,
# SUPER, GRANT OPTION or anything on *.*.
APP_PRIVILEGES = (
    "SELECT", "INSERT", "UPDATE", "DELETE", "CREATE", "ALTER", "DROP", "INDEX", "REFERENCES",
    "CREATE TEMPORARY TABLES", "LOCK TABLES", "CREATE VIEW", "SHOW VIEW", "TRIGGER",
)  # fmt: skip
_NAME = re.compile(r"[a-z][a-z0-9_]{0,31}")  # MySQL user names are at most 32 characters
_GRANT = re.compile(r"^GRANT (?P<privileges>.+?) ON (?P<target>\S+) TO ", re.IGNORECASE)


class BootstrapError(Exception):
    """The user could not be made as it must be: the deployment fails with this message."""


class Cursor(Protocol):
    def execute(self, query: str, args: Any = None) -> Any: ...

    def fetchall(self) -> Sequence[Sequence[Any]]: ...


@dataclass(frozen=True)
class AppUser:
    """The application's database user: its name and the one schema it may use."""

    user: str
    schema: str

    def __post_init__(self) -> None:
        for label, value in (("user", self.user), ("schema", self.schema)):
            if not isinstance(value, str) or not _NAME.fullmatch(value):
                raise BootstrapError(
                    f"{label} {value!r} is not a plain MySQL name (lowercase letters, digits,"
                    " underscores; 32 characters at most)"
                )

    @property
    def account(self) -> str:
        return f"'{self.user}'@'{HOST}'"

    def statements(self) -> list[str]:
        """What the master user runs, in order; every one safe to run again."""
        auth = f"IDENTIFIED WITH {IAM_PLUGIN} AS 'RDS' REQUIRE SSL"
        return [
            f"CREATE USER IF NOT EXISTS {self.account} {auth}",
            f"ALTER USER {self.account} {auth}",
            f"GRANT {', '.join(APP_PRIVILEGES)} ON `{self.schema}`.* TO {self.account}",
        ]


def _privileges(text: str) -> set[str]:
    return {p.strip().upper() for p in text.split(",") if p.strip()}


def grant_problems(user: AppUser, grants: Sequence[str]) -> list[str]:
    """What in `SHOW GRANTS` output goes beyond the app's schema (empty: nothing)."""
    problems = []
    schema_targets = {f"`{user.schema}`.*", f"{user.schema}.*"}
    for line in grants:
        if "WITH GRANT OPTION" in line.upper():
            problems.append(f"may grant to others: {line}")
        match = _GRANT.match(line)
        if match is None:
            problems.append(f"not a privilege grant this bootstrap knows: {line}")
            continue
        privileges, target = _privileges(match["privileges"]), match["target"]
        if target == "*.*":
            if privileges != {"USAGE"}:
                problems.append(f"server-wide privileges: {line}")
        elif target not in schema_targets:
            problems.append(f"privileges outside `{user.schema}`: {line}")
        elif extra := privileges - set(APP_PRIVILEGES):
            problems.append(f"privileges beyond the app's on `{user.schema}`: "
                            f"{', '.join(sorted(extra))}")
    return problems


def ensure(cursor: Cursor, user: AppUser) -> dict[str, Any]:
    """Create or converge the user, then verify it; raise BootstrapError if it is not right.
    Returns what happened (no secret: this is stored as the invocation's result)."""
    cursor.execute("SELECT plugin FROM mysql.user WHERE user = %s AND host = %s",
                   (user.user, HOST))
    existed = bool(cursor.fetchall())
    for statement in user.statements():
        cursor.execute(statement)
    cursor.execute("SELECT plugin, ssl_type FROM mysql.user WHERE user = %s AND host = %s",
                   (user.user, HOST))
    rows = cursor.fetchall()
    if len(rows) != 1:
        raise BootstrapError(f"user {user.account} is missing after CREATE USER")
    plugin, ssl_type = (str(v) for v in rows[0])
    if plugin != IAM_PLUGIN:
        raise BootstrapError(f"user {user.account} authenticates with {plugin}, not {IAM_PLUGIN}")
    if ssl_type.upper() not in ("ANY", "X509", "SPECIFIED"):
        raise BootstrapError(f"user {user.account} does not require TLS (ssl_type {ssl_type!r})")
    cursor.execute(f"SHOW GRANTS FOR {user.account}")
    grants = [str(row[0]) for row in cursor.fetchall()]
    problems = grant_problems(user, grants)
    if problems:
        raise BootstrapError(f"user {user.account} has more than it should: "
                             + "; ".join(problems))
    return {"user": user.user, "schema": user.schema, "created": not existed,
            "grants": grants}
