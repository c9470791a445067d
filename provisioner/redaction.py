"""Credentials never reach a log line: query strings are cut from request lines, and bearer
tokens, `Authorization` values and `token=`/`key=`-style parameters are masked wherever they
appear in a message or a traceback (the access log, uvicorn's error log, the API's own log).

A client may put its token in the URL (`POST /v1/tenants?access_token=...`): the API never
reads it from there, but uvicorn's access log prints the whole request line. The signup API
takes nothing from query strings, so dropping them loses nothing an operator needs.
"""

from __future__ import annotations

import logging
import re
from typing import Any

MASK = "[redacted]"
_QUERY = re.compile(r"(/[^\s?\"']*)\?[^\s\"']*")
_BEARER = re.compile(r"(?i)\b(bearer|basic)(\s+|%20|\+)[^\s\"',;/?&]+")
_AUTH_HEADER = re.compile(
    r"(?i)\b(authorization|x-api-key|cookie)(['\"]?\s*[:=]\s*['\"]?)[^\n\"']+"
)
_SECRET_PARAM = re.compile(
    r"(?i)\b([\w-]*(?:token|secret|password|passwd|api[_-]?key|signature)[\w-]*)=[^\s&\"',;]+"
)


def redact(text: str) -> str:
    """`text` with query strings, bearer tokens and secret-looking parameters masked."""
    text = _QUERY.sub(rf"\1?{MASK}", text)
    text = _AUTH_HEADER.sub(rf"\1\2{MASK}", text)
    text = _BEARER.sub(rf"\1\2{MASK}", text)
    return _SECRET_PARAM.sub(rf"\1={MASK}", text)


def path_without_query(path: str) -> str:
    head, sep, _ = path.partition("?")
    return f"{head}?{MASK}" if sep else head


class RedactingFilter(logging.Filter):
    """A handler filter: rewrites each record before any formatter sees it."""

    def filter(self, record: logging.LogRecord) -> bool:
        args = record.args
        if record.name == "uvicorn.access" and isinstance(args, tuple) and len(args) == 5:
            # uvicorn's AccessFormatter unpacks (client, method, path, version, status).
            record.args = _with(args, 2, redact(path_without_query(str(args[2]))))
        else:
            message = record.getMessage()
            masked = redact(message)
            if masked != message:
                record.msg, record.args = masked, None
        if record.exc_info and not record.exc_text:
            record.exc_text = redact(logging.Formatter().formatException(record.exc_info))
        elif record.exc_text:
            record.exc_text = redact(record.exc_text)
        return True


def _with(args: tuple[Any, ...], index: int, value: Any) -> tuple[Any, ...]:
    return (*args[:index], value, *args[index + 1 :])


def uvicorn_log_config() -> dict[str, Any]:
    """uvicorn's default logging, with every handler (root included) behind RedactingFilter."""
    import copy

    from uvicorn.config import LOGGING_CONFIG

    config = copy.deepcopy(LOGGING_CONFIG)
    config["filters"] = {"redact": {"()": f"{__name__}.RedactingFilter"}}
    for handler in config["handlers"].values():
        handler["filters"] = ["redact"]
    # The API's own loggers (provisioner.api, ...) propagate to the root: same handler, same mask.
    config["root"] = {"handlers": ["default"], "level": "INFO"}
    return config
