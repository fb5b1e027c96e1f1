"""Wrappers and callbacks in a config: a class by dotted path plus its keyword arguments.

RL Zoo's form: ``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}``. The class must
fit its slot (a Gymnasium wrapper, an SB3 callback: see
:mod:`rlnoise.runs.classes`) and its kwargs are checked when the config
loads (:mod:`rlnoise.experiments.options`); it is built only when training starts.

Example:
    >>> ComponentConfig.parse("callbacks[0]", {"rlnoise.callbacks.GradientNoiseCallback":
    ...                                        {"eta": "big"}}, slot="callback")
    Traceback (most recent call last):
    ...
    ValueError: callbacks[0].eta must be a number, got 'big' (str)
"""

from __future__ import annotations

from typing import Any

from pydantic import PlainValidator

from rlnoise.experiments.fields import PathError
from rlnoise.experiments.options import check_component_kwargs
from rlnoise.runs.env import Component

__all__ = ["ComponentConfig", "components"]


class ComponentConfig(Component):
    """A :class:`~rlnoise.runs.env.Component` whose kwargs are checked when the config loads."""

    @classmethod
    def parse(
        cls, where: str, value: Any, *, slot: str, supplied: tuple[str, ...] = ()
    ) -> ComponentConfig:
        """Validate ``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}`` found at key path ``where``.

        Args:
            where: The key path, for errors (``"env.wrappers[0]"``).
            value: The config entry (or a ComponentConfig, checked again).
            slot: What the class must be (``"wrapper"``, ``"callback"``).
            supplied: Arguments :meth:`build` passes itself (a wrapper's ``env``).
        """
        component = super().parse(where, value, slot=slot)
        check_component_kwargs(
            where, component.path, component.resolve(), component.kwargs, supplied
        )
        return component


def components(where: str, slot: str, supplied: tuple[str, ...] = ()) -> PlainValidator:
    """A field holding a list of components (one entry alone may stand without the list)."""

    def validate(value: Any) -> tuple[ComponentConfig, ...]:
        if value is None:
            return ()
        if not isinstance(value, list | tuple):
            value = [value]
        try:
            return tuple(
                ComponentConfig.parse(f"{where}[{i}]", item, slot=slot, supplied=supplied)
                for i, item in enumerate(value)
            )
        except ValueError as error:  # its message names the entry's full path
            raise PathError(str(error)) from None

    return PlainValidator(validate)
