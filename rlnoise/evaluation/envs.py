"""Making the evaluation environments, with or without changed dynamics.

The runner owns a plain list of Gymnasium environments (no vector env, so no
autoreset): each episode starts with an explicit ``reset(seed=...)`` and ends
when the env says so, which counts every episode exactly once.

Example:
    >>> maker = EnvMaker("CartPole-v1")
    >>> env = maker.make(DynamicsPerturbation(attributes={"length": 1.0}))
    >>> env.unwrapped.length, env.unwrapped.polemass_length
    (1.0, 0.1)
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import gymnasium as gym
import numpy as np

from rlnoise.core.checks import show
from rlnoise.evaluation.perturbations.dynamics import DynamicsPerturbation

if TYPE_CHECKING:
    from rlnoise.evaluation.conditions import Condition

__all__ = ["EnvMaker", "env_key"]


def env_key(condition: Condition) -> str:
    """Key of the env a condition needs (``""``: the unchanged env); equal keys share envs."""
    change = condition.env_change
    return json.dumps(change.to_dict(), sort_keys=True) if change is not None else ""


def _refresh_cartpole(env: Any) -> None:
    # CartPoleEnv computes these once in __init__ from the masses and the length.
    env.total_mass = env.masspole + env.masscart
    env.polemass_length = env.masspole * env.length


# Quantities an env derives from its attributes at construction time, by class name.
_DERIVED: dict[str, Callable[[Any], None]] = {"CartPoleEnv": _refresh_cartpole}


def _numeric_attributes(env: Any) -> list[str]:
    return sorted(
        name
        for name, value in vars(env).items()
        if not name.startswith("_")
        and isinstance(value, int | float)
        and not isinstance(value, bool)
    )


class EnvMaker:
    """Makes the env of a run: a registered id or a factory, plus dynamics changes.

    Args:
        env: A registered Gymnasium id (``"CartPole-v1"``) or a callable
            returning a new ``gym.Env``; ``make_kwargs`` of a dynamics change
            are passed to it as keyword arguments.
        make_kwargs: Keyword arguments used for every env (before the
            condition's own).

    Raises:
        ValueError: The id is not registered (Gymnasium's message included).
    """

    def __init__(
        self, env: str | Callable[..., gym.Env], make_kwargs: dict[str, Any] | None = None
    ):
        if isinstance(env, str):
            try:
                gym.spec(env)
            except gym.error.Error as error:
                raise ValueError(f"env id {env!r} is not registered: {error}") from None
        elif not callable(env):
            raise ValueError(f"env must be a registered id or a callable, got {show(env)}")
        self.env = env
        self.make_kwargs = dict(make_kwargs or {})
        # SB3 trains image policies on channel-first transposes of HWC images
        # (VecTransposeImage); evaluation then hands them transposed observations.
        self.channels_first = False

    @property
    def name(self) -> str:
        """The env id, or the factory's qualified name."""
        if isinstance(self.env, str):
            return self.env
        return getattr(self.env, "__qualname__", type(self.env).__name__)

    def describe(self) -> dict[str, Any]:
        """JSON-safe description (for reports and cache fingerprints)."""
        out: dict[str, Any] = {"id": self.name, "make_kwargs": self.make_kwargs}
        if self.channels_first:
            out["channels_first"] = True
        return out

    def make(self, dynamics: DynamicsPerturbation | None = None) -> gym.Env:
        """A new env with ``dynamics`` applied.

        Raises:
            ValueError: ``gym.make`` rejects the kwargs, or an attribute does
                not exist on the unwrapped env (its numeric attributes are listed).
        """
        kwargs = dict(self.make_kwargs)
        if dynamics is not None:
            kwargs.update(dynamics.make_kwargs_dict)
        try:
            if isinstance(self.env, str):
                # The passive checker only warns on an episode's first calls, and costs a
                # wrapper call on every step of every episode; evaluation runs without it.
                env = gym.make(self.env, **{"disable_env_checker": True, **kwargs})
            else:
                env = self.env(**kwargs)
        except TypeError as error:
            raise ValueError(f"cannot make env {self.name!r} with {kwargs}: {error}") from None
        if dynamics is not None and dynamics.attributes:
            self._apply_attributes(env, dynamics)
        return _to_channels_first(env) if self.channels_first else env

    def _apply_attributes(self, env: gym.Env, dynamics: DynamicsPerturbation) -> None:
        inner = env.unwrapped
        for name, value in dynamics.attributes:
            current = getattr(inner, name, None)
            if current is None or callable(current):
                env.close()
                raise ValueError(
                    f"env {self.name!r} ({type(inner).__name__}) has no attribute {name!r}; "
                    f"its numeric attributes are {_numeric_attributes(inner)}"
                )
            if isinstance(current, float | int) and not (
                isinstance(value, int | float) and math.isfinite(value)
            ):
                env.close()
                raise ValueError(
                    f"dynamics attribute {name!r} must be a finite number, got {value!r}"
                )
            setattr(inner, name, type(current)(value) if isinstance(current, float) else value)
        refresh = _DERIVED.get(type(inner).__name__)
        if refresh is not None:
            refresh(inner)


def channels_first_space(space: gym.Space) -> gym.Space | None:
    """The CHW transpose of an HWC image Box (SB3's image check), else ``None``.

    A Dict space with HWC image keys: the Dict with those keys transposed (as
    SB3's ``VecTransposeImage`` does), else ``None``.
    """
    from stable_baselines3.common.preprocessing import is_image_space, is_image_space_channels_first

    if isinstance(space, gym.spaces.Dict):
        keys = {key: channels_first_space(sub) for key, sub in space.spaces.items()}
        if all(sub is None for sub in keys.values()):
            return None
        return gym.spaces.Dict(
            {key: space.spaces[key] if sub is None else sub for key, sub in keys.items()}
        )
    if not isinstance(space, gym.spaces.Box) or not is_image_space(space):
        return None
    if is_image_space_channels_first(space):
        return None
    low = np.transpose(space.low, (2, 0, 1))
    high = np.transpose(space.high, (2, 0, 1))
    return gym.spaces.Box(low, high, dtype=space.dtype)


def _to_channels_first(env: gym.Env) -> gym.Env:
    space = channels_first_space(env.observation_space)
    if space is None:
        raise ValueError(f"env observation space {env.observation_space} is not an HWC image")
    if isinstance(space, gym.spaces.Dict):
        original: Any = env.observation_space
        images = {k for k, sub in space.spaces.items() if sub != original.spaces[k]}

        def transpose(obs: Any) -> Any:
            return {k: np.transpose(v, (2, 0, 1)) if k in images else v for k, v in obs.items()}

        return gym.wrappers.TransformObservation(env, transpose, space)
    return gym.wrappers.TransformObservation(env, lambda obs: np.transpose(obs, (2, 0, 1)), space)
