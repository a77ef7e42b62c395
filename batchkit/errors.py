"""The one exception tree of batchkit.

Foreign errors (httpx, python-socketio, pydantic, OSError) are translated once, at the boundary
where they enter batchkit; above that boundary only these classes are raised::

    BatchkitError
    ├── InputError                  bad input, found before anything was sent
    │   ├── FileRejected            one file: its name and the reason in words
    │   └── ConfigError             a setting out of range, unknown or inconsistent
    ├── TransportError              the server could not be reached or did not answer
    │   ├── ConnectError
    │   └── RequestTimeout
    ├── APIError                    the server answered with an error status
    │   ├── AuthError               401 / 403, or a socket refused for its token
    │   ├── NotFoundError           404 (production: 500 "Internal server error", see client)
    │   ├── RequestRejected         400, 413, 415, 422: the request itself was wrong
    │   ├── RateLimited             429, carrying ``retry_after``
    │   └── ServerError             5xx
    ├── StreamError                 the socket.io stream broke in a way a retry cannot mend
    ├── RunError                    a run could not be followed, saved or loaded
    │   └── StalledError            a step stopped moving for longer than its timeout
    └── EngineError                 (server side) a local engine could not do its work
        ├── DocumentError           a document is empty, unreadable or not what it claims
        └── LimitExceeded           a story or one of its jobs would pass a stated limit

Every error has a one-line ``str()`` a user can act on. None of them ever carries a token.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

__all__ = [
    "APIError",
    "AuthError",
    "BatchkitError",
    "ConfigError",
    "ConnectError",
    "DocumentError",
    "EngineError",
    "FileRejected",
    "InputError",
    "LimitExceeded",
    "NotFoundError",
    "RateLimited",
    "RequestRejected",
    "RequestTimeout",
    "RunError",
    "ServerError",
    "StalledError",
    "StreamError",
    "TransportError",
]


class BatchkitError(Exception):
    """Base of every error batchkit raises on purpose."""


# ---------------------------------------------------------------- input
class InputError(BatchkitError):
    """Input that batchkit refused before sending anything."""


class FileRejected(InputError):
    """One file was refused; ``name`` says which and ``reason`` why, in a user's words."""

    def __init__(self, name: str, reason: str) -> None:
        super().__init__(f"{name}: {reason}")
        self.name = name
        self.reason = reason


class ConfigError(InputError):
    """A setting is out of range, unknown or contradicts another; ``field`` names it.

    A message may name other settings, each written ``{name}`` and listed in ``mentions``.
    ``str()`` shows them as the Python keywords they are (``token=``); :meth:`worded` names them,
    and the field, the way a front end does (a command line: its flags).
    """

    def __init__(
        self, message: str, *, field: str | None = None, mentions: Sequence[str] = ()
    ) -> None:
        self.template = message
        self.field = field
        self.mentions = tuple(mentions)
        super().__init__(self.worded({}))

    def worded(self, names: Mapping[str, str]) -> str:
        """The message with each setting named as in ``names`` (the others as in Python)."""
        text = self.template
        for setting in self.mentions:
            text = text.replace(f"{{{setting}}}", names.get(setting, f"{setting}="))
        if self.field is None:
            return text
        return f"{names.get(self.field, self.field)}: {text}"


# ---------------------------------------------------------------- transport
class TransportError(BatchkitError):
    """The request never got an answer; ``method`` and ``url`` say which request."""

    def __init__(self, message: str, *, method: str = "", url: str = "") -> None:
        where = f" ({method} {url})" if method or url else ""
        super().__init__(f"{message}{where}")
        self.method = method
        self.url = url


class ConnectError(TransportError):
    """The server could not be reached."""


class RequestTimeout(TransportError):
    """The server did not answer in time."""


# ---------------------------------------------------------------- API answers
class APIError(BatchkitError):
    """The server answered with an error status.

    ``server_message`` is the server's own ``message`` (a list is joined with ``; ``).
    """

    def __init__(
        self, server_message: str, *, status: int, method: str = "", url: str = ""
    ) -> None:
        super().__init__(f"{status} from {method} {url}: {server_message}".replace("  ", " "))
        self.server_message = server_message
        self.status = status
        self.method = method
        self.url = url


class AuthError(APIError):
    """The credentials or the token were refused (HTTP 401/403, or the socket handshake)."""


class NotFoundError(APIError):
    """The id does not exist or is not the caller's: the server will not say which."""


class RequestRejected(APIError):
    """The request was wrong (400, 413, 415, 422); retrying it unchanged cannot help."""


class RateLimited(APIError):
    """429; ``retry_after`` is the server's ``Retry-After`` in seconds, when it gave one."""

    def __init__(
        self,
        server_message: str,
        *,
        status: int = 429,
        method: str = "",
        url: str = "",
        retry_after: float | None = None,
    ) -> None:
        super().__init__(server_message, status=status, method=method, url=url)
        self.retry_after = retry_after


class ServerError(APIError):
    """5xx: the server failed; the request may succeed later."""


# ---------------------------------------------------------------- streams and runs
class StreamError(BatchkitError):
    """The event stream failed in a way reconnecting cannot mend."""


class RunError(BatchkitError):
    """A run could not be followed, saved or loaded."""


class StalledError(RunError):
    """A step made no progress for longer than its timeout."""


# ---------------------------------------------------------------- server engines
class EngineError(BatchkitError):
    """A local engine of the reference server could not do its work."""


class DocumentError(EngineError):
    """A document is empty, unreadable, or not the format its extension claims."""


class LimitExceeded(EngineError):
    """A story, or one job of its pipeline, would pass one of the server's stated limits.

    ``limit`` is the name of the server setting that was reached (``max_story_words``, ...);
    the message names it too, with its value.
    """

    def __init__(self, message: str, *, limit: str) -> None:
        super().__init__(message)
        self.limit = limit
