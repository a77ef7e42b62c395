"""The reference Story API server: FastAPI and python-socketio on uvicorn, SQLite, local engines.

``start_embedded_server()`` runs one in the background (notebooks, tests); ``batchkit serve``
runs one in the foreground; ``create_app(settings)`` is the bare ASGI application.

The names below are imported when first used, so that an engine worker
(``python -m batchkit.server.worker``) starts without loading the web stack.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from batchkit.server.app import create_app
    from batchkit.server.launcher import Credentials, EmbeddedServer, start_embedded_server
    from batchkit.server.settings import ServerSettings

__all__ = [
    "Credentials",
    "EmbeddedServer",
    "ServerSettings",
    "create_app",
    "start_embedded_server",
]

_HOMES = {
    "create_app": "batchkit.server.app",
    "Credentials": "batchkit.server.launcher",
    "EmbeddedServer": "batchkit.server.launcher",
    "start_embedded_server": "batchkit.server.launcher",
    "ServerSettings": "batchkit.server.settings",
}


def __getattr__(name: str) -> Any:
    home = _HOMES.get(name)
    if home is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(home), name)
