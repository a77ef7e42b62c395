"""A failing story fails alone: bad documents, injected faults, a re-run while one runs."""

from __future__ import annotations

from collections.abc import Callable

from batchkit.contract import (
    AutoModeComplete,
    AutoModeError,
    BatchStatusResponse,
    BatchStoriesProgress,
    StoryProcessingError,
)
from batchkit.server import EmbeddedServer

from .conftest import Api, EventStream, login, run_watched_batch, story_text

USER = ("carol", "carol-secret-3")


async def test_bad_files_fail_alone_with_a_clear_error(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    uploaded = await alice.upload(
        ("good-one.txt", story_text(60).encode()),
        ("empty.txt", b""),
        ("fake.docx", b"plain text wearing a Word extension"),
        ("good-two.txt", story_text(60).encode()),
    )
    urls = [u["fileUrl"] for u in uploaded]
    batch_id, done = await run_watched_batch(server, alice, alice_events, urls)
    assert (done.completed_stories, done.failed_stories) == (2, 2)
    assert len(done.errors) == 2
    assert done.errors[0].startswith("Story 2: empty.txt: ")
    assert "empty" in done.errors[0].removeprefix("Story 2: empty.txt: ")
    assert done.errors[1].startswith("Story 3: fake.docx: ")
    assert "not a Word document" in done.errors[1]
    status = BatchStatusResponse.model_validate(await alice.status(batch_id))
    assert status.status == "completed"  # some stories made it: the batch itself did not fail
    assert status.results is not None
    assert [r.status for r in status.results] == ["completed", "failed", "failed", "completed"]
    assert status.results[1].step == "story"
    assert status.results[0].completed_steps == ["story", "images", "audio", "merge"]
    assert status.errors == done.errors


async def test_a_rerun_of_a_bad_document_sends_story_processing_error(
    alice: Api, alice_events: EventStream
) -> None:
    [uploaded] = await alice.upload(("blank.txt", b"   \n\n  "))
    batch_id = (await alice.create_batch([uploaded["fileUrl"]]))["data"]["batchId"]
    status = await alice.wait_for_status(batch_id)
    assert status["status"] == "failed"  # its only story failed
    [story_id] = status["storyIds"]
    await alice_events.join_story(story_id)
    response = await alice.http.post(
        f"/api/stories/{story_id}/generate", headers=alice.auth, json={"customPrompt": "again"}
    )
    assert response.status_code == 201
    error = await alice_events.wait_for(StoryProcessingError)
    assert error.story_id == story_id
    assert error.step == "story_generation"
    assert error.error.startswith("blank.txt: ")
    assert error.retryable is False


async def test_injected_faults_fail_the_step_and_can_change_at_run_time(
    server_factory: Callable[..., EmbeddedServer],
    stream_factory: Callable[[str, str], EventStream],
) -> None:
    server = server_factory(users=dict([USER]), fail_rates={"images": 1.0}, seed=7)
    api = await login(server.url, *USER)
    try:
        urls = await api.upload_texts(2, words=60)
        batch_id = (await api.create_batch(urls))["data"]["batchId"]
        status = await api.wait_for_status(batch_id)
        assert status["status"] == "failed"  # every story failed, so the batch did
        assert all("injected fault: the images step" in e for e in status["errors"])
        assert [r["completedSteps"] for r in status["results"]] == [["story"], ["story"]]

        server.set_fail_rates({"audio": 1.0})
        events = stream_factory(server.url, api.token)
        await events.connect()
        story_id = status["storyIds"][0]
        await events.join_story(story_id)
        response = await api.http.post(
            f"/api/stories/{story_id}/generate", headers=api.auth, json={"customPrompt": "x"}
        )
        assert response.status_code == 201
        error = await events.wait_for(AutoModeError)
        assert (error.story_id, error.step) == (story_id, "audio")
        assert "injected fault" in error.error
        assert [c.step for c in events.of(AutoModeComplete)] == ["images"]
    finally:
        await api.http.aclose()


async def test_generate_while_the_story_runs_is_409(
    server_factory: Callable[..., EmbeddedServer],
    stream_factory: Callable[[str, str], EventStream],
) -> None:
    server = server_factory(users=dict([USER]), pace=0.2)
    api = await login(server.url, *USER)
    try:
        events = stream_factory(server.url, api.token)
        await events.connect()
        urls = await api.upload_texts(1, words=60)
        server.hold_batches()
        try:
            batch_id = (await api.create_batch(urls))["data"]["batchId"]
            await events.join_batch(batch_id)
        finally:
            server.release_batches()
        created = await events.wait_for(BatchStoriesProgress)
        response = await api.http.post(
            f"/api/stories/{created.story_id}/generate",
            headers=api.auth,
            json={"customPrompt": "now"},
        )
        assert response.status_code == 409
        assert "is being processed" in response.json()["message"]
    finally:
        await api.http.aclose()


async def test_run_watched_batch_sees_story_records_before_their_pipelines(
    server: EmbeddedServer, alice: Api, alice_events: EventStream
) -> None:
    """``batch-stories-progress`` comes once per record, each record before the end."""
    urls = await alice.upload_texts(2, words=60)
    _, done = await run_watched_batch(server, alice, alice_events, urls)
    progress = alice_events.of(BatchStoriesProgress)
    assert [p.story_id for p in progress] == done.story_ids
    assert all(p.seq is not None and done.seq is not None and p.seq < done.seq for p in progress)
