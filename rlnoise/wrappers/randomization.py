"""``DomainRandomization``: new dynamics parameters at every reset, drawn from noise specs.

Each randomised parameter is an attribute of ``env.unwrapped`` (CartPole's
``length``, ``masscart``...) with a :class:`~rlnoise.NoiseSpec` saying how it
varies around its nominal value (the value the env had when it was wrapped):

=================================  ===============================================
spec                               value drawn at each reset
=================================  ===============================================
``"uniform:0.2"``                  ``nominal + U(-0.2, 0.2)`` (absolute)
``"uniform:0.5,mode=multiplicative"``  ``nominal * (1 + U(-0.5, 0.5))`` (relative)
``"gaussian:0.1,clip=[0.2,2.0]"``  ``nominal + N(0, 0.1)``, clipped to [0.2, 2]
=================================  ===============================================

The values are set with :func:`rlnoise.wrappers.dynamics.apply_attributes`, the
function under the evaluation's ``dynamics`` conditions and
:class:`~rlnoise.wrappers.ContextSet`, so a value trained on and a grid point
tested on are the same env (derived quantities such as CartPole's
``polemass_length`` are refreshed the same way).

Curriculum: a spec's ``schedule`` multiplies its scale as a function of the
training step, so ``{"kind": "uniform", "scale": 0.5, "mode": "multiplicative",
"schedule": {"type": "linear", "start": 0, "end": 1, "steps": 50000}}`` widens
the range from the nominal value to +-50% over 50k steps. The step is the
wrapper's own count of env steps, or the shared training clock
(:class:`rlnoise.callbacks.NoiseScheduleCallback` calls :meth:`set_noise_step`).

Vector envs: wrap every sub-env (``gym.make_vec(..., wrappers=[...])``,
``make_vec_env(..., wrapper_class=DomainRandomization, wrapper_kwargs=...)``):
a sub-env resets inside the vector env's ``step`` and only a wrapper inside it
sees that reset. Sub-env ``i`` reset with ``seed + i`` draws what a single
wrapped env reset with ``seed + i`` draws.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, SupportsFloat

import gymnasium as gym
import numpy as np
from gymnasium.core import ActType, ObsType

from rlnoise.core.checks import show
from rlnoise.core.kinds import unit_numpy
from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.spec import NoiseSpec, NoiseSpecLike, as_noise_spec
from rlnoise.wrappers._chain import forward_noise_step, inner_noise_scales
from rlnoise.wrappers._switch import NoiseSwitch
from rlnoise.wrappers.dynamics import apply_attributes

__all__ = ["INFO_KEY", "DomainRandomization", "check_randomization_spec"]

#: The ``info`` key holding the parameter values of the current episode.
INFO_KEY = "dynamics"
_KINDS = ("gaussian", "uniform", "laplace")


def check_randomization_spec(name: str, value: NoiseSpecLike) -> NoiseSpec:
    """The spec of one randomised parameter, checked.

    Raises:
        ValueError: A kind other than gaussian/uniform/laplace, a per-dimension
            scale, ``clip="space"``, or a field that has no meaning for a value
            drawn once per episode (``relative_to``, ``phases``, ``resample``,
            ``where``, ``adaptive``, ``envelope``), naming the parameter.

    Example:
        >>> check_randomization_spec("length", "uniform:0.5,mode=multiplicative").mode
        'multiplicative'
        >>> check_randomization_spec("length", "ou:0.1")  # doctest: +ELLIPSIS
        Traceback (most recent call last):
        ...
        ValueError: domain randomisation of 'length': kind must be one of [...], got 'ou'
    """
    where = f"domain randomisation of {name!r}"
    try:
        spec = as_noise_spec(value)
    except ValueError as error:
        raise ValueError(f"{where}: {error}") from None
    if spec.kind not in _KINDS:
        raise ValueError(f"{where}: kind must be one of {list(_KINDS)}, got {spec.kind!r}")
    if not isinstance(spec.scale, float):
        raise ValueError(f"{where}: scale must be one number, got {show(spec.scale)}")
    if spec.clip == "space":
        raise ValueError(f"{where}: clip must be [low, high] (a parameter has no space)")
    unsupported = {
        "relative_to": spec.relative_to,
        "phases": spec.phases,
        "resample": spec.resample,
        "where": spec.where or None,
        "adaptive": spec.adaptive,
        "envelope": spec.envelope,
    }
    for field, field_value in unsupported.items():
        if field_value is not None:
            raise ValueError(
                f"{where}: {field} has no meaning for a value drawn once per episode, "
                f"got {show(field_value)}"
            )
    return spec


def _plain_spec(value: NoiseSpecLike) -> Any:
    return value.to_dict() if isinstance(value, NoiseSpec) else value


class DomainRandomization(
    NoiseSwitch,
    gym.Wrapper[ObsType, ActType, ObsType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Draws dynamics parameters from noise specs at every reset (see the module docs).

    - Randomness: the wrapper owns its generator. ``reset(seed=s)`` reseeds it
      from ``derive_seed(s, "dynamics")`` (never the env's ``np_random``, so
      the env's own randomness is untouched); ``reset()`` continues the stream
      (OS entropy the first time). Parameters are drawn in sorted name order,
      one unit draw each per reset, whatever the schedule says.
    - The values are set before the env resets, and reported in the reset's
      ``info["dynamics"]`` and in the ``info`` of the episode's last step
      (``terminated or truncated``), where SB3 callbacks see them
      (:class:`rlnoise.callbacks.DynamicsLogCallback` logs them).
    - :attr:`noise_enabled` False sets the nominal values and draws nothing:
      the env is then the unwrapped env, step for step.

    Example:
        >>> env = DomainRandomization(gym.make("CartPole-v1"),
        ...                           {"length": "uniform:0.5,mode=multiplicative"})
        >>> _, info = env.reset(seed=0)
        >>> 0.25 <= info["dynamics"]["length"] <= 0.75
        True
        >>> info["dynamics"] == DomainRandomization(
        ...     gym.make("CartPole-v1"), {"length": "uniform:0.5,mode=multiplicative"}
        ... ).reset(seed=0)[1]["dynamics"]
        True

    Args:
        env: The env (any wrapper chain; the attributes live on ``env.unwrapped``).
        parameters: Attribute name -> spec (a :class:`~rlnoise.NoiseSpec`, a
            compact string or a dict).

    Raises:
        ValueError: No parameters, an attribute the env does not have or that
            is not a number, or a spec :func:`check_randomization_spec` refuses.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], parameters: Mapping[str, NoiseSpecLike]):
        if not isinstance(parameters, Mapping) or not parameters:
            raise ValueError(
                f"parameters must map attribute names to noise specs, got {show(parameters)}"
            )
        gym.utils.RecordConstructorArgs.__init__(
            self, parameters={str(k): _plain_spec(v) for k, v in parameters.items()}
        )
        gym.Wrapper.__init__(self, env)
        self.specs = {
            str(name): check_randomization_spec(str(name), spec)
            for name, spec in sorted(parameters.items())
        }
        inner = env.unwrapped
        nominal: dict[str, float] = {}
        for name in self.specs:
            value = getattr(inner, name, None)
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValueError(
                    f"parameters: env {type(inner).__name__} has no numeric attribute {name!r} "
                    f"(got {show(value)})"
                )
            nominal[name] = float(value)
        self.nominal = nominal
        self._names = list(self.specs)
        self._scales = np.array([s.scale for s in self.specs.values()])
        self._schedules = [s.schedule for s in self.specs.values()]
        self.scheduled = any(not s.is_constant for s in self._schedules)
        self._rng: np.random.Generator | None = None
        self.values: dict[str, float] = dict(nominal)
        self._init_noise_switch()

    # -- drawing -----------------------------------------------------------------------
    def current_scales(self) -> np.ndarray:
        """The effective scale of each parameter at the current step (sorted names)."""
        if not self.scheduled:
            return self._scales
        return self._scales * np.array([s(self._steps) for s in self._schedules])

    def sample(self) -> dict[str, float]:
        """Draw new values (one unit draw per parameter from the wrapper's generator)."""
        if self._rng is None:
            self._rng = make_rng(None)
        units = [float(unit_numpy(spec.kind, self._rng, ())) for spec in self.specs.values()]
        values: dict[str, float] = {}
        for (name, spec), unit, scale in zip(
            self.specs.items(), units, self.current_scales(), strict=True
        ):
            noise = scale * unit
            nominal = self.nominal[name]
            value = nominal * (1.0 + noise) if spec.mode == "multiplicative" else nominal + noise
            if isinstance(spec.clip, tuple):
                value = min(max(value, spec.clip[0]), spec.clip[1])
            values[name] = float(value)
        return values

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Draw and set new parameters (nominal ones while off), then reset the env."""
        if seed is not None:
            self._rng = make_rng(derive_seed(seed, "dynamics"))
        self.values = self.sample() if self._noise_enabled else dict(self.nominal)
        apply_attributes(self.env, self.values)
        obs, info = self.env.reset(seed=seed, options=options)
        info[INFO_KEY] = dict(self.values)
        return obs, info

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Step the env; the episode's last step reports its parameters in ``info``."""
        obs, reward, terminated, truncated, info = self.env.step(action)
        if self._local_clock:
            self._steps += 1
        if terminated or truncated:
            info[INFO_KEY] = dict(self.values)
        return obs, reward, terminated, truncated, info

    # -- the clock ---------------------------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Drive the schedules from an outside clock (the own step count stops counting)."""
        self._local_clock = False
        self._steps = int(step)
        forward_noise_step(self.env, step)

    def noise_scales(self) -> dict[str, float]:
        """``dynamics/NAME``: each parameter's current scale (0 while off), with inner sources'."""
        scales = inner_noise_scales(self.env)
        current = self.current_scales() if self._noise_enabled else np.zeros(len(self._names))
        for name, scale in zip(self._names, current, strict=True):
            scales[f"{INFO_KEY}/{name}"] = float(scale)
        return scales
