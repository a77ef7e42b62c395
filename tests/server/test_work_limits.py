"""Bounded work per story: what a story would cost is refused before the work starts.

Each test sends the real server a document that used to cost it without bound (measured in the
issue: 42,000 pictures for one line of text, 22 GiB of speech, ten million words from a 74 KB
``.docx``), and checks that the story fails with an error naming the limit, and that what the
server wrote (bytes under the story's media folder) or the memory it used (the peak resident
size of this process, where the embedded server runs, reset before the story) stays bounded.
"""

from __future__ import annotations

import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from batchkit.server import EmbeddedServer

from .conftest import FULL_AUTO_MODE, USERS, Api, login, story_text
from .test_engines import CONTENT_TYPES, MC_NS, RELS, WORD_NS, paragraph

MIB = 1024 * 1024
UNDER_THE_UPLOAD_LIMIT = 10 * MIB - 1024


def media_bytes(server: EmbeddedServer, story_id: str) -> int:
    """Bytes the server wrote for the story (its text, pictures and audio)."""
    folder = server.data_dir / "media" / story_id
    return sum(path.stat().st_size for path in folder.rglob("*") if path.is_file())


def media_files(server: EmbeddedServer, story_id: str, pattern: str) -> list[Path]:
    return sorted((server.data_dir / "media" / story_id).glob(pattern))


async def run_one(api: Api, name: str, content: bytes, auto_mode: dict[str, Any]) -> dict[str, Any]:
    """Upload one file, run it, and return its result once its batch has ended."""
    [uploaded] = await api.upload((name, content))
    batch_id = (await api.create_batch([uploaded["fileUrl"]], auto_mode))["data"]["batchId"]
    status = await api.wait_for_status(batch_id)
    result: dict[str, Any] = status["results"][0]
    return result


async def test_a_10_mib_one_line_text_at_50_words_a_picture_is_refused_before_the_first(
    server: EmbeddedServer, alice: Api
) -> None:
    """It would have made ~42,000 pictures (2.7 GiB); its story text is all it may write."""
    line = (b"word " * (UNDER_THE_UPLOAD_LIMIT // 5))[:UNDER_THE_UPLOAD_LIMIT]
    result = await run_one(alice, "line.txt", line, {**FULL_AUTO_MODE, "wordPerChunkImage": 50})
    assert result["status"] == "failed"
    assert result["completedSteps"] == ["story"]
    assert re.match(r"line\.txt: the images step would need 41,9\d\d chunks", result["error"])
    assert "the limit is 200 chunks a step (max_chunks_per_step)" in result["error"]
    assert media_files(server, result["storyId"], "*.png") == []
    assert media_bytes(server, result["storyId"]) < len(line) + 1024  # story.txt alone


async def test_too_many_pictures_for_one_step_are_refused_before_the_first(
    server: EmbeddedServer, alice: Api
) -> None:
    text = story_text(12_000).encode()  # 240 pictures of 50 words: more than 200
    result = await run_one(alice, "long.txt", text, {**FULL_AUTO_MODE, "wordPerChunkImage": 50})
    assert result["status"] == "failed"
    assert result["completedSteps"] == ["story"]
    assert re.search(
        r"images step would need 24\d chunks .* \(max_chunks_per_step\)", result["error"]
    )
    assert media_files(server, result["storyId"], "*.png") == []
    assert media_bytes(server, result["storyId"]) < len(text) + 1024  # story.txt alone


async def test_hours_of_speech_past_the_media_budget_are_refused_before_any_is_spoken(
    server: EmbeddedServer, alice: Api
) -> None:
    """90,000 words at 2,000 a clip: ~1.3 GiB of WAV and as much again merged."""
    text = story_text(90_000).encode()
    auto_mode = {
        "enabled": True,
        "generateImages": False,
        "generateAudio": True,
        "mergeAudio": True,
        "wordPerChunkAudio": 2000,
    }
    result = await run_one(alice, "saga.txt", text, auto_mode)
    assert result["status"] == "failed"
    assert "the limit is 1,024.0 MiB a story (max_media_bytes_per_story)" in result["error"]
    assert media_files(server, result["storyId"], "*.wav") == []
    assert media_bytes(server, result["storyId"]) < len(text) + 1024


def _word_bomb(words: int) -> bytes:
    """A small .docx whose one part unpacks to ``words`` words ("a a a ...")."""
    per_paragraph = 100_000
    body = paragraph("a " * per_paragraph) * (words // per_paragraph)
    document = (
        '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
        f'<w:document xmlns:w="{WORD_NS}" xmlns:mc="{MC_NS}"><w:body>{body}</w:body></w:document>'
    )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        archive.writestr("[Content_Types].xml", CONTENT_TYPES)
        archive.writestr("_rels/.rels", RELS.format(target="word/document.xml"))
        archive.writestr("word/document.xml", document)
    return buffer.getvalue()


def _peak_resident_mib() -> float:
    status = Path("/proc/self/status").read_text()
    match = re.search(r"VmHWM:\s+(\d+) kB", status)
    assert match is not None
    return int(match.group(1)) / 1024


def _reset_peak_resident() -> None:
    Path("/proc/self/clear_refs").write_text("5")  # Linux: VmHWM starts again from VmRSS


async def test_a_docx_of_ten_million_words_costs_one_job_not_the_servers_memory(
    server_factory: Callable[..., EmbeddedServer],
) -> None:
    """The pipeline used to read it in the server's process: more than 500 MiB at its peak.

    The embedded server runs in this process, so its peak resident size is this process's;
    it is reset just before the story, and bob's ordinary story runs at the same time.
    """
    bomb = _word_bomb(10_000_000)
    assert len(bomb) < 100_000
    server = server_factory(workers=2)
    alice = await login(server.url, "alice", USERS["alice"])
    bob = await login(server.url, "bob", USERS["bob"])
    try:
        [bombed] = await alice.upload(("bomb.docx", bomb))
        [ordinary] = await bob.upload(("fine.txt", story_text(300).encode()))
        _reset_peak_resident()
        before = _peak_resident_mib()
        alices = (await alice.create_batch([bombed["fileUrl"]]))["data"]["batchId"]
        bobs = (await bob.create_batch([ordinary["fileUrl"]]))["data"]["batchId"]
        failed = (await alice.wait_for_status(alices))["results"][0]
        done = await bob.wait_for_status(bobs)
        growth = _peak_resident_mib() - before
    finally:
        await alice.http.aclose()
        await bob.http.aclose()
    assert failed["status"] == "failed"
    assert "more than 2,500,000 words" in failed["error"]
    assert "(max_story_words)" in failed["error"]
    assert media_bytes(server, failed["storyId"]) == 0
    assert done["completedStories"] == 1
    assert growth < 100, f"the server's peak memory grew by {growth:.0f} MiB"
