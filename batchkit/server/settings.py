"""How the reference server is configured: one frozen value, checked once when it is made."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType

from batchkit.contract import MAX_FILE_BYTES, MAX_FILES, MAX_STORIES, PipelineStep
from batchkit.errors import ConfigError

__all__ = ["LIMITS", "ServerSettings"]


_STEP_NAMES = frozenset(step.value for step in PipelineStep)


def check_fail_rates(rates: Mapping[str, float]) -> Mapping[str, float]:
    """Fail rates keyed by step name, each a probability; raises :class:`ConfigError` otherwise."""
    checked: dict[str, float] = {}
    for step, rate in rates.items():
        if step not in _STEP_NAMES:
            raise ConfigError(
                f"unknown step {step!r}; expected one of {', '.join(sorted(_STEP_NAMES))}",
                field="fail_rates",
            )
        if not (isinstance(rate, int | float) and 0.0 <= float(rate) <= 1.0):
            raise ConfigError(f"{step}={rate!r} is not a probability in 0..1", field="fail_rates")
        checked[step] = float(rate)
    return MappingProxyType(checked)


_KiB, _MiB, _GiB = 1024, 1024 * 1024, 1024 * 1024 * 1024

# ---------------------------------------------------------------- limits against abuse
LIMITS: Mapping[str, str] = MappingProxyType(
    {
        # requests
        "max_json_body_bytes": "bytes of a request body on every route but the uploads",
        "max_header_bytes": "bytes of a request's line and headers",
        "header_timeout_seconds": "seconds a client has to send a request's line and headers",
        "body_idle_timeout_seconds": "seconds a request body may pause between two packets",
        "body_deadline_seconds": "seconds a client has to send a whole request body",
        "refused_body_drain_seconds": (
            "seconds the rest of a body answered early (413, 401) is read and dropped, so "
            "the client sees the answer, before the connection is closed"
        ),
        "max_socket_message_bytes": "bytes of one socket.io message from a client",
        "max_connections": "connections and requests at once; above it new requests get 503",
        "max_story_content_chars": (
            "characters of generatedContent in GET /api/stories/{id}; a longer story's text "
            "is left out (its files.generatedFile has it all)"
        ),
        # per user
        "max_user_stored_bytes": "bytes of uploaded originals one user may keep",
        "max_user_stories_in_flight": "stories of one user pending or processing at once",
        "max_user_batches_per_minute": "batches one user may create in any 60 seconds",
        # logins
        "login_failures_per_user": "failed logins of one user name per login window",
        "login_failures_per_address": "failed logins from one client address per login window",
        "login_window_seconds": "the window the login limits count over",
        "password_hash_workers": "threads that hash passwords (apart from every other work)",
        # the work of engine workers (batchkit.server.work_limits)
        "job_cpu_seconds": "CPU seconds of one engine job (a picture, a spoken chunk, a read)",
        "job_memory_bytes": "bytes of address space of a worker while it runs a job",
        "job_wall_seconds": "seconds of one job, past which its worker is killed and replaced",
        "max_story_words": "words of a document once its text is extracted",
        "max_chunks_per_step": "pictures, or spoken chunks, one story's step may make",
        "max_media_bytes_per_story": "bytes of text, pictures and audio one story may write",
    }
)
"""Every limit of :class:`ServerSettings`, with what it bounds (``batchkit serve`` flags too)."""


@dataclass(frozen=True, slots=True)
class ServerSettings:
    """Everything the reference server can be told.

    ``jwt_secret=None`` means: read it from ``data_dir/jwt-secret``, creating it the first time,
    so that tokens stay valid across a restart on the same data directory. ``users`` maps user
    names to passwords; they are created (or their passwords reset) when the server starts.
    ``removed_users`` are refused from the start
    (their tokens too); a name in both ``users`` and ``removed_users`` is an error. Changing a
    user's password revokes the tokens issued with the old one. :data:`LIMITS` lists the limits.

    Engine work runs in ``workers`` worker processes (:mod:`batchkit.server.worker_pool`); a
    batch has at most ``workers`` stories in progress at once, and waiting jobs are served
    round-robin across users, then batches. Each job is bounded by ``job_cpu_seconds`` of CPU,
    ``job_memory_bytes`` of address space and ``job_wall_seconds`` of wall-clock time; each story
    by ``max_story_words`` words once its text is extracted, ``max_chunks_per_step`` chunks in
    its images or audio step and ``max_media_bytes_per_story`` bytes of generated files
    (:mod:`batchkit.server.work_limits`). A story that would pass one fails, its error naming it.
    """

    host: str = "127.0.0.1"
    port: int = 8000
    data_dir: Path = Path("batchkit-data")
    pace: float = 0.0
    workers: int = 2
    fail_rates: Mapping[str, float] = field(default_factory=dict)
    seed: int | None = None
    users: Mapping[str, str] = field(default_factory=dict, repr=False)
    jwt_secret: str | None = field(default=None, repr=False)
    token_ttl_seconds: int = 12 * 3600
    max_files: int = MAX_FILES
    max_file_bytes: int = MAX_FILE_BYTES
    max_stories: int = MAX_STORIES
    idempotency_ttl_seconds: int = 24 * 3600
    resume_interrupted: bool = True
    # limits against abuse (see LIMITS)
    max_json_body_bytes: int = 1 * _MiB
    max_header_bytes: int = 32 * _KiB
    header_timeout_seconds: float = 15.0
    body_idle_timeout_seconds: float = 30.0
    body_deadline_seconds: float = 600.0
    refused_body_drain_seconds: float = 30.0
    max_socket_message_bytes: int = 64 * _KiB
    max_connections: int = 512
    max_story_content_chars: int = 1 * _MiB
    max_user_stored_bytes: int = 2 * _GiB
    max_user_stories_in_flight: int = 100
    max_user_batches_per_minute: int = 30
    login_failures_per_user: int = 10
    login_failures_per_address: int = 30
    login_window_seconds: float = 60.0
    password_hash_workers: int = 1
    removed_users: frozenset[str] = frozenset()
    # ---- engine workers and the work they may do (batchkit.server.work_limits)
    job_cpu_seconds: float = 60.0
    """CPU time of one job (a picture, a spoken chunk, a document read): ~0.1 s is typical."""
    job_memory_bytes: int = 1 * _GiB
    """Address space of a worker while it runs a job (an idle worker uses ~250 MiB)."""
    job_wall_seconds: float = 120.0
    """Wall-clock time of one job, past which its worker is killed and replaced."""
    max_story_words: int = 2_500_000
    """Words of a document once its text is extracted: a 10 MiB text of prose has ~1.8 million;
    a small ``.docx`` can unpack to many more."""
    max_chunks_per_step: int = 200
    """Pictures, or spoken chunks, one story's step may make."""
    max_media_bytes_per_story: int = 1 * _GiB
    """Bytes of text, pictures and audio one story may write (speech is ~2.5 MiB a minute, and
    the merged file doubles it: ~3 hours of narration)."""

    def __post_init__(self) -> None:
        if not (math.isfinite(self.pace) and self.pace >= 0):
            raise ConfigError(f"{self.pace!r} is not a number of seconds >= 0", field="pace")
        if self.workers < 1:
            raise ConfigError(f"{self.workers!r} must be at least 1", field="workers")
        if not 0 <= self.port <= 65535:
            raise ConfigError(f"{self.port!r} is not a TCP port", field="port")
        if self.token_ttl_seconds < 1:
            raise ConfigError("must be at least one second", field="token_ttl_seconds")
        for name in ("max_files", "max_file_bytes", "max_stories"):
            if getattr(self, name) < 1:
                raise ConfigError("must be at least 1", field=name)
        object.__setattr__(self, "data_dir", Path(self.data_dir))
        object.__setattr__(self, "fail_rates", check_fail_rates(self.fail_rates))
        object.__setattr__(self, "users", MappingProxyType(dict(self.users)))
        self._check_limits()

    def _check_limits(self) -> None:
        for name in LIMITS:
            value = getattr(self, name)
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ConfigError(f"{value!r} is not a number", field=name)
            if not (math.isfinite(value) and value > 0):
                raise ConfigError(f"{value!r} must be more than 0", field=name)
        object.__setattr__(self, "removed_users", frozenset(self.removed_users))
        both = sorted(self.removed_users & set(self.users))
        if both:
            raise ConfigError(
                f"{', '.join(both)}: a user cannot be both created and removed",
                field="removed_users",
            )
