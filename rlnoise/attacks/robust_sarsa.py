"""Robust Sarsa (RS) and RS+MAD: attack a fixed policy with a learned robust Q (Zhang et al. 2020).

Two steps:

1. **Learn** ``Q^pi(s, a)`` of the fixed policy ``pi`` from its own rollouts
   (:func:`collect_transitions`, :func:`train_robust_sarsa`): the Sarsa TD
   target uses the policy's own next action, ``r + gamma * Q'(s', pi(s'))``
   (zero after a termination, bootstrapped after a time-limit truncation), and
   the robustness regulariser of the paper's code (SA_PPO / SA_DDPG)
   ``reg * mean(max_{a_hat in B(a, reg_eps)} (Q(s, a_hat) - Q(s, a))^2)`` over an
   l_inf ball around the action input. The paper bounds that maximum with a
   convex relaxation (auto_LiRPA); here ``reg_steps`` of PGD estimate it from
   below (no extra dependency; a PGD estimate is what the attack itself uses).
   Behaviour: with probability ``explore`` a uniformly random action replaces
   the policy's (a deterministic policy alone never shows Q what the other
   actions are worth); the target still follows ``pi``, so Q stays ``Q^pi``.
2. **Attack** (:func:`robust_sarsa_attack`), as the paper's code does: PGD on
   ``x`` in the l_inf ball around the true state ``s`` lowering
   ``Q(s, pi(x))`` — the critic at the *true* state, of the action the policy
   takes on the *perturbed* one. RS+MAD (``mad_ratio = r`` in [0, 1]) lowers
   ``(1 - r) * Q(s, pi(x)) - r * MAD(x)``, where MAD is the policy's action
   change (KL(pi(s) || pi(x)) for discrete actions, the squared action
   difference for continuous ones).

Actions enter Q as a vector: one-hot for ``Discrete`` (the attack relaxes
``pi(x)`` to the policy's softmax, so it has a gradient), and for ``Box`` the
action scaled to [-1, 1] by the space's bounds (clipped, as the env clips).

Example:
    >>> import torch
    >>> q = SarsaQNetwork(obs_dim=2, action_dim=3, hidden=(8,))
    >>> q(torch.zeros(4, 2), torch.zeros(4, 3)).shape
    torch.Size([4])
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, NamedTuple

import gymnasium as gym
import numpy as np
import torch
from torch import nn

from rlnoise.attacks.linf import linf_pgd
from rlnoise.core.checks import check_float, check_int, check_probability
from rlnoise.core.random import make_rng
from rlnoise.runs.files import atomic_path

__all__ = [
    "RobustSarsaConfig",
    "SarsaQNetwork",
    "Transitions",
    "action_vector",
    "collect_transitions",
    "robust_sarsa_attack",
    "train_robust_sarsa",
]


@dataclass(frozen=True)
class RobustSarsaConfig:
    """The budget and settings of one Robust Sarsa critic.

    Defaults cost about 20k env steps of policy rollouts plus 3k minibatch
    updates (each ``1 + reg_steps`` forward/backward passes): seconds to a
    minute on one CPU core for an MLP agent (README "Learned attacks" has the
    measured steps/s).

    Attributes:
        rollout_steps: Transitions collected with the fixed policy.
        explore: Probability that a uniformly random action replaces the
            policy's in the rollouts (the target still follows the policy).
            High, because a robust agent fails rarely: at 0.2 a trained
            CartPole PPO met 4 terminations in 10k steps, at 0.5 86, and Q
            learns what an action is worth only from states that lead somewhere.
        n_envs: Envs stepped side by side in the rollouts (one batched policy call).
        updates: Minibatch gradient steps.
        batch_size: Transitions per minibatch.
        hidden: Hidden layer widths of Q.
        learning_rate: Adam step size.
        gamma: Discount.
        tau: Soft update rate of the target network, per update.
        reg: Weight of the robustness regulariser (0 turns it off: plain Sarsa).
        reg_eps: l_inf radius of the action ball of the regulariser.
        reg_steps: PGD steps estimating the regulariser's inner maximum.
        seed: Seeds the env resets, the exploration draws, Q's initialisation
            and the minibatches.
    """

    rollout_steps: int = 20_000
    explore: float = 0.5
    n_envs: int = 8
    updates: int = 3_000
    batch_size: int = 256
    hidden: tuple[int, ...] = (64, 64)
    learning_rate: float = 1e-3
    gamma: float = 0.99
    tau: float = 0.05
    reg: float = 0.1
    reg_eps: float = 0.05
    reg_steps: int = 3
    seed: int = 0

    def __post_init__(self) -> None:
        for name in ("rollout_steps", "n_envs", "updates", "batch_size"):
            check_int(f"robust_sarsa.{name}", getattr(self, name), low=1)
        check_int("robust_sarsa.reg_steps", self.reg_steps, low=0)
        check_int("robust_sarsa.seed", self.seed, low=0)
        check_probability("robust_sarsa.explore", self.explore)
        check_float("robust_sarsa.learning_rate", self.learning_rate, low=0.0, low_open=True)
        check_float("robust_sarsa.gamma", self.gamma, low=0.0, high=1.0)
        check_float("robust_sarsa.tau", self.tau, low=0.0, high=1.0, low_open=True)
        check_float("robust_sarsa.reg", self.reg, low=0.0)
        check_float("robust_sarsa.reg_eps", self.reg_eps, low=0.0)
        hidden = tuple(self.hidden)
        for width in hidden:
            check_int("robust_sarsa.hidden", width, low=1)
        object.__setattr__(self, "hidden", hidden)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe fields (part of the cache key of a learned critic)."""
        out = asdict(self)
        out["hidden"] = list(self.hidden)
        return out


class SarsaQNetwork(nn.Module):
    """``Q(s, a)``: an MLP on the flattened observation and the action vector.

    Args:
        obs_dim: Flattened observation size.
        action_dim: Size of the action vector (:func:`action_vector`).
        hidden: Hidden layer widths (ReLU).
    """

    def __init__(self, obs_dim: int, action_dim: int, hidden: Sequence[int] = (64, 64)):
        super().__init__()
        self.obs_dim, self.action_dim, self.hidden = obs_dim, action_dim, tuple(hidden)
        layers: list[nn.Module] = []
        width = obs_dim + action_dim
        for size in self.hidden:
            layers += [nn.Linear(width, size), nn.ReLU()]
            width = size
        layers.append(nn.Linear(width, 1))
        self.net = nn.Sequential(*layers)

    def forward(self, obs: torch.Tensor, action: torch.Tensor) -> torch.Tensor:
        """``(n, *obs_shape)``, ``(n, action_dim)`` -> ``(n,)``."""
        return self.net(torch.cat([obs.flatten(1), action], dim=1)).squeeze(1)

    def save(self, path: str | Path, metadata: dict[str, Any]) -> Path:
        """Weights, sizes and ``metadata`` in one file, written atomically."""
        sizes = {"obs_dim": self.obs_dim, "action_dim": self.action_dim, "hidden": self.hidden}
        with atomic_path(path) as temporary:
            torch.save({"state_dict": self.state_dict(), "sizes": sizes, **metadata}, temporary)
        return Path(path)

    @classmethod
    def load(cls, path: str | Path) -> tuple[SarsaQNetwork, dict[str, Any]]:
        """The network saved by :meth:`save` (on the CPU) and everything saved with it."""
        data = torch.load(path, map_location="cpu", weights_only=True)
        sizes = data.pop("sizes")
        net = cls(sizes["obs_dim"], sizes["action_dim"], sizes["hidden"])
        net.load_state_dict(data.pop("state_dict"))
        return net, data


def action_vector(space: gym.Space, actions: np.ndarray) -> np.ndarray:
    """Env actions ``(n, ...)`` -> Q's action input ``(n, d)`` (one-hot, or [-1, 1]-scaled).

    Example:
        >>> action_vector(gym.spaces.Discrete(3), np.array([2, 0])).tolist()
        [[0.0, 0.0, 1.0], [1.0, 0.0, 0.0]]
    """
    if isinstance(space, gym.spaces.Discrete):
        out = np.zeros((len(actions), int(space.n)), dtype=np.float32)
        out[np.arange(len(actions)), np.asarray(actions, dtype=np.int64) - int(space.start)] = 1.0
        return out
    if isinstance(space, gym.spaces.Box):
        flat = np.asarray(actions, dtype=np.float64).reshape(len(actions), -1)
        low, high = space.low.reshape(-1), space.high.reshape(-1)
        if not (np.isfinite(low).all() and np.isfinite(high).all()):
            return flat.astype(np.float32)
        return np.clip(2.0 * (flat - low) / (high - low) - 1.0, -1.0, 1.0).astype(np.float32)
    raise ValueError(f"Robust Sarsa supports Discrete and Box actions, got {space}")


class Transitions(NamedTuple):
    """Rollout data for Sarsa: ``(s, a, r, s', pi(s'), terminated)`` as arrays."""

    obs: np.ndarray
    actions: np.ndarray
    rewards: np.ndarray
    next_obs: np.ndarray
    next_actions: np.ndarray
    terminated: np.ndarray


def collect_transitions(
    make_env: Callable[[], gym.Env],
    policy: Callable[[np.ndarray], np.ndarray],
    *,
    steps: int,
    explore: float,
    n_envs: int = 8,
    seed: int = 0,
    observe: Callable[[np.ndarray], np.ndarray] | None = None,
) -> Transitions:
    """Roll out the fixed ``policy`` (with random exploration) and record Sarsa transitions.

    Args:
        make_env: A new env per call (``n_envs`` of them).
        policy: Observation batch (the policy's inputs) -> env actions, deterministic.
        steps: Transitions to record (rounded up to a multiple of ``n_envs``).
        explore: Probability of a uniformly random behaviour action.
        n_envs: Envs stepped side by side.
        seed: Env ``i``'s ``k``-th episode resets with ``seed + k * n_envs + i``;
            exploration draws from a generator seeded with ``seed``.
        observe: Raw env observation batch -> the policy's input (e.g. the
            model's ``VecNormalize`` normalisation); identity when ``None``.
            Q learns on the policy's inputs.

    Returns:
        The transitions, ``pi(s')`` computed on the recorded ``s'``.
    """
    rng = make_rng(seed)
    envs = [make_env() for _ in range(n_envs)]
    space = envs[0].action_space
    prepare = observe if observe is not None else (lambda x: x)
    episodes: list[int] = list(range(n_envs))
    obs = np.stack([env.reset(seed=seed + i)[0] for i, env in enumerate(envs)])
    record: dict[str, list[np.ndarray]] = {k: [] for k in Transitions._fields}
    inputs = prepare(obs)
    planned = policy(inputs)
    for _ in range(-(-steps // n_envs)):
        actions = np.array(planned, copy=True)
        for i in map(int, np.flatnonzero(rng.random(n_envs) < explore)):
            actions[i] = _uniform_action(space, rng)
        next_obs, rewards, terminated = np.empty_like(obs), np.zeros(n_envs), np.zeros(n_envs)
        done = np.zeros(n_envs, dtype=bool)
        for i, env in enumerate(envs):
            next_obs[i], rewards[i], term, trunc, _ = env.step(actions[i])
            terminated[i], done[i] = float(term), term or trunc
        next_inputs = prepare(next_obs)
        next_planned = policy(next_inputs)
        record["obs"].append(inputs)
        record["actions"].append(action_vector(space, actions))
        record["rewards"].append(rewards)
        record["next_obs"].append(next_inputs)
        record["next_actions"].append(action_vector(space, next_planned))
        record["terminated"].append(terminated)
        for i in map(int, np.flatnonzero(done)):
            episodes[i] += n_envs
            next_obs[i] = envs[i].reset(seed=seed + episodes[i])[0]
        if done.any():
            next_inputs = prepare(next_obs)
            next_planned = policy(next_inputs)
        obs, inputs, planned = next_obs, next_inputs, next_planned
    for env in envs:
        env.close()
    return Transitions(*(np.concatenate(record[k]).astype(np.float32) for k in Transitions._fields))


def _uniform_action(space: gym.Space, rng: np.random.Generator) -> Any:
    if isinstance(space, gym.spaces.Discrete):
        return int(space.start) + int(rng.integers(int(space.n)))
    if isinstance(space, gym.spaces.Box):
        low = np.where(np.isfinite(space.low), space.low, -1.0)
        high = np.where(np.isfinite(space.high), space.high, 1.0)
        return rng.uniform(low, high).astype(space.dtype)
    raise ValueError(f"Robust Sarsa supports Discrete and Box actions, got {space}")


def train_robust_sarsa(
    data: Transitions, config: RobustSarsaConfig, *, device: str | torch.device = "cpu"
) -> tuple[SarsaQNetwork, list[float]]:
    """Fit ``Q^pi`` to Sarsa targets with the robustness regulariser.

    Args:
        data: Transitions of the fixed policy (:func:`collect_transitions`).
        config: Network, optimiser and regulariser settings (``updates``...).
        device: Where to train.

    Returns:
        The critic (eval mode, on ``device``) and the TD loss of every update.
    """
    generator = torch.Generator().manual_seed(config.seed)
    with torch.random.fork_rng(devices=[]):  # initialise Q from our own seed, not the global RNG
        torch.manual_seed(config.seed)
        obs_dim = int(np.prod(data.obs.shape[1:]))
        q = SarsaQNetwork(obs_dim, data.actions.shape[1], config.hidden).to(device)
    target = SarsaQNetwork(obs_dim, data.actions.shape[1], config.hidden).to(device)
    target.load_state_dict(q.state_dict())
    tensors = [torch.as_tensor(array, device=device) for array in data]
    obs, actions, rewards, next_obs, next_actions, terminated = tensors
    optimizer = torch.optim.Adam(q.parameters(), lr=config.learning_rate)
    losses: list[float] = []
    n = len(obs)
    for _ in range(config.updates):
        index = torch.randint(n, (min(config.batch_size, n),), generator=generator).to(device)
        s, a = obs[index], actions[index]
        with torch.no_grad():
            bootstrap = target(next_obs[index], next_actions[index])
            y = rewards[index] + config.gamma * (1.0 - terminated[index]) * bootstrap
        value = q(s, a)
        td = (value - y).pow(2).mean()
        loss = td
        if config.reg > 0 and config.reg_eps > 0 and config.reg_steps > 0:
            anchor = value.detach()
            # Random start: the squared difference has zero gradient at a_hat = a.
            start = (2.0 * torch.rand(a.shape, generator=generator) - 1.0) * config.reg_eps
            a_hat = linf_pgd(
                _deviation(q, s, anchor),
                a,
                eps=config.reg_eps,
                steps=config.reg_steps,
                step_size=2.5 * config.reg_eps / config.reg_steps,
                start=start.to(device),
            )
            loss = td + config.reg * (q(s, a_hat) - value).pow(2).mean()
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        with torch.no_grad():
            for p, p_target in zip(q.parameters(), target.parameters(), strict=True):
                p_target.lerp_(p, config.tau)
        losses.append(float(td.detach()))
    q.eval()
    return q, losses


def _deviation(
    q: SarsaQNetwork, obs: torch.Tensor, anchor: torch.Tensor
) -> Callable[[torch.Tensor], torch.Tensor]:
    """The regulariser's inner objective over the action input: ``(Q(s, a_hat) - Q(s, a))^2``."""
    return lambda action: (q(obs, action) - anchor).pow(2)


def robust_sarsa_attack(
    q: Callable[[torch.Tensor, torch.Tensor], torch.Tensor],
    action_fn: Callable[[torch.Tensor], torch.Tensor],
    obs: torch.Tensor,
    *,
    eps: float | torch.Tensor,
    steps: int,
    step_size: float | torch.Tensor,
    mad_ratio: float = 0.0,
    mad_fn: Callable[[torch.Tensor, torch.Tensor], torch.Tensor] | None = None,
    state: torch.Tensor | None = None,
    start: torch.Tensor | None = None,
    low: torch.Tensor | None = None,
    high: torch.Tensor | None = None,
    fixed: torch.Tensor | None = None,
) -> torch.Tensor:
    """PGD lowering ``Q(s, pi(x))`` (RS), plus ``mad_ratio`` of the action change (RS+MAD).

    Args:
        q: The learned critic ``(obs, action vector) -> (n,)``.
        action_fn: Observations -> the policy's action vector, differentiable
            (softmax probabilities for discrete actions).
        obs: True observations ``(n, *obs_shape)``, as Q and the policy take them.
        eps: l_inf radius (float or per-dimension tensor).
        steps: PGD steps.
        step_size: Signed step size.
        mad_ratio: ``r`` in ``(1 - r) * (-Q) + r * MAD`` (0: RS alone).
        mad_fn: ``(x, obs) -> (n,)`` action change to add; default: the squared
            difference of the action vectors.
        state: The true state as Q takes it (``None``: ``obs``); differs from
            ``obs`` when the attack works before a normalisation that Q and
            the policy work after (``action_fn`` then normalises itself).
        start: Random-start offsets (``None``: the clean observation, where
            the MAD term's gradient vanishes).
        low, high, fixed: As :func:`~rlnoise.attacks.linf.linf_pgd`.

    Returns:
        Attacked observations, detached, within the ball.
    """
    check_probability("mad_ratio", mad_ratio)
    obs = obs.detach()
    true_state = obs if state is None else state.detach()
    with torch.no_grad():
        clean_action = action_fn(obs)

    def change(x: torch.Tensor) -> torch.Tensor:
        if mad_fn is not None:
            return mad_fn(x, obs)
        return (action_fn(x) - clean_action).pow(2).flatten(1).sum(1)

    def objective(x: torch.Tensor) -> torch.Tensor:
        loss = -(1.0 - mad_ratio) * q(true_state, action_fn(x))
        return loss + mad_ratio * change(x) if mad_ratio > 0 else loss

    return linf_pgd(
        objective,
        obs,
        eps=eps,
        steps=steps,
        step_size=step_size,
        start=start,
        low=low,
        high=high,
        fixed=fixed,
    )
