"""``HeldDraws``: a stream's draws held per row, for ``resample="episode"`` or every N steps.

A held draw is redrawn when its row restarts (an episode starts) and, with a
step count, when it has been held that many steps. The stream advances every
step whether or not a row takes the new draw, so a row's held values never
depend on when the other rows redraw.

Example:
    >>> import numpy as np
    >>> from rlnoise.core.stream import NoiseStream
    >>> held = HeldDraws(NoiseStream("uniform:1", (2,), np.random.default_rng(0), n_rows=3), 2)
    >>> first = held.sample().copy()
    >>> bool(np.array_equal(held.sample(), first)), bool(np.array_equal(held.sample(), first))
    (True, False)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from rlnoise.core.stream import NoiseStream

__all__ = ["HeldDraws"]


def _copy(value: Any) -> Any:
    return value.clone() if isinstance(value, torch.Tensor) else np.array(value, copy=True)


class HeldDraws:
    """Draws of ``stream`` held per row until a restart, or for ``steps`` steps.

    Args:
        stream: The stream drawn from (its :meth:`~NoiseStream.sample`, scaled).
        steps: Steps a draw is held; 0 holds it until the row restarts.

    Attributes:
        held: The draws in force (``None`` before the first :meth:`sample`).
    """

    def __init__(self, stream: NoiseStream, steps: int = 0) -> None:
        self.stream = stream
        self.steps = int(steps)
        self.held: Any = None
        shape = () if stream.n_rows is None else (stream.n_rows,)
        self._age = np.zeros(shape, dtype=np.int64)
        self._pending = np.zeros(shape, dtype=bool)

    def sample(self) -> Any:
        """The held draws after this step (rows that restarted or expired take new ones)."""
        fresh = self.stream.sample()
        if self.held is None:
            self.held = _copy(fresh)
        else:
            redraw = self._pending.copy()
            if self.steps:
                redraw |= self._age >= self.steps
            if redraw.any():
                if self.stream.n_rows is None:
                    self.held = _copy(fresh)
                else:
                    self.held[redraw] = fresh[redraw]
                self._age[redraw] = 0
                self._pending[...] = False
        self._age += 1
        return self.held

    def restart(self, rows: Sequence[int] | None = None) -> None:
        """Rows (all when ``None``) take a new draw at their next step."""
        if self.held is None:
            return  # nothing held yet: the first step draws anyway
        if rows is None or self.stream.n_rows is None:
            self._pending[...] = True
        else:
            self._pending[list(rows)] = True
