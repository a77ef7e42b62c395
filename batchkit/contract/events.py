"""Socket.io messages (sections 3 and 4 of the contract) as one discriminated union.

On the wire an event is a name plus a payload object; the name is not inside the payload. Here
each model carries its name in ``event`` so that one union can tell them apart:
:func:`parse_event` puts the name in, :meth:`EventModel.payload` takes it out again.
"""

from __future__ import annotations

from enum import StrEnum
from typing import Annotated, Any, Final, Literal, get_args

from pydantic import Field, TypeAdapter

from batchkit.contract.rest import BatchStatusResponse, StoryFlags
from batchkit.contract.wire import ServerTime, WireModel

__all__ = [
    "EVENT_ADAPTER",
    "PROGRESS_EVENTS",
    "AutoModeComplete",
    "AutoModeError",
    "AutoModeProgress",
    "AutoModeStart",
    "BatchStoriesComplete",
    "BatchStoriesError",
    "BatchStoriesProgress",
    "BatchStoriesStart",
    "ClientMessage",
    "EventModel",
    "EventName",
    "JoinedBatchRoom",
    "JoinedStoryRoom",
    "LeftBatchRoom",
    "LeftStoryRoom",
    "RoomStory",
    "ServerEvent",
    "SocketError",
    "SocketException",
    "StoryProcessingComplete",
    "StoryProcessingError",
    "StoryProcessingProgress",
    "StoryProcessingStart",
    "batch_room",
    "parse_event",
    "story_room",
]


class EventName(StrEnum):
    """Every message the server sends."""

    BATCH_START = "batch-stories-start"
    BATCH_PROGRESS = "batch-stories-progress"
    BATCH_COMPLETE = "batch-stories-complete"
    BATCH_ERROR = "batch-stories-error"
    STORY_START = "story:processing:start"
    STORY_PROGRESS = "story:processing:progress"
    STORY_COMPLETE = "story:processing:complete"
    STORY_ERROR = "story-processing-error"
    AUTO_START = "auto-mode-start"
    AUTO_PROGRESS = "auto-mode-progress"
    AUTO_COMPLETE = "auto-mode-complete"
    AUTO_ERROR = "auto-mode-error"
    JOINED_BATCH = "joined-batch-room"
    LEFT_BATCH = "left-batch-room"
    JOINED_STORY = "joined-story-room"
    LEFT_STORY = "left-story-room"
    ERROR = "error"
    EXCEPTION = "exception"


class ClientMessage(StrEnum):
    """Every message a client sends (the server sends no acks)."""

    JOIN_BATCH = "join-batch-room"
    LEAVE_BATCH = "leave-batch-room"
    JOIN_STORY = "join-story-room"
    LEAVE_STORY = "leave-story-room"


def batch_room(batch_id: str) -> str:
    return f"batch-{batch_id}"


def story_room(story_id: str) -> str:
    return f"story-{story_id}"


class EventModel(WireModel):
    """What every server message has: its name and, from the reference server, ``seq`` (EXT)."""

    event: str
    seq: int | None = None

    def payload(self) -> dict[str, Any]:
        """The payload as sent on the wire: camelCase, without ``event``."""
        return self.model_dump(mode="json", by_alias=True, exclude={"event"}, exclude_none=True)


# ---------------------------------------------------------------- batch room
class BatchStoriesStart(EventModel):
    event: Literal[EventName.BATCH_START] = EventName.BATCH_START
    batch_id: str
    total_stories: int
    timestamp: ServerTime


class BatchStoriesProgress(EventModel):
    event: Literal[EventName.BATCH_PROGRESS] = EventName.BATCH_PROGRESS
    batch_id: str
    current_story: int
    total_stories: int
    progress: float
    message: str = ""
    timestamp: ServerTime
    story_id: str | None = None
    file_name: str | None = None


class BatchStoriesComplete(EventModel):
    event: Literal[EventName.BATCH_COMPLETE] = EventName.BATCH_COMPLETE
    batch_id: str
    total_stories: int
    completed_stories: int
    failed_stories: int
    story_ids: list[str] = Field(default_factory=list)
    errors: list[str] = Field(default_factory=list)
    timestamp: ServerTime


class BatchStoriesError(EventModel):
    event: Literal[EventName.BATCH_ERROR] = EventName.BATCH_ERROR
    batch_id: str
    error: str
    timestamp: ServerTime


# ---------------------------------------------------------------- story room: the story step
class StoryProcessingStart(EventModel):
    event: Literal[EventName.STORY_START] = EventName.STORY_START
    story_id: str
    step: str = "story_generation"
    estimated_time: float = 0.0
    total_steps: int = 1
    timestamp: ServerTime


class StoryProcessingProgress(EventModel):
    event: Literal[EventName.STORY_PROGRESS] = EventName.STORY_PROGRESS
    story_id: str
    progress: float
    step: str = ""
    message: str = ""
    current_step: int = 0
    total_steps: int = 1
    estimated_time_remaining: float = 0.0
    timestamp: ServerTime


class StoryProcessingComplete(EventModel):
    event: Literal[EventName.STORY_COMPLETE] = EventName.STORY_COMPLETE
    story_id: str
    generated_word_count: int = 0
    original_word_count: int = 0
    processing_time: float = 0.0
    success: bool = True
    timestamp: ServerTime


class StoryProcessingError(EventModel):
    event: Literal[EventName.STORY_ERROR] = EventName.STORY_ERROR
    story_id: str
    error: str
    step: str = ""
    processing_time: float = 0.0
    retryable: bool = False
    timestamp: ServerTime


# ---------------------------------------------------------------- story room: auto mode
class AutoModeStart(EventModel):
    event: Literal[EventName.AUTO_START] = EventName.AUTO_START
    story_id: str
    step: str
    config: dict[str, Any] = Field(default_factory=dict)
    timestamp: ServerTime


class AutoModeProgress(EventModel):
    event: Literal[EventName.AUTO_PROGRESS] = EventName.AUTO_PROGRESS
    story_id: str
    step: str
    progress: float = 0.0
    message: str = ""
    timestamp: ServerTime
    current: int | None = None
    total: int | None = None


class AutoModeComplete(EventModel):
    event: Literal[EventName.AUTO_COMPLETE] = EventName.AUTO_COMPLETE
    story_id: str
    step: str
    completed_steps: list[str] = Field(default_factory=list)
    timestamp: ServerTime


class AutoModeError(EventModel):
    event: Literal[EventName.AUTO_ERROR] = EventName.AUTO_ERROR
    story_id: str
    step: str
    error: str
    timestamp: ServerTime


# ---------------------------------------------------------------- room replies and failures
class JoinedBatchRoom(EventModel):
    event: Literal[EventName.JOINED_BATCH] = EventName.JOINED_BATCH
    batch_id: str
    status: BatchStatusResponse
    timestamp: ServerTime


class LeftBatchRoom(EventModel):
    event: Literal[EventName.LEFT_BATCH] = EventName.LEFT_BATCH
    batch_id: str
    timestamp: ServerTime


class RoomStory(WireModel):
    id: str
    title: str
    status: StoryFlags
    created_at: ServerTime
    updated_at: ServerTime


class JoinedStoryRoom(EventModel):
    event: Literal[EventName.JOINED_STORY] = EventName.JOINED_STORY
    story_id: str
    story: RoomStory
    timestamp: ServerTime


class LeftStoryRoom(EventModel):
    event: Literal[EventName.LEFT_STORY] = EventName.LEFT_STORY
    story_id: str
    timestamp: ServerTime


class SocketError(EventModel):
    """``error {code, message, details?}``: a room message was refused."""

    event: Literal[EventName.ERROR] = EventName.ERROR
    code: str
    message: str
    details: Any = None


class SocketException(EventModel):
    """Production's auth guard: ``exception {status: "error", message, cause}``."""

    event: Literal[EventName.EXCEPTION] = EventName.EXCEPTION
    status: str = "error"
    message: str = ""
    cause: Any = None


ServerEvent = Annotated[
    BatchStoriesStart
    | BatchStoriesProgress
    | BatchStoriesComplete
    | BatchStoriesError
    | StoryProcessingStart
    | StoryProcessingProgress
    | StoryProcessingComplete
    | StoryProcessingError
    | AutoModeStart
    | AutoModeProgress
    | AutoModeComplete
    | AutoModeError
    | JoinedBatchRoom
    | LeftBatchRoom
    | JoinedStoryRoom
    | LeftStoryRoom
    | SocketError
    | SocketException,
    Field(discriminator="event"),
]
"""Any message the server sends, told apart by its name."""

EVENT_ADAPTER: TypeAdapter[ServerEvent] = TypeAdapter(ServerEvent)

PROGRESS_EVENTS: Final[frozenset[type[EventModel]]] = frozenset(
    {AutoModeProgress, StoryProcessingProgress}
)
"""The messages that say how far a story's step has got: they come in bursts, one per chunk,
and none of them ever starts, ends or fails a step."""

_MODEL_OF: Final[dict[str, type[EventModel]]] = {
    str(model.model_fields["event"].default): model for model in get_args(get_args(ServerEvent)[0])
}
"""Each message's model by its name: a payload is validated by its own model at once, without a
copy of it to carry the name or a search of the union (this is the hot path of a live run)."""


def parse_event(name: str, payload: object) -> ServerEvent:
    """Validate one received message. Raises :class:`pydantic.ValidationError` when malformed."""
    model = _MODEL_OF.get(name)
    if model is not None and isinstance(payload, dict) and "event" not in payload:
        return model.__pydantic_validator__.validate_python(payload)  # type: ignore[no-any-return]
    body = dict(payload) if isinstance(payload, dict) else {"value": payload}
    body["event"] = name
    return EVENT_ADAPTER.validate_python(body)
