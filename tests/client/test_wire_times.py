"""Times read from the wire (``ServerTime``): always aware, always UTC, whatever the form.

Every event carries one, so the common forms take the standard library's reader, which gives
offset zero as :data:`datetime.UTC` itself (kept as it is, not converted again); any other
form goes on to pydantic, which reads it or rejects it with its own message.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from pydantic import TypeAdapter, ValidationError

from batchkit.contract.wire import ServerTime

SERVER_TIME = TypeAdapter(ServerTime)
NINE = datetime(2025, 3, 1, 9, 0, tzinfo=UTC)


@pytest.mark.parametrize(
    ("sent", "read"),
    [
        ("2025-03-01T09:00:00Z", NINE),  # what JavaScript's toISOString() sends
        ("2025-03-01T09:00:00.250+00:00", NINE + timedelta(milliseconds=250)),
        ("2025-03-01T11:00:00+02:00", NINE),
        ("2025-03-01T09:00:00", NINE),  # no offset: taken as UTC
        ("2025-03-01", NINE - timedelta(hours=9)),
        ("1740819600", NINE),  # not ISO-8601: pydantic reads it
        (1740819600, NINE),
        (datetime(2025, 3, 1, 4, 0, tzinfo=timezone(timedelta(hours=-5))), NINE),
        (datetime(2025, 3, 1, 9, 0), NINE),
    ],
)
def test_every_form_is_read_as_an_aware_utc_time(sent: object, read: datetime) -> None:
    moment = SERVER_TIME.validate_python(sent)
    assert moment == read
    assert moment.tzinfo is UTC


def test_json_is_read_the_same_way() -> None:
    assert SERVER_TIME.validate_json('"2025-03-01T10:00:00+01:00"').tzinfo is UTC


@pytest.mark.parametrize("sent", ["not a time", "2025-13-01T00:00:00Z", "", None, [2025]])
def test_what_is_not_a_time_is_rejected_with_pydantic_s_message(sent: object) -> None:
    with pytest.raises(ValidationError, match="valid datetime"):
        SERVER_TIME.validate_python(sent)
