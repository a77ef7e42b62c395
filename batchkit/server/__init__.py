"""The reference Story API server: FastAPI and python-socketio on uvicorn, SQLite, local engines.

``start_embedded_server()`` runs one in the background (notebooks, tests); ``batchkit serve``
runs one in the foreground; ``create_app(settings)`` is the bare ASGI application.
"""

from batchkit.server.app import create_app
from batchkit.server.launcher import Credentials, EmbeddedServer, start_embedded_server
from batchkit.server.settings import Engines, ServerSettings

__all__ = [
    "Credentials",
    "EmbeddedServer",
    "Engines",
    "ServerSettings",
    "create_app",
    "start_embedded_server",
]
