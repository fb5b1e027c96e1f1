"""Applying a dynamics setting to an env: attributes on ``env.unwrapped``, or ``gym.make`` kwargs.

The one implementation of "give this env other dynamics", below both
training (:class:`rlnoise.wrappers.ContextSet`) and evaluation (the grid's
``dynamics`` conditions), so that a context trained on and a condition tested
on are the same env:

- :class:`DynamicsSetting` — a validated, hashable, JSON-safe pair of
  ``attributes`` (set on ``env.unwrapped`` after it is made: CartPole's
  ``length``, ``masscart``, ``force_mag``...) and ``make_kwargs`` (passed to
  ``gym.make``: Pendulum's ``g``...);
- :func:`apply_attributes` — sets the attributes, checking each exists and
  keeps its numeric type, and refreshes what the env derives from them in its
  constructor (CartPole's ``total_mass`` and ``polemass_length``);
- :func:`make_env` — makes an env (a registered id or a factory) with a setting.

Errors are one line naming the attribute and the env.

Example:
    >>> env = make_env("CartPole-v1", DynamicsSetting(attributes={"length": 1.0}))
    >>> env.unwrapped.length, env.unwrapped.polemass_length
    (1.0, 0.1)
    >>> DynamicsSetting(attributes={"lenght": 1.0}).apply(env)  # doctest: +ELLIPSIS
    Traceback (most recent call last):
    ...
    ValueError: env 'CartPole-v1' (CartPoleEnv) has no attribute 'lenght'; its numeric ...
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import gymnasium as gym

from rlnoise.core.checks import show

__all__ = [
    "DERIVED_ATTRIBUTES",
    "DynamicsSetting",
    "apply_attributes",
    "make_env",
    "name_value_pairs",
]


def _refresh_cartpole(env: Any) -> None:
    # CartPoleEnv computes these once in __init__ from the masses and the length.
    env.total_mass = env.masspole + env.masscart
    env.polemass_length = env.masspole * env.length


#: Quantities an env derives from its attributes at construction time, by class name.
DERIVED_ATTRIBUTES: dict[str, Callable[[Any], None]] = {"CartPoleEnv": _refresh_cartpole}


def _plain(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if isinstance(value, Mapping):
        return {k: _plain(v) for k, v in value.items()}
    return value


def _frozen(value: Any) -> Any:
    if isinstance(value, list | tuple):
        return tuple(_frozen(v) for v in value)
    if isinstance(value, Mapping):
        return tuple(sorted((k, _frozen(v)) for k, v in value.items()))
    return value


def _pairs(name: str, value: Any) -> tuple[tuple[str, Any], ...]:
    return name_value_pairs(name, value, to_json=_plain, store=_frozen)


def name_value_pairs(
    name: str, value: Any, *, to_json: Callable[[Any], Any], store: Callable[[Any], Any]
) -> tuple[tuple[str, Any], ...]:
    """A mapping of identifiers to JSON-safe values, as sorted ``(name, store(value))`` pairs.

    Also takes such pairs (a dataclass field's stored form). ``to_json`` makes a
    value JSON-checkable; ``store`` is what the pair keeps (hashable, or plain).

    Example:
        >>> name_value_pairs("kwargs", {"1x": 2}, to_json=dict, store=str)
        Traceback (most recent call last):
        ...
        ValueError: kwargs keys must be identifiers, got '1x'
        >>> name_value_pairs("kwargs", {"b": 1, "a": 2}, to_json=dict, store=str)
        (('a', '2'), ('b', '1'))
    """
    if value is None:
        return ()
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ValueError(f"{name} must be a mapping of names to values, got {show(value)}")
    for key in value:
        if not isinstance(key, str) or not key.isidentifier():
            raise ValueError(f"{name} keys must be identifiers, got {show(key)}")
    try:
        json.dumps(to_json(value))
    except (TypeError, ValueError):
        raise ValueError(f"{name} values must be JSON-safe, got {show(value)}") from None
    return tuple(sorted((k, store(v)) for k, v in value.items()))


def _numeric_attributes(env: Any) -> list[str]:
    return sorted(
        name
        for name, value in vars(env).items()
        if not name.startswith("_")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    )


def _label(env: gym.Env, name: str | None) -> str:
    inner = env.unwrapped
    spec = getattr(inner, "spec", None)
    shown = name or (spec.id if spec is not None else type(inner).__name__)
    return f"env {shown!r} ({type(inner).__name__})"


def apply_attributes(env: gym.Env, attributes: Mapping[str, Any], name: str | None = None) -> None:
    """Set ``attributes`` on ``env.unwrapped``; refresh what the env derives from them.

    A float attribute stays a float (``length: 1`` sets ``1.0``). Nothing is
    set unless every attribute is valid.

    Args:
        env: The env (any wrapper chain).
        attributes: Attribute name -> value.
        name: How errors name the env (default: its id).

    Raises:
        ValueError: An attribute the unwrapped env does not have (its numeric
            attributes are listed), or a non-finite number for a numeric one.
    """
    inner = env.unwrapped
    values: dict[str, Any] = {}
    for key, value in attributes.items():
        current = getattr(inner, key, None)
        if current is None or callable(current):
            raise ValueError(
                f"{_label(env, name)} has no attribute {key!r}; its numeric attributes are "
                f"{_numeric_attributes(inner)}"
            )
        numeric = isinstance(current, float | int) and not isinstance(current, bool)
        finite = isinstance(value, int | float) and not isinstance(value, bool)
        if numeric and not (finite and math.isfinite(value)):
            raise ValueError(
                f"dynamics attribute {key!r} must be a finite number, got {show(value)}"
            )
        values[key] = type(current)(value) if isinstance(current, float) else value
    for key, value in values.items():
        setattr(inner, key, value)
    refresh = DERIVED_ATTRIBUTES.get(type(inner).__name__)
    if refresh is not None:
        refresh(inner)


@dataclass(frozen=True)
class DynamicsSetting:
    """One dynamics setting: env attributes and/or ``gym.make`` keyword arguments.

    Hashable (equal settings share made envs) and JSON-safe (:meth:`to_dict`).

    Args:
        attributes: Attributes set on ``env.unwrapped`` after it is made.
        make_kwargs: Keyword arguments of ``gym.make`` (the env is made anew).

    Raises:
        ValueError: Keys that are not identifiers, values that are not JSON-safe.

    Example:
        >>> DynamicsSetting(attributes={"length": 0.7}).to_dict()
        {'attributes': {'length': 0.7}, 'make_kwargs': {}}
    """

    attributes: Any = ()
    make_kwargs: Any = ()

    def __post_init__(self) -> None:
        object.__setattr__(self, "attributes", _pairs("attributes", self.attributes))
        object.__setattr__(self, "make_kwargs", _pairs("make_kwargs", self.make_kwargs))

    @classmethod
    def from_dict(cls, data: Any, where: str = "dynamics") -> DynamicsSetting:
        """From ``{"attributes": {...}, "make_kwargs": {...}}`` (either may be left out)."""
        if isinstance(data, DynamicsSetting):
            return data
        if not isinstance(data, Mapping):
            raise ValueError(f"{where} must be a mapping, got {show(data)}")
        unknown = sorted(set(data) - {"attributes", "make_kwargs"})
        if unknown:
            raise ValueError(f"{where} has unknown key(s) {unknown}; use attributes, make_kwargs")
        try:
            return cls(data.get("attributes"), data.get("make_kwargs"))
        except ValueError as error:
            raise ValueError(f"{where}.{error}") from None

    @property
    def attribute_dict(self) -> dict[str, Any]:
        """The attributes as a plain dict."""
        return {k: _plain(v) for k, v in self.attributes}

    @property
    def make_kwargs_dict(self) -> dict[str, Any]:
        """The make kwargs as a plain dict."""
        return {k: _plain(v) for k, v in self.make_kwargs}

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (what :meth:`from_dict` reads)."""
        return {"attributes": self.attribute_dict, "make_kwargs": self.make_kwargs_dict}

    def apply(self, env: gym.Env, name: str | None = None) -> None:
        """Set the attributes on an env already made (the make kwargs need :func:`make_env`)."""
        apply_attributes(env, self.attribute_dict, name)

    @property
    def label(self) -> str:
        """``name=value,...`` (make kwargs first)."""
        return ",".join(f"{k}={_plain(v)}" for k, v in (*self.make_kwargs, *self.attributes))


def make_env(
    env: str | Callable[..., gym.Env],
    setting: DynamicsSetting | None = None,
    make_kwargs: Mapping[str, Any] | None = None,
    **gym_kwargs: Any,
) -> gym.Env:
    """A new env with ``setting`` applied.

    Args:
        env: A registered Gymnasium id, or a callable returning a new env (it
            receives the make kwargs as keyword arguments).
        setting: The dynamics, or ``None``.
        make_kwargs: Keyword arguments for every env, under the setting's own.
        **gym_kwargs: Passed to ``gym.make`` only (e.g. ``disable_env_checker``).

    Raises:
        ValueError: The kwargs are refused, or an attribute is invalid (the env is closed).
    """
    kwargs = dict(make_kwargs or {})
    if setting is not None:
        kwargs.update(setting.make_kwargs_dict)
    name = env if isinstance(env, str) else getattr(env, "__qualname__", type(env).__name__)
    try:
        made = gym.make(env, **gym_kwargs, **kwargs) if isinstance(env, str) else env(**kwargs)
    except TypeError as error:
        raise ValueError(f"cannot make env {name!r} with {kwargs}: {error}") from None
    if setting is not None and setting.attributes:
        try:
            setting.apply(made, name)
        except ValueError:
            made.close()
            raise
    return made
