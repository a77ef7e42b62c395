"""Base classes for everything that crosses the wire: camelCase outside, snake_case inside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import (
    AfterValidator,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StrictFloat,
    StrictInt,
)
from pydantic.alias_generators import to_camel

__all__ = ["JsonNumber", "RequestModel", "ServerTime", "WireModel", "as_utc"]


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    zone = moment.tzinfo
    if zone is UTC:  # the common case, and astimezone would build a copy (~1 µs)
        return moment
    if zone is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _from_iso(value: object) -> object:
    """An ISO-8601 string read by the standard library, anything else left to pydantic.

    Every event carries a time, and this is the cheap path for it: ``fromisoformat`` gives
    offset zero as :data:`datetime.UTC` itself, which :func:`as_utc` passes through, where
    pydantic's own zone needs converting (warm, a time costs ~1.2 µs this way against ~1.5).
    A string the standard library cannot read goes on to pydantic, which parses or rejects it
    with its own message.
    """
    if type(value) is str:
        try:
            return datetime.fromisoformat(value)
        except ValueError:
            pass
    return value


ServerTime = Annotated[datetime, BeforeValidator(_from_iso), AfterValidator(as_utc)]
"""A time read from the wire, always aware and in UTC.

ISO-8601 allows times without an offset, and a server may send one next to an aware one; two
such times cannot even be compared in Python. Every time crosses the contract boundary through
this type, so nothing above it ever sees a naive one (a naive time is taken to be UTC).
"""


class WireModel(BaseModel):
    """A message read from or written to the wire.

    Tolerant of fields it does not know, because production sends more than the contract
    (``generatedContent`` on ``story:processing:complete``, for one). Frozen: a message received
    is a fact.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        validate_by_name=True,
        validate_by_alias=True,
        serialize_by_alias=True,
        extra="ignore",
        frozen=True,
    )

    def to_wire(self) -> dict[str, object]:
        """The JSON-ready dict, camelCase, without the fields that were never set to a value."""
        return self.model_dump(mode="json", by_alias=True, exclude_none=True)


class RequestModel(WireModel):
    """A request body: any field the contract does not name is an error, nested ones included."""

    model_config = ConfigDict(extra="forbid")


JsonNumber = Annotated[StrictInt | StrictFloat, Field(union_mode="left_to_right")]
"""A JSON number: an int or a float, never a string that looks like one, never a bool."""
