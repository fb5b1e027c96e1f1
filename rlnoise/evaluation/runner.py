"""``evaluate_robustness``: every run x condition x episode in one batched loop.

How a step goes, for all live episodes at once:

1. each cell turns its lanes' raw observations into policy inputs (noise,
   normalisation) in numpy;
2. per run, the inputs go to the policy's device in ONE transfer; attacked
   rows are replaced on the device;
3. per run, ONE forward (``policy._predict``) gives the actions of every row
   with the shared weights; rows under weight noise get theirs from one
   vmapped forward over per-row weights;
4. each cell perturbs its actions (noise, random replacement, sticky);
5. every env steps; finished episodes are recorded and their lanes start the
   cell's next episode (``reset(seed=seed + k)``) or go back to the pool.

Episode ``k`` starts from reset seed ``seed + k`` in every condition and run,
and every random source of an episode is seeded from (seed, condition,
episode), so per-episode returns do not depend on ``batch_size`` or on what
else is evaluated. The envs are a plain list managed here (no vector env, no
autoreset), so every episode is counted once, however long it lasts.

Example:
    >>> from stable_baselines3 import PPO
    >>> model = PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
    >>> report = evaluate_robustness(
    ...     model, "CartPole-v1", {"gaussian": [0.1]}, n_episodes=2, seed=0, progress=False,
    ...     num_threads=1,
    ... )
    >>> report.returns.shape  # runs x conditions x episodes
    (1, 2, 2)
"""

from __future__ import annotations

import copy
import datetime
import operator
import platform
from collections import deque
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.core._checks import check_int, show
from rlnoise.evaluation.cells import Cell, dynamics_key
from rlnoise.evaluation.conditions import Condition, Dynamics, as_condition
from rlnoise.evaluation.envs import EnvMaker
from rlnoise.evaluation.grid import build_grid, check_unique
from rlnoise.evaluation.models import (
    ModelRun,
    load_run,
    model_digest,
    resolve_device,
    vec_normalize_digest,
)
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.storage import ResultStore

__all__ = ["evaluate_robustness", "versions"]

_FIRST, _SECOND, _THIRD, _FOURTH = (operator.itemgetter(i) for i in range(4))

ModelLike = Any  # an SB3 BaseAlgorithm, a path to its zip, or a ModelRun


def versions() -> dict[str, str]:
    """Versions of everything that shapes the numbers."""
    import stable_baselines3

    from rlnoise import __version__

    return {
        "rlnoise": __version__,
        "python": platform.python_version(),
        "numpy": np.__version__,
        "torch": torch.__version__,
        "gymnasium": gym.__version__,
        "stable_baselines3": stable_baselines3.__version__,
    }


def _as_run(item: ModelLike, group: str, index: int, algo: str | None, device: Any) -> ModelRun:
    if isinstance(item, ModelRun):
        return item
    if isinstance(item, str | Path):
        return load_run(item, group=group, algo=algo, device=device)
    if not hasattr(item, "policy") or not hasattr(item, "predict"):
        raise ValueError(
            f"models must be SB3 algorithms, paths to saved zips or ModelRun, got {show(item)}"
        )
    normalizer = None
    get_env = getattr(item, "get_vec_normalize_env", None)
    if callable(get_env):
        normalizer = get_env()
    return ModelRun(
        name=f"{group}-{index}",
        group=group,
        model=item,
        vec_normalize=normalizer,
        digest=model_digest(item),
        algo=type(item).__name__,
    )


def _collect_runs(models: Any, algo: str | None, device: Any) -> list[ModelRun]:
    """Models -> runs: one model, a list (one group), or {group: model or list}."""
    groups = list(models.items()) if isinstance(models, Mapping) else [(None, models)]
    runs: list[ModelRun] = []
    for group, items in groups:
        items = list(items) if isinstance(items, list | tuple) else [items]
        if not items:
            raise ValueError(f"model group {group!r} is empty")
        name = group
        if name is None:
            first = items[0]
            name = first.group if isinstance(first, ModelRun) else None
            if name is None and not isinstance(first, str | Path):
                name = type(first).__name__
            name = name or "model"
        for index, item in enumerate(items):
            run = _as_run(item, str(name), index, algo, device)
            if not isinstance(item, ModelRun) and isinstance(item, str | Path):
                run.name = Path(item).parent.name if Path(item).stem == "model" else run.name
            runs.append(run)
    seen: dict[str, int] = {}
    for run in runs:  # unique run names
        count = seen.get(run.name, 0)
        seen[run.name] = count + 1
        if count:
            run.name = f"{run.name}-{count}"
    return runs


def _conditions(conditions: Any, env_id: str | None) -> list[Condition]:
    if isinstance(conditions, Mapping) and "name" not in conditions:
        return build_grid(conditions, env_id)
    if isinstance(conditions, str | Path) and conditions != "clean":
        return build_grid(conditions, env_id)
    if isinstance(conditions, Condition | Mapping | str):
        conditions = [conditions]
    result = [as_condition(c) for c in conditions]
    if not result:
        raise ValueError("conditions must not be empty")
    check_unique(result)
    return result


def evaluate_robustness(
    model_or_models: Any,
    env: str | Callable[..., gym.Env],
    conditions: Any,
    n_episodes: int = 100,
    seed: int = 0,
    device: str | torch.device = "auto",
    *,
    algo: str | None = None,
    batch_size: int = 256,
    max_steps: int | None = None,
    resume_dir: str | Path | None = None,
    progress: bool = True,
    make_kwargs: dict[str, Any] | None = None,
    num_threads: int | None = None,
) -> RobustnessReport:
    """Evaluate one or several models under every condition, in one batched loop.

    Args:
        model_or_models: An SB3 model, a path to a saved zip, a list of them
            (runs of one group, e.g. training seeds), or ``{group: model or
            list}``. ``VecNormalize`` statistics: saved beside a zip as
            ``vecnormalize.pkl``, or attached to an in-memory model's env.
        env: Registered Gymnasium id, or a callable returning a new env
            (called with the dynamics' ``make_kwargs``).
        conditions: A list of :class:`~rlnoise.evaluation.conditions.Condition`
            (or dicts), a grid mapping, or a grid YAML path (see
            :func:`~rlnoise.evaluation.grid.build_grid`).
        n_episodes: Episodes per (run, condition).
        seed: Episode ``k`` resets with ``seed + k``; noise seeds derive from it.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``. Policies
            on another device are copied there (the caller's model is untouched).
        algo: Algorithm of saved zips when it cannot be detected (``"PPO"``...).
        batch_size: Most episodes live at once (memory bound; results do not
            depend on it).
        max_steps: Cap on the steps of an episode (``None``: the env's own limit).
        resume_dir: Directory for per-cell result files; finished cells found
            there are reused, unusable files are reported and recomputed.
        progress: Show a progress bar over episodes (stderr).
        make_kwargs: Extra ``gym.make`` kwargs for every env.
        num_threads: torch intra-op threads while the episodes run (restored
            afterwards); ``None`` leaves torch's setting. Small MLP policies on
            the CPU run fastest with 1: their tensors are too small to split.

    Returns:
        A :class:`~rlnoise.evaluation.report.RobustnessReport` with returns of
        shape ``(n_runs, n_conditions, n_episodes)``.

    Raises:
        ValueError: Unknown condition type, unregistered env id, model/env
            space mismatch, an attack on a policy without gradient, bad
            settings: all before any episode runs.
    """
    n_episodes = check_int("n_episodes", n_episodes, low=1)
    seed = check_int("seed", seed, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    if max_steps is not None:
        max_steps = check_int("max_steps", max_steps, low=1)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, low=1)
    resolved = resolve_device(device)
    maker = EnvMaker(env, make_kwargs)
    condition_list = _conditions(conditions, env if isinstance(env, str) else None)
    runs = _collect_runs(model_or_models, algo, resolved)
    adapters = [_adapter(run, resolved) for run in runs]
    pools = _validate(maker, runs, adapters, condition_list, n_episodes, seed)
    fingerprints = [
        [
            _fingerprint(run, maker, condition, seed, n_episodes, max_steps, resolved)
            for condition in condition_list
        ]
        for run in runs
    ]
    store = None if resume_dir is None else ResultStore(resume_dir)
    loop = _BatchedLoop(
        maker, pools, adapters, condition_list, n_episodes, seed, batch_size, max_steps
    )
    returns = np.zeros((len(runs), len(condition_list), n_episodes), dtype=np.float64)
    lengths = np.zeros_like(returns, dtype=np.int64)
    todo = []
    for r in range(len(runs)):
        for c in range(len(condition_list)):
            cached = None if store is None else store.load(fingerprints[r][c])
            if cached is None:
                todo.append((r, c))
            else:
                returns[r, c], lengths[r, c] = cached
    if store is not None:
        for problem in store.problems:
            print(f"rlnoise evaluate: {problem}", flush=True)

    def finished(cell: Cell) -> None:
        returns[cell.run, cell.index] = cell.returns
        lengths[cell.run, cell.index] = cell.lengths
        if store is not None:
            store.save(fingerprints[cell.run][cell.index], cell.returns, cell.lengths)

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        loop.run(todo, finished, progress)
    finally:
        torch.set_num_threads(threads)
    metadata = {
        "env": maker.describe(),
        "seed": seed,
        "n_episodes": n_episodes,
        "max_steps": max_steps,
        "device": str(resolved),
        "batch_size": batch_size,
        "reset_seeds": f"episode k resets with seed + k = {seed} + k",
        "started": started,
        "versions": versions(),
        "resume": None
        if store is None
        else {
            "directory": str(store.directory),
            "reused_cells": store.reused,
            "recomputed_files": list(store.problems),
        },
    }
    return RobustnessReport(
        returns=returns,
        lengths=lengths,
        conditions=tuple(condition_list),
        runs=tuple(run.describe() for run in runs),
        metadata=metadata,
    )


def _adapter(run: ModelRun, device: torch.device) -> PolicyAdapter:
    policy = run.model.policy
    if policy.device != device:
        policy = copy.deepcopy(policy).to(device)
    return PolicyAdapter(policy, run.vec_normalize)


def _validate(
    maker: EnvMaker,
    runs: Sequence[ModelRun],
    adapters: Sequence[PolicyAdapter],
    conditions: Sequence[Condition],
    n_episodes: int,
    seed: int,
) -> dict[str, list[gym.Env]]:
    """Check every (run, condition) before any episode; returns one env per dynamics setting."""
    pools: dict[str, list[gym.Env]] = {}
    for condition in conditions:
        key = dynamics_key(condition)
        if key in pools:
            continue
        dynamics = condition.find(Dynamics)
        env = maker.make(dynamics[0] if dynamics else None)
        pools[key] = [env]
        for run, adapter in zip(runs, adapters, strict=True):
            for what, model_space, env_space in (
                ("observation", adapter.observation_space, env.observation_space),
                ("action", adapter.action_space, env.action_space),
            ):
                if model_space != env_space:
                    raise ValueError(
                        f"model {run.name!r} expects the {what} space {model_space}, "
                        f"but env {maker.name!r} ({condition.name}) has {env_space}"
                    )
    for adapter in adapters:
        for index, condition in enumerate(conditions):
            Cell(0, index, condition, adapter, n_episodes, seed, n_lanes=1)
    return pools


def _fingerprint(
    run: ModelRun,
    maker: EnvMaker,
    condition: Condition,
    seed: int,
    n_episodes: int,
    max_steps: int | None,
    device: torch.device,
) -> dict[str, Any]:
    return {
        "model": run.digest,
        "vecnormalize": vec_normalize_digest(run.vec_normalize),
        "algo": run.algo,
        "env": maker.describe(),
        "perturbations": condition.to_dict()["perturbations"],
        "seed": seed,
        "n_episodes": n_episodes,
        "max_steps": max_steps,
        "device": device.type,
        "versions": {k: v for k, v in versions().items() if k != "python"},
    }


class _BatchedLoop:
    """The step loop over live episodes (see the module docstring)."""

    def __init__(
        self,
        maker: EnvMaker,
        pools: dict[str, list[gym.Env]],
        adapters: Sequence[PolicyAdapter],
        conditions: Sequence[Condition],
        n_episodes: int,
        seed: int,
        batch_size: int,
        max_steps: int | None,
    ):
        self.maker, self.pools = maker, pools
        self.adapters, self.conditions = adapters, conditions
        self.n_episodes, self.seed = n_episodes, seed
        self.capacity, self.max_steps = batch_size, max_steps
        space = adapters[0].observation_space
        self.obs = np.zeros((batch_size, *space.shape), dtype=space.dtype)
        self.slot_cell: list[Cell | None] = [None] * batch_size
        self.slot_lane = np.zeros(batch_size, dtype=np.int64)
        self.slot_env: list[gym.Env | None] = [None] * batch_size
        self.slot_step: list[Any] = [None] * batch_size  # bound env.step, looked up once
        # float64 sums, one reward at a time, as a Python loop over the episode would add them
        self.slot_return = np.zeros(batch_size, dtype=np.float64)
        self.slot_length = np.zeros(batch_size, dtype=np.int64)
        self.free = list(range(batch_size - 1, -1, -1))

    # -- envs --------------------------------------------------------------------
    def _acquire_env(self, key: str, condition: Condition) -> gym.Env:
        pool = self.pools.setdefault(key, [])
        if pool:
            return pool.pop()
        dynamics = condition.find(Dynamics)
        return self.maker.make(dynamics[0] if dynamics else None)

    def _reset(self, slot: int, episode: int) -> None:
        env = self.slot_env[slot]
        assert env is not None
        obs, _ = env.reset(seed=self.seed + episode)
        self.obs[slot] = obs
        self.slot_return[slot] = 0.0
        self.slot_length[slot] = 0

    def _start_cell(self, run: int, index: int, n_lanes: int) -> Cell:
        condition = self.conditions[index]
        cell = Cell(run, index, condition, self.adapters[run], self.n_episodes, self.seed, n_lanes)
        for lane in range(n_lanes):
            slot = self.free.pop()
            cell.assign_slot(lane, slot)
            self.slot_cell[slot] = cell
            self.slot_lane[slot] = lane
            env = self._acquire_env(cell.env_key, condition)
            self.slot_env[slot] = env
            self.slot_step[slot] = env.step
            self._reset(slot, int(cell.lane_episode[lane]))
        return cell

    def _release(self, slot: int, cell: Cell) -> None:
        env = self.slot_env[slot]
        assert env is not None
        self.pools[cell.env_key].append(env)
        self.slot_env[slot] = None
        self.slot_step[slot] = None
        self.slot_cell[slot] = None
        self.free.append(slot)

    # -- the loop ------------------------------------------------------------------
    def run(
        self,
        todo: Sequence[tuple[int, int]],
        finished: Callable[[Cell], None],
        progress: bool,
    ) -> None:
        from tqdm import tqdm

        pending = deque(todo)
        remaining_by_key: dict[str, int] = {}
        for _, index in todo:
            key = dynamics_key(self.conditions[index])
            remaining_by_key[key] = remaining_by_key.get(key, 0) + 1
        active: list[Cell] = []
        bar = tqdm(
            total=len(todo) * self.n_episodes,
            unit="ep",
            desc="evaluating",
            disable=not progress or not todo,
            dynamic_ncols=True,
        )
        # A new cell starts once enough slots are free for it to be worth a batch share.
        minimum_lanes = min(self.n_episodes, max(1, self.capacity // 8))
        try:
            while pending or active:
                while pending and (len(self.free) >= minimum_lanes or not active):
                    run, index = pending.popleft()
                    n_lanes = min(self.n_episodes, len(self.free))
                    active.append(self._start_cell(run, index, n_lanes))
                for slot in self._step(active):
                    cell = self.slot_cell[slot]
                    assert cell is not None
                    lane = int(self.slot_lane[slot])
                    cell.record(
                        int(cell.lane_episode[lane]),
                        float(self.slot_return[slot]),
                        int(self.slot_length[slot]),
                    )
                    bar.update(1)
                    episode = cell.take_episode()
                    if episode is None:
                        cell.retire_lane(lane)
                        self._release(slot, cell)
                    else:
                        cell.start_episode(lane, episode)
                        self._reset(slot, episode)
                    if cell.done:
                        active.remove(cell)
                        finished(cell)
                        remaining_by_key[cell.env_key] -= 1
                        if remaining_by_key[cell.env_key] == 0:
                            for env in self.pools.pop(cell.env_key, []):
                                env.close()
        finally:
            bar.close()
            for held in self.slot_env:
                if held is not None:
                    held.close()
            for pool in self.pools.values():
                for env in pool:
                    env.close()
            self.pools.clear()

    def _actions(self, run: int, cells: list[Cell]) -> list[tuple[np.ndarray, np.ndarray]]:
        """``(slots, actions)`` pieces for one run's cells: one transfer, one shared forward."""
        adapter = self.adapters[run]
        parts, rows = [], []
        offset = 0
        for cell in cells:
            lanes, slots = cell.live
            if lanes.size == 0:
                continue
            if cell.perturbs_observations:
                parts.append(cell.observe(self.obs[slots], lanes))
            else:
                parts.append(adapter.normalize(self.obs[slots]))
            rows.append((cell, lanes, slots, offset, lanes.size))
            offset += lanes.size
        if not rows:
            return []
        obs_t = adapter.to_tensor(parts[0] if len(parts) == 1 else np.concatenate(parts))
        for cell, lanes, _, start, n in rows:
            if cell.attack is not None:
                obs_t[start : start + n] = cell.attack_observations(obs_t[start : start + n], lanes)
        shared = [row for row in rows if row[0].weight_noise is None]
        if len(shared) == len(rows):
            actions = adapter.postprocess(adapter.act(obs_t))
            if not any(row[0].perturbs_actions for row in rows):  # the common case: one piece
                slots = rows[0][2] if len(rows) == 1 else np.concatenate([r[2] for r in rows])
                return [(slots, actions)]
            first = {id(row[0]): row[3] for row in rows}
        elif shared:
            index = np.concatenate([np.arange(s, s + n) for _, _, _, s, n in shared])
            picked = obs_t[torch.as_tensor(index, device=obs_t.device)]
            actions = adapter.postprocess(adapter.act(picked))
            starts = np.cumsum([0] + [n for *_, n in shared]).tolist()
            first = {id(row[0]): start for row, start in zip(shared, starts, strict=False)}
        out = []
        for cell, lanes, slots, start, n in rows:
            if cell.weight_noise is None:
                mine = actions[first[id(cell)] : first[id(cell)] + n]
            else:
                lane_index = torch.as_tensor(lanes, device=obs_t.device)
                weights = {k: w[lane_index] for k, w in cell.weights.items()}
                mine = adapter.postprocess(
                    adapter.act_with_weights(weights, obs_t[start : start + n])
                )
            if cell.perturbs_actions:
                mine = cell.act_perturbed(mine, lanes)
            out.append((slots, mine))
        return out

    def _step(self, active: list[Cell]) -> np.ndarray:
        """Advance every live episode by one step; returns the slots whose episode ended."""
        by_run: dict[int, list[Cell]] = {}
        for cell in active:
            by_run.setdefault(cell.run, []).append(cell)
        pieces = [piece for run, cells in by_run.items() for piece in self._actions(run, cells)]
        if not pieces:
            return np.zeros(0, dtype=np.int64)
        slots = np.concatenate([p[0] for p in pieces])
        actions = pieces[0][1] if len(pieces) == 1 else np.concatenate([p[1] for p in pieces])
        steps: list[Any] = [self.slot_step[slot] for slot in slots.tolist()]
        results = [step(action) for step, action in zip(steps, actions, strict=True)]
        # np.array of equal-shape rows is 3x faster than np.stack; itemgetter maps stay in C.
        self.obs[slots] = np.array(list(map(_FIRST, results)))
        self.slot_return[slots] += np.array(list(map(_SECOND, results)), dtype=np.float64)
        self.slot_length[slots] += 1
        ended = np.array(list(map(_THIRD, results)), dtype=bool)
        ended |= np.array(list(map(_FOURTH, results)), dtype=bool)
        if self.max_steps is not None:
            ended |= self.slot_length[slots] >= self.max_steps
        return slots[ended]
