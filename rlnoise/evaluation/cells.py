"""Per-cell perturbation state of the batched runner.

A *cell* is one (run, condition) pair with its ``n_episodes`` episodes. While
it is active it owns some *lanes*; a lane plays the cell's episodes one after
another. Every random source of a lane is restarted from the episode's own
generators when the lane starts an episode, so an episode's noise is a
function of (seed, condition, episode) only, never of the lane, the batch
size, or what else runs at the same time (common random numbers).

Example:
    >>> seed = episode_seed(0, Condition.clean(), episode=3, index=0)
    >>> seed == episode_seed(0, Condition.clean(), episode=3, index=0)
    True
"""

from __future__ import annotations

import json
from typing import Any

import numpy as np
import torch
from gymnasium import spaces

from rlnoise.core.random import derive_seed, make_rng
from rlnoise.core.sampling import perturb
from rlnoise.core.spec import NoiseSpec
from rlnoise.core.stream import NoiseStream
from rlnoise.evaluation.conditions import (
    ActionNoise,
    Condition,
    Dynamics,
    ObservationAttack,
    ObservationNoise,
    Perturbation,
    RandomAction,
    StickyAction,
    WeightNoise,
)
from rlnoise.evaluation.policy import PolicyAdapter

__all__ = ["Cell", "dynamics_key", "episode_seed"]


def episode_seed(seed: int, condition: Condition, episode: int, index: int) -> int:
    """Seed of perturbation ``index`` of ``condition`` in episode ``episode``.

    Depends on the condition's perturbations (not its name or position in the
    grid, nor the model), so adding conditions or models changes nothing else.
    """
    return derive_seed(seed, "rlnoise.evaluation", condition.key, int(episode), int(index))


def dynamics_key(condition: Condition) -> str:
    """Key of the env a condition needs (``""``: unchanged); equal keys share envs."""
    dynamics = condition.find(Dynamics)
    return json.dumps(dynamics[0].to_dict(), sort_keys=True) if dynamics else ""


def _check_noise_bounds(spec: NoiseSpec, low: Any, high: Any, where: str) -> None:
    finite = low is not None and bool(np.all(np.isfinite(low)) and np.all(np.isfinite(high)))
    if spec.kind == "salt_pepper" and spec.param_dict.get("values") is None and not finite:
        raise ValueError(
            f"{where}: salt_pepper needs 'values: [low, high]' here, the space has infinite bounds"
        )


class Cell:
    """Perturbation state and results of one (run, condition) cell.

    Args:
        run: Index of the run.
        index: Index of the condition.
        condition: The condition.
        adapter: The run's policy adapter.
        n_episodes: Episodes to play.
        seed: Base seed of the evaluation.
        n_lanes: Lanes (concurrent episodes) this cell gets.
        action_space: The space actions are perturbed and drawn in (default:
            the policy's; the random reference draws from the env's).

    Raises:
        ValueError: A perturbation does not fit the model's spaces (checked
            when the cell is built, so the runner builds every cell once with
            one lane before any episode runs).
    """

    def __init__(
        self,
        run: int,
        index: int,
        condition: Condition,
        adapter: PolicyAdapter,
        n_episodes: int,
        seed: int,
        n_lanes: int,
        action_space: Any = None,
    ):
        self.run, self.index, self.condition = run, index, condition
        self.adapter = adapter
        self.action_space = adapter.action_space if action_space is None else action_space
        self.n_episodes, self.seed = n_episodes, seed
        self.n_lanes = n_lanes
        self.returns = np.zeros(n_episodes, dtype=np.float64)
        self.lengths = np.zeros(n_episodes, dtype=np.int64)
        #: Env observations (resets and steps) with a NaN or infinite element.
        self.nonfinite_observations = 0
        self.next_episode = 0
        self.finished = 0
        self.lane_episode = np.full(n_lanes, -1, dtype=np.int64)
        self.lane_slot = np.full(n_lanes, -1, dtype=np.int64)
        self._live: tuple[np.ndarray, np.ndarray] | None = None
        self._buffer: np.ndarray | None = None
        # Perturbation index within the condition: the key of each random source.
        self._index = {id(p): i for i, p in enumerate(condition.perturbations)}
        # Every stream with the perturbation whose episode seeds restart its lane's row.
        self._episode_streams: list[tuple[Perturbation, NoiseStream]] = []
        first = list(range(min(n_lanes, n_episodes)))
        self.dynamics: Dynamics | None = next(iter(condition.find(Dynamics)), None)
        self.env_key = dynamics_key(condition)
        obs_space = adapter.input_space  # Dict observations: the Box of their flat rows
        self.obs_shape = tuple(obs_space.shape)
        noises: list[ObservationNoise] = condition.find(ObservationNoise)
        self.attack: ObservationAttack | None = next(iter(condition.find(ObservationAttack)), None)
        if (noises or self.attack) and not isinstance(obs_space, spaces.Box):
            raise ValueError(
                f"condition {condition.name!r}: observation noise and attacks need a Box "
                f"(or Dict of Box) observation space, got {obs_space}"
            )
        self.obs_dtype = (
            obs_space.dtype
            if isinstance(obs_space, spaces.Box) and np.issubdtype(obs_space.dtype, np.floating)
            else np.dtype(np.float32)
        )
        if adapter.normalizes:
            self.obs_dtype = np.dtype(np.float32)
        self.raw_noise = [self._obs_stream(p, first) for p in noises if p.space == "raw"]
        self.normalized_noise = [
            self._obs_stream(p, first) for p in noises if p.space == "normalized"
        ]
        self.attack_start: NoiseStream | None = None
        if self.attack is not None:
            self._init_attack(first)
        self.weight_noise: WeightNoise | None = next(iter(condition.find(WeightNoise)), None)
        self.weights: dict[str, torch.Tensor] = {}
        if self.weight_noise is not None:
            self._init_weights(first)
        self._init_actions(first)
        # True when the policy input differs from the normalised env observation.
        self.perturbs_observations = bool(self.raw_noise or self.normalized_noise or self.attack)
        # True when actions are noised, replaced or made sticky.
        self.perturbs_actions = any(
            p is not None for p in (self.action_noise, self.random_action, self.sticky)
        )
        # Every action is replaced by a random one: the policy's choice is never used.
        self.ignores_policy = self.random_action is not None and self.random_action.probability == 1
        for lane, episode in enumerate(first):
            self.lane_episode[lane] = episode
        self.next_episode = len(first)

    # -- set-up ------------------------------------------------------------------
    def _rngs(self, perturbation: Any, episodes: list[int]) -> list[np.random.Generator]:
        index = self._index[id(perturbation)]
        return [make_rng(episode_seed(self.seed, self.condition, e, index)) for e in episodes]

    def _lane_rngs(self, perturbation: Any, episodes: list[int]) -> list[np.random.Generator]:
        # Lanes without an episode yet get a placeholder generator (their draws are unused).
        rngs = self._rngs(perturbation, episodes)
        return rngs + [make_rng(0) for _ in range(self.n_lanes - len(rngs))]

    def _episode_stream(
        self,
        perturbation: Perturbation,
        spec: NoiseSpec,
        shape: tuple[int, ...],
        first: list[int],
        **kwargs: Any,
    ) -> NoiseStream:
        """A stream with a row per lane, restarted from ``perturbation``'s episode seeds."""
        stream = NoiseStream(spec, shape, self._lane_rngs(perturbation, first), **kwargs)
        self._episode_streams.append((perturbation, stream))
        return stream

    def _obs_stream(self, noise: ObservationNoise, first: list[int]) -> NoiseStream:
        bounds = self.adapter.bounds(noise.space)
        low, high = (None, None) if bounds is None else bounds
        where = f"condition {self.condition.name!r}"
        _check_noise_bounds(noise.noise, low, high, where)
        try:
            return self._episode_stream(
                noise, noise.noise, self.obs_shape, first, dtype=self.obs_dtype, low=low, high=high
            )
        except ValueError as error:
            raise ValueError(f"{where}: {error}") from None

    def _init_attack(self, first: list[int]) -> None:
        attack = self.attack
        assert attack is not None
        self.adapter.check_gradient()
        layout = self.adapter.layout
        self.attack_fixed: torch.Tensor | None = None
        if layout is not None:
            if layout.integer.all():
                raise ValueError(
                    f"condition {self.condition.name!r}: attacks perturb the float Box keys of a "
                    f"Dict observation, and {self.adapter.observation_space} has none"
                )
            if layout.integer.any():
                self.attack_fixed = torch.as_tensor(layout.integer, device=self.adapter.device)
        space = self.adapter.action_space
        if not isinstance(space, spaces.Discrete | spaces.Box):
            raise ValueError(
                f"condition {self.condition.name!r}: attacks support Discrete and Box action "
                f"spaces, got {space}"
            )
        if attack.space == "raw" and any(
            p.space == "normalized" for p in self.condition.find(ObservationNoise)
        ):
            raise ValueError(
                f"condition {self.condition.name!r}: a raw-space attack cannot be followed by "
                "normalized-space observation noise; attack in normalized space instead"
            )
        random_start = (
            (not self.adapter.discrete) if attack.random_start is None else attack.random_start
        )
        if random_start and attack.eps > 0:
            self.attack_start = self._episode_stream(
                attack,
                NoiseSpec("uniform", scale=attack.eps),
                self.obs_shape,
                first,
                dtype=np.float32,
            )
        bounds = self.adapter.bounds(attack.space)
        device = self.adapter.device
        self.attack_bounds: tuple[torch.Tensor, torch.Tensor] | None = None
        if bounds is not None:
            self.attack_bounds = (
                torch.as_tensor(bounds[0], dtype=torch.float32, device=device),
                torch.as_tensor(bounds[1], dtype=torch.float32, device=device),
            )

    def _init_weights(self, first: list[int]) -> None:
        spec = self.weight_noise.noise if self.weight_noise is not None else None
        assert spec is not None
        base = self.adapter.action_parameters(spec.where)
        self._weight_base = {n: t.cpu().numpy() for n, t in sorted(base.items())}
        self.weights = {
            n: t.unsqueeze(0).repeat(self.n_lanes, *([1] * t.dim())).clone()
            for n, t in sorted(base.items())
        }
        for lane, episode in enumerate(first):
            self._draw_weights(lane, episode)

    def _draw_weights(self, lane: int, episode: int) -> None:
        assert self.weight_noise is not None
        rng = self._rngs(self.weight_noise, [episode])[0]
        for name, base in self._weight_base.items():
            noisy = perturb(self.weight_noise.noise, base, rng)
            self.weights[name][lane] = torch.as_tensor(noisy, device=self.adapter.device)

    def _init_actions(self, first: list[int]) -> None:
        space = self.action_space
        condition = self.condition
        self.action_noise: NoiseStream | None = None
        for p in condition.find(ActionNoise):
            if not isinstance(space, spaces.Box):
                raise ValueError(
                    f"condition {condition.name!r}: action_noise needs a Box action space, "
                    f"got {space}; use random_action for discrete actions"
                )
            _check_noise_bounds(p.noise, space.low, space.high, f"condition {condition.name!r}")
            self.action_noise = self._episode_stream(
                p, p.noise, space.shape, first, dtype=space.dtype, low=space.low, high=space.high
            )
        self.random_action: RandomAction | None = None
        for p in condition.find(RandomAction):
            self.random_action = p
            width = _uniform_width(space, condition.name)
            # Unit uniforms in [0, 1): one coin, then the replacement action's coordinates.
            self.random_draws = self._episode_stream(
                p, NoiseSpec("dropout", scale=p.probability), (1 + width,), first
            )
        self.sticky: StickyAction | None = None
        for p in condition.find(StickyAction):
            self.sticky = p
            self.sticky_rngs = self._lane_rngs(p, first)
            self.sticky_last: list[Any] = [None] * self.n_lanes
            self.sticky_state = np.zeros((self.n_lanes, 3), dtype=np.int64)

    # -- episodes ----------------------------------------------------------------
    def start_episode(self, lane: int, episode: int) -> None:
        """Point ``lane`` at ``episode``; restart its random sources from the episode's seeds."""
        self.lane_episode[lane] = episode
        for perturbation, stream in self._episode_streams:
            stream.reset([lane], self._rngs(perturbation, [episode]))
        if self.weight_noise is not None:
            self._draw_weights(lane, episode)
        if self.sticky is not None:
            self.sticky_rngs[lane] = self._rngs(self.sticky, [episode])[0]
            self.sticky_last[lane] = None
            self.sticky_state[lane] = 0

    def assign_slot(self, lane: int, slot: int) -> None:
        """Attach ``lane`` to a runner slot."""
        self.lane_slot[lane] = slot
        self._live = None

    def retire_lane(self, lane: int) -> None:
        """``lane`` has no more episodes to play; it stops stepping."""
        self.lane_episode[lane] = -1
        self.lane_slot[lane] = -1
        self._live = None

    @property
    def live(self) -> tuple[np.ndarray, np.ndarray]:
        """``(lanes, slots)`` of the lanes playing an episode (cached until one retires)."""
        if self._live is None:
            lanes = np.flatnonzero(self.lane_episode >= 0)
            self._live = (lanes, self.lane_slot[lanes])
        return self._live

    def take_episode(self) -> int | None:
        """The next episode to play, or ``None`` when all have been handed out."""
        if self.next_episode >= self.n_episodes:
            return None
        episode = self.next_episode
        self.next_episode += 1
        return episode

    def record(self, episode: int, episode_return: float, length: int) -> None:
        """Store a finished episode."""
        self.returns[episode] = episode_return
        self.lengths[episode] = length
        self.finished += 1

    @property
    def done(self) -> bool:
        """True when every episode has been recorded."""
        return self.finished == self.n_episodes

    # -- per-step perturbations (all lanes; the caller keeps the live ones) -------

    def observe(self, obs: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """Raw observations of the live ``lanes`` -> their policy-side observations.

        Applies raw noise, then normalisation, then normalised-space noise; a
        raw-space attack keeps the rows raw (the runner normalises after
        attacking). The streams draw for every lane (idle ones included), so a
        lane's draws depend only on its own episode.
        """
        if lanes.size == self.n_lanes:  # every lane live: rows are already in lane order
            return self._observe_all(obs)
        if self._buffer is None:
            self._buffer = np.zeros((self.n_lanes, *self.obs_shape), dtype=obs.dtype)
        self._buffer[lanes] = obs
        return self._observe_all(self._buffer)[lanes]

    def _observe_all(self, obs: np.ndarray) -> np.ndarray:
        x = obs.astype(self.obs_dtype, copy=False) if self.raw_noise else obs
        for stream in self.raw_noise:
            x = stream.perturb(x)
        if self.attack is not None and self.attack.space == "raw":
            return np.asarray(x, dtype=np.float32)
        x = self.adapter.normalize(x)
        for stream in self.normalized_noise:
            x = stream.perturb(x)
        return x

    def attack_observations(self, obs: torch.Tensor, lanes: np.ndarray) -> torch.Tensor:
        """Attack the live lanes' observations (on the policy device); returns policy inputs."""
        attack = self.attack
        assert attack is not None
        adapter = self.adapter
        start = None
        if self.attack_start is not None:
            draws = self.attack_start.sample()[lanes]
            start = torch.as_tensor(draws, device=obs.device, dtype=obs.dtype)
        raw = attack.space == "raw" and adapter.normalizes

        def scores_fn(x: torch.Tensor) -> torch.Tensor:
            return adapter.scores(adapter.normalize_torch(x) if raw else x)

        low = high = None
        if self.attack_bounds is not None:
            low, high = (b.to(obs.dtype) for b in self.attack_bounds)
        from rlnoise.evaluation.attacks import linf_attack

        x_adv = linf_attack(
            scores_fn,
            obs,
            eps=attack.eps,
            steps=int(attack.steps or 1),
            step_size=float(attack.step_size or 0.0),
            discrete=adapter.discrete,
            start=start,
            actions_fn=adapter.actions_from_scores,
            low=low,
            high=high,
            fixed=self.attack_fixed,
        )
        return adapter.normalize_torch(x_adv) if raw else x_adv

    def act_without_policy(self, lanes: np.ndarray) -> np.ndarray:
        """Actions of the live ``lanes`` of a cell that :attr:`ignores_policy`.

        The same draws as :meth:`act_perturbed` makes for the condition, with
        placeholders where the policy's actions would be (all replaced).
        """
        space = self.action_space
        placeholder = np.zeros((lanes.size, *space.shape), dtype=space.dtype)
        return self.act_perturbed(placeholder, lanes)

    def act_perturbed(self, actions: np.ndarray, lanes: np.ndarray) -> np.ndarray:
        """Apply action noise, random replacement and sticky actions to the live lanes' actions."""
        space = self.action_space
        if self.action_noise is not None:
            full = np.zeros((self.n_lanes, *space.shape), dtype=space.dtype)
            full[lanes] = actions
            actions = np.clip(self.action_noise.perturb(full)[lanes], space.low, space.high)
            actions = actions.astype(space.dtype, copy=False)
        if self.random_action is not None:
            draws = self.random_draws.sample()[lanes]
            replace = draws[:, 0] < self.random_action.probability
            if replace.any():
                actions = actions.copy()
                actions[replace] = _uniform_action(space, draws[replace, 1:])
        if self.sticky is not None:
            actions = actions.copy()
            for i, lane in enumerate(lanes.tolist()):
                actions[i] = self._sticky_step(lane, actions[i])
        return actions

    def _sticky_step(self, lane: int, action: Any) -> Any:
        # gymnasium.wrappers.StickyAction.action, draw for draw, on this lane's generator.
        assert self.sticky is not None
        rng = self.sticky_rngs[lane]
        state = self.sticky_state[lane]  # [is_sticky, num_repeats, repeats_taken]
        last = self.sticky_last[lane]
        if state[0] or (last is not None and rng.uniform() < self.sticky.probability):
            if state[1] == 0:
                low, high = self.sticky.duration_range
                state[1] = rng.integers(low, high + 1)
            action = last
            state[0] = 1
            state[2] += 1
        if state[0] and state[1] == state[2]:
            state[:] = 0
        self.sticky_last[lane] = np.array(action, copy=True)
        return action


def _uniform_width(space: Any, name: str) -> int:
    if isinstance(space, spaces.Discrete):
        return 1
    if isinstance(space, spaces.MultiDiscrete | spaces.MultiBinary):
        return int(np.prod(space.shape))
    if isinstance(space, spaces.Box):
        if not (np.all(np.isfinite(space.low)) and np.all(np.isfinite(space.high))):
            raise ValueError(
                f"condition {name!r}: random_action needs a bounded action space, got {space}"
            )
        return int(np.prod(space.shape))
    raise ValueError(f"condition {name!r}: random_action does not support {space}")


def _uniform_action(space: Any, u: np.ndarray) -> np.ndarray:
    """Uniform actions of ``space`` from unit uniforms ``u`` of shape ``(n, width)``."""
    n = u.shape[0]
    if isinstance(space, spaces.Discrete):
        index = np.minimum((u[:, 0] * space.n).astype(np.int64), space.n - 1)
        return (space.start + index).astype(space.dtype)
    if isinstance(space, spaces.MultiDiscrete):
        nvec = space.nvec.reshape(1, -1)
        index = np.minimum((u * nvec).astype(np.int64), nvec - 1)
        return (space.start.reshape(1, -1) + index).reshape(n, *space.shape).astype(space.dtype)
    if isinstance(space, spaces.MultiBinary):
        return (u < 0.5).reshape(n, *space.shape).astype(space.dtype)
    low = space.low.reshape(1, -1).astype(np.float64)
    high = space.high.reshape(1, -1).astype(np.float64)
    return (low + u * (high - low)).reshape(n, *space.shape).astype(space.dtype)
