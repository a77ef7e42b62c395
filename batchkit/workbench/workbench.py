"""The workbench: the batch processing page and its flow, select → configure → start → follow.

:class:`Workbench` joins the widgets (which never touch the network) to a
:class:`~batchkit.session.BatchSession` (which does). Every action a button starts runs as a
task on the kernel's event loop, kept referenced, and any failure is painted into the notifier:
a server error never escapes into the kernel. The same flow is callable from code
(:meth:`Workbench.add_files`, :meth:`Workbench.start`, :meth:`Workbench.wait`), which is how a
notebook runs it unattended and how the tests drive it.
"""

from __future__ import annotations

import asyncio
import atexit
import os
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

import pandas as pd

from batchkit.config import BatchConfig, Profile, ServerOptions
from batchkit.errors import ConfigError, InputError, RunError
from batchkit.files import Document
from batchkit.session import BatchSession, StoryService, open_service
from batchkit.tracker import BatchRun
from batchkit.widgets import (
    Busy,
    ConfigForm,
    Notifier,
    UploadZone,
    ask,
    close_tree,
    config_form,
    confirm,
    upload_zone,
)
from batchkit.workbench.display import RunDisplay
from batchkit.workbench.media import MediaPanel
from batchkit.workbench.offers import retryable
from batchkit.workbench.page import WorkbenchPage
from batchkit.workbench.settings import embedded_pace
from batchkit.workbench.tasks import TaskKeeper

__all__ = ["Workbench"]

PathLike = str | os.PathLike[str]


class Workbench:
    """The batch processing page on one Story API.

    Display it (``wb`` as a cell's last line, or ``display(wb)``) to get the page: server and
    status, the upload zone, the settings, Start / Retry failed / Start over, the progress of
    the current run, regeneration and the media of finished stories, and notices. ``run``,
    ``files`` (the live DataFrame), ``session`` and ``service`` are there for the next cells.

    Build one with :meth:`open`, or ``Workbench(service, options=await service.client.options())``
    on a service of your own (the workbench then leaves it open on :meth:`close`).
    """

    def __init__(
        self,
        service: StoryService,
        *,
        options: ServerOptions | None = None,
        runs_dir: PathLike | None = None,
        presets_dir: PathLike | None = None,
        start_dir: str | None = None,
        owns_service: bool = False,
    ) -> None:
        self.service = service
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._owns_service = owns_service
        self.notifier = Notifier()
        self._keeper = TaskKeeper(self.notifier.error)
        self._busy = Busy(self.notifier)
        profile = service.client.profile
        self.zone: UploadZone = upload_zone(max_bytes=profile.max_file_bytes, start_dir=start_dir)
        folder = Path(presets_dir) if presets_dir is not None else None
        self.form: ConfigForm = config_form(options=options, presets_dir=folder)
        client = service.client
        self.media = MediaPanel(client.story, client.fetch_media, self._keeper)
        self.page = WorkbenchPage(self.zone, self.form, self.notifier, self.media)
        kind = f"{profile.name.value} server"
        where = f"{kind}, embedded in this kernel" if service.embedded else kind
        self._display = RunDisplay(
            self.page, self.zone, self.media, self.notifier, url=service.url, where=where
        )
        self._session: BatchSession | None = None
        self._documents: list[Document] = []
        self._config = BatchConfig()
        self._watcher: asyncio.Task[None] | None = None
        self._closed = False
        self._wire()
        self._display.set_status("ready: choose documents")

    @classmethod
    async def open(
        cls,
        url: str | None = None,
        *,
        username: str | None = None,
        password: str | None = None,
        token: str | None = None,
        profile: str | Profile | None = None,
        pace: float | None = None,
        runs_dir: PathLike | None = None,
        presets_dir: PathLike | None = None,
        start_dir: str | None = None,
    ) -> Workbench:
        """Log in to ``url`` (default ``$BATCHKIT_URL``; the login from ``$BATCHKIT_USERNAME``
        and ``$BATCHKIT_PASSWORD`` or ``$BATCHKIT_TOKEN``) and build the page; without a URL,
        start the embedded reference server (``pace`` seconds per chunk, default
        ``$BATCHKIT_PACE`` or 0.05). Runs are saved under ``runs_dir`` when given.
        """
        chosen_pace = embedded_pace() if pace is None else pace
        service = await open_service(
            url, username=username, password=password, token=token, profile=profile,
            pace=chosen_pace,
        )  # fmt: skip
        try:
            workbench = cls(
                service, options=await service.client.options(), runs_dir=runs_dir,
                presets_dir=presets_dir, start_dir=start_dir, owns_service=True,
            )  # fmt: skip
        except BaseException:
            await service.aclose()  # no page, no server left behind
            raise
        if service.embedded is not None:
            # A kernel shut down without close() still stops the server and deletes its data.
            atexit.register(service.embedded.stop)
        return workbench

    # ------------------------------------------------------------ what it shows and holds
    @property
    def widget(self) -> Any:
        """The page, an ipywidgets container."""
        return self.page.widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.page.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        return f"<Workbench {self.service.url} status={self.status!r}>"

    @property
    def status(self) -> str:
        """What the header says the workbench is doing."""
        return self._display.status

    @property
    def session(self) -> BatchSession:
        """The session of the current run; :class:`RunError` before the first Start."""
        if self._session is None:
            raise RunError("no batch yet: choose documents and press Start")
        return self._session

    @property
    def run(self) -> BatchRun:
        """The current run (the one the progress view shows)."""
        return self.session.run

    @property
    def files(self) -> pd.DataFrame:
        """The current run's live per-file DataFrame, updated in place as events arrive."""
        return self.run.files

    @property
    def running(self) -> bool:
        """True while the current run is being followed."""
        return self._session is not None and self._session.running

    # ------------------------------------------------------------ the flow, from code
    def add_files(self, paths: Iterable[PathLike]) -> None:
        """Add files from the kernel's disk to the upload zone (checked like browser files)."""
        self.zone.add_paths(paths)

    async def start(self, config: BatchConfig | None = None) -> BatchRun:
        """Start a batch of the zone's accepted files with ``config`` (default: the form's).

        Returns the run at once; it fills in as the files are uploaded and processed. Raises
        :class:`~batchkit.errors.InputError` (no files, files still arriving, invalid settings)
        or :class:`~batchkit.errors.RunError` (a batch is already running: await :meth:`wait`
        or :meth:`start_over` first).
        """
        if self.zone.receiving:
            raise InputError("files are still arriving from the browser; start once they are in")
        return await self._start(list(self.zone.documents), config or self.form.config)

    async def wait(self) -> BatchRun:
        """The current run once every file is completed or failed and the page shows it.

        Raises what stopped the run, if something did (the page has shown it already).
        """
        session = self.session
        if self._watcher is not None:
            await asyncio.wait({self._watcher})
        return await session.wait()

    async def settled(self) -> None:
        """Return once every action started from the page (a button, a pick) has finished.

        The run itself may go on: that is :meth:`wait`. Failures are painted, not raised.
        """
        while True:
            pending = {
                t for t in (*self._busy.tasks, *self._keeper.tasks) if t is not self._watcher
            }
            if not pending:
                return
            await asyncio.wait(pending)

    async def retry_failed(self) -> BatchRun:
        """Run the failed files of the current run again as a new run, same settings."""
        if self.running:
            raise RunError("the batch is still running; retry once it is done")
        documents = retryable(self.run.snapshot(), self._documents)
        if not documents:
            raise RunError("no failed file to retry (a rejected file has to be fixed first)")
        missing = [d.name for d in documents if d.path is not None and not d.path.exists()]
        if missing:
            self.notifier.warning(f"no longer on the kernel's disk, not retried: {missing}")
        present = [d for d in documents if d.name not in missing]
        return await self._start(present, self._config)

    async def regenerate(self, index: int, prompt: str) -> None:
        """Generate file ``index``'s story again with ``prompt``, and follow it."""
        session = self.session
        await session.regenerate(index, prompt)
        name = str(self.run.files.at[index, "name"])
        self.notifier.info(f"generating the story of {name} again")
        self._display.set_status("running: regenerating a story")
        if self._watcher is None or self._watcher.done():
            self._watch(session)
        self._refresh_actions()

    async def start_over(self) -> None:
        """Stop following the current run and clear the files, progress and media."""
        session, self._session = self._session, None
        if session is not None:
            await session.cancel()
        self._display.drop_view()
        self.zone.disabled = False
        self.zone.clear()
        self.media.clear()
        self._documents = []
        self._display.set_status("ready: choose documents")
        self._refresh_actions()
        self.notifier.info("started over: choose documents for a new batch")

    async def close(self) -> None:
        """Stop following, close the page and, if the workbench opened it, the service
        (which stops the embedded server and deletes its data)."""
        if self._closed:
            return
        self._closed = True
        if self._session is not None:
            await self._session.cancel()
        await self._keeper.cancel_all()
        await _cancel(self._busy.tasks)
        self._display.drop_view()
        self.zone.close()
        self.media.clear()
        self._display.set_status("closed")
        close_tree(self.page.widget)
        if self._owns_service:
            if self.service.embedded is not None:
                atexit.unregister(self.service.embedded.stop)
            await self.service.aclose()

    # ------------------------------------------------------------ running a batch
    async def _start(self, documents: list[Document], config: BatchConfig) -> BatchRun:
        if self._closed:
            raise RunError("this workbench is closed; open a new one")
        if not documents:
            raise ConfigError("choose at least one document", field="documents")
        if self.running:
            raise RunError("a batch is still running; start over, or wait for it to finish")
        session = BatchSession(self.service.client, runs_dir=self._runs_dir)
        run = await session.start(documents, config)
        self._session, self._documents, self._config = session, documents, config
        self._display.show(run, is_current=self._session_run_is)
        self._refresh_actions()
        self._watch(session)
        return run

    def _session_run_is(self, run: BatchRun) -> bool:
        return self._session is not None and self._session.run is run

    def _watch(self, session: BatchSession) -> None:
        self._watcher = self._keeper.spawn(self._follow(session), failure="the batch stopped")

    async def _follow(self, session: BatchSession) -> None:
        try:
            await session.wait()
        finally:
            if session is self._session:
                self._finished(session.run)

    def _finished(self, run: BatchRun) -> None:
        self._display.finished(run)
        self._refresh_actions()

    # ------------------------------------------------------------ the page's buttons
    def _wire(self) -> None:
        page = self.page
        self.zone.on_change(lambda zone: self.form.set_file_names(d.name for d in zone.documents))
        page.start.on_click(lambda _: self._on_start())
        page.retry.on_click(lambda _: self._on_retry())
        page.start_over.on_click(lambda _: self._on_start_over())
        page.regenerate.on_click(lambda _: self._on_regenerate())

    def _on_start(self) -> None:
        if not self.running:
            self._launch(self._start_from_page)
            return
        question = (
            "A batch is still running. Start a new one? The running batch goes on on the "
            "server, but this page stops following it."
        )
        self._ask(question, lambda: self._launch(self._restart), yes="Start a new batch")

    async def _start_from_page(self) -> BatchRun:
        try:
            return await self.start()
        except ConfigError as error:
            if error.field not in (None, "documents"):
                self.page.settings.selected_index = 0  # unfold the settings to show the problem
            raise

    async def _restart(self) -> BatchRun:
        if self._session is not None:
            await self._session.cancel()
        return await self._start_from_page()

    def _launch(self, work: Callable[[], Any]) -> None:
        self._busy.run(self.page.start, work, failure="could not start the batch")

    def _on_retry(self) -> None:
        self._busy.run(self.page.retry, self.retry_failed, failure="could not retry")

    def _on_start_over(self) -> None:
        if not self.running:
            self._keeper.spawn(self.start_over(), failure="could not start over")
            return
        question = (
            "A batch is still running. Stop following it and clear the files and progress? "
            "The server's batch goes on."
        )
        self._ask(
            question,
            lambda: self._keeper.spawn(self.start_over(), failure="could not start over"),
            yes="Start over",
        )

    def _on_regenerate(self) -> None:
        index = self.page.regenerate_file.value
        prompt = str(self.page.regenerate_prompt.value).strip()
        if index is None:
            self.notifier.warning("pick a completed file to regenerate")
            return
        if not prompt:
            self.notifier.warning("write a prompt for the new story")
            return
        name = str(self.run.files.at[int(index), "name"])
        question = f"Generate the story of {name} again? Its story, images and audio are replaced."

        def regenerate() -> None:
            self._busy.run(
                self.page.regenerate,
                lambda: self.regenerate(int(index), prompt),
                failure="could not regenerate the story",
            )

        ask(self.page.regenerate_confirm, confirm(question, regenerate, yes="Regenerate"))

    def _ask(self, question: str, on_yes: Callable[[], object], *, yes: str) -> None:
        ask(self.page.confirm_slot, confirm(question, on_yes, yes=yes))

    # ------------------------------------------------------------ painting
    def _refresh_actions(self) -> None:
        if self._session is None:
            self._display.offer(None, can_retry=False)
            return
        snapshot = self._session.run.snapshot()
        can_retry = not self.running and bool(retryable(snapshot, self._documents))
        self._display.offer(snapshot, can_retry=can_retry)


async def _cancel(tasks: Iterable[asyncio.Task[Any]]) -> None:
    running = [task for task in tasks if not task.done()]
    for task in running:
        task.cancel()
    await asyncio.gather(*running, return_exceptions=True)
