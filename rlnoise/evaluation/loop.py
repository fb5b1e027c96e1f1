"""The batched step loop behind :func:`~rlnoise.evaluation.runner.evaluate_robustness`.

A fixed number of *slots* (``batch_size``) each hold one live episode and its
env. Cells (one per run and condition) borrow slots as *lanes* while they have
episodes to play; each step:

1. each cell turns its lanes' raw observations into policy inputs (noise,
   normalisation) in numpy;
2. per run, the inputs go to the policy's device in ONE transfer; attacked
   rows are replaced on the device;
3. per run, ONE forward gives the actions of every row with the shared
   weights; rows under weight noise get theirs from one vmapped forward over
   per-row weights;
4. each cell perturbs its actions (noise, random replacement, sticky);
5. every env steps; observations with a NaN or infinite element are counted
   per cell; finished episodes are recorded and their lanes start the
   cell's next episode (``reset(seed=seed + k)``) or give the slot back.

Cells whose every action is replaced by a random one (``random_action:1.0``,
and the uniformly random reference policy, :data:`REFERENCE`) skip the policy.

The envs are a plain list (no vector env, so no autoreset): an episode ends
exactly when its env says so and is counted once.
"""

from __future__ import annotations

import operator
from collections import deque
from collections.abc import Callable, Sequence
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.conditions import Condition
from rlnoise.evaluation.envs import EnvMaker, env_key
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.evaluation.reference import REFERENCE_CONDITION
from rlnoise.runs.progress import Progress

__all__ = ["REFERENCE", "BatchedLoop"]

#: The ``(run, condition)`` of the reference cell in a to-do list: the uniformly
#: random policy (:data:`~rlnoise.evaluation.reference.REFERENCE_CONDITION`) on
#: the clean env, set up with the first run's observation layout.
REFERENCE = (-1, -1)

_FIRST, _SECOND, _THIRD, _FOURTH = (operator.itemgetter(i) for i in range(4))


class BatchedLoop:
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
        reference_action_space: gym.Space | None = None,
    ):
        self.maker, self.pools = maker, pools
        self.reference_action_space = reference_action_space  # the env's, for REFERENCE
        self.adapters, self.conditions = adapters, conditions
        self.n_episodes, self.seed = n_episodes, seed
        self.capacity, self.max_steps = batch_size, max_steps
        space = adapters[0].input_space
        self.obs = np.zeros((batch_size, *space.shape), dtype=space.dtype)
        self.check_finite = np.issubdtype(self.obs.dtype, np.floating)  # integers are finite
        # Dict observations are held as flat rows (see rlnoise.evaluation.observations).
        self.layout = adapters[0].layout
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
        return self.maker.make(condition.env_change)

    def _reset(self, slot: int, episode: int) -> None:
        env = self.slot_env[slot]
        assert env is not None
        obs, _ = env.reset(seed=self.seed + episode)
        self.obs[slot] = obs if self.layout is None else self.layout.flatten_one(obs)
        if self.check_finite and not np.isfinite(self.obs[slot]).all():
            cell = self.slot_cell[slot]
            assert cell is not None
            cell.nonfinite_observations += 1
        self.slot_return[slot] = 0.0
        self.slot_length[slot] = 0

    def _condition(self, index: int) -> Condition:
        return REFERENCE_CONDITION if index == REFERENCE[1] else self.conditions[index]

    def _start_cell(self, run: int, index: int, n_lanes: int) -> Cell:
        condition = self._condition(index)
        adapter = self.adapters[max(run, 0)]
        space = self.reference_action_space if (run, index) == REFERENCE else None
        cell = Cell(run, index, condition, adapter, self.n_episodes, self.seed, n_lanes, space)
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
        pending = deque(todo)
        remaining_by_key: dict[str, int] = {}
        for _, index in todo:
            key = env_key(self._condition(index))
            remaining_by_key[key] = remaining_by_key.get(key, 0) + 1
        active: list[Cell] = []
        bar = Progress(len(todo) * self.n_episodes, desc="evaluating", unit="ep", enabled=progress)
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
        adapter = self.adapters[run]  # the reference (run -1) never uses it: it ignores the policy
        parts, rows = [], []
        direct = []  # cells that never use the policy's actions
        offset = 0
        for cell in cells:
            lanes, slots = cell.live
            if lanes.size == 0:
                continue
            pipeline = cell.pipeline
            if pipeline.ignores_policy:
                direct.append((slots, pipeline.act_without_policy(lanes)))
                continue
            if pipeline.perturbs_observations:
                parts.append(cell.observe(self.obs[slots], lanes))
            else:
                parts.append(adapter.normalize(self.obs[slots]))
            rows.append((cell, lanes, slots, offset, lanes.size))
            offset += lanes.size
        if not rows:
            return direct
        obs_t = adapter.to_tensor(parts[0] if len(parts) == 1 else np.concatenate(parts))
        for cell, lanes, _, start, n in rows:
            if cell.pipeline.attack is not None:
                obs_t[start : start + n] = cell.pipeline.attack_rows(
                    obs_t[start : start + n], lanes
                )
        shared = [row for row in rows if row[0].pipeline.weights is None]
        if len(shared) == len(rows):
            actions = adapter.actions(obs_t)
            if not any(row[0].pipeline.perturbs_actions for row in rows):  # common: one piece
                slots = rows[0][2] if len(rows) == 1 else np.concatenate([r[2] for r in rows])
                return [(slots, actions), *direct]
            first = {id(row[0]): row[3] for row in rows}
        elif shared:
            index = np.concatenate([np.arange(s, s + n) for _, _, _, s, n in shared])
            picked = obs_t[torch.as_tensor(index, device=obs_t.device)]
            actions = adapter.actions(picked)
            starts = np.cumsum([0] + [n for *_, n in shared]).tolist()
            first = {id(row[0]): start for row, start in zip(shared, starts, strict=False)}
        out = []
        for cell, lanes, slots, start, n in rows:
            pipeline = cell.pipeline
            if pipeline.weights is None:
                mine = actions[first[id(cell)] : first[id(cell)] + n]
            else:
                weights = pipeline.weights.weights(lanes)
                mine = adapter.actions_with_weights(weights, obs_t[start : start + n])
            if pipeline.perturbs_actions:
                mine = pipeline.act(mine, lanes)
            out.append((slots, mine))
        return out + direct

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
        observations = list(map(_FIRST, results))
        if self.layout is None:
            self.obs[slots] = np.array(observations)
        else:
            self.obs[slots] = self.layout.flatten(observations)
        if self.check_finite:
            finite = np.isfinite(self.obs[slots].reshape(slots.size, -1)).all(axis=1)
            if not finite.all():
                for slot in slots[~finite].tolist():
                    cell = self.slot_cell[slot]
                    assert cell is not None
                    cell.nonfinite_observations += 1
        self.slot_return[slots] += np.array(list(map(_SECOND, results)), dtype=np.float64)
        self.slot_length[slots] += 1
        ended = np.array(list(map(_THIRD, results)), dtype=bool)
        ended |= np.array(list(map(_FOURTH, results)), dtype=bool)
        if self.max_steps is not None:
            ended |= self.slot_length[slots] >= self.max_steps
        return slots[ended]
