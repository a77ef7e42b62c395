"""The HTTP side of the Story API: :class:`StoryClient` and what it is made of.

* :class:`StoryClient`: one async method per REST endpoint, retries, re-login, typed errors.
* :class:`RetryPolicy` and :class:`Resend`: when a failed request is sent again.
* :class:`Secret`: a token or password that never shows itself in a ``repr`` or a log.
* :class:`ClientSettings`: base URL, profile and credentials from arguments or the environment.
"""

from batchkit.client.retry import Resend, RetryPolicy, parse_retry_after
from batchkit.client.secret import Secret
from batchkit.client.settings import ClientSettings
from batchkit.client.story_client import StoryClient
from batchkit.client.uploads import ProgressCallback

__all__ = [
    "ClientSettings",
    "ProgressCallback",
    "Resend",
    "RetryPolicy",
    "Secret",
    "StoryClient",
    "parse_retry_after",
]
