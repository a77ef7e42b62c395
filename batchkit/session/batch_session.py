"""Running documents through a Story API as one run: screen, plan, upload, create, follow.

A run holds any number of files. They are screened first (a rejected file stays in the table as
``failed`` with its reason), then sent in groups of at most 10 (the upload limit), each group
becoming one batch; one :class:`~batchkit.tracker.BatchRun` follows them all, its ``batch_id``
column telling which batch each file went into. One bad file, one failed upload or one refused
batch fails those files alone; the others go on.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from collections.abc import Sequence
from pathlib import Path
from typing import Self

from batchkit.client import StoryClient
from batchkit.config import BatchConfig, Profile
from batchkit.contract.limits import MAX_FILES, PipelineStep
from batchkit.contract.rest import BatchCreateData, StoryInput
from batchkit.errors import BatchkitError, ConfigError, RateLimited, RunError
from batchkit.files import Document, check_documents
from batchkit.runs import EventLog, save_run
from batchkit.session.follower import Follower, FollowOptions
from batchkit.tracker import BatchRun, FactLog, FileStatus, PlannedFile

__all__ = ["BatchSession", "DocumentLike"]

logger = logging.getLogger("batchkit.session")

DocumentLike = Document | str | os.PathLike[str]
_PROGRESS_STEP = 0.01  # fold upload progress in 1 % steps, not once per 64 KiB chunk


def new_run(
    files: Sequence[PlannedFile],
    steps: Sequence[PipelineStep],
    profile: Profile,
    options: FollowOptions,
    *,
    run_id: str | None = None,
    log: FactLog | None = None,
) -> BatchRun:
    """A run of ``files`` through ``steps``, judged the way ``profile``'s server reports.

    Production never reports the merge (section 7), its events run ahead of its work, it runs
    crashed batches again, and it tells failures only by events a client can miss: there a
    step counts only once REST confirms it, a failed batch is final only after
    ``options.batch_failure_grace``, and a file that hears nothing for
    ``options.give_up_after`` is failed.
    """
    reports = profile.reports_results
    return BatchRun(
        files,
        steps=steps,
        reportable_steps=steps if reports else [s for s in steps if s is not PipelineStep.MERGE],
        stall_timeout=options.stall_timeout,
        give_up_after=None if reports else options.give_up_after,
        run_id=run_id,
        log=log,
        events_confirm=profile.events_confirm_steps,
        retried_batches=profile.retries_crashed_batches,
        batch_failure_grace=options.batch_failure_grace,
    )


class BatchSession:
    """One run of documents through one Story API, followed live.

    ``await session.start(documents, config)`` screens and plans the files and returns at once;
    the returned run (also ``session.run``) fills in while uploads, batches and events proceed in
    a background task. ``await session.wait()`` returns the run when every file is completed or
    failed, and raises what stopped it if it could not go on.
    """

    def __init__(
        self,
        client: StoryClient,
        *,
        follow: FollowOptions | None = None,
        runs_dir: str | os.PathLike[str] | None = None,
    ) -> None:
        self._client = client
        self._options = follow or FollowOptions()
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._task: asyncio.Task[None] | None = None
        self._follower: Follower | None = None
        self._run: BatchRun | None = None
        self._config = BatchConfig()
        self._documents: dict[int, Document] = {}
        self.run_dir: Path | None = None

    def __repr__(self) -> str:
        state = "idle" if self._task is None else "done" if self._task.done() else "running"
        return f"<BatchSession {state} run={self._run!r} client={self._client!r}>"

    @property
    def run(self) -> BatchRun:
        if self._run is None:
            raise RunError("no run has been started in this session")
        return self._run

    @property
    def follower(self) -> Follower | None:
        return self._follower

    @property
    def running(self) -> bool:
        return self._task is not None and not self._task.done()

    # ------------------------------------------------------------ starting
    async def start(
        self, documents: Sequence[DocumentLike], config: BatchConfig | None = None
    ) -> BatchRun:
        """Screen and plan ``documents``, then upload, create and follow them in the background."""
        if self.running:
            raise RunError("a run is still going on in this session; wait for it or cancel it")
        config = config or BatchConfig()
        chosen = [_as_document(d) for d in documents]
        if not chosen:
            raise ConfigError("choose at least one document", field="documents")
        config.check_files(d.name for d in chosen)
        config.check_for(await self._client.options(), self._client.profile)
        planned, accepted = self._screen(chosen)
        run = self._new_run(planned, config)
        self._config = config
        self._follower = Follower(self._client, run, self._options)
        self._task = asyncio.create_task(self._drive(accepted), name=f"batchkit-{run.run_id}")
        return run

    def follow_existing(self, run: BatchRun, config: BatchConfig | None = None) -> BatchRun:
        """Follow ``run``, whose batches already exist on the server, until it is done."""
        if self.running:
            raise RunError("a run is still going on in this session; wait for it or cancel it")
        self._run, self._config = run, config or BatchConfig()
        if self.run_dir is not None and run.log is None:
            run.attach_log(EventLog.in_directory(self.run_dir))
        self._follower = Follower(self._client, run, self._options)
        for batch_id in run.batch_ids:
            self._follower.add_batch(batch_id)
        self._task = asyncio.create_task(self._follow_only(), name=f"batchkit-{run.run_id}")
        return run

    async def run_batch(
        self, documents: Sequence[DocumentLike], config: BatchConfig | None = None
    ) -> BatchRun:
        """:meth:`start`, then :meth:`wait`."""
        await self.start(documents, config)
        return await self.wait()

    async def wait(self) -> BatchRun:
        """The run once every file is completed or failed; raises what stopped it, if anything."""
        if self._task is None:
            raise RunError("no run has been started in this session")
        await asyncio.shield(self._task)
        return self.run

    async def cancel(self) -> None:
        """Stop following (the server's batches go on); the run keeps what it knew."""
        if self._task is not None and not self._task.done():
            self._task.cancel()
            await asyncio.gather(self._task, return_exceptions=True)

    async def regenerate(self, index: int, custom_prompt: str) -> None:
        """Generate file ``index``'s story again with ``custom_prompt`` and follow it.

        The new attempt is marked before the request goes out (the server starts the story
        before it answers, so its first events may beat the answer) and undone if the request
        is refused.
        """
        run = self.run
        story_id = run.files.at[index, "story_id"]
        if not isinstance(story_id, str):
            raise RunError(f"file {index} has no story on the server to generate again")
        run.mark_regenerate(index)
        try:
            await self._client.generate(story_id, custom_prompt, self._config.to_auto_mode())
        except BaseException as exc:
            run.mark_regenerate_undone(index, f"the regeneration was refused: {exc}")
            raise
        if self.running and self._follower is not None:
            self._follower.resume()
        else:
            self.follow_existing(run, self._config)

    def retryable(self) -> tuple[int, ...]:
        """The rows :meth:`retry` would send: failed, not refused, and still to hand (their
        document, or their upload on the server)."""
        if self._run is None:
            return ()
        return tuple(i for i in range(len(self._run.plan.files)) if self._cannot_retry(i) is None)

    async def retry(self, indices: Sequence[int] | None = None) -> BatchRun:
        """Send the failed files at rows ``indices`` (all :meth:`retryable` ones when None)
        again, in the same run: each row starts a new attempt in a new batch, with its own
        title and prompt. Raises :class:`RunError` saying why a row cannot be retried."""
        run = self.run
        if self.running:
            raise RunError("a run is still going on in this session; wait for it or cancel it")
        rows = tuple(dict.fromkeys(self.retryable() if indices is None else indices))
        if not rows:
            raise RunError("no file can be retried: none failed")
        for row in rows:
            problem = self._cannot_retry(row)
            if problem is not None:
                raise RunError(f"{run.plan.files[row].name} cannot be retried: {problem}")
        run.mark_retry(rows)
        self._follower = Follower(self._client, run, self._options)
        self._task = asyncio.create_task(self._drive(list(rows)), name=f"batchkit-{run.run_id}")
        return run

    def _cannot_retry(self, row: int) -> str | None:
        run = self.run
        if not 0 <= row < len(run.plan.files):
            return f"the run has no file {row}"
        if run.plan.files[row].rejection is not None:
            return f"it was refused before sending ({run.plan.files[row].rejection})"
        if run.status_of(row) is not FileStatus.FAILED:
            return f"it has not failed (it is {run.status_of(row)})"
        if run.uploaded_url(row) is None and self._document(row) is None:
            return "its document is not in this session (the run was attached from the server)"
        return None

    # ------------------------------------------------------------ planning
    def _screen(self, documents: list[Document]) -> tuple[list[PlannedFile], list[int]]:
        """Every document planned in input order; the rejected ones carry their reason."""
        screening = check_documents(
            documents, max_files=None, max_bytes=self._client.profile.max_file_bytes
        )
        accepted, rejected = iter(screening.accepted), iter(screening.rejected)
        next_accepted = next(accepted, None)
        planned: list[PlannedFile] = []
        indices: list[int] = []
        for index, document in enumerate(documents):
            if next_accepted is not None and _same_source(next_accepted, document):
                planned.append(PlannedFile(name=document.name, size=next_accepted.size))
                indices.append(index)
                next_accepted = next(accepted, None)
            else:
                reason = next(rejected).reason
                planned.append(
                    PlannedFile(name=document.name, size=document.size, rejection=reason)
                )
        self._documents = dict(enumerate(documents))
        return planned, indices

    def _new_run(self, planned: list[PlannedFile], config: BatchConfig) -> BatchRun:
        steps = config.enabled_steps()
        run_id = uuid.uuid4().hex[:12]
        log = None
        if self._runs_dir is not None:
            self.run_dir = self._runs_dir / run_id
            log = EventLog.in_directory(self.run_dir)
        self._run = new_run(
            planned, steps, self._client.profile, self._options, run_id=run_id, log=log
        )
        return self._run

    # ------------------------------------------------------------ the background work
    async def _drive(self, accepted: list[int]) -> None:
        follower = self._follower
        assert follower is not None
        following = asyncio.create_task(follower.follow(), name="batchkit-follow")
        try:
            for start in range(0, len(accepted), MAX_FILES):
                await self._send_group(accepted[start : start + MAX_FILES])
            follower.no_more_batches()
            await following
        finally:
            follower.no_more_batches()
            if not following.done():
                following.cancel()
                await asyncio.gather(following, return_exceptions=True)
            self._save()

    async def _follow_only(self) -> None:
        follower = self._follower
        assert follower is not None
        follower.no_more_batches()
        try:
            await follower.follow()
        finally:
            self._save()

    async def _send_group(self, indices: list[int]) -> None:
        run, follower = self.run, self._follower
        assert follower is not None
        # A retried file that reached the server once is not sent again: its upload is reused.
        await self._upload_missing([i for i in indices if run.uploaded_url(i) is None])
        ready = {i: url for i in indices if (url := run.uploaded_url(i)) is not None}
        if not ready:
            return
        names = run.plan.files
        inputs = [self._config.story_input(names[i].name, url) for i, url in ready.items()]
        try:
            created = await self._create_batch(inputs)
        except BatchkitError as exc:
            run.mark_batch_failed(list(ready), f"the batch could not be created: {exc}")
            return
        run.mark_batch_created(created.batch_id, list(ready), created.job_id)
        follower.add_batch(created.batch_id)

    async def _create_batch(self, inputs: list[StoryInput]) -> BatchCreateData:
        """Create one batch; while the server refuses it for now (429 with ``Retry-After``),
        wait as it asks, within :attr:`FollowOptions.refused_batch_patience`."""
        loop = asyncio.get_running_loop()
        patience = self._options.refused_batch_patience
        deadline = None if patience is None else loop.time() + patience
        while True:
            try:
                return await self._client.create_batch(inputs, self._config.to_auto_mode())
            except RateLimited as exc:
                wait = exc.retry_after
                if wait is None or (deadline is not None and loop.time() + wait > deadline):
                    raise
                # Refused without acting (the user's batches a minute, or stories in flight, are
                # at their limit): the files stay queued, and the server said when to ask again.
                logger.info("the server refused a batch for now (%s); again in %.0f s", exc, wait)
                await asyncio.sleep(wait)

    async def _upload_missing(self, indices: list[int]) -> None:
        """Upload the files at ``indices`` and fold what came of it into the run."""
        if not indices:
            return
        run = self.run
        documents = [self._document(i) for i in indices]
        try:
            uploaded = await self._client.upload(
                [d for d in documents if d is not None],
                on_progress=self._progress_reporter(indices),
                check=False,
            )
        except BatchkitError as exc:
            for index in indices:
                run.mark_upload_failed(index, f"upload failed: {exc}")
            return
        with run.batch():
            for index, item in zip(indices, uploaded.files, strict=True):
                run.mark_uploaded(index, item.file_url)

    def _document(self, row: int) -> Document | None:
        return self._documents.get(row)

    def _progress_reporter(self, indices: list[int]) -> _ProgressReporter:
        return _ProgressReporter(self.run, indices)

    def _save(self) -> None:
        """Write the run's files next to its log, then close the log (reopened on a resume)."""
        if self.run_dir is not None and self._run is not None:
            try:
                save_run(
                    self._run,
                    self.run_dir,
                    config=self._config.model_dump(mode="json"),
                    server_url=self._client.base_url,
                )
            except (OSError, BatchkitError) as exc:
                logger.error("could not save the run to %s: %s", self.run_dir, exc)
            if isinstance(self._run.log, EventLog):
                self._run.log.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(self, *exc_info: object) -> None:
        await self.cancel()


class _ProgressReporter:
    """Folds upload progress into the run in 1 % steps (and always the last byte)."""

    def __init__(self, run: BatchRun, indices: list[int]) -> None:
        self._run = run
        self._indices = indices
        self._last: dict[int, float] = {}

    def __call__(self, position: int, sent: int, total: int) -> None:
        fraction = sent / total if total else 1.0
        if fraction < 1.0 and fraction - self._last.get(position, -1.0) < _PROGRESS_STEP:
            return
        self._last[position] = fraction
        self._run.mark_upload_progress(self._indices[position], sent, total)


def _same_source(a: Document, b: Document) -> bool:
    # Screening hands back fresh copies (sizes re-read), so compare where the bytes come from.
    return a.name == b.name and a.path == b.path and a.data is b.data


def _as_document(item: DocumentLike) -> Document:
    return item if isinstance(item, Document) else Document.from_path(item)
