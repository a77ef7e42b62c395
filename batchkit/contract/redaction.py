"""The one redactor: secrets kept out of logs, URLs, saved settings and messages.

Used by both ends. The contract sends a socket's access token in the query string and in the
handshake packet (section 3), and whatever logs those writes the token down: python-engineio and
python-socketio log the URL and packets at INFO on both sides, and on the server uvicorn logs
every WebSocket it accepts with its query (``uvicorn.error``) and every polling request in its
access log. A URL written in an error or a saved run must not carry a password or a token; a
saved configuration must not carry a secret-looking setting. (A secret whose *value* is known is
masked by ``batchkit.client.Secret.scrub``.)
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable, Mapping
from typing import Any, Final
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from pydantic import BaseModel

__all__ = [
    "MASK",
    "TokenRedactor",
    "mask_tokens",
    "redact_settings",
    "redact_tokens_in_logs",
    "redact_url",
]

MASK: Final = "***"
_SECRET_QUERY_KEYS: Final = frozenset({"token", "access_token", "password", "key", "signature"})
_SECRET_SETTING: Final = re.compile(
    r"token|password|passwd|secret|authorization|api[_-]?key|cred", re.IGNORECASE
)
_SECRETS: Final = (
    re.compile(r"(?<=[?&]token=)[^&\s'\"]+"),
    re.compile(r"(?<=\"token\":\")[^\"]+"),
    re.compile(r"eyJ[\w-]*\.[\w-]+\.[\w-]+"),  # any JWT, wherever it shows
)


def mask_tokens(text: str) -> str:
    """``text`` with every token it holds (a ``token=`` query value, a JSON ``"token"``, any
    JWT) masked."""
    for pattern in _SECRETS:
        text = pattern.sub(MASK, text)
    return text


def redact_url(url: str, *, keep_query: bool = True) -> str:
    """``url`` without user info, the values of secret-looking query keys masked (or, with
    ``keep_query=False``, without query and fragment at all: the form to write down)."""
    parts = urlsplit(str(url))
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = host if parts.port is None else f"{host}:{parts.port}"
    query = ""
    if keep_query and parts.query:
        pairs = parse_qsl(parts.query, keep_blank_values=True)
        masked = [(k, MASK if k.lower() in _SECRET_QUERY_KEYS else v) for k, v in pairs]
        query = urlencode(masked, safe="*") if masked != pairs else parts.query
    fragment = parts.fragment if keep_query else ""
    return urlunsplit((parts.scheme, netloc, parts.path, query, fragment))


def redact_settings(value: Any) -> Any:
    """``value`` (settings, possibly nested) with every entry whose key looks secret masked."""
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json")
    if isinstance(value, Mapping):
        return {
            str(k): MASK if _SECRET_SETTING.search(str(k)) else redact_settings(v)
            for k, v in value.items()
        }
    if isinstance(value, list | tuple | set | frozenset):
        return [redact_settings(item) for item in value]
    return value


class TokenRedactor(logging.Filter):
    """Rewrites a record whose message holds a token, with the token masked."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        redacted = mask_tokens(message)
        if redacted != message:
            record.msg, record.args = redacted, None
        return True


_REDACTOR: Final = TokenRedactor()


def redact_tokens_in_logs(logger_names: Iterable[str]) -> None:
    """Install the redactor on these loggers (adding it twice is a no-op)."""
    for name in logger_names:
        logging.getLogger(name).addFilter(_REDACTOR)
