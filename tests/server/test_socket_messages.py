"""Malformed room messages (no payload, extra arguments, the wrong shape) are answered with the
contract's ``error`` event and cost the log one short line at most, never a traceback."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

import pytest

from batchkit.contract import SocketError
from batchkit.server import EmbeddedServer

from .conftest import Api, EventStream

MESSAGES = ("join-batch-room", "leave-batch-room", "join-story-room", "leave-story-room")
MALFORMED: list[tuple[str, tuple[Any, ...]]] = [
    ("no payload", ()),
    ("an extra argument", ({"batchId": "x", "storyId": "x"}, "extra")),
    ("a string", ("0123456789abcdef01234567",)),
    ("a number id", ({"batchId": 7, "storyId": 7},)),
]


@pytest.mark.parametrize("message", MESSAGES)
@pytest.mark.parametrize(("what", "arguments"), MALFORMED, ids=[m[0] for m in MALFORMED])
async def test_a_malformed_message_is_answered_with_an_error_event(
    alice_events: EventStream, message: str, what: str, arguments: tuple[Any, ...]
) -> None:
    await alice_events.client.emit(message, arguments if len(arguments) != 1 else arguments[0])
    error = await alice_events.wait_for(SocketError)
    assert error.code in {"INVALID_BATCH_ID", "INVALID_STORY_ID"}
    assert message in error.message
    assert alice_events.client.connected


async def test_a_flood_of_malformed_messages_costs_the_log_one_line_each_at_most(
    server: EmbeddedServer,
    alice: Api,
    stream_factory: Callable[[str, str], EventStream],
    caplog: pytest.LogCaptureFixture,
) -> None:
    stream = stream_factory(server.url, alice.token)
    await stream.connect()
    # The socket libraries log packets at INFO when asked to (the server does not ask); what
    # they log unasked is WARNING and above. The server's own lines count at every level.
    caplog.set_level(logging.WARNING)
    caplog.set_level(logging.DEBUG, logger="batchkit")
    count = 200
    for index in range(count):
        await stream.client.emit(MESSAGES[index % 4], () if index % 2 else ({"batchId": 1}, 2))
    await stream.wait_until(lambda: len(stream.of(SocketError)) == count)
    server_records = [r for r in caplog.records if not r.name.startswith("socketio.client")]
    assert not [r for r in server_records if r.exc_info], "a traceback was logged"
    text = "\n".join(r.getMessage() for r in server_records)
    assert "Traceback" not in text
    assert len(server_records) <= count
    assert len(text) < count * 120, f"{len(text)} characters of log for {count} messages"
