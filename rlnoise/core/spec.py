"""``NoiseSpec``: the one immutable, validated, serialisable description of a noise source.

Every injection point in rlnoise (observation and action wrappers, policy
weights and activations, gradients, evaluation conditions) takes a
:class:`NoiseSpec`, a dict, or the compact string form and converts it with
:func:`as_noise_spec`.

Compact strings are ``kind[:scale][,key=value...]``, for example
``"gaussian:0.1"``, ``"ou:0.3,theta=0.5"`` or
``"dropout:0.2,rescale=true,phases=train"``. Lists inside strings use ``+``
(``phases=rollout+train``), ``|`` (``where=mlp_extractor.*|action_net.*``) or
brackets (``values=[-5,5]``, ``clip=[-1,1]``).

Example:
    >>> spec = NoiseSpec.parse("gaussian:0.1")
    >>> spec.kind, spec.scale, spec.mode
    ('gaussian', 0.1, 'additive')
    >>> NoiseSpec.from_dict(spec.to_dict()) == spec
    True
    >>> NoiseSpec.parse("gaussian:-1")
    Traceback (most recent call last):
    ...
    ValueError: scale must be >= 0.0, got -1.0
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from rlnoise.core.adaptive import AdaptiveScale
from rlnoise.core.checks import check_choice, check_float, check_int, check_keys, show
from rlnoise.core.envelopes import Envelope, envelope_from_value
from rlnoise.core.kinds import KINDS, KindInfo
from rlnoise.core.schedules import ConstantSchedule, Schedule, schedule_from_dict

__all__ = ["PHASES", "RESAMPLE_EVENTS", "NoiseSpec", "NoiseSpecLike", "as_noise_spec"]

PHASES = ("rollout", "train", "eval")
RESAMPLE_EVENTS = ("call", "step", "episode", "rollout", "update")
RELATIVE_TO = ("range", "std")

Scale = float | tuple[Any, ...]


def _normalise_scale(value: Any, probability: bool) -> Scale:
    """A float, or nested tuples of floats for a per-dimension scale."""
    high = 1.0 if probability else None
    if isinstance(value, np.ndarray):
        value = value.tolist()
    if isinstance(value, list | tuple):
        try:
            array = np.asarray(value, dtype=object)
        except ValueError:  # ragged nesting
            raise ValueError(
                f"scale must be a number or a rectangular list, got {show(value)}"
            ) from None
        if array.size == 0 or array.ndim == 0:
            raise ValueError(f"scale must be a number or a non-empty list, got {show(value)}")
        flat = [check_float("scale", item, low=0.0, high=high) for item in array.reshape(-1)]
        nested = np.asarray(flat, dtype=np.float64).reshape(array.shape).tolist()
        return _to_tuple(nested)
    return check_float("scale", value, low=0.0, high=high)


def _to_tuple(value: Any) -> Any:
    return tuple(_to_tuple(v) for v in value) if isinstance(value, list) else value


def _to_list(value: Any) -> Any:
    return [_to_list(v) for v in value] if isinstance(value, tuple) else value


def _normalise_strings(name: str, value: Any, choices: Sequence[str] | None) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list | tuple | set | frozenset):
        raise ValueError(f"{name} must be a string or a list of strings, got {show(value)}")
    items = []
    for item in value:
        if not isinstance(item, str) or not item:
            raise ValueError(f"{name} entries must be non-empty strings, got {show(item)}")
        if choices is not None:
            check_choice(name, item, choices)
        items.append(item)
    if choices is not None:
        return tuple(c for c in choices if c in items)
    return tuple(dict.fromkeys(items))


def _normalise_clip(value: Any) -> str | tuple[float, float] | None:
    if value is None or value is False:
        return None
    if value is True or value == "space":
        return "space"
    if isinstance(value, list | tuple) and len(value) == 2:
        low = check_float("clip[0]", value[0])
        high = check_float("clip[1]", value[1])
        if not low < high:
            raise ValueError(f"clip must be [low, high] with low < high, got {show(value)}")
        return (low, high)
    raise ValueError(f"clip must be null, 'space' or [low, high], got {show(value)}")


def _normalise_resample(value: Any) -> str | int | None:
    if value is None:
        return None
    if isinstance(value, str) and value.isdigit():
        value = int(value)
    if isinstance(value, str):
        return check_choice("resample", value, RESAMPLE_EVENTS)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return check_int("resample", value, low=1)
    raise ValueError(
        f"resample must be one of {list(RESAMPLE_EVENTS)} or a step count >= 1, got {show(value)}"
    )


@dataclass(frozen=True)
class NoiseSpec:
    """Immutable description of one noise source.

    Args:
        kind: One of ``gaussian``, ``uniform``, ``laplace``, ``salt_pepper``,
            ``dropout``, ``ou``, ``colored`` (see :mod:`rlnoise.core.kinds`).
        scale: Non-negative float, or a (nested) list for a per-dimension scale
            whose shape must broadcast to the noised value. A probability in
            [0, 1] for ``salt_pepper`` and ``dropout``.
        mode: ``additive``, ``multiplicative`` or ``replace``; ``None`` picks
            the kind's natural default.
        relative_to: ``None`` (absolute), ``"range"`` (scale x (high - low) of
            the space) or ``"std"`` (scale x a running standard deviation).
        schedule: Multiplier of ``scale`` over steps (name, dict or
            :class:`~rlnoise.core.schedules.Schedule`); constant by default.
        clip: ``None``, ``"space"`` (clip to the space's bounds) or ``[low, high]``.
        phases: Subset of ``rollout``, ``train``, ``eval`` in which the noise is
            active; ``None`` lets the injection point choose its default.
        resample: When a held draw is redrawn: ``call``, ``step``, ``episode``,
            ``rollout``, ``update``, or every N steps; ``None``: injector default.
        where: fnmatch-style globs over parameter or module names (policy-side
            specs); empty: the injection point's default selection.
        adaptive: :class:`~rlnoise.core.adaptive.AdaptiveScale` settings, a
            target distance, or ``None``.
        params: The kind's parameters (``theta``, ``dt``, ``mean`` for ``ou``;
            ``beta``, ``length`` for ``colored``; ``values``, ``salt_ratio`` for
            ``salt_pepper``; ``rescale`` for ``dropout``). Missing ones take
            their defaults.
        envelope: When within an episode the noise is on
            (:class:`~rlnoise.core.envelopes.Envelope`: impulse, step, pulse,
            periodic, with a fixed or random onset), a dict or its compact
            string (``"pulse(at=50,duration=10)"``); ``None``: always.

    Raises:
        ValueError: Any invalid field, naming the field and the value.
    """

    kind: str
    scale: Scale = 0.1
    mode: str | None = None
    relative_to: str | None = None
    schedule: Schedule = field(default_factory=ConstantSchedule)
    clip: str | tuple[float, float] | None = None
    phases: tuple[str, ...] | None = None
    resample: str | int | None = None
    where: tuple[str, ...] = ()
    adaptive: AdaptiveScale | None = None
    params: Any = ()
    envelope: Envelope | None = None

    def __post_init__(self) -> None:
        info = KINDS.get(self.kind) if isinstance(self.kind, str) else None
        if info is None:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {show(self.kind)}")
        set_ = object.__setattr__
        set_(self, "scale", _normalise_scale(self.scale, info.scale_is_probability))
        mode = info.default_mode if self.mode is None else self.mode
        if not isinstance(mode, str) or mode not in info.modes:
            # Only the modes this kind supports (MODES lists every kind's).
            raise ValueError(
                f"mode must be one of {list(info.modes)} for kind {info.name!r}, got {show(mode)}"
            )
        set_(self, "mode", mode)
        if self.relative_to is not None:
            check_choice("relative_to", self.relative_to, RELATIVE_TO)
            if info.scale_is_probability:
                raise ValueError(
                    f"relative_to is meaningless for kind {info.name!r} (scale is a probability)"
                )
        set_(self, "schedule", schedule_from_dict(self.schedule))
        set_(self, "clip", _normalise_clip(self.clip))
        if self.phases is not None:
            phases = _normalise_strings("phases", self.phases, PHASES)
            if not phases:
                raise ValueError(
                    "phases must name at least one of ['rollout', 'train', 'eval'], got []"
                )
            set_(self, "phases", phases)
        set_(self, "resample", _normalise_resample(self.resample))
        set_(self, "where", _normalise_strings("where", self.where, None))
        set_(self, "adaptive", AdaptiveScale.from_value(self.adaptive))
        set_(self, "params", _normalise_params(info, self.params))
        set_(self, "envelope", envelope_from_value(self.envelope))

    # -- access -----------------------------------------------------------------
    @property
    def info(self) -> KindInfo:
        """Static facts about this spec's kind."""
        return KINDS[self.kind]

    @property
    def param_dict(self) -> dict[str, Any]:
        """The kind's parameters as a dict (defaults filled in)."""
        return dict(self.params)

    def scale_array(self, shape: tuple[int, ...] | None = None) -> np.ndarray:
        """Return ``scale`` as a float64 array, checked to broadcast to ``shape``.

        Raises:
            ValueError: The per-dimension scale does not broadcast to ``shape``.

        Example:
            >>> NoiseSpec("gaussian", scale=[0.1, 0.2]).scale_array((5, 2)).tolist()
            [0.1, 0.2]
        """
        array = np.asarray(_to_list(self.scale), dtype=np.float64)
        if shape is not None and array.ndim > 0:
            try:
                if np.broadcast_shapes(array.shape, tuple(shape)) != tuple(shape):
                    raise ValueError
            except ValueError:
                raise ValueError(
                    f"scale has shape {array.shape}, which does not broadcast to the noised "
                    f"shape {tuple(shape)}"
                ) from None
        return array

    def active_in(self, phase: str, default: Sequence[str] = PHASES) -> bool:
        """Whether the noise is on in ``phase``, using ``default`` when ``phases`` is unset."""
        return phase in (self.phases if self.phases is not None else default)

    def replace(self, **changes: Any) -> NoiseSpec:
        """Return a copy with fields changed (validated again).

        Example:
            >>> NoiseSpec.parse("gaussian:0.1").replace(scale=0.3).scale
            0.3
        """
        if "params" in changes and isinstance(changes["params"], Mapping):
            changes["params"] = {**self.param_dict, **changes["params"]}
        valid = {f.name for f in dataclasses.fields(self)}
        check_keys("NoiseSpec.replace", changes, valid)
        return dataclasses.replace(self, **changes)

    @property
    def label(self) -> str:
        """Short human label ``kind:scale``, e.g. for table rows."""
        scale = self.scale if isinstance(self.scale, float) else "per-dim"
        text = f"{self.kind}:{scale:g}" if isinstance(scale, float) else f"{self.kind}:{scale}"
        return text if self.envelope is None else f"{text}@{self.envelope}"

    # -- forms -------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        """Return a YAML/JSON-safe dict; ``NoiseSpec.from_dict(spec.to_dict()) == spec``."""
        out: dict[str, Any] = {
            "kind": self.kind,
            "scale": _to_list(self.scale),
            "mode": self.mode,
            "relative_to": self.relative_to,
            "schedule": self.schedule.to_dict(),
            "clip": list(self.clip) if isinstance(self.clip, tuple) else self.clip,
            "phases": None if self.phases is None else list(self.phases),
            "resample": self.resample,
            "where": list(self.where),
            "adaptive": None if self.adaptive is None else self.adaptive.to_dict(),
        }
        for name, value in self.params:
            out[name] = list(value) if isinstance(value, tuple) else value
        if self.envelope is not None:  # absent otherwise: older dicts (and seeds) stay the same
            out["envelope"] = self.envelope.to_dict()
        return out

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> NoiseSpec:
        """Build a spec from a flat mapping (kind parameters at the top level).

        Raises:
            ValueError: Missing ``kind``, unknown key (the valid ones are listed), bad value.
        """
        if not isinstance(data, Mapping):
            raise ValueError(f"a noise spec mapping is required, got {show(data)}")
        if "kind" not in data:
            raise ValueError(
                f"noise spec needs a 'kind' (one of {sorted(KINDS)}), got {show(dict(data))}"
            )
        kind = data["kind"]
        info = KINDS.get(kind) if isinstance(kind, str) else None
        if info is None:
            raise ValueError(f"kind must be one of {sorted(KINDS)}, got {show(kind)}")
        fields_ = [f.name for f in dataclasses.fields(cls) if f.name != "params"]
        check_keys(f"noise spec ({kind})", data, [*fields_, *info.params])
        kwargs = {k: v for k, v in data.items() if k in fields_}
        kwargs["params"] = {k: v for k, v in data.items() if k in info.params}
        return cls(**kwargs)

    @classmethod
    def parse(cls, text: str) -> NoiseSpec:
        """Parse the compact form ``kind[:scale][,key=value...]``.

        Example:
            >>> NoiseSpec.parse("ou:0.2,theta=0.5,phases=rollout+train").param_dict["theta"]
            0.5
        """
        if not isinstance(text, str):
            raise ValueError(f"a noise spec string is required, got {show(text)}")
        head, *options = [part.strip() for part in _split_top_level(text)]
        kind, _, scale = head.partition(":")
        data: dict[str, Any] = {"kind": kind.strip()}
        if scale.strip():
            data["scale"] = _parse_number("scale", scale.strip())
        for option in options:
            key, sep, value = option.partition("=")
            key = key.strip()
            if not sep or not key:
                raise ValueError(f"options in {text!r} must be key=value, got {option!r}")
            if key in data:
                raise ValueError(f"option {key!r} given twice in {text!r}")
            data[key] = _parse_value(key, value.strip())
        return cls.from_dict(data)

    def to_string(self) -> str:
        """Return the compact form; ``NoiseSpec.parse(spec.to_string()) == spec``.

        Only the fields that differ from their defaults are written.

        Raises:
            ValueError: A field the compact form cannot hold (a per-dimension
                scale, a schedule with parameters, adaptive settings beyond the
                target, a string that would parse as something else); use
                :meth:`to_dict` for those.

        Example:
            >>> NoiseSpec.parse("ou:0.3,theta=0.5,phases=rollout+train").to_string()
            'ou:0.3,phases=rollout+train,theta=0.5'
        """
        if not isinstance(self.scale, float):
            raise ValueError(f"scale {show(self.scale)} has no compact form; use to_dict()")
        options: list[str] = []
        if self.mode != self.info.default_mode:
            options.append(f"mode={self.mode}")
        if self.relative_to is not None:
            options.append(f"relative_to={self.relative_to}")
        schedule = self.schedule.to_dict()
        if schedule != ConstantSchedule().to_dict():
            try:
                bare = schedule_from_dict(schedule["type"]).to_dict()
            except ValueError:  # a schedule whose length must be given (linear, cosine)
                bare = None
            if schedule != bare:
                raise ValueError(f"schedule {show(schedule)} has no compact form; use to_dict()")
            options.append(f"schedule={schedule['type']}")
        if self.clip is not None:
            clip = self.clip if isinstance(self.clip, str) else "+".join(map(repr, self.clip))
            options.append(f"clip={clip}")
        if self.phases is not None:
            options.append(f"phases={'+'.join(self.phases)}")
        if self.resample is not None:
            options.append(f"resample={self.resample}")
        if self.where:
            options.append(f"where={'|'.join(self.where)}")
        if self.adaptive is not None:
            if self.adaptive != AdaptiveScale(self.adaptive.target):
                raise ValueError(
                    f"adaptive {show(self.adaptive.to_dict())} has no compact form; use to_dict()"
                )
            options.append(f"adaptive={self.adaptive.target!r}")
        if self.envelope is not None:
            options.append(f"envelope={self.envelope.to_string()}")
        for name, value in self.params:
            if value != self.info.params[name][0]:
                text = "+".join(map(repr, value)) if isinstance(value, tuple) else repr(value)
                options.append(f"{name}={text.lower() if isinstance(value, bool) else text}")
        text = ",".join([f"{self.kind}:{self.scale!r}", *options])
        try:
            same = NoiseSpec.parse(text) == self
        except ValueError:
            same = False
        if not same:
            raise ValueError(f"{self!r} has no compact form; use to_dict()")
        return text

    def __str__(self) -> str:
        """The compact form when the spec has one (:meth:`to_string`), else the :attr:`label`."""
        try:
            return self.to_string()
        except ValueError:
            return self.label


def _parse_number(field: str, text: str) -> float:
    try:
        return float(text)
    except ValueError:
        raise ValueError(f"{field} must be a number, got {text!r}") from None


def _split_top_level(text: str) -> list[str]:
    """Split at commas outside brackets and parentheses.

    ``values=[-5,5]`` and ``envelope=pulse(at=1,duration=2)`` stay one option.
    """
    parts, depth, start = [], 0, 0
    for index, char in enumerate(text):
        if char in "[(":
            depth += 1
        elif char in "])":
            depth = max(0, depth - 1)
        elif char == "," and depth == 0:
            parts.append(text[start:index])
            start = index + 1
    parts.append(text[start:])
    return parts


def _parse_value(key: str, text: str) -> Any:
    if key == "envelope":
        return text  # its own compact form, read by Envelope.parse
    if len(text) >= 2 and text[0] == "[" and text[-1] == "]":
        items = [item.strip() for item in text[1:-1].split(",")]
        items = [item for item in items if item]
        if key in ("values", "clip"):
            return [_parse_number(key, item) for item in items]
        return items if key in ("phases", "where") else [_parse_value(key, i) for i in items]
    if key in ("phases",):
        return [part for part in text.split("+") if part]
    if key == "where":
        return [part for part in text.split("|") if part]
    if key in ("values", "clip") and ("+" in text or "|" in text):
        parts = text.replace("|", "+").split("+")
        return [_parse_number(key, part) for part in parts]
    lowered = text.lower()
    if lowered in ("true", "false"):
        return lowered == "true"
    if lowered in ("none", "null", ""):
        return None
    try:
        return int(text)
    except ValueError:
        pass
    try:
        return float(text)
    except ValueError:
        return text


def _normalise_params(info: KindInfo, value: Any) -> tuple[tuple[str, Any], ...]:
    if isinstance(value, tuple) and all(isinstance(p, tuple) and len(p) == 2 for p in value):
        value = dict(value)
    if not isinstance(value, Mapping):
        raise ValueError(f"params must be a mapping, got {show(value)}")
    check_keys(f"parameters of kind {info.name!r}", value, info.params)
    out = []
    for name, (default, validate) in sorted(info.params.items()):
        raw = value.get(name, default)
        out.append((name, raw if raw is None and default is None else validate(name, raw)))
    return tuple(out)


NoiseSpecLike = NoiseSpec | Mapping[str, Any] | str


def as_noise_spec(value: NoiseSpecLike) -> NoiseSpec:
    """Turn a spec, a dict or a compact string into a :class:`NoiseSpec`.

    Example:
        >>> as_noise_spec({"kind": "uniform", "scale": 0.05}).label
        'uniform:0.05'
    """
    if isinstance(value, NoiseSpec):
        return value
    if isinstance(value, str):
        return NoiseSpec.parse(value)
    if isinstance(value, Mapping):
        return NoiseSpec.from_dict(value)
    raise ValueError(f"a noise spec must be a NoiseSpec, a mapping or a string, got {show(value)}")
