"""The workbench: the batch processing page and its flow, select → configure → start → follow.

:class:`Workbench` joins the widgets (which never touch the network) to a
:class:`~batchkit.session.BatchSession` (which does). Every widget callback, on whatever thread
ipykernel delivers it, goes through the page's one :class:`~batchkit.widgets.TaskKeeper` to the
loop the page was built on (the loop of the client, the event stream and the tracker); its work
is kept referenced and any failure is painted next to the button that started it. The same
flow is callable from code (:meth:`Workbench.add_files`, :meth:`Workbench.start`,
:meth:`Workbench.wait`), which is how a notebook runs it unattended and how the tests drive it.

:meth:`Workbench.open` returns at once with the page (so a cell shows it within a second),
and starts the server and logs in in the background; the page says what it waits for, and
every action waits for it too (:meth:`Workbench.ready`).
"""

from __future__ import annotations

import asyncio
import atexit
import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from batchkit.config import BatchConfig, Profile, ServerOptions
from batchkit.errors import ConfigError, InputError, RunError
from batchkit.files import Document
from batchkit.widgets import (
    BatchView,
    ConfigForm,
    Notifier,
    TaskKeeper,
    UploadZone,
    config_form,
    upload_zone,
)
from batchkit.workbench.actions import PageActions
from batchkit.workbench.display import RunDisplay
from batchkit.workbench.media import MediaPanel
from batchkit.workbench.offers import (
    completed_stories,
    retry_offer,
    session_retry_offer,
)
from batchkit.workbench.opening import connect, profile_from_environment
from batchkit.workbench.page import WorkbenchPage
from batchkit.workbench.settings import embedded_pace
from batchkit.workbench.watching import RunWatch

if TYPE_CHECKING:
    import pandas as pd

    from batchkit.session import BatchSession, StoryService
    from batchkit.tracker import BatchRun

__all__ = ["Workbench"]

PathLike = str | os.PathLike[str]


class Workbench:
    """The batch processing page on one Story API.

    Display it (``wb`` as a cell's last line, or ``display(wb)``) to get the page: server and
    status, the documents and their one table, the settings, Start / Retry failed / Start over
    with the overall bar, regeneration and the media of finished stories, and the log.
    ``run``, ``files`` (the live DataFrame), ``session`` and ``service`` are there for the
    next cells.

    Build one with :meth:`open`, or ``Workbench(service, options=await service.client.options())``
    on a service of your own (the workbench then leaves it open on :meth:`close`).
    """

    def __init__(
        self,
        service: StoryService | None = None,
        *,
        options: ServerOptions | None = None,
        runs_dir: PathLike | None = None,
        presets_dir: PathLike | None = None,
        start_dir: str | None = None,
        owns_service: bool = False,
        profile: Profile | None = None,
    ) -> None:
        self._service = service
        self._runs_dir = Path(runs_dir) if runs_dir is not None else None
        self._owns_service = owns_service
        self.keeper = TaskKeeper(on_settled=self.refresh)
        self.notifier = Notifier(keeper=self.keeper)
        self.keeper.report_to(self.notifier.reporter("run"))
        if service is not None:
            profile = service.client.profile
        self._build(profile or profile_from_environment(), options, presets_dir, start_dir)
        self._display = RunDisplay(self.page, self.notifier)
        self._session: BatchSession | None = None
        self._keys: list[int] = []
        self._watching = RunWatch(
            self.keeper, self.zone, self._display, lambda: self._session, self.refresh
        )
        self._opening: asyncio.Future[None] | None = None
        self.waiting_for = ""
        self._closed = False
        self.actions = PageActions(self)
        if service is not None:
            self._connected(service)

    def _build(
        self,
        profile: Profile,
        options: ServerOptions | None,
        presets_dir: PathLike | None,
        start_dir: str | None,
    ) -> None:
        """The page's parts, every callback through the one keeper."""
        self.zone: UploadZone = upload_zone(
            max_bytes=profile.max_file_bytes, start_dir=start_dir, keeper=self.keeper
        )
        folder = Path(presets_dir) if presets_dir is not None else None
        self.form: ConfigForm = config_form(options=options, presets_dir=folder, keeper=self.keeper)
        self.media = MediaPanel(
            lambda story_id: self.service.client.story(story_id),
            lambda url: self.service.client.fetch_media(url),
            self.keeper,
            report=self.notifier.reporter("media"),
        )
        self.view = BatchView(
            self.zone,
            keeper=self.keeper,
            on_error=lambda error: self.notifier.error(f"the file table failed: {error}"),
        )
        self.page = WorkbenchPage(
            self.zone, self.form, self.notifier, self.media, self.view, self.keeper
        )

    # ------------------------------------------------------------ opening
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
        """The page, at once; the server is reached in the background (see :meth:`ready`).

        Logs in to ``url`` (default ``$BATCHKIT_URL``; the login from ``$BATCHKIT_USERNAME``
        and ``$BATCHKIT_PASSWORD`` or ``$BATCHKIT_TOKEN``); without a URL, starts the embedded
        reference server (``pace`` seconds per chunk, default ``$BATCHKIT_PACE`` or 0.05).
        Runs are saved under ``runs_dir`` when given. A failure to reach the server is shown on
        the page and raised by :meth:`ready` (and by every action that needs the server).
        """
        chosen = Profile.named(profile) if profile is not None else profile_from_environment()
        workbench = cls(
            runs_dir=runs_dir, presets_dir=presets_dir, start_dir=start_dir, owns_service=True,
            profile=chosen,
        )  # fmt: skip
        workbench._waiting("loading batchkit's client")
        connect = workbench._connect(
            url, username=username, password=password, token=token, profile=profile,
            pace=embedded_pace() if pace is None else pace,
        )  # fmt: skip
        opening = workbench.keeper.spawn(connect, failure="could not reach the Story API")
        assert isinstance(opening, asyncio.Task)
        workbench._opening = opening
        return workbench

    async def _connect(self, url: str | None, *, pace: float, **login: Any) -> None:
        service, options = await connect(url, pace=pace, say=self._waiting, **login)
        if self._closed:
            await service.aclose()
            raise RunError("the workbench was closed while it was opening")
        self.form.set_options(options)
        self._connected(service)

    def _waiting(self, what: str) -> None:
        self.waiting_for = what
        self._display.set_status(f"{what}…")
        self.refresh()

    def _connected(self, service: StoryService) -> None:
        self._service = service
        self.waiting_for = ""
        profile = service.client.profile
        kind = f"{profile.name.value} server"
        self._display.set_server(
            service.url, f"{kind}, embedded in this kernel" if service.embedded else kind
        )
        self._display.set_status("ready: choose documents")
        self.refresh()

    async def ready(self) -> Workbench:
        """This workbench once it is logged in; raises why it could not be."""
        if self._opening is not None:
            await asyncio.shield(self._opening)
        if self._service is None:
            raise RunError("this workbench has no server (it is closed)")
        return self

    # ------------------------------------------------------------ what it shows and holds
    @property
    def widget(self) -> Any:
        """The page, an ipywidgets container."""
        return self.page.widget

    def _repr_mimebundle_(self, **kwargs: Any) -> Any:
        return self.page.widget._repr_mimebundle_(**kwargs)

    def __repr__(self) -> str:
        url = self._service.url if self._service is not None else "(connecting)"
        return f"<Workbench {url} status={self.status!r}>"

    @property
    def status(self) -> str:
        """What the status line says the workbench is doing."""
        return self._display.status

    @property
    def service(self) -> StoryService:
        """The logged-in service; :class:`RunError` while the workbench is still opening."""
        if self._service is None:
            raise RunError(f"the workbench is not ready yet ({self.waiting_for or 'closed'})")
        return self._service

    @property
    def session(self) -> BatchSession:
        """The session of the current run; :class:`RunError` before the first Start."""
        if self._session is None:
            raise RunError("no batch yet: choose documents and press Start")
        return self._session

    @property
    def run(self) -> BatchRun:
        """The current run (the one the table shows)."""
        return self.session.run

    @property
    def files(self) -> pd.DataFrame:
        """The current run's live per-file DataFrame, updated in place as events arrive.

        It is the run's raw table (for analysis); shown in a notebook it displays readably.
        """
        return self.run.files

    @property
    def running(self) -> bool:
        """True while the current run is being followed."""
        return self._session is not None and self._session.running

    @property
    def closed(self) -> bool:
        return self._closed

    # ------------------------------------------------------------ the flow, from code
    def add_files(self, paths: Iterable[PathLike]) -> None:
        """Add files from the kernel's disk to the list (checked like browser files)."""
        self.zone.add_paths(paths)

    async def start(self, config: BatchConfig | None = None) -> BatchRun:
        """Start a batch of the listed accepted files with ``config`` (default: the form's).

        Returns the run at once; it fills in as the files are uploaded and processed. Raises
        :class:`~batchkit.errors.InputError` (no files, files still arriving, invalid settings)
        or :class:`~batchkit.errors.RunError` (a batch is already running: await :meth:`wait`
        or :meth:`start_over` first).
        """
        await self.ready()
        if self.zone.receiving:
            raise InputError("files are still arriving from the browser; start once they are in")
        return await self._start(self.zone.chosen_documents(), config or self.form.config)

    async def wait(self) -> BatchRun:
        """The current run once every file is completed or failed and the page shows it.

        Raises what stopped the run, if something did (the page has shown it already).
        """
        session = self.session
        if self._watching.task is not None:
            await asyncio.wait({self._watching.task})
        await session.wait()
        await self.view.settled()
        return session.run

    async def settled(self) -> None:
        """Return once every action started from the page (a button, a pick) has finished.

        The run itself may go on: that is :meth:`wait`. Failures are painted, not raised.
        """
        while True:
            pending = {t for t in self.keeper.tasks if t is not self._watching.task}
            if isinstance(self._opening, asyncio.Task):
                pending.discard(self._opening)
            if not pending:
                return
            await asyncio.wait(pending)

    async def retry_failed(self) -> BatchRun:
        """Send the failed files of the current run again, in the same run, with their own
        titles and prompts: each keeps its row, which shows its new attempt."""
        session = self.session
        rows, reason = self.retry_rows()
        if not rows:
            raise RunError(f"nothing to retry: {reason}")
        run = await session.retry(list(rows))
        self._watching.regenerating = set()
        self._watching.lock_while_uploading(run)
        self._display.started(run, retried=len(rows))
        self._watching.watch(session)
        self.refresh()
        return run

    async def regenerate(self, index: int, prompt: str) -> None:
        """Generate file ``index``'s story again with ``prompt``, and follow it."""
        session = self.session
        await session.regenerate(index, prompt)
        self._watching.regenerating.add(index)
        name = str(self.run.files.at[index, "name"])
        self.notifier.info(f"generating the story of {name} again", place="stories")
        self._display.set_status(f"running: regenerating {name}")
        if not self._watching.following:
            self._watching.watch(session)
        self.refresh()

    async def start_over(self) -> None:
        """Stop following the current run and clear the files, progress and media."""
        session, self._session = self._session, None
        if session is not None:
            await session.cancel()
        self.view.forget_run()
        self.zone.reset()
        self.media.clear()
        self._keys, self._watching.regenerating = [], set()
        self._display.set_status("ready: choose documents")
        self.refresh()
        self.notifier.info("started over: choose documents for a new batch", place="files")

    async def close(self) -> None:
        """Stop following, close the page and, if the workbench opened it, the service
        (which stops the embedded server and deletes its data)."""
        if self._closed:
            return
        self._closed = True
        opening = self._opening
        if opening is not None and not opening.done():
            opening.cancel()
        if self._session is not None:
            await self._session.cancel()
        await self.keeper.cancel_all()
        self._display.set_status("closed")
        self.view.close()
        self.zone.close()
        self.media.close()
        from batchkit.widgets import close_tree

        close_tree(self.page.widget)
        service, self._service = self._service, None
        if self._owns_service and service is not None:
            if service.embedded is not None:
                atexit.unregister(service.embedded.stop)
            await service.aclose()

    # ------------------------------------------------------------ running a batch
    async def _start(self, pairs: list[tuple[int, Document]], config: BatchConfig) -> BatchRun:
        if self._closed:
            raise RunError("this workbench is closed; open a new one")
        if not pairs:
            raise ConfigError("choose at least one document", field="documents")
        if self.running:
            raise RunError("a batch is still running; start over, or wait for it to finish")
        from batchkit.session import BatchSession

        session = BatchSession(self.service.client, runs_dir=self._runs_dir)
        run = await session.start([document for _, document in pairs], config)
        self._session = session
        self._keys = [key for key, _ in pairs]
        self._watching.regenerating = set()
        from batchkit.workbench.readable import make_readable

        make_readable(run.files)
        self.zone.mark_sent(self._keys)
        self.view.show_run(run, self._keys)
        self.media.clear()
        self._watching.lock_while_uploading(run)
        self._display.started(run)
        self._watching.watch(session)
        self.refresh()
        return run

    # ------------------------------------------------------------ what is offered now
    def refresh(self) -> None:
        """Enable exactly the actions that can run now, each saying why the others cannot."""
        actions = getattr(self, "actions", None)
        if actions is None:
            return
        snapshot = self._session.run.snapshot() if self._session is not None else None
        self._display.offer_stories(completed_stories(snapshot), self.media.set_stories)
        actions.refresh(snapshot)

    def retry_rows(self) -> tuple[tuple[int, ...], str]:
        """The rows Retry would send now, or why it cannot run."""
        if self._session is None:
            return (), retry_offer(None, (), running=False).reason
        listed = {key for key, _ in self.zone.chosen_documents()}
        still_listed = [row for row, key in enumerate(self._keys) if key in listed]
        offer = session_retry_offer(self._session, still_listed, running=self.running)
        return offer.rows, offer.reason

    def regenerating(self, index: int) -> bool:
        return index in self._watching.regenerating and self.running
