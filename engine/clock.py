"""Injectable time, so timers can be tested and replayed without sleeping.

SpiffWorkflow's timer definitions call ``datetime.now(timezone.utc)`` themselves; we
give that module a ``datetime`` whose ``now`` asks the clock in force for this thread.
"""

from __future__ import annotations

import contextlib
import contextvars
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Protocol

from SpiffWorkflow.bpmn.specs.event_definitions import timer as _spiff_timer


class Clock(Protocol):
    def now(self) -> datetime:
        """Return the current time, timezone-aware, in UTC."""
        ...


class SystemClock:
    def now(self) -> datetime:
        return datetime.now(UTC)


class ManualClock:
    """A clock that moves only when told to; for tests and simulations."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime(2026, 1, 5, 2, 0, tzinfo=UTC)
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def advance(self, delta: timedelta) -> datetime:
        with self._lock:
            self._now = self._now + delta
            return self._now

    def set(self, when: datetime) -> None:
        with self._lock:
            self._now = when


_current: contextvars.ContextVar[Clock | None] = contextvars.ContextVar("mutu_clock", default=None)


class _ClockedDatetime(datetime):
    @classmethod
    def now(cls, tz=None):  # type: ignore[no-untyped-def,override]
        clock = _current.get()
        if clock is None:
            return datetime.now(tz)
        value = clock.now()
        return value.astimezone(tz) if tz is not None else value.replace(tzinfo=None)


_spiff_timer.datetime = _ClockedDatetime  # type: ignore[misc]


@contextlib.contextmanager
def using(clock: Clock) -> Iterator[None]:
    """Run SpiffWorkflow's timer arithmetic against ``clock`` inside this block."""
    token = _current.set(clock)
    try:
        yield
    finally:
        _current.reset(token)
