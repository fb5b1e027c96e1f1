"""The on/off switch and the step clock that every rlnoise wrapper keeps.

A wrapper's noise can be switched off (it then draws nothing), and its
schedule reads the wrapper's own step count until ``set_noise_step`` hands it
to an outside clock (a shared training clock). The per-step code reads the
three attributes directly, so the hot path pays no extra call for them.
"""

from __future__ import annotations

from collections.abc import Sequence

from gymnasium import spaces

from rlnoise.wrappers._tree import SpaceNoise, SpecTree, trees_per_env

__all__ = ["BatchedObservationNoise", "NoiseSwitch"]


class NoiseSwitch:
    """``noise_enabled`` and the wrapper's own step clock (a mixin).

    Attributes:
        _noise_enabled: Whether the noise is on.
        _steps: Steps counted by the wrapper itself.
        _local_clock: True until :meth:`set_noise_step` (of the wrapper) sets the
            step from outside; the schedule then stops reading ``_steps``.
    """

    _noise_enabled: bool
    _steps: int
    _local_clock: bool

    def _init_noise_switch(self) -> None:
        """Noise on, no step counted, the wrapper's own clock in charge."""
        self._noise_enabled = True
        self._steps = 0
        self._local_clock = True
        self._noise_switched()

    @property
    def noise_enabled(self) -> bool:
        """Whether the wrapper perturbs (settable; while off no noise is drawn)."""
        return self._noise_enabled

    @noise_enabled.setter
    def noise_enabled(self, enabled: bool) -> None:
        self._noise_enabled = bool(enabled)
        self._noise_switched()

    def _noise_switched(self) -> None:
        """Called whenever :attr:`noise_enabled` is set, first by :meth:`_init_noise_switch`.

        A wrapper with a fast path re-checks it here.
        """


class BatchedObservationNoise(NoiseSwitch):
    """What the Gymnasium ``VectorEnv`` and SB3 ``VecEnv`` observation-noise wrappers share.

    Both noise a batch of observations with one :class:`SpaceNoise` over the
    single-env space, one row per sub-env, built from the same arguments.
    """

    noise: SpaceNoise

    def _init_batched_noise(
        self,
        single_space: spaces.Space,
        num_envs: int,
        spec: SpecTree,
        specs_per_env: Sequence[SpecTree] | None,
        scale_per_env: Sequence[float] | None,
    ) -> None:
        """Build :attr:`noise` (one row per sub-env) and start the switch and clock."""
        trees = trees_per_env(num_envs, spec, specs_per_env, scale_per_env)
        self.noise = SpaceNoise(
            single_space,
            trees,
            n_rows=num_envs,
            seed_key=("observation",),
            name="observation",
        )
        self._init_noise_switch()

    def set_noise_step(self, step: int) -> None:
        """Drive the schedule from an outside clock (the local step count stops counting)."""
        self._local_clock = False
        self.noise.set_step(step)

    def noise_scales(self) -> dict[str, float]:
        """Current mean effective scale per noisy leaf (0 while the noise is switched off)."""
        scales = self.noise.scales()
        return scales if self._noise_enabled else dict.fromkeys(scales, 0.0)
