"""The uniformly random reference policy, played as one more cell of the batched pass.

:func:`~rlnoise.evaluation.runner.evaluate_robustness` asks a
:class:`ReferenceLane` whether the reference must be played (the user gave no
``reference_score`` and ``resume_dir`` holds no finished one); if so it adds
:data:`~rlnoise.evaluation.loop.REFERENCE` to the loop's to-do list and hands
the finished cell back to :meth:`ReferenceLane.finished`.

Why a cell of the same pass, not a loop of its own: it shares the slots, the
clean envs, the progress bar and the seeding of every other cell (episode
``k`` resets with ``seed + k``; its random actions come from the per-episode
generators of ``random_action:1.0``), so it is measured on the same episodes
by construction and cached like any cell. It costs no policy forward (the loop
skips the policy for cells that replace every action), only env steps.

Example:
    >>> REFERENCE_CONDITION.name
    'reference:uniform_random'
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import gymnasium as gym

from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.envs import EnvMaker
from rlnoise.evaluation.loop import REFERENCE
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.evaluation.reference import REFERENCE_CONDITION, Reference
from rlnoise.evaluation.storage import ResultStore

__all__ = ["ReferenceLane"]


class ReferenceLane:
    """The reference of one evaluation: given, cached, or still to play.

    Args:
        given: The user's ``reference_score`` as a Reference, or ``None``.
        adapter: The first run's policy adapter (for the observation layout).
        maker: The env maker.
        pools: The runner's envs by dynamics key (``""``: the clean env).
        n_episodes: Episodes per cell.
        seed: Episode reset seed base.
        max_steps: Step cap per episode.
        resume_dir: The runner's ``resume_dir``; the reference is cached in its
            ``reference/`` sub-directory (it is not a (run, condition) cell).
        versions: Library versions, for the cache fingerprint.

    Attributes:
        action_space: The clean env's action space, which the random policy samples.
        reference: The reference once known (``None`` while it is to be played).
    """

    def __init__(
        self,
        given: Reference | None,
        adapter: PolicyAdapter,
        maker: EnvMaker,
        pools: dict[str, list[gym.Env]],
        *,
        n_episodes: int,
        seed: int,
        max_steps: int | None,
        resume_dir: str | Path | None,
        versions: dict[str, str],
    ):
        self.action_space = _env_action_space(maker, pools)
        self.reference: Reference | None = given
        if given is None:
            try:  # the action space may have no uniform distribution (unbounded Box)
                Cell(
                    *REFERENCE, REFERENCE_CONDITION, adapter, n_episodes, seed, 1, self.action_space
                )
            except ValueError as error:
                self.reference = Reference.unavailable(
                    f"no uniformly random policy for this action space ({error}); "
                    "give reference_score"
                )
        self.store = None if resume_dir is None else ResultStore(Path(resume_dir) / "reference")
        self.fingerprint: dict[str, Any] = {
            "reference": REFERENCE_CONDITION.to_dict()["perturbations"],
            "action_space": repr(self.action_space),
            "env": maker.describe(),
            "seed": seed,
            "n_episodes": n_episodes,
            "max_steps": max_steps,
            "versions": {k: v for k, v in versions.items() if k != "python"},
        }
        if self.reference is None and self.store is not None:
            cached = self.store.load(self.fingerprint)
            if cached is not None:
                self.reference = Reference.uniform_random(*cached)

    @property
    def to_play(self) -> bool:
        """Whether the loop must play the reference cell."""
        return self.reference is None

    @property
    def problems(self) -> list[str]:
        """Unusable cache files found (reported and recomputed)."""
        return [] if self.store is None else self.store.problems

    def finished(self, cell: Cell) -> None:
        """Take the played reference cell; cache it (unless it met non-finite observations)."""
        self.reference = Reference.uniform_random(cell.returns, cell.lengths)
        if self.store is not None and cell.nonfinite_observations == 0:
            self.store.save(self.fingerprint, cell.returns, cell.lengths)


def _env_action_space(maker: EnvMaker, pools: dict[str, list[gym.Env]]) -> gym.Space:
    """The clean env's action space (a policy's may be wider)."""
    if pools.get(""):
        return pools[""][0].action_space
    probe = maker.make(None)
    space = probe.action_space
    probe.close()
    return space
