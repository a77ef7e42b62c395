"""The page's buttons: what each press does, and what each button offers now.

Every press reaches :class:`PageActions` through the workbench's one task keeper (on the
page's loop), and its work runs through :meth:`TaskKeeper.run`, so the button says it is busy
and ignores presses until the work ends; then :meth:`PageActions.refresh` decides afresh. A
button is disabled exactly when its action cannot run, and the words beside it say why; one
that loses work (a new batch while one runs, Start over, Regenerate) asks first, where it is.
When a press leaves its own button disabled (Retry once the retry runs), the keyboard focus
moves to the run's progress rather than falling to the page's body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from batchkit.errors import ConfigError, InputError
from batchkit.widgets import ask, confirm
from batchkit.workbench.offers import regenerate_refusal, start_refusal

if TYPE_CHECKING:
    from batchkit.tracker import BatchRun, RunSnapshot
    from batchkit.workbench.workbench import Workbench

__all__ = ["PageActions"]


class PageActions:
    """The presses of ``workbench``'s page, and the state of its buttons."""

    def __init__(self, workbench: Workbench) -> None:
        self._wb = workbench
        self._pressed: Any = None
        page, keeper = workbench.page, workbench.keeper
        wire = keeper.callback
        page.start.on_click(wire(lambda _: self.on_start(), failure="could not start"))
        page.retry.on_click(wire(lambda _: self.on_retry(), failure="could not retry"))
        page.start_over.on_click(wire(lambda _: self.on_start_over(), failure="start over failed"))
        page.regenerate.on_click(wire(lambda _: self.on_regenerate(), failure="regenerate failed"))
        changed = wire(lambda _: workbench.refresh(), failure="could not refresh the page")
        page.regenerate_prompt.observe(changed, names="value")
        page.regenerate_file.observe(changed, names="value")
        workbench.form.on_change(lambda _: workbench.refresh())
        workbench.zone.on_change(self._files_changed)

    def _files_changed(self, zone: Any) -> None:
        self._wb.form.set_file_names(document.name for document in zone.documents)
        self._wb.refresh()

    # ------------------------------------------------------------ presses
    def on_start(self) -> None:
        wb = self._wb
        self._pressed = wb.page.start
        if not wb.running:
            self._launch(self._start_from_page)
            return
        question = (
            "A batch is still running. Start a new one? The running batch goes on on the "
            "server, but this page stops following it."
        )

        def restart() -> None:
            self._pressed = wb.page.start
            self._launch(self._restart)

        self._ask(question, restart, yes="Start a new batch")

    async def _start_from_page(self) -> BatchRun:
        try:
            return await self._wb.start()
        except ConfigError as error:
            if error.field in (None, "documents"):
                raise
            self._wb.page.settings.expanded = True  # unfold the settings to show it
            # In the words the user sees ("Words per image"), not the setting's name.
            raise InputError(self._wb.form.describe(error)) from error

    async def _restart(self) -> BatchRun:
        session = self._wb._session
        if session is not None:
            await session.cancel()
        return await self._start_from_page()

    def _launch(self, work: Callable[[], Any]) -> None:
        wb = self._wb
        wb.keeper.run(
            wb.page.start, work, failure="could not start the batch", report=self._at("run")
        )

    def on_retry(self) -> None:
        wb = self._wb
        self._pressed = wb.page.retry
        wb.keeper.run(
            wb.page.retry, wb.retry_failed, failure="could not retry", report=self._at("run")
        )

    def on_start_over(self) -> None:
        wb = self._wb
        self._pressed = wb.page.start_over

        def go() -> None:
            self._pressed = wb.page.start_over
            wb.keeper.spawn(wb.start_over(), failure="could not start over", report=self._at("run"))

        lost = "the files, their progress and the media shown"
        if wb.running:
            question = (
                f"A batch is still running. Stop following it and clear {lost}? "
                "The server's batch goes on."
            )
        else:
            question = f"Clear {lost}? The saved run stays on disk."
        self._ask(question, go, yes="Start over")

    def on_regenerate(self) -> None:
        wb = self._wb
        page = wb.page
        self._pressed = page.regenerate
        index = page.regenerate_file.value
        prompt = str(page.regenerate_prompt.value).strip()
        reason = self._regenerate_reason()
        if reason or index is None:
            wb.notifier.warning(reason or "pick a completed file", place="stories")
            return
        name = str(wb.run.files.at[int(index), "name"])
        question = f"Generate the story of {name} again? Its story, images and audio are replaced."

        def regenerate() -> None:
            self._pressed = page.regenerate
            wb.keeper.run(
                page.regenerate,
                lambda: wb.regenerate(int(index), prompt),
                failure="could not regenerate the story",
                report=self._at("stories"),
            )

        dialog = confirm(
            question, regenerate, yes="Regenerate", keeper=wb.keeper, return_to=page.regenerate
        )
        ask(page.regenerate_confirm, dialog)

    def _ask(self, question: str, on_yes: Callable[[], object], *, yes: str) -> None:
        wb = self._wb
        dialog = confirm(question, on_yes, yes=yes, keeper=wb.keeper, return_to=self._pressed)
        ask(wb.page.confirm_slot, dialog)

    def _at(self, place: str) -> Callable[[str], object]:
        return self._wb.notifier.reporter(place)

    # ------------------------------------------------------------ what each button offers
    def refresh(self, snapshot: RunSnapshot | None) -> None:
        wb = self._wb
        page, zone, form = wb.page, wb.zone, wb.form
        page.start_action.offer(
            start_refusal(
                waiting_for=wb.waiting_for,
                closed=wb.closed,
                receiving=zone.receiving,
                documents=len(zone.documents),
                rejected=len(zone.rejections),
                problems=form.problems(),
            )
        )
        _, reason = wb.retry_rows()
        page.retry_action.offer(reason)
        has_anything = bool(zone.entries) or snapshot is not None
        page.start_over_action.offer("" if has_anything else "nothing to clear")
        page.regenerate_action.offer(self._regenerate_reason())
        self._keep_focus()

    def _regenerate_reason(self) -> str:
        wb = self._wb
        page = wb.page
        chosen = page.regenerate_file.value
        name = ""
        if chosen is not None:
            name = next(
                (label for label, value in page.regenerate_file.options if value == chosen), ""
            )
        return regenerate_refusal(
            None if chosen is None else int(chosen),
            str(page.regenerate_prompt.value),
            wb.regenerating,
            running_name=name,
        )

    def _keep_focus(self) -> None:
        """Once a press's work is over, a button it left disabled hands the focus on."""
        pressed = self._pressed
        if pressed is None or self._wb.keeper.busy(pressed):
            return
        self._pressed = None
        if pressed.disabled:
            self._wb.view.overview.focus()
