"""One training clock for every noise schedule: ``NoiseScheduleCallback``.

Without it each noise source counts its own steps: an observation wrapper its
sub-environment's steps, a policy its forward passes or updates, the gradient
noise its optimizer steps, so one schedule written in a config means different
things at different injection points. With it, every source found in the
training set-up (see :mod:`rlnoise.callbacks.sources`) reads the model's
``num_timesteps``, and each source's current scale is logged.

Cost and exactness: sources in this process (the policy, VecEnv wrappers, the
wrappers of a ``DummyVecEnv``, callbacks) are plain method calls and are set at
every step (``every=1``) and always before an update starts (rollout end), so
what the policy and the gradient noise use in ``train()`` is exact. Sources in
``SubprocVecEnv`` workers cost one pipe round trip per sync (about 57 us for two
CartPole workers, a sixth of a step), so they are set every ``remote_every``
steps (default 100, i.e. a lag of at most ``100 * n_envs - 1`` environment steps)
and at the start and end of ``learn()``. Logged values are always what the
sources hold at the moment of logging: each source's own ``noise_scales()``,
read after the sync (a worker's only when it was synced since the last read).

Example:
    >>> import gymnasium as gym
    >>> from stable_baselines3 import PPO
    >>> from rlnoise.callbacks import GradientNoiseCallback
    >>> class Decaying(gym.Wrapper):  # any object with the two methods is a source
    ...     t = 0
    ...     def set_noise_step(self, step): self.t = step
    ...     def noise_scales(self): return {"obs": 0.1 * 0.99**self.t}
    >>> model = PPO("MlpPolicy", Decaying(gym.make("CartPole-v1")), n_steps=64,
    ...             batch_size=32, n_epochs=1, device="cpu", seed=0)
    >>> clock = NoiseScheduleCallback()
    >>> _ = model.learn(128, callback=[clock, GradientNoiseCallback(eta=0.3)])
    >>> {key: round(value, 4) for key, value in clock.current_scales().items()}
    {'noise/env/obs': 0.0276}
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from stable_baselines3.common.callbacks import BaseCallback

from rlnoise.callbacks.sources import NoiseSources, find_noise_sources, live_training_sources
from rlnoise.core.checks import check_int

__all__ = ["NoiseScheduleCallback"]


class NoiseScheduleCallback(BaseCallback):
    """Set every noise source's schedule step to the model's ``num_timesteps``; log their scales.

    Args:
        every: Steps (``on_step`` calls) between syncs of the sources in this process.
        remote_every: Steps between syncs of sources in worker processes
            (``SubprocVecEnv``); 1 makes them exact at a round trip per step.
        extra_sources: More :class:`~rlnoise.core.clock.NoiseSource` objects,
            or VecEnvs to search (e.g. an evaluation env that should follow
            the training schedule).
        log: Record each source's scales as ``noise/<where>/<name>`` at every
            rollout end (``where``: ``env``, ``vec_env``, ``policy``, ``policy/<module>``
            or the model attribute; values of the same name are averaged over
            sub-environments).
        verbose: SB3 verbosity; 1 prints the sources found when training starts.

    Raises:
        ValueError: ``every``/``remote_every`` below 1, or an extra source that
            is neither a VecEnv nor a noise source.
    """

    def __init__(
        self,
        *,
        every: int = 1,
        remote_every: int = 100,
        extra_sources: Iterable[Any] = (),
        log: bool = True,
        verbose: int = 0,
    ):
        super().__init__(verbose)
        self.every = check_int("every", every, low=1)
        self.remote_every = check_int("remote_every", remote_every, low=1)
        self.extra_sources = list(extra_sources)
        self.log = bool(log)
        self.sources = NoiseSources()
        self._callbacks: list[Any] = []
        self._remote_scales: list[tuple[str, dict[str, float]]] | None = None

    # -- SB3 events --------------------------------------------------------------------
    def _on_training_start(self) -> None:
        self.sources = find_noise_sources(self.model, self.extra_sources)
        # Callbacks register themselves in their own _on_training_start, which may come
        # after this one: hold the live list, not a snapshot.
        self._callbacks = live_training_sources(self.model)
        if self.verbose >= 1:
            names = [prefix for prefix, _ in self.sources.local]
            print(f"NoiseScheduleCallback: {names} + {len(self.sources.remote)} worker VecEnv(s)")
        self._sync_local()
        self._sync_remote()

    def _on_step(self) -> bool:
        calls = self.n_calls
        if calls % self.every == 0:
            self._sync_local()
        if calls % self.remote_every == 0:
            self._sync_remote()
        return True

    def _on_rollout_end(self) -> None:
        self._sync_local()  # the update that follows reads the exact step
        if self.log:
            for key, value in self.current_scales().items():
                self.logger.record(key, value)

    def _on_training_end(self) -> None:
        self._sync_local()
        self._sync_remote()

    # -- syncing -----------------------------------------------------------------------
    def _sync_local(self) -> None:
        step = self.num_timesteps
        for _, source in self.sources.local:
            source.set_noise_step(step)
        for source in self._callbacks:
            source.set_noise_step(step)

    def _sync_remote(self) -> None:
        if not self.sources.remote:
            return
        step = self.num_timesteps
        for _, venv in self.sources.remote:
            venv.env_method("set_noise_step", step)
        self._remote_scales = None  # read again at the next log

    def current_scales(self) -> dict[str, float]:
        """Each source's current scales as ``{"noise/<where>/<name>": value}``.

        Callbacks that are sources log their own keys and are not repeated here.
        """
        collected: dict[str, list[float]] = {}
        for prefix, source in self.sources.local:
            for name, value in source.noise_scales().items():
                collected.setdefault(f"noise/{prefix}/{name}", []).append(float(value))
        if self.sources.remote:
            if self._remote_scales is None:
                self._remote_scales = [
                    (prefix, scales)
                    for prefix, venv in self.sources.remote
                    for scales in venv.env_method("noise_scales")
                ]
            for prefix, scales in self._remote_scales:
                for name, value in scales.items():
                    collected.setdefault(f"noise/{prefix}/{name}", []).append(float(value))
        return {key: sum(values) / len(values) for key, values in collected.items()}
