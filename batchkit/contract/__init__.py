"""The Story API wire contract (``docs/contract/``) as pydantic v2 models.

Shared by the reference server and the client; nothing here does I/O. camelCase aliases on the
wire, snake_case attributes in Python.
"""

from batchkit.contract.events import *  # noqa: F403
from batchkit.contract.events import __all__ as _events_all
from batchkit.contract.limits import *  # noqa: F403
from batchkit.contract.limits import __all__ as _limits_all
from batchkit.contract.rest import *  # noqa: F403
from batchkit.contract.rest import __all__ as _rest_all
from batchkit.contract.wire import JsonNumber, RequestModel, ServerTime, WireModel, as_utc

__all__ = [
    *_limits_all,
    *_rest_all,
    *_events_all,
    "JsonNumber",
    "RequestModel",
    "ServerTime",
    "WireModel",
    "as_utc",
]
