"""The engine worker pool: real worker processes, real engines, real limits.

Each test starts a :class:`WorkerPool` of its own over a temporary data directory and sends it
jobs as the pipeline does. A limit is shown by a job that really passes it (a long text to speak
under a small CPU or wall-clock allowance, a file larger than its budget), never by a stand-in.
"""

from __future__ import annotations

import asyncio
import os
import signal
from collections.abc import AsyncIterator, Callable
from pathlib import Path

import pytest

from batchkit.contract import ImageStyle
from batchkit.errors import DocumentError, EngineError, LimitExceeded
from batchkit.server.fair_queue import JobOwner
from batchkit.server.jobs import ImageJob, JobLimits, JobRequest, MergeJob, SpeechJob, StoryJob
from batchkit.server.worker_pool import PoolSettings, WorkerPool

from .conftest import story_text

OWNER = JobOwner("alice", "batch-1")
MIB = 1024 * 1024
LONG_SPEECH = story_text(40_000)
"""Several seconds of CPU for eSpeak NG on any machine (~0.2 ms a word here)."""

PoolFactory = Callable[..., WorkerPool]


@pytest.fixture
async def pool_factory(tmp_path: Path) -> AsyncIterator[PoolFactory]:
    pools: list[WorkerPool] = []

    def make(**changes: float) -> WorkerPool:
        options = {"cpu_seconds": 60.0, "memory_bytes": 1024 * MIB, "wall_seconds": 120.0}
        options.update(changes)
        pool = WorkerPool(
            PoolSettings(
                size=int(options.pop("size", 1)),
                data_dir=tmp_path,
                cpu_seconds=options["cpu_seconds"],
                memory_bytes=int(options["memory_bytes"]),
                wall_seconds=options["wall_seconds"],
            )
        )
        pools.append(pool)
        return pool

    (tmp_path / "media").mkdir()
    (tmp_path / "uploads").mkdir()
    yield make
    for pool in pools:
        await pool.close()


def _speech(text: str, name: str = "clip.wav") -> SpeechJob:
    return SpeechJob(output=f"media/{name}", text=text, voice="Achird", model="x")


def test_a_job_is_data_that_survives_its_trip_as_json() -> None:
    """What crosses to a worker is a value: no callable, no reference into the server."""
    request = JobRequest(
        id=7,
        job=MergeJob(output="media/s/merged.wav", sources=("media/s/a.wav", "media/s/b.wav")),
        limits=JobLimits(cpu_seconds=1.5, memory_bytes=MIB, output_bytes=10),
    )
    assert JobRequest.model_validate_json(request.model_dump_json()) == request
    with pytest.raises(ValueError, match="frozen"):
        request.job.output = "elsewhere"  # type: ignore[misc]


async def test_jobs_run_in_other_processes_and_write_their_output(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    pool = pool_factory(size=2)
    image = ImageJob(
        output="media/picture.png",
        text="A lighthouse at dusk",
        style=ImageStyle.ANIME,
        index=0,
        prompt=None,
    )
    drawn = await pool.run(OWNER, image, output_bytes=10 * MIB)
    spoken = await pool.run(OWNER, _speech("Waves broke on the rocks."), output_bytes=10 * MIB)
    assert drawn.output_bytes == (tmp_path / "media/picture.png").stat().st_size > 0
    assert spoken.audio_seconds is not None
    assert spoken.audio_seconds > 0.5
    assert os.getpid() not in pool.worker_pids
    assert len(pool.worker_pids) == 1 or len(set(pool.worker_pids)) == len(pool.worker_pids)


async def test_a_worker_killed_while_idle_is_replaced_before_it_is_given_a_job(
    pool_factory: PoolFactory,
) -> None:
    pool = pool_factory()
    await pool.run(OWNER, _speech("One."), output_bytes=MIB)
    [pid] = pool.worker_pids
    os.kill(pid, signal.SIGKILL)
    async with asyncio.timeout(20):
        while True:  # until the pool has seen it die (a condition, polled)
            if not pool.worker_pids:
                break
            await asyncio.sleep(0.01)
    again = await pool.run(OWNER, _speech("Two."), output_bytes=MIB)
    assert again.output_bytes > 0
    assert pool.worker_pids != [pid]


async def test_a_job_past_its_cpu_time_fails_naming_the_limit_and_the_next_runs(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    pool = pool_factory(cpu_seconds=1)
    with pytest.raises(LimitExceeded, match=r"more than its 1 s of CPU time \(job_cpu_seconds\)"):
        await pool.run(OWNER, _speech(LONG_SPEECH), output_bytes=1024 * MIB)
    assert not (tmp_path / "media/clip.wav").exists()  # no half-written file is left
    again = await pool.run(OWNER, _speech("And then it was quiet."), output_bytes=10 * MIB)
    assert again.output_bytes > 0


async def test_a_job_past_its_wall_clock_is_killed_and_its_worker_replaced(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    pool = pool_factory(wall_seconds=0.3)
    with pytest.raises(LimitExceeded, match=r"longer than 0.3 s and was stopped .job_wall_seconds"):
        await pool.run(OWNER, _speech(LONG_SPEECH), output_bytes=1024 * MIB)
    assert not (tmp_path / "media/clip.wav").exists()
    again = await pool.run(OWNER, _speech("Short."), output_bytes=10 * MIB)
    assert again.output_bytes > 0


async def test_a_job_out_of_memory_fails_naming_the_limit(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    """50 MiB of text to read under an address space smaller than the worker already uses."""
    (tmp_path / "uploads/big.txt").write_bytes(b"word " * (10 * MIB // 5))
    job = StoryJob(
        source="uploads/big.txt",
        output="media/story.txt",
        generate_story=True,
        custom_prompt=None,
        max_words=10**9,
    )
    pool = pool_factory(memory_bytes=64 * MIB)
    with pytest.raises(LimitExceeded, match=r"memory \(job_memory_bytes\)"):
        await pool.run(OWNER, job, output_bytes=1024 * MIB)
    assert not (tmp_path / "media/story.txt").exists()


async def test_a_file_larger_than_the_media_left_fails_naming_the_story_budget(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    pool = pool_factory()
    with pytest.raises(LimitExceeded, match=r"max_media_bytes_per_story"):
        await pool.run(OWNER, _speech(story_text(500)), output_bytes=64 * 1024)
    assert not (tmp_path / "media/clip.wav").exists()


async def test_a_story_job_refuses_a_document_of_too_many_words_before_writing_it(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    (tmp_path / "uploads/long.txt").write_text(story_text(5_000))
    job = StoryJob(
        source="uploads/long.txt",
        output="media/story.txt",
        generate_story=True,
        custom_prompt=None,
        max_words=1_000,
    )
    with pytest.raises(LimitExceeded, match=r"more than 1,000 words .* \(max_story_words\)"):
        await pool_factory().run(OWNER, job, output_bytes=1024 * MIB)
    assert not (tmp_path / "media/story.txt").exists()


async def test_engine_failures_keep_their_kind_across_the_process_boundary(
    pool_factory: PoolFactory, tmp_path: Path
) -> None:
    (tmp_path / "uploads/empty.txt").write_bytes(b"")
    pool = pool_factory()
    story = StoryJob(
        source="uploads/empty.txt",
        output="media/story.txt",
        generate_story=True,
        custom_prompt=None,
        max_words=10,
    )
    with pytest.raises(DocumentError, match="empty"):
        await pool.run(OWNER, story, output_bytes=MIB)
    with pytest.raises(EngineError, match="unknown voice"):
        await pool.run(
            OWNER,
            SpeechJob(output="media/x.wav", text="hi", voice="Nobody", model="x"),
            output_bytes=MIB,
        )
    escape = SpeechJob(output="../outside.wav", text="hi", voice="Achird", model="x")
    with pytest.raises(EngineError, match="outside the data directory"):
        await pool.run(OWNER, escape, output_bytes=MIB)
    assert not (tmp_path.parent / "outside.wav").exists()
