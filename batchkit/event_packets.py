"""The socket.io packet the event stream reads: its JSON parsed by pydantic-core.

A default python-socketio client reads every packet's JSON through python-engineio's ``json``
module, which passes ``parse_int`` to :func:`json.loads` (to refuse integers of more than 100
digits): the standard library then builds a new decoder for every packet. On a progress message
that costs 7.4 µs, against 3.2 for a decoder built once and 1.2 for pydantic-core's
:func:`~pydantic_core.from_json`, the parser that validates every payload after it anyway. Live,
the stream spends ~20 µs less CPU per event with it (``python -m benchmarks.socket_path``).

Whatever pydantic-core refuses goes to the standard library, so a packet reads as a default
client reads it: a lone UTF-16 surrogate escape (which pydantic-core refuses) still reads, and
what neither can read raises the standard library's error, as before. One difference is on
purpose: python-engineio refuses integers of more than 100 digits, this reads up to 4,300 (Python's
own limit for reading one, which both parsers keep). The limit is there because reading a long
integer costs time growing faster than its length; 4,300 digits cost microseconds.

The class reaches the client through python-socketio's documented ``serializer`` option (a
packet class). Its ``json`` option would be wrong here: it sets the JSON module of *every*
socket.io and engine.io packet in the process, a server's included.
"""

from __future__ import annotations

import json
from typing import Any

import pydantic_core
from socketio import packet

__all__ = ["EventPacket", "PacketJson"]


class PacketJson:
    """The ``json`` a packet class reads and writes with (python-socketio asks for these two)."""

    @staticmethod
    def loads(text: str | bytes) -> Any:
        try:
            # Keys repeat from one event to the next; values (times, messages) mostly do not,
            # and caching them too costs ~15 % more a packet.
            return pydantic_core.from_json(text, cache_strings="keys")
        except ValueError:
            return json.loads(text)

    @staticmethod
    def dumps(value: Any, **options: Any) -> str:
        return json.dumps(value, **options)


class EventPacket(packet.Packet):  # type: ignore[misc]  # python-socketio has no type hints
    """python-socketio's packet, reading its JSON with :class:`PacketJson`."""

    json = PacketJson
