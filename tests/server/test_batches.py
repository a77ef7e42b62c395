"""Sections 2.2 and 2.3: creating batches (validation, idempotency) and reading their status."""

from __future__ import annotations

import sqlite3
from typing import Any

import httpx
import pytest

from batchkit.contract import (
    BatchCreateResponse,
    BatchStatusResponse,
    BatchStoriesProgress,
    BatchStoriesStart,
    ErrorBody,
)
from batchkit.server import EmbeddedServer

from .conftest import FULL_AUTO_MODE, Api, EventStream, run_watched_batch

UNKNOWN_ID = "0123456789abcdef01234567"


def _error(response: httpx.Response, status: int) -> list[str]:
    assert response.status_code == status, response.text
    body = ErrorBody.model_validate(response.json())
    assert body.status_code == status
    assert body.error == ("Bad Request" if status == 400 else body.error)
    return body.message if isinstance(body.message, list) else [body.message]


async def _post_create(api: Api, body: dict[str, Any]) -> httpx.Response:
    return await api.http.post("/api/stories/batch-create", headers=api.auth, json=body)


def _count_batches(server: EmbeddedServer) -> int:
    with sqlite3.connect(server.data_dir / "batchkit.sqlite3") as db:
        count: int = db.execute("SELECT COUNT(*) FROM batches").fetchone()[0]
        return count


async def test_create_answers_201_with_the_envelope_and_the_batch_runs(alice: Api) -> None:
    urls = await alice.upload_texts(2)
    response = await _post_create(
        alice, {"stories": [{"fileUrl": u} for u in urls], "autoMode": FULL_AUTO_MODE}
    )
    assert response.status_code == 201
    body = BatchCreateResponse.model_validate(response.json())
    assert body.success is True
    assert body.data.total_stories == 2
    assert body.data.auto_mode is True
    assert str(body.data.job_id).isdigit()
    status = BatchStatusResponse.model_validate(await alice.wait_for_status(body.data.batch_id))
    assert status.status == "completed"
    assert (status.completed_stories, status.failed_stories) == (2, 0)
    assert status.progress == 100.0
    assert status.results is not None
    assert [r.file_url for r in status.results] == urls
    assert [r.index for r in status.results] == [0, 1]
    for result in status.results:
        assert result.status == "completed"
        assert result.completed_steps == ["story", "images", "audio", "merge"]
        assert result.story_id in status.story_ids
        assert result.started_at is not None
        assert result.completed_at is not None


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda b: b["stories"][0].update(extra=1), "stories.0.extra: unknown field"),
        (lambda b: b["autoMode"].update(turbo=True), "autoMode.turbo: unknown field"),
        (lambda b: b.update(priority="high"), "priority: unknown field"),
        (lambda b: b["autoMode"].update(wordPerChunkImage="500"), "autoMode.wordPerChunkImage"),
        (lambda b: b["autoMode"].update(enabled="true"), "autoMode.enabled"),
        (lambda b: b["autoMode"].update(wordPerChunkAudio=49), "autoMode.wordPerChunkAudio"),
        (lambda b: b["autoMode"].update(wordPerChunkAudio=2001), "autoMode.wordPerChunkAudio"),
        (lambda b: b["autoMode"].update(imageStyle="pixel-art"), "autoMode.imageStyle"),
        (lambda b: b["autoMode"].update(audioVoice="achird"), "autoMode.audioVoice"),
        (lambda b: b.pop("autoMode"), "autoMode: Field required"),
        (lambda b: b["autoMode"].pop("enabled"), "autoMode.enabled: Field required"),
        (lambda b: b.update(stories=[]), "stories"),
        (lambda b: b.update(stories=b["stories"] * 21), "stories"),
        (lambda b: b["stories"][0].update(title="t" * 201), "stories.0.title"),
        (lambda b: b["stories"][0].update(customPrompt="p" * 2001), "stories.0.customPrompt"),
    ],
)
async def test_create_rejects_a_bad_body_with_400(
    server: EmbeddedServer, alice: Api, mutate: Any, expected: str
) -> None:
    [url] = await alice.upload_texts(1)
    body = {"stories": [{"fileUrl": url}], "autoMode": dict(FULL_AUTO_MODE)}
    mutate(body)
    before = _count_batches(server)
    messages = _error(await _post_create(alice, body), 400)
    assert any(line.startswith(expected) for line in messages), messages
    assert _count_batches(server) == before


async def test_create_rejects_invalid_json_with_400(alice: Api) -> None:
    response = await alice.http.post(
        "/api/stories/batch-create",
        headers={**alice.auth, "Content-Type": "application/json"},
        content=b"{not json",
    )
    assert _error(response, 400) == ["request body: not valid JSON"]


async def test_file_urls_must_be_the_callers_uploads(alice: Api, bob: Api) -> None:
    [bobs] = await bob.upload_texts(1)
    [alices] = await alice.upload_texts(1)
    body = {
        "stories": [
            {"fileUrl": alices},
            {"fileUrl": bobs},
            {"fileUrl": "http://elsewhere.example/uploads/original/x.txt"},
        ],
        "autoMode": {"enabled": False},
    }
    messages = _error(await _post_create(alice, body), 400)
    assert [m.split(":")[0] for m in messages] == ["stories.1.fileUrl", "stories.2.fileUrl"]
    assert all("not a file you uploaded" in m for m in messages)


async def test_the_same_idempotency_key_returns_the_first_answer_and_one_batch(
    server: EmbeddedServer, alice: Api, bob: Api
) -> None:
    urls = await alice.upload_texts(1)
    before = _count_batches(server)
    key = {"Idempotency-Key": "run-42-attempt"}
    first = await alice.create_batch(urls, {"enabled": False}, headers=key)
    again = await alice.create_batch(urls, {"enabled": False}, headers=key)
    assert again == first
    assert _count_batches(server) == before + 1
    other = await alice.create_batch(urls, {"enabled": False}, headers={"Idempotency-Key": "x"})
    assert other["data"]["batchId"] != first["data"]["batchId"]
    assert _count_batches(server) == before + 2
    # A key belongs to its user: bob's same key makes bob's own batch.
    [bobs] = await bob.upload_texts(1)
    bobs_batch = await bob.create_batch([bobs], {"enabled": False}, headers=key)
    assert bobs_batch["data"]["batchId"] != first["data"]["batchId"]
    await alice.wait_for_status(first["data"]["batchId"])
    await alice.wait_for_status(other["data"]["batchId"])
    await bob.wait_for_status(bobs_batch["data"]["batchId"])


async def test_status_of_an_unknown_or_foreign_batch_is_404(alice: Api, bob: Api) -> None:
    urls = await alice.upload_texts(1)
    batch_id = (await alice.create_batch(urls, {"enabled": False}))["data"]["batchId"]
    await alice.wait_for_status(batch_id)
    for api, wanted in ((bob, batch_id), (alice, UNKNOWN_ID), (alice, "not-an-id")):
        response = await api.http.get(f"/api/stories/batch/{wanted}/status", headers=api.auth)
        assert _error(response, 404) == [f"batch {wanted} not found"]


async def test_auto_mode_off_only_creates_the_story_records(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    urls = await alice.upload_texts(3)
    batch_id, done = await run_watched_batch(server, alice, alice_events, urls, {"enabled": False})
    status = BatchStatusResponse.model_validate(await alice.status(batch_id))
    assert status.status == "completed"
    assert status.completed_stories == 3
    assert status.results is not None
    assert all(r.completed_steps == [] and r.step is None for r in status.results)
    assert done.completed_stories == 3
    assert done.story_ids == status.story_ids
    progress = alice_events.of(BatchStoriesProgress)
    assert [p.current_story for p in progress] == [1, 2, 3]
    assert [p.story_id for p in progress] == status.story_ids
    assert [p.file_name for p in progress] == ["doc0.txt", "doc1.txt", "doc2.txt"]
    assert [p.progress for p in progress] == pytest.approx([100 / 3, 200 / 3, 100], abs=0.01)
    assert len(alice_events.of(BatchStoriesStart)) == 1
    story = await alice.story(status.story_ids[0])
    assert story["status"] == {
        "storyGenerated": False, "imagesGenerated": False,
        "audioGenerated": False, "audioMerged": False,
    }  # fmt: skip
    assert story["title"] == "Story 1"
    assert story["generatedContent"] is None
