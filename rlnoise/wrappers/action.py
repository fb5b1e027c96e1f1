"""Action perturbation: noise on continuous actions, random replacement of discrete ones.

- :class:`ActionNoise` perturbs Box actions with a :class:`~rlnoise.NoiseSpec`
  and clips them to the action space.
- :class:`RandomActionReplacement` replaces the agent's Discrete,
  MultiDiscrete or MultiBinary action by a uniformly random one with
  probability ``p``.
- Sticky actions (the previous action repeats with probability ``p``) are
  Gymnasium's own ``gymnasium.wrappers.StickyAction(env, repeat_action_probability=p)``;
  rlnoise does not duplicate it (the evaluation runs that very class per episode,
  :class:`~rlnoise.wrappers.engines.StickyRepeats`).

The agent's chosen action is what SB3 stores in its buffers; these wrappers
change only what the env executes, which is the point: a model of actuator
noise or of an unreliable controller.
"""

from __future__ import annotations

from typing import Any, SupportsFloat

import gymnasium as gym
from gymnasium import spaces
from gymnasium.core import ActType, ObsType

from rlnoise.core.checks import check_probability, show
from rlnoise.core.schedules import Schedule, schedule_from_dict
from rlnoise.core.spec import NoiseSpecLike, as_noise_spec
from rlnoise.wrappers._chain import forward_noise_step, inner_noise_scales
from rlnoise.wrappers._switch import NoiseSwitch
from rlnoise.wrappers.engines import BoxActionNoise, RandomReplacement

__all__ = ["ActionNoise", "RandomActionReplacement"]


class ActionNoise(
    NoiseSwitch,
    gym.ActionWrapper[ObsType, ActType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """Adds noise from a spec to every Box action, then clips it to the action space.

    Seeding, episodes, the schedule clock and the on/off switch behave as in
    :class:`rlnoise.wrappers.ObservationNoise`: the wrapper owns a generator
    seeded from ``derive_seed(seed, "action")`` at ``reset(seed=...)``, never the
    env's; ``ou`` and ``colored`` noise restart with each episode (Ornstein-Uhlenbeck
    action noise as in DDPG, but applied by the env instead of the algorithm).

    Example:
        >>> import gymnasium as gym
        >>> import numpy as np
        >>> env = ActionNoise(gym.make("Pendulum-v1"), "ou:0.5,theta=0.15,dt=0.05")
        >>> _ = env.reset(seed=0)
        >>> noisy = env.action(np.array([1.99], np.float32))
        >>> bool(-2.0 <= noisy[0] <= 2.0), noisy.dtype  # clipped to the space's [-2, 2]
        (True, dtype('float32'))

    Args:
        env: An env with a Box action space.
        spec: The noise (spec, dict or compact string).

    Raises:
        ValueError: A non-Box action space (use :class:`RandomActionReplacement`),
            a per-dimension scale that does not match the action shape, or spec
            fields an env wrapper cannot honour.
    """

    def __init__(self, env: gym.Env[ObsType, ActType], spec: NoiseSpecLike):
        space = env.action_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"action: ActionNoise needs a Box action space, got {space}; for Discrete or "
                "MultiDiscrete actions use RandomActionReplacement"
            )
        try:
            parsed = as_noise_spec(spec)
        except ValueError as error:
            raise ValueError(f"action: {error}") from None
        self.engine = BoxActionNoise(space, [parsed], n_rows=None, seed_key=("action",))
        self.noise = self.engine.noise
        gym.utils.RecordConstructorArgs.__init__(self, spec=parsed.to_dict())
        gym.ActionWrapper.__init__(self, env)
        self._init_noise_switch()

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env; a seed reseeds the noise, otherwise the stream continues."""
        if seed is not None:
            self.noise.reseed([seed])
        else:
            self.noise.restart()
        return self.env.reset(seed=seed, options=options)

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Perturb the action (if enabled) and step the env with it."""
        self._steps += 1
        if self._local_clock and self.noise.scheduled:
            self.noise.set_step(self._steps)
        if self._noise_enabled:
            action = self.action(action)
        return self.env.step(action)

    def action(self, action: ActType) -> ActType:
        """The noisy action, clipped to the action space (draws one noise step)."""
        return self.engine.apply(action)  # type: ignore[return-value]

    def set_noise_step(self, step: int) -> None:
        """Drive the schedule from an outside clock (forwarded to inner noise sources)."""
        self._local_clock = False
        self.noise.set_step(step)
        forward_noise_step(self.env, step)

    def noise_scales(self) -> dict[str, float]:
        """Current effective scale (0 while off), with inner sources' scales."""
        scales = inner_noise_scales(self.env)
        scales["action"] = self.noise.scales() if self._noise_enabled else 0.0
        return scales


class RandomActionReplacement(
    NoiseSwitch,
    gym.ActionWrapper[ObsType, ActType, ActType],
    gym.utils.RecordConstructorArgs,
):
    """With probability ``p`` the env executes a uniformly random action instead of the agent's.

    For Discrete, MultiDiscrete and MultiBinary action spaces (Box actions:
    :class:`ActionNoise`). The replacement is an epsilon-greedy-like
    perturbation applied by the environment, e.g. to evaluate robustness to an
    unreliable controller. Draws come from the wrapper's own generator
    (``derive_seed(seed, "random_action")`` at ``reset(seed=...)``), in blocks,
    through :class:`~rlnoise.wrappers.engines.RandomReplacement` (the engine the
    robustness evaluation's ``random_action`` uses too).

    Example:
        >>> import gymnasium as gym
        >>> env = RandomActionReplacement(gym.make("CartPole-v1"), probability=1.0)
        >>> _ = env.reset(seed=0)
        >>> sorted({int(env.action(0)) for _ in range(50)})
        [0, 1]

    Args:
        env: An env with a Discrete, MultiDiscrete or MultiBinary action space.
        probability: Chance in [0, 1] that an action is replaced.
        schedule: Optional multiplier of ``probability`` over steps (a schedule
            name, dict or :class:`~rlnoise.core.schedules.Schedule`); the
            product is clipped to [0, 1].
        per_dimension: For MultiDiscrete / MultiBinary: replace each component
            independently instead of the whole action.

    Raises:
        ValueError: A probability outside [0, 1], an unsupported action space,
            or ``per_dimension`` with a Discrete space.
    """

    def __init__(
        self,
        env: gym.Env[ObsType, ActType],
        probability: float = 0.1,
        *,
        schedule: Any = None,
        per_dimension: bool = False,
    ):
        space = env.action_space
        if not isinstance(space, spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary):
            raise ValueError(
                f"action: RandomActionReplacement needs a Discrete, MultiDiscrete or MultiBinary "
                f"action space, got {space}; for Box actions use ActionNoise"
            )
        if not isinstance(per_dimension, bool):
            raise ValueError(f"per_dimension must be true or false, got {show(per_dimension)}")
        if per_dimension and isinstance(space, spaces.Discrete):
            raise ValueError(
                f"per_dimension=True needs a multi-component action space, got {space}"
            )
        self.probability = check_probability("probability", probability)
        self.schedule: Schedule = schedule_from_dict(schedule)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            probability=self.probability,
            schedule=self.schedule.to_dict(),
            per_dimension=per_dimension,
        )
        gym.ActionWrapper.__init__(self, env)
        self.per_dimension = per_dimension
        self.engine = RandomReplacement(space, n_rows=None, per_dimension=per_dimension)
        self._init_noise_switch()
        self.t = 0

    @property
    def current_probability(self) -> float:
        """The replacement probability at the current step."""
        if self.schedule.is_constant:
            return min(1.0, self.probability * self.schedule(0))
        return min(1.0, self.probability * self.schedule(self.t))

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[ObsType, dict[str, Any]]:
        """Reset the env; a seed reseeds the replacement draws, otherwise they continue."""
        if seed is not None:
            self.engine.reseed([seed])
        return self.env.reset(seed=seed, options=options)

    def step(self, action: ActType) -> tuple[ObsType, SupportsFloat, bool, bool, dict[str, Any]]:
        """Maybe replace the action (if enabled) and step the env with it."""
        self._steps += 1
        if self._local_clock:
            self.t = self._steps
        if self._noise_enabled:
            action = self.action(action)
        return self.env.step(action)

    def action(self, action: ActType) -> ActType:
        """The agent's action, or with probability ``p`` a random one (draws one step)."""
        return self.engine.apply(action, probability=self.current_probability)  # type: ignore[return-value]

    def set_noise_step(self, step: int) -> None:
        """Drive the schedule from an outside clock (forwarded to inner noise sources)."""
        self._local_clock = False
        self.t = int(step)
        forward_noise_step(self.env, step)

    def noise_scales(self) -> dict[str, float]:
        """Current replacement probability (0 while off), with inner sources' scales."""
        scales = inner_noise_scales(self.env)
        scales["random_action"] = self.current_probability if self._noise_enabled else 0.0
        return scales
