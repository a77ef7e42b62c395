"""MkDocs hook: batchkit's docstrings use Sphinx roles; render each as a link, or as code.

The docstrings say :class:`~batchkit.client.StoryClient` and :meth:`wait` (reST roles, which
Python tooling and readers of the source know). Markdown renders a role as
``:class:<code>StoryClient</code>``. Once every page is rendered, and before mkdocs-autorefs
resolves cross-references, this hook turns each role into a cross-reference to the object's entry
in the API reference, found among the anchors the reference pages actually have: the name as
written, else the name inside the object whose documentation holds the role (and its parents),
else the one object of the reference with that last name. A name it cannot place unambiguously
(a foreign object such as ``pydantic.ValidationError``, or a private one) stays plain code.
Nothing here fetches anything.
"""

from __future__ import annotations

import html
import re
from bisect import bisect_right
from collections import defaultdict
from collections.abc import Iterable
from typing import Any, Final

from mkdocs.plugins import event_priority

_ROLE: Final = re.compile(
    r":(?:py:)?(?:class|func|meth|mod|data|attr|exc|obj|const|type):"
    r"<code>(?P<tilde>~?)(?P<target>[\w.]+)(?P<call>\(\))?</code>"
)
_ANCHOR: Final = re.compile(r'id="(batchkit(?:\.\w+)+)"')


class _Anchors:
    """Every ``batchkit.*`` anchor of the site, and a way to find one from a short name."""

    def __init__(self, anchors: Iterable[str]) -> None:
        self.known = set(anchors)
        self._by_tail: dict[str, set[str]] = defaultdict(set)
        for anchor in self.known:
            parts = anchor.split(".")
            for size in range(1, len(parts)):
                self._by_tail[".".join(parts[-size:])].add(anchor)

    def resolve(self, target: str, context: str | None) -> str | None:
        if target in self.known:
            return target
        scope = context.split(".") if context else []
        while scope:
            candidate = ".".join([*scope, target])
            if candidate in self.known:
                return candidate
            scope.pop()
        for tail in (target, target.rsplit(".", 1)[-1]):
            found = self._by_tail.get(tail, set())
            if len(found) == 1:
                return next(iter(found))
        return None


def _rewrite(content: str, anchors: _Anchors) -> str:
    positions = [(match.start(), match.group(1)) for match in _ANCHOR.finditer(content)]
    starts = [start for start, _ in positions]

    def replace(match: re.Match[str]) -> str:
        target = match["target"]
        shown = target.rsplit(".", 1)[-1] if match["tilde"] else target
        code = f"<code>{html.escape(shown + (match['call'] or ''))}</code>"
        before = bisect_right(starts, match.start()) - 1
        context = positions[before][1] if before >= 0 else None
        found = anchors.resolve(target, context)
        if found is None:
            return code
        return f'<autoref identifier="{html.escape(found)}" optional>{code}</autoref>'

    return _ROLE.sub(replace, content)


@event_priority(0)  # before mkdocs-autorefs (-50), which resolves the references made here
def on_env(env: Any, config: Any, files: Any, **kwargs: Any) -> Any:
    """Rewrite the roles of every rendered page, once all the anchors are known."""
    pages = [file.page for file in files if file.page is not None and file.page.content]
    anchors = _Anchors(a for page in pages for a in _ANCHOR.findall(page.content))
    for page in pages:
        page.content = _rewrite(page.content, anchors)
    return env
