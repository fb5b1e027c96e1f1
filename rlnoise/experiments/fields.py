"""Field types for config models (pydantic v2) and one-line errors that name the full key path.

Every field type here is a pydantic ``PlainValidator``: it takes exactly what
YAML can write (no silent coercion of ``"4"`` to ``4`` or ``true`` to ``1``),
returns the value, and raises ``ValueError`` whose message is relative to the
field (``"must be an integer, got 1.5 (float)"``, ``".scale must be a number"``).
:func:`first_problem` turns a ``ValidationError`` into one line by joining
pydantic's ``loc`` (the key path) with that message.

Example:
    >>> from typing import Annotated
    >>> from pydantic import BaseModel, ConfigDict, ValidationError
    >>> class Options(BaseModel):
    ...     model_config = ConfigDict(extra="forbid")
    ...     size: Annotated[int, integer(low=1)] = 1
    ...     spec: Annotated[object, noise_spec()] = None
    >>> Options.model_validate({"size": 1e3}).size  # integral scientific notation is an integer
    1000
    >>> try:
    ...     Options.model_validate({"spec": {"kind": "gaussian", "scale": "abc"}})
    ... except ValidationError as error:
    ...     print(first_problem(error, Options, prefix="wrapper"))
    wrapper.spec.scale must be a number, got 'abc'
"""

from __future__ import annotations

import dataclasses
import math
import re
from collections.abc import Callable, Mapping
from typing import Any

from pydantic import BaseModel, PlainValidator, ValidationError

from rlnoise.core.checks import show
from rlnoise.core.kinds import KINDS
from rlnoise.core.spec import NoiseSpec, as_noise_spec

__all__ = [
    "PathError",
    "boolean",
    "choice",
    "first_problem",
    "integer",
    "join_path",
    "mapping",
    "noise_spec",
    "noise_spec_tree",
    "number",
    "or_null",
    "rebase",
    "text",
    "validate_with",
]

#: Words that start a NoiseSpec error about one of its fields ("scale must be ...").
_SPEC_FIELDS = frozenset(
    [f.name for f in dataclasses.fields(NoiseSpec)] + [p for k in KINDS.values() for p in k.params]
)
_FIRST_WORD = re.compile(r"^([A-Za-z_]\w*)(?=[ .\[])")


class PathError(ValueError):
    """A validation error whose message names its full key path already (nested checks)."""


def _typed(value: Any) -> str:
    return f"{show(value)} ({type(value).__name__})"


def integer(*, low: int | None = None, high: int | None = None, why: str = "") -> PlainValidator:
    """An integer in ``[low, high]``; a float is accepted when it is integral (``1e5``).

    ``why`` says in the error why ``high`` is the limit.
    """

    def check(value: Any) -> int:
        if isinstance(value, float) and math.isfinite(value) and value.is_integer():
            value = int(value)  # 1e5 in YAML is a float; it names an integer exactly
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"must be an integer, got {_typed(value)}")
        if low is not None and value < low:
            raise ValueError(f"must be >= {low}, got {value}")
        if high is not None and value > high:
            reason = f" ({why})" if why else ""
            raise ValueError(f"must be <= {high}{reason}, got {value:.3g}")
        return value

    return PlainValidator(check)


def number(*, low: float | None = None, high: float | None = None) -> PlainValidator:
    """A finite number in ``[low, high]`` (an integer is a number; ``true`` is not)."""

    def check(value: Any) -> float:
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise ValueError(f"must be a number, got {_typed(value)}")
        if not math.isfinite(value):
            raise ValueError(f"must be finite, got {value}")
        if low is not None and value < low:
            raise ValueError(f"must be >= {low}, got {value}")
        if high is not None and value > high:
            raise ValueError(f"must be <= {high}, got {value}")
        return float(value)

    return PlainValidator(check)


def boolean() -> PlainValidator:
    """``true`` or ``false`` (not ``1``, not ``"yes"`` in quotes)."""

    def check(value: Any) -> bool:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {_typed(value)}")
        return value

    return PlainValidator(check)


def text() -> PlainValidator:
    """A non-empty string."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or not value:
            raise ValueError(f"must be a non-empty string, got {_typed(value)}")
        return value

    return PlainValidator(check)


def choice(*options: str) -> PlainValidator:
    """One of ``options``."""

    def check(value: Any) -> str:
        if not isinstance(value, str) or value not in options:
            raise ValueError(f"must be one of {list(options)}, got {show(value)}")
        return value

    return PlainValidator(check)


def mapping() -> PlainValidator:
    """A mapping with string keys (``null`` is an empty one); returned as a ``dict``."""

    def check(value: Any) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, Mapping):
            raise ValueError(f"must be a mapping, got {_typed(value)}")
        for key in value:
            if not isinstance(key, str):
                raise ValueError(f"keys must be strings, got {_typed(key)}")
        return dict(value)

    return PlainValidator(check)


def validate_with(validator: PlainValidator, value: Any) -> Any:
    """Run a field type's check on ``value`` outside a model (returns the validated value)."""
    return validator.func(value)  # type: ignore[call-arg]


def or_null(validator: PlainValidator) -> PlainValidator:
    """``validator``, or ``null``."""
    return PlainValidator(lambda value: None if value is None else validate_with(validator, value))


def _spec_problem(error: ValueError) -> ValueError:
    """A NoiseSpec error made relative to the field holding the spec."""
    message = str(error)
    match = _FIRST_WORD.match(message)
    if match and match.group(1) in _SPEC_FIELDS:
        return ValueError(f".{message}")  # "scale must be ..." -> "<path>.scale must be ..."
    return ValueError(message)


def _checked_spec(value: Any, check: Callable[[NoiseSpec], Any] | None) -> None:
    try:
        spec = as_noise_spec(value)
    except ValueError as error:
        raise _spec_problem(error) from None
    if check is not None:
        check(spec)


def noise_spec(
    check: Callable[[NoiseSpec], Any] | None = None, *, optional: bool = True
) -> PlainValidator:
    """A noise spec (compact string, mapping or NoiseSpec), validated by ``as_noise_spec``.

    Args:
        check: What the slot adds (e.g. a policy's weight-noise rules); it raises
            ``ValueError`` for a spec that parses but does not fit the slot.
        optional: ``null`` (and ``false``) mean "no noise".

    The value is returned as written, so that a config round-trips unchanged.
    """

    def validate(value: Any) -> Any:
        if optional and (value is None or value is False):
            return value
        _checked_spec(value, check)
        return value

    return PlainValidator(validate)


def noise_spec_tree() -> PlainValidator:
    """A spec, or specs per key / index of a Dict or Tuple space (``null`` leaves: no noise)."""

    def walk(value: Any, path: str) -> None:
        if value is None:
            return
        if isinstance(value, NoiseSpec | str) or (isinstance(value, Mapping) and "kind" in value):
            try:
                _checked_spec(value, None)
            except ValueError as error:
                raise ValueError(join_path(path, str(error))) from None
        elif isinstance(value, Mapping):
            for key, sub in value.items():
                walk(sub, f"{path}.{key}")
        elif isinstance(value, list | tuple):
            for index, sub in enumerate(value):
                walk(sub, f"{path}[{index}]")
        else:
            raise ValueError(
                join_path(
                    path,
                    "must be a noise spec (e.g. 'gaussian:0.1' or a mapping with a 'kind'), "
                    f"or specs per key or index, got {_typed(value)}",
                )
            )

    def validate(value: Any) -> Any:
        walk(value, "")
        return value

    return PlainValidator(validate)


def rebase(message: str, name: str) -> str:
    """Drop a leading field ``name`` that a checker put in its message (it becomes the path).

    Example:
        >>> rebase("noisy_net.sigma0 must be >= 0.0, got -1", "noisy_net")
        '.sigma0 must be >= 0.0, got -1'
        >>> rebase("weight_noise: kind 'ou' is a process", "weight_noise")
        ": kind 'ou' is a process"
    """
    if message.startswith(name) and message[len(name) : len(name) + 1] in (".", "[", " ", ":"):
        rest = message[len(name) :]
        return rest if rest[0] in ".[:" else rest.lstrip()
    return message


def join_path(path: str, message: str) -> str:
    """Put a key path in front of a message that is relative to it.

    Example:
        >>> join_path("env.n_envs", "must be >= 1, got 0")
        'env.n_envs must be >= 1, got 0'
        >>> join_path("env.wrappers[0].spec", ".kind must be one of ['gaussian'], got 'x'")
        "env.wrappers[0].spec.kind must be one of ['gaussian'], got 'x'"
        >>> join_path("callbacks[0]", "eta and gamma need no spec")
        'callbacks[0]: eta and gamma need no spec'
    """
    if not path:
        return message
    if message.startswith((".", "[", ": ")):
        return path + message
    if message.startswith(("must ", "needs ")):
        return f"{path} {message}"
    return f"{path}: {message}"


def _loc_path(loc: tuple[Any, ...]) -> str:
    return "".join(f"[{part}]" if isinstance(part, int) else f".{part}" for part in loc)


def _fields_of(cls: Any) -> dict[str, Any]:
    """Field name -> FieldInfo of a pydantic model or pydantic dataclass."""
    if isinstance(cls, type) and issubclass(cls, BaseModel):
        return dict(cls.model_fields)
    return dict(getattr(cls, "__pydantic_fields__", {}))


def _section(root: Any, loc: tuple[Any, ...]) -> Any:
    cls = root
    for part in loc:
        info = _fields_of(cls).get(part) if isinstance(part, str) else None
        if info is None:
            return None
        cls = info.annotation
    return cls


_UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")
_MISSING = ("missing", "missing_argument", "missing_keyword_only_argument")


def first_problem(
    error: ValidationError, root: Any, *, prefix: str = "", root_name: str = "config"
) -> str:
    """The first problem of a validation error, on one line, naming its full key path.

    Unknown keys come first (a misspelt key also makes a required one missing)
    and list the valid keys; a count of the other problems follows.

    Args:
        error: What ``model_validate`` (or a pydantic dataclass) raised.
        root: The model or pydantic dataclass that was validated.
        prefix: The key path of ``root`` in the whole config (``"env.wrappers[0]"``).
        root_name: How to name ``root`` itself in unknown/missing-key messages.
    """
    problems = sorted(error.errors(), key=lambda e: e["type"] not in _UNKNOWN)
    first = problems[0]
    loc = tuple(first["loc"])
    kind = first["type"]
    if kind in _UNKNOWN or kind in _MISSING:
        section = _section(root, loc[:-1])
        parent = (prefix + _loc_path(loc[:-1])).lstrip(".") if loc[:-1] else root_name
        valid = sorted(_fields_of(section)) if section is not None else []
        if kind in _UNKNOWN:
            message = f"unknown key {show(loc[-1])} in {parent}; valid keys are {valid}"
        else:
            message = f"{parent} needs {show(loc[-1])}; valid keys are {valid}"
    else:
        path = (prefix + _loc_path(loc)).lstrip(".")
        cause = first.get("ctx", {}).get("error")
        if isinstance(cause, PathError):
            message = str(cause)
        elif kind == "value_error":
            message = join_path(path, str(cause))  # no path: a model-level check names keys
        else:
            message = join_path(path, f"{first['msg']}, got {show(first['input'])}")
    others = len(problems) - 1
    if others:
        message += f" (and {others} more problem{'s' if others > 1 else ''})"
    return message
