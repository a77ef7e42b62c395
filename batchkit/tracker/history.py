"""A run's history of facts, kept in a form the garbage collector does not have to walk.

A run keeps every fact it received, so that :attr:`BatchRun.facts` and :attr:`BatchRun.events`
can be read and the run saved at any time. Kept as pydantic models, a long run's facts are
hundreds of thousands of container objects (each model has a ``__dict__`` and a fields set), and
CPython's full collections walk every one of them: they paused the event loop for up to 90 ms.

So each fact is kept as plain values. A fact whose fields are all single values (upload
progress, a tick, and the socket events that make up nearly all of a run: step progress and the
like) becomes those values; any other fact (a REST snapshot, the plan) becomes its JSON line,
reusing the line written to the run's log when there is one. Both turn back into equal models
when the history is read.

The values are not kept in a tuple per fact but one after another in a list, sealed into a
tuple every :data:`_CHUNK` values. CPython collects its youngest objects every 700 or so new
container objects still alive, and a tuple per fact was one more of them per event: during a
burst of progress events the collector ran every ~370 events (0.5-1 µs an event in a tight
loop, several µs in a live run's larger heap), where a client that keeps nothing never
collects. Appending values to a list makes no container object, and a sealed chunk of plain
values stops being tracked at its first collection.
"""

from __future__ import annotations

import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from enum import Enum
from itertools import chain, islice
from operator import itemgetter
from typing import Any, Final, Literal, Union, cast, get_args, get_origin

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from batchkit.contract.events import EventModel, ServerEvent
from batchkit.tracker.facts import FACT_ADAPTER, EventFact, Fact

__all__ = ["FactHistory"]

_SINGLE_VALUES = (str, int, float, bool, datetime, type(None), Enum)
_UNIONS = (Union, types.UnionType)

_CHUNK: Final = 4096
"""Values kept in the open list before it is sealed into a tuple (about 340 progress events)."""
_UNLEARNT: Final = -2
"""What ``_shape_of`` answers for a model not seen yet (None is a model kept as JSON lines)."""
_LINE: Final = -1
"""The shape of a fact kept as its JSON line: ``_LINE, line, outcome, row``. Any other fact is
``shape, received_at, outcome, row`` followed by its shape's values."""


@dataclass(frozen=True, slots=True)
class _Shape:
    """How to take a model of one class apart into a tuple of values, and put it back."""

    model: type[BaseModel]
    names: tuple[str, ...]
    read: Callable[[dict[str, Any]], tuple[Any, ...]]
    is_event: bool

    def rebuild(self, received_at: datetime, values: tuple[Any, ...]) -> Fact:
        # The values came from a validated model of this very class: no need to check them.
        fields = dict(zip(self.names, values, strict=True))
        if self.is_event:
            event = cast("ServerEvent", self.model.model_construct(**fields))
            return EventFact.model_construct(received_at=received_at, event=event)
        return cast("Fact", self.model.model_construct(received_at=received_at, **fields))


def _holds_one_value(annotation: Any) -> bool:
    options = get_args(annotation) if get_origin(annotation) in _UNIONS else (annotation,)
    return all(isinstance(o, type) and issubclass(o, _SINGLE_VALUES) for o in options)


def _value_fields(model: type[BaseModel], skip: frozenset[str]) -> tuple[str, ...] | None:
    """The fields worth keeping, when every one holds a single value; None otherwise.

    A ``Literal`` field with a default (``kind``, ``event``) says which class the model is:
    the shape knows that already, so it is left out.
    """
    names = []
    for name, field in model.model_fields.items():
        constant = get_origin(field.annotation) is Literal
        if name in skip or (constant and field.default is not PydanticUndefined):
            continue
        if not (constant or _holds_one_value(field.annotation)):
            return None
        names.append(name)
    return tuple(names)


def _reader(names: tuple[str, ...]) -> Callable[[dict[str, Any]], tuple[Any, ...]]:
    """What reads the values out of a model's ``__dict__`` (where a pydantic model keeps its
    fields: a lookup there skips the class's attribute resolution, ~0.1 µs a field)."""
    if len(names) == 1:
        (name,) = names
        return lambda fields: (fields[name],)
    if not names:
        return lambda fields: ()
    return itemgetter(*names)


class FactHistory:
    """Every fact of a run in order, each with what it did (an outcome) and the row it touched."""

    def __init__(self) -> None:
        self._sealed: list[tuple[Any, ...]] = []
        self._open: list[Any] = []
        self._count = 0
        self._shapes: list[_Shape] = []
        self._shape_of: dict[type[BaseModel], int | None] = {}

    def __len__(self) -> int:
        return self._count

    def append(self, fact: Fact, outcome: str, row: int | None, line: str | None = None) -> None:
        """Keep ``fact``; ``line`` is its JSON line, if the caller has made it already."""
        subject: BaseModel = fact.event if type(fact) is EventFact else fact
        shape = self._shape_of.get(type(subject), _UNLEARNT)
        if shape == _UNLEARNT:
            shape = self._learn(type(subject))
        if shape is None:
            self._keep((_LINE, line or fact.model_dump_json(), outcome, row))
        else:
            values = self._shapes[shape].read(subject.__dict__)
            self._keep((shape, fact.received_at, outcome, row, *values))

    def append_event(
        self, event: ServerEvent, received_at: datetime, outcome: str, row: int | None
    ) -> None:
        """Keep a socket event received at ``received_at`` as its fact, without building it."""
        shape = self._shape_of.get(type(event), _UNLEARNT)
        if shape == _UNLEARNT:
            shape = self._learn(type(event))
        if shape is None:
            fact = EventFact.model_construct(received_at=received_at, event=event)
            self._keep((_LINE, fact.model_dump_json(), outcome, row))
        else:
            values = self._shapes[shape].read(event.__dict__)
            self._keep((shape, received_at, outcome, row, *values))

    def _keep(self, cells: tuple[Any, ...]) -> None:
        self._count += 1
        kept = self._open
        kept += cells
        if len(kept) >= _CHUNK:
            self._sealed.append(tuple(kept))
            self._open = []

    def __iter__(self) -> Iterator[tuple[Fact, str, int | None]]:
        """Each fact, rebuilt, with its outcome and row (those kept when iteration began)."""
        shapes = self._shapes
        cells = chain(*self._sealed, self._open)
        for _ in range(self._count):
            shape, first, outcome, row = islice(cells, 4)
            if shape == _LINE:
                yield FACT_ADAPTER.validate_json(first), outcome, row
            else:
                kept = shapes[shape]
                values = tuple(islice(cells, len(kept.names)))
                yield kept.rebuild(first, values), outcome, row

    def _learn(self, model: type[BaseModel]) -> int | None:
        is_event = issubclass(model, EventModel)
        names = _value_fields(model, frozenset() if is_event else frozenset({"received_at"}))
        index = None
        if names is not None:
            index = len(self._shapes)
            self._shapes.append(_Shape(model, names, _reader(names), is_event))
        self._shape_of[model] = index
        return index
