"""When a failed request may be sent again, and how long to wait first.

Exponential backoff with full jitter (a random wait between zero and the exponential cap), unless
the server said how long to wait in ``Retry-After``. Attempts and total time are both bounded.
Whether a request may be resent at all depends on what a duplicate would do: see :class:`Resend`.
"""

from __future__ import annotations

import asyncio
import math
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from enum import StrEnum

from batchkit.errors import (
    BatchkitError,
    ConnectError,
    RateLimited,
    ServerError,
    TransportError,
)

__all__ = ["Resend", "RetryPolicy", "parse_retry_after"]


class Resend(StrEnum):
    """Which failures a request may be sent again after."""

    ALWAYS = "always"
    """Idempotent (GET, login, a create carrying an honoured ``Idempotency-Key``): resend after
    any transport failure, 429 or 5xx."""
    BEFORE_SEND = "before-send"
    """Not idempotent: resend only when the server surely did nothing, that is when the
    connection could not be made, or the server answered 429 (refused without acting)."""
    NEVER = "never"

    def allows(self, error: BatchkitError) -> bool:
        """True if a request that failed with ``error`` may be sent again."""
        if self is Resend.NEVER:
            return False
        if isinstance(error, ConnectError | RateLimited):
            return True
        return self is Resend.ALWAYS and isinstance(error, TransportError | ServerError)


def _full_jitter(cap: float) -> float:
    return random.uniform(0.0, cap)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """How many times and how long to keep trying; ``sleep``, ``clock``, ``jitter`` are seams."""

    attempts: int = 5
    """Tries in all, the first included."""
    base_delay: float = 0.5
    max_delay: float = 15.0
    """The cap of one jittered wait (a server's ``Retry-After`` may ask for more)."""
    deadline: float = 60.0
    """Seconds from the first try after which no new try starts."""
    sleep: Callable[[float], Awaitable[None]] = field(default=asyncio.sleep, repr=False)
    clock: Callable[[], float] = field(default=time.monotonic, repr=False)
    jitter: Callable[[float], float] = field(default=_full_jitter, repr=False)

    def delay(
        self,
        error: BatchkitError,
        *,
        resend: Resend,
        attempt: int,
        elapsed: float,
        retry_after: float | None = None,
    ) -> float | None:
        """Seconds to wait before try ``attempt + 1``, or ``None`` to give up and raise."""
        if attempt >= self.attempts or not resend.allows(error):
            return None
        if retry_after is not None:
            wait = max(0.0, retry_after)
        else:
            wait = self.jitter(min(self.max_delay, self.base_delay * 2 ** (attempt - 1)))
        if elapsed + wait > self.deadline:
            return None
        return wait


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """``Retry-After`` in seconds from now: delta-seconds or an HTTP date; ``None`` if unusable."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)  # the standard says whole seconds; be lenient with "1.5"
    except ValueError:
        pass
    else:
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())
