"""Progress of a long run: a live bar on a terminal, a plain line now and then otherwise.

A tqdm bar redraws itself with ``\\r`` many times a second; written into a log
file (``2> train.log``, a batch job, CI) that is hundreds of unreadable updates.
When the stream is not a terminal, :class:`Progress` prints one plain line at
the start, one every ``interval`` seconds, and one at the end instead.

The count shown never passes the total: an algorithm that runs past its
budget (PPO finishes its last rollout) is shown as done, not as ``5,120/5,000``.

Example:
    >>> import io
    >>> log, now = io.StringIO(), iter([0.0, 4.0, 11.0, 12.0])
    >>> with Progress(100, desc="evaluating", unit="ep", stream=log, interval=10.0,
    ...               clock=lambda: next(now)) as progress:
    ...     progress.update(30)  # 4 s after the start: no line yet
    ...     progress.update(30)  # 11 s: a line
    ...     progress.update(70)  # capped at the total
    >>> print(log.getvalue(), end="")
    evaluating: 0/100 ep (0%)
    evaluating: 60/100 ep (60%)
    evaluating: 100/100 ep (100%)
"""

from __future__ import annotations

import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

__all__ = ["Progress"]


def _is_terminal(stream: Any) -> bool:
    try:
        return bool(stream.isatty())
    except (AttributeError, ValueError):  # no isatty, or a closed stream
        return False


class Progress:
    """Counts units of work and shows them on ``stream`` (stderr by default).

    Args:
        total: Units of work the run will do.
        desc: What is being done (``"evaluating"``, ``"seed 0"``).
        unit: Name of a unit (``"ep"``, ``"steps"``).
        enabled: ``False`` shows nothing (counting still works).
        stream: Where to write; ``None``: ``sys.stderr`` at construction.
        interval: Seconds between plain lines when ``stream`` is not a terminal.
        clock: Monotonic clock in seconds (tests pass their own).

    Attributes:
        done: Units counted so far (at most ``total``).
    """

    def __init__(
        self,
        total: int,
        *,
        desc: str,
        unit: str,
        enabled: bool = True,
        stream: TextIO | None = None,
        interval: float = 10.0,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.total, self.desc, self.unit = int(total), desc, unit
        self.stream = sys.stderr if stream is None else stream
        self.enabled = enabled and self.total > 0
        self.interval, self.clock = interval, clock
        self.done = 0
        self._bar: Any = None
        self._shown = -1  # count at the last plain line
        self._last = 0.0
        if not self.enabled:
            return
        if _is_terminal(self.stream):
            from tqdm import tqdm

            self._bar = tqdm(
                total=self.total, desc=desc, unit=unit, file=self.stream, dynamic_ncols=True
            )
        else:
            self._last = clock()
            self._line()

    def update(self, n: int = 1) -> None:
        """Count ``n`` more units (capped at ``total``)."""
        n = min(int(n), self.total - self.done)
        if n <= 0:
            return
        self.done += n
        if not self.enabled:
            return
        if self._bar is not None:
            self._bar.update(n)
            return
        now = self.clock()
        if now - self._last >= self.interval:
            self._last = now
            self._line()

    def set_total(self, total: int) -> None:
        """Change the total (e.g. once the real budget of a run is known)."""
        self.total = max(int(total), self.done)
        if self._bar is not None:
            self._bar.total = self.total
            self._bar.refresh()

    def write(self, line: str, file: TextIO | None = None) -> None:
        """Print ``line`` on ``file`` (stdout by default) without breaking a live bar.

        A plain ``print`` while a bar is drawn on the same terminal leaves the
        line and the bar mixed up; tqdm clears the bar, prints, and redraws it.
        """
        file = sys.stdout if file is None else file
        if self._bar is not None:
            from tqdm import tqdm

            tqdm.write(line, file=file)
        else:
            print(line, file=file, flush=True)

    def close(self) -> None:
        """Finish the bar, or print the last plain line."""
        if self._bar is not None:
            self._bar.close()
            self._bar = None
        elif self.enabled and self.done != self._shown:
            self._line()

    def _line(self) -> None:
        percent = 100 * self.done // self.total
        print(
            f"{self.desc}: {self.done:,}/{self.total:,} {self.unit} ({percent}%)",
            file=self.stream,
            flush=True,
        )
        self._shown = self.done

    def __enter__(self) -> Progress:
        return self

    def __exit__(self, *exc_info: Any) -> None:
        self.close()
