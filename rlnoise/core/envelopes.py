"""Timed disturbances: *when* in an episode a noise source is on (a spec's ``envelope``).

An :class:`Envelope` is a function of the episode step ``t`` (0 for the
observation returned by ``reset`` and for the first action; +1 per env step)
and of an onset ``at`` that is fixed or drawn per episode:

============  ===============================================  ==============================
shape         on at episode step ``t`` when                     compact form
============  ===============================================  ==============================
``impulse``   ``t == at`` (one step)                            ``impulse(at=50)``
``step``      ``t >= at`` (from the onset on)                   ``step(at=50)``
``pulse``     ``at <= t < at + duration``                       ``pulse(at=50,duration=10)``
``periodic``  ``t >= at``, ``(t - at) % period < duration``     ``periodic(period=25)``: one
              (``duration`` 1 by default)                       step every 25
============  ===============================================  ==============================

A random onset is ``at=[low,high]``: an integer drawn uniformly in
``[low, high]`` at each episode start, from the injector's own generator
(:class:`EnvelopeGate`). A spec carries the envelope as one field, in every
form of the spec: ``"gaussian:0.3,envelope=pulse(at=50,duration=10)"`` or
``{"kind": "gaussian", "scale": 0.3, "envelope": {"shape": "pulse", "at": 50,
"duration": 10}}``. The envelope's own parameters stay inside the field (they
cannot collide with a kind's parameters, and the dict form is one nested key).

The injector draws its noise at every step whether the envelope is on or not
and masks it while off, so the noise at an on-step is exactly the noise the
same spec without an envelope draws at that step (and a batch row's noise
does not depend on the other rows' envelopes).

Example:
    >>> env = Envelope.parse("pulse(at=2,duration=3)")
    >>> [bool(env.active(t, 2)) for t in range(7)]
    [False, False, True, True, True, False, False]
    >>> str(env), Envelope.from_dict(env.to_dict()) == env
    ('pulse(at=2,duration=3)', True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from rlnoise.core.checks import check_choice, check_int, check_keys, show

__all__ = ["SHAPES", "Envelope", "EnvelopeGate", "envelope_from_value"]

SHAPES = ("impulse", "step", "pulse", "periodic")
_FIELDS = ("shape", "at", "duration", "period")


def _onset(value: Any) -> int | tuple[int, int]:
    if isinstance(value, list | tuple):
        if len(value) != 2:
            raise ValueError(f"envelope.at must be a step or [low, high], got {show(value)}")
        low = check_int("envelope.at[0]", value[0], low=0)
        high = check_int("envelope.at[1]", value[1], low=low)
        return (low, high) if high > low else low
    return check_int("envelope.at", value, low=0)


@dataclass(frozen=True)
class Envelope:
    """When a noise source is on within an episode (see the module docs).

    Args:
        shape: ``impulse``, ``step``, ``pulse`` or ``periodic``.
        at: Onset step, or ``[low, high]`` for an onset drawn per episode.
        duration: Steps on: required for ``pulse``; per period for
            ``periodic`` (default 1); not used by the others.
        period: Steps between the starts of two on-phases (``periodic`` only).

    Raises:
        ValueError: An unknown shape, a missing or extra parameter, a negative
            onset, a duration not in ``[1, period]``, naming the field.
    """

    shape: str
    at: Any = 0
    duration: int | None = None
    period: int | None = None

    def __post_init__(self) -> None:
        set_ = object.__setattr__
        check_choice("envelope.shape", self.shape, SHAPES)
        set_(self, "at", _onset(self.at))
        duration, period = self.duration, self.period
        if self.shape == "periodic":
            if period is None:
                raise ValueError("envelope.period is required for a periodic envelope")
            period = check_int("envelope.period", period, low=1)
            duration = check_int(
                "envelope.duration", 1 if duration is None else duration, low=1, high=period
            )
        else:
            if period is not None:
                raise ValueError(f"envelope.period is only for periodic, not {self.shape!r}")
            if self.shape == "pulse":
                if duration is None:
                    raise ValueError("envelope.duration is required for a pulse envelope")
                duration = check_int("envelope.duration", duration, low=1)
            elif duration is not None:
                raise ValueError(
                    f"envelope.duration is only for pulse and periodic, not {self.shape!r}"
                )
        set_(self, "duration", duration)
        set_(self, "period", period)

    @property
    def random_onset(self) -> bool:
        """Whether the onset is drawn per episode."""
        return isinstance(self.at, tuple)

    def active(self, t: Any, onset: Any) -> Any:
        """Whether the envelope is on at episode step(s) ``t`` with onset(s) ``onset``."""
        since = np.asarray(t) - np.asarray(onset)
        if self.shape == "impulse":
            return since == 0
        if self.shape == "step":
            return since >= 0
        if self.shape == "pulse":
            return (since >= 0) & (since < self.duration)
        period, duration = int(self.period or 1), int(self.duration or 1)
        return (since >= 0) & (np.mod(since, period) < duration)

    # -- forms -------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """``{"shape": ..., "at": ..., ...}`` with the parameters the shape uses."""
        out: dict[str, Any] = {"shape": self.shape}
        out["at"] = list(self.at) if isinstance(self.at, tuple) else self.at
        if self.duration is not None:
            out["duration"] = self.duration
        if self.period is not None:
            out["period"] = self.period
        return out

    def to_string(self) -> str:
        """The compact form ``shape(key=value,...)`` (:meth:`parse` reads it back)."""
        parts = []
        for key, value in self.to_dict().items():
            if key == "shape" or (key == "at" and value == 0):
                continue
            text = f"[{value[0]},{value[1]}]" if isinstance(value, list) else str(value)
            parts.append(f"{key}={text}")
        return f"{self.shape}({','.join(parts)})"

    def __str__(self) -> str:
        return self.to_string()

    @classmethod
    def parse(cls, text: str) -> Envelope:
        """Parse ``shape(key=value,...)`` (a bare ``shape`` is ``shape()``).

        Example:
            >>> Envelope.parse("impulse(at=[10,20])").at
            (10, 20)
        """
        text = text.strip()
        name, paren, rest = text.partition("(")
        if paren and not rest.endswith(")"):
            raise ValueError(f"envelope must be shape(key=value,...), got {text!r}")
        body = rest[:-1] if paren else ""
        data: dict[str, Any] = {"shape": name.strip()}
        for item in _split(body):
            key, sep, value = item.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"envelope options must be key=value, got {item!r} in {text!r}")
            if key in data:
                raise ValueError(f"envelope option {key!r} given twice in {text!r}")
            value = value.strip()
            if value.startswith("[") and value.endswith("]"):
                data[key] = [_number(key, v) for v in value[1:-1].split(",")]
            else:
                data[key] = _number(key, value)
        return cls.from_dict(data)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Envelope:
        """Build from ``{"shape": ..., ...}``; unknown keys are refused."""
        if not isinstance(data, Mapping) or "shape" not in data:
            raise ValueError(f"envelope needs a 'shape' (one of {list(SHAPES)}), got {show(data)}")
        check_keys("envelope", data, _FIELDS)
        return cls(**dict(data))


def _split(body: str) -> list[str]:
    parts, depth, start = [], 0, 0
    for index, char in enumerate(body):
        depth += (char == "[") - (char == "]")
        if char == "," and depth == 0:
            parts.append(body[start:index])
            start = index + 1
    parts.append(body[start:])
    return [p for p in parts if p.strip()]


def _number(key: str, text: str) -> Any:
    try:
        return int(text.strip())
    except ValueError:
        raise ValueError(f"envelope.{key} must be an integer step, got {text.strip()!r}") from None


def envelope_from_value(value: Any) -> Envelope | None:
    """``None``, an :class:`Envelope`, its dict form or its compact string -> envelope or None."""
    if value is None or isinstance(value, Envelope):
        return value
    if isinstance(value, str):
        return Envelope.parse(value)
    if isinstance(value, Mapping):
        return Envelope.from_dict(value)
    raise ValueError(f"envelope must be a string, a mapping or null, got {show(value)}")


class EnvelopeGate:
    """An envelope's state for a batch of rows: each row's episode step and onset.

    One row (an unbatched value) is kept in Python ints: :meth:`advance_one` is
    on a single env's per-step path.

    Args:
        envelope: The envelope.
        n_rows: Rows (1 for an unbatched value).

    Example:
        >>> gate = EnvelopeGate(Envelope("impulse", at=1), n_rows=2)
        >>> [gate.advance().tolist() for _ in range(3)]
        [[False, False], [True, True], [False, False]]
        >>> gate.restart([0]); gate.advance().tolist()
        [False, False]
    """

    def __init__(self, envelope: Envelope, n_rows: int):
        self.envelope = envelope
        self.single = n_rows == 1
        self.t = np.zeros(n_rows, dtype=np.int64)
        low = envelope.at[0] if isinstance(envelope.at, tuple) else envelope.at
        self.onset = np.full(n_rows, low, dtype=np.int64)
        self._t1, self._onset1 = 0, int(low)
        self._rngs: list[np.random.Generator | None] = [None] * n_rows
        shape, duration, period = envelope.shape, envelope.duration, envelope.period
        if shape == "impulse":
            self._on1: Any = lambda since: since == 0
        elif shape == "step":
            self._on1 = lambda since: since >= 0
        elif shape == "pulse":
            self._on1 = lambda since: 0 <= since < duration
        else:
            self._on1 = lambda since: since >= 0 and since % period < duration

    def reseed(self, rows: Sequence[int], rngs: Sequence[np.random.Generator]) -> None:
        """New onset generators for ``rows`` (used only by a random onset); restarts them."""
        for row, rng in zip(rows, rngs, strict=True):
            self._rngs[row] = rng
        self.restart(rows)

    def restart(self, rows: Sequence[int] | None = None) -> None:
        """Episode starts for ``rows`` (all when ``None``): step 0, a new onset if random."""
        picked = range(len(self.t)) if rows is None else rows
        at = self.envelope.at
        for row in picked:
            self.t[row] = 0
            if isinstance(at, tuple):
                rng = self._rngs[row]
                if rng is None:
                    rng = self._rngs[row] = np.random.default_rng()
                self.onset[row] = rng.integers(at[0], at[1], endpoint=True)
        if self.single:
            self._t1, self._onset1 = 0, int(self.onset[0])

    def peek(self, rows: Any = None) -> np.ndarray:
        """Whether ``rows`` (all when ``None``) are on at their current step (no advance)."""
        if self.single:
            return np.array([self._on1(self._t1 - self._onset1)])
        if rows is None:
            return np.asarray(self.envelope.active(self.t, self.onset))
        return np.asarray(self.envelope.active(self.t[rows], self.onset[rows]))

    def advance(self) -> np.ndarray:
        """Every row's on/off at its current step, then one step on."""
        if self.single:
            return np.array([self.advance_one()])
        on = self.peek()
        self.t += 1
        return on

    def advance_one(self) -> bool:
        """:meth:`advance` for one row, as a bool (the single-env fast path)."""
        t = self._t1
        self._t1 = t + 1
        return bool(self._on1(t - self._onset1))
