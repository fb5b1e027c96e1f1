"""Progress: plain lines (no carriage returns) when the stream is not a terminal; capped count."""

from __future__ import annotations

import io

from rlnoise.runs.progress import Progress


class _Clock:
    """A clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def test_a_log_gets_one_plain_line_per_interval_and_the_end() -> None:
    log, clock = io.StringIO(), _Clock()
    with Progress(1000, desc="seed 0", unit="steps", stream=log, interval=5.0, clock=clock) as bar:
        for _ in range(100):  # 100 updates 0.1 s apart: lines at 5 s and 10 s only
            clock.now += 0.1
            bar.update(10)
    lines = log.getvalue().splitlines()
    assert "\r" not in log.getvalue()
    assert lines[0] == "seed 0: 0/1,000 steps (0%)"
    assert lines[-1] == "seed 0: 1,000/1,000 steps (100%)"
    assert len(lines) == 3  # start, one at ~5 s, and the end (which is the one at 10 s)


def test_the_count_never_passes_the_total() -> None:
    log = io.StringIO()
    with Progress(5000, desc="seed 0", unit="steps", stream=log, clock=_Clock()) as bar:
        for _ in range(20):
            bar.update(256)  # 5,120 steps of PPO rollouts
    assert bar.done == 5000
    assert log.getvalue().splitlines()[-1] == "seed 0: 5,000/5,000 steps (100%)"


def test_a_terminal_gets_a_live_bar() -> None:
    class Terminal(io.StringIO):
        def isatty(self) -> bool:
            return True

    screen = Terminal()
    with Progress(10, desc="evaluating", unit="ep", stream=screen) as bar:
        bar.update(10)
    assert "\r" in screen.getvalue() and "10/10" in screen.getvalue()


def test_disabled_or_empty_shows_nothing() -> None:
    log = io.StringIO()
    with Progress(10, desc="x", unit="ep", stream=log, enabled=False) as bar:
        bar.update(3)
    with Progress(0, desc="x", unit="ep", stream=log):
        pass
    assert log.getvalue() == "" and bar.done == 3
