"""Field validators shared by every rlnoise package.

Every function raises ``ValueError`` naming the field and showing the offending
value, so that a bad config never surfaces as a bare ``TypeError`` or
``KeyError`` from deep inside numpy.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

__all__ = [
    "check_choice",
    "check_float",
    "check_int",
    "check_keys",
    "check_probability",
    "show",
]


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


def check_float(
    field: str,
    value: Any,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
) -> float:
    """Return ``value`` as a finite float, or raise ``ValueError`` naming ``field``.

    Args:
        field: Name reported in the error message.
        value: Candidate number (bools and strings are rejected).
        low: Inclusive lower bound, or ``None``.
        high: Inclusive upper bound, or ``None``.
        low_open: Make ``low`` exclusive.

    Example:
        >>> check_float("scale", 0.5, low=0.0)
        0.5
    """
    if isinstance(value, bool) or not isinstance(value, int | float | np.integer | np.floating):
        raise ValueError(f"{field} must be a number, got {_show(value)}")
    try:
        number = float(value)
    except OverflowError:
        raise ValueError(f"{field} must be a finite number, got {_show(value)}") from None
    if not math.isfinite(number):
        raise ValueError(f"{field} must be finite, got {_show(value)}")
    if low is not None and (number <= low if low_open else number < low):
        relation = ">" if low_open else ">="
        raise ValueError(f"{field} must be {relation} {low}, got {_show(value)}")
    if high is not None and number > high:
        raise ValueError(f"{field} must be <= {high}, got {_show(value)}")
    return number


def check_probability(field: str, value: Any) -> float:
    """Return ``value`` as a float in [0, 1], or raise ``ValueError`` naming ``field``."""
    return check_float(field, value, low=0.0, high=1.0)


def check_int(field: str, value: Any, *, low: int | None = None, high: int | None = None) -> int:
    """Return ``value`` as an int (bools rejected), or raise ``ValueError`` naming ``field``."""
    if isinstance(value, bool) or not isinstance(value, int | np.integer):
        raise ValueError(f"{field} must be an integer, got {_show(value)}")
    number = int(value)
    if low is not None and number < low:
        raise ValueError(f"{field} must be >= {low}, got {_show(value)}")
    if high is not None and number > high:
        raise ValueError(f"{field} must be <= {high}, got {_show(value)}")
    return number


def check_choice(field: str, value: Any, choices: Iterable[str]) -> str:
    """Return ``value`` if it is one of ``choices``, else raise listing them."""
    options = tuple(choices)
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{field} must be one of {list(options)}, got {_show(value)}")
    return value


def check_keys(where: str, mapping: Mapping[Any, Any], valid: Iterable[str]) -> None:
    """Raise ``ValueError`` if ``mapping`` has a key outside ``valid``, listing the valid keys."""
    allowed = tuple(valid)
    for key in mapping:
        if key not in allowed:
            raise ValueError(
                f"unknown key {_show(key)} in {where}; valid keys are {sorted(allowed)}"
            )


def show(value: Any) -> str:
    """Short ``repr`` for error messages (long values are truncated)."""
    return _show(value)
