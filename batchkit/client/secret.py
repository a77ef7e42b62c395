"""A credential that never shows itself by accident."""

from __future__ import annotations

import hmac
from typing import Final, NoReturn, final

__all__ = ["Secret"]

_MASK: Final = "***"


@final
class Secret:
    """A token or password: ``repr()``, ``str()`` and f-strings show ``Secret('***')``.

    Only :meth:`reveal` gives the value, so every place a secret leaves batchkit is a visible
    call. Secrets refuse to be pickled, so they never land in a saved run by accident.
    """

    __slots__ = ("_value",)

    def __init__(self, value: str) -> None:
        if not value:
            raise ValueError("a secret cannot be empty")
        self._value = value

    def reveal(self) -> str:
        """The value itself, for the one place that must send it."""
        return self._value

    def scrub(self, text: str) -> str:
        """``text`` with every occurrence of the value masked (for messages a server echoed)."""
        return text.replace(self._value, _MASK)

    def __repr__(self) -> str:
        return f"Secret('{_MASK}')"

    __str__ = __repr__

    def __format__(self, spec: str) -> str:
        return format(repr(self), spec)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Secret):
            return NotImplemented
        return hmac.compare_digest(self._value.encode(), other._value.encode())

    def __hash__(self) -> int:
        return hash((Secret, self._value))

    def __reduce__(self) -> NoReturn:
        raise TypeError("a Secret cannot be pickled")
