"""The reference server in a child process, and the documents and logins the benchmarks share.

:class:`ChildServer` starts ``start_embedded_server`` in a spawned process (so the server's CPU
and memory are never the client's) and drives it over a pipe: the launcher's benchmark hooks,
such as :meth:`~batchkit.server.EmbeddedServer.emit_burst`, run there on request. ``batchkit
serve`` would be the other way to get a child server, but it has no such hooks.
"""

from __future__ import annotations

import asyncio
import multiprocessing
import random
import tempfile
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from pathlib import Path
from types import TracebackType
from typing import Any, Self

from benchmarks.report import rss_peak_mib

__all__ = ["PASSWORD", "USER", "ChildServer", "write_texts"]

USER, PASSWORD = "bench", "bench-password"
_START_TIMEOUT = 60.0


def _serve(
    pipe: Connection, data_dir: str, workers: int, pace: float, settings: dict[str, Any]
) -> None:
    """The child: run the server and answer requests until told to stop."""
    from batchkit.server.launcher import start_embedded_server

    with start_embedded_server(
        data_dir=Path(data_dir), users={USER: PASSWORD}, workers=workers, pace=pace, **settings
    ) as server:
        pipe.send(server.url)
        while (request := pipe.recv())[0] != "stop":
            try:
                name, args = request
                pipe.send(("ok", getattr(server, name)(*args)))
            except Exception as exc:
                pipe.send(("error", repr(exc)))


class ChildServer:
    """A reference server (pace 0 by default) in a spawned child process; ``settings`` are
    :class:`~batchkit.server.settings.ServerSettings` fields (a limit, say)."""

    def __init__(self, *, workers: int = 2, pace: float = 0.0, **settings: Any) -> None:
        self.url = ""
        self._workers = workers
        self._pace = pace
        self._settings = settings
        self._tmp = tempfile.TemporaryDirectory(prefix="batchkit-bench-")
        self._pipe: Connection | None = None
        self._process: BaseProcess | None = None

    @property
    def pid(self) -> int:
        pid = self._process.pid if self._process is not None else None
        if pid is None:
            raise RuntimeError("the server process has not started")
        return pid

    def peak_rss_mib(self) -> float:
        return rss_peak_mib(self.pid)

    def __enter__(self) -> Self:
        context = multiprocessing.get_context("spawn")
        ours, theirs = context.Pipe()
        data_dir = str(Path(self._tmp.name) / "server")
        args = (theirs, data_dir, self._workers, self._pace, self._settings)
        self._process = context.Process(target=_serve, args=args, daemon=True)
        self._process.start()
        self._pipe = ours
        if not ours.poll(_START_TIMEOUT):
            self.__exit__(None, None, None)
            raise RuntimeError("the reference server did not start within 60 s")
        self.url = ours.recv()
        return self

    def __exit__(
        self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._pipe is not None and self._process is not None and self._process.is_alive():
            self._pipe.send(("stop",))
        if self._process is not None:
            self._process.join(30)
            if self._process.is_alive():
                self._process.kill()
        self._tmp.cleanup()

    def call(self, name: str, *args: Any) -> Any:
        """Call ``EmbeddedServer.<name>(*args)`` in the child and return what it returned."""
        assert self._pipe is not None
        self._pipe.send((name, args))
        status, value = self._pipe.recv()
        if status != "ok":
            raise RuntimeError(f"the server's {name} failed: {value}")
        return value

    async def emit_burst(self, story_id: str, count: int, rate: float | None = None) -> None:
        """``count`` ``auto-mode-progress`` events into the story's room (see the launcher)."""
        await asyncio.to_thread(self.call, "emit_burst", story_id, count, rate)


_SUBJECTS = ("The keeper", "A fisherman", "The old clockmaker", "Her brother", "The village")
_VERBS = ("watched", "carried", "remembered", "followed", "painted", "mended")
_OBJECTS = ("the lamp", "a silver net", "the harbour wall", "the morning tide", "the quiet road")
_ENDINGS = ("before the storm.", "in the rain.", "at first light.", "for a long time.", "again.")


def story_text(words: int, seed: int) -> str:
    """Different plain English text of about ``words`` words for each ``seed``."""
    rng = random.Random(seed)
    sentences: list[str] = []
    total = 0
    while total < words:
        sentence = " ".join(rng.choice(part) for part in (_SUBJECTS, _VERBS, _OBJECTS, _ENDINGS))
        sentences.append(sentence)
        total += len(sentence.split())
    return " ".join(sentences)


def write_texts(folder: Path, count: int, words: int, *, first: int = 0) -> list[Path]:
    """``count`` .txt documents of about ``words`` words each in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for index in range(first, first + count):
        path = folder / f"document_{index:04d}.txt"
        path.write_text(story_text(words, index), encoding="utf-8")
        paths.append(path)
    return paths
