"""``evaluate_robustness``: every run x condition x episode in one batched loop.

This module checks everything before any episode runs (models against the
env's spaces, every condition against every model, env ids, dynamics
attributes), finds the finished cells a previous run left in ``resume_dir``,
hands the rest to :class:`~rlnoise.evaluation.loop.BatchedLoop`, saves each
cell as it finishes and returns a
:class:`~rlnoise.evaluation.report.RobustnessReport`.

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

import dataclasses
import datetime
import platform
import sys
import warnings
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any

import gymnasium as gym
import numpy as np
import torch

from rlnoise.core.checks import check_int, show
from rlnoise.evaluation.cells import Cell
from rlnoise.evaluation.conditions import Condition, as_condition
from rlnoise.evaluation.envs import EnvMaker, channels_first_space, env_key
from rlnoise.evaluation.grid import build_grid, check_unique
from rlnoise.evaluation.loop import REFERENCE, BatchedLoop
from rlnoise.evaluation.models import (
    ModelRun,
    load_run,
    model_digest,
    resolve_device,
    saved_run_name,
    vec_normalize_digest,
)
from rlnoise.evaluation.policy import PolicyAdapter
from rlnoise.evaluation.reference import Reference
from rlnoise.evaluation.reference_lane import ReferenceLane
from rlnoise.evaluation.report import RobustnessReport
from rlnoise.evaluation.storage import ResultStore
from rlnoise.policies.binder import constructor_parameters
from rlnoise.runs.errors import Interrupted

__all__ = ["evaluate_robustness", "versions"]

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
        # A copy: the runner renames runs; and a ModelRun built by hand has no digest,
        # which would let resume files of another model's weights be reused.
        return dataclasses.replace(
            item,
            digest=item.digest or model_digest(item.model),
            algo=item.algo or type(item.model).__name__,
        )
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
    if not groups:
        raise ValueError("model_or_models is an empty mapping; give at least one model group")
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
            if isinstance(item, str | Path):
                run.name = saved_run_name(item) or run.name
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
    if not isinstance(conditions, Iterable):
        raise ValueError(
            "conditions must be a list of Condition (or dicts), a grid mapping or a grid "
            f"YAML path, got {show(conditions)}"
        )
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
    reference_score: float | None = None,
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

    Returns:
        A :class:`~rlnoise.evaluation.report.RobustnessReport` with returns of
        shape ``(n_runs, n_conditions, n_episodes)``.

    Raises:
        ValueError: Unknown condition type, unregistered env id, model/env
            space mismatch, a nested Dict or Tuple (or non-Box key) observation
            space, an attack on a policy without gradient or on a Dict
            observation without a float key, bad
            settings (``n_episodes``, ``seed``, ``batch_size``...), a
            ``resume_dir`` that is a file: all before any episode runs.
        FileNotFoundError: A model path or grid file that does not exist.
    """
    n_episodes = check_int("n_episodes", n_episodes, low=1)
    seed = check_int("seed", seed, low=0)
    batch_size = check_int("batch_size", batch_size, low=1)
    if max_steps is not None:
        max_steps = check_int("max_steps", max_steps, low=1)
    if num_threads is not None:
        num_threads = check_int("num_threads", num_threads, low=1)
    given = None if reference_score is None else Reference.given(reference_score)
    if make_kwargs is not None and not isinstance(make_kwargs, Mapping):
        raise ValueError(
            f"make_kwargs must be a mapping of gym.make arguments, got {show(make_kwargs)}"
        )
    if resume_dir is not None and Path(resume_dir).exists() and not Path(resume_dir).is_dir():
        raise ValueError(f"resume_dir {str(resume_dir)!r} is a file, not a directory")
    resolved = resolve_device(device)
    maker = EnvMaker(env, make_kwargs)
    condition_list = _conditions(conditions, env if isinstance(env, str) else None)
    runs = _collect_runs(model_or_models, algo, resolved)
    adapters = [_adapter(run, resolved) for run in runs]
    _match_image_layout(maker, adapters)
    pools = _validate(maker, runs, adapters, condition_list, n_episodes, seed)
    lane = ReferenceLane(
        given, adapters[0], maker, pools, n_episodes=n_episodes, seed=seed, max_steps=max_steps,
        resume_dir=resume_dir, versions=versions(),
    )  # fmt: skip
    fingerprints = [
        [
            _fingerprint(run, maker, condition, seed, n_episodes, max_steps, resolved)
            for condition in condition_list
        ]
        for run in runs
    ]
    store = None if resume_dir is None else ResultStore(resume_dir)
    loop = BatchedLoop(
        maker, pools, adapters, condition_list, n_episodes, seed, batch_size, max_steps,
        lane.action_space,
    )  # fmt: skip
    returns = np.zeros((len(runs), len(condition_list), n_episodes), dtype=np.float64)
    lengths = np.zeros_like(returns, dtype=np.int64)
    # Cells with non-finite observations are never cached, so a reused cell had none.
    nonfinite = np.zeros(returns.shape[:2], dtype=np.int64)
    todo = []
    for r in range(len(runs)):
        for c in range(len(condition_list)):
            cached = None if store is None else store.load(fingerprints[r][c])
            if cached is None:
                todo.append((r, c))
            else:
                returns[r, c], lengths[r, c] = cached
    if lane.to_play:
        todo.append(REFERENCE)  # last: the models' cells finish (and are saved) first
    for problem in ([] if store is None else store.problems) + lane.problems:
        print(f"rlnoise evaluate: {problem}", file=sys.stderr, flush=True)

    def finished(cell: Cell) -> None:
        if (cell.run, cell.index) == REFERENCE:
            lane.finished(cell)
            return
        returns[cell.run, cell.index] = cell.returns
        lengths[cell.run, cell.index] = cell.lengths
        nonfinite[cell.run, cell.index] = cell.nonfinite_observations
        if store is not None and cell.nonfinite_observations > 0:
            store.unsaved.append(
                f"{store.path(fingerprints[cell.run][cell.index])}: not saved, it met "
                f"{cell.nonfinite_observations} non-finite observations (recomputed next time, "
                "so the report counts them again)"
            )
        elif store is not None:
            saved = store.save(fingerprints[cell.run][cell.index], cell.returns, cell.lengths)
            if saved is None:
                print(f"rlnoise evaluate: {store.unsaved[-1]}", file=sys.stderr, flush=True)

    started = datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")
    threads = torch.get_num_threads()
    if num_threads is not None:
        torch.set_num_threads(num_threads)
    try:
        loop.run(todo, finished, progress)
    except KeyboardInterrupt as interrupt:  # say what a rerun will reuse
        kept = 0 if store is None else store.reused + store.saved
        raise Interrupted(kept, len(runs) * len(condition_list), "cells kept") from interrupt
    finally:
        torch.set_num_threads(threads)
    _warn_nonfinite(nonfinite, runs, condition_list)
    assert lane.reference is not None
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
            "unsaved_cells": list(store.unsaved),
        },
    }
    return RobustnessReport(
        returns=returns,
        lengths=lengths,
        conditions=tuple(condition_list),
        runs=tuple(run.describe() for run in runs),
        metadata=metadata,
        reference=lane.reference,
        nonfinite_observations=nonfinite,
    )


def _warn_nonfinite(
    counts: np.ndarray, runs: Sequence[ModelRun], conditions: Sequence[Condition]
) -> None:
    """One ``RuntimeWarning`` when any env observation held a NaN or an infinity."""
    cells = np.argwhere(counts > 0)
    if cells.size == 0:
        return
    r, c = cells[0]
    warnings.warn(
        f"the env returned {int(counts.sum())} observations with NaN or infinite values, in "
        f"{len(cells)} of {counts.size} (run, condition) cells (first: run {runs[r].name!r}, "
        f"{conditions[c].name!r}); the policy acted on them as they were. The report counts "
        "them per cell (nonfinite_observations)",
        RuntimeWarning,
        stacklevel=3,
    )


def policy_copy_on(policy: Any, device: torch.device) -> Any:
    """A copy of an SB3 policy on ``device``; the caller's model is left where it is.

    Rebuilt the way SB3's ``BasePolicy.load`` does (constructor parameters, then
    the state dict): ``copy.deepcopy`` fails on a policy that still references
    autograd tensors from its last update, which every trained policy does.
    """
    clone = type(policy)(**constructor_parameters(policy))
    clone.load_state_dict(policy.state_dict())
    clone.set_training_mode(False)
    return clone.to(device)


def _adapter(run: ModelRun, device: torch.device) -> PolicyAdapter:
    policy = run.model.policy
    if policy.device != device:
        policy = policy_copy_on(policy, device)
    return PolicyAdapter(policy, run.vec_normalize)


def _match_image_layout(maker: EnvMaker, adapters: Sequence[PolicyAdapter]) -> None:
    """Hand CHW observations to policies SB3 trained on transposed HWC images."""
    probe = maker.make(None)
    transposed = channels_first_space(probe.observation_space)
    probe.close()
    if transposed is not None and all(
        _accepts(adapter.observation_space, transposed) for adapter in adapters
    ):
        maker.channels_first = True


def _accepts(model_space: gym.Space, env_space: gym.Space) -> bool:
    """Whether a policy trained on ``model_space`` can act on ``env_space``.

    Equal spaces, or Boxes of the same shape and dtype whose bounds contain the
    env's: a model trained behind a noise wrapper saw a widened space (e.g.
    unbounded for Gaussian observation noise) and acts on the clean one. Dict
    spaces: the same keys, each accepted by this rule.
    """
    if model_space == env_space:
        return True
    if isinstance(model_space, gym.spaces.Dict) and isinstance(env_space, gym.spaces.Dict):
        return set(model_space.spaces) == set(env_space.spaces) and all(
            _accepts(sub, env_space.spaces[key]) for key, sub in model_space.spaces.items()
        )
    if isinstance(model_space, gym.spaces.Box) and isinstance(env_space, gym.spaces.Box):
        return (
            model_space.shape == env_space.shape
            and model_space.dtype == env_space.dtype
            and bool(np.all(model_space.low <= env_space.low))
            and bool(np.all(model_space.high >= env_space.high))
        )
    return False


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
        key = env_key(condition)
        if key in pools:
            continue
        env = maker.make(condition.env_change)
        pools[key] = [env]
        for run, adapter in zip(runs, adapters, strict=True):
            for what, model_space, env_space in (
                ("observation", adapter.observation_space, env.observation_space),
                ("action", adapter.action_space, env.action_space),
            ):
                if not _accepts(model_space, env_space):
                    raise ValueError(
                        f"model {run.name!r} expects the {what} space {model_space}, "
                        f"but env {maker.name!r} ({condition.name}) has {env_space}"
                    )
    layouts = {None if a.layout is None else a.layout.signature for a in adapters}
    if len(layouts) > 1:  # the loop holds every run's observations in one array
        raise ValueError(
            "the models' Dict observation spaces differ in their keys' order, shapes or dtypes "
            f"({[run.name for run in runs]}); evaluate them in separate calls"
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
        # Cells written before observations were checked may hide non-finite ones.
        "counts_nonfinite_observations": True,
    }
