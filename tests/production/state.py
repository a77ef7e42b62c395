"""In-memory state of the production double: users, tokens, uploads, batches, stories.

Everything here lives on the double's own event loop thread; the test thread reads it only
through the copies :class:`~production.ProductionDouble` hands out.
"""

from __future__ import annotations

import asyncio
import re
import secrets
import time
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

import jwt

from batchkit.contract import AutoModeConfig, BatchState, StoryFlags, StoryInput

_OBJECT_ID = re.compile(r"[0-9a-fA-F]{24}")
EXPIRES_IN = "7d"
"""What production's login says about a token's lifetime, whatever the token's ``exp`` says."""


def new_object_id() -> str:
    """A MongoDB-like ObjectId: 4 bytes of seconds, then 8 random bytes, as 24 hex digits."""
    return f"{int(time.time()):08x}{secrets.token_hex(8)}"


def is_object_id(value: str) -> bool:
    """Whether ``value`` would cast to an ObjectId (production answers 500 when it does not)."""
    return _OBJECT_ID.fullmatch(value) is not None


def utc_now() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class User:
    id: str
    username: str
    password: str = field(repr=False)

    def info(self) -> dict[str, str]:
        """The ``user`` object of the login response."""
        return {
            "_id": self.id,
            "username": self.username,
            "email": f"{self.username}@example.com",
            "fullName": self.username.title(),
            "role": "user",
        }


@dataclass(slots=True)
class Upload:
    file_path: str
    file_name: str
    data: bytes = field(repr=False)
    owner_id: str


@dataclass(slots=True)
class StoryRecord:
    id: str
    owner_id: str
    batch_id: str | None
    title: str
    custom_prompt: str | None
    file_url: str
    flags: StoryFlags = field(default_factory=StoryFlags)
    generated_content: str | None = field(default=None, repr=False)
    generated_file: str | None = None
    original_word_count: int = 0
    generated_word_count: int = 0
    processing_time: float = 0.0
    created_at: datetime = field(default_factory=utc_now)
    updated_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class BatchRecord:
    id: str
    owner_id: str
    job_id: str
    inputs: list[StoryInput]
    auto_mode: AutoModeConfig
    crash_pending: bool
    status: BatchState = BatchState.PENDING
    completed_stories: int = 0
    failed_stories: int = 0
    progress: float = 0.0
    story_ids: list[str] = field(default_factory=list)


@dataclass(frozen=True, slots=True)
class EmittedEvent:
    """One event the double sent, with the story's flags at that instant (for story rooms)."""

    name: str
    room: str
    payload: dict[str, Any]
    flags: StoryFlags | None = None


class Tokens:
    """Production's JWTs, with its refresh bug: refreshed tokens are signed with the wrong key."""

    def __init__(self, ttl: float) -> None:
        self._access_key = secrets.token_urlsafe(32)
        self._refresh_key = secrets.token_urlsafe(32)
        self._ttl = ttl

    def issue(self, user: User, *, refreshed: bool = False) -> dict[str, Any]:
        """The token fields of a login (or refresh) response."""
        now = utc_now()
        expires_at = now + timedelta(seconds=self._ttl)
        # The bug being reproduced: a refreshed access token is signed with the refresh key,
        # so the access guard, which checks the access key, rejects it.
        access_key = self._refresh_key if refreshed else self._access_key
        access = jwt.encode(
            {"sub": user.id, "username": user.username, "iat": now, "exp": expires_at},
            access_key,
            algorithm="HS256",
        )
        refresh = jwt.encode(
            {"sub": user.id, "kind": "refresh", "exp": now + timedelta(days=30)},
            self._refresh_key,
            algorithm="HS256",
        )
        return {
            "accessToken": access,
            "refreshToken": refresh,
            "tokenType": "Bearer",
            "expiresIn": EXPIRES_IN,
            "expiresAt": expires_at.isoformat().replace("+00:00", "Z"),
        }

    def access_subject(self, token: str) -> str | None:
        """The user id of a valid access token, else None."""
        return self._subject(token, self._access_key, kind=None)

    def refresh_subject(self, token: str) -> str | None:
        """The user id of a valid refresh token, else None."""
        return self._subject(token, self._refresh_key, kind="refresh")

    @staticmethod
    def _subject(token: str, key: str, kind: str | None) -> str | None:
        try:
            claims = jwt.decode(token, key, algorithms=["HS256"])
        except jwt.PyJWTError:
            return None
        if claims.get("kind") != kind:
            return None
        subject = claims.get("sub")
        return subject if isinstance(subject, str) else None


class ProductionState:
    """All records of the double plus what tests may inspect (events sent, flag history)."""

    def __init__(
        self, users: Mapping[str, str], *, pace: float, crash_batches: int, token_ttl: float
    ) -> None:
        self.pace = pace
        self.token_ttl = token_ttl
        self.tokens = Tokens(token_ttl)
        self.users = {name: User(new_object_id(), name, pw) for name, pw in users.items()}
        self.uploads: dict[str, Upload] = {}
        self.batches: dict[str, BatchRecord] = {}
        self.stories: dict[str, StoryRecord] = {}
        self.batch_events: list[EmittedEvent] = []
        self.story_events: list[EmittedEvent] = []
        self.flag_history: dict[str, list[StoryFlags]] = {}
        self.sockets: set[str] = set()
        self.lost_batches: set[str] = set()
        """Batches a restart forgot: their status is 500 "Batch job not found"."""
        self.lost_stories: set[str] = set()
        """Stories a restart forgot: joining their room is an ``error STORY_NOT_FOUND``."""
        self.drop_after_connect: float | None = None
        """Close every socket this many seconds after accepting it (a server that keeps
        dropping its clients); None: keep sockets open."""
        self.heartbeat: float | None = None
        """While an auto-mode step works, send ``auto-mode-progress`` at 0 % this often."""
        self.step_seconds: float = pace
        """How long each auto-mode step's work takes, after its events said it was done."""
        self.retry_backoff: float = pace
        """Seconds between a crashed batch attempt and the next (Bull's back-off)."""
        self.slow_for: float = 0.0
        """How long a story whose file starts with ``SLOW`` waits, silently, before its work."""
        self.naive_times: bool = False
        """Send event timestamps without a UTC offset (ISO-8601 allows it)."""
        self._crashes_left = crash_batches
        self._last_job_id = 0
        self._record_budget: int | None = None
        self._budget_changed = asyncio.Condition()
        self._tasks: set[asyncio.Task[None]] = set()
        self._idle = asyncio.Event()
        self._idle.set()

    # ------------------------------------------------------------ users
    def user_by_id(self, user_id: str | None) -> User | None:
        return next((u for u in self.users.values() if u.id == user_id), None)

    def user_for_token(self, token: object) -> User | None:
        """The owner of a valid access token; None for anything else."""
        if not isinstance(token, str) or not token:
            return None
        return self.user_by_id(self.tokens.access_subject(token))

    # ------------------------------------------------------------ jobs and records
    def next_job_id(self) -> str:
        self._last_job_id += 1
        return str(self._last_job_id)

    def add_batch(self, owner: User, inputs: list[StoryInput], auto: AutoModeConfig) -> BatchRecord:
        crash = self._crashes_left > 0
        self._crashes_left -= int(crash)
        batch = BatchRecord(new_object_id(), owner.id, self.next_job_id(), inputs, auto, crash)
        self.batches[batch.id] = batch
        return batch

    def add_story(self, batch: BatchRecord, index: int) -> StoryRecord:
        item = batch.inputs[index]
        story = StoryRecord(
            id=new_object_id(),
            owner_id=batch.owner_id,
            batch_id=batch.id,
            title=item.title or f"Story {index + 1}",
            custom_prompt=item.custom_prompt,
            file_url=item.file_url,
        )
        self.stories[story.id] = story
        self.flag_history[story.id] = [story.flags]
        return story

    def set_flags(self, story: StoryRecord, flags: StoryFlags) -> None:
        story.flags = flags
        story.updated_at = utc_now()
        self.flag_history[story.id].append(flags)

    def owned_batch(self, batch_id: str, user: User) -> BatchRecord | None:
        batch = self.batches.get(batch_id) if is_object_id(batch_id) else None
        return batch if batch is not None and batch.owner_id == user.id else None

    def owned_story(self, story_id: object, user: User) -> StoryRecord | None:
        if not isinstance(story_id, str) or not is_object_id(story_id):
            return None
        story = self.stories.get(story_id)
        return story if story is not None and story.owner_id == user.id else None

    # ------------------------------------------------------------ test controls
    async def set_record_budget(self, budget: int | None) -> None:
        """Let the batch loops create at most ``budget`` more records (None: no limit)."""
        async with self._budget_changed:
            self._record_budget = budget
            self._budget_changed.notify_all()

    async def take_record_permit(self) -> None:
        """Wait until the budget allows one more record, then spend it."""
        async with self._budget_changed:
            await self._budget_changed.wait_for(
                lambda: self._record_budget is None or self._record_budget > 0
            )
            if self._record_budget is not None:
                self._record_budget -= 1

    # ------------------------------------------------------------ background work
    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        """Run simulated queue work in the background, counted for :meth:`wait_idle`."""
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        self._idle.clear()
        task.add_done_callback(self._forget)

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        if not self._tasks:
            self._idle.set()

    async def wait_idle(self) -> None:
        """Return once no simulated job is running (new jobs may start later)."""
        await self._idle.wait()

    async def forget(self) -> None:
        """A restart that lost the server's memory: every job dies, every upload, batch and
        story is gone, and tokens signed before it are refused (users can log in again)."""
        await self.cancel_work()
        self.lost_batches |= set(self.batches)
        self.lost_stories |= set(self.stories)
        self.batches.clear()
        self.stories.clear()
        self.uploads.clear()
        self.tokens = Tokens(self.token_ttl)

    async def cancel_work(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        await asyncio.gather(*self._tasks, return_exceptions=True)
