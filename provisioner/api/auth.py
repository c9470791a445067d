"""Bearer tokens and their scopes.

Tokens come from `PROVISIONER_API_TOKENS` or a file (`PROVISIONER_API_TOKENS_FILE`, or
`provisioner serve --tokens-file`). One entry per token, entries separated by `;` or newlines,
`#` starts a comment in a file:

    NAME:TOKEN:SCOPE[,SCOPE...]
    signup:3f8a...c1:tenants:write,tenants:read        (a scope contains a colon: split on the
                                                        first two colons only)

NAME identifies the caller in the audit trail (`api:signup`); TOKEN is 32+ characters (e.g.
`python -c "import secrets; print(secrets.token_urlsafe(32))"`). Scopes: `tenants:read`,
`tenants:write`, `billing:write`, `incidents:read`, or `*` for all. Presented tokens are compared
with every configured token in constant time (`hmac.compare_digest` over SHA-256 digests, so
lengths do not leak either); tokens are never logged, and never appear in an error message.
"""

from __future__ import annotations

import hashlib
import hmac
import os
from dataclasses import dataclass
from pathlib import Path

from provisioner.errors import UsageError

SCOPES = ("tenants:read", "tenants:write", "billing:write", "incidents:read")
MIN_TOKEN_LENGTH = 32


@dataclass(frozen=True)
class Caller:
    name: str
    scopes: frozenset[str]

    def allows(self, scope: str) -> bool:
        return "*" in self.scopes or scope in self.scopes


@dataclass(frozen=True)
class _Entry:
    digest: bytes
    caller: Caller


class Tokens:
    """The configured tokens; `authenticate` maps a presented token to its caller (or None)."""

    def __init__(self, entries: list[tuple[str, str, frozenset[str]]]) -> None:
        self._entries = [
            _Entry(hashlib.sha256(token.encode()).digest(), Caller(name, scopes))
            for name, token, scopes in entries
        ]

    def __len__(self) -> int:
        return len(self._entries)

    def authenticate(self, presented: str) -> Caller | None:
        digest = hashlib.sha256(presented.encode()).digest()
        found: Caller | None = None
        for entry in self._entries:  # no early exit: the time taken does not say which matched
            if hmac.compare_digest(entry.digest, digest):
                found = entry.caller
        return found

    @classmethod
    def parse(cls, text: str, source: str) -> Tokens:
        entries: list[tuple[str, str, frozenset[str]]] = []
        names: set[str] = set()
        lines = [part for line in text.splitlines() for part in line.split(";")]
        for number, raw in enumerate(lines, start=1):
            item = raw.split("#", 1)[0].strip()
            if not item:
                continue
            parts = item.split(":", 2)
            where = f"{source} entry {number}"
            if len(parts) != 3 or not all(p.strip() for p in parts):
                raise UsageError(f"{where}: expected NAME:TOKEN:SCOPE[,SCOPE...]")
            name, token, scope_text = (p.strip() for p in parts)
            if len(token) < MIN_TOKEN_LENGTH:
                raise UsageError(
                    f"{where} ({name}): the token is shorter than {MIN_TOKEN_LENGTH} characters;"
                    ' generate one with `python -c "import secrets;'
                    ' print(secrets.token_urlsafe(32))"`'
                )
            scopes = frozenset(s.strip() for s in scope_text.split(",") if s.strip())
            unknown = sorted(scopes - {*SCOPES, "*"})
            if unknown or not scopes:
                raise UsageError(
                    f"{where} ({name}): unknown scope(s) {', '.join(unknown) or '(none)'}:"
                    f" use {', '.join(SCOPES)} or *"
                )
            if name in names:
                raise UsageError(f"{where}: the name {name!r} is used twice")
            names.add(name)
            entries.append((name, token, scopes))
        return cls(entries)

    @classmethod
    def load(cls, tokens_file: Path | None = None, env: dict[str, str] | None = None) -> Tokens:
        """From `tokens_file`, else PROVISIONER_API_TOKENS_FILE, else PROVISIONER_API_TOKENS."""
        env = dict(os.environ if env is None else env)
        path = tokens_file or (
            Path(env["PROVISIONER_API_TOKENS_FILE"])
            if env.get("PROVISIONER_API_TOKENS_FILE")
            else None
        )
        if path is not None:
            try:
                text = path.read_text()
            except OSError as exc:
                raise UsageError(f"cannot read the tokens file {path}: {exc.strerror}") from exc
            tokens = cls.parse(text, str(path))
        else:
            tokens = cls.parse(env.get("PROVISIONER_API_TOKENS", ""), "PROVISIONER_API_TOKENS")
        if not tokens:
            raise UsageError(
                "no API tokens configured: set PROVISIONER_API_TOKENS='NAME:TOKEN:SCOPES'"
                " (e.g. signup:<32+ random characters>:tenants:write,tenants:read) or"
                " --tokens-file"
            )
        return tokens
