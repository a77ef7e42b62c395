"""A part of the page that folds away behind a real, keyboard-operable button.

ipywidgets' ``Accordion`` draws its headers as plain elements that take no keyboard focus, so a
folded part behind one cannot be reached without a mouse. :class:`Disclosure` is a
``<button aria-expanded>`` (an anywidget: Tab reaches it, Enter and Space press it, a screen
reader says "collapsed" or "expanded") above the part it folds. A folded part is not in the
page at all (only its models are, in the kernel and the browser): the browser draws the
settings form's sixty controls when they are first unfolded, not while the page first appears.
"""

from __future__ import annotations

from typing import Any

import anywidget
import ipywidgets as widgets
import traitlets

from batchkit.widgets.assets import asset
from batchkit.widgets.tasks import TaskKeeper

__all__ = ["Disclosure", "DisclosureButton"]


class DisclosureButton(anywidget.AnyWidget):
    """The button: ``label``, ``expanded``, and ``hint`` (its tooltip)."""

    _esm = asset("disclosure.js")
    label = traitlets.Unicode("").tag(sync=True)
    hint = traitlets.Unicode("").tag(sync=True)
    expanded = traitlets.Bool(False).tag(sync=True)


class Disclosure:
    """``body`` under a button that shows and hides it; ``widget`` is both."""

    def __init__(
        self,
        label: str,
        body: Any,
        *,
        expanded: bool = False,
        hint: str = "",
        keeper: TaskKeeper | None = None,
        css: str = "",
    ) -> None:
        keeper = keeper or TaskKeeper()
        self.button = DisclosureButton(label=label, hint=hint, expanded=expanded)
        self.button.add_class("bk-disclosure")
        self.body = body
        self.widget = widgets.VBox([self.button], layout=widgets.Layout(width="100%"))
        self.widget.hidden_parts = (body,)  # close_tree closes it too, folded or not
        if css:
            self.widget.add_class(css)
            self.button.add_class(f"{css}-toggle")
        self._show(expanded)
        self.button.observe(
            keeper.callback(
                lambda change: self._show(bool(change["new"])), failure="could not fold"
            ),
            names="expanded",
        )

    @property
    def expanded(self) -> bool:
        return bool(self.button.expanded)

    @expanded.setter
    def expanded(self, value: bool) -> None:
        self.button.expanded = value

    @property
    def label(self) -> str:
        return str(self.button.label)

    @label.setter
    def label(self, value: str) -> None:
        if self.button.label != value:
            self.button.label = value

    def _show(self, expanded: bool) -> None:
        wanted = (self.button, self.body) if expanded else (self.button,)
        if tuple(self.widget.children) != wanted:
            self.widget.children = wanted
