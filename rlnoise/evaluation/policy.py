"""What the batched runner needs from an SB3 policy.

:class:`PolicyAdapter` wraps a trained policy (and the ``VecNormalize``
statistics saved with it) and offers:

- :meth:`~PolicyAdapter.actions`: deterministic actions for a batch, computed
  exactly as ``model.predict(obs, deterministic=True)`` computes them (the
  mode of the policy's distribution from its scores, :mod:`rlnoise.evaluation.scores`,
  then the same clipping / unscaling);
- :meth:`~PolicyAdapter.scores`: the differentiable pre-distribution output
  (logits, Q-values or action means) that attacks differentiate;
- :meth:`~PolicyAdapter.actions_with_weights`: actions for rows that each carry
  their own copy of the action-path weights (test-time weight noise), in one
  vmapped call (:func:`rlnoise.nn.row_weights.call_with_rows`);
- ``VecNormalize``'s observation normalisation in numpy and in torch
  (:mod:`rlnoise.evaluation.normalization`).

Dict observations (``MultiInputPolicy``) of Box subspaces travel as flat rows
(:class:`~rlnoise.evaluation.observations.DictLayout`), unflattened into the
policy's ``{key: tensor}`` input inside the forward pass.

Supported for attacks and weight noise: ``ActorCriticPolicy`` (PPO, A2C,
TRPO), ``DQNPolicy``, ``SACPolicy`` (and TQC's), ``TD3Policy`` (TD3, DDPG).
Other feed-forward SB3 policies (QR-DQN, ARS, CrossQ) run the other conditions.
"""

from __future__ import annotations

import fnmatch
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.evaluation.normalization import BoxNormalizer, DictNormalizer, make_normalizer
from rlnoise.evaluation.observations import DictLayout
from rlnoise.evaluation.scores import (
    ACTION_PATH,
    DictScores,
    Scores,
    actions_from_scores,
    categorical_mode_numpy,
    policy_family,
)
from rlnoise.nn.row_weights import call_with_rows
from rlnoise.policies.binder import predict_tensor

__all__ = ["PolicyAdapter"]


class PolicyAdapter:
    """Batched, exact-as-predict access to one SB3 policy.

    Args:
        policy: The model's policy (``model.policy``), already on its device.
        vec_normalize: ``VecNormalize`` whose observation statistics the policy
            was trained with, or ``None``.

    Raises:
        ValueError: Recurrent or action-masked policies (they need state or
            masks that a robustness grid does not supply), or an observation
            space other than Box, Discrete or a Dict of Box subspaces.

    Attributes:
        layout: Flat-row layout of a Dict observation space, else ``None``.
        input_space: The space of the rows the runner holds: the observation
            space, or for Dict observations the flat Box of ``layout``.
    """

    def __init__(self, policy: Any, vec_normalize: Any = None):
        self.policy = policy
        self.family = policy_family(policy)
        if self.family == "unsupported":
            raise ValueError(
                f"policy class {type(policy).__name__} is recurrent or action-masked; "
                "evaluate_robustness supports feed-forward SB3 policies"
            )
        self.observation_space = policy.observation_space
        self.action_space = policy.action_space
        self.layout: DictLayout | None = None
        if isinstance(self.observation_space, spaces.Dict):
            self.layout = DictLayout(self.observation_space)
        elif not isinstance(self.observation_space, spaces.Box | spaces.Discrete):
            raise ValueError(
                f"observation space {self.observation_space} is not supported "
                "(Box, Discrete or a Dict of Box observations only)"
            )
        self.input_space: Any = self.observation_space if self.layout is None else self.layout.space
        policy.set_training_mode(False)
        self.device = policy.device
        from stable_baselines3.common.preprocessing import is_image_space

        self._image = is_image_space(self.observation_space)
        self._obs_shape: tuple[int, ...] = tuple(self.input_space.shape or ())
        self.discrete = isinstance(
            self.action_space, spaces.Discrete | spaces.MultiDiscrete | spaces.MultiBinary
        )
        self._scores: Scores | None = None
        if self.family is not None:
            self._scores = (
                Scores(policy, self.family)
                if self.layout is None
                else DictScores(policy, self.family, self.layout)
            )
        from stable_baselines3.common.distributions import CategoricalDistribution

        self._categorical = self.family == "actor_critic" and isinstance(
            getattr(policy, "action_dist", None), CategoricalDistribution
        )
        self.normalizer: BoxNormalizer | DictNormalizer | None = make_normalizer(
            vec_normalize, self.layout, self._obs_shape, self.observation_space, self.device
        )

    # -- normalisation -------------------------------------------------------------
    @property
    def normalizes(self) -> bool:
        """True when VecNormalize observation statistics are applied."""
        return self.normalizer is not None

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """``VecNormalize.normalize_obs`` (float64 arithmetic, float32 result); identity without."""
        return obs if self.normalizer is None else self.normalizer.normalize(obs)

    def normalize_torch(self, obs: torch.Tensor) -> torch.Tensor:
        """Differentiable twin of :meth:`normalize` (bit-identical values)."""
        return obs if self.normalizer is None else self.normalizer.normalize_torch(obs)

    def bounds(self, space: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Finite-or-infinite box an observation in ``space`` lives in (``None``: unbounded)."""
        if space == "normalized" and self.normalizer is not None:
            return self.normalizer.bounds()
        if isinstance(self.input_space, spaces.Box):
            return self.input_space.low, self.input_space.high
        return None

    # -- acting ------------------------------------------------------------------
    def to_tensor(self, obs: np.ndarray) -> torch.Tensor:
        """A batch of observations as the policy's input tensor (one transfer).

        What ``policy.obs_to_tensor`` does for a batch, with the device looked
        up once instead of per call (images keep SB3's own path: it transposes).
        """
        if self._image:
            tensor, _ = self.policy.obs_to_tensor(obs)
            return tensor
        return torch.as_tensor(obs.reshape((-1, *self._obs_shape)), device=self.device)

    @torch.inference_mode()
    def act(self, obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions, as ``policy.predict`` computes them before post-processing.

        For the supported families this runs the same operations as
        ``policy._predict(obs, deterministic=True)`` without building
        ``torch.distributions`` objects (identical values, less overhead).
        """
        if self._scores is None:
            policy_input = obs if self.layout is None else self.layout.unflatten(obs)
            return predict_tensor(self.policy, policy_input)
        return self.actions_from_scores(self._scores(obs))

    @torch.inference_mode()
    def actions(self, obs: torch.Tensor) -> np.ndarray:
        """``postprocess(act(obs))``: numpy actions exactly as ``policy.predict`` returns them."""
        if self._categorical:
            assert self._scores is not None
            return categorical_mode_numpy(self._scores(obs))
        return self.postprocess(self.act(obs))

    @torch.inference_mode()
    def actions_with_weights(
        self, weights: dict[str, torch.Tensor], obs: torch.Tensor
    ) -> np.ndarray:
        """Numpy actions; row ``i`` uses ``weights[name][i]`` (see :meth:`act_with_weights`)."""
        if self._categorical:
            return categorical_mode_numpy(self._vmapped_scores(weights, obs))
        return self.postprocess(self.act_with_weights(weights, obs))

    def postprocess(self, actions: torch.Tensor) -> np.ndarray:
        """Numpy actions exactly as ``policy.predict`` returns them for a batch."""
        out = actions.cpu().numpy().reshape((-1, *self.action_space.shape))
        if isinstance(self.action_space, spaces.Box):
            if self.policy.squash_output:
                out = self.policy.unscale_action(out)
            else:
                out = np.clip(out, self.action_space.low, self.action_space.high)
        return out

    # -- differentiable paths ----------------------------------------------------
    def _require_family(self, what: str) -> Scores:
        if self._scores is None:
            raise ValueError(
                f"{what} needs a policy of a supported family (ActorCriticPolicy, DQNPolicy, "
                f"SACPolicy, TD3Policy); got {type(self.policy).__name__}"
            )
        return self._scores

    def scores(self, obs: torch.Tensor) -> torch.Tensor:
        """Logits (discrete actor-critic), Q-values (DQN) or action means (continuous)."""
        return self._require_family("this condition")(obs)

    def actions_from_scores(self, scores: torch.Tensor) -> torch.Tensor:
        """Deterministic actions from :meth:`scores`, as the policy's distribution's mode."""
        return actions_from_scores(self.policy, self.family, scores)

    def check_gradient(self) -> None:
        """Raise ``ValueError`` unless the scores have a gradient w.r.t. the observation."""
        scores_module = self._require_family("an observation attack")
        space = self.input_space
        if not isinstance(space, spaces.Box):
            raise ValueError(
                f"an observation attack needs a Box observation space, got {self.observation_space}"
            )
        probe = np.clip(np.zeros(space.shape), space.low, space.high).astype(np.float32)
        x = torch.as_tensor(probe[None], device=self.device).requires_grad_(True)
        with torch.enable_grad():
            out = scores_module(x)
            grad = None
            if out.requires_grad:
                (grad,) = torch.autograd.grad(out.sum(), x, allow_unused=True)
        if grad is None:
            raise ValueError(
                f"policy {type(self.policy).__name__} gives no gradient of its action scores "
                "with respect to the observation, so it cannot be attacked with FGSM/PGD"
            )

    # -- per-row weights ---------------------------------------------------------
    def action_parameters(self, where: tuple[str, ...] = ()) -> dict[str, torch.Tensor]:
        """Parameters on the action path (``named_parameters`` names), filtered by globs.

        Raises:
            ValueError: Unsupported family, or globs that match no action-path parameter.
        """
        self._require_family("weight noise")
        assert self.family is not None
        prefixes = ACTION_PATH[self.family]
        named = {name: p for name, p in self.policy.named_parameters() if name.startswith(prefixes)}
        if where:
            named = {
                n: p for n, p in named.items() if any(fnmatch.fnmatchcase(n, g) for g in where)
            }
            if not named:
                available = [n for n, _ in self.policy.named_parameters() if n.startswith(prefixes)]
                raise ValueError(
                    f"weight noise 'where' {list(where)} matches no action-path parameter; "
                    f"they are {available}"
                )
        return {n: p.detach() for n, p in named.items()}

    @torch.no_grad()
    def act_with_weights(self, weights: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        """Deterministic actions where row ``i`` uses ``weights[name][i]`` (one vmapped call)."""
        return self.actions_from_scores(self._vmapped_scores(weights, obs))

    def _vmapped_scores(self, weights: dict[str, torch.Tensor], obs: torch.Tensor) -> torch.Tensor:
        module = self._require_family("weight noise")
        return call_with_rows(module, weights, obs, prefix="policy.")
