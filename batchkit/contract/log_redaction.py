"""Tokens kept out of logs, on both ends of the socket, whatever level a user turns them up to.

The contract sends a socket's access token in the query string and in the handshake packet
(section 3). Whatever logs those writes the token down: python-engineio and python-socketio log
the URL and packets at INFO on both sides, and on the server uvicorn logs every WebSocket it
accepts with its query (``uvicorn.error``) and every polling request in its access log.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable
from typing import Final

__all__ = ["TokenRedactor", "redact_tokens_in_logs"]

_SECRETS: Final = (
    re.compile(r"(?<=[?&]token=)[^&\s'\"]+"),
    re.compile(r"(?<=\"token\":\")[^\"]+"),
    re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+"),  # any JWT, wherever it shows
)


class TokenRedactor(logging.Filter):
    """Rewrites a record whose message holds a token, with the token masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = message
        for pattern in _SECRETS:
            redacted = pattern.sub("***", redacted)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR: Final = TokenRedactor()


def redact_tokens_in_logs(logger_names: Iterable[str]) -> None:
    """Install the redactor on these loggers (adding it twice is a no-op)."""
    for name in logger_names:
        logging.getLogger(name).addFilter(_REDACTOR)
