"""Fault injection: each pipeline step fails with a set probability, drawn from a seeded source."""

from __future__ import annotations

import random
from collections.abc import Mapping

from batchkit.contract import PipelineStep
from batchkit.errors import EngineError
from batchkit.server.settings import check_fail_rates

__all__ = ["FaultInjector"]


class FaultInjector:
    """Decides, step by step, whether to fail on purpose. Used from the event loop only."""

    def __init__(self, rates: Mapping[str, float], seed: int | None = None) -> None:
        self._rates = check_fail_rates(rates)
        self._random = random.Random(seed)

    @property
    def rates(self) -> Mapping[str, float]:
        return self._rates

    def set_rates(self, rates: Mapping[str, float]) -> None:
        """Replace every rate (a step not named no longer fails on purpose)."""
        self._rates = check_fail_rates(rates)

    def check(self, step: PipelineStep) -> None:
        """Raise :class:`EngineError` if this run of ``step`` is to fail."""
        rate = self._rates.get(step.value, 0.0)
        if rate > 0.0 and self._random.random() < rate:
            raise EngineError(
                f"injected fault: the {step.value} step failed on purpose (fail rate {rate:g})"
            )
