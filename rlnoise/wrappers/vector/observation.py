"""``ObservationNoise`` for Gymnasium vector envs: one batched draw per step for all sub-envs."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper
from gymnasium.vector.utils import batch_space

from rlnoise.wrappers._switch import BatchedObservationNoise
from rlnoise.wrappers._tree import SpecTree, plain_tree

__all__ = ["ObservationNoise"]


class ObservationNoise(BatchedObservationNoise, VectorWrapper, gym.utils.RecordConstructorArgs):
    """Adds noise to the observations of every sub-env of a Gymnasium ``VectorEnv``.

    The batch is noised with one draw per step. Row ``i`` has its own
    generator, derived from sub-env ``i``'s reset seed exactly as the
    single-env :class:`rlnoise.wrappers.ObservationNoise` derives it, so a row's
    noise does not depend on what else is in the batch, and
    ``reset(seed=s)`` gives row ``i`` the noise a single wrapped env reset with
    ``seed=s + i`` would see.

    All three autoreset modes work. With ``NextStep`` (Gymnasium's default)
    the last observation of an episode is an ordinary observation and gets its
    noise like any other; with ``SameStep`` the last observation reported in
    ``infos["final_obs"]`` gets noise too — the draw its episode would have
    seen next, so bootstrapping from it sees what the agent would have seen —
    and the reset observation starts the new episode's noise. With
    ``Disabled``, a partial reset (``options={"reset_mask": ...}``) restarts the
    masked rows and re-observes the others with a new draw.

    Several noise levels fit in one batch (``scale_per_env``) and so do
    different specs (``specs_per_env``; ``None`` entries stay clean).

    Example:
        >>> import gymnasium as gym
        >>> envs = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
        >>> envs = ObservationNoise(envs, "gaussian:0.1", scale_per_env=[0.0, 0.1, 1.0])
        >>> obs, _ = envs.reset(seed=0)
        >>> clean_envs = gym.make_vec("CartPole-v1", num_envs=3, vectorization_mode="sync")
        >>> clean, _ = clean_envs.reset(seed=0)
        >>> bool(np.array_equal(obs[0], clean[0])), bool(np.all(obs[1:] != clean[1:]))
        (True, True)

    Args:
        env: The vector env.
        spec: One spec (tree) for every sub-env; see
            :class:`rlnoise.wrappers.ObservationNoise`.
        specs_per_env: Instead of ``spec``: one spec (tree) per sub-env.
        scale_per_env: Optional scale per sub-env, replacing the spec's scale.

    Raises:
        ValueError: As the single-env wrapper, plus lists whose length is not
            ``num_envs``.
    """

    def __init__(
        self,
        env: VectorEnv,
        spec: SpecTree = None,
        *,
        specs_per_env: Sequence[SpecTree] | None = None,
        scale_per_env: Sequence[float] | None = None,
    ):
        self._init_batched_noise(
            env.single_observation_space, env.num_envs, spec, specs_per_env, scale_per_env
        )
        gym.utils.RecordConstructorArgs.__init__(
            self,
            spec=plain_tree(spec),
            specs_per_env=plain_tree(specs_per_env),
            scale_per_env=None if scale_per_env is None else list(scale_per_env),
        )
        VectorWrapper.__init__(self, env)
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        self.autoreset_mode = mode if isinstance(mode, AutoresetMode) else AutoresetMode(mode)
        self.single_observation_space = self.noise.output_space
        self.observation_space = batch_space(self.noise.output_space, self.num_envs)
        self._autoreset = np.zeros(self.num_envs, dtype=bool)
        self._n = self.num_envs  # a property that walks the wrapper chain; read every step
        # Episode ends matter to stateful/held noise, and to final observations (SameStep).
        self._track_episodes = self.noise.restarts or self.autoreset_mode is AutoresetMode.SAME_STEP

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (all or the masked) sub-envs; seeds reseed their rows' noise."""
        mask = None if options is None else options.get("reset_mask")
        obs, infos = self.env.reset(seed=seed, options=options)  # type: ignore[arg-type]
        rows = list(range(self.num_envs)) if mask is None else np.flatnonzero(mask).tolist()
        if seed is None:
            seeds: list[int | None] = [None] * self.num_envs
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(self.num_envs)]
        else:
            seeds = list(seed)
        seeded = [(row, seeds[row]) for row in rows if seeds[row] is not None]
        if seeded:
            self.noise.reseed([s for _, s in seeded], [r for r, _ in seeded])
        unseeded = [row for row in rows if seeds[row] is None]
        if unseeded:
            self.noise.restart(None if len(unseeded) == self.num_envs else unseeded)
        self._autoreset[rows] = False
        if self._noise_enabled:
            obs = self.noise.apply(obs)
        return obs, infos

    def step(self, actions: Any) -> tuple[Any, np.ndarray, np.ndarray, np.ndarray, dict[str, Any]]:
        """Step all sub-envs and add noise to the batch (and to final observations)."""
        obs, rewards, terminations, truncations, infos = self.env.step(actions)
        self._steps += self._n
        noise = self.noise
        if noise.scheduled and self._local_clock:
            noise.set_step(self._steps)
        if self._track_episodes:
            infos = self._episode_ends(terminations, truncations, infos)
        if self._noise_enabled:
            draw = noise.draw
            obs = obs + draw() if draw is not None else noise.apply(obs)
        return obs, rewards, terminations, truncations, infos

    def _episode_ends(
        self, terminations: np.ndarray, truncations: np.ndarray, infos: dict[str, Any]
    ) -> dict[str, Any]:
        mode = self.autoreset_mode
        if mode is AutoresetMode.NEXT_STEP:
            # The rows that ended last step return their reset observation now.
            restarted = self._autoreset.nonzero()[0]
            if restarted.size:
                self.noise.restart(restarted.tolist())
            self._autoreset = terminations | truncations
        elif mode is AutoresetMode.SAME_STEP and "_final_obs" in infos:
            rows = infos["_final_obs"].nonzero()[0].tolist()
            if rows:
                if self._noise_enabled:
                    infos = self._noise_final(infos, rows)
                self.noise.restart(rows)
        return infos

    def _noise_final(self, infos: dict[str, Any], rows: list[int]) -> dict[str, Any]:
        finals = infos["final_obs"]
        noisy = self.noise.final([finals[row] for row in rows], rows)
        replaced = finals.copy()
        for row, value in zip(rows, noisy, strict=True):
            replaced[row] = value
        infos = dict(infos)
        infos["final_obs"] = replaced
        return infos
