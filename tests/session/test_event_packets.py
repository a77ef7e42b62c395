"""The event stream's socket.io packet: pydantic-core reads its JSON, exactly as a default
client's packet reads it (the stream's use of it: test_event_stream.py)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from socketio import packet

from batchkit.event_packets import EventPacket, PacketJson

ENCODED = [
    '2["auto-mode-progress",{"seq":7,"storyId":"s1","step":"images","progress":12.5}]',
    '2/admin,["joined-story-room",{"storyId":"s1"}]',
    '212["ack-me",{"a":[1,2,{"b":null}],"c":true,"d":false}]',
    '2/admin,3["x",-0.5e3,"é ü 日本",{"nested":{"deep":[[]]}}]',
    '2["odd",NaN,Infinity,-Infinity,1e400]',
    '2["surrogate","\\ud800 alone"]',  # pydantic-core refuses a lone surrogate; json reads it
    '2["dup",{"k":1,"k":2}]',
    '2["long",' + "9" * 100 + "]",
    "0",
    '0{"sid":"abc"}',
    "1/admin,",
    '4{"message":"refused"}',
]


def fields(p: packet.Packet) -> tuple[Any, ...]:
    return (p.packet_type, p.namespace, p.id, repr(p.data), p.attachment_count)


@pytest.mark.parametrize("encoded", ENCODED)
def test_a_packet_reads_exactly_as_python_socketios_own(encoded: str) -> None:
    ours, theirs = EventPacket(encoded_packet=encoded), packet.Packet(encoded_packet=encoded)
    assert fields(ours) == fields(theirs)
    assert ours.encode() == theirs.encode()  # and writes back the same text


def test_what_neither_parser_reads_raises_the_standard_librarys_error() -> None:
    for bad in ('2["a",', '2["a"] trailing', "2[\"a\",{'single':1}]"):
        with pytest.raises(json.JSONDecodeError):
            EventPacket(encoded_packet=bad)


def test_long_integers_stay_bounded_by_pythons_own_limit() -> None:
    """4,300 digits read (python-engineio stops at 100); more is refused, by both parsers."""
    long = '2["long",' + "9" * 101 + "]"
    with pytest.raises(ValueError, match="too large"):
        packet.Packet(encoded_packet=long)
    assert EventPacket(encoded_packet=long).data == ["long", int("9" * 101)]
    assert PacketJson.loads("[" + "9" * 4300 + "]") == [int("9" * 4300)]
    with pytest.raises(ValueError, match="4300"):
        PacketJson.loads("[" + "9" * 4301 + "]")
