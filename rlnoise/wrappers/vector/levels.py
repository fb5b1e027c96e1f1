"""``LevelSet`` for Gymnasium vector envs: every sub-env plays a fixed set of levels."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import gymnasium as gym
import numpy as np
from gymnasium.vector import AutoresetMode, VectorEnv, VectorWrapper

from rlnoise.core.random import derive_seed
from rlnoise.wrappers.levels import LevelShuffle, check_levels

__all__ = ["LevelSet"]


class LevelSet(VectorWrapper, gym.utils.RecordConstructorArgs):
    """Resets every sub-env of a Gymnasium ``VectorEnv`` on the next level of its own sequence.

    Row ``i`` has its own shuffled level sequence
    (:class:`rlnoise.wrappers.levels.LevelShuffle`), restarted by
    ``reset(seed=s)`` from ``derive_seed(s + i, "levels")``: the levels a
    single :class:`rlnoise.wrappers.LevelSet` reset with ``seed=s + i`` would
    play. ``infos["level"]`` holds the level of each row reset (``-1`` for the
    others, masked by ``infos["_level"]``).

    The vector env must be built with ``autoreset_mode=AutoresetMode.DISABLED``:
    in the other modes it resets finished sub-envs inside ``step`` without a
    seed, where no wrapper can choose their level. Reset finished rows with
    ``reset(options={"reset_mask": mask})``; or wrap each sub-env instead
    (``gym.make_vec(..., wrappers=[lambda env: LevelSet(env, n)])``), which works
    in every mode.

    Example:
        >>> import gymnasium as gym
        >>> from gymnasium.vector import AutoresetMode
        >>> envs = gym.make_vec("CartPole-v1", num_envs=2, vectorization_mode="sync",
        ...                     vector_kwargs={"autoreset_mode": AutoresetMode.DISABLED})
        >>> envs = LevelSet(envs, 4)
        >>> _, infos = envs.reset(seed=0)
        >>> [int(level) % 2 for level in infos["level"]]  # training levels are even
        [0, 0]

    Args:
        env: The vector env (autoreset disabled).
        levels: A count (the first ``n`` training levels of ``split_seed``) or level seeds.
        split_seed: Which split a count refers to.

    Raises:
        ValueError: Another autoreset mode, or bad levels (as the single-env wrapper).
    """

    def __init__(self, env: VectorEnv, levels: int | Sequence[int], split_seed: int = 0):
        mode = env.metadata.get("autoreset_mode", AutoresetMode.NEXT_STEP)
        mode = mode if isinstance(mode, AutoresetMode) else AutoresetMode(mode)
        if mode is not AutoresetMode.DISABLED:
            raise ValueError(
                f"LevelSet needs a vector env with autoreset_mode=DISABLED, got {mode.value}: "
                "in that mode the env resets finished sub-envs itself, without a seed; build it "
                "with vector_kwargs={'autoreset_mode': AutoresetMode.DISABLED} or wrap each "
                "sub-env with rlnoise.wrappers.LevelSet"
            )
        self.levels = check_levels(levels, split_seed)
        gym.utils.RecordConstructorArgs.__init__(
            self,
            levels=levels if isinstance(levels, int) else list(self.levels),
            split_seed=split_seed,
        )
        VectorWrapper.__init__(self, env)
        self.orders = [LevelShuffle(self.levels, None) for _ in range(self.num_envs)]

    def reset(
        self, *, seed: int | list[int | None] | None = None, options: dict[str, Any] | None = None
    ) -> tuple[Any, dict[str, Any]]:
        """Reset (all or the masked) sub-envs, each on the next level of its sequence."""
        mask = None if options is None else options.get("reset_mask")
        n = self.num_envs
        rows = np.ones(n, dtype=bool) if mask is None else np.asarray(mask, dtype=bool)
        if seed is None:
            seeds: list[int | None] = [None] * n
        elif isinstance(seed, int | np.integer):
            seeds = [int(seed) + i for i in range(n)]
        else:
            seeds = list(seed)
        levels: list[int | None] = [None] * n
        for row in np.flatnonzero(rows).tolist():
            if seeds[row] is not None:
                self.orders[row].reseed(derive_seed(seeds[row], "levels"))
            levels[row] = self.orders[row].next()
        obs, infos = self.env.reset(seed=levels, options=options)  # type: ignore[arg-type]
        infos = dict(infos)
        infos["level"] = np.array([-1 if level is None else level for level in levels])
        infos["_level"] = rows
        return obs, infos
