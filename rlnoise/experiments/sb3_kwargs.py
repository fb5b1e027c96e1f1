"""``algo_kwargs`` and ``policy_kwargs``: the keys SB3 owns, checked against SB3's constructors.

The keys an algorithm or policy takes are those of its ``__init__`` (and, while
an ``__init__`` passes ``**kwargs`` on, those of its base classes). Each value
is checked against the constructor's type annotation by pydantic in strict mode
(no ``"4"`` for an ``int``, no ``true`` for a ``float``), with the two
readings YAML needs: a list for a tuple (``train_freq: [4, step]``) and an
integral float for an int (``buffer_size: 1e6``); the value SB3 receives is
converted accordingly. Class-valued policy keywords (``activation_fn``,
``features_extractor_class``, ``optimizer_class``) resolve by dotted path to a
subclass of what the annotation names, never to a function.

Example:
    >>> from stable_baselines3 import DQN
    >>> check_algo_kwargs("DQN", DQN, {"train_freq": [4, "step"], "buffer_size": 1e4})
    {'train_freq': (4, 'step'), 'buffer_size': 10000}
"""

from __future__ import annotations

import functools
import inspect
import math
import re
import types
import typing
from collections.abc import Mapping
from typing import Any

from pydantic import ConfigDict, TypeAdapter, ValidationError

from rlnoise.core.checks import show
from rlnoise.runs.classes import SLOTS, resolve_class, slot_base

__all__ = [
    "MAX_TRANSITIONS",
    "build_policy_kwargs",
    "check_algo_kwargs",
    "check_constructor_kwargs",
    "check_policy_kwargs",
    "constructor_parameters",
]

#: Transitions a rollout or replay buffer may hold (``n_steps * n_envs``, ``buffer_size``).
#: Atari's replay buffers hold 10^6; 10^8 small observations already take gigabytes.
MAX_TRANSITIONS = 10**8

#: Algorithm constructor arguments rlnoise sets itself from other config keys.
SET_BY_RLNOISE = ("policy", "env", "seed", "device", "tensorboard_log", "policy_kwargs", "verbose")
#: Policy constructor arguments the algorithm passes itself.
SET_BY_ALGORITHM = ("self", "observation_space", "action_space", "lr_schedule")

_STRICT = ConfigDict(strict=True, arbitrary_types_allowed=True)


def constructor_parameters(cls: type) -> dict[str, inspect.Parameter] | None:
    """Keyword parameters of ``cls``, following ``**kwargs`` up the MRO; ``None`` if open-ended.

    Example:
        >>> from stable_baselines3 import PPO
        >>> "n_steps" in constructor_parameters(PPO)
        True
    """
    parameters: dict[str, inspect.Parameter] = {}
    for klass in cls.__mro__:
        if "__init__" not in vars(klass):
            continue
        if klass is object:
            return None  # every __init__ passed **kwargs on: anything goes
        try:
            signature = inspect.signature(vars(klass)["__init__"])
        except (TypeError, ValueError):
            return None  # no introspectable signature: let the constructor decide
        open_ended = False
        for name, parameter in signature.parameters.items():
            if parameter.kind is inspect.Parameter.VAR_KEYWORD:
                open_ended = True
            elif parameter.kind is not inspect.Parameter.VAR_POSITIONAL:
                parameters.setdefault(name, parameter)
        if not open_ended:
            return parameters
    return None


@functools.lru_cache(maxsize=256)
def _adapter(annotation: Any) -> TypeAdapter[Any] | None:
    if annotation is inspect.Parameter.empty or isinstance(annotation, str):
        return None  # no annotation, or one left unevaluated: no opinion
    try:
        return TypeAdapter(annotation, config=_STRICT)
    except Exception:  # pydantic cannot build every annotation: no opinion
        return None


def _tuples(value: Any) -> Any:
    if isinstance(value, list):
        return tuple(_tuples(v) for v in value)
    if isinstance(value, dict):
        return {k: _tuples(v) for k, v in value.items()}
    return value


def _readings(value: Any) -> list[Any]:
    """``value`` and the forms YAML cannot write: an integral float as an int, lists as tuples."""
    readings = [value]
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        readings.append(int(value))
    converted = _tuples(value)
    if converted != value:
        readings.append(converted)
    return readings


def _describe(annotation: Any) -> str:
    """An annotation as a short type expression (``int | tuple[int, str]``)."""
    text = annotation.__name__ if isinstance(annotation, type) else str(annotation)
    text = re.sub(r"\b(?:[A-Za-z_]\w*\.)+([A-Za-z_]\w*)", r"\1", text)
    return text.replace("NoneType", "None")


def _checked(key: str, owner: str, annotation: Any, value: Any) -> Any:
    """The value (converted as YAML needs) if it fits ``annotation``; raise otherwise."""
    adapter = _adapter(annotation)
    if adapter is None:
        return value
    for reading in _readings(value):
        try:
            adapter.validate_python(reading)
        except ValidationError:
            continue
        except Exception:  # a validator of an odd annotation failed: no opinion
            return value
        return reading
    raise ValueError(
        f"{key} must be {_describe(annotation)} for {owner}, got {show(value)} "
        f"({type(value).__name__})"
    )


def _class_base(key: str, annotation: Any) -> type | None:
    """The base class a class-valued keyword takes: ``type[X]`` in its annotation, else by name."""
    union = typing.get_origin(annotation) in (typing.Union, types.UnionType)
    for member in typing.get_args(annotation) if union else (annotation,):
        if typing.get_origin(member) is type:
            base = typing.get_args(member)[0]
            return base if isinstance(base, type) else None
    return slot_base(key) if key in SLOTS else None


def check_constructor_kwargs(
    path: str,
    cls: type,
    kwargs: Mapping[str, Any],
    hidden: tuple[str, ...] = (),
    label: str | None = None,
) -> dict[str, Any]:
    """Check the keys and value types of ``kwargs`` (at key ``path``) for ``cls``'s constructor.

    ``hidden`` names arguments that are not the user's to give; ``label`` is
    how unknown-key errors name the section (default ``path``).

    Returns:
        The kwargs with lists turned into tuples and integral floats into ints
        where the constructor's annotation needs it.
    """
    parameters = constructor_parameters(cls)
    if parameters is None:
        return dict(kwargs)
    valid = sorted(n for n in parameters if n not in ("self", *hidden) and not n.startswith("_"))
    out = dict(kwargs)
    for key, value in kwargs.items():
        if key not in valid:
            raise ValueError(f"unknown key {key!r} in {label or path}; valid keys are {valid}")
        out[key] = _checked(f"{path}.{key}", cls.__name__, parameters[key].annotation, value)
    return out


def check_algo_kwargs(
    algo: str, algo_cls: type, kwargs: Mapping[str, Any], n_envs: int = 1
) -> dict[str, Any]:
    """Reject keys the algorithm does not take or rlnoise sets; check values and buffer sizes.

    Returns:
        The kwargs converted as :func:`check_constructor_kwargs` converts them.
    """
    for key in kwargs:
        if key in SET_BY_RLNOISE:
            raise ValueError(f"algo_kwargs.{key} is set by rlnoise from the config; remove it")
    out = check_constructor_kwargs(
        "algo_kwargs", algo_cls, kwargs, SET_BY_RLNOISE, label=f"algo_kwargs for {algo}"
    )
    buffer = out.get("buffer_size")
    if isinstance(buffer, int) and buffer > MAX_TRANSITIONS:
        raise ValueError(
            f"algo_kwargs.buffer_size must be <= {MAX_TRANSITIONS} transitions, got {buffer:.3g}"
        )
    steps = out.get("n_steps")
    if isinstance(steps, int) and steps * n_envs > MAX_TRANSITIONS:
        raise ValueError(
            f"algo_kwargs.n_steps x env.n_envs must be <= {MAX_TRANSITIONS} transitions (the "
            f"rollout buffer), got {steps} x {n_envs}"
        )
    return out


def check_policy_kwargs(
    policy_cls: type, kwargs: Mapping[str, Any], rlnoise_keys: tuple[str, ...] = ()
) -> dict[str, Any]:
    """Check the policy keywords SB3 owns; ``rlnoise_keys`` are checked by their options type.

    Returns:
        The kwargs converted as in :func:`check_algo_kwargs` (class paths stay strings).
    """
    parameters = constructor_parameters(policy_cls)
    owner = policy_cls.__name__
    out = dict(kwargs)
    if parameters is None:
        parameters = {}
        known = None  # open-ended: any key may be right
    else:
        known = sorted({*parameters, *rlnoise_keys} - set(SET_BY_ALGORITHM))
    for key, value in kwargs.items():
        if key in rlnoise_keys:
            continue
        if known is not None and key not in known:
            raise ValueError(
                f"unknown key {key!r} in policy_kwargs for {owner}; valid keys are {known}"
            )
        parameter = parameters.get(key)
        annotation = parameter.annotation if parameter is not None else inspect.Parameter.empty
        field = f"policy_kwargs.{key}"
        if isinstance(value, str) and key.endswith(("_fn", "_class")):
            base = _class_base(key, annotation)
            if base is None:
                raise ValueError(
                    f"{field}: {owner} does not say which class it takes, so no dotted path "
                    "can be resolved for it"
                )
            resolve_class(value, slot=key if key in SLOTS else None, base=base, field=field)
            continue
        out[key] = _checked(field, owner, annotation, value)
    return out


def build_policy_kwargs(kwargs: Mapping[str, Any]) -> dict[str, Any]:
    """The policy kwargs to construct with: ``*_fn`` / ``*_class`` dotted paths resolved.

    Each resolves to a class (never a function) of its slot's base when the key
    is a known slot (``activation_fn`` -> ``torch.nn.Module``...); the config
    was checked against the policy's annotations when it loaded.

    Example:
        >>> build_policy_kwargs({"activation_fn": "torch.nn.Tanh", "net_arch": [8]})
        {'activation_fn': <class 'torch.nn.modules.activation.Tanh'>, 'net_arch': [8]}
    """
    out = dict(kwargs)
    for key, value in kwargs.items():
        if isinstance(value, str) and key.endswith(("_fn", "_class")):
            slot = key if key in SLOTS else None
            out[key] = resolve_class(value, slot=slot, field=f"policy_kwargs.{key}")
    return out
