"""A test double of the part of a MySQL 8 server the database bootstrap talks to: `mysql.user`
(plugin, ssl_type), CREATE/ALTER USER, GRANT and SHOW GRANTS, in MySQL 8's output format.

`AWSAuthenticationPlugin` exists only on RDS, so no local MySQL or MariaDB can run the real
statements; this double accepts exactly MySQL's syntax for them and refuses anything else, so a
malformed statement fails the test instead of passing silently.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

_ACCOUNT = r"'(?P<user>[^']+)'@'(?P<host>[^']+)'"
_AUTH = (r"IDENTIFIED (?:WITH (?P<plugin>\w+) AS '(?P<as>[^']*)'|BY '(?P<password>[^']*)')"
         r"(?: REQUIRE (?P<require>SSL|NONE|X509))?")
_CREATE = re.compile(rf"CREATE USER (?P<ine>IF NOT EXISTS )?{_ACCOUNT} {_AUTH}$")
_ALTER = re.compile(rf"ALTER USER {_ACCOUNT} {_AUTH}$")
_GRANT = re.compile(rf"GRANT (?P<privs>[A-Z ,]+?) ON (?P<target>\S+) TO {_ACCOUNT}"
                    r"(?P<option> WITH GRANT OPTION)?$")
_SELECT_USER = re.compile(r"SELECT (?P<cols>[a-z_, ]+) FROM mysql\.user WHERE user = %s AND"
                          r" host = %s$")
_SHOW = re.compile(rf"SHOW GRANTS FOR {_ACCOUNT}$")


class ServerError(Exception):
    """What a real server would answer with an error."""


@dataclass
class FakeServer:
    users: dict[tuple[str, str], dict[str, str]] = field(default_factory=dict)
    grants: dict[tuple[str, str], dict[str, set[str]]] = field(default_factory=dict)
    options: set[tuple[str, str, str]] = field(default_factory=set)
    log: list[str] = field(default_factory=list)

    def add_user(self, user: str, host: str = "%", plugin: str = "caching_sha2_password",
                 ssl_type: str = "") -> None:
        self.users[(user, host)] = {"plugin": plugin, "ssl_type": ssl_type}

    def cursor(self) -> FakeCursor:
        return FakeCursor(self)


@dataclass
class FakeCursor:
    server: FakeServer
    rows: list[tuple[Any, ...]] = field(default_factory=list)

    def __enter__(self) -> FakeCursor:
        return self

    def __exit__(self, *_exc: object) -> None:
        return None

    def fetchall(self) -> Sequence[Sequence[Any]]:
        return self.rows

    def execute(self, query: str, args: Any = None) -> int:
        server = self.server
        server.log.append(query)
        self.rows = []
        if match := _SELECT_USER.match(query):
            row = server.users.get(tuple(args))
            if row is not None:
                cols = [c.strip() for c in match["cols"].split(",")]
                self.rows = [tuple(row[c] for c in cols)]
            return len(self.rows)
        if (match := _CREATE.match(query)) or (match := _ALTER.match(query)):
            key = (match["user"], match["host"])
            creating = query.startswith("CREATE")
            if creating and key in server.users:
                if match["ine"]:
                    return 0  # a note, not an error
                raise ServerError("ERROR 1396 (HY000): Operation CREATE USER failed")
            if not creating and key not in server.users:
                raise ServerError("ERROR 1396 (HY000): Operation ALTER USER failed")
            plugin = match["plugin"] or "caching_sha2_password"
            ssl = {"SSL": "ANY", "X509": "X509", "NONE": ""}.get(match["require"] or "", "")
            if not creating and not match["require"]:
                ssl = server.users[key]["ssl_type"]
            server.users[key] = {"plugin": plugin, "ssl_type": ssl}
            return 0
        if match := _GRANT.match(query):
            key = (match["user"], match["host"])
            if key not in server.users:
                raise ServerError("ERROR 1410 (42000): You are not allowed to create a user"
                                  " with GRANT")
            privs = {p.strip() for p in match["privs"].split(",")}
            server.grants.setdefault(key, {}).setdefault(match["target"], set()).update(privs)
            if match["option"]:
                server.options.add((*key, match["target"]))
            return 0
        if match := _SHOW.match(query):
            key = (match["user"], match["host"])
            if key not in server.users:
                raise ServerError("ERROR 1141 (42000): There is no such grant defined")
            who = f"`{key[0]}`@`{key[1]}`"
            lines = [f"GRANT USAGE ON *.* TO {who}"]
            for target, privs in sorted(server.grants.get(key, {}).items()):
                option = " WITH GRANT OPTION" if (*key, target) in server.options else ""
                line = f"GRANT {', '.join(sorted(privs))} ON {target} TO {who}{option}"
                if target == "*.*":
                    lines[0] = line
                else:
                    lines.append(line)
            self.rows = [(line,) for line in lines]
            return len(self.rows)
        raise ServerError(f"ERROR 1064 (42000): syntax the double does not know: {query}")
