"""Fixtures of the widget tests: a comm that records every message a widget sends.

No browser and no kernel: ``comm.create_comm`` (the hook ipywidgets opens its comms through) is
replaced by :class:`RecordingComm`, a real ``comm.base_comm.BaseComm`` whose only difference is
that it keeps each message instead of publishing it on a kernel's IOPub channel. Tests then
count and read exactly what the front end would receive.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

import comm
import pytest
from comm.base_comm import BaseComm


@dataclass
class Sent:
    comm_id: str
    msg_type: str
    data: dict[str, Any]
    buffers: list[Any]


@dataclass
class Recorder:
    sent: list[Sent] = field(default_factory=list)

    def updates(self, since: int = 0) -> list[Sent]:
        """State updates sent to the front end (one per widget per redraw)."""
        return [
            s
            for s in self.sent[since:]
            if s.msg_type == "comm_msg" and s.data.get("method") == "update"
        ]

    def custom(self, since: int = 0) -> list[dict[str, Any]]:
        """Custom messages (``widget.send``) sent to the front end."""
        return [
            s.data["content"]
            for s in self.sent[since:]
            if s.msg_type == "comm_msg" and s.data.get("method") == "custom"
        ]


class RecordingComm(BaseComm):
    def __init__(self, *args: Any, recorder: Recorder, **kwargs: Any) -> None:
        self.recorder = recorder  # set first: opening the comm publishes comm_open
        super().__init__(*args, **kwargs)

    def publish_msg(
        self,
        msg_type: str,
        data: dict[str, Any] | None = None,
        metadata: dict[str, Any] | None = None,
        buffers: list[Any] | None = None,
        **keys: Any,
    ) -> None:
        json.dumps(data)  # as a kernel would: everything sent must serialise to JSON
        self.recorder.sent.append(Sent(self.comm_id, msg_type, data or {}, buffers or []))


@pytest.fixture(autouse=True)
def comms(monkeypatch: pytest.MonkeyPatch) -> Recorder:
    """Every widget made in the test gets a recording comm; returns the recorder."""
    recorder = Recorder()

    def create(*args: Any, **kwargs: Any) -> BaseComm:
        return RecordingComm(*args, recorder=recorder, **kwargs)

    monkeypatch.setattr(comm, "create_comm", create)
    return recorder
