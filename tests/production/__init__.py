"""A production double: our own test server that behaves like the *production* Story API.

Production (NestJS, Bull queues, MongoDB, paid AI APIs) cannot run in a test environment, which
is why a double is legitimate here. It reproduces every production quirk that
``docs/contract/production.md`` lists (no ``join-batch-room`` handler, early story events,
record-counting status, 500s for unknown ids, "accept then disconnect" for a missing socket token,
crash retries that duplicate stories, ...) so that batchkit's client can be tested against it. It
is independent of ``batchkit.server``.

Use it as a context manager::

    with start_production_double(pace=0.0) as prod:
        client = StoryClient(prod.url, prod.username, prod.password)
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType, TracebackType
from typing import Self

from batchkit.contract import StoryFlags

from .app import build_app
from .runner import ServerThread
from .state import EmittedEvent, ProductionState

__all__ = ["EmittedEvent", "ProductionDouble", "start_production_double"]

_DEFAULT_USERS: Mapping[str, str] = MappingProxyType({"prod": "prod-pw"})


class ProductionDouble:
    """A running double. Introspection reads copies; controls act on the server's own loop."""

    def __init__(
        self,
        *,
        users: Mapping[str, str],
        pace: float,
        crash_batches: int,
        token_ttl: float,
    ) -> None:
        if not users:
            raise ValueError("the double needs at least one user")
        self._state = ProductionState(
            users, pace=pace, crash_batches=crash_batches, token_ttl=token_ttl
        )
        self._app = build_app(self._state)
        self._thread = ServerThread(self._app.asgi)
        self.url = self._thread.url
        """``http://127.0.0.1:<port>``, without ``/api``."""
        self.username, self.password = next(iter(users.items()))
        """The first user's credentials."""

    def __repr__(self) -> str:
        return f"ProductionDouble(url={self.url!r}, user={self.username!r})"

    # ------------------------------------------------------------ lifecycle
    def start(self) -> Self:
        self._thread.start()
        return self

    def stop(self) -> None:
        """Cancel the simulated jobs, close every socket, stop the server. Idempotent."""
        if self._thread.running:
            self._thread.call(self._state.cancel_work())
            self.drop_connections()
        self._thread.stop()

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()

    # ------------------------------------------------------------ controls
    def drop_connections(self) -> int:
        """Disconnect every socket server-side (clients see "server disconnect"); how many."""

        async def drop() -> int:
            sids = list(self._state.sockets)
            for sid in sids:
                await self._app.sio.disconnect(sid)
            return len(sids)

        return self._thread.call(drop())

    def forget(self) -> None:
        """Restart with the memory gone: jobs die, uploads, batches and stories vanish (their
        status answers 500 "Batch job not found"), and old tokens are refused."""
        self._thread.call(self._state.forget())

    def rotate_keys(self) -> None:
        """Sign tokens with new keys: every token issued before is refused from now on."""
        self._state.tokens = type(self._state.tokens)(self._state.token_ttl)

    def drop_sockets_after(self, seconds: float | None) -> None:
        """From now on, close each socket server-side ``seconds`` after accepting it (None:
        stop doing so); the token is fine, the server just keeps dropping its clients."""
        self._state.drop_after_connect = seconds

    def limit_records(self, budget: int | None) -> None:
        """Let batch loops create at most ``budget`` more story records; None lifts the limit.

        A loop that runs out waits *after* it has raised ``progress`` for the next record, which
        is how a test sees production's "100 % while the last record is still being made".
        """
        self._thread.call(self._state.set_record_budget(budget))

    async def wait_idle(self, within: float = 5.0) -> None:
        """Wait (from the test's loop) until no simulated batch or story job is running.

        Raises :class:`TimeoutError` if that takes more than ``within`` seconds.
        """
        await self._thread.call_async(self._state.wait_idle(), within)

    # ------------------------------------------------------------ introspection
    @property
    def batches_created(self) -> int:
        return len(self._state.batches)

    @property
    def stories_created(self) -> int:
        return len(self._state.stories)

    @property
    def connected_sockets(self) -> int:
        return len(self._state.sockets)

    def batch_events(self, batch_id: str) -> list[EmittedEvent]:
        """Events sent to ``batch-<id>``, a room no client can join."""
        return [e for e in list(self._state.batch_events) if e.payload.get("batchId") == batch_id]

    def story_events(self, story_id: str) -> list[EmittedEvent]:
        """Events sent to ``story-<id>``, each with the story's flags at that moment."""
        return [e for e in list(self._state.story_events) if e.payload.get("storyId") == story_id]

    def flag_history(self, story_id: str) -> list[StoryFlags]:
        """Every value the story's status flags took, in order, starting with all false."""
        return list(self._state.flag_history.get(story_id, []))

    def batch_ids(self) -> list[str]:
        """Every batch made, in creation order."""
        return list(self._state.batches)

    def story_file(self, story_id: str) -> str | None:
        """The ``fileUrl`` story ``story_id`` was made from."""
        story = self._state.stories.get(story_id)
        return None if story is None else story.file_url

    def story_ids(self, batch_id: str) -> list[str]:
        """The batch's story ids in creation order (duplicates from crash retries included)."""
        batch = self._state.batches.get(batch_id)
        return list(batch.story_ids) if batch is not None else []


def start_production_double(
    *,
    users: Mapping[str, str] = _DEFAULT_USERS,
    pace: float = 0.0,
    crash_batches: int = 0,
    token_ttl: float = 3600.0,
    retry_backoff: float | None = None,
    heartbeat: float | None = None,
    naive_times: bool = False,
    slow_for: float = 0.0,
    step_seconds: float | None = None,
) -> ProductionDouble:
    """Start a production double on 127.0.0.1 (a free port) and return it, already listening.

    ``users`` maps user names to passwords (the first is ``.username``/``.password``); ``pace``
    is the seconds each simulated step takes; the first ``crash_batches`` batches crash once
    mid-loop and are retried, after ``retry_backoff`` seconds (default: ``pace``) during which
    their status reads ``failed``; ``token_ttl`` is the access token's real lifetime (its
    ``exp``); ``heartbeat``: while an auto-mode step works, a 0 % ``auto-mode-progress`` this
    often; ``naive_times``: event timestamps without a UTC offset; ``slow_for``: how long a
    story whose file starts with ``SLOW`` waits, without a word, after its first event;
    ``step_seconds``: how long each auto-mode step works (default: ``pace``). Use it in a
    ``with`` block, or call ``.stop()``.
    """
    double = ProductionDouble(
        users=users, pace=pace, crash_batches=crash_batches, token_ttl=token_ttl
    )
    state = double._state
    state.retry_backoff = pace if retry_backoff is None else retry_backoff
    state.heartbeat = heartbeat
    state.naive_times = naive_times
    state.slow_for = slow_for
    state.step_seconds = pace if step_seconds is None else step_seconds
    return double.start()
