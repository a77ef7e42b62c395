"""Login attempts, limited per user name and per client address over a sliding window.

Every attempt counts from the moment it starts (so a flood sent all at once is refused as
surely as one sent in turn) and a successful one is forgiven, so only failures stay counted.
A refused attempt is answered 429 with ``Retry-After`` before any password is hashed.
"""

from __future__ import annotations

import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http import HTTPStatus

from batchkit.server.http_errors import LimitReached

__all__ = ["LoginAttempt", "LoginLimiter"]

_MAX_KEYS = 10_000
"""Windows kept before the expired ones are swept (keeps memory bounded under a spray)."""


@dataclass(frozen=True, slots=True)
class LoginAttempt:
    """One attempt in progress; give it back to :meth:`LoginLimiter.succeeded` if it worked."""

    username: str
    address: str
    at: float


class _Windows:
    """One sliding window of attempt times per key."""

    def __init__(self, limit: int, window: float) -> None:
        self.limit = limit
        self._window = window
        self._times: dict[str, deque[float]] = {}

    def wait(self, key: str, now: float) -> float:
        """Seconds until ``key`` may try again (0: now)."""
        times = self._times.get(key)
        if times is None:
            return 0.0
        while times and times[0] <= now - self._window:
            times.popleft()
        if not times:
            del self._times[key]
            return 0.0
        return times[0] + self._window - now if len(times) >= self.limit else 0.0

    def add(self, key: str, now: float) -> None:
        if len(self._times) >= _MAX_KEYS:
            self._sweep(now)
        self._times.setdefault(key, deque()).append(now)

    def remove(self, key: str, at: float) -> None:
        times = self._times.get(key)
        if times is not None and at in times:
            times.remove(at)

    def _sweep(self, now: float) -> None:
        for key in list(self._times):
            self.wait(key, now)


class LoginLimiter:
    """Failed logins: at most ``per_user`` per user name and ``per_address`` per address."""

    def __init__(
        self,
        *,
        per_user: int,
        per_address: int,
        window: float,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._users = _Windows(per_user, window)
        self._addresses = _Windows(per_address, window)
        self._window = window
        self._clock = clock

    def begin(self, username: str, address: str) -> LoginAttempt:
        """Count an attempt; :class:`LimitReached` (429) if either window is full."""
        now = self._clock()
        for windows, key, setting, whom in (
            (self._users, username, "login_failures_per_user", "this user name"),
            (self._addresses, address, "login_failures_per_address", "your address"),
        ):
            wait = windows.wait(key, now)
            if wait > 0:
                raise LimitReached(
                    HTTPStatus.TOO_MANY_REQUESTS,
                    f"too many failed logins for {whom}: at most {windows.limit} in"
                    f" {self._window:g} s ({setting}); try again in {math.ceil(wait)} s",
                    retry_after=wait,
                )
        self._users.add(username, now)
        self._addresses.add(address, now)
        return LoginAttempt(username, address, now)

    def succeeded(self, attempt: LoginAttempt) -> None:
        """Forgive a successful attempt."""
        self._users.remove(attempt.username, attempt.at)
        self._addresses.remove(attempt.address, attempt.at)
