"""What every noisy SB3 policy shares: one mixin over options, assembly, phases and binding.

A noisy policy is an SB3 policy plus a :class:`~rlnoise.nn.NoiseControl` and
the injectors its options ask for. :class:`NoisyPolicyMixin` puts together
the pieces, each in its own module:

- :mod:`rlnoise.policies.options` — the six noise keywords, validated before
  SB3 builds anything, and what ``model.save()`` stores of them;
- :mod:`rlnoise.policies.assembly` — the noise put into the networks SB3 built;
- :mod:`rlnoise.policies.phases` — ``rollout``, ``train`` or ``eval``, from
  the calls SB3 makes;
- :mod:`rlnoise.policies.binder` — the algorithm the policy serves, found
  when the algorithm builds it (``PPO(...)``, ``DQN.load(...)``), and what
  the noise reads from it: episodes, the step clock, SB3's logger (``noise/*``
  keys, recorded each time ``train()`` starts) and, for DQN, the exploration
  schedule. A policy built elsewhere works without it;
  :meth:`NoisyPolicyMixin.attach` binds one by hand.

Here: the construction step that ties them (:meth:`NoisyPolicyMixin._init_noise`)
and the :class:`~rlnoise.core.clock.NoiseSource` interface.
"""

from __future__ import annotations

from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm

from rlnoise.core.spec import NoiseSpecLike
from rlnoise.policies.assembly import NoiseAssemblyMixin
from rlnoise.policies.binder import AlgorithmBinding, check_algorithm
from rlnoise.policies.options import (
    DEFAULT,
    PARAM_NOISE_COMBINATIONS,
    CombinedExtractorByDefault,
    NatureCNNByDefault,
    NoiseOptions,
    PolicyDefault,
)
from rlnoise.policies.phases import NoisePhasesMixin

__all__ = [
    "DEFAULT",
    "PARAM_NOISE_COMBINATIONS",
    "CombinedExtractorByDefault",
    "NatureCNNByDefault",
    "NoisyPolicyMixin",
    "PolicyDefault",
]


class NoisyPolicyMixin(NoisePhasesMixin, NoiseAssemblyMixin):
    """Noise options and machinery shared by the noisy SB3 policies (put first in the bases)."""

    def _init_noise(
        self,
        *,
        weight_noise: NoiseSpecLike | None,
        activation_noise: NoiseSpecLike | None,
        noisy_net: Any,
        param_noise: NoiseSpecLike | None,
        layer_norm: bool | str | None,
        noise_seed: int | None,
    ) -> None:
        """Bind to the algorithm building this policy (if any) and validate the options.

        Called by each policy's ``__init__`` before SB3 builds anything.
        """
        binding = AlgorithmBinding.at_construction(self)
        algorithm = binding.algorithm
        if algorithm is not None:
            check_algorithm(type(self), algorithm, NoisyPolicyMixin)
        self._binding = binding
        self.noise_options = NoiseOptions.validate(
            weight_noise=weight_noise,
            activation_noise=activation_noise,
            noisy_net=noisy_net,
            param_noise=param_noise,
            layer_norm=layer_norm,
            noise_seed=noise_seed,
            seed_source=None if algorithm is None else algorithm.seed,
        )

    def _get_constructor_parameters(self) -> dict[str, Any]:
        """SB3's constructor keywords plus the noise options (what ``load`` rebuilds from)."""
        data: dict[str, Any] = super()._get_constructor_parameters()  # type: ignore[misc]
        data.update(self.noise_options.constructor_parameters())
        return data

    # -- algorithm ---------------------------------------------------------------
    def attach(self, algorithm: BaseAlgorithm) -> None:
        """Bind the algorithm this policy serves (done automatically inside SB3)."""
        self._binding.bind(algorithm)

    @property
    def bound_algorithm(self) -> BaseAlgorithm | None:
        """The algorithm this policy serves, or ``None`` (built elsewhere, or unpickled)."""
        return self._binding.algorithm

    # -- NoiseSource and logging -------------------------------------------------
    def set_noise_step(self, step: int) -> None:
        """Set the step count the noise schedules read (stops following ``num_timesteps``)."""
        self.noise_control.set_step(step)

    def noise_scales(self) -> dict[str, float]:
        """Current scale of each noise: weight/activation scales, param sigma, NoisyNet sigma."""
        return self.noise_control.scales()

    def noise_logs(self) -> dict[str, float]:
        """:meth:`noise_scales` plus parameter noise's measured distance and target."""
        out = self.noise_scales()
        param_noise = self.noise_injectors.get("param_noise")
        if param_noise is not None:
            out.update(param_noise.diagnostics())
        return out
