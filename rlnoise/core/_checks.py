"""Deprecated location of :mod:`rlnoise.core.checks`, kept so that older imports still work."""

from rlnoise.core.checks import (
    check_choice,
    check_float,
    check_int,
    check_keys,
    check_probability,
    show,
)

__all__ = ["check_choice", "check_float", "check_int", "check_keys", "check_probability", "show"]
