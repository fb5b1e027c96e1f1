"""``evaluate_robustness``: every run x condition x episode in one batched loop.

``evaluate_cells`` is its unit of work, for evaluations scaled out.

Both check everything before any episode runs (models against the env's
spaces, every condition against every model, env ids, dynamics attributes:
:mod:`rlnoise.evaluation.setup`), find the finished cells a previous run left
in the resumable ``cells/`` store, play the rest in one
:class:`~rlnoise.evaluation.loop.BatchedLoop` and save each cell as it
finishes (:class:`~rlnoise.evaluation.plan.EvaluationPlan`).
:func:`evaluate_robustness` returns a
:class:`~rlnoise.evaluation.report.RobustnessReport`; :func:`evaluate_cells`
returns the cells it left in the store, and is what a backend runs per
(run, chunk of conditions) to scale an evaluation out:

1. each worker: ``evaluate_cells(model_path, env, chunk, cells_dir, ...)``
   (one chunk also with ``reference=True``), on a shared ``cells_dir``;
2. the driver: ``evaluate_robustness(models, env, grid, ...,
   resume_dir=cells_dir, cached_only=True)``: the report from the cells
   alone, every cell reused (it raises if one is missing).

A cell's file is named by its fingerprint (model weights, VecNormalize
statistics, env, perturbations, seed, episodes, step cap, device type,
versions), never by run name or position in the grid, so the cells a worker
writes for a chunk are the ones the driver looks up for the whole grid.

Episode ``k`` starts from reset seed ``seed + k`` in every condition and run,
and every random source of an episode is seeded from (seed, condition,
episode), so per-episode returns do not depend on ``batch_size`` or on what
else is evaluated (common random numbers). For discrete actions this holds bit
for bit; continuous actions agree up to float32 rounding of the batched forward
pass (about 1e-8 relative on Pendulum), which BLAS kernels make batch-size
dependent.

Unless a ``reference_score`` is given, the same pass plays the uniformly
random policy on the clean env for the same episodes (one extra cell, no
policy forward; :mod:`rlnoise.evaluation.reference_lane`): the reference of
the normalised score (:mod:`rlnoise.evaluation.reference`). Observations with a NaN or infinite
element are counted per cell, and a ``RuntimeWarning`` says once when there
were any.

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

from collections.abc import Callable
from pathlib import Path
from typing import Any

import gymnasium as gym
import torch

from rlnoise.evaluation.plan import CellRecord, EvaluationPlan
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.setup import versions

__all__ = ["CellRecord", "evaluate_cells", "evaluate_robustness", "versions"]


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
    reference_score: float | None = None,
    cached_only: bool = False,
) -> RobustnessReport:
    """Evaluate one or several models under every condition, in one batched loop.

    Actions are always deterministic (the policy's mode, as
    ``model.predict(obs, deterministic=True)`` computes it), as SB3's
    ``evaluate_policy`` does by default; perturbations supply the randomness.
    Every (run, condition) plays exactly ``n_episodes`` episodes.

    Observations may be Box, Discrete, or a Dict of Box subspaces
    (``MultiInputPolicy``; see :mod:`rlnoise.evaluation.observations`):
    observation noise then applies to every key, ``VecNormalize`` statistics
    to the keys in their ``norm_obs_keys``, and attacks perturb every float
    key in its own l_inf ball (integer keys, e.g. images, are left as they are).

    Args:
        model_or_models: An SB3 model, a path to a saved zip, a list of them
            (runs of one group, e.g. training seeds), or ``{group: model or
            list}``. ``VecNormalize`` statistics: saved beside a zip as
            ``vecnormalize.pkl``, or attached to an in-memory model's env.
        env: Registered Gymnasium id, or a callable returning a new env
            (called with the dynamics' ``make_kwargs``; in resume fingerprints
            a callable is known by its qualified name only).
        conditions: A list of :class:`~rlnoise.evaluation.conditions.Condition`
            (or dicts), a grid mapping, or a grid YAML path (see
            :func:`~rlnoise.evaluation.grid.build_grid`).
        n_episodes: Episodes per (run, condition).
        seed: Episode ``k`` resets with ``seed + k``; noise seeds derive from it.
        device: ``"auto"`` (CUDA when present), ``"cpu"``, ``"cuda"``. Policies
            on another device are copied there (the caller's model is untouched).
        algo: Algorithm of saved zips when it cannot be detected (``"PPO"``...).
        batch_size: Most episodes live at once (memory bound; results do not
            depend on it, up to float rounding for continuous actions).
        max_steps: Cap on the steps of an episode (``None``: the env's own limit).
        resume_dir: Directory for per-cell result files; finished cells found
            there are reused, unusable files are reported and recomputed.
        progress: Show a progress bar over episodes (stderr).
        make_kwargs: Extra ``gym.make`` kwargs for every env.
        num_threads: torch intra-op threads while the episodes run (restored
            afterwards); ``None`` leaves torch's setting. Small MLP policies on
            the CPU run fastest with 1: their tensors are too small to split.
        reference_score: The return that scores 0 on the normalised scale
            (1 is each group's clean IQM). ``None``: the IQM of a uniformly
            random policy, measured on the same episodes in the same pass (not
            possible for unbounded Box actions: normalised scores are then
            ``None``, with the reason in the report).
        cached_only: Play no episode: assemble the report from the cells in
            ``resume_dir`` alone (written by :func:`evaluate_cells`, maybe on
            other machines), and raise if any is missing. ``device`` then only
            names the device the cells were computed on (pass the workers'
            device type; ``"cuda"`` works here without a GPU).

    Returns:
        A :class:`~rlnoise.evaluation.report.RobustnessReport` with returns of
        shape ``(n_runs, n_conditions, n_episodes)``.

    Raises:
        ValueError: Unknown condition type, unregistered env id, model/env
            space mismatch, a nested Dict or Tuple (or non-Box key) observation
            space, an attack on a policy without gradient or on a Dict
            observation without a float key, bad
            settings (``n_episodes``, ``seed``, ``batch_size``...), a
            ``resume_dir`` that is a file, with ``cached_only`` cells missing
            from ``resume_dir``: all before any episode runs.
        FileNotFoundError: A model path or grid file that does not exist.
    """
    plan = EvaluationPlan(
        model_or_models, env, conditions, n_episodes=n_episodes, seed=seed, device=device,
        algo=algo, batch_size=batch_size, max_steps=max_steps, resume_dir=resume_dir,
        make_kwargs=make_kwargs, num_threads=num_threads, reference_score=reference_score,
        cached_only=cached_only,
    )  # fmt: skip
    plan.play(progress)
    return plan.report()


def evaluate_cells(
    model_or_models: Any,
    env: str | Callable[..., gym.Env],
    conditions: Any,
    cells_dir: str | Path,
    n_episodes: int = 100,
    seed: int = 0,
    device: str | torch.device = "auto",
    *,
    reference: bool = False,
    algo: str | None = None,
    batch_size: int = 256,
    max_steps: int | None = None,
    progress: bool = False,
    make_kwargs: dict[str, Any] | None = None,
    num_threads: int | None = None,
) -> list[CellRecord]:
    """Evaluate a run (or runs) under a chunk of conditions into the ``cells/`` store.

    The unit of work of a scaled-out evaluation (see the module docstring): it
    does what :func:`evaluate_robustness` does with ``resume_dir=cells_dir``
    (the same checks, seeds, batching and files; cells already in the store
    are reused) and returns the cells instead of a report. The same
    arguments evaluated whole by ``evaluate_robustness`` give the same numbers.

    Args:
        model_or_models: As :func:`evaluate_robustness` (typically one saved
            model's path: one run).
        env: As :func:`evaluate_robustness`.
        conditions: The chunk: any form :func:`evaluate_robustness` takes.
        cells_dir: The store (``OUT/cells`` of ``rlnoise evaluate --out OUT``).
        n_episodes: Episodes per cell (the whole evaluation's).
        seed: The whole evaluation's seed.
        device: Where to run; its type is part of each cell's fingerprint.
        reference: Also play (and store) the uniformly random reference of the
            normalised score, unless stored already. It depends on the env,
            seed and episodes only: one chunk of an evaluation is enough.
        algo: As :func:`evaluate_robustness`.
        batch_size: As :func:`evaluate_robustness`.
        max_steps: As :func:`evaluate_robustness`.
        progress: Show a progress bar (stderr).
        make_kwargs: As :func:`evaluate_robustness`.
        num_threads: As :func:`evaluate_robustness`.

    Returns:
        One :class:`CellRecord` per (run, condition) of the chunk, in order,
        then the reference's when it was asked for: its file, whether it was
        reused or played now, and whether it is stored (a cell that met
        non-finite observations is not).

    Example:
        >>> import tempfile
        >>> from stable_baselines3 import PPO
        >>> model = PPO("MlpPolicy", "CartPole-v1", seed=0, device="cpu")
        >>> cells = tempfile.mkdtemp()
        >>> [(r.condition, r.reused) for r in evaluate_cells(
        ...     model, "CartPole-v1", {"gaussian": [0.1]}, cells, n_episodes=2, device="cpu")]
        [('clean', False), ('obs:gaussian:0.1', False)]
        >>> report = evaluate_robustness(model, "CartPole-v1", {"gaussian": [0.1]}, 2,
        ...     device="cpu", resume_dir=cells, cached_only=True, reference_score=0.0,
        ...     progress=False)
        >>> report.metadata["resume"]["reused_cells"]
        2
    """
    plan = EvaluationPlan(
        model_or_models, env, conditions, n_episodes=n_episodes, seed=seed, device=device,
        algo=algo, batch_size=batch_size, max_steps=max_steps, resume_dir=cells_dir,
        make_kwargs=make_kwargs, num_threads=num_threads, reference_score=None,
        play_reference=reference,
    )  # fmt: skip
    plan.play(progress)
    records = plan.records()
    return records if reference else [r for r in records if r.run is not None]
