"""A one-line progress display on stderr, for runs long enough to need one and only on a terminal."""

from __future__ import annotations

import sys
import time
from typing import TextIO

from curator.wording import rate_and_left


class ProgressLine:
    """Call with (phase, done, total); draws after ``delay`` seconds, at most ``rate`` times a second."""

    def __init__(self, stream: TextIO | None = None, delay: float = 2.0, rate: float = 5.0) -> None:
        self.stream = stream or sys.stderr
        self.enabled = self.stream.isatty()
        self.started = time.monotonic()
        self.delay, self.interval = delay, 1.0 / rate
        self.last = 0.0
        self.phase_started: dict[str, float] = {}
        self.drawn = False

    def with_bytes(self, phase: str, done: int, total: int, done_bytes: int, total_bytes: int) -> None:
        """Files and bytes done, with the time left estimated from the bytes."""
        self._draw(phase, done, total, done_bytes, total_bytes)

    def __call__(self, phase: str, done: int, total: int) -> None:
        self._draw(phase, done, total, None, None)

    def _draw(self, phase: str, done: int, total: int, done_bytes: int | None, total_bytes: int | None) -> None:
        if not self.enabled:
            return
        now = time.monotonic()
        begun = self.phase_started.setdefault(phase, now)
        if now - self.started < self.delay or (now - self.last < self.interval and done < total):
            return
        self.last = now
        amount, whole = (done_bytes, total_bytes) if done_bytes is not None and total_bytes else (done, total)
        _, left = rate_and_left(amount, whole, now - begun)
        eta = f", {left} s left" if left is not None else ""
        size = (f", {done_bytes / 1e9:.2f}/{total_bytes / 1e9:.2f} GB" if done_bytes is not None and total_bytes
                else "")
        self.stream.write(f"\r{phase}: {done}/{total} files{size}{eta}\x1b[K")
        self.stream.flush()
        self.drawn = True

    def close(self) -> None:
        if self.drawn:
            self.stream.write("\r\x1b[K")
            self.stream.flush()
