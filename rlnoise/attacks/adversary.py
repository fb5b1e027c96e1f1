"""The learned optimal adversary (Zhang et al., 2021): an SB3 PPO whose action is the perturbation.

:class:`AdversaryEnv` turns (env, fixed victim) into the adversary's MDP: it
observes the true state ``s``, its action ``a`` in ``[-1, 1]^d`` becomes the
observation ``clip(s + eps * a, low, high)`` the victim acts on (``eps`` a
scalar or one radius per dimension), and its reward is the victim's reward
negated. :func:`train_adversary` trains a PPO on it (SB3 defaults unless
overridden) and records the training curve; :func:`adversary_perturb` applies
a trained adversary to a batch of observations, deterministically, as the
paper's code does at test time (the mean action, clipped to [-1, 1]).

The same class is the adversary of alternating training
(:mod:`rlnoise.robust.atla`).

Example:
    >>> import gymnasium as gym
    >>> env = AdversaryEnv(gym.make("CartPole-v1"), victim=lambda obs: 0, eps=0.1)
    >>> env.action_space
    Box(-1.0, 1.0, (4,), float32)
    >>> obs, _ = env.reset(seed=0)
    >>> _, reward, *_ = env.step(env.action_space.sample())
    >>> reward
    -1.0
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.core.checks import check_int, show
from rlnoise.runs.files import write_text

__all__ = [
    "AdversaryConfig",
    "AdversaryEnv",
    "adversary_perturb",
    "adversary_vec_env",
    "check_radius",
    "radius_key",
    "train_adversary",
]

Victim = Callable[[np.ndarray], Any]


def check_radius(name: str, eps: Any, shape: tuple[int, ...]) -> np.ndarray:
    """``eps`` as a float32 array broadcast to ``shape`` (a scalar or one radius per dimension).

    Raises:
        ValueError: Negative, non-finite, or not broadcastable to ``shape``.
    """
    try:
        radius = np.asarray(eps, dtype=np.float64)
        radius = np.broadcast_to(radius, shape)
    except (TypeError, ValueError):
        raise ValueError(
            f"{name} must be a number or one per dimension of {shape}, got {show(eps)}"
        ) from None
    if not (np.isfinite(radius).all() and (radius >= 0).all()):
        raise ValueError(f"{name} must be finite and >= 0, got {show(eps)}")
    return radius.astype(np.float32)


class AdversaryEnv(gym.Env):
    """The adversary's MDP against a fixed victim: perturb what it sees, earn what it loses.

    Args:
        env: The victim's env (Box observations).
        victim: One observation -> the victim's action (what ``env.step`` takes).
        eps: l_inf radius: a float or one per observation dimension.

    Attributes:
        perturbed: The observation the victim saw at the last step.
    """

    def __init__(self, env: gym.Env, victim: Victim, eps: Any):
        space = env.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"AdversaryEnv needs a Box observation space, got {space}")
        self.env, self.victim = env, victim
        self.eps = check_radius("eps", eps, tuple(space.shape))
        self.observation_space = space
        self.action_space = gym.spaces.Box(-1.0, 1.0, shape=space.shape, dtype=np.float32)
        self._low, self._high = space.low, space.high
        self._obs: np.ndarray | None = None
        self.perturbed: np.ndarray | None = None

    def reset(
        self, *, seed: int | None = None, options: dict[str, Any] | None = None
    ) -> tuple[np.ndarray, dict[str, Any]]:
        super().reset(seed=seed)
        obs, info = self.env.reset(seed=seed, options=options)
        self._obs = np.asarray(obs)
        return self._obs, info

    def step(self, action: np.ndarray) -> tuple[np.ndarray, float, bool, bool, dict[str, Any]]:
        if self._obs is None:
            raise RuntimeError("AdversaryEnv.step called before reset")
        delta = self.eps * np.clip(np.asarray(action, dtype=np.float32), -1.0, 1.0)
        perturbed = np.clip(self._obs + delta, self._low, self._high).astype(self._obs.dtype)
        self.perturbed = perturbed
        obs, reward, terminated, truncated, info = self.env.step(self.victim(perturbed))
        self._obs = np.asarray(obs)
        return self._obs, -float(reward), bool(terminated), bool(truncated), info

    def close(self) -> None:
        self.env.close()


@dataclass(frozen=True)
class AdversaryConfig:
    """Budget and settings of one learned adversary.

    The default, 100k adversary steps with 8 envs and SB3's PPO defaults
    otherwise, costs 100k victim forward passes plus PPO's updates (README
    "Learned attacks" gives the measured steps/s beside plain PPO).

    Attributes:
        timesteps: Adversary (= victim) env steps.
        n_envs: Envs of the adversary's PPO.
        seed: PPO's seed (env ``i`` resets from ``seed + i``).
        ppo_kwargs: Extra PPO arguments (JSON-safe: they key the cache).
    """

    timesteps: int = 100_000
    n_envs: int = 8
    seed: int = 0
    ppo_kwargs: Mapping[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        check_int("adversary.timesteps", self.timesteps, low=1)
        check_int("adversary.n_envs", self.n_envs, low=1)
        check_int("adversary.seed", self.seed, low=0)
        if not isinstance(self.ppo_kwargs, Mapping):
            raise ValueError(f"adversary.ppo_kwargs must be a mapping, got {show(self.ppo_kwargs)}")

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields (part of the cache key of a learned adversary)."""
        return {
            "timesteps": self.timesteps,
            "n_envs": self.n_envs,
            "seed": self.seed,
            "ppo_kwargs": dict(self.ppo_kwargs),
        }


def adversary_vec_env(
    make_env: Callable[[], gym.Env], victim: Victim, eps: Any, n_envs: int, seed: int
) -> Any:
    """:class:`AdversaryEnv` for ``n_envs`` envs at once, with ONE batched victim call per step.

    The same MDP as ``n_envs`` :class:`AdversaryEnv` s (tested step for step),
    built on SB3's ``DummyVecEnv`` of the victim's envs, each in a ``Monitor``
    (so ``info["episode"]`` holds the *victim's* return and length).

    Args:
        make_env: A new victim env per call.
        victim: Observation batch ``(n_envs, *shape)`` -> action batch.
        eps: l_inf radius (a float or one per observation dimension).
        n_envs: Envs side by side.
        seed: Env ``i`` resets from ``seed + i``.
    """
    from stable_baselines3.common.env_util import make_vec_env

    venv = make_vec_env(make_env, n_envs=n_envs, seed=seed)
    return _AdversaryVecEnv(venv, victim, eps)


def _vec_wrapper_base() -> Any:
    # SB3 is imported when an adversary is built, not when the evaluation's registry
    # imports this module for its configs.
    from stable_baselines3.common.vec_env import VecEnvWrapper

    return VecEnvWrapper


class _AdversaryVecEnv(_vec_wrapper_base()):  # type: ignore[misc]
    def __init__(self, venv: Any, victim: Victim, eps: Any):
        space = venv.observation_space
        if not isinstance(space, gym.spaces.Box):
            raise ValueError(f"the adversary needs a Box observation space, got {space}")
        action_space = gym.spaces.Box(-1.0, 1.0, shape=space.shape, dtype=np.float32)
        super().__init__(venv, observation_space=space, action_space=action_space)
        self.victim = victim
        self.eps = check_radius("eps", eps, tuple(space.shape))
        self._obs: np.ndarray | None = None

    def reset(self) -> np.ndarray:
        self._obs = self.venv.reset()
        return self._obs

    def step_async(self, actions: np.ndarray) -> None:
        assert self._obs is not None, "reset before step"
        delta = self.eps * np.clip(np.asarray(actions, dtype=np.float32), -1.0, 1.0)
        space = self.observation_space
        perturbed = np.clip(self._obs + delta, space.low, space.high).astype(self._obs.dtype)
        self.venv.step_async(np.asarray(self.victim(perturbed)))

    def step_wait(self) -> Any:
        obs, rewards, dones, infos = self.venv.step_wait()
        self._obs = obs
        return obs, -rewards, dones, infos


class _Curve:
    """Per-episode (timesteps, adversary return, victim return, length) from Monitor infos."""

    def __init__(self) -> None:
        self.rows: list[tuple[int, float, float, int]] = []

    def callback(self) -> Any:
        from stable_baselines3.common.callbacks import BaseCallback

        rows = self.rows

        class Record(BaseCallback):
            def _on_step(self) -> bool:
                for info in self.locals.get("infos", []):
                    episode = info.get("episode")
                    if episode is not None:  # the victim's Monitor: its own return
                        ret = float(episode["r"])
                        rows.append((self.num_timesteps, -ret, ret, int(episode["l"])))
                return True

        return Record()

    def csv(self) -> str:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(["timesteps", "adversary_return", "victim_return", "length"])
        writer.writerows(self.rows)
        return buffer.getvalue()


def train_adversary(
    make_env: Callable[[], gym.Env],
    victim: Victim,
    eps: Any,
    config: AdversaryConfig | None = None,
    *,
    device: str | torch.device = "cpu",
    curve_path: str | Path | None = None,
    model: Any = None,
    callbacks: list[Any] | None = None,
) -> tuple[Any, list[tuple[int, float, float, int]]]:
    """Train (or continue training) a PPO adversary against a fixed victim.

    Args:
        make_env: A new victim env per call.
        victim: Observation batch -> the victim's action batch (one call per step
            for all ``config.n_envs`` envs, :func:`adversary_vec_env`).
        eps: l_inf radius (a float or one per observation dimension).
        config: Budget and PPO settings (default :class:`AdversaryConfig`).
        device: PPO's device.
        curve_path: Where to write the training curve (CSV, atomically):
            ``timesteps, adversary_return, victim_return, length`` per episode.
        model: A PPO to continue training (its env is replaced); ``None``: a new one.
        callbacks: More SB3 callbacks for ``learn``.

    Returns:
        The PPO adversary and its curve rows (SB3's own ``rollout/ep_rew_mean``
        logs the victim's return, from the victim's ``Monitor``).
    """
    from stable_baselines3 import PPO

    config = config or AdversaryConfig()
    vec_env = adversary_vec_env(make_env, victim, eps, config.n_envs, config.seed)
    if model is None:
        model = PPO(
            "MlpPolicy", vec_env, seed=config.seed, device=device, **dict(config.ppo_kwargs)
        )
    else:
        model.set_env(vec_env)
    curve = _Curve()
    model.learn(
        config.timesteps, callback=[curve.callback(), *(callbacks or [])],
        reset_num_timesteps=False,
    )  # fmt: skip
    vec_env.close()
    if curve_path is not None:
        write_text(curve_path, curve.csv())
    return model, curve.rows


def adversary_perturb(
    policy: Any,
    obs: torch.Tensor,
    eps: float | torch.Tensor,
    *,
    low: torch.Tensor | None = None,
    high: torch.Tensor | None = None,
) -> torch.Tensor:
    """A trained adversary's perturbed observations for a batch: ``clip(s + eps * a, low, high)``.

    Args:
        policy: The adversary's SB3 policy (``model.policy``).
        obs: True observations ``(n, *obs_shape)``, on the policy's device.
        eps: The radius it was trained with (float or per-dimension tensor).
        low: Lower bounds of observations (``None``: none).
        high: Upper bounds, as ``low``.

    Returns:
        Perturbed observations (its deterministic action, clipped to [-1, 1]).
    """
    with torch.no_grad():
        action = policy.get_distribution(obs).mode().clamp(-1.0, 1.0)
        x = obs + eps * action.reshape(obs.shape)
        if low is not None:
            x = torch.maximum(x, low)
        if high is not None:
            x = torch.minimum(x, high)
    return x.detach()


def radius_key(eps: Any) -> Any:
    """``eps`` in a JSON-safe form for cache keys (a float, or a list per dimension)."""
    array = np.asarray(eps, dtype=np.float64)
    return float(array) if array.ndim == 0 else array.tolist()
