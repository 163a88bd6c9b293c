"""Time, injected: the wall clock for token expiry, the monotonic clock for deadlines, and sleep.

Everything that waits or stamps a time takes a :class:`Clock`, so tests pass a :class:`FakeClock`
and never sleep (the style guide's "step function plus a loop, with time injected").
"""

from __future__ import annotations

import datetime
import threading
import time
from typing import Protocol


class Clock(Protocol):
    """What the runbook needs to know about time."""

    def time(self) -> float:
        """Seconds since the epoch (wall clock); used for token expiry stamps."""

    def monotonic(self) -> float:
        """Seconds on a clock that never jumps; used for poll intervals and deadlines."""

    def sleep(self, seconds: float) -> None:
        """Wait ``seconds``."""


class SystemClock:
    """The real clocks."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        if seconds > 0:
            time.sleep(seconds)


SYSTEM_CLOCK = SystemClock()


class FakeClock:
    """A virtual clock: ``sleep`` advances both clocks at once; ``jump`` moves only the wall clock.

    Args:
        start: Initial wall-clock time (epoch seconds).
    """

    def __init__(self, start: float = 1_800_000_000.0) -> None:
        self._wall = start
        self._mono = 1000.0
        self._lock = threading.Lock()
        self.sleeps: list[float] = []

    def time(self) -> float:
        with self._lock:
            return self._wall

    def monotonic(self) -> float:
        with self._lock:
            return self._mono

    def sleep(self, seconds: float) -> None:
        self.advance(max(0.0, seconds))
        self.sleeps.append(seconds)

    def advance(self, seconds: float) -> None:
        """Let ``seconds`` pass on both clocks."""
        with self._lock:
            self._wall += seconds
            self._mono += seconds

    def jump(self, seconds: float) -> None:
        """Move the wall clock only (an NTP correction or a wrong system clock); may be negative."""
        with self._lock:
            self._wall += seconds


def duration_text(seconds: float) -> str:
    """A lifetime in words, one definition for every view and message: "45 s", "9 min 30 s", "2 h 5 min".

    Short-lived codes show seconds (a 20 s code is "20 s", never "0 min"); whole minutes drop the seconds.
    """
    total = max(0, int(seconds))
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes} min" if minutes else f"{hours} h"
    if minutes:
        return f"{minutes} min {secs} s" if secs else f"{minutes} min"
    return f"{secs} s"


def utc_text(value: str | float) -> str:
    """An ISO timestamp or an epoch time as people read it: ``2026-11-30 23:41 UTC`` ("" when it cannot be read)."""
    if isinstance(value, str) and value.endswith(" UTC"):  # already this form (an export record's "at")
        value = value.removesuffix(" UTC") + "+00:00"
    try:
        moment = (_utc(value) if isinstance(value, (int, float))
                  else datetime.datetime.fromisoformat(value).astimezone(datetime.timezone.utc))
    except (ValueError, OverflowError, OSError):
        return ""
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def utc_clock(when: float, *, seconds: bool = False) -> str:
    """An epoch time's time of day as the cards and progress lines show it: ``23:41 UTC`` (``23:41:05 UTC``)."""
    return _utc(when).strftime("%H:%M:%S UTC" if seconds else "%H:%M UTC")


def iso_utc(when: float) -> str:
    """An epoch time as ISO 8601 in UTC, to the second: ``2026-11-30T23:41:05+00:00``.

    The form of every time the runbook stores (step records, audit lines, exports, journals), which
    :func:`datetime.datetime.fromisoformat` reads back.
    """
    return _utc(when).isoformat(timespec="seconds")


def iso_utc_z(when: float) -> str:
    """An epoch time as google-auth writes ``expiry``: ``2026-11-30T23:41:05Z``, naive UTC, floored to the second.

    google-auth's ``Credentials.to_json`` writes ``expiry.isoformat() + "Z"`` of a naive UTC datetime,
    and ``from_authorized_user_info`` parses it with ``%Y-%m-%dT%H:%M:%S`` (google/oauth2/credentials.py).
    """
    return _utc(int(when)).replace(tzinfo=None).isoformat(timespec="seconds") + "Z"


def _utc(when: float) -> datetime.datetime:
    return datetime.datetime.fromtimestamp(when, datetime.timezone.utc)
