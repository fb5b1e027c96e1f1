"""Which phase a noisy policy's noise is in, from the calls SB3 makes.

SB3 calls ``set_training_mode(True)`` only inside ``train()`` and ``False``
both for rollouts and ``predict``, so ``module.training`` cannot tell acting
from evaluation. The policy tracks the phase itself, in its
:class:`~rlnoise.nn.NoiseControl`:

- ``train`` in training mode (entering it is the ``train`` event; the noise
  scales go to SB3's logger then);
- ``rollout`` while acting for the algorithm's own rollout collection —
  PPO/A2C: ``forward`` and ``predict_values`` outside training
  (:mod:`rlnoise.policies.actor_critic`); DQN/SAC/TD3: ``predict`` on the
  algorithm's current observation. The first acting call after training is
  the ``rollout`` event; each is a ``step``, and an ``episode`` when one began
  (the binder reads that from the algorithm);
- ``eval`` for every other ``predict``/``_predict``, and after any
  ``set_training_mode(False)`` that is not part of an acting call (so an
  evaluator that puts the policy in eval mode and calls its networks directly
  sees ``eval``). Leaving ``rollout`` this way ends the rollout.

``policy.noise_phase`` tells the phase; pin one with
:func:`rlnoise.nn.noise_phase`, switch everything off with
:func:`rlnoise.nn.noise_disabled`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

import torch

from rlnoise.nn.control import NoiseControl
from rlnoise.policies.binder import AlgorithmBinding

__all__ = ["NoisePhasesMixin"]


class NoisePhasesMixin:
    """Follows SB3's calls into the noise control's phase (put before SB3's policy in the bases)."""

    _on_policy: ClassVar[bool] = False
    noise_control: NoiseControl
    _binding: AlgorithmBinding

    if TYPE_CHECKING:

        def noise_logs(self) -> dict[str, float]: ...

    def set_training_mode(self, mode: bool) -> None:
        super().set_training_mode(mode)  # type: ignore[misc]
        control = self.__dict__.get("noise_control")
        if control is None:  # still being built
            return
        if not mode and control.acting and not self._binding.acting_call:
            # Eval mode outside an acting call (a rollout starting, an evaluator taking
            # over): acting ends here, so direct calls of the networks see "eval".
            control.acting = False
        elif control.training is bool(mode):
            return
        control.set_training(mode)
        if mode:
            self._binding.log(self.noise_logs)

    def predict(self, observation: Any, *args: Any, **kwargs: Any) -> Any:
        # Off-policy algorithms act through predict() on their own current observation.
        binding = self._binding
        acting = not self._on_policy and binding.off_policy_step(self.noise_control, observation)
        binding.acting_call = acting
        try:
            return super().predict(observation, *args, **kwargs)  # type: ignore[misc]
        finally:
            binding.acting_call = False

    def _predict(self, observation: Any, deterministic: bool = False) -> torch.Tensor:
        control = self.noise_control
        if control.acting and not self._binding.acting_call:
            control.set_acting(False)
        return super()._predict(observation, deterministic)  # type: ignore[misc]

    @property
    def noise_phase(self) -> str:
        """The phase the policy's noise follows now: ``rollout``, ``train`` or ``eval``."""
        return self.noise_control.phase
