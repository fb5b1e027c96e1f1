"""Training progress for ``rlnoise train``: the steps a run will really take, never past them.

SB3's own ``progress_bar=True`` counts to ``total_timesteps`` while PPO runs
whole rollouts (``n_steps * n_envs`` at a time) and ends at, say, 5,120 of
5,000; and it draws a live bar even into a log file. This callback knows the
real budget of on-policy algorithms (the budget rounded up to whole rollouts)
and caps the count at the total for the others, and shows it through
:class:`~rlnoise.runs.progress.Progress` (a bar on a terminal, plain lines in a log).
"""

from __future__ import annotations

import math
from typing import Any

from stable_baselines3.common.base_class import BaseAlgorithm
from stable_baselines3.common.callbacks import BaseCallback
from stable_baselines3.common.on_policy_algorithm import OnPolicyAlgorithm

from rlnoise.runs.progress import Progress

__all__ = ["TrainingProgress", "steps_to_run"]


def steps_to_run(model: BaseAlgorithm, total_timesteps: int) -> int:
    """Environment steps ``model.learn(total_timesteps)`` will take from where the model is.

    On-policy algorithms collect whole rollouts of ``n_steps * n_envs`` steps,
    so they stop at the first multiple of that at or past the budget. For the
    others the budget is returned (they may pass it by less than one
    collection, which the display caps).

    Example:
        >>> from stable_baselines3 import PPO
        >>> steps_to_run(PPO("MlpPolicy", "CartPole-v1", n_steps=256, device="cpu"), 5000)
        5120
    """
    remaining = max(0, total_timesteps - model.num_timesteps)
    if isinstance(model, OnPolicyAlgorithm):
        rollout = model.n_steps * model.n_envs
        return math.ceil(remaining / rollout) * rollout
    return remaining


class TrainingProgress(BaseCallback):
    """Shows a run's steps on stderr (see the module docstring).

    Args:
        desc: Label of the run (``"seed 0"``).
        progress_kwargs: Passed to :class:`~rlnoise.runs.progress.Progress`.
    """

    def __init__(self, desc: str, **progress_kwargs: Any):
        super().__init__()
        self.desc, self.progress_kwargs = desc, progress_kwargs
        self.progress: Progress | None = None

    def _on_training_start(self) -> None:
        # learn()'s own total, after _setup_learn added the steps already taken (as SB3's
        # ProgressBarCallback reads it).
        total = steps_to_run(self.model, self.locals["total_timesteps"])
        self.progress = Progress(total, desc=self.desc, unit="steps", **self.progress_kwargs)

    def _on_step(self) -> bool:
        assert self.progress is not None
        self.progress.update(self.training_env.num_envs)
        return True

    def _on_training_end(self) -> None:
        if self.progress is not None:
            self.progress.close()
