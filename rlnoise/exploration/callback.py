"""``ExplorationNoiseCallback``: exploration noise from a spec for any SB3 algorithm's ``learn()``.

What it installs when ``learn()`` starts, by what the algorithm explores with:

- **SAC, TQC, CrossQ** (a tanh-Gaussian actor): the actor's ``action_dist``
  becomes :class:`~rlnoise.exploration.distributions.StreamSquashedDiagGaussian`,
  so the Gaussian's draw for the executed action comes from the streams;
- **PPO, A2C, TRPO** (a Gaussian policy): the policy's ``action_dist`` becomes
  :class:`~rlnoise.exploration.distributions.StreamDiagGaussian`;
- **TD3, DDPG** (a deterministic actor): the model's ``action_noise`` becomes a
  :class:`~rlnoise.exploration.action_noise.SpecActionNoise`.

The streams (one seeded generator per env) are built at the first ``learn()``
and kept by the callback, so a later ``learn(..., callback=same)`` continues
them. An env's row restarts when its episode ends (the callback reads SB3's
``dones``; for TD3/DDPG SB3 itself calls ``action_noise.reset``) and all rows
restart when a ``learn()`` starts, as SB3 resets its own action noise. The
schedule reads the model's ``num_timesteps``. When ``learn()`` ends, the
algorithm gets back what it had, so a saved model is a plain SB3 model
(loadable without rlnoise) and ``predict()`` outside ``learn()`` is SB3's.

Why a callback and not a policy keyword: only the training loop knows when
each env's episode ends (the policy never sees ``dones``), how many envs there
are and the model's seed; and it works with any policy class (``MlpPolicy``,
``CnnPolicy``, rlnoise's noisy policies) without a subclass of each.

PPO and A2C. The rollout stores ``log pi_old(a_t | s_t)`` of the executed
(unclipped) action ``a_t = mu + sigma * eps_t`` under the policy's own
Gaussian, and ``train()`` recomputes ``log pi_theta(a_t | s_t)`` of the same
action, so the ratio is exactly 1 before the first update. With ``eps_t``
i.i.d. N(0, 1) that is the on-policy ratio. With ``gaussian:1`` or
``colored:1`` each ``eps_t`` is still N(0, 1) *marginally*, but temporally
correlated noise makes ``eps_t`` predictable from ``eps_<t``, on which ``s_t``
depends: given ``s_t`` the action is not distributed as ``pi_old(. | s_t)``.
The stored ratio is then the ratio to the policy, not to the behaviour that
acted, and the clipped surrogate is a (biased) off-policy estimate — the
correlation changes which actions are tried, the update treats them as the
policy's. The lag-1 correlation of the draws is 0 for white noise, about
0.77 for pink and 0.996 for red noise (``length`` 999), so the bias grows
with the color. A spec whose marginal is not
N(0, 1) at all (another scale, ``ou``, ``uniform``, ``laplace``, a schedule)
makes even the marginal wrong; the callback warns then.

Example:
    >>> from stable_baselines3 import SAC
    >>> model = SAC("MlpPolicy", "MountainCarContinuous-v0", learning_starts=10, device="cpu",
    ...             seed=0)
    >>> pink = ExplorationNoiseCallback("colored:1,beta=1,length=999")
    >>> _ = model.learn(20, callback=pink)
    >>> pink.streams.n_envs, pink.streams.seed == derive_seed(0, "exploration-callback")
    (1, True)
    >>> type(model.actor.action_dist).__name__  # restored when learn() ends
    'SquashedDiagGaussianDistribution'
"""

from __future__ import annotations

import warnings
from typing import Any

import numpy as np
from gymnasium import spaces
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.distributions import (
    DiagGaussianDistribution,
    SquashedDiagGaussianDistribution,
    StateDependentNoiseDistribution,
)

from rlnoise.core.checks import check_int
from rlnoise.core.random import derive_seed, resolve_seed
from rlnoise.core.spec import NoiseSpecLike
from rlnoise.exploration.action_noise import SpecActionNoise, action_dim_of
from rlnoise.exploration.distributions import StreamDiagGaussian, StreamSquashedDiagGaussian
from rlnoise.exploration.streams import ExplorationStreams, check_exploration_spec

__all__ = ["ExplorationNoiseCallback"]


def _is_unit_gaussian(streams: ExplorationStreams) -> bool:
    """Whether each draw is N(0, 1) marginally (white or colored Gaussian, scale 1)."""
    spec = streams.spec
    return (
        spec.kind in ("gaussian", "colored")
        and spec.scale == 1.0
        and spec.schedule.is_constant
        and spec.schedule(0) == 1.0
    )


class ExplorationNoiseCallback(BaseCallback):
    """Explore with noise from a spec during ``learn()`` (SAC, PPO/A2C, TD3/DDPG and kin).

    Args:
        spec: The noise (spec, dict or compact string). For SAC and PPO/A2C it is
            the Gaussian's standard-normal draw, so ``scale`` 1 keeps the policy's
            own spread: ``"gaussian:1"`` is SB3's sampling with an owned generator,
            ``"colored:1,beta=1,length=1000"`` pink noise (pink-noise-rl's
            ``PinkNoiseDist`` with ``seq_len`` 1000), ``beta=2`` red. For
            TD3/DDPG it is added to the action in [-1, 1] units, as SB3's
            ``NormalActionNoise(sigma)``: ``"colored:0.3"``.
        seed: Base seed of the per-env generators; ``None`` derives one from the
            model's ``seed`` (``derive_seed(seed, "exploration-callback")``), or
            takes OS entropy if the model has none.
        verbose: SB3 verbosity.

    Raises:
        ValueError: A spec that cannot be exploration noise; at the start of
            ``learn()``, an algorithm without a Gaussian policy or action noise
            (discrete actions, gSDE), or TD3/DDPG that already has an ``action_noise``.
    """

    def __init__(self, spec: NoiseSpecLike, seed: int | None = None, verbose: int = 0):
        super().__init__(verbose)
        self.spec = check_exploration_spec(spec)
        self.seed = None if seed is None else check_int("seed", seed)
        self.streams: ExplorationStreams | None = None
        self._installed: tuple[Any, str, Any] | None = None  # (owner, attribute, previous)
        self._resets_on_done = False

    # -- set-up ---------------------------------------------------------------------------------
    def _streams_for(self, action_dim: int, n_envs: int) -> ExplorationStreams:
        streams = self.streams
        if streams is None or (streams.action_dim, streams.n_envs) != (action_dim, n_envs):
            seed = self.seed
            if seed is None:
                model_seed = getattr(self.model, "seed", None)
                seed = resolve_seed(
                    None if model_seed is None else derive_seed(model_seed, "exploration-callback")
                )
            streams = ExplorationStreams(self.spec, action_dim, n_envs, seed)
            self.streams = streams
        else:
            streams.reset()  # a new learn(): SB3 resets its own action noise likewise
        return streams

    def _install(self) -> None:
        model = self.model
        policy = model.policy
        n_envs = int(model.n_envs)
        if not isinstance(model.action_space, spaces.Box):
            raise ValueError(
                f"exploration noise is for continuous (Box) actions, got {type(model).__name__} "
                f"with {model.action_space}"
            )
        actor = getattr(policy, "actor", None)
        if actor is not None and hasattr(actor, "action_dist"):
            owner, current = actor, actor.action_dist  # SAC, TQC, CrossQ
        elif hasattr(policy, "action_dist"):
            owner, current = policy, policy.action_dist  # PPO, A2C, TRPO
        elif hasattr(model, "action_noise"):
            self._install_action_noise(n_envs)  # TD3, DDPG
            return
        else:
            raise ValueError(
                f"{type(model).__name__} has neither a Gaussian policy nor action_noise to "
                "explore with"
            )
        if isinstance(current, StreamDiagGaussian | StreamSquashedDiagGaussian):
            current = self._restore_target(current)
        action_dim = action_dim_of(model.action_space)
        streams = self._streams_for(action_dim, n_envs)
        replacement: Any
        if isinstance(current, SquashedDiagGaussianDistribution):
            replacement = StreamSquashedDiagGaussian(current.action_dim, streams, current.epsilon)
        elif isinstance(current, DiagGaussianDistribution):
            replacement = StreamDiagGaussian(current.action_dim, streams)
            if not _is_unit_gaussian(streams):
                warnings.warn(
                    f"{type(model).__name__} stores the policy Gaussian's log-probabilities: with "
                    f"{str(self.spec)!r} the executed actions are not drawn from that Gaussian, so "
                    "the importance ratios are relative to the policy, not to the behaviour "
                    "(use 'gaussian:1' or 'colored:1,...' to keep the marginal N(0, 1))",
                    UserWarning,
                    stacklevel=2,
                )
        elif isinstance(current, StateDependentNoiseDistribution):
            raise ValueError(
                "use_sde=True: gSDE is the policy's exploration noise already; train with "
                "use_sde=False to explore with a noise spec"
            )
        else:
            raise ValueError(
                f"exploration noise needs a Gaussian policy (continuous Box actions), got "
                f"{type(model).__name__} with {type(current).__name__}"
            )
        owner.action_dist = replacement
        self._installed = (owner, "action_dist", current)
        self._resets_on_done = True

    def _restore_target(self, current: Any) -> Any:
        """A learn() that raised left our distribution installed: find what it replaced."""
        if self._installed is not None and getattr(*self._installed[:2]) is current:
            return self._installed[2]
        raise ValueError(
            "the policy already explores with another ExplorationNoiseCallback's noise (a "
            "learn() that did not finish?); rebuild the model or reuse that callback"
        )

    def _install_action_noise(self, n_envs: int) -> None:
        model = self.model
        current = model.action_noise
        if current is not None and not (
            isinstance(current, SpecActionNoise)
            and self.streams is not None
            and current.streams is self.streams
        ):
            raise ValueError(
                f"{type(model).__name__} already has action_noise={current!r}; give the "
                "exploration noise either as action_noise or through ExplorationNoiseCallback"
            )
        streams = self._streams_for(action_dim_of(model.action_space), n_envs)
        model.action_noise = SpecActionNoise.from_streams(streams)
        self._installed = (model, "action_noise", None)
        self._resets_on_done = False  # SB3 calls action_noise.reset(indices) itself

    def _uninstall(self) -> None:
        if self._installed is not None:
            owner, attribute, previous = self._installed
            setattr(owner, attribute, previous)
            self._installed = None

    # -- SB3 events -----------------------------------------------------------------------------
    def _on_training_start(self) -> None:
        self._install()
        assert self.streams is not None
        self.streams.set_noise_step(self.num_timesteps)

    def _on_step(self) -> bool:
        streams = self.streams
        if streams is None:
            return True
        if self._resets_on_done:
            dones = self.locals.get("dones")
            if dones is not None and np.any(dones):
                streams.reset(np.flatnonzero(dones))
        streams.set_noise_step(self.num_timesteps)
        return True

    def _on_rollout_end(self) -> None:
        if self.streams is not None:
            self.logger.record(
                "noise/exploration_scale", self.streams.noise_scales()["exploration"]
            )

    def _on_training_end(self) -> None:
        self._uninstall()

    def __repr__(self) -> str:
        return f"ExplorationNoiseCallback({str(self.spec)!r}, seed={self.seed})"
