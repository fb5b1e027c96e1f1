"""Wrappers and callbacks in a config: a class by dotted path plus its keyword arguments.

RL Zoo's form: ``"pkg.Class"`` or ``{"pkg.Class": {kwargs}}``. The class must
fit its slot (a Gymnasium wrapper, an SB3 callback: see
:mod:`rlnoise.experiments.classes`) and its kwargs are checked when the config
loads (:mod:`rlnoise.experiments.options`); it is built only when training starts.

Example:
    >>> ComponentConfig.parse("callbacks[0]", {"rlnoise.callbacks.GradientNoiseCallback":
    ...                                        {"eta": "big"}}, slot="callback")
    Traceback (most recent call last):
    ...
    ValueError: callbacks[0].eta must be a number, got 'big' (str)
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from pydantic import PlainValidator

from rlnoise.core._checks import show
from rlnoise.experiments.classes import resolve_class
from rlnoise.experiments.fields import PathError
from rlnoise.experiments.options import check_component_kwargs

__all__ = ["ComponentConfig", "components"]


@dataclass(frozen=True)
class ComponentConfig:
    """A class by dotted path plus its keyword arguments (a wrapper, a callback)."""

    path: str
    kwargs: dict[str, Any] = field(default_factory=dict)

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
        if isinstance(value, ComponentConfig):
            value = value.to_dict()
        kwargs: Any
        if isinstance(value, str):
            path, kwargs = value, {}
        elif isinstance(value, dict) and len(value) == 1:
            ((path, kwargs),) = value.items()
            if kwargs is None:
                kwargs = {}
            if not isinstance(kwargs, dict) or not all(isinstance(k, str) for k in kwargs):
                raise ValueError(
                    f"{where} ({path}) kwargs must be a mapping of names, got {show(kwargs)}"
                )
        else:
            raise ValueError(
                f"{where} must be 'pkg.Class' or {{'pkg.Class': {{kwargs}}}}, got {show(value)}"
            )
        target = resolve_class(path, slot=slot, field=where)
        check_component_kwargs(where, path, target, kwargs, supplied)
        return cls(path, dict(kwargs))

    def build(self, *args: Any) -> Any:
        """Instantiate with positional ``args`` (e.g. the env) and the configured kwargs."""
        return resolve_class(self.path)(*args, **self.kwargs)

    def to_dict(self) -> dict[str, Any]:
        """RL Zoo style ``{path: kwargs}``."""
        return {self.path: dict(self.kwargs)}


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
