"""Sections 2.4-2.6 and 4: one story, its media, the options, and generate with its events."""

from __future__ import annotations

import httpx

from batchkit.contract import (
    AUDIO_VOICES,
    AutoModeComplete,
    AutoModeProgress,
    ErrorBody,
    GenerateResponse,
    OptionsResponse,
    StoryProcessingComplete,
    StoryResponse,
)
from batchkit.server import EmbeddedServer

from .conftest import Api, EventStream, story_text

UNKNOWN_ID = "0123456789abcdef01234567"


async def _finished_story(api: Api, words: int = 120) -> str:
    [url] = await api.upload((f"story{words}.txt", story_text(words).encode()))
    batch_id = (await api.create_batch([url["fileUrl"]]))["data"]["batchId"]
    status = await api.wait_for_status(batch_id)
    assert status["status"] == "completed", status
    story_id: str = status["storyIds"][0]
    return story_id


async def test_options_is_routed_before_story_ids(alice: Api) -> None:
    response = await alice.http.get("/api/stories/options", headers=alice.auth)
    assert response.status_code == 200
    options = OptionsResponse.model_validate(response.json())
    assert options.image_styles[0] == "realistic"
    assert len(options.image_styles) == 6
    assert options.audio_voices == list(AUDIO_VOICES)
    assert options.model_voices[0] == "gemini-2.5-flash-preview-tts"
    assert options.limits.max_files == 10
    assert options.limits.max_file_bytes == 10 * 1024 * 1024
    assert options.limits.max_stories == 20
    assert (options.limits.word_per_chunk.min, options.limits.word_per_chunk.max) == (50, 2000)
    assert (options.limits.custom_prompt_max, options.limits.title_max) == (2000, 200)


async def test_a_story_shows_its_content_flags_and_fetchable_media(
    server: EmbeddedServer, alice: Api
) -> None:
    story_id = await _finished_story(alice)
    body = await alice.story(story_id)
    story = StoryResponse.model_validate(body)
    assert story.id == story_id
    assert story.generated_content
    assert story.status.story_generated
    assert story.status.images_generated
    assert story.status.audio_generated
    assert story.status.audio_merged
    assert story.metadata.original_word_count >= 120
    assert story.metadata.generated_word_count > 0
    assert story.media is not None
    # 120+ words in chunks of 50: three pictures and three clips, then one merged clip.
    assert [image.index for image in story.media.images] == [0, 1, 2]
    assert [clip.index for clip in story.media.audio] == [0, 1, 2]
    assert story.media.merged_audio is not None
    assert story.media.merged_audio.duration_sec == sum(a.duration_sec for a in story.media.audio)
    assert all(image.style == "realistic" for image in story.media.images)
    image = await alice.http.get(story.media.images[0].url, headers=alice.auth)
    assert image.status_code == 200
    assert image.headers["content-type"] == "image/png"
    assert image.content.startswith(b"\x89PNG\r\n\x1a\n")
    merged = await alice.http.get(story.media.merged_audio.url, headers=alice.auth)
    assert merged.content[:4] == b"RIFF"
    assert merged.content[8:12] == b"WAVE"
    assert story.files.generated_file is not None
    text = await alice.http.get(story.files.generated_file, headers=alice.auth)
    assert text.text == story.generated_content
    assert story.files.original_file.startswith(f"{server.url}/uploads/original/")


async def test_someone_elses_story_and_media_are_404(alice: Api, bob: Api) -> None:
    story_id = await _finished_story(alice)
    image_url = (await alice.story(story_id))["media"]["images"][0]["url"]
    for response in (
        await bob.http.get(f"/api/stories/{story_id}", headers=bob.auth),
        await bob.http.get(image_url, headers=bob.auth),
        await bob.http.post(
            f"/api/stories/{story_id}/generate", headers=bob.auth, json={"customPrompt": "x"}
        ),
        await alice.http.get(f"/api/stories/{UNKNOWN_ID}", headers=alice.auth),
        await alice.http.get(image_url.replace("image_000", "image_999"), headers=alice.auth),
    ):
        assert response.status_code == 404, response.text
        assert ErrorBody.model_validate(response.json()).error == "Not Found"


def _generate(api: Api, story_id: str, body: object) -> httpx.Request:
    return api.http.build_request(
        "POST", f"/api/stories/{story_id}/generate", headers=api.auth, json=body
    )


async def test_generate_validates_its_body(alice: Api) -> None:
    story_id = await _finished_story(alice)
    for body, words in (
        ({"customPrompt": ""}, "customPrompt"),
        ({}, "customPrompt: Field required"),
        ({"customPrompt": "x", "autoMode": {"enabled": True, "nope": 1}}, "autoMode.nope"),
        ({"customPrompt": "x", "tone": "dark"}, "tone: unknown field"),
    ):
        response = await alice.http.send(_generate(alice, story_id, body))
        assert response.status_code == 400, response.text
        message = ErrorBody.model_validate(response.json()).text()
        assert words in message, message


async def test_generate_reruns_every_step_and_sends_its_events_again_in_order(
    alice: Api, alice_events: EventStream
) -> None:
    story_id = await _finished_story(alice)
    await alice_events.join_story(story_id)
    response = await alice.http.send(
        _generate(alice, story_id, {"customPrompt": "Tell it as a ballad"})
    )
    assert response.status_code == 201, response.text
    answer = GenerateResponse.model_validate(response.json())
    assert answer.auto_mode is True
    assert str(answer.job_id).isdigit()
    await alice_events.wait_for(AutoModeComplete, lambda e: e.step == "merge")
    story_events = [e for e in alice_events.events if getattr(e, "story_id", None) == story_id]
    story_events = [e for e in story_events if e.event not in {"joined-story-room"}]
    assert [(e.event, getattr(e, "step", None)) for e in story_events] == [
        ("story:processing:start", "story_generation"),
        ("story:processing:progress", "story_generation"),
        ("story:processing:progress", "story_generation"),
        ("story:processing:complete", None),
        ("auto-mode-start", "images"),
        ("auto-mode-progress", "images"),
        ("auto-mode-progress", "images"),
        ("auto-mode-progress", "images"),
        ("auto-mode-complete", "images"),
        ("auto-mode-start", "audio"),
        ("auto-mode-progress", "audio"),
        ("auto-mode-progress", "audio"),
        ("auto-mode-progress", "audio"),
        ("auto-mode-complete", "audio"),
        ("auto-mode-start", "merge"),
        ("auto-mode-progress", "merge"),
        ("auto-mode-complete", "merge"),
    ]
    # The room's numbering went on from the first run (nobody listened then): no gap, no reset.
    seqs = [e.seq for e in story_events]
    first = seqs[0]
    assert first is not None
    assert first > 1
    assert seqs == list(range(first, first + len(seqs)))
    images = [e for e in alice_events.of(AutoModeProgress) if e.step == "images"]
    assert [(e.current, e.total, e.progress) for e in images] == [
        (1, 3, 33.33), (2, 3, 66.67), (3, 3, 100.0),
    ]  # fmt: skip
    completes = alice_events.of(AutoModeComplete)
    assert [c.completed_steps for c in completes] == [
        ["story", "images"],
        ["story", "images", "audio"],
        ["story", "images", "audio", "merge"],
    ]
    done = await alice_events.wait_for(StoryProcessingComplete)
    assert done.original_word_count >= 120
    story = await alice.story(story_id)
    assert story["customPrompt"] == "Tell it as a ballad"
    assert story["status"]["audioMerged"] is True
    assert len(story["media"]["images"]) == 3


async def test_generate_with_auto_mode_off_runs_the_story_step_only(
    alice: Api, alice_events: EventStream
) -> None:
    story_id = await _finished_story(alice)
    await alice_events.join_story(story_id)
    response = await alice.http.send(
        _generate(alice, story_id, {"customPrompt": "short", "autoMode": {"enabled": False}})
    )
    assert response.status_code == 201
    assert response.json()["autoMode"] is False
    await alice_events.wait_for(StoryProcessingComplete)
    story = await alice.story(story_id)
    assert story["status"]["storyGenerated"] is True
    assert story["status"]["imagesGenerated"] is False
    assert story["media"]["images"] == []
    assert alice_events.of(AutoModeProgress) == []
