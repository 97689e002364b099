"""The controllable clock every simulator shares: it moves only when told to."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta


class Clock:
    """A clock that only moves when told to, so token expiry and rate windows are deterministic."""

    def __init__(self, start: datetime | None = None) -> None:
        self._now = start or datetime.now(UTC).replace(microsecond=0)

    def now(self) -> datetime:
        return self._now

    def advance(self, seconds: float) -> None:
        """Move forward; usable directly as a connector's injected ``sleep``."""
        self._now += timedelta(seconds=seconds)

    def set(self, when: datetime) -> None:
        self._now = when
