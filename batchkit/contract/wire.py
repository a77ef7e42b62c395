"""Base classes for everything that crosses the wire: camelCase outside, snake_case inside."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, StrictFloat, StrictInt
from pydantic.alias_generators import to_camel

__all__ = ["JsonNumber", "RequestModel", "ServerTime", "WireModel", "as_utc"]


def as_utc(moment: datetime) -> datetime:
    """``moment`` as an aware UTC datetime; a naive one is taken to be UTC already."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


ServerTime = Annotated[datetime, AfterValidator(as_utc)]
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
