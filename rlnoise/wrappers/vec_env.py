"""``VecObservationNoise``: observation noise for Stable-Baselines3 ``VecEnv`` s, batched.

Where it sits decides the space the noise lives in:

- ``VecNormalize(VecObservationNoise(venv, ...))``: noise in the env's raw
  units; VecNormalize's running statistics see the noisy observations.
- ``VecObservationNoise(VecNormalize(venv), ...)``: noise in normalised units
  (a scale of 0.1 is a tenth of each dimension's running std); the statistics
  stay clean.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from stable_baselines3.common.vec_env import VecEnv, VecEnvWrapper
from stable_baselines3.common.vec_env.base_vec_env import VecEnvObs, VecEnvStepReturn

from rlnoise.wrappers._sb3 import pending_reset_seeds
from rlnoise.wrappers._switch import BatchedObservationNoise
from rlnoise.wrappers._tree import SpecTree

__all__ = ["VecObservationNoise"]


class VecObservationNoise(BatchedObservationNoise, VecEnvWrapper):
    """Adds noise to the observations of an SB3 ``VecEnv``, one batched draw per step.

    Row ``i`` has its own generator derived from sub-env ``i``'s seed (set with
    ``venv.seed(s)`` or ``make_vec_env(..., seed=s)``: row ``i`` gets ``s + i``),
    so its noise matches a single :class:`rlnoise.wrappers.ObservationNoise`
    reset with that seed and does not depend on the rest of the batch. Without
    seeds the rows take OS entropy on the first reset and continue afterwards.

    SB3 resets a finished sub-env inside ``step`` and reports the last
    observation as ``infos[i]["terminal_observation"]``. That observation gets
    noise too — the draw its episode would have seen next — because SB3 uses
    it to bootstrap the value of a truncated episode, which must be computed
    from what the agent would have observed, not from the clean state. The
    reset observation returned in the batch starts the new episode's noise.

    Works before or after ``VecNormalize`` (see the module docs for what each
    order means). Several noise levels fit in one batch: ``scale_per_env`` or
    ``specs_per_env`` (``None`` entries stay clean).

    Example:
        >>> from stable_baselines3.common.env_util import make_vec_env
        >>> venv = make_vec_env("CartPole-v1", n_envs=2, seed=0)
        >>> venv = VecObservationNoise(venv, "gaussian:0.1")
        >>> obs = venv.reset()
        >>> obs.shape, venv.observation_space.high.tolist()
        ((2, 4), [inf, inf, inf, inf])
        >>> venv.noise_enabled = False  # the same VecEnv, clean

    Args:
        venv: The SB3 VecEnv to wrap.
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
        venv: VecEnv,
        spec: SpecTree = None,
        *,
        specs_per_env: Sequence[SpecTree] | None = None,
        scale_per_env: Sequence[float] | None = None,
    ):
        self._init_batched_noise(
            venv.observation_space, venv.num_envs, spec, specs_per_env, scale_per_env
        )
        VecEnvWrapper.__init__(self, venv, observation_space=self.noise.output_space)

    def reset(self) -> VecEnvObs:
        """Reset all sub-envs; seeds given to ``seed()`` reseed their rows' noise."""
        seeds = pending_reset_seeds(self.venv)
        obs = self.venv.reset()
        seeded = [row for row, seed in enumerate(seeds) if seed is not None]
        if seeded:
            self.noise.reseed([seeds[row] for row in seeded], seeded)
        if len(seeded) < self.num_envs:
            unseeded = [row for row, seed in enumerate(seeds) if seed is None]
            self.noise.restart(None if not seeded else unseeded)
        return self.noise.apply(obs) if self._noise_enabled else obs

    def step_wait(self) -> VecEnvStepReturn:
        """Step, add noise to the batch and to the terminal observations in ``infos``."""
        obs, rewards, dones, infos = self.venv.step_wait()
        self._steps += self.num_envs
        noise = self.noise
        if noise.scheduled and self._local_clock:
            noise.set_step(self._steps)
        ended_rows = dones.nonzero()[0]  # cheaper than dones.any() on a small batch
        if ended_rows.size:
            rows = ended_rows.tolist()
            if self._noise_enabled:
                self._noise_terminal(infos, rows)
            if noise.restarts:
                noise.restart(rows)
        if self._noise_enabled:
            draw = noise.draw
            obs = obs + draw() if draw is not None else noise.apply(obs)
        return obs, rewards, dones, infos

    def _noise_terminal(self, infos: Any, rows: list[int]) -> None:
        noise = self.noise
        if noise.final_draw is not None:  # constant white noise: one draw, one add per row
            extra = noise.final_draw()
            for row in rows:
                info = infos[row]
                if "terminal_observation" in info:
                    info["terminal_observation"] = info["terminal_observation"] + extra[row]
            return
        ended = [row for row in rows if "terminal_observation" in infos[row]]
        if ended:
            finals = noise.final([infos[row]["terminal_observation"] for row in ended], ended)
            for row, final in zip(ended, finals, strict=True):
                infos[row]["terminal_observation"] = final
