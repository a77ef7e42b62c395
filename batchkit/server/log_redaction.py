"""Tokens kept out of the server's logs, whatever level a user turns them up to.

Socket.io clients send their access token in the query string and in the handshake packet.
uvicorn logs every WebSocket it accepts with its query (``uvicorn.error``, INFO), its access log
(off in :mod:`batchkit.server.serving`, on again for anyone who gives it a handler) logs every
polling request with it, and python-engineio and python-socketio log packets at INFO: each would
write the token down.
"""

from __future__ import annotations

import logging
import re
from typing import Final

__all__ = ["TokenRedactor", "redact_tokens_in_logs"]

_LOGGERS: Final = ("uvicorn.error", "uvicorn.access", "engineio.server", "socketio.server")
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


def redact_tokens_in_logs() -> None:
    """Install the redactor on the loggers that see tokens (adding it twice is a no-op)."""
    for name in _LOGGERS:
        logging.getLogger(name).addFilter(_REDACTOR)
