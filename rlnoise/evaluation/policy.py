"""What the batched runner needs from an SB3 policy.

:class:`PolicyAdapter` wraps a trained policy (and the ``VecNormalize``
statistics saved with it) and offers:

- :meth:`~PolicyAdapter.act`: deterministic actions for a batch, computed
  exactly as ``model.predict(obs, deterministic=True)`` computes them
  (``policy._predict`` then the same clipping / unscaling);
- :meth:`~PolicyAdapter.scores`: the differentiable pre-distribution output
  (logits, Q-values or action means) that attacks differentiate;
- :meth:`~PolicyAdapter.act_with_weights`: actions for rows that each carry
  their own copy of the action-path weights (test-time weight noise), in one
  ``torch.func.vmap`` call;
- ``VecNormalize``'s observation normalisation in numpy and in torch (the same
  float64 arithmetic, so both give identical float32 results).

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
import torch.nn.functional as F
from gymnasium import spaces
from torch import nn

from rlnoise.evaluation.observations import DictLayout, DictNormalizer
from rlnoise.policies.binder import predict_tensor

__all__ = ["PolicyAdapter"]

# Parameters that influence the action, by policy family (prefixes of named_parameters()).
_ACTION_PATH = {
    "actor_critic": (
        "features_extractor.",
        "pi_features_extractor.",
        "mlp_extractor.policy_net.",
        "action_net.",
    ),
    "q": ("q_net.",),
    "squashed_actor": ("actor.",),
    "deterministic_actor": ("actor.",),
}


def policy_family(policy: Any) -> str | None:
    """Which score function applies: ``actor_critic``, ``q``, ``squashed_actor``,
    ``deterministic_actor``, or ``None`` (only ``_predict`` is available)."""
    from stable_baselines3.common.policies import ActorCriticPolicy
    from stable_baselines3.dqn.policies import DQNPolicy
    from stable_baselines3.td3.policies import TD3Policy

    name = type(policy).__name__
    if "Recurrent" in name or "Maskable" in name:
        return "unsupported"
    if isinstance(policy, ActorCriticPolicy):
        return "actor_critic"
    if isinstance(policy, DQNPolicy):
        return "q"
    if isinstance(policy, TD3Policy):
        return "deterministic_actor"
    actor = getattr(policy, "actor", None)
    if actor is not None and hasattr(actor, "get_action_dist_params"):
        return "squashed_actor"
    return None


# Below this gap between the two largest logits (relative to their size) float rounding in
# softmax(logits - logsumexp(logits)) could tie or swap them; far above the ~1e-7 it can reach.
_TIE_GAP = 1e-4


def _categorical_mode(logits: torch.Tensor) -> torch.Tensor:
    """``Categorical(logits=logits).probs.argmax(dim=1)``, SB3's deterministic discrete action.

    ``argmax(probs)`` equals ``argmax(logits)`` unless the two largest logits are so
    close that rounding in the softmax makes their probabilities tie (then the
    first index wins). Rows with such a near-tie take the exact path (the same
    operations ``torch.distributions.Categorical`` performs); the others skip
    the softmax. Each row's result depends on that row alone.
    """
    fast = logits.argmax(dim=1)
    if logits.shape[1] < 2:
        return fast
    top = logits.topk(2, dim=1).values
    close = (top[:, 0] - top[:, 1]) <= _TIE_GAP * (1.0 + top[:, 0].abs())
    if bool(close.any()):
        rows = logits[close]
        normalized = rows - rows.logsumexp(dim=-1, keepdim=True)
        fast[close] = F.softmax(normalized, dim=-1).argmax(dim=1)
    return fast


def _categorical_mode_numpy(logits: torch.Tensor) -> np.ndarray:
    """:func:`_categorical_mode` with the cheap part in numpy (tiny arrays: less overhead)."""
    values = logits.detach().cpu().numpy()
    mode = values.argmax(axis=1)
    n_actions = values.shape[1]
    if n_actions < 2:
        return mode
    top = np.partition(values, n_actions - 2, axis=1)[:, n_actions - 2 :]  # [second, first]
    close = (top[:, 1] - top[:, 0]) <= _TIE_GAP * (1.0 + np.abs(top[:, 1]))
    if close.any():
        rows = np.flatnonzero(close)
        picked = logits[torch.as_tensor(rows, device=logits.device)]
        normalized = picked - picked.logsumexp(dim=-1, keepdim=True)
        mode[rows] = F.softmax(normalized, dim=-1).argmax(dim=1).cpu().numpy()
    return mode


class _Scores(nn.Module):
    """Differentiable pre-distribution output of a policy, as a module (for functional_call)."""

    def __init__(self, policy: Any, family: str):
        super().__init__()
        self.policy = policy
        self.family = family

    def forward(self, obs: torch.Tensor) -> torch.Tensor:
        policy = self.policy
        if self.family == "actor_critic":
            from stable_baselines3.common.policies import BaseModel

            features = BaseModel.extract_features(policy, obs, policy.pi_features_extractor)
            return policy.action_net(policy.mlp_extractor.forward_actor(features))
        if self.family == "q":
            return policy.q_net(obs)
        if self.family == "squashed_actor":
            mean_actions, _, _ = policy.actor.get_action_dist_params(obs)
            return mean_actions
        return policy.actor(obs)


class _DictScores(_Scores):
    """:class:`_Scores` of a Dict-observation policy, fed flat rows (see :class:`DictLayout`)."""

    def __init__(self, policy: Any, family: str, layout: DictLayout):
        super().__init__(policy, family)
        self.layout = layout

    def forward(self, obs: torch.Tensor) -> Any:
        return super().forward(self.layout.unflatten(obs))  # type: ignore[arg-type]


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
        self._scores: _Scores | None = None
        if self.family is not None:
            self._scores = (
                _Scores(policy, self.family)
                if self.layout is None
                else _DictScores(policy, self.family, self.layout)
            )
        from stable_baselines3.common.distributions import CategoricalDistribution

        self._categorical = self.family == "actor_critic" and isinstance(
            getattr(policy, "action_dist", None), CategoricalDistribution
        )
        self._norm: tuple[np.ndarray, np.ndarray, float, float] | None = None
        self._dict_norm: DictNormalizer | None = None
        if vec_normalize is not None and getattr(vec_normalize, "norm_obs", False):
            rms = vec_normalize.obs_rms
            if isinstance(rms, dict) != (self.layout is not None):
                raise ValueError(
                    f"VecNormalize statistics are for {'Dict' if isinstance(rms, dict) else 'Box'}"
                    f" observations, but the policy's observation space is "
                    f"{self.observation_space}: they were not made for this policy"
                )
            if self.layout is not None:
                self._dict_norm = DictNormalizer(self.layout, vec_normalize, self.device)
            else:
                self._init_box_norm(vec_normalize)

    def _init_box_norm(self, vec_normalize: Any) -> None:
        rms = vec_normalize.obs_rms
        mean = np.asarray(rms.mean, dtype=np.float64)
        var = np.asarray(rms.var, dtype=np.float64)
        if mean.shape != self._obs_shape or var.shape != self._obs_shape:
            raise ValueError(
                f"VecNormalize statistics have shape {mean.shape}, but the policy's "
                f"observations have shape {self._obs_shape}: they were not made for this policy"
            )
        self._norm = (mean, var, float(vec_normalize.epsilon), float(vec_normalize.clip_obs))
        self._norm_torch = (
            torch.as_tensor(mean, device=self.device),
            torch.sqrt(torch.as_tensor(var, device=self.device) + self._norm[2]),
        )

    # -- normalisation -------------------------------------------------------------
    @property
    def normalizes(self) -> bool:
        """True when VecNormalize observation statistics are applied."""
        return self._norm is not None or self._dict_norm is not None

    def normalize(self, obs: np.ndarray) -> np.ndarray:
        """``VecNormalize.normalize_obs`` (float64 arithmetic, float32 result); identity without."""
        if self._norm is None:
            return obs if self._dict_norm is None else self._dict_norm.normalize(obs)
        mean, var, eps, clip = self._norm
        return np.clip((obs - mean) / np.sqrt(var + eps), -clip, clip).astype(np.float32)

    def normalize_torch(self, obs: torch.Tensor) -> torch.Tensor:
        """Differentiable twin of :meth:`normalize` (bit-identical values)."""
        if self._norm is None:
            return obs if self._dict_norm is None else self._dict_norm.normalize_torch(obs)
        mean, std = self._norm_torch
        clip = self._norm[3]
        return ((obs.to(torch.float64) - mean) / std).clamp(-clip, clip).to(torch.float32)

    def bounds(self, space: str) -> tuple[np.ndarray, np.ndarray] | None:
        """Finite-or-infinite box an observation in ``space`` lives in (``None``: unbounded)."""
        if space == "normalized" and self._norm is not None:
            clip = self._norm[3]
            shape = self.observation_space.shape
            return np.full(shape, -clip, np.float32), np.full(shape, clip, np.float32)
        if space == "normalized" and self._dict_norm is not None:
            return self._dict_norm.bounds()
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
            return _categorical_mode_numpy(self._scores(obs))
        return self.postprocess(self.act(obs))

    @torch.inference_mode()
    def actions_with_weights(
        self, weights: dict[str, torch.Tensor], obs: torch.Tensor
    ) -> np.ndarray:
        """Numpy actions; row ``i`` uses ``weights[name][i]`` (see :meth:`act_with_weights`)."""
        if self._categorical:
            return _categorical_mode_numpy(self._vmapped_scores(weights, obs))
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
    def _require_family(self, what: str) -> _Scores:
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
        family = self.family
        if family == "q":
            return scores.argmax(dim=1).reshape(-1)
        if family == "squashed_actor":
            return torch.tanh(scores)
        if family == "deterministic_actor":
            return scores
        from stable_baselines3.common import distributions as d

        dist = self.policy.action_dist
        if isinstance(dist, d.CategoricalDistribution):
            return _categorical_mode(scores)
        if isinstance(dist, d.MultiCategoricalDistribution):
            parts = torch.split(scores, list(dist.action_dims), dim=1)
            return torch.stack([_categorical_mode(p) for p in parts], dim=1)
        if isinstance(dist, d.BernoulliDistribution):
            return torch.round(torch.sigmoid(scores))  # Bernoulli(logits=...).probs
        if isinstance(dist, d.SquashedDiagGaussianDistribution):
            return torch.tanh(scores)
        if isinstance(dist, d.StateDependentNoiseDistribution) and dist.bijector is not None:
            return dist.bijector.forward(scores)
        return scores

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
        prefixes = _ACTION_PATH[self.family]
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
        renamed = {f"policy.{name}": value for name, value in weights.items()}

        def one_row(row_weights: dict[str, torch.Tensor], row: torch.Tensor) -> torch.Tensor:
            # tie_weights=False: a shared features extractor is one module under several
            # names (PPO's CnnPolicy: features_extractor is pi_features_extractor); with
            # tying, functional_call restores it under one name and leaves the vmapped
            # tensors in the caller's policy. Swapping it once reaches every alias.
            out = torch.func.functional_call(
                module, row_weights, (row.unsqueeze(0),), tie_weights=False
            )
            return out.squeeze(0)

        return torch.func.vmap(one_row)(renamed, obs)
