"""A full disk: how to recognise it, and how to record what must be recorded anyway.

When the data directory's disk fills up, a pipeline's engine fails with ``ENOSPC`` and SQLite
with ``database or disk is full`` — often while the server records that very failure. The
story must still end as failed, with a message that says why, once there is room to say it:
:func:`while_disk_full` retries the recording until it succeeds (or the server stops), so
nothing stays ``processing`` after space is freed, and the server goes on meanwhile.
"""

from __future__ import annotations

import asyncio
import errno
import logging
import sqlite3
from collections.abc import Awaitable, Callable
from typing import Final, TypeVar

__all__ = ["describe_disk_full", "is_disk_full", "while_disk_full"]

logger = logging.getLogger(__name__)

T = TypeVar("T")

_FULL_ERRNOS: Final = frozenset({errno.ENOSPC, errno.EDQUOT})
_SQLITE_FULL: Final = 13
_FIRST_RETRY: Final = 0.25
_LAST_RETRY: Final = 5.0


def is_disk_full(exc: BaseException) -> bool:
    """Whether ``exc`` (or what caused it) says the disk is full."""
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, OSError) and seen.errno in _FULL_ERRNOS:
            return True
        if isinstance(seen, sqlite3.OperationalError) and (
            getattr(seen, "sqlite_errorcode", None) == _SQLITE_FULL
            or "database or disk is full" in str(seen)
        ):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def describe_disk_full(while_doing: str) -> str:
    """The message of a story that failed because the disk is full."""
    return (
        f"the server's disk is full: no space was left while {while_doing}; "
        "free some space and run it again"
    )


async def while_disk_full(work: Callable[[], Awaitable[T]], what: str) -> T:
    """``await work()``, again and again while it fails because the disk is full.

    Waits a little longer after each try (up to 5 s); logs one line the first time. Any other
    error is raised at once; cancellation (the server stopping) ends the retries.
    """
    delay = _FIRST_RETRY
    warned = False
    while True:
        try:
            return await work()
        except Exception as exc:
            if not is_disk_full(exc):
                raise
            if not warned:
                logger.warning("the disk is full: %s will be recorded once there is room", what)
                warned = True
        await asyncio.sleep(delay)  # a retry's back-off, not synchronisation
        delay = min(delay * 2, _LAST_RETRY)
